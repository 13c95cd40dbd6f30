"""Stage timings for traces: milliseconds since a ``time.perf_counter()`` reading."""

from __future__ import annotations

import time


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
