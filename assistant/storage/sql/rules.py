"""Routing rules in SQL (see ``RuleStore`` for the contract).

Every write starts by bumping the ``routing_rules`` revision: that upsert takes the row's lock, so
writers run one at a time (positions stay dense and ids unique on PostgreSQL too; SQLite has one
writer anyway), and the new revision commits with the change it announces. Rule ids are chosen here,
above every id the history has seen, so a deleted rule's id (and its history) is never reused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from assistant.domain import RoutingRule, RuleChange, RuleSource, RuleSpec, RuleVersion
from assistant.errors import RuleConflict, UnknownRule
from assistant.storage.sql.schema import revisions, routing_rule_versions, routing_rules

REVISION = "routing_rules"  # the counter readers compare before using their cached rules


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _rule(row: Any) -> RoutingRule:
    return RoutingRule(
        id=row["id"], position=row["position"], name=row["name"], enabled=row["enabled"],
        match=json.loads(row["match"]), action=json.loads(row["action"]), version=row["version"],
        updated_at=_aware(row["updated_at"]), updated_by=row["updated_by"], source=row["source"],
    )


def _spec_values(spec: RuleSpec) -> dict[str, Any]:
    return {
        "name": spec.name, "enabled": spec.enabled,
        "match": json.dumps(spec.match.model_dump(mode="json"), ensure_ascii=False),
        "action": json.dumps(spec.action.model_dump(mode="json"), ensure_ascii=False),
    }


class SqlRuleStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading -------------------------------------------------------------------------------
    def list_rules(self) -> list[RoutingRule]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(routing_rules).order_by(routing_rules.c.position, routing_rules.c.id)).mappings()
            return [_rule(r) for r in rows]

    def get(self, rule_id: int) -> RoutingRule | None:
        with self.engine.connect() as conn:
            return self._get(conn, rule_id)

    def history(self, rule_id: int) -> list[RuleVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(routing_rule_versions).where(routing_rule_versions.c.rule_id == rule_id)
                                .order_by(routing_rule_versions.c.version)).mappings().all()
        versions = []
        for r in rows:
            snapshot = json.loads(r["snapshot"])
            versions.append(RuleVersion(
                rule_id=r["rule_id"], version=r["version"], change=snapshot["change"],
                rule=RoutingRule.model_validate(snapshot["rule"]), at=_aware(r["at"]), by=r["by"]))
        return versions

    def revision(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(revisions.c.value).where(revisions.c.name == REVISION)).scalar()
        return int(value or 0)

    # -- writing -------------------------------------------------------------------------------
    def create(self, spec: RuleSpec, *, by: str, source: RuleSource = "api",
               position: int | None = None) -> RoutingRule:
        with self.engine.begin() as conn:
            self._bump(conn)
            return self._create(conn, spec, by, source, position)

    def update(self, rule_id: int, spec: RuleSpec, *, by: str, expected_version: int | None = None) -> RoutingRule:
        with self.engine.begin() as conn:
            self._bump(conn)
            current = self._require(conn, rule_id)
            if expected_version is not None and expected_version != current.version:
                raise RuleConflict(rule_id, expected_version, current.version)
            now = _now()
            conn.execute(update(routing_rules).where(routing_rules.c.id == rule_id).values(
                **_spec_values(spec), version=current.version + 1, updated_at=now, updated_by=by))
            saved = self._require(conn, rule_id)
            self._record(conn, saved, "updated")
            return saved

    def move(self, rule_id: int, position: int, *, by: str) -> RoutingRule:
        with self.engine.begin() as conn:
            self._bump(conn)
            current = self._require(conn, rule_id)
            order = [i for i in self._ids_in_order(conn) if i != rule_id]
            target = min(max(position, 1), len(order) + 1)
            if target == current.position:
                return current
            order.insert(target - 1, rule_id)
            self._renumber(conn, order)
            conn.execute(update(routing_rules).where(routing_rules.c.id == rule_id).values(
                version=current.version + 1, updated_at=_now(), updated_by=by))
            moved = self._require(conn, rule_id)
            self._record(conn, moved, "moved")
            return moved

    def delete(self, rule_id: int, *, by: str) -> RoutingRule:
        with self.engine.begin() as conn:
            self._bump(conn)
            current = self._require(conn, rule_id)
            conn.execute(delete(routing_rules).where(routing_rules.c.id == rule_id))
            self._renumber(conn, self._ids_in_order(conn))
            gone = current.model_copy(update={"version": current.version + 1, "updated_at": _now(), "updated_by": by})
            self._record(conn, gone, "deleted")
            return gone

    def seed(self, specs: Sequence[RuleSpec], *, source: RuleSource, by: str) -> list[RoutingRule]:
        if not specs:
            return []
        with self.engine.connect() as conn:  # the common case, every start after the first: nothing to write
            if not self._unseen(conn, specs, source):
                return []
        with self.engine.begin() as conn:
            self._bump(conn)
            return [self._create(conn, spec, by, source, None) for spec in self._unseen(conn, specs, source)]

    # -- helpers -------------------------------------------------------------------------------
    def _create(self, conn: Connection, spec: RuleSpec, by: str, source: RuleSource,
                position: int | None) -> RoutingRule:
        rule_id = self._next_id(conn)
        count = conn.execute(select(func.count()).select_from(routing_rules)).scalar_one()
        at = count + 1 if position is None else min(max(position, 1), count + 1)
        conn.execute(update(routing_rules).where(routing_rules.c.position >= at)
                     .values(position=routing_rules.c.position + 1))
        conn.execute(insert(routing_rules).values(
            id=rule_id, position=at, **_spec_values(spec), version=1, updated_at=_now(), updated_by=by, source=source))
        created = self._require(conn, rule_id)
        self._record(conn, created, "created")
        return created

    def _bump(self, conn: Connection) -> None:
        """Count one more change (creating the counter on the first); holds the counter's row lock
        until the transaction ends, which serialises writers."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(revisions).values(name=REVISION, value=1)
        conn.execute(statement.on_conflict_do_update(index_elements=[revisions.c.name],
                                                     set_={"value": revisions.c.value + 1}))

    def _get(self, conn: Connection, rule_id: int) -> RoutingRule | None:
        row = conn.execute(select(routing_rules).where(routing_rules.c.id == rule_id)).mappings().first()
        return _rule(row) if row else None

    def _require(self, conn: Connection, rule_id: int) -> RoutingRule:
        rule = self._get(conn, rule_id)
        if rule is None:
            raise UnknownRule(rule_id)
        return rule

    def _next_id(self, conn: Connection) -> int:
        live = conn.execute(select(func.max(routing_rules.c.id))).scalar() or 0
        seen = conn.execute(select(func.max(routing_rule_versions.c.rule_id))).scalar() or 0
        return max(live, seen) + 1

    def _ids_in_order(self, conn: Connection) -> list[int]:
        ordered = select(routing_rules.c.id).order_by(routing_rules.c.position, routing_rules.c.id)
        return list(conn.execute(ordered).scalars())

    def _renumber(self, conn: Connection, order: Sequence[int]) -> None:
        current = dict(conn.execute(select(routing_rules.c.id, routing_rules.c.position)).tuples().all())
        for position, rule_id in enumerate(order, start=1):
            if current.get(rule_id) != position:
                conn.execute(update(routing_rules).where(routing_rules.c.id == rule_id).values(position=position))

    def _record(self, conn: Connection, rule: RoutingRule, change: RuleChange) -> None:
        snapshot = {"change": change, "deleted": change == "deleted", "rule": rule.model_dump(mode="json")}
        conn.execute(insert(routing_rule_versions).values(
            rule_id=rule.id, version=rule.version, snapshot=json.dumps(snapshot, ensure_ascii=False),
            at=rule.updated_at, by=rule.updated_by))

    def _unseen(self, conn: Connection, specs: Sequence[RuleSpec], source: RuleSource) -> list[RuleSpec]:
        """The specs whose name no rule of ``source`` has ever had (deleted ones included)."""
        seen: set[str] = set()
        for text in conn.execute(select(routing_rule_versions.c.snapshot)).scalars():
            rule = json.loads(text)["rule"]
            if rule.get("source") == source:
                seen.add(rule["name"])
        unseen = []
        for spec in specs:
            if spec.name not in seen:
                seen.add(spec.name)
                unseen.append(spec)
        return unseen
