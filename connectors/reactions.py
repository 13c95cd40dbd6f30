"""Reactions to the bot's replies (a thumbs up or down), handed to the app's feedback off the callback.

A callback handler (or a long-connection thread) must acknowledge at once, and recording a vote reads
and writes the database: :class:`Reactions` runs the app's handler on a thread of its own. A reaction
that fails is logged and dropped; the platform's retry would deliver the same vote again anyway
(votes replace, so a repeat changes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from connectors.base import Reaction

log = logging.getLogger(__name__)


class Reactions:
    def __init__(self, handler: Callable[[Reaction], None]):
        self.handler = handler
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reactions")

    def submit(self, reaction: Reaction) -> None:
        """Record ``reaction`` in the background; returns at once."""
        self._pool.submit(self._run, reaction)

    def _run(self, reaction: Reaction) -> None:
        try:
            self.handler(reaction)
        except Exception as exc:  # one bad reaction never stops the others
            log.error("recording a %s reaction failed: %s: %s", reaction.platform, type(exc).__name__, exc)

    def stop(self) -> None:
        """Finish the reactions already received, then stop."""
        self._pool.shutdown(wait=True)
