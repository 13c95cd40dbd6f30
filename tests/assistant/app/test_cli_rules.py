"""`assistant rules list | test | history` read the routing rules from the database (a real subprocess per
command, as beside a server)."""

from __future__ import annotations

import pytest

from assistant.app.container import Services
from assistant.domain import RuleAction, RuleMatch, RuleSpec
from tests.assistant.app.test_cli_admin import run
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("cli-rules")
    with Services(make_settings(data_dir)) as services:
        services.directory.create_department("finance")
        services.catalog.create_kb("support")
        services.catalog.create_kb("finance", department="finance")
        rule = services.rule_store.create(RuleSpec(name="invoices-to-finance", match=RuleMatch(keywords=["发票"]),
                                                   action=RuleAction(kbs=["finance"])), by="user:admin")
        services.rule_store.update(rule.id, rule.spec().model_copy(update={"enabled": True}), by="user:wang")
    return data_dir


def test_rules_list_shows_the_rules_in_order(data_dir):
    done = run(["rules", "list"], data_dir)
    assert done.returncode == 0, done.stderr
    assert "invoices-to-finance" in done.stdout and '"finance"' in done.stdout


def test_rules_test_says_the_rule_and_what_would_be_searched_for_that_asker(data_dir):
    staff = run(["rules", "test", "电子发票怎么开", "--platform", "feishu", "--chat", "oc_1", "--role", "agent",
                 "--department", "finance"], data_dir)
    assert staff.returncode == 0, staff.stderr
    assert "invoices-to-finance" in staff.stdout and "searches: finance" in staff.stdout
    outsider = run(["rules", "test", "电子发票怎么开", "--role", "customer"], data_dir)
    assert "searches: nothing" in outsider.stdout
    assert "left out (this asker may not read them): finance" in outsider.stdout
    assert "none matches" in run(["rules", "test", "退款多久到账"], data_dir).stdout
    assert run(["rules", "test", "x", "--role", "boss"], data_dir).returncode == 1


def test_rules_history_lists_every_version_and_an_unknown_id_fails(data_dir):
    done = run(["rules", "history", "1"], data_dir)
    assert done.returncode == 0 and "created" in done.stdout and "updated" in done.stdout and "user:wang" in done.stdout
    missing = run(["rules", "history", "99"], data_dir)
    assert missing.returncode == 1 and "routing rule 99 does not exist" in missing.stderr
