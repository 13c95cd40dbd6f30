"""Feishu / Lark self-built app bot: event subscription v2.0 over HTTP, or the long connection.

Receive (HTTP): the body is ``{"encrypt": ...}`` when an Encrypt Key is set (then a plain body is
refused), signed with ``X-Lark-Signature``; the verification token sits in ``header.token`` (v2) or
``token`` (url_verification). ``url_verification`` is answered with its challenge. Events are
deduplicated on ``header.event_id``. The long connection (official ``lark-oapi``, own thread)
delivers the same event JSON, already authenticated by the socket.

Feedback: a thumbs up or down on one of the bot's replies (``im.message.reaction.created_v1``, signed
like every event) becomes a :class:`Reaction` on that message id; the app knows which answer it carried.

Reply: ``im/v1/messages/{message_id}/reply`` with the tenant token (cached, refreshed); short plain
answers as text, longer ones (or ones with links) as a card.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import httpx

from connectors.base import (
    CallbackRequest,
    CallbackResponse,
    CallbackResult,
    Channel,
    DecryptionFailed,
    IncomingMessage,
    MalformedPayload,
    OutgoingMessage,
    Reaction,
    ReceiverMismatch,
    SendFailed,
    SignatureInvalid,
    StaleTimestamp,
    close_loop,
    host_of,
    optional,
    reading_payload,
    require,
    section,
)
from connectors.crypto import FeishuCipher, same
from connectors.settings import BotConfigError, FeishuBot
from connectors.tokens import TokenCache

log = logging.getLogger(__name__)

PLATFORM = "feishu"
MESSAGE_EVENT = "im.message.receive_v1"
REACTION_EVENT = "im.message.reaction.created_v1"
VOTES = {"THUMBSUP": "up", "THUMBSDOWN": "down"}  # emoji types ("THUMBSUP", "ThumbsDown"), upper-cased
TOKEN_INVALID = {99991661, 99991663, 99991668}  # the tenant token is missing, invalid or expired
RATE_LIMITED = 230020
RATE_LIMIT_PAUSE_S = 1.0
_MENTION_KEY = re.compile(r"@_user_\d+\s*")
_MARKDOWN = re.compile(r"\]\(|\*\*|^#|^\s*[-*] ", re.M)


class FeishuChannel(Channel):
    platform = PLATFORM
    max_reply = 28_000  # a card holds 30 KB of JSON
    reply_limit_in_bytes = True

    def __init__(self, config: FeishuBot, http: httpx.Client, *, clock: Callable[[], float] = time.time):
        if config.mode == "http" and config.encrypt_key is None and config.verification_token is None:
            raise BotConfigError(PLATFORM, config.name, "encrypt_key / verification_token",
                                 "set encrypt_key (recommended) or verification_token for HTTP callbacks")
        self.config = config
        self.bot = config.name
        self.http = http
        self._clock = clock
        self.cipher = FeishuCipher(config.encrypt_key.get_secret_value()) if config.encrypt_key else None
        self._token = config.verification_token.get_secret_value() if config.verification_token else ""
        self.tokens = TokenCache(self._fetch_token)

    # -- receive

    def handle(self, request: CallbackRequest) -> CallbackResult:
        payload = self._open(request)
        if payload.get("type") == "url_verification":
            self._check_token(payload.get("token"))
            challenge = payload.get("challenge")
            if not isinstance(challenge, str):
                raise MalformedPayload(PLATFORM, "url_verification without a challenge")
            return CallbackResult(CallbackResponse.json(json.dumps({"challenge": challenge})))
        self.verify(request)
        with reading_payload(PLATFORM):
            return self._event(payload)

    def verify(self, request: CallbackRequest) -> None:
        """The request signature (when an Encrypt Key is set) and its timestamp window."""
        if self.cipher is None:
            return  # without an Encrypt Key Feishu signs nothing: the verification token is the check
        timestamp, nonce = request.header("x-lark-request-timestamp"), request.header("x-lark-request-nonce")
        signature, skew = request.header("x-lark-signature"), self.config.max_clock_skew_s
        if not signature or not timestamp:
            raise SignatureInvalid(PLATFORM, "X-Lark-Signature and X-Lark-Request-Timestamp are required")
        try:
            sent = int(timestamp)
        except ValueError:
            raise SignatureInvalid(PLATFORM, "X-Lark-Request-Timestamp is not a number of seconds") from None
        if skew and abs(self._clock() - sent) > skew:
            raise StaleTimestamp(PLATFORM, f"request timestamp is more than {skew} s away from this server's clock")
        self.cipher.verify(signature, timestamp, nonce, request.body)

    def parse(self, request: CallbackRequest) -> CallbackResult:
        return self._event(self._open(request))

    def message_from(self, payload: dict) -> IncomingMessage | None:
        """A v2 event (HTTP or long connection) as an :class:`IncomingMessage`; None for other events."""
        header = payload.get("header")
        if payload.get("schema") != "2.0" or not isinstance(header, dict):
            return None  # v1 events carry no messages we answer
        if header.get("event_type") != MESSAGE_EVENT:
            return None
        event = section(payload, "event", PLATFORM)
        message = section(event, "message", PLATFORM, where="event.")
        sender = section(section(event, "sender", PLATFORM, where="event."), "sender_id", PLATFORM, where="event.sender.")
        if not message.get("message_id") or not message.get("chat_id"):
            raise MalformedPayload(PLATFORM, "im.message.receive_v1 without message.message_id / chat_id")
        message_id = require(message, "message_id", PLATFORM, where="event.message.")
        chat_id = require(message, "chat_id", PLATFORM, where="event.message.")
        ids = ("open_id", "user_id")
        open_id = next((v for k in ids if (v := optional(sender, k, PLATFORM, where="event.sender.sender_id."))), "")
        if not open_id:
            raise MalformedPayload(PLATFORM, "im.message.receive_v1 without sender.sender_id.open_id")
        group = message.get("chat_type") != "p2p"
        event_id = optional(header, "event_id", PLATFORM, (str, int), where="header.")
        return IncomingMessage(
            platform=PLATFORM,
            bot=self.bot,
            message_id=str(event_id or message_id),
            chat_id=chat_id,
            chat_type="group" if group else "p2p",
            sender_id=open_id,
            text=_text_of(message),
            mentioned=self._mentions_bot(message) if group else True,
            reply={"message_id": message_id, "open_id": open_id},
        )

    def reaction_from(self, payload: dict) -> Reaction | None:
        """A thumbs up or down a person put on a message (HTTP or long connection); None for anything else."""
        header = payload.get("header")
        if payload.get("schema") != "2.0" or not isinstance(header, dict):
            return None
        if header.get("event_type") != REACTION_EVENT:
            return None
        event = section(payload, "event", PLATFORM)
        if optional(event, "operator_type", PLATFORM, str, "user", where="event.") != "user":
            return None  # an app's reaction (the bot's own "got it") is no one's vote
        emoji = optional(section(event, "reaction_type", PLATFORM, where="event."), "emoji_type", PLATFORM, str, "",
                         where="event.reaction_type.")
        vote = VOTES.get(emoji.upper())
        if vote is None:
            return None
        message_id = require(event, "message_id", PLATFORM, where="event.")
        user = section(event, "user_id", PLATFORM, where="event.")
        open_id = next((v for k in ("open_id", "user_id") if (v := optional(user, k, PLATFORM, where="event.user_id."))),
                       "")
        if not open_id:
            raise MalformedPayload(PLATFORM, f"{REACTION_EVENT} without event.user_id.open_id")
        return Reaction(platform=PLATFORM, bot=self.bot, message_id=message_id, user_id=open_id, vote=vote)

    def _mentions_bot(self, message: dict) -> bool:
        """Groups deliver @-mentions only, unless the app may read every message: then check the id."""
        listed = optional(message, "mentions", PLATFORM, list, [], where="event.message.")
        mentions = [m for m in listed if isinstance(m, dict)]
        if not self.config.bot_open_id:
            return bool(mentions)
        return any(
            section(m, "id", PLATFORM, where="event.message.mentions[].").get("open_id") == self.config.bot_open_id
            for m in mentions
        )

    def _open(self, request: CallbackRequest) -> dict:
        """The event JSON: decrypted when encrypted; a plain body is refused once a key is set."""
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayload(PLATFORM, "body is not JSON") from None
        if not isinstance(body, dict):
            raise MalformedPayload(PLATFORM, "body is not a JSON object")
        if "encrypt" in body:
            if self.cipher is None:
                raise DecryptionFailed(PLATFORM, "body is encrypted but no encrypt_key is configured")
            if not isinstance(body["encrypt"], str):
                raise MalformedPayload(PLATFORM, "encrypt is not a string")
            try:
                body = json.loads(self.cipher.decrypt(body["encrypt"]))
            except ValueError:
                raise MalformedPayload(PLATFORM, "decrypted body is not JSON") from None
            if not isinstance(body, dict):
                raise MalformedPayload(PLATFORM, "decrypted body is not a JSON object")
        elif self.cipher is not None:
            raise SignatureInvalid(PLATFORM, "plain body refused: with an Encrypt Key set, events must be encrypted")
        return body

    def _event(self, payload: dict) -> CallbackResult:
        header = payload.get("header") if isinstance(payload.get("header"), dict) else {}
        self._check_token(header.get("token") if header else payload.get("token"))
        app_id = header.get("app_id") if header else None
        if app_id and app_id != self.config.app_id:
            raise ReceiverMismatch(PLATFORM, "event is addressed to another app id")
        return CallbackResult(CallbackResponse.json('{"msg":"success"}'), self.message_from(payload),
                              self.reaction_from(payload))

    def _check_token(self, token: Any) -> None:
        if self._token and not (isinstance(token, str) and same(token, self._token)):
            raise ReceiverMismatch(PLATFORM, "verification token does not match this app")

    # -- reply

    def send(self, message: OutgoingMessage) -> str | None:
        """Reply in the thread of the question; returns the reply's message id (reactions to it are feedback)."""
        msg_type, content = self.reply_content(message)
        target = message.reply_to.reply["message_id"]
        body = {"msg_type": msg_type, "content": content, "uuid": _uuid(target, message.part)}
        url = f"{self.config.api_base}/open-apis/im/v1/messages/{target}/reply"
        for attempt in (1, 2):
            token = self.tokens.get()
            result = self._post(url, body, {"Authorization": f"Bearer {token}"})
            code = result.get("code", -1)
            if code == 0:
                data = result.get("data")
                sent = data.get("message_id") if isinstance(data, dict) else None
                return sent if isinstance(sent, str) and sent else None
            if code in TOKEN_INVALID and attempt == 1:
                self.tokens.invalidate(token)
                continue
            if code == RATE_LIMITED and attempt == 1:
                time.sleep(RATE_LIMIT_PAUSE_S)  # 5 QPS per user and per group
                continue
            raise SendFailed(PLATFORM, f"reply refused: code {code} ({result.get('msg', '')[:80]})")

    def reply_content(self, message: OutgoingMessage) -> tuple[str, str]:
        """``(msg_type, content JSON)``: text for short plain replies, else a schema 2.0 card."""
        open_id = message.reply_to.reply.get("open_id", "")
        text = message.markdown
        if len(text) <= self.config.card_over_chars and not _MARKDOWN.search(text):
            if message.mention and open_id:
                text = f'<at user_id="{open_id}"></at> {text}'
            return "text", json.dumps({"text": text}, ensure_ascii=False)
        if message.mention and open_id:
            text = f"<at id={open_id}></at> {text}"
        card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": text}]}}
        return "interactive", json.dumps(card, ensure_ascii=False)

    def _fetch_token(self) -> tuple[str, float]:
        body = {"app_id": self.config.app_id, "app_secret": self.config.app_secret.get_secret_value()}
        result = self._post(f"{self.config.api_base}/open-apis/auth/v3/tenant_access_token/internal", body)
        if result.get("code") != 0 or not result.get("tenant_access_token"):
            raise SendFailed(PLATFORM, f"tenant token refused: code {result.get('code')} (check app_id/app_secret)")
        return result["tenant_access_token"], float(result.get("expire", 7200))

    def _post(self, url: str, body: dict, headers: dict | None = None) -> dict:
        try:
            response = self.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(PLATFORM, f"could not reach {host_of(url)}: {type(exc).__name__}") from None
        try:
            result = response.json()
        except ValueError:
            raise SendFailed(PLATFORM, f"HTTP {response.status_code} without JSON from {urlparse(url).path}") from None
        return result if isinstance(result, dict) else {}


def _text_of(message: dict) -> str:
    kind = message.get("message_type")
    if kind not in ("text", "post"):
        return ""  # pictures, files, stickers: nothing to search with
    try:
        content = json.loads(optional(message, "content", PLATFORM, str, "", where="event.message.") or "{}")
    except ValueError:
        raise MalformedPayload(PLATFORM, "message.content is not JSON") from None
    if not isinstance(content, dict):
        raise MalformedPayload(PLATFORM, "message.content is not a JSON object")
    if kind == "text":
        text = str(content.get("text", ""))
    else:  # a post: {"title", "content": [[elements]]}, possibly inside one language key ("zh_cn")
        post = content if "content" in content else next(iter(content.values()), {})
        lines = optional(post if isinstance(post, dict) else {}, "content", PLATFORM, list, [], where="message.content.")
        if not isinstance(post, dict) or not all(isinstance(line, list) for line in lines):
            raise MalformedPayload(PLATFORM, "message.content is not a post (lines of elements)")
        text = " ".join(str(el.get("text", "")) for line in lines for el in line if isinstance(el, dict))
    return _MENTION_KEY.sub("", text).strip()


def _uuid(message_id: str, part: int) -> str:
    """Feishu drops a repeated uuid within an hour: one per answer part, at most 50 characters."""
    return f"{hashlib.sha1(message_id.encode()).hexdigest()[:32]}-{part}"


# ---------------------------------------------------------------- long connection


class FeishuLongConnectionRunner:
    """Receives events over the long connection with ``lark-oapi``'s ws client, in its own thread.

    lark-oapi keeps one module-level event loop for its ws client, so one long connection runs per
    process; its handler holds the ack, so it only hands the message to the gateway (and a reaction
    to ``react``, which must not block either).
    """

    def __init__(self, channel: FeishuChannel, submit: Callable[[Channel, IncomingMessage], str],
                 react: Callable[[Reaction], None] | None = None):
        self.channel = channel
        self.submit = submit
        self.react = react
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"feishu-ws-{self.channel.bot}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_event(self, event: Any) -> None:
        import lark_oapi as lark

        try:
            with reading_payload(PLATFORM):
                payload = json.loads(lark.JSON.marshal(event))
                message = self.channel.message_from(payload)
                reaction = self.channel.reaction_from(payload)
        except MalformedPayload as exc:
            log.warning("%s", exc)
            return
        if message is not None:
            self.submit(self.channel, message)
        if reaction is not None and self.react is not None:
            self.react(reaction)

    def _run(self) -> None:
        import lark_oapi as lark  # lazy (seconds to import); in this thread, so it binds no other loop
        import lark_oapi.ws.client as ws_client

        # The SDK drives its module-level loop; give it a fresh one owned by this thread.
        ws_client.loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        config = self.channel.config
        handler = (
            lark.EventDispatcherHandler.builder("", "")
            .register_p2_customized_event(MESSAGE_EVENT, self._on_event)
            .register_p2_customized_event(REACTION_EVENT, self._on_event)
            .build()
        )
        self._client = lark.ws.Client(
            config.app_id, config.app_secret.get_secret_value(), event_handler=handler,
            domain=config.api_base, log_level=lark.LogLevel.WARNING,
        )
        try:
            self._client.start()
        except RuntimeError:
            pass  # stop() stopped the loop
        except Exception as exc:
            log.error("feishu long connection %s stopped: %s", self.channel.bot, type(exc).__name__)
        finally:
            try:
                self._client._auto_reconnect = False  # the SDK has no public close
                self._loop.run_until_complete(self._client._disconnect())
            except Exception:
                pass
            close_loop(self._loop)
