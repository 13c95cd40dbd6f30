"""What a document's catalog entry says about it, from what was given, what is stored and what the file says.

Uploading a file again without some metadata must not wipe it: a value given replaces the stored one;
a value not given keeps it. Version and effective date are the exception that proves the rule: a new
file that states them itself ("版本：V3.2") is newer than what was stored, so the file's wins over the
stored value (a value given still wins over both). The title is the loader's only as a last resort: it
always finds one (a first heading, or the file name), so a title stored earlier is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.domain import Document, DocumentMeta
from ingest.loaders.base import LoadedDocument


@dataclass(frozen=True)
class Described:
    """The metadata fields of a :class:`~assistant.domain.Document`, settled."""

    title: str
    version: str | None = None
    effective_date: str | None = None
    owner: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None

    def as_dict(self) -> dict:
        return {
            "title": self.title, "version": self.version, "effective_date": self.effective_date,
            "owner": self.owner, "tags": list(self.tags), "url": self.url,
        }


def describe(given: DocumentMeta, loaded: LoadedDocument, stored: Document | None) -> Described:
    """Given first; then, for version and effective date, what the file states; then what is stored."""

    def kept(name: str):
        return getattr(stored, name) if stored is not None else None

    return Described(
        title=given.title or kept("title") or loaded.title,
        version=given.version or loaded.version or kept("version"),
        effective_date=given.effective_date or loaded.effective_date or kept("effective_date"),
        owner=given.owner or kept("owner"),
        tags=list(given.tags or kept("tags") or []),
        url=given.url or kept("url"),
    )
