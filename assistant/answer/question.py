"""What a question asks for, and how well a sentence speaks to it.

A question is read once into a :class:`Question`: its content terms with their weights (rare terms
weigh more), its character units (Chinese character pairs, English words, numbers; robust to
paraphrase and typos that break word segmentation), its constraints (numbers, years, Latin names a
sentence must not contradict by leaving out) and the kind of answer it expects (a number, a date,
a place, a person, a reason, a way of doing something). A sentence is then measured against it
(:meth:`Question.support`): the answering and the answerability judgement read the same measure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from assistant.answer.citations import units
from assistant.text.normalize import detect_language, normalize
from assistant.text.tokenize import Tokenizer

AnswerKind = Literal["number", "date", "place", "person", "reason", "method", "yesno"]

# What the question word asks for (matched on normalised text). Order matters: the first kind wins.
_ZH_KINDS: list[tuple[AnswerKind, re.Pattern[str]]] = [
    ("date", re.compile(r"什么时候|何时|哪天|哪一天|几月|几号|日期|哪年|哪一年|几点|什么时间|截止到?哪")),
    ("number", re.compile(
        r"多少|几[个位名家次天年月周小时分钟人岁万千百十元件种条项倍档级%]|多大|多高|多长|多重|多远|多久|多快|"
        r"比例|百分之|排名第几|第几|几天|几成|几折|几级|几次|时效|期限|费用|运费|价格|金额|多少钱")),
    ("place", re.compile(r"哪里|哪儿|在哪|何地|地点|什么地方|哪个城市|哪个国家|哪座|哪国|何处|寄到哪|发往哪")),
    ("person", re.compile(r"谁|哪位|什么人|哪个人|何人|找谁|联系谁")),
    ("reason", re.compile(r"为什么|为何|原因|怎么会|为啥")),
    ("method", re.compile(r"怎么|如何|怎样|咋|流程|步骤|方法|办法|在哪[里儿]?(?:申请|查看|下载|操作|修改)")),
    ("yesno", re.compile(r"能不能|可不可以|可以吗|能吗|行吗|是否|有没有|会不会|吗[?？]?$|么[?？]?$")),
]
_EN_KINDS: list[tuple[AnswerKind, re.Pattern[str]]] = [
    ("date", re.compile(r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b|\bhow soon\b")),
    ("number", re.compile(
        r"\bhow (?:many|much|long|old|far|often|big|large|tall|high|fast|soon)\b|"
        r"\bwhat (?:percentage|percent|number|amount|size|fee|cost|price)\b")),
    ("place", re.compile(r"\bwhere\b|\b(?:what|which) (?:city|country|state|place|region|address)\b")),
    ("person", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b")),
    ("reason", re.compile(r"\bwhy\b|\bwhat (?:is|was) the reason\b")),
    ("method", re.compile(r"\bhow (?:do|does|can|could|should|to|would)\b|\bwhat (?:is|are) the (?:steps|process)\b")),
    ("yesno", re.compile(r"^(?:can|could|do|does|did|is|are|was|were|will|would|should|may|has|have)\b")),
]

_DATE = re.compile(
    r"\d{1,4}\s*(?:年|月|日|号|点|时|:)|\d{4}|[一二三四五六七八九十]+月|星期|周[一二三四五六日天]|工作日|小时内|天内|"
    r"当日|次日|今年|去年|明年|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b1\d{3}\b|\b20\d{2}\b|"
    r"\bday|\bweek|\bmonth|\bhour|\byear",
    re.I,
)
_NUMBER = re.compile(
    r"\d|[零一二三四五六七八九十百千万亿两半]+\s*[个位名家次天年月周人岁万千百元件种条项倍档级%折成]|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand|million|billion|half|once|twice)\b",
    re.I,
)
_PLACE = re.compile(r"[省市县区国州城镇村岛路街馆港湾站店仓点处]|地址|页面|入口|[A-Z][a-z]{2,}")
_PERSON = re.compile(r"客服|专员|组长|经理|主管|顾客|本人|[A-Z][a-z]+ [A-Z][a-z]+|[\u4e00-\u9fff]{2,3}(?:先生|女士|教授|主席|总统|总理|部长)")
_REASON = re.compile(r"因为|由于|原因|为了|所以|因此|导致|造成|because|due to|since|so that|caused", re.I)
_METHOD = re.compile(r"在.{1,20}(?:中|里|页)|点击|选择|进入|填写|提交|申请|联系|拨打|登录|上传|通过|可以|可在|需|须|步骤|"
                     r"\b(?:click|select|go to|contact|submit|apply|open|call|use|via|through)\b", re.I)

_KIND_PATTERNS: dict[AnswerKind, re.Pattern[str]] = {
    "number": _NUMBER, "date": _DATE, "place": _PLACE, "person": _PERSON, "reason": _REASON, "method": _METHOD,
}
_LATIN_NAME = re.compile(r"\b[a-z][a-z0-9]*\d[a-z0-9]*\b|\b[a-z]{2,}\d*\b")


def expected_kind(question: str) -> AnswerKind | None:
    """The kind of answer a question asks for, if its wording says so."""
    text = normalize(question)
    for kind, pattern in (_EN_KINDS if detect_language(question) == "en" else _ZH_KINDS):
        if pattern.search(text):
            return kind
    return None


def has_kind(kind: AnswerKind | None, sentence: str) -> bool:
    """Does the sentence hold something of the kind asked for (a yes/no question takes any answer)?"""
    if kind is None or kind == "yesno":
        return True
    return _KIND_PATTERNS[kind].search(sentence) is not None


@dataclass
class Support:
    """How well one sentence speaks to a question (each in 0..1)."""

    coverage: float  # weighted share of the question's content terms in the sentence
    units: float  # share of the question's character units in the sentence
    constraints: float  # share of the question's numbers and names in the sentence (1 when it has none)
    kind: bool  # holds an answer of the kind asked for
    novelty: float  # share of the sentence's units that are not the question's: it says something more


@dataclass
class Question:
    text: str
    terms: list[str]
    weights: dict[str, float]
    units: set[str]
    constraints: set[str]
    kind: AnswerKind | None
    language: str
    total: float = field(init=False)

    def __post_init__(self) -> None:
        self.total = sum(self.weights.values()) or 1.0

    @classmethod
    def read(
        cls, text: str, tokenizer: Tokenizer, term_weights: Callable[[Sequence[str]], dict[str, float]]
    ) -> "Question":
        terms = tokenizer.content_terms(text)
        weights = term_weights(terms) if terms else {}
        norm = normalize(text)
        numbers = set(re.findall(r"\d+(?:\.\d+)?", norm))
        names = {t for t in terms if t.isascii() and len(t) >= 3 and _LATIN_NAME.fullmatch(t) and t not in {"how", "what"}}
        return cls(text, terms, weights, units(text), numbers | names, expected_kind(text), detect_language(text))

    def coverage(self, text: str, *, normalized: bool = False) -> float:
        """Weighted share of the content terms found in ``text``."""
        norm = text if normalized else normalize(text)
        return sum(w for t, w in self.weights.items() if t in norm) / self.total

    def support(self, sentence: str, norm: str | None = None) -> Support:
        """``norm``: the sentence already normalised, when the caller has it."""
        norm = normalize(sentence) if norm is None else norm
        mine = units(norm, normalized=True)
        found = len(self.units & mine) / len(self.units) if self.units else 0.0
        constraints = sum(1 for c in self.constraints if c in norm) / len(self.constraints) if self.constraints else 1.0
        novelty = len(mine - self.units) / len(mine) if mine else 0.0
        return Support(self.coverage(norm, normalized=True), found, constraints, has_kind(self.kind, sentence), novelty)
