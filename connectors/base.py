"""The shape every IM platform module fills in: messages in and out, the ``Channel`` interface, errors.

A channel turns one platform's HTTP callback into an :class:`IncomingMessage` (after checking that
the platform really sent it) and turns an :class:`OutgoingMessage` into that platform's reply call.
Channels know nothing about the pipeline; the gateway sits between them.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from connectors.settings import BotConfigError

log = logging.getLogger(__name__)

ChatType = Literal["p2p", "group"]


# ---------------------------------------------------------------- errors


class ConnectorError(Exception):
    """Base of every connector error; ``status`` is the HTTP status a callback answers with.

    Messages name the platform and the check that failed, never a secret or the payload.
    """

    status: int = 400

    def __init__(self, platform: str, problem: str):
        self.platform = platform
        self.problem = problem
        super().__init__(f"{platform}: {problem}")


class SignatureInvalid(ConnectorError):
    """The request is not signed with this bot's secret (forged, or the secret is misconfigured)."""

    status = 401


class StaleTimestamp(SignatureInvalid):
    """The signed timestamp is outside the accepted window (a replay, or a clock that is off)."""


class DecryptionFailed(SignatureInvalid):
    """The payload does not decrypt with this bot's key (wrong key, or tampered ciphertext)."""


class ReceiverMismatch(ConnectorError):
    """The payload is genuine but addressed to another app (receive id, app id or token differs)."""

    status = 403


class MalformedPayload(ConnectorError):
    """The body or a required field is missing or unreadable."""

    status = 400


class UnknownBot(ConnectorError):
    """No bot with this name is configured for the platform."""

    status = 404


class SendFailed(ConnectorError):
    """The platform's reply API refused or could not be reached; ``problem`` carries its error code."""

    status = 502


# ---------------------------------------------------------------- data crossing the boundary


@dataclass(frozen=True)
class CallbackRequest:
    """An HTTP callback as the platform sent it, independent of the web framework.

    ``headers`` keys are lower-case. ``body`` is the raw bytes: signatures cover them exactly.
    """

    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class CallbackResponse:
    """What the callback answers at once (the acknowledgement), before any answer is computed."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def json(cls, text: str) -> "CallbackResponse":
        return cls(200, text.encode(), "application/json")


@dataclass(frozen=True)
class IncomingMessage:
    """A question someone asked a bot, after the platform's signature and encryption are checked.

    ``reply`` holds what the platform needs to answer this very message (a session webhook, a
    message id to reply to, a websocket frame): only the channel that made it reads it.
    """

    platform: str
    bot: str
    message_id: str
    chat_id: str
    chat_type: ChatType
    sender_id: str
    text: str
    sender_name: str = ""
    mentioned: bool = False  # the bot was @-mentioned (always true in 1:1 chats)
    received_at: float = field(default_factory=time.time)
    kb_ids: tuple[str, ...] | None = None  # knowledge bases asked for explicitly (API callers)
    replayed: bool = False  # pasted into the console's sandbox: answered, never sent
    reply: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def conversation_id(self) -> str:
        """One conversation per platform, chat and user: what the conversation memory is keyed by."""
        return f"{self.platform}:{self.chat_id}:{self.sender_id}"

    @property
    def dedupe_key(self) -> str:
        return f"{self.platform}:{self.bot}:{self.message_id}"

    @property
    def is_group(self) -> bool:
        return self.chat_type == "group"


@dataclass(frozen=True)
class OutgoingMessage:
    """One reply message (markdown) answering ``reply_to``; long answers become several."""

    reply_to: IncomingMessage
    markdown: str
    title: str = ""
    mention: bool = False  # @-mention the asker (the channel spells it its platform's way)
    part: int = 1  # 1-based position when an answer is split
    parts: int = 1


@dataclass(frozen=True)
class Reaction:
    """Someone reacted to one of the bot's messages with a thumbs up or down (after the platform's
    signature is checked): feedback on the answer that message carried."""

    platform: str
    bot: str
    message_id: str  # the platform's id of the bot's message
    user_id: str  # who reacted, as the platform names senders (the same id as in their questions)
    vote: Literal["up", "down"]


@dataclass(frozen=True)
class CallbackResult:
    """What a channel made of a callback: the acknowledgement, and the message to answer or the
    reaction to record, if any."""

    response: CallbackResponse
    message: IncomingMessage | None = None
    reaction: Reaction | None = None


@contextmanager
def reading_payload(platform: str) -> Iterator[None]:
    """A payload of an unexpected shape that slipped past the field checks is a 400, never a 500.

    Parsers check every field they read (``require``, ``optional``, ``section``) and name it; this is
    the net under them: it names the kind of failure, never the payload (it may hold personal data).
    """
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, LookupError) as exc:
        log.warning("%s: unreadable callback payload (%s)", platform, type(exc).__name__)
        raise MalformedPayload(platform, f"the payload has an unexpected shape ({type(exc).__name__})") from None


# ---------------------------------------------------------------- the interface


class Channel(ABC):
    """One configured bot on one platform.

    ``handle`` is the whole callback: verify, then parse. It must be fast (it runs before the
    acknowledgement) and must raise a :class:`ConnectorError` for anything not genuinely from the
    platform, before anything is stored or answered. ``send`` runs on a gateway worker thread.
    """

    platform: str
    bot: str
    #: the most a single reply may hold, and whether that is measured in UTF-8 bytes or characters
    max_reply: int = 4000
    reply_limit_in_bytes: bool = False
    max_parts: int = 3  # longer answers are truncated with a visible marker
    #: its replies can be sent from any replica; False when they go through a socket or state only
    #: this process holds (such messages wait in this process's memory, not in the shared queue)
    portable: bool = True

    @abstractmethod
    def verify(self, request: CallbackRequest) -> None:
        """Raise :class:`SignatureInvalid` (or a subclass) unless the platform signed ``request``."""

    @abstractmethod
    def parse(self, request: CallbackRequest) -> CallbackResult:
        """Turn a verified callback into its acknowledgement and, for a question, the message."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> str | None:
        """Deliver one reply through the platform; raise :class:`SendFailed` when it is refused.

        Returns the platform's id of the message sent when it gives one (reactions to it are feedback)."""

    def handle(self, request: CallbackRequest) -> CallbackResult:
        self.verify(request)
        with reading_payload(self.platform):
            return self.parse(request)

    def admitted(self, message: IncomingMessage, admission: str) -> None:
        """What the gateway decided about ``message`` (see ``gateway.Admission``); most channels ignore it."""

    def close(self) -> None:
        """Release clients and connections (idempotent)."""

    def __repr__(self) -> str:  # never the keys it holds
        return f"{type(self).__name__}(platform={self.platform!r}, bot={self.bot!r})"


class ChannelRegistry:
    """The configured bots, by platform and bot name."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], Channel] = {}

    def register(self, channel: Channel) -> Channel:
        key = (channel.platform, channel.bot)
        if key in self._channels:
            raise BotConfigError(channel.platform, channel.bot, "name",
                                 f"two bots are named {channel.bot!r}; give each a distinct name")
        self._channels[key] = channel
        return channel

    def get(self, platform: str, bot: str) -> Channel:
        try:
            return self._channels[(platform, bot)]
        except KeyError:
            raise UnknownBot(platform, f"no bot named {bot!r} is configured") from None

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._channels.values()))

    def __len__(self) -> int:
        return len(self._channels)

    def close(self) -> None:
        for channel in self:
            channel.close()


_KIND_NAMES = {
    str: "a string", dict: "an object", list: "a list", int: "a number", float: "a number", bool: "true or false",
}


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(dict.fromkeys(_KIND_NAMES.get(k, k.__name__) for k in kinds))


def require(mapping: Any, key: str, platform: str, kind: type | tuple[type, ...] = str, *, where: str = "") -> Any:
    """``mapping[key]`` checked for type (a string must not be empty), or :class:`MalformedPayload`
    naming the field; ``where`` is the path of ``mapping`` in the payload (``"event.message."``)."""
    if not isinstance(mapping, dict):
        raise MalformedPayload(platform, f"expected an object holding {where + key!r}")
    value = mapping.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise MalformedPayload(platform, f"field {where + key!r} is missing or not {_kind_name(kind)}")
    return value


def optional(
    mapping: dict, key: str, platform: str, kind: type | tuple[type, ...] = str, default: Any = None, *, where: str = ""
) -> Any:
    """``mapping[key]`` checked for type when present (``null`` counts as absent), else ``default``;
    :class:`MalformedPayload` naming the field when it has another type."""
    value = mapping.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):  # True is an int
        raise MalformedPayload(platform, f"field {where + key!r} is not {_kind_name(kind)}")
    return value


def section(mapping: dict, key: str, platform: str, *, where: str = "") -> dict:
    """A nested object of the payload: ``{}`` when absent, :class:`MalformedPayload` when not an object."""
    return optional(mapping, key, platform, dict, {}, where=where)


def host_of(url: str) -> str:
    """The host (and port) of a URL, for messages: never its user:password@ or query string."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def close_loop(loop: Any) -> None:
    """Cancel what an SDK left running on a runner's private event loop, let it unwind, close the loop."""
    import asyncio

    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()
