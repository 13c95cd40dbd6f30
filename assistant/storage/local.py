"""Who may write: one process owns a data directory (Chroma loses vectors when two processes write to
one); with shared engines (PostgreSQL, a Chroma server) any number of processes may.

The owner holds an exclusive ``flock`` on ``<data_dir>/owner.lock`` and writes who it is (pid and,
for a server, its URL) so the CLI can send work to the server instead of opening the files itself.
The kernel drops the lock when the process dies, so a crash never leaves a stale lock behind. An owner
that lets go in order says so in the file; the next owner then trusts the catalog's ledger to know
every index entry a writer left, rather than comparing all of them with the catalog (seconds at 100k
chunks, on every start).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from assistant.errors import DataDirLocked


class DataDirLock:
    """The embedded stores' lock (see ``StorageLock``): exclusive, per data directory."""

    exclusive = True

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "owner.lock"
        self._fd: int | None = None
        self.needs_full_sweep = True  # until the previous owner is known to have let go in order

    def acquire(self, url: str | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirLocked(str(self.data_dir), self.holder() or {}) from None
        previous = self.holder()
        previous = previous if isinstance(previous, dict) else {}
        self.needs_full_sweep = previous.get("closed_in_order") is not True  # killed, or a first start
        self._url = url
        self._write(fd, closed_in_order=False)  # what the file says if this process dies holding it
        self._fd = fd

    def _write(self, fd: int, *, closed_in_order: bool) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": self._url, "closed_in_order": closed_in_order}).encode(), 0)

    def holder(self) -> dict | None:
        """Who holds the lock, as they wrote it (None if nobody ever did)."""
        try:
            return json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            # In order only if nothing a dead owner left is still to be found by the full comparison.
            self._write(self._fd, closed_in_order=not self.needs_full_sweep)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DataDirLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class SharedStorage:
    """The lock of shared engines: nothing to hold, and no process may assume it writes alone."""

    exclusive = False
    needs_full_sweep = False  # no process writes alone, so none may compare every entry (see IndexJanitor)

    def acquire(self, url: str | None = None) -> None:
        return None

    def release(self) -> None:
        return None

    def holder(self) -> dict | None:
        return None
