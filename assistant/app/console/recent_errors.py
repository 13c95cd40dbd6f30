"""The last warnings and errors of this process, for the console's health page.

A logging handler on the root logger keeps the formatted message of the last ``capacity`` records
at WARNING or above, with their time, level and logger: no arguments, no stack, no request. The code
never logs secrets (keys, tokens, passwords are scrubbed or left out where they are logged), so the
messages are safe to show to the admins and knowledge managers who see this page.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_MESSAGE = 1000
# The root logger, and uvicorn's error log (it does not reach the root: uvicorn stops its propagation).
WATCHED = ("", "uvicorn.error")


@dataclass(frozen=True)
class LogLine:
    at: datetime
    level: str
    logger: str
    message: str


class RecentErrors(logging.Handler):
    def __init__(self, capacity: int = 100):
        super().__init__(logging.WARNING)
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            message += f" ({record.exc_info[0].__name__})"
        line = LogLine(datetime.fromtimestamp(record.created, timezone.utc), record.levelname, record.name,
                       message[:MAX_MESSAGE])
        with self._guard:
            self._lines.append(line)

    def lines(self) -> list[LogLine]:
        """Newest first."""
        with self._guard:
            return list(reversed(self._lines))

    def install(self) -> None:
        for name in WATCHED:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in WATCHED:
            logging.getLogger(name).removeHandler(self)
