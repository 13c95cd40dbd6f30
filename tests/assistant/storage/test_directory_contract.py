"""The ``Directory`` and ``AuditLog`` contracts, on every SQL backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.domain import AuditEntry, AuditQuery, ImRule
from assistant.errors import InvalidName
from assistant.storage.sql.audit import SqlAuditLog
from assistant.storage.sql.catalog import SqlCatalog
from assistant.storage.sql.directory import DirectoryError, SqlDirectory


@pytest.fixture
def directory(engine) -> SqlDirectory:
    directory = SqlDirectory(engine)
    assert directory.create_department("finance", "财务部") and directory.create_department("sales")
    return directory


def test_users_belong_to_departments_that_exist(directory):
    user = directory.create_user("alice", "argon2-hash", "knowledge_manager", ["finance"], "李雪")
    assert (user.role, user.departments, user.display_name) == ("knowledge_manager", ["finance"], "李雪")
    with pytest.raises(DirectoryError, match="no department marketing"):
        directory.create_user("bob", "h", "agent", ["marketing"])
    with pytest.raises(DirectoryError, match="exists already"):
        directory.create_user("alice", "h", "agent")
    with pytest.raises(InvalidName):
        directory.create_user("Alice Smith", "h", "agent")
    assert directory.get_user("bob") is None and directory.count_users() == 1


def test_a_disabled_user_has_no_password_to_check_and_memberships_follow_updates(directory):
    directory.create_user("alice", "argon2-hash", "agent", ["finance"])
    assert directory.password_hash("alice") == "argon2-hash"
    updated = directory.update_user("alice", departments_=["sales"], role="knowledge_manager")
    assert updated.departments == ["sales"] and updated.role == "knowledge_manager"
    directory.update_user("alice", disabled=True)
    assert directory.password_hash("alice") is None
    assert directory.delete_user("alice") and directory.list_users() == []


def test_keys_are_found_by_hash_only_and_stay_listed_when_revoked(directory):
    expires = datetime.now(timezone.utc) + timedelta(days=1)
    key = directory.create_key("k_1", "a" * 64, "agent", name="客服机器人", departments_=["sales"], created_by="admin",
                               expires_at=expires)
    assert directory.find_key("a" * 64).id == "k_1" and directory.find_key("b" * 64) is None
    assert key.departments == ["sales"] and key.usable(datetime.now(timezone.utc))
    assert not key.usable(expires + timedelta(seconds=1))
    assert directory.revoke_key("k_1") and not directory.revoke_key("k_1")
    assert not directory.find_key("a" * 64).usable(datetime.now(timezone.utc))
    assert [k.id for k in directory.list_keys()] == ["k_1"]


def test_rules_bindings_and_order_verifications(directory):
    rule = directory.add_im_rule(ImRule(platform="feishu", chat_id="oc_fin", department="finance", role="agent"))
    assert rule.id and directory.list_im_rules()[0].chat_id == "oc_fin"
    assert directory.delete_im_rule(rule.id) and directory.list_im_rules() == []
    directory.bind_customer("feishu", "ou_1", "C10086")
    directory.bind_customer("feishu", "ou_1", "C20001")  # rebinding replaces
    assert directory.customer_of("feishu", "ou_1") == "C20001" and directory.customer_of("feishu", "ou_2") is None
    now = datetime.now(timezone.utc)
    directory.verify_order("im:feishu:oc:ou_2", "20240521-8892", now + timedelta(hours=1))
    directory.verify_order("im:feishu:oc:ou_2", "20240518-3310", now - timedelta(seconds=1))
    assert directory.verified_orders("im:feishu:oc:ou_2") == {"20240521-8892"}


def test_knowledge_bases_have_an_owner_and_readers(engine, directory):
    catalog = SqlCatalog(engine)
    catalog.create_kb("invoices", "发票", department="finance")
    catalog.create_kb("open")
    catalog.set_kb_access("invoices", "finance", ["sales", "finance"])
    kbs = {kb.name: kb for kb in catalog.list_kbs()}
    assert (kbs["invoices"].department, kbs["invoices"].readers) == ("finance", ["sales"])
    assert (kbs["open"].department, kbs["open"].readers) == (None, [])


def test_the_audit_log_is_appended_to_and_filtered_newest_first(engine):
    audit = SqlAuditLog(engine)
    base = datetime.now(timezone.utc) - timedelta(days=40)
    for i in range(5):
        audit.append(AuditEntry(
            at=base + timedelta(days=10 * i), kind="question", channel="api", principal_id=f"user:u{i % 2}",
            departments=["finance"] if i % 2 else ["sales"], kbs=["invoices"] if i < 3 else ["open"],
            question=f"问题{i}", refused=i == 4, sources=[{"doc_id": "e-invoice", "version": "V3.2"}] if i == 1 else [],
            tool_calls=[{"name": "lookup_order", "arguments": {"order_no": "x"}}],
        ))
    assert [e.question for e in audit.query(AuditQuery())] == ["问题4", "问题3", "问题2", "问题1", "问题0"]
    assert [e.question for e in audit.query(AuditQuery(kb="invoices"))] == ["问题2", "问题1", "问题0"]
    assert [e.question for e in audit.query(AuditQuery(doc="e-invoice"))] == ["问题1"]
    assert [e.question for e in audit.query(AuditQuery(department="finance"))] == ["问题3", "问题1"]
    assert [e.question for e in audit.query(AuditQuery(refused=True))] == ["问题4"]
    assert [e.question for e in audit.query(AuditQuery(principal="user:u0", since=base + timedelta(days=5)))] == ["问题4", "问题2"]
    one = audit.query(AuditQuery(doc="e-invoice"))[0]
    assert one.sources == [{"doc_id": "e-invoice", "version": "V3.2"}] and one.tool_calls[0]["name"] == "lookup_order"
    assert [e.question for e in audit.iterate(AuditQuery(), page=2)] == ["问题4", "问题3", "问题2", "问题1", "问题0"]
    assert audit.purge(base + timedelta(days=15)) == 2 and audit.count() == 3
    assert audit.query(AuditQuery(kb="invoices"))[0].question == "问题2"
