"""Plain text, in UTF-8 or the GBK/GB18030 family that Chinese Windows tools still write."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import IngestError
from ingest.loaders.base import Block, LoadedDocument

ENCODINGS = ("utf-8-sig", "gb18030", "big5")


def decode(data: bytes, name: str) -> str:
    """Decode bytes trying UTF-8 first (strict), then GB18030 (a superset of GBK/GB2312), then Big5."""
    if b"\x00" in data[:4096]:
        raise IngestError(name, "this looks like a binary file, not text")
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(name, "cannot decode the text: it is not UTF-8, GBK/GB18030 or Big5")


def paragraphs(text: str) -> list[str]:
    out, buf = [], []
    for line in text.splitlines():
        if line.strip():
            buf.append(line.rstrip())
        elif buf:
            out.append("\n".join(buf))
            buf = []
    if buf:
        out.append("\n".join(buf))
    return out


def load_text(path: Path) -> LoadedDocument:
    text = decode(path.read_bytes(), path.name)
    paras = paragraphs(text)
    title = paras[0].splitlines()[0].strip()[:100] if paras else path.stem
    return LoadedDocument(title=title, blocks=[Block("text", p) for p in paras])
