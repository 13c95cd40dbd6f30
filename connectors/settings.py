"""Settings of the IM connectors and the message gateway: bots per platform, group policy, limits.

The app reads them as the ``connectors`` group of its settings (``ASSISTANT_CONNECTORS__FEISHU=
'[{"name": "support", "app_id": ...}]'``) or from a JSON / YAML file (``ASSISTANT_CONNECTORS__FILE``)
holding the same keys (``load_bots_file``). Secrets are ``SecretStr``: never in logs, errors or reprs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError


class GroupRule(BaseModel):
    """Overrides for one group chat, keyed by the platform's chat id."""

    enabled: bool = True
    require_mention: bool | None = None  # None: the gateway default
    kb: list[str] | None = None  # knowledge bases this group searches


class GatewaySettings(BaseModel):
    workers: int = Field(4, ge=1, description="Threads answering messages in the background.")
    queue_size: int = Field(1000, ge=1, description="Messages waiting at most; beyond, new ones are refused politely.")
    dedupe_ttl_s: float = Field(86400.0, description="How long a platform message id is remembered (retries span ~7 h).")
    dedupe_max_entries: int = 200_000
    require_mention: bool = True  # in groups, answer only when @-mentioned
    groups: dict[str, GroupRule] = Field(default_factory=dict)
    user_rate: int = Field(10, ge=1, description="Questions per user per rate_window_s.")
    group_rate: int = Field(30, ge=1, description="Questions per group per rate_window_s.")
    rate_window_s: float = 60.0
    kb: list[str] | None = None  # default knowledge bases for IM questions (None: all)
    redis_url: str | None = None  # e.g. redis://127.0.0.1:6379/0: dedupe and rate limits shared by replicas


class DingTalkBot(BaseModel):
    name: str = "default"
    app_key: str  # also the Stream mode clientId
    app_secret: SecretStr
    robot_code: str = ""  # defaults to app_key
    mode: Literal["http", "stream"] = "http"
    api_base: str = "https://api.dingtalk.com"  # OpenAPI and the Stream gateway
    webhook_hosts: list[str] = Field(default_factory=lambda: ["oapi.dingtalk.com", "api.dingtalk.com"])
    max_clock_skew_s: int = 3600


class FeishuBot(BaseModel):
    name: str = "default"
    app_id: str
    app_secret: SecretStr
    encrypt_key: SecretStr | None = None
    verification_token: SecretStr | None = None
    mode: Literal["http", "websocket"] = "http"
    api_base: str = "https://open.feishu.cn"
    max_clock_skew_s: int = 3600
    card_over_chars: int = 600  # longer answers (or ones with links) go out as a card
    bot_open_id: str = ""  # when set, a group message counts as addressed to the bot only if it @-mentions this id


class WeComAppBot(BaseModel):
    name: str = "default"
    corp_id: str
    corp_secret: SecretStr
    agent_id: int
    token: SecretStr
    encoding_aes_key: SecretStr
    api_base: str = "https://qyapi.weixin.qq.com"
    max_clock_skew_s: int = 3600


class WeComAIBot(BaseModel):
    name: str = "default"
    bot_id: str = ""
    mode: Literal["http", "websocket"] = "http"
    token: SecretStr | None = None  # http mode
    encoding_aes_key: SecretStr | None = None  # http mode
    secret: SecretStr | None = None  # websocket mode
    ws_url: str = ""  # websocket mode; empty: the SDK's default
    max_clock_skew_s: int = 3600


class ConnectorSettings(BaseModel):
    file: Path | None = None  # JSON or YAML with the keys below; its bots are added to these
    dingtalk: list[DingTalkBot] = Field(default_factory=list)
    feishu: list[FeishuBot] = Field(default_factory=list)
    wecom_app: list[WeComAppBot] = Field(default_factory=list)
    wecom_bot: list[WeComAIBot] = Field(default_factory=list)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    openai_compat: bool = True  # serve POST /v1/chat/completions
    openai_api_keys: list[SecretStr] = Field(default_factory=list)  # when set, Bearer one of these


class BotsFileError(ValueError):
    """The bots file cannot be read or does not hold valid bot settings (no secret is quoted)."""


def load_bots_file(settings: ConnectorSettings) -> ConnectorSettings:
    """The settings with the bots of ``settings.file`` added (a copy; the file is read here, once)."""
    if settings.file is None:
        return settings
    path = settings.file
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except OSError as exc:
        raise BotsFileError(f"bots file {path}: cannot be read ({exc.strerror})") from None
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: their messages may quote a secret
        raise BotsFileError(f"bots file {path}: not valid {path.suffix.lstrip('.').upper() or 'JSON'} ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise BotsFileError(f"bots file {path}: expected a mapping of platform names to lists of bots")
    try:
        loaded = ConnectorSettings.model_validate({k: v for k, v in data.items() if k != "file"})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_input=False))
        raise BotsFileError(f"bots file {path}: {problems}") from None
    merged = settings.model_copy(deep=True)
    for platform in ("dingtalk", "feishu", "wecom_app", "wecom_bot"):
        getattr(merged, platform).extend(getattr(loaded, platform))
    return merged
