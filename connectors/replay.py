"""Replaying a pasted callback payload through the gateway's decisions and the answering, sending nothing.

The console's sandbox takes the plaintext of a DingTalk robot message, a Feishu ``im.message.receive_v1``
event (v2 schema), a WeCom app message (the decrypted XML) or a WeCom AI-bot message body, and shows
what the bot would do with it: whether the gateway would answer (group policy: @-mentions, disabled
groups), the message as parsed, the answer, and the replies as the platform would receive them. No
signature is checked (an administrator pasted it) and nothing reaches the platform: the replies are
laid out, not sent. Dedupe and rate limits are not consumed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from assistant.domain import Answer
from connectors import format as fmt
from connectors.base import Channel, ConnectorError, IncomingMessage, MalformedPayload, reading_payload
from connectors.dingtalk import DingTalkChannel
from connectors.feishu import FeishuChannel
from connectors.gateway import Gateway
from connectors.settings import DingTalkBot, FeishuBot
from connectors.wecom import parse_xml
from connectors.wecom_bot import message_from_body

PLATFORMS = ("dingtalk", "feishu", "wecom", "wecom_bot")


class ReplayError(ConnectorError):
    status = 400


@dataclass
class Replay:
    platform: str
    decision: str  # answered | ignored (not for the bot: no text, not @-mentioned, group disabled) | not_a_message
    message: dict[str, Any] = field(default_factory=dict)
    answer: Answer | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)  # text, and the platform's payload when known


def parse_payload(platform: str, payload: str | dict, channel: Channel | None = None) -> IncomingMessage | None:
    """The message a pasted payload carries (None for an event that is not a message)."""
    if platform not in PLATFORMS:
        raise ReplayError(platform, f"unknown platform; use one of {', '.join(PLATFORMS)}")
    if platform == "wecom":
        return _wecom_message(payload if isinstance(payload, str) else json.dumps(payload))
    data = payload
    if isinstance(payload, str):
        try:
            data = json.loads(payload)
        except ValueError:
            raise MalformedPayload(platform, "the payload is not JSON") from None
    if not isinstance(data, dict):
        raise MalformedPayload(platform, "the payload is not a JSON object")
    reader = channel or (_placeholder_dingtalk() if platform == "dingtalk" else
                         _placeholder_feishu() if platform == "feishu" else None)
    with reading_payload(platform):
        if platform in ("dingtalk", "feishu"):
            return reader.message_from(data)
        return message_from_body(data, "replay", {})


def replay(
    platform: str, payload: str | dict, gateway: Gateway, channel: Channel | None = None,
    check: Callable[[IncomingMessage], None] | None = None,
) -> Replay:
    """What the bot would answer to ``payload``, computed for real, sent nowhere. ``check`` may refuse
    the parsed message (by raising) before anything is answered."""
    message = parse_payload(platform, payload, channel)
    if message is None:
        return Replay(platform, "not_a_message")
    if check is not None:
        check(message)
    shown = {"chat_id": message.chat_id, "chat_type": message.chat_type, "sender_id": message.sender_id,
             "text": message.text, "mentioned": message.mentioned, "message_id": message.message_id}
    if not gateway.wants(message):
        return Replay(platform, "ignored", shown)
    answer = gateway.responder.respond(replace(message, replayed=True))
    layout = channel or _layout_channel(platform)
    replies = []
    for outgoing in fmt.render(answer, message, layout):
        reply: dict[str, Any] = {"text": outgoing.markdown}
        if isinstance(layout, DingTalkChannel):
            reply["payload"] = layout.webhook_payload(outgoing)
        elif isinstance(layout, FeishuChannel):
            kind, content = layout.reply_content(outgoing)
            reply["payload"] = {"msg_type": kind, "content": content}
        replies.append(reply)
    return Replay(platform, "answered", shown, answer, replies)


def _wecom_message(xml: str) -> IncomingMessage | None:
    fields = parse_xml(xml, "wecom")
    if fields.get("MsgType") != "text":
        return None
    user = fields.get("FromUserName", "")
    if not user:
        raise MalformedPayload("wecom", "text message without FromUserName")
    return IncomingMessage(platform="wecom", bot="replay", message_id=fields.get("MsgId", "replay"), chat_id=user,
                           chat_type="p2p", sender_id=user, text=fields.get("Content", "").strip(), mentioned=True)


def _closed_client() -> httpx.Client:
    """A closed HTTP client: a placeholder channel could not send with it even by mistake."""
    client = httpx.Client()
    client.close()
    return client


def _placeholder_dingtalk() -> DingTalkChannel:
    return DingTalkChannel(DingTalkBot(name="replay", app_key="replay", app_secret="replay"), _closed_client())


def _placeholder_feishu() -> FeishuChannel:
    return FeishuChannel(FeishuBot(name="replay", app_id="replay", app_secret="replay", mode="websocket"),
                         _closed_client())


class _Layout:
    """Reply limits of a platform without a configured bot (WeCom): for laying the answer out."""

    def __init__(self, platform: str):
        self.platform = platform
        self.max_reply = 2048 if platform == "wecom" else 20480
        self.max_parts = 3
        self.reply_limit_in_bytes = platform == "wecom"


def _layout_channel(platform: str):
    if platform == "dingtalk":
        return _placeholder_dingtalk()
    if platform == "feishu":
        return _placeholder_feishu()
    return _Layout(platform)
