"""Accounts and permissions in SQL: departments, users, API keys, IM identity rules, customer bindings
and order verifications (see ``Directory`` for the contract). Secrets are never stored: passwords as
argon2 hashes, API keys as the SHA-256 of their random part."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from assistant.domain import ApiKey, CustomerBinding, Department, ImRule, Role, User
from assistant.errors import AssistantError, InvalidName
from assistant.storage.sql.catalog import KB_NAME
from assistant.storage.sql.schema import (
    api_key_departments,
    api_keys,
    customer_bindings,
    departments,
    im_rules,
    kb_readers,
    kbs,
    order_verifications,
    user_departments,
    users,
)


class DirectoryError(AssistantError):
    """A name that exists already, or a department that does not."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


class SqlDirectory:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- departments ---------------------------------------------------------------------------
    def create_department(self, name: str, description: str = "") -> bool:
        if not KB_NAME.match(name):
            raise InvalidName(f"department name {name!r} is not valid: use 2-63 lower-case letters, digits, '-' or '_'")
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(departments.c.name).where(departments.c.name == name)).first():
                    return False
                conn.execute(insert(departments).values(name=name, description=description, created_at=_now()))
        except IntegrityError:
            return False
        return True

    def list_departments(self) -> list[Department]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(departments).order_by(departments.c.name)).mappings().all()
        return [Department(**r) for r in rows]

    def delete_department(self, name: str) -> bool:
        """Delete a department and its memberships; refused while it owns knowledge bases or IM rules
        name it (those would silently become readable by nobody or by the wrong people)."""
        with self.engine.begin() as conn:
            owned = list(conn.execute(select(kbs.c.name).where(kbs.c.department == name)).scalars())
            if owned:
                raise DirectoryError(f"department {name!r} owns knowledge bases {', '.join(owned)}; "
                                     "give them to another department (or open them) first")
            ruled = list(conn.execute(select(im_rules.c.id).where(im_rules.c.department == name)).scalars())
            if ruled:
                raise DirectoryError(f"IM rules {', '.join(map(str, ruled))} map chats to department {name!r}; "
                                     "delete or change them first")
            conn.execute(delete(kb_readers).where(kb_readers.c.department == name))
            conn.execute(delete(user_departments).where(user_departments.c.department == name))
            conn.execute(delete(api_key_departments).where(api_key_departments.c.department == name))
            return conn.execute(delete(departments).where(departments.c.name == name)).rowcount == 1

    def _check_departments(self, conn: Connection, names: Sequence[str]) -> None:
        known = set(conn.execute(select(departments.c.name)).scalars())
        missing = sorted(set(names) - known)
        if missing:
            raise DirectoryError(f"no department {', '.join(missing)}; create it first")

    # -- users ---------------------------------------------------------------------------------
    def create_user(
        self, username: str, password_hash: str, role: Role, departments_: Sequence[str] = (), display_name: str = ""
    ) -> User:
        if not KB_NAME.match(username):
            raise InvalidName(f"user name {username!r} is not valid: use 2-63 lower-case letters, digits, '-' or '_'")
        try:
            with self.engine.begin() as conn:
                self._check_departments(conn, departments_)
                conn.execute(insert(users).values(
                    username=username, display_name=display_name, role=role, password_hash=password_hash,
                    disabled=False, created_at=_now(),
                ))
                if departments_:
                    conn.execute(insert(user_departments), [{"username": username, "department": d} for d in departments_])
        except IntegrityError:
            raise DirectoryError(f"user {username!r} exists already") from None
        user = self.get_user(username)
        assert user is not None
        return user

    def get_user(self, username: str) -> User | None:
        found = self._user_rows([username])
        return found[0] if found else None

    def password_hash(self, username: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(users.c.password_hash).where(users.c.username == username, users.c.disabled.is_(False))
            ).scalar()

    def list_users(self) -> list[User]:
        return self._user_rows(None)

    def _user_rows(self, names: Sequence[str] | None) -> list[User]:
        query = select(users).order_by(users.c.username)
        if names is not None:
            query = query.where(users.c.username.in_(list(names)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            memberships: dict[str, list[str]] = {}
            for username, department in conn.execute(select(user_departments.c.username, user_departments.c.department)):
                memberships.setdefault(username, []).append(department)
        return [
            User(username=r["username"], display_name=r["display_name"], role=r["role"], disabled=r["disabled"],
                 departments=sorted(memberships.get(r["username"], [])), created_at=_aware(r["created_at"]),
                 last_login_at=_aware(r["last_login_at"]))
            for r in rows
        ]

    def update_user(
        self, username: str, *, role: Role | None = None, departments_: Sequence[str] | None = None,
        password_hash: str | None = None, disabled: bool | None = None, display_name: str | None = None,
    ) -> User | None:
        values = {k: v for k, v in {"role": role, "password_hash": password_hash, "disabled": disabled,
                                    "display_name": display_name}.items() if v is not None}
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first() is None:
                return None
            if values:
                conn.execute(update(users).where(users.c.username == username).values(**values))
            if departments_ is not None:
                self._check_departments(conn, departments_)
                conn.execute(delete(user_departments).where(user_departments.c.username == username))
                if departments_:
                    conn.execute(insert(user_departments), [{"username": username, "department": d} for d in departments_])
        return self.get_user(username)

    def delete_user(self, username: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(users).where(users.c.username == username)).rowcount == 1

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def touch_login(self, username: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.username == username).values(last_login_at=_now()))

    # -- API keys ------------------------------------------------------------------------------
    def create_key(
        self, key_id: str, key_hash: str, role: Role, *, name: str = "", departments_: Sequence[str] = (),
        created_by: str = "", expires_at: datetime | None = None,
    ) -> ApiKey:
        with self.engine.begin() as conn:
            self._check_departments(conn, departments_)
            conn.execute(insert(api_keys).values(
                id=key_id, key_hash=key_hash, name=name, role=role, created_by=created_by, created_at=_now(),
                expires_at=expires_at,
            ))
            if departments_:
                conn.execute(insert(api_key_departments), [{"key_id": key_id, "department": d} for d in departments_])
        found = self._key_rows(api_keys.c.id == key_id)
        return found[0]

    def find_key(self, key_hash: str) -> ApiKey | None:
        found = self._key_rows(api_keys.c.key_hash == key_hash)
        return found[0] if found else None

    def list_keys(self) -> list[ApiKey]:
        return self._key_rows(None)

    def _key_rows(self, where) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            memberships: dict[str, list[str]] = {}
            for key_id, department in conn.execute(select(api_key_departments.c.key_id, api_key_departments.c.department)):
                memberships.setdefault(key_id, []).append(department)
        return [
            ApiKey(id=r["id"], name=r["name"], role=r["role"], departments=sorted(memberships.get(r["id"], [])),
                   created_by=r["created_by"], created_at=_aware(r["created_at"]), expires_at=_aware(r["expires_at"]),
                   revoked_at=_aware(r["revoked_at"]), last_used_at=_aware(r["last_used_at"]))
            for r in rows
        ]

    def revoke_key(self, key_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(
                update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=_now())
            ).rowcount == 1

    def touch_key(self, key_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=_now()))

    # -- IM identity rules ---------------------------------------------------------------------
    def add_im_rule(self, rule: ImRule) -> ImRule:
        with self.engine.begin() as conn:
            if rule.department:
                self._check_departments(conn, [rule.department])
            values = rule.model_dump(exclude={"id"})
            new_id = conn.execute(insert(im_rules).values(**values)).inserted_primary_key[0]
        return rule.model_copy(update={"id": int(new_id)})

    def list_im_rules(self) -> list[ImRule]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(im_rules).order_by(im_rules.c.priority, im_rules.c.id)).mappings().all()
        return [ImRule(**r) for r in rows]

    def delete_im_rule(self, rule_id: int) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(im_rules).where(im_rules.c.id == rule_id)).rowcount == 1

    # -- customers -----------------------------------------------------------------------------
    def bind_customer(self, platform: str, user_id: str, customer_id: str) -> CustomerBinding:
        with self.engine.begin() as conn:
            conn.execute(delete(customer_bindings).where(
                customer_bindings.c.platform == platform, customer_bindings.c.user_id == user_id))
            conn.execute(insert(customer_bindings).values(
                platform=platform, user_id=user_id, customer_id=customer_id, created_at=_now()))
        return CustomerBinding(platform=platform, user_id=user_id, customer_id=customer_id, created_at=_now())

    def customer_of(self, platform: str, user_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(customer_bindings.c.customer_id).where(
                customer_bindings.c.platform == platform, customer_bindings.c.user_id == user_id)).scalar()

    def list_bindings(self) -> list[CustomerBinding]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(customer_bindings).order_by(customer_bindings.c.platform,
                                                                   customer_bindings.c.user_id)).mappings().all()
        return [CustomerBinding(**{**r, "created_at": _aware(r["created_at"])}) for r in rows]

    def unbind_customer(self, platform: str, user_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(customer_bindings).where(
                customer_bindings.c.platform == platform, customer_bindings.c.user_id == user_id)).rowcount == 1

    # -- order verification --------------------------------------------------------------------
    def verify_order(self, principal_id: str, order_no: str, until: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(order_verifications).where(
                order_verifications.c.principal_id == principal_id, order_verifications.c.order_no == order_no))
            conn.execute(insert(order_verifications).values(principal_id=principal_id, order_no=order_no, expires_at=until))

    def verified_orders(self, principal_id: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(order_verifications.c.order_no).where(
                order_verifications.c.principal_id == principal_id, order_verifications.c.expires_at > _now())).scalars())
