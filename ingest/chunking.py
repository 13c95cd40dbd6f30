"""Structure-aware chunking.

- a chunk never crosses a heading: each carries its heading path (shown in its citation);
- text is cut at sentence boundaries (Chinese and English) up to a size limit, with overlap;
- tables are cut between rows only, and every piece repeats the header row;
- an FAQ pair is one chunk whose question is kept separately so it is searchable on its own;
- chunk ids hash the document id, the heading path and the text, so unchanged text keeps its id;
- text read by OCR never shares a chunk with a text layer's; an OCR'd chunk carries the mean OCR
  confidence of the paragraphs it was cut from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from assistant.domain import Chunk
from assistant.text.sentences import split_sentences
from ingest.loaders.base import Block, LoadedDocument
from ingest.loaders.layout import mean_confidence


def chunk_id(doc_id: str, section: str, text: str, occurrence: int) -> str:
    digest = hashlib.sha1(f"{doc_id}\x1f{section}\x1f{text}\x1f{occurrence}".encode()).hexdigest()
    return digest[:24]


def _groups(blocks: list[Block]) -> Iterator[list[Block]]:
    """Consecutive text blocks under the same heading on the same page, all OCR'd or none, form one group."""
    group: list[Block] = []
    for block in blocks:
        if block.kind != "text":
            if group:
                yield group
                group = []
            yield [block]
            continue
        if group and (
            group[-1].headings != block.headings
            or group[-1].page != block.page
            or (group[-1].ocr_confidence is None) != (block.ocr_confidence is None)
        ):
            yield group
            group = []
        group.append(block)
    if group:
        yield group


def _pack_sentences(sentences: list[str], size: int, overlap: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    length = 0
    for sentence in sentences:
        if current and length + len(sentence) > size:
            pieces.append(_join(current))
            carried: list[str] = []
            carried_len = 0
            for prev in reversed(current):
                if carried_len + len(prev) > overlap:
                    break
                carried.insert(0, prev)
                carried_len += len(prev)
            current, length = carried, carried_len
        current.append(sentence)
        length += len(sentence)
    if current:
        pieces.append(_join(current))
    return pieces


_TERMINATORS = tuple("。！？；!?;….")


def _join(sentences: list[str]) -> str:
    """Rejoin sentences: a line that ended without a terminator (a list item) keeps its line break."""
    out = ""
    for s in sentences:
        if out:
            if not out.endswith(_TERMINATORS):
                out += "\n"
            elif out[-1].isascii() and s[:1].isascii():
                out += " "
        out += s
    return out


def _split_long(sentence: str, size: int) -> list[str]:
    """A single 'sentence' longer than the limit (a run-on list) is cut at commas, then hard."""
    if len(sentence) <= size:
        return [sentence]
    parts, buf = [], ""
    for ch in sentence:
        buf += ch
        if (ch in "，,、" and len(buf) >= size * 0.6) or len(buf) >= size:
            parts.append(buf)
            buf = ""
    if buf:
        parts.append(buf)
    return parts


def _table_pieces(block: Block, size: int) -> list[str]:
    header = block.table_header or ""
    rows = [r for r in block.text.splitlines() if r.strip()]
    pieces, current, length = [], [], len(header)
    for row in rows:
        if current and length + len(row) + 1 > size:
            pieces.append("\n".join([header, *current] if header else current))
            current, length = [], len(header)
        current.append(row)
        length += len(row) + 1
    if current or not pieces:
        pieces.append("\n".join([header, *current] if header else current))
    return pieces


def chunk_document(
    doc_id: str, kb: str, loaded: LoadedDocument, *, size: int = 400, overlap: int = 60
) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}

    def emit(
        text: str, block: Block, kind: str, question: str | None = None, ocr_confidence: float | None = None
    ) -> None:
        text = text.strip()
        if not text:
            return
        section = " > ".join(block.headings)
        key = f"{section}\x1f{question or ''}\x1f{text}"
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        chunks.append(
            Chunk(
                id=chunk_id(doc_id, section, (question or "") + text, occurrence),
                doc_id=doc_id,
                kb=kb,
                ordinal=len(chunks),
                text=text,
                section=section,
                page=block.page,
                kind=kind,
                question=question,
                ocr_confidence=ocr_confidence,
            )
        )

    for group in _groups(loaded.blocks):
        first = group[0]
        if first.kind == "faq":
            emit(first.text, first, "faq", question=first.question)
        elif first.kind == "table":
            for piece in _table_pieces(first, size):
                emit(piece, first, "table", ocr_confidence=first.ocr_confidence)
        else:
            sentences = []
            for block in group:
                for s in split_sentences(block.text):
                    sentences.extend(_split_long(s, size))
            confidence = mean_confidence((b.text, b.ocr_confidence) for b in group)
            for piece in _pack_sentences(sentences, size, overlap):
                emit(piece, first, "text", ocr_confidence=confidence)
    return chunks
