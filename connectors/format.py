"""How an answer reads in a chat: the answer, then its numbered sources, within the platform's limits.

Formatting is platform-neutral markdown plus the limits each channel declares (``max_reply``,
measured in characters or UTF-8 bytes, and ``max_parts``). How a mention or a card is spelled is
the channel's business: :class:`OutgoingMessage` only says whether to mention the asker.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.domain import Answer, Citation
from assistant.text.cjk import has_cjk
from connectors.base import Channel, IncomingMessage, OutgoingMessage

# Notices: what the bot says when it does not answer from the knowledge base.
REFUSED = "refused"
RATE_LIMITED_USER = "rate_limited_user"
RATE_LIMITED_GROUP = "rate_limited_group"
FAILED = "failed"

NOTICES: dict[str, dict[str, str]] = {
    REFUSED: {
        "zh": "抱歉，知识库里没有找到能可靠回答这个问题的资料，我不想凭猜测回答。"
        "可以换个说法、补充一些细节再问我，或联系人工客服。",
        "en": "Sorry, I could not find anything in the knowledge base that answers this reliably, "
        "and I would rather not guess. Try rephrasing or adding details, or ask a human agent.",
    },
    RATE_LIMITED_USER: {
        "zh": "你的提问有点频繁，请稍等一分钟再问，我会继续为你解答。",
        "en": "You are asking a little fast: please wait a minute and ask again, I will be glad to help.",
    },
    RATE_LIMITED_GROUP: {
        "zh": "这个群里的提问有点多，请稍等一分钟再问，我会继续为大家解答。",
        "en": "Lots of questions in this group right now: please wait a minute and ask again.",
    },
    FAILED: {
        "zh": "抱歉，这条消息我暂时没能处理好，请稍后再问一次。",
        "en": "Sorry, something went wrong while answering this message. Please ask again in a moment.",
    },
}

TRUNCATED = {"zh": "…（内容较长，已截断）", "en": "… (truncated)"}
SOURCES = {"zh": "来源", "en": "Sources"}
PAGE = {"zh": "第 {} 页", "en": "p. {}"}
LINK = {"zh": "链接", "en": "link"}
CURATED = {"zh": "人工整理 · {}", "en": "curated by {}"}  # an answer a knowledge manager wrote, and who

MENTION_RESERVE = 80  # room left for the channel's mention markup


def language_of(text: str) -> str:
    return "zh" if has_cjk(text) else "en"


def notice(key: str, message: IncomingMessage, channel: Channel) -> OutgoingMessage:
    """A fixed polite reply (refusal, rate limit, failure) in the asker's language."""
    text = NOTICES[key][language_of(message.text)]
    return OutgoingMessage(message, text, title=_title(message), mention=message.is_group)


def render(answer: Answer, message: IncomingMessage, channel: Channel) -> list[OutgoingMessage]:
    """The answer and its sources as one or more replies within the channel's limits."""
    if not answer.answer.strip():
        return [notice(REFUSED, message, channel)]
    if answer.refused:  # the assistant's own refusal says what it searched and what came closest
        return [OutgoingMessage(message, answer.answer.strip(), title=_title(message), mention=message.is_group)]
    lang = language_of(message.text)
    body = answer.answer.strip()
    sources = sources_block(answer.citations, lang)
    measure = _measure(channel)
    limit = channel.max_reply - (MENTION_RESERVE if message.is_group else 0)
    texts = split_answer(body, sources, limit, measure, max_parts=channel.max_parts, lang=lang)
    title = _title(message)
    return [
        OutgoingMessage(message, text, title=title, mention=message.is_group and i == 0, part=i + 1, parts=len(texts))
        for i, text in enumerate(texts)
    ]


def sources_block(citations: list[Citation], lang: str) -> str:
    """``**来源**`` then one line per citation: ``[n] title · section · page`` with a link when known,
    and ``人工整理 · 王会计`` for an entry a person curated."""
    if not citations:
        return ""
    lines = [f"**{SOURCES[lang]}**"]
    for c in sorted(citations, key=lambda c: c.n):
        title = _one_line(c.title) or c.doc_id
        parts = [f"[{title}]({c.url})" if c.url else title]
        section = _short_section(c.section, title)
        if section:
            parts.append(section)
        if c.page:
            parts.append(PAGE[lang].format(c.page))
        if c.curated_by:
            parts.append(CURATED[lang].format(_one_line(c.curated_by)))
        lines.append(f"[{c.n}] " + " · ".join(parts))
    return "\n".join(lines)


def split_answer(
    body: str,
    sources: str,
    limit: int,
    measure: Callable[[str], int],
    *,
    max_parts: int,
    lang: str,
) -> list[str]:
    """Pieces of at most ``limit`` each, cut at paragraphs, then lines, then characters.

    The sources stay in one piece with the end of the answer when they fit; past ``max_parts`` the
    last piece is truncated with a visible marker.
    """
    whole = f"{body}\n\n{sources}" if sources else body
    if measure(whole) <= limit:
        return [whole]
    blocks = _blocks(body, limit, measure) + ([sources] if sources else [])
    pieces: list[str] = []
    for block in blocks:
        candidate = f"{pieces[-1]}\n\n{block}" if pieces else block
        if pieces and measure(candidate) <= limit:
            pieces[-1] = candidate
        else:
            pieces.extend(_blocks(block, limit, measure) if measure(block) > limit else [block])
    if len(pieces) > max_parts:
        marker = TRUNCATED[lang]
        kept = pieces[: max_parts - 1]
        last = pieces[max_parts - 1]
        while last and measure(last + marker) > limit:
            last = last[: max(len(last) - max(1, len(last) // 10), 0)]
        pieces = kept + [last.rstrip() + marker]
    return pieces


def _blocks(text: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    """Paragraphs, then lines, then character runs, each within ``limit``."""
    out: list[str] = []
    for para in text.split("\n\n"):
        if measure(para) <= limit:
            out.append(para)
            continue
        for line in para.split("\n"):
            while measure(line) > limit:
                cut = _fit(line, limit, measure)
                out.append(line[:cut])
                line = line[cut:]
            if line:
                out.append(line)
    return out


def _fit(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix length of ``text`` that fits (binary search; at least one character)."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _measure(channel: Channel) -> Callable[[str], int]:
    if channel.reply_limit_in_bytes:
        return lambda s: len(s.encode("utf-8"))
    return len


def _title(message: IncomingMessage) -> str:
    text = _one_line(message.text)
    return text if len(text) <= 24 else text[:23] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _short_section(section: str, title: str) -> str:
    """The last two levels of a heading path below the title: enough to find the place, short for chat."""
    parts = [p.strip() for p in section.split(">") if p.strip() and p.strip() != title]
    return " > ".join(parts[-2:])
