"""WeCom self-built app (1:1 chats): encrypted XML callback, URL check, active send.

Receive: ``GET ?msg_signature&timestamp&nonce&echostr`` is the URL check (verify, decrypt, answer
the plaintext); ``POST`` with the same query carries ``<xml><Encrypt/>...</xml>``, decrypted with the
corp id as receive id. WeCom retries unanswered messages: the empty 200 goes back at once and
messages are deduplicated on ``MsgId``.

Reply: ``cgi-bin/message/send`` (markdown) with the access token from ``cgi-bin/gettoken``.
The AI bot (groups) lives in :mod:`connectors.wecom_bot`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from xml.etree import ElementTree

import httpx
from pydantic import SecretStr

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
    SignatureInvalid,
    StaleTimestamp,
    host_of,
    reading_payload,
)
from connectors.crypto import WXBizMsgCrypt
from connectors.settings import BotConfigError, WeComAppBot
from connectors.tokens import TokenCache

PLATFORM = "wecom"
TOKEN_INVALID = {40001, 40014, 42001}  # invalid or expired access_token


def signed_query(query: Mapping[str, str], platform: str) -> tuple[str, str, str]:
    """``(msg_signature, timestamp, nonce)`` from the callback URL, or :class:`SignatureInvalid`."""
    parts = tuple(query.get(k, "") for k in ("msg_signature", "timestamp", "nonce"))
    if not all(parts):
        raise SignatureInvalid(platform, "msg_signature, timestamp and nonce are required in the query")
    return parts  # type: ignore[return-value]


def check_clock(timestamp: str, max_skew_s: int, clock: Callable[[], float], platform: str) -> None:
    if not max_skew_s:
        return
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureInvalid(platform, "timestamp is not a number of seconds") from None
    if abs(clock() - sent) > max_skew_s:
        raise StaleTimestamp(platform, f"timestamp is more than {max_skew_s} s away from this server's clock")


def url_check(crypt: WXBizMsgCrypt, request: CallbackRequest) -> CallbackResult:
    """The ``GET`` URL verification: the decrypted ``echostr`` (query values arrive URL-decoded)."""
    signature, timestamp, nonce = signed_query(request.query, crypt.platform)
    echostr = request.query.get("echostr", "")
    if not echostr:
        raise MalformedPayload(crypt.platform, "echostr is required for the URL check")
    plain = crypt.verify_and_decrypt(signature, timestamp, nonce, echostr)
    return CallbackResult(CallbackResponse(200, plain.encode()))


def callback_crypt(platform: str, bot: str, token: SecretStr, aes_key: SecretStr, receive_id: str) -> WXBizMsgCrypt:
    """The bot's callback crypto, or :class:`BotConfigError` naming the bot and the field (not the key)."""
    try:
        return WXBizMsgCrypt(token.get_secret_value(), aes_key.get_secret_value(), receive_id, platform=platform)
    except ValueError:
        raise BotConfigError(
            platform, bot, "encoding_aes_key", "must be 43 base64 characters (32 bytes once decoded)"
        ) from None


def parse_xml(data: bytes | str, platform: str) -> dict[str, str]:
    """The child elements of a flat ``<xml>`` document (no DTDs: WeCom never sends one)."""
    raw = data.encode() if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise MalformedPayload(platform, "XML with a DTD is refused")
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, LookupError, ValueError):  # LookupError: an unknown declared encoding
        raise MalformedPayload(platform, "body is not well-formed XML") from None
    return {child.tag: (child.text or "") for child in root}


class WXBizCallback(Channel):
    """The callback half shared by WeCom's app and AI bot: URL check, signature, clock, decryption.

    Subclasses set ``crypt``, ``config`` (with ``max_clock_skew_s``), ``_clock`` and ``platform``, and
    say where the ciphertext is (``_encrypt_of``) and what the plaintext means (``_parse``).
    """

    platform: str

    def handle(self, request: CallbackRequest) -> CallbackResult:
        if request.method == "GET":
            return url_check(self.crypt, request)
        encrypt = self._encrypt_of(request)  # the envelope is parsed once on the hot path
        self._verify(request, encrypt)
        with reading_payload(self.platform):
            return self._parse(encrypt)

    def verify(self, request: CallbackRequest) -> None:
        self._verify(request, self._encrypt_of(request))

    def parse(self, request: CallbackRequest) -> CallbackResult:
        return self._parse(self._encrypt_of(request))

    def _verify(self, request: CallbackRequest, encrypt: str) -> None:
        signature, timestamp, nonce = signed_query(request.query, self.platform)
        check_clock(timestamp, self.config.max_clock_skew_s, self._clock, self.platform)
        self.crypt.verify(signature, timestamp, nonce, encrypt)

    def _encrypt_of(self, request: CallbackRequest) -> str:
        raise NotImplementedError

    def _parse(self, encrypt: str) -> CallbackResult:
        raise NotImplementedError


class WeComAppChannel(WXBizCallback):
    platform = PLATFORM
    max_reply = 2048  # markdown content, in bytes
    reply_limit_in_bytes = True

    def __init__(self, config: WeComAppBot, http: httpx.Client, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.bot = config.name
        self.http = http
        self._clock = clock
        self.crypt = callback_crypt(PLATFORM, config.name, config.token, config.encoding_aes_key, config.corp_id)
        self.tokens = TokenCache(self._fetch_token)

    def _parse(self, encrypt: str) -> CallbackResult:
        fields = parse_xml(self.crypt.decrypt(encrypt), PLATFORM)
        agent = fields.get("AgentID", "")
        if agent and agent != str(self.config.agent_id):
            raise ReceiverMismatch(PLATFORM, "message is addressed to another agent id")
        if fields.get("MsgType") != "text":
            return CallbackResult(CallbackResponse())  # events, images, voice: acknowledged, not answered
        user = fields.get("FromUserName", "")
        msg_id = fields.get("MsgId", "")
        if not user or not msg_id:
            raise MalformedPayload(PLATFORM, "text message without FromUserName or MsgId")
        message = IncomingMessage(
            platform=PLATFORM,
            bot=self.bot,
            message_id=msg_id,
            chat_id=user,  # 1:1 only: the chat is the user
            chat_type="p2p",
            sender_id=user,
            text=fields.get("Content", "").strip(),
            mentioned=True,
        )
        return CallbackResult(CallbackResponse(), message)

    def _encrypt_of(self, request: CallbackRequest) -> str:
        encrypt = parse_xml(request.body, PLATFORM).get("Encrypt", "")
        if not encrypt:
            raise MalformedPayload(PLATFORM, "body has no Encrypt element")
        return encrypt

    def send(self, message: OutgoingMessage) -> None:
        body = {
            "touser": message.reply_to.sender_id,
            "agentid": self.config.agent_id,
            "msgtype": "markdown",
            "markdown": {"content": message.markdown},
        }
        for attempt in (1, 2):
            token = self.tokens.get()
            result = self._call("POST", "/cgi-bin/message/send", params={"access_token": token}, json=body)
            code = result.get("errcode", -1)
            if code == 0:
                return
            if code in TOKEN_INVALID and attempt == 1:
                self.tokens.invalidate(token)
                continue
            raise SendFailed(PLATFORM, f"message/send refused: errcode {code}")

    def _fetch_token(self) -> tuple[str, float]:
        params = {"corpid": self.config.corp_id, "corpsecret": self.config.corp_secret.get_secret_value()}
        result = self._call("GET", "/cgi-bin/gettoken", params=params)
        if result.get("errcode", 0) != 0 or not result.get("access_token"):
            raise SendFailed(PLATFORM, f"gettoken refused: errcode {result.get('errcode')} (check corp_id/corp_secret)")
        return result["access_token"], float(result.get("expires_in", 7200))

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = self.config.api_base + path
        try:
            response = self.http.request(method, url, **kwargs)
            result = response.json()
        except httpx.HTTPError as exc:
            raise SendFailed(PLATFORM, f"could not reach {host_of(url)}: {type(exc).__name__}") from None
        except ValueError:
            raise SendFailed(PLATFORM, f"{path} answered without JSON") from None
        return result if isinstance(result, dict) else {}
