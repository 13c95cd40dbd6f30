"""What a refusal tells the asker: that nothing answers it, what was searched, and what is nearest.

"The documents do not cover this" is more useful with where it looked (so a colleague knows whether
another knowledge base might) and the closest topics it did find (so the asker can rephrase).
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.domain import Hit

MAX_TOPICS = 3


def nearest_topics(hits: Sequence[Hit], limit: int = MAX_TOPICS) -> list[str]:
    """The closest documents' titles with the part of them that came closest, one per document."""
    seen: set[str] = set()
    topics: list[str] = []
    for hit in hits:
        chunk = hit.chunk
        if chunk.doc_id in seen:
            continue
        seen.add(chunk.doc_id)
        title = hit.doc.title if hit.doc else chunk.doc_id
        where = chunk.question if chunk.kind == "faq" and chunk.question else chunk.section.split(" > ")[-1]
        topics.append(f"《{title}》{where}".strip() if where else f"《{title}》")
        if len(topics) >= limit:
            break
    return topics


def refusal_text(language: str, searched: Sequence[str], topics: Sequence[str]) -> str:
    """The refusal in the asker's language ("en", otherwise Chinese)."""
    if language == "en":
        text = "Sorry, I could not find anything in the knowledge base that answers this"
        text += f" (searched: {', '.join(searched)})." if searched else "."
        if topics:
            text += f" The closest topics I found: {'; '.join(topics)}."
        return text + " Try rephrasing the question, or ask a human colleague to confirm."
    text = "抱歉，知识库里没有找到能回答这个问题的内容"
    text += f"（已检索：{'、'.join(searched)}）。" if searched else "。"
    if topics:
        text += f"最接近的内容有：{'；'.join(topics)}。"
    return text + "可以换个说法再问，或联系人工客服确认。"
