"""Who is asking: every request's principal, from credentials the client cannot forge.

- Console users sign in with a password (argon2 hashes) and carry a signed session cookie.
- API keys are sent as ``Authorization: Bearer <key>`` on every endpoint. A key is ``k_<id>.<secret>``,
  shown once at creation; only the SHA-256 of the whole key is kept, with its role, departments,
  optional expiry and revocation.
- IM identities come from the connector's verified callback (platform, chat, sender), never from a
  field the client writes; IM rules map them to a department and a role, and customer bindings to an
  ERP customer.

The first start of an empty directory creates an ``admin`` account (password from
``ASSISTANT_AUTH__ADMIN_PASSWORD`` or generated and printed once) and, for the local command line, an
admin key in ``<data dir>/cli.key`` readable by the owner only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from assistant.domain import ApiKey, ImRule, Principal, Role, User
from assistant.errors import ConfigError
from assistant.storage.interfaces import Directory

log = logging.getLogger(__name__)

SESSION_COOKIE = "assistant_session"
CLI_KEY_FILE = "cli.key"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh API key: (its public id, the whole key to show once)."""
    key_id = f"k_{secrets.token_hex(4)}"
    return key_id, f"{key_id}.{secrets.token_urlsafe(24)}"


@dataclass(frozen=True)
class FirstRun:
    """What the first start created, to tell the person who started it (once)."""

    username: str
    password: str | None  # None when it came from the settings
    cli_key_file: Path | None


class Authenticator:
    def __init__(
        self,
        directory: Directory,
        session_secret: str,
        *,
        session_hours: float = 12.0,
        im_default_role: Role = "customer",
        im_groups: dict[str, str] | None = None,
    ):
        self.directory = directory
        self._sessions = URLSafeTimedSerializer(session_secret, salt="assistant-session")
        self._form_key = hashlib.sha256(b"assistant-form-token:" + session_secret.encode()).digest()
        self.session_seconds = int(session_hours * 3600)
        self.im_default_role = im_default_role
        self.im_groups = im_groups or {}  # "platform:chat" or "chat" -> "staff" | "customer" (settings)

    # -- console users -------------------------------------------------------------------------
    def login(self, username: str, password: str) -> Principal | None:
        stored = self.directory.password_hash(username)
        if stored is None:
            _hasher.hash(password)  # spend the same time as a real check: no user enumeration by timing
            return None
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(stored):
            self.directory.update_user(username, password_hash=hash_password(password))
        self.directory.touch_login(username)
        user = self.directory.get_user(username)
        return user_principal(user) if user else None

    def session_cookie(self, principal: Principal) -> str:
        return self._sessions.dumps({"u": principal.id.removeprefix("user:")})

    def from_session(self, cookie: str | None) -> Principal | None:
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=self.session_seconds)
        except BadSignature:
            return None
        user = self.directory.get_user(str(data.get("u", "")))
        if user is None or user.disabled:
            return None
        return user_principal(user)

    def form_token(self, cookie: str) -> str:
        """A token bound to one session cookie: the console's forms carry it, and a POST without the
        token of its own session is refused (another site can read neither the cookie nor the token)."""
        return hmac.new(self._form_key, cookie.encode(), hashlib.sha256).hexdigest()[:32]

    # -- API keys ------------------------------------------------------------------------------
    def from_bearer(self, header: str | None) -> Principal | None:
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith("k_") or len(token) > 200:
            return None
        key = self.directory.find_key(hash_key(token))
        if key is None or not key.usable(datetime.now(timezone.utc)):
            return None
        self.directory.touch_key(key.id)
        return key_principal(key)

    def create_key(self, role: Role, *, name: str = "", departments: list[str] | None = None,
                   created_by: str = "", expires_in_days: float | None = None) -> tuple[ApiKey, str]:
        key_id, key = new_key()
        expires = datetime.now(timezone.utc) + timedelta(days=expires_in_days) if expires_in_days else None
        record = self.directory.create_key(key_id, hash_key(key), role, name=name, departments_=departments or [],
                                           created_by=created_by, expires_at=expires)
        return record, key

    # -- IM identities -------------------------------------------------------------------------
    def im_principal(self, platform: str, chat_id: str, user_id: str) -> Principal:
        """The principal of a verified IM sender: the most specific matching rule decides department
        and role; the settings' audience groups, then the default role, decide when none matches."""
        rule = best_rule(self.directory.list_im_rules(), platform, chat_id, user_id)
        if rule is not None:
            role, departments = rule.role, [rule.department] if rule.department else []
        else:
            audience = self.im_groups.get(f"{platform}:{chat_id}") or self.im_groups.get(chat_id)
            role = "agent" if audience == "staff" else ("customer" if audience == "customer" else self.im_default_role)
            departments = []
        return Principal(
            kind="im", id=f"im:{platform}:{chat_id}:{user_id}", name=user_id, role=role, departments=departments,
            platform=platform, chat_id=chat_id, user_id=user_id,
            customer_id=self.directory.customer_of(platform, user_id),
        )

    # -- the first start -----------------------------------------------------------------------
    def first_run(self, data_dir: Path | None, admin_password: str | None) -> FirstRun | None:
        """Create the first admin (and the command line's key) when the directory has no user yet."""
        if self.directory.count_users():
            return None
        password = admin_password or secrets.token_urlsafe(12)
        self.directory.create_user("admin", hash_password(password), "admin", display_name="管理员")
        key_file = None
        if data_dir is not None:
            _, key = self.create_key("admin", name="local command line", created_by="first run")
            key_file = write_private(data_dir / CLI_KEY_FILE, key)
        return FirstRun("admin", None if admin_password else password, key_file)


def best_rule(rules: list[ImRule], platform: str, chat_id: str, user_id: str) -> ImRule | None:
    """The most specific rule matching the sender (user > chat > platform > any), then the lowest priority."""
    matching = [
        r for r in rules
        if (r.platform in (None, "", platform)) and (r.chat_id in (None, "", chat_id)) and (r.user_id in (None, "", user_id))
    ]
    if not matching:
        return None
    return min(matching, key=lambda r: (-(bool(r.user_id) * 4 + bool(r.chat_id) * 2 + bool(r.platform)), r.priority, r.id or 0))


def user_principal(user: User) -> Principal:
    return Principal(kind="user", id=f"user:{user.username}", name=user.display_name or user.username,
                     role=user.role, departments=user.departments)


def key_principal(key: ApiKey) -> Principal:
    return Principal(kind="api_key", id=f"key:{key.id}", name=key.name or key.id, role=key.role,
                     departments=key.departments)


LOCAL = Principal(kind="local", id="local", name="command line", role="admin")


def write_private(path: Path, text: str) -> Path:
    """Write a secret readable by the owner only (created with mode 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    return path


def session_secret(configured: str | None, data_dir: Path, shared: bool) -> str:
    """The key that signs session cookies: the setting, or one kept in the data directory. Replicas
    sharing storage must all sign alike, so there the setting is required."""
    if configured:
        return configured
    if shared:
        raise ConfigError("several replicas share this storage: set ASSISTANT_AUTH__SESSION_SECRET (the same on all)")
    path = data_dir / "session.key"
    if path.is_file():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    write_private(path, secret)
    return secret
