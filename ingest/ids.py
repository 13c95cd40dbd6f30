"""Document ids from file names, and the rule that keeps two files from sharing one id silently.

A file uploaded without an id gets its name's stem as id (``Invoice SOP.md`` -> ``invoice-sop``).
Invisible characters (direction overrides such as U+202E, zero-width spaces, control characters)
are dropped first, so a name cannot show as one document and be filed as another; a name made of
nothing else is refused. Uploading a file of the same name again replaces its document (the same
name ignoring case and full-width forms, but not invisible characters). Another file whose name
gives the same id (``x.txt`` after ``x.md``, ``\\u202eevil.md`` after ``evil.md``) is refused with
both names and how to give it an id of its own; an id given explicitly always means "replace this one".
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from assistant.errors import IngestError

_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format (bidi, zero-width), surrogates, separators
HOW_TO_GIVE_AN_ID = "the doc_id field of the upload, or --id on the command line"


def is_invisible(ch: str) -> bool:
    return unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def shown(name: str) -> str:
    """``name`` for a message: invisible characters written as escapes (``\\u202e``), so they are seen."""
    return "".join(ascii(ch)[1:-1] if is_invisible(ch) else ch for ch in name)


def without_invisible(name: str) -> str:
    return "".join(ch for ch in name if not is_invisible(ch))


def same_file_name(a: str, b: str) -> bool:
    """Whether two file names are one file's: equal ignoring case and width; invisible characters count."""
    return _folded(a) == _folded(b)


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def slug(name: str) -> str:
    """A document id from a file name: keeps letters (Chinese too), digits, '-', '_' and '.'."""
    visible = without_invisible(name)
    stem = unicodedata.normalize("NFKC", Path(visible).stem).strip().lower()
    stem = re.sub(r"[^\w.-]+", "-", stem).strip("-.")
    return stem or hashlib.sha1(visible.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def document_id(source: str, given: str | None) -> str:
    """The id a file goes in under: the one given, else its name's. ``IngestError`` for a name or id
    that is (partly) invisible in a way that would hide which document it is."""
    if given is not None:
        if any(is_invisible(ch) for ch in given):
            raise IngestError(
                shown(source), f"the document id '{shown(given)}' holds invisible characters "
                "(control or direction marks); give an id without them",
            )
        return given
    if any(unicodedata.category(ch) == "Cs" for ch in source):
        raise IngestError(shown(source), "the file name is not valid Unicode (it holds a lone surrogate); rename the file")
    stem = Path(source).stem if Path(source).suffix else source
    if not without_invisible(stem).strip():
        raise IngestError(
            shown(source), "the file name has no visible characters (only control or direction marks); "
            f"rename the file or give it an id ({HOW_TO_GIVE_AN_ID})",
        )
    return slug(source)


def taken_by_another_file(source: str, doc_id: str, holder: str, *, same_upload: bool) -> str:
    """The message for a file whose id another file already has."""
    if same_upload:
        return (
            f"{shown(source)}: another file of this upload, {shown(holder)}, gets the same document id "
            f"{doc_id!r}; rename one of them, or upload them one at a time, each with its own id ({HOW_TO_GIVE_AN_ID})"
        )
    return (
        f"{shown(source)}: the document id {doc_id!r} is already used by {shown(holder)}; give this file an id "
        f"of its own ({HOW_TO_GIVE_AN_ID}) or rename it; to replace {shown(holder)} with it, give the id {doc_id!r}"
    )
