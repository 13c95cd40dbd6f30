"""English follow-ups made standalone without pasting words into English word order.

Swapping a topic inside an English sentence only works when the new word plays the same part as the
one it replaces: a name for a name ("What about Canada?" after "How long does shipping to Japan
take?"), or a noun with the same head ("what about express shipping?"). A conditional follow-up
("what if it's defective?", "and if it goes back to my bank card instead?") adds its condition to the
previous question. Anything else is left as the customer wrote it, behind the previous question's topic
("About warranty, phone: What about the battery?"), so it reads as what was asked, in English, instead
of "How long is the the battery on a phone?", and the previous question's predicate is not inherited.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.text.tokenize import STOPWORDS, stem

_LEAD = r"(?:(?:and|but|ok|okay|so|then)[,.]?\s+)?"
ENGLISH_SWITCH = re.compile(
    rf"^{_LEAD}(?:(?:what|how)\s+about(?:\s+for)?|and\s+(?:for|in|to|with|on))\s+(?P<target>[^,?]+?)\s*[?.!]*$"
    r"|^and\s+(?P<named>(?:the|a|an|my|your)\s+[^,?]+?)\s*[?.!]*$",
    re.I,
)
CONDITIONAL = re.compile(rf"^{_LEAD}(?:what\s+(?:happens\s+)?)?if\s+(?P<clause>[^,?]+?)\s*[?.!]*$", re.I)
_ARTICLE = re.compile(r"^(?:the|a|an|my|your|our)\s+", re.I)
_SENTENCE_END = re.compile(r"[?.!]\s+(?=\S)")
_CONTEXT = re.compile(r"^About\b|:|\(order [^)]*\)")  # the wrapping an earlier rewrite added
_NAME = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def follow_up_en(
    question: str,
    previous: str,
    is_elliptical: Callable[[str, str], bool],
    topic: Callable[[str], list[str]],
) -> tuple[str, list[str]]:
    """(standalone query, reasons) for an English follow-up of ``previous``; reasons empty: unchanged.

    ``topic(text)`` names what a question is about (the rewriter's topic terms).
    """
    text = question.strip()
    single = _one_question(previous)
    switch = ENGLISH_SWITCH.match(text)
    if switch:
        target = _ARTICLE.sub("", (switch.group("target") or switch.group("named")).strip())
        swapped = _swap(single, target) if single else None
        if swapped:
            query, replaced = swapped
            return query, [f"topic switch: {replaced} -> {target}"]
        return _with_context(previous, text, topic)
    conditional = CONDITIONAL.match(text)
    if conditional and single:
        query = f"{single.rstrip('?.! ')} if {conditional.group('clause')}?"
        return query, ["conditional follow-up: its condition added to the previous question"]
    if conditional or is_elliptical(text, previous):
        return _with_context(previous, text, topic)
    return question, []


def _one_question(text: str) -> str | None:
    """``text`` when it is a single English question, else None (a rewrite of a rewrite, a statement)."""
    text = text.strip()
    if not text.endswith("?") or _SENTENCE_END.search(text) or re.search(r"[\u4e00-\u9fff]", text):
        return None
    return text


def _swap(previous: str, target: str) -> tuple[str, str] | None:
    """``previous`` with the word ``target`` stands in for replaced, and that word; None when none fits."""
    if target[:1].isupper():
        names = [m for m in _NAME.finditer(previous) if m.start() > 0 and m.group(0) != "I"]
        if len(names) == 1:
            name = names[0]
            return previous[: name.start()] + target + previous[name.end() :], name.group(0)
        return None
    head = stem(target.split()[-1].lower())
    if head in STOPWORDS:
        return None
    for word in re.finditer(r"[A-Za-z][\w'-]*", previous):
        if stem(word.group(0).lower()) == head and word.group(0).lower() != target.lower():
            return previous[: word.start()] + target + previous[word.end() :], word.group(0)
    return None


def _with_context(previous: str, question: str, topic: Callable[[str], list[str]]) -> tuple[str, list[str]]:
    """The question as asked, behind what the previous one was about.

    "About warranty, phone: What about the battery?"
    """
    context = _CONTEXT.sub(" ", previous)
    about = [_as_written(t, context) for t in topic(context) if t.lower() not in question.lower()]
    if not about:
        return question, []
    query = f"About {', '.join(about)}: {question[:1].upper()}{question[1:]}"
    return query, [f"follow-up: the previous question's topic ({', '.join(about)}) put before it"]


def _as_written(term: str, text: str) -> str:
    """``term`` (lower case) as ``text`` writes it: "WeChat Pay", not "wechat pay"."""
    found = re.search(re.escape(term).replace(r"\ ", r"\s+"), text, re.I)
    return found.group(0) if found else term
