"""Guards for zip-based formats (DOCX, XLSX): a wrong container or a zip bomb is refused up front."""

from __future__ import annotations

import zipfile
from pathlib import Path

from assistant.errors import IngestError

MAX_UNCOMPRESSED = 200 * 1024 * 1024  # an honest office file of 50 MB never unpacks past this
MAX_RATIO = 100  # XML compresses ~10x; a bomb compresses thousands of times
MAX_MEMBERS = 10_000


def check_zip(path: Path, kind: str) -> None:
    """Raise ``IngestError`` unless ``path`` is a sane zip container of the given kind."""
    if not zipfile.is_zipfile(path):
        raise IngestError(path.name, f"not a valid {kind} file (it is not a zip container)")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise IngestError(path.name, f"not a valid {kind} file ({exc})") from exc
    if len(infos) > MAX_MEMBERS:
        raise IngestError(path.name, f"{kind} holds {len(infos)} files; refusing a suspicious archive")
    unpacked = sum(i.file_size for i in infos)
    packed = max(sum(i.compress_size for i in infos), 1)
    if unpacked > MAX_UNCOMPRESSED or (unpacked > 10 * 1024 * 1024 and unpacked / packed > MAX_RATIO):
        raise IngestError(
            path.name,
            f"{kind} would unpack to {unpacked / 1e6:.0f} MB from {packed / 1e6:.1f} MB "
            "(a zip bomb?); refused",
        )
