"""The ``RuleStore`` contract, on every SQL backend: order, versions with snapshots, deletion kept in the
history, ids never reused, a revision that announces every change, seeding once, serialised writers."""

from __future__ import annotations

import threading

import pytest

from assistant.domain import RuleAction, RuleMatch, RuleSpec
from assistant.errors import RuleConflict, UnknownRule
from assistant.storage.sql.rules import SqlRuleStore


def spec(name: str, **action) -> RuleSpec:
    return RuleSpec(name=name, match=RuleMatch(keywords=[name]), action=RuleAction(**action))


@pytest.fixture
def store(engine) -> SqlRuleStore:
    return SqlRuleStore(engine)


def names(store: SqlRuleStore) -> list[str]:
    return [r.name for r in store.list_rules()]


def test_rules_are_listed_by_position_and_a_new_one_goes_last_or_where_it_is_put(store):
    for name in ("a", "b", "c"):
        store.create(spec(name), by="user:admin")
    inserted = store.create(spec("first"), by="user:admin", position=1)
    assert inserted.position == 1 and names(store) == ["first", "a", "b", "c"]
    assert [r.position for r in store.list_rules()] == [1, 2, 3, 4]
    assert store.create(spec("far"), by="x", position=99).position == 5


def test_an_update_is_a_new_version_with_its_snapshot_who_and_when(store):
    rule = store.create(spec("invoice", kbs=["support"]), by="user:admin")
    assert (rule.version, rule.updated_by, rule.source) == (1, "user:admin", "api")
    saved = store.update(rule.id, spec("invoice", kbs=["finance"], style="brief"), by="user:wang")
    assert (saved.version, saved.updated_by) == (2, "user:wang")
    assert (saved.action.kbs, saved.action.style) == (["finance"], "brief")
    assert store.get(rule.id) == saved
    history = store.history(rule.id)
    assert [(v.version, v.change, v.by) for v in history] == [(1, "created", "user:admin"), (2, "updated", "user:wang")]
    assert history[0].rule.action.kbs == ["support"] and history[1].rule.action.kbs == ["finance"]
    assert history[1].at >= history[0].at and history[1].at.tzinfo is not None


def test_a_stale_version_is_refused_and_changes_nothing(store):
    rule = store.create(spec("a"), by="x")
    store.update(rule.id, spec("b"), by="x", expected_version=1)
    revision = store.revision()
    with pytest.raises(RuleConflict, match="version 2, not 1"):
        store.update(rule.id, spec("c"), by="y", expected_version=1)
    assert store.get(rule.id).name == "b" and store.revision() == revision


def test_deleting_records_the_rule_as_it_was_and_closes_the_gap(store):
    b = [store.create(spec(n), by="x") for n in "abc"][1]
    gone = store.delete(b.id, by="user:admin")
    assert gone.name == "b" and gone.version == 2
    assert store.get(b.id) is None and names(store) == ["a", "c"]
    assert [r.position for r in store.list_rules()] == [1, 2]
    last = store.history(b.id)[-1]
    assert (last.change, last.version, last.by, last.rule.name) == ("deleted", 2, "user:admin", "b")


def test_ids_are_never_reused_not_even_the_last_deleted_one(store):
    a = store.create(spec("a"), by="x")
    b = store.create(spec("b"), by="x")
    store.delete(b.id, by="x")
    c = store.create(spec("c"), by="x")
    assert c.id not in (a.id, b.id)
    assert [v.rule.name for v in store.history(b.id)] == ["b", "b"] and len(store.history(c.id)) == 1


def test_moving_reorders_every_rule_and_versions_the_moved_one(store):
    a, _, c = (store.create(spec(n), by="x") for n in "abc")
    moved = store.move(c.id, 1, by="user:admin")
    assert (moved.position, moved.version) == (1, 2) and names(store) == ["c", "a", "b"]
    assert store.history(c.id)[-1].change == "moved"
    store.move(c.id, 10, by="x")  # past the end: last
    assert names(store) == ["a", "b", "c"]
    assert store.get(a.id).version == 1  # the others shift without a version of their own


def test_unknown_ids_raise(store):
    for call in (lambda: store.update(42, spec("x"), by="x"), lambda: store.delete(42, by="x"),
                 lambda: store.move(42, 1, by="x")):
        with pytest.raises(UnknownRule, match="42"):
            call()
    assert store.get(42) is None and store.history(42) == []


def test_the_revision_grows_with_every_change_and_only_then(store):
    assert store.revision() == 0
    seen = [store.revision()]
    rule = store.create(spec("a"), by="x")
    seen.append(store.revision())
    store.update(rule.id, spec("b"), by="x")
    seen.append(store.revision())
    store.create(spec("c"), by="x")
    store.move(rule.id, 2, by="x")
    seen.append(store.revision())
    store.delete(rule.id, by="x")
    seen.append(store.revision())
    assert seen == sorted(set(seen))  # strictly growing
    store.list_rules()
    store.get(rule.id)
    assert store.revision() == seen[-1]


def test_seeding_makes_each_rule_once_even_after_an_administrator_deleted_it(store):
    seeded = store.seed([spec("settings: chat g1", kbs=["finance"]), spec("settings: IM default", kbs=["support"])],
                        source="settings", by="settings")
    assert [(r.name, r.source, r.position) for r in seeded] == [
        ("settings: chat g1", "settings", 1), ("settings: IM default", "settings", 2)]
    revision = store.revision()
    assert store.seed([spec("settings: chat g1")], source="settings", by="settings") == []
    assert store.revision() == revision  # nothing to do writes nothing
    store.delete(seeded[0].id, by="user:admin")
    store.update(seeded[1].id, spec("renamed"), by="user:admin")
    again = store.seed([spec("settings: chat g1"), spec("settings: IM default"), spec("settings: chat g2")],
                       source="settings", by="settings")
    assert [r.name for r in again] == ["settings: chat g2"]
    assert store.seed([spec("settings: chat g1")], source="api", by="x")[0].source == "api"  # another source


def test_writers_at_once_never_share_a_position_or_an_id(store):
    errors = []

    def write(n: int) -> None:
        try:
            for i in range(5):
                store.create(spec(f"w{n}-{i}"), by=f"writer{n}")
        except Exception as exc:  # any writer's failure is reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rules = store.list_rules()
    assert [r.position for r in rules] == list(range(1, 21))
    assert len({r.id for r in rules}) == 20 and store.revision() == 20
