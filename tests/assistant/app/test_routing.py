"""The settings that routed IM questions before rules existed become rules when the storage is opened:
once each, visible and editable, and IM rules only for chats no IM rule names yet."""

from __future__ import annotations

from assistant.app.container import Services
from assistant.app.routing import (
    IM_PLATFORMS,
    im_rules_from_settings,
    rules_from_settings,
)
from assistant.domain import ImRule
from connectors.settings import ConnectorSettings, GatewaySettings
from tests.conftest import make_settings


def settings_with(data_dir, *, groups=None, kb=None, audience=None):
    gateway = {"groups": groups or {}, "kb": kb}
    return make_settings(data_dir, audience={"groups": audience or {}}).model_copy(
        update={"connectors": ConnectorSettings(gateway=gateway)})


def test_gateway_groups_with_knowledge_bases_become_chat_rules_then_the_im_default():
    gateway = GatewaySettings(groups={"oc_a": {"kb": ["finance"]}, "oc_b": {"require_mention": False}}, kb=["support"])
    specs = rules_from_settings(gateway)
    assert [(s.name, s.match.chats, s.match.platforms, s.action.kbs) for s in specs] == [
        ("settings: chat oc_a", ["oc_a"], [], ["finance"]),
        ("settings: IM default", [], list(IM_PLATFORMS), ["support"]),
    ]
    assert rules_from_settings(GatewaySettings()) == []


def test_audience_groups_become_im_rules_unless_one_names_the_chat_already():
    existing = [ImRule(platform="feishu", chat_id="oc_x", role="agent", department="finance")]
    made = im_rules_from_settings({"feishu:oc_x": "customer", "oc_y": "staff", "dingtalk:cid_z": "customer",
                                   "weird:id": "staff"}, existing)
    assert [(r.platform, r.chat_id, r.role) for r in made] == [
        (None, "oc_y", "agent"), ("dingtalk", "cid_z", "customer"), (None, "weird:id", "agent")]


def test_opening_the_storage_seeds_once_and_keeps_what_administrators_did(tmp_path):
    data_dir = tmp_path / "data"
    with Services(make_settings(data_dir)) as services:
        services.directory.add_im_rule(ImRule(platform="feishu", chat_id="oc_x", role="agent"))
    configured = settings_with(data_dir, groups={"oc_a": {"kb": ["finance"]}}, kb=["support"],
                               audience={"feishu:oc_x": "customer", "oc_y": "staff"})
    with Services(configured) as services:
        rules = services.rule_store.list_rules()
        assert [(r.name, r.source, r.updated_by) for r in rules] == [
            ("settings: chat oc_a", "settings", "settings"), ("settings: IM default", "settings", "settings")]
        im_rules = {(r.chat_id, r.role) for r in services.directory.list_im_rules()}
        assert im_rules == {("oc_x", "agent"), ("oc_y", "agent")}
        services.rule_store.delete(rules[0].id, by="user:admin")
    with Services(configured) as services:  # the next start
        assert [r.name for r in services.rule_store.list_rules()] == ["settings: IM default"]
        assert len(services.directory.list_im_rules()) == 2
        principal = services.auth.im_principal("feishu", "oc_y", "ou_1")
        assert principal.role == "agent"  # as ASSISTANT_AUDIENCE__GROUPS said, now as an IM rule
