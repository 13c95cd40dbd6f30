"""Settings of the IM connectors and the message gateway: bots per platform, group policy, limits.

The app reads them as the ``connectors`` group of its settings (``ASSISTANT_CONNECTORS__FEISHU=
'[{"name": "support", "app_id": ...}]'``) or from a JSON / YAML file (``ASSISTANT_CONNECTORS__FILE``)
holding the same keys (``load_bots_file``). Secrets are ``SecretStr``: never in logs, errors or reprs.
A configuration error names the platform, the bot and the field, never a value: validation errors
do not echo their input (``hide_input_in_errors``), and ``bot_problems`` says which bot by its name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from assistant.errors import ConfigError

PLATFORMS = ("dingtalk", "feishu", "wecom_app", "wecom_bot")  # the settings' keys for the bot lists


class _Quiet(BaseModel):
    """A model whose validation errors never quote the input: bots' settings hold their secrets."""

    model_config = ConfigDict(hide_input_in_errors=True)


class GroupRule(_Quiet):
    """Overrides for one group chat, keyed by the platform's chat id."""

    enabled: bool = True
    require_mention: bool | None = None  # None: the gateway default
    kb: list[str] | None = None  # knowledge bases this group searches


class GatewaySettings(_Quiet):
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
    redis_url: str | None = None  # e.g. redis://127.0.0.1:6379/0: dedupe, rate limits and queue shared by replicas
    redis_prefix: str = Field("assistant:", description="Starts every Redis key of the gateway: deployments "
                              "sharing one Redis each take their own.")
    lease_s: float = Field(15.0, ge=1.0, description="With Redis: how long a replica that stopped answering keeps a "
                           "conversation before another one answers it.")


class DingTalkBot(_Quiet):
    name: str = "default"
    app_key: str  # also the Stream mode clientId
    app_secret: SecretStr
    robot_code: str = ""  # defaults to app_key
    mode: Literal["http", "stream"] = "http"
    api_base: str = "https://api.dingtalk.com"  # OpenAPI and the Stream gateway
    webhook_hosts: list[str] = Field(default_factory=lambda: ["oapi.dingtalk.com", "api.dingtalk.com"])
    max_clock_skew_s: int = 3600


class FeishuBot(_Quiet):
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


class WeComAppBot(_Quiet):
    name: str = "default"
    corp_id: str
    corp_secret: SecretStr
    agent_id: int
    token: SecretStr
    encoding_aes_key: SecretStr
    api_base: str = "https://qyapi.weixin.qq.com"
    max_clock_skew_s: int = 3600


class WeComAIBot(_Quiet):
    name: str = "default"
    bot_id: str = ""
    mode: Literal["http", "websocket"] = "http"
    token: SecretStr | None = None  # http mode
    encoding_aes_key: SecretStr | None = None  # http mode
    secret: SecretStr | None = None  # websocket mode
    ws_url: str = ""  # websocket mode; empty: the SDK's default
    max_clock_skew_s: int = 3600


class ConnectorSettings(_Quiet):
    file: Path | None = None  # JSON or YAML with the keys below; its bots are added to these
    dingtalk: list[DingTalkBot] = Field(default_factory=list)
    feishu: list[FeishuBot] = Field(default_factory=list)
    wecom_app: list[WeComAppBot] = Field(default_factory=list)
    wecom_bot: list[WeComAIBot] = Field(default_factory=list)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    openai_compat: bool = True  # serve POST /v1/chat/completions (with the app's API keys)

    @model_validator(mode="before")
    @classmethod
    def _no_shared_openai_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("openai_api_keys"):
            # Said without quoting the value: it is a secret.
            raise ValueError("openai_api_keys is no longer read: the OpenAI endpoint takes the API keys made with "
                             "`assistant keys create` (each with a role and departments); remove it")
        return data


class ConnectorConfigError(ConfigError, ValueError):
    """A connector setting is wrong: the message names the platform, the bot and the field, never a value."""


class BotConfigError(ConnectorConfigError):
    """One bot's settings are wrong or inconsistent (found when its channel is built)."""

    def __init__(self, platform: str, bot: str, field: str, problem: str):
        self.platform, self.bot, self.field = platform, bot, field
        super().__init__(f"{platform} bot {bot!r}: {field}: {problem}")


class BotsFileError(ConnectorConfigError):
    """The bots file cannot be read or does not hold valid bot settings (no secret is quoted)."""


def bot_problems(errors: list[dict[str, Any]], data: Any) -> list[str]:
    """Validation errors of connector settings as "<platform> bot '<name>': <field>: <problem>".

    ``errors`` come from ``ValidationError.errors(include_input=False)`` with locations relative to
    ``data``, the mapping that was validated (read to name a bot by its ``name``, or by its position).
    """
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        if len(loc) >= 2 and loc[0] in PLATFORMS and isinstance(loc[1], int):
            bots = data.get(loc[0]) if isinstance(data, dict) else None
            entry = bots[loc[1]] if isinstance(bots, list) and loc[1] < len(bots) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            bot = repr(name) if isinstance(name, str) and name else f"#{loc[1] + 1}"
            field = ".".join(map(str, loc[2:])) or "the bot's settings"
            problems.append(f"{loc[0]} bot {bot}: {field}: {error['msg']}")
        else:
            problems.append(f"{'.'.join(map(str, loc)) or 'connectors'}: {error['msg']}")
    return problems


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
    data = {k: v for k, v in data.items() if k != "file"}
    try:
        loaded = ConnectorSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(bot_problems(exc.errors(include_input=False, include_url=False), data))
        raise BotsFileError(f"bots file {path}: {problems}") from None
    merged = settings.model_copy(deep=True)
    for platform in ("dingtalk", "feishu", "wecom_app", "wecom_bot"):
        getattr(merged, platform).extend(getattr(loaded, platform))
    return merged
