"""Access tokens for the platforms' reply APIs: fetched once, cached, refreshed before they expire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenCache:
    """Holds one access token; ``fetch`` returns ``(token, lifetime_seconds)``.

    Thread-safe (gateway workers share it): one fetch at a time, everyone else waits for it.
    The token is renewed ``margin_s`` before it expires, or at once after :meth:`invalidate`
    (when the platform says the token is no longer valid).
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, margin_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._margin_s = margin_s
        self._clock = clock
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._expires:
                token, lifetime = self._fetch()
                self.fetches += 1
                self._token = token
                self._expires = self._clock() + max(float(lifetime) - self._margin_s, lifetime / 2)
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        with self._lock:
            if token is None or token == self._token:
                self._token = ""

    def __repr__(self) -> str:  # never show the token
        return f"TokenCache(cached={bool(self._token)})"
