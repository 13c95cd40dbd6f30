"""WeCom AI bot (智能机器人; groups and 1:1): encrypted JSON callback with stream replies, or the long connection.

API mode: every callback is ``{"encrypt": ...}`` signed in the query, decrypted with receive id
``""``. A question is answered at once with an encrypted *stream* reply (``finish: false``); WeCom
then polls with stream-refresh callbacks, and each gets the stream's state, finished once the
gateway has sent the answer. The stream id is derived from ``msgid``, so a redelivered message finds
its stream.

Long connection: the official ``wecom-aibot-python-sdk`` (import name ``aibot``) in its own thread;
the answer goes back as one finished stream frame over the socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import (
    CallbackRequest,
    CallbackResponse,
    CallbackResult,
    Channel,
    IncomingMessage,
    MalformedPayload,
    OutgoingMessage,
    ReceiverMismatch,
    SendFailed,
    close_loop,
    optional,
    reading_payload,
    require,
    section,
)
from connectors.settings import BotConfigError, WeComAIBot
from connectors.wecom import WXBizCallback, callback_crypt

log = logging.getLogger(__name__)

PLATFORM = "wecom_bot"
STREAM_POLL_S = 360  # WeCom polls a stream for 6 minutes at most; later answers go to response_url
STREAM_TTL_S = 600  # streams are forgotten after this
_LEADING_MENTION = re.compile(r"^@\S+(\s+|$)")


def message_from_body(body: Any, bot: str, reply: dict[str, Any]) -> IncomingMessage | None:
    """An AI-bot message body (callback or socket frame) as an :class:`IncomingMessage`."""
    msgid = require(body, "msgid", PLATFORM)
    if body.get("msgtype") != "text":
        return None
    user = optional(section(body, "from", PLATFORM), "userid", PLATFORM, str, "", where="from.")
    if not user:
        raise MalformedPayload(PLATFORM, "message without from.userid")
    group = body.get("chattype") == "group"
    text = optional(section(body, "text", PLATFORM), "content", PLATFORM, str, "", where="text.").strip()
    if group:
        text = _LEADING_MENTION.sub("", text)  # "@客服助手 question": the bot's own name
    return IncomingMessage(
        platform=PLATFORM,
        bot=bot,
        message_id=msgid,
        chat_id=optional(body, "chatid", PLATFORM, str, "") or user,
        chat_type="group" if group else "p2p",
        sender_id=user,
        text=text,
        mentioned=True,  # the AI bot only receives messages addressed to it
        reply=reply,
    )


def stream_id_for(msgid: str) -> str:
    return hashlib.sha1(msgid.encode()).hexdigest()[:24]


@dataclass
class _Stream:
    content: str = ""
    finished: bool = False
    created: float = 0.0


class WeComBotChannel(WXBizCallback):
    """API mode: encrypted JSON callbacks, answered through stream refreshes."""

    platform = PLATFORM
    max_reply = 20_480  # bytes of markdown in one stream
    reply_limit_in_bytes = True
    max_parts = 1  # one stream per question: long answers are truncated
    portable = False  # the answer waits in this process's streams for WeCom's refresh callbacks

    def __init__(
        self, config: WeComAIBot, http: httpx.Client | None = None, *, clock: Callable[[], float] = time.time
    ):
        if config.token is None or config.encoding_aes_key is None:
            raise BotConfigError(PLATFORM, config.name, "token / encoding_aes_key", "http mode needs both")
        self.config = config
        self.bot = config.name
        self.http = http
        self._clock = clock
        self.crypt = callback_crypt(PLATFORM, config.name, config.token, config.encoding_aes_key, "")
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def _parse(self, encrypt: str) -> CallbackResult:
        try:
            body = json.loads(self.crypt.decrypt(encrypt))
        except ValueError:
            raise MalformedPayload(PLATFORM, "decrypted body is not JSON") from None
        if not isinstance(body, dict):
            raise MalformedPayload(PLATFORM, "decrypted body is not a JSON object")
        if self.config.bot_id and body.get("aibotid") not in (None, self.config.bot_id):
            raise ReceiverMismatch(PLATFORM, "message is addressed to another aibotid")
        if body.get("msgtype") == "stream":  # WeCom polling a stream we opened
            stream_id = optional(section(body, "stream", PLATFORM), "id", PLATFORM, str, "", where="stream.")
            return CallbackResult(self._stream_reply(stream_id))
        msgid = require(body, "msgid", PLATFORM)
        stream_id = stream_id_for(msgid)
        reply = {"stream_id": stream_id, "response_url": optional(body, "response_url", PLATFORM, str, "")}
        message = message_from_body(body, self.bot, reply)
        if message is None:
            return CallbackResult(CallbackResponse())
        self._open_stream(stream_id)
        return CallbackResult(self._stream_reply(stream_id), message)

    def send(self, message: OutgoingMessage) -> None:
        """Into the message's stream while WeCom still polls it, else to its ``response_url``."""
        stream_id = message.reply_to.reply["stream_id"]
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is not None and self._clock() - stream.created < STREAM_POLL_S:
                stream.content = f"{stream.content}\n\n{message.markdown}" if stream.content else message.markdown
                stream.finished = message.part >= message.parts
                return
        self._send_response_url(message)

    def _send_response_url(self, message: OutgoingMessage) -> None:
        url = message.reply_to.reply.get("response_url", "")
        if not url or self.http is None:
            raise SendFailed(PLATFORM, "the stream expired before the answer was ready and there is no response_url")
        body = {"msgtype": "markdown", "markdown": {"content": message.markdown}}
        try:
            result = self.http.post(url, json=body).json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SendFailed(PLATFORM, f"response_url failed: {type(exc).__name__}") from None
        if not isinstance(result, dict) or result.get("errcode", 0) != 0:
            code = result.get("errcode") if isinstance(result, dict) else "?"
            raise SendFailed(PLATFORM, f"response_url refused the reply: errcode {code}")

    def admitted(self, message: IncomingMessage, admission: str) -> None:
        """Close the stream of a message nothing will be sent for, so WeCom stops polling it."""
        if admission in ("ignored", "suppressed", "overloaded"):
            with self._lock:
                stream = self._streams.get(message.reply["stream_id"])
                if stream is not None:
                    stream.finished = True

    def stream_state(self, stream_id: str) -> tuple[str, bool] | None:
        with self._lock:
            stream = self._streams.get(stream_id)
            return None if stream is None else (stream.content, stream.finished)

    def _open_stream(self, stream_id: str) -> None:
        now = self._clock()
        with self._lock:
            for sid in [s for s, st in self._streams.items() if now - st.created > STREAM_TTL_S]:
                del self._streams[sid]
            self._streams.setdefault(stream_id, _Stream(created=now))

    def _stream_reply(self, stream_id: str) -> CallbackResponse:
        state = self.stream_state(stream_id)
        content, finished = state if state is not None else ("", True)
        reply = {"msgtype": "stream", "stream": {"id": stream_id, "finish": finished, "content": content}}
        return self.encrypted_response(json.dumps(reply, ensure_ascii=False))

    def encrypted_response(self, plaintext: str) -> CallbackResponse:
        timestamp, nonce = str(int(self._clock())), secrets.token_hex(8)
        encrypt, signature = self.crypt.seal(plaintext, timestamp, nonce)
        body = {"encrypt": encrypt, "msgsignature": signature, "timestamp": int(timestamp), "nonce": nonce}
        return CallbackResponse.json(json.dumps(body))

    def _encrypt_of(self, request: CallbackRequest) -> str:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayload(PLATFORM, "body is not JSON") from None
        return require(body, "encrypt", PLATFORM)


# ---------------------------------------------------------------- long connection


class WeComBotSocketChannel(Channel):
    """Long-connection mode: messages arrive as socket frames; answers go back as stream frames."""

    platform = PLATFORM
    max_reply = 20_480
    reply_limit_in_bytes = True
    max_parts = 1
    portable = False  # replies go back over this process's socket

    def __init__(self, config: WeComAIBot, *, timeout_s: float = 10.0):
        if config.secret is None or not config.bot_id:
            raise BotConfigError(PLATFORM, config.name, "bot_id / secret", "websocket mode needs both")
        self.config = config
        self.bot = config.name
        self.timeout_s = timeout_s
        self.client: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def verify(self, request: CallbackRequest) -> None:
        raise MalformedPayload(PLATFORM, f"bot {self.bot!r} uses the long connection, not HTTP callbacks")

    def parse(self, request: CallbackRequest) -> CallbackResult:
        raise MalformedPayload(PLATFORM, f"bot {self.bot!r} uses the long connection, not HTTP callbacks")

    def send(self, message: OutgoingMessage) -> None:
        if self.client is None or self.loop is None or self.loop.is_closed():
            raise SendFailed(PLATFORM, "the long connection is not running")
        frame = message.reply_to.reply["frame"]
        stream_id = message.reply_to.reply["stream_id"]
        reply = self.client.reply_stream(frame, stream_id, message.markdown, finish=message.part >= message.parts)
        try:
            asyncio.run_coroutine_threadsafe(reply, self.loop).result(self.timeout_s)
        except Exception as exc:
            raise SendFailed(PLATFORM, f"stream reply over the socket failed: {type(exc).__name__}") from None


class WeComBotRunner:
    """Runs the official AI-bot SDK client for one bot in its own thread and event loop."""

    def __init__(self, channel: WeComBotSocketChannel, submit: Callable[[Channel, IncomingMessage], str]):
        self.channel = channel
        self.submit = submit
        self.authenticated = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"wecom-bot-{self.channel.bot}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        loop, client = self.channel.loop, self.channel.client
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(client.disconnect)
            loop.call_soon_threadsafe(loop.call_later, 0.2, loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_text(self, frame: dict) -> None:
        try:
            with reading_payload(PLATFORM):
                body = section(frame, "body", PLATFORM)
                msgid = require(body, "msgid", PLATFORM)
                message = message_from_body(body, self.channel.bot, {"frame": frame, "stream_id": stream_id_for(msgid)})
        except MalformedPayload as exc:
            log.warning("%s", exc)
            return
        if message is not None:
            self.submit(self.channel, message)

    def _run(self) -> None:
        from aibot import (  # lazy: only when the long connection is configured
            WSClient,
            WSClientOptions,
        )

        config = self.channel.config
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        options = WSClientOptions(
            bot_id=config.bot_id, secret=config.secret.get_secret_value(), ws_url=config.ws_url,
            max_reconnect_attempts=-1, logger=_SdkLogger(),
        )
        client = WSClient(options)
        client.on("message.text", self._on_text)
        client.on("authenticated", self.authenticated.set)
        self.channel.client, self.channel.loop = client, loop
        try:
            loop.run_until_complete(client.connect())
            loop.run_forever()
        finally:
            close_loop(loop)


class _SdkLogger:
    """The SDK's logger protocol onto ours (its debug lines include message bodies: kept at debug)."""

    _log = logging.getLogger("aibot")

    def debug(self, message: str, *args: Any) -> None:
        self._log.debug(message)

    def info(self, message: str, *args: Any) -> None:
        self._log.info(message)

    def warn(self, message: str, *args: Any) -> None:
        self._log.warning(message)

    def error(self, message: str, *args: Any) -> None:
        self._log.error(message)
