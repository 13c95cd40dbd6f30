"""DingTalk enterprise-app robot: HTTP callback (signed headers) or Stream mode; replies by webhook.

Receive: ``POST`` with headers ``timestamp`` (ms) and ``sign`` = base64 HMAC-SHA256 of
``f"{timestamp}\\n{appSecret}"``, accepted within ``max_clock_skew_s``. The sign does not cover the
body, so messages are deduplicated on ``msgId`` and the reply webhook must be on a DingTalk host.
Stream mode (the official ``dingtalk-stream`` SDK, in its own thread) delivers the same JSON.

Reply: the message's ``sessionWebhook`` (markdown, @ the asker) while it is valid, else the robot
OpenAPI (access token cached) to the group or the user.
"""

from __future__ import annotations

import asyncio
import json
import logging
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
    IncomingMessage,
    MalformedPayload,
    OutgoingMessage,
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
from connectors.crypto import dingtalk_robot_sign, same
from connectors.settings import DingTalkBot
from connectors.tokens import TokenCache

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
WEBHOOK_MARGIN_MS = 60_000  # do not use a session webhook in its last minute


class DingTalkChannel(Channel):
    platform = PLATFORM
    max_reply = 4500  # markdown; the platform limit is about 5,000 characters (not verified)

    def __init__(self, config: DingTalkBot, http: httpx.Client, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.bot = config.name
        self.http = http
        self._clock = clock
        self.robot_code = config.robot_code or config.app_key
        self.tokens = TokenCache(self._fetch_token)

    # -- receive

    def verify(self, request: CallbackRequest) -> None:
        timestamp, sign = request.header("timestamp"), request.header("sign")
        if not timestamp or not sign:
            raise SignatureInvalid(PLATFORM, "the timestamp and sign headers are required")
        try:
            sent_ms = int(timestamp)
        except ValueError:
            raise SignatureInvalid(PLATFORM, "the timestamp header is not a number of milliseconds") from None
        skew = self.config.max_clock_skew_s
        if skew and abs(self._clock() * 1000 - sent_ms) > skew * 1000:
            raise StaleTimestamp(PLATFORM, f"timestamp is more than {skew} s away from this server's clock")
        if not same(dingtalk_robot_sign(timestamp, self.config.app_secret.get_secret_value()), sign):
            raise SignatureInvalid(PLATFORM, "sign does not match this robot's AppSecret")

    def parse(self, request: CallbackRequest) -> CallbackResult:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedPayload(PLATFORM, "body is not JSON") from None
        return CallbackResult(CallbackResponse(), self.message_from(data))

    def message_from(self, data: Any) -> IncomingMessage | None:
        """The robot message JSON (HTTP body or Stream ``data``) as an :class:`IncomingMessage`;
        :class:`MalformedPayload` naming the field that is missing or of the wrong type."""
        message_id = require(data, "msgId", PLATFORM)
        conversation_id = require(data, "conversationId", PLATFORM)
        staff_id = optional(data, "senderStaffId", PLATFORM, str, "")
        sender = staff_id or require(data, "senderId", PLATFORM)
        group = str(optional(data, "conversationType", PLATFORM, (str, int), "1")) == "2"
        return IncomingMessage(
            platform=PLATFORM,
            bot=self.bot,
            message_id=message_id,
            chat_id=conversation_id,
            chat_type="group" if group else "p2p",
            sender_id=sender,
            sender_name=optional(data, "senderNick", PLATFORM, str, ""),
            text=_text_of(data),
            # groups deliver @-mentions only
            mentioned=optional(data, "isInAtList", PLATFORM, bool, True) if group else True,
            reply={
                "webhook": optional(data, "sessionWebhook", PLATFORM, str, ""),
                "webhook_expires_ms": _milliseconds(data, "sessionWebhookExpiredTime"),
                "staff_id": staff_id,
                "group": group,
            },
        )

    # -- reply

    def send(self, message: OutgoingMessage) -> None:
        reply = message.reply_to.reply
        webhook = reply.get("webhook", "")
        fresh = reply.get("webhook_expires_ms", 0) - WEBHOOK_MARGIN_MS > self._clock() * 1000
        if webhook and fresh and self._allowed_webhook(webhook):
            self._send_webhook(webhook, message)
        else:
            self._send_openapi(message)

    def webhook_payload(self, message: OutgoingMessage) -> dict:
        staff_id = message.reply_to.reply.get("staff_id", "")
        text = message.markdown
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": message.title or "答复", "text": text}}
        if message.mention and staff_id:
            payload["markdown"]["text"] = f"@{staff_id} {text}"
            payload["at"] = {"atUserIds": [staff_id], "isAtAll": False}
        return payload

    def _allowed_webhook(self, url: str) -> bool:
        parsed = urlparse(url)
        host = parsed.hostname or ""
        if parsed.port:
            host = f"{host}:{parsed.port}"
        if host in self.config.webhook_hosts or (parsed.hostname or "") in self.config.webhook_hosts:
            return True
        log.warning("dingtalk: session webhook host %r is not allowed; replying through the OpenAPI", host)
        return False

    def _send_webhook(self, url: str, message: OutgoingMessage) -> None:
        result = self._post(url, self.webhook_payload(message))
        if result.get("errcode", 0) != 0:
            raise SendFailed(PLATFORM, f"session webhook refused the reply: errcode {result.get('errcode')}")

    def _send_openapi(self, message: OutgoingMessage) -> None:
        incoming = message.reply_to
        param = json.dumps({"title": message.title or "答复", "text": message.markdown}, ensure_ascii=False)
        body: dict[str, Any] = {"robotCode": self.robot_code, "msgKey": "sampleMarkdown", "msgParam": param}
        if incoming.is_group:
            path, body["openConversationId"] = "/v1.0/robot/groupMessages/send", incoming.chat_id
        else:
            path, body["userIds"] = "/v1.0/robot/oToMessages/batchSend", [incoming.sender_id]
        token = self.tokens.get()
        try:
            self._post(self.config.api_base + path, body, headers={"x-acs-dingtalk-access-token": token})
        except SendFailed as exc:
            if "401" in exc.problem:
                self.tokens.invalidate(token)
            raise

    def _fetch_token(self) -> tuple[str, float]:
        body = {"appKey": self.config.app_key, "appSecret": self.config.app_secret.get_secret_value()}
        result = self._post(self.config.api_base + "/v1.0/oauth2/accessToken", body)
        if not result.get("accessToken"):
            raise SendFailed(PLATFORM, "the access token request returned no accessToken (check AppKey/AppSecret)")
        return result["accessToken"], float(result.get("expireIn", 7200))

    def _post(self, url: str, body: dict, headers: dict | None = None) -> dict:
        try:
            response = self.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(PLATFORM, f"could not reach {host_of(url)}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise SendFailed(PLATFORM, f"HTTP {response.status_code} from {urlparse(url).path}")
        try:
            return response.json() if response.content else {}
        except ValueError:
            return {}


def _text_of(data: dict) -> str:
    msgtype = optional(data, "msgtype", PLATFORM, str, "text")
    if msgtype == "text":
        return optional(section(data, "text", PLATFORM), "content", PLATFORM, str, "", where="text.").strip()
    if msgtype == "richText":
        rich = optional(section(data, "content", PLATFORM), "richText", PLATFORM, list, [], where="content.")
        return "".join(str(part.get("text", "")) for part in rich if isinstance(part, dict)).strip()
    return ""  # pictures, files, audio: nothing to search with


def _milliseconds(data: dict, key: str) -> int:
    value = optional(data, key, PLATFORM, (int, str), 0)
    try:
        return int(value)
    except ValueError:
        raise MalformedPayload(PLATFORM, f"field {key!r} is not a number of milliseconds") from None


# ---------------------------------------------------------------- Stream mode


class DingTalkStreamRunner:
    """Receives one robot's messages over Stream mode with the official SDK, in its own thread.

    The SDK's ``start()`` loops forever and swallows cancellation, and its HTTP calls block the
    event loop, so it gets a thread and a loop of its own; :meth:`stop` stops that loop.
    """

    def __init__(self, channel: DingTalkChannel, submit: Callable[[Channel, IncomingMessage], str]):
        self.channel = channel
        self.submit = submit
        self.connected = threading.Event()
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"dingtalk-stream-{self.channel.bot}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        if self._thread is not None:
            self._thread.join(timeout)

    async def _shutdown(self) -> None:
        websocket = getattr(self._client, "websocket", None)
        if websocket is not None:
            await websocket.close()
        asyncio.get_running_loop().stop()

    def _run(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._client = _make_client(self)
        try:
            loop.run_until_complete(self._client.start())
        except RuntimeError:
            pass  # the loop was stopped by stop()
        except Exception as exc:
            log.error("dingtalk stream %s stopped: %s", self.channel.bot, type(exc).__name__)
        finally:
            close_loop(loop)


def _make_client(runner: DingTalkStreamRunner) -> Any:
    import dingtalk_stream  # lazy: only when Stream mode is configured

    channel = runner.channel

    class Handler(dingtalk_stream.CallbackHandler):
        async def process(self, callback: Any) -> tuple[int, str]:
            try:
                with reading_payload(PLATFORM):
                    message = channel.message_from(callback.data)
            except MalformedPayload as exc:
                log.warning("%s", exc)
                return dingtalk_stream.AckMessage.STATUS_BAD_REQUEST, "malformed"
            if message is not None:
                runner.submit(channel, message)
            return dingtalk_stream.AckMessage.STATUS_OK, "OK"

    class Client(dingtalk_stream.DingTalkStreamClient):
        def open_connection(self) -> dict | None:
            """The SDK's open call, against the configured endpoint (the SDK's is import-time only)."""
            if runner.stopping:
                return None  # the SDK then sleeps, and stop() ends its loop
            body = {
                "clientId": self.credential.client_id,
                "clientSecret": self.credential.client_secret,
                "subscriptions": [{"type": "CALLBACK", "topic": t} for t in self.callback_handler_map],
                "ua": "cs-knowledge-assistant",
                "localIp": "",
            }
            try:
                response = httpx.post(channel.config.api_base + "/v1.0/gateway/connections/open", json=body, timeout=10)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                log.error("dingtalk stream: opening a connection failed: %s", type(exc).__name__)
                return None
            runner.connected.set()
            return response.json()

    credential = dingtalk_stream.Credential(channel.config.app_key, channel.config.app_secret.get_secret_value())
    client = Client(credential, logger=logging.getLogger("dingtalk_stream"))
    client.register_callback_handler(dingtalk_stream.ChatbotMessage.TOPIC, Handler())
    return client
