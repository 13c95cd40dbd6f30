"""Accounts and permissions as use cases, called alike by the HTTP API and the console.

Signing in is limited per account (``SIGN_INS_PER_15_MIN``) and every attempt is audited, failed or
not. Every change names its actor and goes into the audit log; the errors say what was wrong:
``NotFound`` (no such user, key or department), ``Conflict`` (exists already, or still in use), and
any other ``AssistantError`` for input the directory refuses (an invalid name, a missing department).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.app.audit_trail import Actor, act_entry
from assistant.app.auth import hash_password
from assistant.app.container import Services
from assistant.domain import ApiKey, Department, Principal, Role, User
from assistant.errors import AssistantError

# Attempts per account (right or wrong) in 15 minutes: enough for a day of tabs, browsers and the
# console's tests, few enough that guessing a password is hopeless (under 3,000 a day).
SIGN_INS_PER_15_MIN = 30


class NotFound(AssistantError):
    """The user, key, department or knowledge base named does not exist."""


class Conflict(AssistantError):
    """It exists already, or something still depends on it."""


class WrongPassword(AssistantError):
    def __init__(self) -> None:
        super().__init__("wrong user name or password")


class TooManySignIns(AssistantError):
    def __init__(self) -> None:
        super().__init__("too many sign-in attempts for this account; wait 15 minutes")


class Administration:
    def __init__(self, services: Services, limiter: Any):
        self.services = services
        self.directory = services.directory
        self.limiter = limiter  # the sliding window of ``asking.Limiter``

    def _audit(self, actor: Actor, action: str, target: str, **more: Any) -> None:
        more.setdefault("channel", actor.channel)
        self.services.audit.append(act_entry(actor.principal, action, target, request_id=actor.request_id, **more))

    # -- signing in --------------------------------------------------------------------------
    def sign_in(self, username: str, password: str, *, request_id: str = "") -> Principal:
        """The user's principal for a right password; the attempt is audited with the channel ``console``."""
        if not self.limiter.allow(f"login:{username}", SIGN_INS_PER_15_MIN, 900):
            raise TooManySignIns()
        principal = self.services.auth.login(username, password)
        if principal is None:
            who = Principal(kind="user", id=f"user:{username}", name=username, role="agent")
            self._audit(Actor(who, "console", request_id), "login.failed", username, status="denied")
            raise WrongPassword()
        self._audit(Actor(principal, "console", request_id), "login", principal.id)
        return principal

    # -- departments ---------------------------------------------------------------------------
    def create_department(self, actor: Actor, name: str, description: str = "") -> Department:
        if not self.directory.create_department(name, description):
            raise Conflict(f"department {name!r} exists already")
        self._audit(actor, "department.create", name)
        return Department(name=name, description=description)

    def delete_department(self, actor: Actor, name: str) -> None:
        try:
            deleted = self.directory.delete_department(name)
        except AssistantError as exc:  # it still owns knowledge bases, or IM rules name it
            raise Conflict(str(exc)) from exc
        if not deleted:
            raise NotFound(f"no department {name!r}")
        self._audit(actor, "department.delete", name)

    # -- users ---------------------------------------------------------------------------------
    def create_user(self, actor: Actor, username: str, password: str, role: Role, departments: Sequence[str] = (),
                    display_name: str = "") -> User:
        user = self.directory.create_user(username, hash_password(password), role, list(departments), display_name)
        self._audit(actor, "user.create", username, detail={"role": role, "departments": list(departments)})
        return user

    def update_user(self, actor: Actor, username: str, *, password: str | None = None, role: Role | None = None,
                    departments: Sequence[str] | None = None, disabled: bool | None = None,
                    display_name: str | None = None) -> User:
        user = self.directory.update_user(
            username, role=role, departments_=list(departments) if departments is not None else None,
            disabled=disabled, display_name=display_name,
            password_hash=hash_password(password) if password else None,
        )
        if user is None:
            raise NotFound(f"no user {username!r}")
        changed = {k: v for k, v in {"role": role, "departments": departments, "disabled": disabled,
                                     "display_name": display_name}.items() if v is not None}
        self._audit(actor, "user.update", username, detail={**changed, "password_changed": password is not None})
        return user

    def delete_user(self, actor: Actor, username: str) -> None:
        if actor.principal.id == f"user:{username}":
            raise AssistantError("an admin cannot delete their own account; another admin can")
        if not self.directory.delete_user(username):
            raise NotFound(f"no user {username!r}")
        self._audit(actor, "user.delete", username)

    # -- API keys ------------------------------------------------------------------------------
    def create_key(self, actor: Actor, role: Role, *, name: str = "", departments: Sequence[str] = (),
                   expires_in_days: float | None = None) -> tuple[ApiKey, str]:
        """A new key: its record, and the key itself (shown this once; only its hash is kept)."""
        record, key = self.services.auth.create_key(role, name=name, departments=list(departments),
                                                    created_by=actor.principal.id, expires_in_days=expires_in_days)
        self._audit(actor, "key.create", record.id, detail={"role": role, "departments": list(departments)})
        return record, key

    def revoke_key(self, actor: Actor, key_id: str) -> None:
        if not self.directory.revoke_key(key_id):
            raise NotFound(f"no usable key {key_id!r}")
        self._audit(actor, "key.revoke", key_id)

    # -- knowledge-base permissions -----------------------------------------------------------
    def set_kb_access(self, actor: Actor, kb: str, department: str | None, readers: Sequence[str] = ()) -> None:
        known = {d.name for d in self.directory.list_departments()}
        missing = sorted({d for d in [department, *readers] if d} - known)
        if missing:
            raise AssistantError(f"no department {', '.join(missing)}; create it first")
        if not self.services.catalog.kb_exists(kb):
            raise NotFound(f"knowledge base {kb!r} does not exist")
        self.services.catalog.set_kb_access(kb, department, readers)
        self._audit(actor, "kb.access", kb, kbs=[kb], detail={"department": department, "readers": list(readers)})
