"""A connector configuration error names the platform, the bot and the field, and never a value:
bots' settings hold their secrets."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import ValidationError

from connectors.app import build_connectors
from connectors.base import SendFailed
from connectors.dingtalk import DingTalkChannel
from connectors.settings import (
    BotConfigError,
    BotsFileError,
    ConnectorSettings,
    DingTalkBot,
    FeishuBot,
    WeComAIBot,
    WeComAppBot,
    load_bots_file,
)

SECRET = "app-secret-3b9f1c"
AES_KEY_TOO_SHORT = "secret-aes-key-of-the-wrong-length"


def bots_file(tmp_path, data) -> ConnectorSettings:
    path = tmp_path / "bots.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return ConnectorSettings(file=path)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"dingtalk": [{"name": "support", "app_key": "k", "app_secret": SECRET, "mode": "socket"}]},
         "dingtalk bot 'support': mode: Input should be 'http' or 'stream'"),
        ({"wecom_app": [{"name": "hr", "corp_id": "ww1", "corp_secret": SECRET, "agent_id": "one",
                         "token": SECRET, "encoding_aes_key": SECRET}]},
         "wecom_app bot 'hr': agent_id: Input should be a valid integer, unable to parse string as an integer"),
        ({"feishu": [{"name": "sales", "app_id": "cli_1", "app_secret": {"value": SECRET}}]},
         "feishu bot 'sales': app_secret: Input should be a valid string"),
        ({"feishu": [SECRET]}, "feishu bot #1: the bot's settings: Input should be a valid dictionary"),
    ],
)
def test_a_bad_bot_in_the_bots_file_is_named_by_platform_bot_and_field_without_its_values(tmp_path, data, problem):
    with pytest.raises(BotsFileError) as caught:
        load_bots_file(bots_file(tmp_path, data))
    assert problem in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "given",
    [
        {"feishu": {"name": "sales", "app_id": "cli_1", "app_secret": SECRET}},  # a bot where a list belongs
        {"feishu": [SECRET]},
        {"dingtalk": [{"name": "support", "app_key": "k", "app_secret": SECRET, "mode": SECRET}]},
    ],
)
def test_connector_settings_built_in_code_never_echo_their_input_in_a_validation_error(given):
    with pytest.raises(ValidationError) as caught:
        ConnectorSettings.model_validate(given)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_a_single_bot_built_in_code_never_echoes_its_input_either():
    with pytest.raises(ValidationError) as caught:
        DingTalkBot.model_validate({"name": "support", "app_key": "k", "app_secret": SECRET, "max_clock_skew_s": SECRET})
    assert SECRET not in str(caught.value)


def test_an_encoding_aes_key_of_the_wrong_length_names_the_bot_and_the_field_not_the_key():
    bot = WeComAppBot(name="hr", corp_id="ww1", corp_secret=SECRET, agent_id=2, token=SECRET,
                      encoding_aes_key=AES_KEY_TOO_SHORT)
    with pytest.raises(BotConfigError) as caught:
        build_connectors(ConnectorSettings(wecom_app=[bot]), responder=None)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "wecom bot 'hr': encoding_aes_key: must be 43 base64 characters (32 bytes once decoded)"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (ConnectorSettings(feishu=[FeishuBot(name="sales", app_id="cli_1", app_secret=SECRET)]),
         "feishu bot 'sales': encrypt_key / verification_token: set encrypt_key (recommended) or verification_token"),
        (ConnectorSettings(wecom_bot=[WeComAIBot(name="groups", mode="websocket", bot_id="aib")]),
         "wecom_bot bot 'groups': bot_id / secret: websocket mode needs both"),
        (ConnectorSettings(wecom_bot=[WeComAIBot(name="groups", token=SECRET)]),
         "wecom_bot bot 'groups': token / encoding_aes_key: http mode needs both"),
        (ConnectorSettings(dingtalk=[DingTalkBot(name="x", app_key="k", app_secret=SECRET)] * 2),
         "dingtalk bot 'x': name: two bots are named 'x'; give each a distinct name"),
    ],
)
def test_inconsistent_bot_settings_are_named_by_platform_bot_and_field(settings, message):
    with pytest.raises(BotConfigError) as caught:
        build_connectors(settings, responder=None)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)
    assert SECRET not in str(caught.value)


def test_credentials_in_a_platform_api_base_never_appear_in_a_send_error():
    bot = DingTalkBot(name="support", app_key="k", app_secret=SECRET, api_base=f"http://proxyuser:{SECRET}@127.0.0.1:9")
    with httpx.Client(trust_env=False, timeout=2) as http:
        channel = DingTalkChannel(bot, http)
        with pytest.raises(SendFailed) as caught:
            channel.tokens.get()
    assert str(caught.value) == "dingtalk: could not reach 127.0.0.1:9: ConnectError"


def test_a_bad_connectors_environment_variable_is_named_without_its_value(monkeypatch):
    from assistant.app.settings import load_settings
    from assistant.errors import ConfigError

    monkeypatch.setenv("ASSISTANT_CONNECTORS__FEISHU", json.dumps({"name": "sales", "app_id": "c", "app_secret": SECRET}))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "ASSISTANT_CONNECTORS__FEISHU" in str(caught.value) and SECRET not in str(caught.value)
