"""A circuit breaker per model backend: a backend that fails or stalls is skipped until it recovers."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Closed -> open (too slow once, or too many errors in the window) -> half-open after the cool-down
    (one probe call) -> closed on success, open again on failure. Thread-safe."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        name: str,
        *,
        slow_seconds: float = 8.0,
        error_rate: float = 0.05,
        window_seconds: float = 60.0,
        min_calls: int = 1,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.slow_seconds = slow_seconds
        self.error_rate = error_rate
        self.window_seconds = window_seconds
        self.min_calls = min_calls
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._opened_at = 0.0
        self._probing = False
        self._window: deque[tuple[float, bool]] = deque()  # (when, failed)
        self.reason = ""
        self.opened = 0  # times it opened

    @property
    def state(self) -> str:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def allow(self) -> bool:
        """May a call go to this backend now? In half-open, only one probe at a time."""
        with self._lock:
            self._maybe_half_open()
            if self._state == self.CLOSED:
                return True
            if self._state == self.HALF_OPEN and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, ok: bool, seconds: float) -> None:
        """The outcome of an allowed call: failed or not, and how long it took."""
        with self._lock:
            slow = seconds > self.slow_seconds
            failed = not ok or slow
            if self._state == self.HALF_OPEN:
                self._probing = False
                if failed:
                    self._open("probe failed" if not ok else f"probe took {seconds:.1f} s")
                else:
                    self._state, self.reason = self.CLOSED, ""
                    self._window.clear()
                    log.info("circuit breaker %s closed: probe succeeded", self.name)
                return
            now = self._clock()
            self._window.append((now, failed))
            while self._window and now - self._window[0][0] > self.window_seconds:
                self._window.popleft()
            if self._state != self.CLOSED:
                return
            if slow:
                self._open(f"took {seconds:.1f} s (threshold {self.slow_seconds:g} s)")
                return
            failures = sum(1 for _, f in self._window if f)
            rate = failures / len(self._window)
            if len(self._window) >= self.min_calls and rate > self.error_rate:
                self._open(f"error rate {rate:.0%} over {len(self._window)} calls (threshold {self.error_rate:.0%})")

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._maybe_half_open()
            failures = sum(1 for _, f in self._window if f)
            return {"state": self._state, "reason": self.reason, "opened": self.opened,
                    "window_calls": len(self._window), "window_failures": failures}

    def _open(self, reason: str) -> None:
        self._state, self.reason, self._opened_at = self.OPEN, reason, self._clock()
        self.opened += 1
        log.warning("circuit breaker %s opened: %s; retrying after %g s", self.name, reason, self.cooldown_seconds)

    def _maybe_half_open(self) -> None:
        if self._state == self.OPEN and self._clock() - self._opened_at >= self.cooldown_seconds:
            self._state, self._probing = self.HALF_OPEN, False
