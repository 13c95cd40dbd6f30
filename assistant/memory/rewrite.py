"""Rule-based rewriting of follow-up questions into standalone ones (the offline default).

Customers ask "发票怎么开？" and then "那退款呢？", or mention an order number and two turns later ask
"这个订单能取消吗". Retrieval needs the standalone question. Without an LLM we use rules:

- a topic switch ("那X呢", "what about X") asks the previous question about X when X is the same kind
  of thing as a word it replaces (专票 for 电子发票, 银卡 for 金卡, Canada for Japan), or when neither is
  an action; when X is an action (退款, 退货, 维修...) and the previous question was about a thing,
  its predicate and its conditions do not fit ("退款怎么开" is not a thing): X is asked about in
  general, with the previous question's kind of question (how long, how much, how);
- a conditional follow-up ("要是还想再改一次呢", "what if it's defective?") adds its condition to the
  previous question;
- an elliptical or deictic question ("那要多久？", "它保修多久") borrows the previous question's topic
  terms (and those of the turn before, when the previous one was a statement: "寄到西藏的东西" / "是个
  三人沙发" / "几天能到啊"); in English, whose word order rules out pasting words in, the question is
  left as asked behind the previous topic ("About warranty, phone: What about the battery?");
- a question about an order without its number ("这个订单", "那它还能取消吗", "能改地址吗") gets the
  order number the customer gave earlier, if they gave exactly one: tracking, phone and invoice
  numbers are never taken for it (`assistant.tools.identifiers`);
- a question that carries its own topic is left alone, so a new subject never drags the old one in.

What the rewriter adds is in the asker's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.domain import Turn
from assistant.memory.english import ENGLISH_SWITCH, follow_up_en
from assistant.text.cjk import has_cjk, is_all_cjk
from assistant.text.normalize import detect_language, normalize
from assistant.text.tokenize import STOPWORDS, Tokenizer, stem
from assistant.tools.identifiers import is_identifier, order_numbers
from assistant.tools.intents import topics as order_topics

ORDER_REFERENCE = re.compile(r"(这个|那个|该|此|这|那|上面的?|刚才的?|我的)(订单|单子|单)|\b(this|that|the|my) order\b", re.I)
SWITCH_ZH = re.compile(
    r"^(?:那么?|还有|另外|换成)?\s*(如果是|如果|要是|假如|万一)?\s*(.{1,16}?)\s*(?:呢|的话呢|怎么样|怎么说)\s*[?？。!！]*$"
)
DEICTIC = re.compile(r"它|他们|这个|那个|这些|那些|这种|那种|该|此|上述|刚才|\b(it|its|that|this|they|them|those|these|there)\b", re.I)
ELLIPTICAL_LEAD = re.compile(r"^(那|那么|还有|另外|然后|所以|and|so|then)\b|^(那|那么|还有|另外|然后|所以)", re.I)
# A condition clause of a question: "确认收货后", "签收7天内", "如果超过30天". It belongs to the case the
# question was about and is not carried to another topic.
CONDITION_ZH = re.compile(
    r"(?:如果|要是|假如|万一)[^，,。？?]*?(?:的话|[，,])"
    r"|[^，,。？?\s]{1,8}?(?:之后|以后|之前|以前|后|前|内)(?=[^，,。？?]*[？?]?$)"
)
QUESTION_ZH = re.compile(r"[?？]|吗|呢|么|多久|多少|多长|怎么|怎样|如何|什么|啥|哪|几|是否|能不能|可不可以|咋")
CLAUSE_MARKERS = re.compile(r"还|再|又|想|不|没|已经|超过|过了|了")
MAX_SHORT_CHARS = 12
# Words that ask *something* about a topic without naming one: "那要多久", "how long", "能不能".
PREDICATES = frozenset(
    """那要 还要 要多久 多久 多长 多长时间 时间 多少 多少钱 几天 怎么办 怎么弄 怎么样 可以 能不能 行不行 是否
    收费 费用 免费 规定 要求 条件 流程 申请 办理 处理 开具 查询 操作 使用 提交 需要 什么样 查下 查一下 帮我 帮忙
    long much many time cost fee free take need required apply""".split()
)
# Labels of ids ("订单号是…", "单号 SF…"): they say an id follows, not what the question is about.
ID_LABELS = frozenset("订单号 单号 运单号 快递单号 物流单号 手机号 电话 号码 发票号 发票号码".split())
# Quantifiers, time deictics and fillers: "每个月", "这次", "still" say how often, when or how, not what about.
FILLERS = frozenset(
    """每个 每次 每月 每天 每年 一个 一次 这次 上次 现在 目前 已经 顺便 顺便问下
    一般 东西 还是 其实 真的 still already just also actually instead really ok okay way anyway before after""".split()
)
# After-sales and order processes. Each has its own rules, so the predicate of a question about a thing
# ("电子发票怎么开", "确认收货后多久能开出") does not fit one of them.
ACTIONS_ZH = frozenset(
    """退款 退货 换货 换新 维修 保修 寄修 拒收 取消 发货 配送 安装 改地址 改派 开票 补开 换开 红冲 投诉 理赔
    分期 支付 付款 扣款 兑换 抵扣 升级 降级""".split()
)
# The kind of question the previous one asked, and how to ask it about a new topic in general.
QUESTION_KINDS_ZH = (
    (re.compile(r"多久|多长时间|几天|几个工作日|什么时候|何时|时效"), "一般多久？"),
    (re.compile(r"多少钱|费用|收费|运费|扣多少|谁出|谁承担"), "怎么收费？"),
)
GENERAL_ZH = "怎么办理？"


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
        topic (电子发票), so a topic switch replaces the whole compound. Words are weighed by their
        stems and shown as written (lower case): "shipping", not "shipp".
        """
        runs = self._runs(text)
        if not runs:
            return []
        weights = self._term_weights([stem_ for r in runs for stem_, _ in r])
        score = {i: max(len(w) * weights.get(w, 0.0) for w, _ in r) for i, r in enumerate(runs)}
        keep = sorted(score, key=lambda i: (-score[i], i))[:n]
        shown = [[word for _, word in runs[i]] for i in sorted(keep)]
        return ["".join(words) if is_all_cjk(words) else " ".join(words) for words in shown]

    def rewrite(self, question: str, history: Sequence[Turn]) -> Rewrite:
        asked = [t for t in history if t.role == "user"]
        if not asked:
            return Rewrite(question)
        previous = asked[-1].standalone or asked[-1].text
        number, said = _last_order_number(asked)
        carried = f"order number {number} carried over from an earlier turn"
        english = detect_language(question) == "en"
        if number and self._is_order_follow_up(question):  # the order is the subject: nothing else borrowed
            return Rewrite(_with_order(question, number, english), carried)

        if english:
            query, reasons = follow_up_en(question, previous, self._is_elliptical, self.topic)
        else:
            earlier = (asked[-2].standalone or asked[-2].text) if len(asked) > 1 else None
            query, reasons = self._follow_up_zh(question, previous, earlier)
        # The order is carried when the customer refers to it, or when the query goes on with the case of the
        # previous question ("…地址填错了…，要是还想再改一次呢"); never for topic words borrowed for retrieval.
        goes_on = query.startswith(previous.rstrip("？?。！!. ")) and order_topics(query)
        about_order = (ORDER_REFERENCE.search(query) or goes_on) and not order_numbers(query)
        if about_order and number:
            query = _with_order(query, number, english)
            reasons.append(carried)
        elif about_order and len(said) > 1:
            reasons.append(f"several order numbers said earlier ({', '.join(said)}); none carried over")
        return Rewrite(query, "; ".join(reasons) if reasons else None)

    # -- Chinese -------------------------------------------------------------------------------
    def _follow_up_zh(self, question: str, previous: str, earlier: str | None) -> tuple[str, list[str]]:
        """``earlier``: the customer's turn before ``previous``, the situation a statement continues."""
        match = SWITCH_ZH.match(question.strip())
        target = _target(match.group(2)) if match else None
        if target and match and match.group(1) in ("如果", "要是", "假如", "万一") and self._is_clause(target):
            query = f"{previous.rstrip('？?。！! ')}，{question.strip()}"
            return query, [f"conditional follow-up: {target!r} added to the previous question"]
        if target:
            return self._switch_zh(previous, target)
        if self._is_elliptical(question, previous):
            # "寄到西藏的东西" / "是个三人沙发" / "几天能到啊": a statement continues the situation before it.
            described = earlier is not None and not QUESTION_ZH.search(previous)
            context = [*(self.topic(earlier, n=1) if described and earlier else []), *self.topic(previous)]
            borrowed = [t for t in dict.fromkeys(context) if t not in normalize(question)]
            if borrowed:
                query = f"{' '.join(borrowed)} {question}"
                return query, [f"follow-up: borrowed {', '.join(borrowed)} from the previous question"]
        return question, []

    def _switch_zh(self, previous: str, target: str) -> tuple[str, list[str]]:
        words = [w for w in self._tokenizer.cut(previous) if w.strip()]
        sibling = _sibling(target, words)
        if sibling:
            return previous.replace(sibling, target, 1), [f"topic switch: {sibling} -> {target}"]
        old = self.topic(previous, n=1)
        core = CONDITION_ZH.sub("", previous)
        unfit = not has_cjk(previous) or (
            _names_action(target, self._tokenizer) and not any(w in ACTIONS_ZH for w in self._tokenizer.cut(core))
        )
        if unfit:
            query = f"{target}{_question_kind_zh(previous)}"
            why = f"the previous question's predicate does not fit {target}, asked in general"
            return query, [f"topic switch: {old[0] if old else '?'} -> {target}; {why}"]
        if old and old[0] in previous:
            return previous.replace(old[0], target, 1), [f"topic switch: {old[0]} -> {target}"]
        return f"{target} {previous}", [f"topic switch: ? -> {target}"]

    def _is_clause(self, target: str) -> bool:
        """A condition ("还想再改一次", "超过7天") rather than a topic ("专票")."""
        return bool(CLAUSE_MARKERS.search(target)) or not self.topic(target)

    # -- both languages ------------------------------------------------------------------------
    def _is_elliptical(self, question: str, previous: str) -> bool:
        if ORDER_REFERENCE.search(question):
            return False  # "这个订单" names its subject; the order-number rule fills in which one
        own = self.topic(question, n=3)
        deictic = DEICTIC.search(question)
        if len(own) >= 2 and not deictic:
            return False  # it names its own subject
        short = len(re.sub(r"[\s?？。!！,，]", "", question)) <= MAX_SHORT_CHARS or len(question.split()) <= 5
        return bool(deictic or (ELLIPTICAL_LEAD.search(question.strip()) and len(own) <= 1) or (short and not own))

    def _is_order_follow_up(self, question: str) -> bool:
        """About an order, without its number or another subject: "这个订单…", "那它还能取消吗", "能改地址吗"."""
        if order_numbers(question):
            return False
        if ORDER_REFERENCE.search(question):
            return True
        if not order_topics(question) or ENGLISH_SWITCH.match(question.strip()):
            return False
        own = [t for t in self.topic(question, n=3) if not order_topics(t)]
        return bool(DEICTIC.search(question)) or not own

    def _runs(self, text: str) -> list[list[tuple[str, str]]]:
        """Runs of adjacent content words as (stem, word), in text order."""
        runs: list[list[tuple[str, str]]] = [[]]
        for raw in self._tokenizer.cut(normalize(text)):
            word = raw.strip()
            if not word:
                continue  # the space between English words joins them, it does not end a run
            if _is_content(stem(word)):
                runs[-1].append((stem(word), word))
            elif runs[-1]:
                runs.append([])
        return [r for r in runs if r]


def _is_content(word: str) -> bool:
    return (
        len(word) >= 2 and word not in STOPWORDS and word not in PREDICATES and word not in ID_LABELS
        and word not in FILLERS
        and not word.isdigit() and not is_identifier(word) and bool(re.search(r"\w", word))
    )


def _target(raw: str) -> str | None:
    target = raw.strip(" ，,")
    target = target.removeprefix("是")
    if not target or DEICTIC.fullmatch(target):
        return None
    return target


def _sibling(target: str, words: Sequence[str]) -> str | None:
    """The part of the previous question (its words, in order) that `target` stands in for.

    Chinese compounds name their kind by their last character (专票 / 发票, 银卡 / 金卡), so a word
    with the target's last character is of the same kind. A target that ends with a whole word of the
    previous question (信用卡分期 / 花呗分期) replaces that word with what modifies it.
    """
    for i, word in enumerate(words):
        if len(word) >= 2 and has_cjk(word) and target.endswith(word) and len(target) > len(word):
            start = i
            while start > 0 and _is_modifier(words[start - 1]):
                start -= 1
            return "".join(words[start : i + 1])
    for word in words:
        if word != target and len(word) >= 2 and has_cjk(word) and word[-1] == target[-1] and _is_content(word):
            return word
    return None


def _is_modifier(word: str) -> bool:
    """A Chinese word that can modify the next one inside a compound (not a function or question word)."""
    return has_cjk(word) and word not in STOPWORDS and word not in PREDICATES and not word.endswith(("了", "的"))


def _names_action(target: str, tokenizer: Tokenizer) -> bool:
    words = [w for w in tokenizer.cut(target) if w.strip()]
    return target in ACTIONS_ZH or bool(words and words[-1] in ACTIONS_ZH)


def _question_kind_zh(previous: str) -> str:
    for pattern, frame in QUESTION_KINDS_ZH:
        if pattern.search(previous):
            return frame
    return GENERAL_ZH


def _with_order(query: str, number: str, english: bool) -> str:
    return f"{query} (order {number})" if english else f"{query}（订单号 {number}）"


def _last_order_number(asked: Sequence[Turn]) -> tuple[str | None, list[str]]:
    """The order number of the customer's latest turn that names one, if it names exactly one.

    Only the customer's own words count: an answer may list several orders, or a tracking number.
    Returns (the number or None, the numbers that turn named).
    """
    for turn in reversed(asked):
        said = order_numbers(turn.text)
        if said:
            return (said[0] if len(said) == 1 else None), said
    return None, []
