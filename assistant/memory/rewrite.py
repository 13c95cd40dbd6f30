"""Rule-based rewriting of follow-up questions into standalone ones (the offline default).

Customers ask "发票怎么开？" and then "那退款呢？", or mention an order number and two turns later ask
"这个订单能取消吗". Retrieval needs the standalone question. Without an LLM we use rules:

- a topic switch ("那X呢", "X呢", "what about X") swaps X for the previous question's topic;
- an elliptical or deictic question ("那要多久？", "它保修多久", "how long does it take?") borrows
  the previous question's topic terms;
- an order reference without a number ("这个订单", "this order") gets the last number mentioned;
- a question that carries its own topic is left alone, so a new subject never drags the old one in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.domain import Turn
from assistant.text.cjk import has_cjk, is_all_cjk
from assistant.text.normalize import normalize
from assistant.text.tokenize import STOPWORDS, Tokenizer, stem

ORDER_NUMBER = re.compile(r"(?<![\d-])(\d{8}-\d{3,6}|\d{12,20})(?![\d-])")
ORDER_REFERENCE = re.compile(r"(这个|那个|该|此|这|那|上面的?|刚才的?|我的)(订单|单子|单)|\b(this|that|the|my) order\b", re.I)
SWITCH_ZH = re.compile(r"^(?:那么?|那如果|如果是|还有|另外|换成|要是)?\s*(.{1,16}?)\s*(?:呢|的话呢|怎么样|怎么说)\s*[?？。!！]*$")
SWITCH_EN = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*[?？.!]*$", re.I)
DEICTIC = re.compile(r"它|他们|这个|那个|这些|那些|这种|那种|该|此|上述|刚才|\b(it|its|that|this|they|them|those|these)\b", re.I)
ELLIPTICAL_LEAD = re.compile(r"^(那|那么|还有|另外|然后|所以|and|so|then)\b|^(那|那么|还有|另外|然后|所以)", re.I)
MAX_SHORT_CHARS = 12
# Words that ask *something* about a topic without naming one: "那要多久", "how long", "能不能".
PREDICATES = frozenset(
    """那要 还要 要多久 多久 多长 多长时间 时间 多少 多少钱 几天 怎么办 怎么弄 怎么样 可以 能不能 行不行 是否
    收费 费用 免费 规定 要求 条件 流程 申请 办理 处理 开具 查询 操作 使用 提交 需要 什么样
    long much many time cost fee free take need required apply""".split()
)


@dataclass(frozen=True)
class Rewrite:
    query: str
    reason: str | None = None  # None: the question already stands alone

    @property
    def changed(self) -> bool:
        return self.reason is not None


class RuleRewriter:
    def __init__(self, term_weights: Callable[[Sequence[str]], dict[str, float]], tokenizer: Tokenizer):
        self._term_weights = term_weights
        self._tokenizer = tokenizer

    def topic(self, text: str, n: int = 2) -> list[str]:
        """What a question is about: its heaviest runs of adjacent content words, in text order.

        rjieba splits compounds (电子 + 发票); adjacent content words are joined back into one
        topic (电子发票), so a topic switch replaces the whole compound.
        """
        runs: list[list[str]] = [[]]
        for raw in self._tokenizer.cut(normalize(text)):
            word = stem(raw.strip())
            if _is_content(word):
                runs[-1].append(word)
            elif runs[-1]:
                runs.append([])
        runs = [r for r in runs if r]
        if not runs:
            return []
        weights = self._term_weights([w for r in runs for w in r])
        score = {i: max(len(w) * weights.get(w, 0.0) for w in r) for i, r in enumerate(runs)}
        keep = sorted(score, key=lambda i: (-score[i], i))[:n]
        return ["".join(runs[i]) if is_all_cjk(runs[i]) else " ".join(runs[i]) for i in sorted(keep)]

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        asked = [t for t in history if t.role == "user"]
        if not asked:
            return Rewrite(question)
        previous = asked[-1].standalone or asked[-1].text
        query, reasons = question, []

        switched = _switch_target(question)
        if switched:
            old = self.topic(previous, n=1)
            if old and old[0] in previous:
                query = previous.replace(old[0], switched, 1)
            else:
                query = f"{switched} {previous}"
            reasons.append(f"topic switch: {old[0] if old else '?'} -> {switched}")
        elif self._is_elliptical(question, previous):
            borrowed = [t for t in self.topic(previous) if t not in normalize(question)]
            if borrowed:
                query = f"{' '.join(borrowed)} {question}"
                reasons.append(f"follow-up: borrowed {', '.join(borrowed)} from the previous question")

        if ORDER_REFERENCE.search(query) and not ORDER_NUMBER.search(query):
            number = _last_order_number(history)
            if number:
                query = f"{query}（订单号 {number}）" if has_cjk(query) else f"{query} (order {number})"
                reasons.append(f"order number {number} carried over from an earlier turn")

        return Rewrite(query, "; ".join(reasons) if reasons else None)

    def _is_elliptical(self, question: str, previous: str) -> bool:
        if ORDER_REFERENCE.search(question):
            return False  # "这个订单" names its subject; the order-number rule fills in which one
        bare = question
        own = self.topic(bare, n=3)
        deictic = DEICTIC.search(bare)
        if len(own) >= 2 and not deictic:
            return False  # it names its own subject
        short = len(re.sub(r"[\s?？。!！,，]", "", bare)) <= MAX_SHORT_CHARS or len(bare.split()) <= 5
        return bool(deictic or (ELLIPTICAL_LEAD.search(bare.strip()) and len(own) <= 1) or (short and not own))


def _is_content(word: str) -> bool:
    return (
        len(word) >= 2 and word not in STOPWORDS and word not in PREDICATES and not word.isdigit()
        and not ORDER_NUMBER.fullmatch(word) and bool(re.search(r"\w", word))
    )


def _switch_target(question: str) -> str | None:
    text = question.strip()
    match = SWITCH_EN.match(text) or SWITCH_ZH.match(text)
    if not match:
        return None
    target = match.group(1).strip(" ，,")
    if not target or DEICTIC.fullmatch(target):
        return None
    return target


def _last_order_number(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        found = ORDER_NUMBER.findall(turn.text)
        if found:
            return found[-1]
    return None
