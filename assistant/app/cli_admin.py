"""Accounts, permissions and the audit log from the command line.

    assistant departments add finance --description 财务部
    assistant users add alice --role knowledge_manager --department finance
    assistant keys create --role agent --department sales --name "sales desk"
    assistant kb access finance --department finance --reader sales
    assistant im-rules add --platform feishu --chat oc_123 --department sales --role agent
    assistant customers bind feishu ou_abc C10086
    assistant audit --kb finance --since 2026-11-01 --export csv --out audit.csv

These touch only the database (not the indexes), so they run beside a server that owns the data
directory. The person at this machine acts as the local administrator; every change is audited
with the channel ``cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from assistant.app.audit_trail import act_entry
from assistant.app.settings import load_settings
from assistant.domain import ROLES, AuditQuery, ImRule, Role
from assistant.errors import AssistantError

console = Console()
err = Console(stderr=True)

departments_app = typer.Typer(no_args_is_help=True, help="Departments: they own knowledge bases.")
users_app = typer.Typer(no_args_is_help=True, help="Console accounts.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys (Authorization: Bearer ...).")
rules_app = typer.Typer(no_args_is_help=True, help="Which IM chats and people belong to which department and role.")
customers_app = typer.Typer(no_args_is_help=True, help="IM identities bound to ERP customers (they see their orders).")

RoleOption = Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")]
DepartmentOption = Annotated[Optional[list[str]], typer.Option("--department", help="Department; repeatable.")]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _role(value: str) -> Role:
    if value not in ROLES:
        _fail(f"--role {value!r} is not a role; use one of {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


@contextmanager
def database() -> Iterator[Any]:
    """The storage's database alone (migrated), not the indexes: no data-directory lock is taken."""
    from assistant.app.container import Services
    from assistant.storage.sql.engine import migrate

    services = Services(load_settings())
    try:
        migrate(services.engine)
        yield services
    except AssistantError as exc:
        _fail(str(exc))
    finally:
        if "engine" in services.__dict__:
            services.engine.dispose()


def _audit(services: Any, action: str, target: str, **detail: Any) -> None:
    from assistant.app.auth import LOCAL

    kbs = detail.pop("kbs", None)
    services.audit.append(act_entry(LOCAL, action, target, channel="cli", kbs=kbs, detail=detail))


# -- departments -------------------------------------------------------------------------------
@departments_app.command("add")
def department_add(name: str, description: Annotated[str, typer.Option(help="e.g. 财务部")] = "") -> None:
    """Create a department (name: lower-case letters, digits, '-' or '_'; the description may be Chinese)."""
    with database() as services:
        if not services.directory.create_department(name, description):
            _fail(f"department {name!r} exists already")
        _audit(services, "department.create", name)
    console.print(f"created department {name}")


@departments_app.command("list")
def department_list() -> None:
    with database() as services:
        table = Table("name", "description", "knowledge bases")
        owned: dict[str, list[str]] = {}
        for kb in services.catalog.list_kbs():
            if kb.department:
                owned.setdefault(kb.department, []).append(kb.name)
        for d in services.directory.list_departments():
            table.add_row(d.name, d.description, ", ".join(owned.get(d.name, [])))
        console.print(table)


@departments_app.command("delete")
def department_delete(name: str) -> None:
    with database() as services:
        if not services.directory.delete_department(name):
            _fail(f"no department {name!r}")
        _audit(services, "department.delete", name)
    console.print(f"deleted department {name}")


# -- users -------------------------------------------------------------------------------------
def _password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        _fail("a password takes at least 8 characters")
    return password


@users_app.command("add")
def user_add(
    username: str,
    role: RoleOption,
    department: DepartmentOption = None,
    display_name: Annotated[str, typer.Option("--name", help="Shown in the console, e.g. 张三.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a console account; asks for its password (or reads it from stdin)."""
    from assistant.app.auth import hash_password

    checked = _role(role)
    password = _password(password_stdin)
    with database() as services:
        services.directory.create_user(username, hash_password(password), checked, department or [], display_name)
        _audit(services, "user.create", username, role=checked, departments=department or [])
    console.print(f"created {checked} {username}")


@users_app.command("list")
def user_list() -> None:
    with database() as services:
        table = Table("user", "name", "role", "departments", "disabled", "last sign-in")
        for u in services.directory.list_users():
            table.add_row(u.username, u.display_name, u.role, ", ".join(u.departments), "yes" if u.disabled else "",
                          f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "")
        console.print(table)


@users_app.command("set")
def user_set(
    username: str,
    role: Annotated[Optional[str], typer.Option("--role")] = None,
    department: DepartmentOption = None,
    disable: Annotated[Optional[bool], typer.Option("--disable/--enable", help="Stop or allow sign-ins.")] = None,
    password: Annotated[bool, typer.Option("--password", help="Set a new password (asked for).")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Change an account's role, departments (the list given replaces the old one), password or state."""
    from assistant.app.auth import hash_password

    checked = _role(role) if role else None
    new_hash = hash_password(_password(password_stdin)) if (password or password_stdin) else None
    with database() as services:
        user = services.directory.update_user(username, role=checked, departments_=department, disabled=disable,
                                              password_hash=new_hash)
        if user is None:
            _fail(f"no user {username!r}; see `assistant users list`")
        _audit(services, "user.update", username, role=checked, departments=department, disabled=disable,
               password_changed=new_hash is not None)
    console.print(f"updated {username}")


@users_app.command("delete")
def user_delete(username: str) -> None:
    with database() as services:
        if not services.directory.delete_user(username):
            _fail(f"no user {username!r}")
        _audit(services, "user.delete", username)
    console.print(f"deleted {username}")


# -- API keys ----------------------------------------------------------------------------------
@keys_app.command("create")
def key_create(
    role: RoleOption,
    department: DepartmentOption = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    expires_days: Annotated[Optional[float], typer.Option("--expires-days", min=0.01)] = None,
) -> None:
    """Create an API key; it is printed once (only its hash is kept)."""
    checked = _role(role)
    with database() as services:
        record, key = services.auth.create_key(checked, name=name, departments=department or [], created_by="local",
                                               expires_in_days=expires_days)
        _audit(services, "key.create", record.id, role=checked, departments=department or [])
    err.print(f"created key {record.id} ({checked}); it is shown this once:", highlight=False)
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def key_list() -> None:
    with database() as services:
        table = Table("id", "name", "role", "departments", "expires", "revoked", "last used")
        for k in services.directory.list_keys():
            table.add_row(k.id, k.name, k.role, ", ".join(k.departments),
                          f"{k.expires_at:%Y-%m-%d}" if k.expires_at else "", "yes" if k.revoked_at else "",
                          f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "")
        console.print(table)


@keys_app.command("revoke")
def key_revoke(key_id: str) -> None:
    with database() as services:
        if not services.directory.revoke_key(key_id):
            _fail(f"no usable key {key_id!r}; see `assistant keys list`")
        _audit(services, "key.revoke", key_id)
    console.print(f"revoked {key_id}")


# -- knowledge-base access ---------------------------------------------------------------------
def kb_access(
    name: str,
    department: Annotated[Optional[str], typer.Option("--department", help="The owning department.")] = None,
    open_: Annotated[bool, typer.Option("--open", help="Owned by no department: every principal reads it.")] = False,
    reader: Annotated[Optional[list[str]], typer.Option("--reader", help="Another department that reads it.")] = None,
) -> None:
    """Give a knowledge base its owning department and reading departments."""
    if open_ == (department is not None):
        _fail("say either --department NAME or --open")
    with database() as services:
        known = {d.name for d in services.directory.list_departments()}
        missing = sorted({d for d in [department, *(reader or [])] if d} - known)
        if missing:
            _fail(f"no department {', '.join(missing)}; create it with `assistant departments add`")
        services.catalog.set_kb_access(name, department, reader or [])
        _audit(services, "kb.access", name, kbs=[name], department=department, readers=reader or [])
    console.print(f"{name}: " + (f"owned by {department}" if department else "open to every department")
                  + (f", read also by {', '.join(reader)}" if reader else ""))


# -- IM rules and customers --------------------------------------------------------------------
@rules_app.command("add")
def rule_add(
    role: RoleOption,
    platform: Annotated[Optional[str], typer.Option(help="dingtalk, feishu, wecom, wecom_bot; empty: any.")] = None,
    chat: Annotated[Optional[str], typer.Option(help="The platform's chat / group id; empty: any.")] = None,
    user: Annotated[Optional[str], typer.Option(help="The platform's user id; empty: anyone.")] = None,
    department: Annotated[Optional[str], typer.Option()] = None,
    priority: Annotated[int, typer.Option(help="Among equally specific rules, the lowest wins.")] = 100,
    note: Annotated[str, typer.Option()] = "",
) -> None:
    """Map IM senders to a department and a role (the most specific matching rule wins)."""
    rule = ImRule(platform=platform, chat_id=chat, user_id=user, department=department, role=_role(role),
                  priority=priority, note=note)
    with database() as services:
        added = services.directory.add_im_rule(rule)
        _audit(services, "im_rule.add", str(added.id), **added.model_dump(exclude={"id"}))
    console.print(f"added rule {added.id}")


@rules_app.command("list")
def rule_list() -> None:
    with database() as services:
        table = Table("id", "platform", "chat", "user", "department", "role", "priority", "note")
        for r in services.directory.list_im_rules():
            table.add_row(str(r.id), r.platform or "*", r.chat_id or "*", r.user_id or "*", r.department or "",
                          r.role, str(r.priority), r.note)
        console.print(table)


@rules_app.command("delete")
def rule_delete(rule_id: int) -> None:
    with database() as services:
        if not services.directory.delete_im_rule(rule_id):
            _fail(f"no rule {rule_id}")
        _audit(services, "im_rule.delete", str(rule_id))
    console.print(f"deleted rule {rule_id}")


@customers_app.command("bind")
def customer_bind(platform: str, user_id: str, customer_id: str) -> None:
    """This IM identity is this ERP customer: in customer chats they see that customer's orders."""
    with database() as services:
        services.directory.bind_customer(platform, user_id, customer_id)
        _audit(services, "customer.bind", f"{platform}:{user_id}", customer_id=customer_id)
    console.print(f"{platform}:{user_id} → {customer_id}")


@customers_app.command("unbind")
def customer_unbind(platform: str, user_id: str) -> None:
    with database() as services:
        if not services.directory.unbind_customer(platform, user_id):
            _fail(f"no binding for {platform}:{user_id}")
        _audit(services, "customer.unbind", f"{platform}:{user_id}")
    console.print(f"unbound {platform}:{user_id}")


@customers_app.command("list")
def customer_list() -> None:
    with database() as services:
        table = Table("platform", "user", "customer")
        for b in services.directory.list_bindings():
            table.add_row(b.platform, b.user_id, b.customer_id)
        console.print(table)


# -- the audit log -----------------------------------------------------------------------------
def audit(
    since: Annotated[Optional[datetime], typer.Option(help="From this time (YYYY-MM-DD[ HH:MM]).")] = None,
    until: Annotated[Optional[datetime], typer.Option(help="Before this time.")] = None,
    principal: Annotated[Optional[str], typer.Option(help="e.g. user:alice, key:k_1a2b, im:feishu:oc_x:ou_y")] = None,
    department: Annotated[Optional[str], typer.Option()] = None,
    kb: Annotated[Optional[str], typer.Option()] = None,
    doc: Annotated[Optional[str], typer.Option(help="Rows citing or changing this document id.")] = None,
    refused: Annotated[Optional[bool], typer.Option("--refused/--answered")] = None,
    kind: Annotated[Optional[str], typer.Option(help="question, admin or login.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows shown (exports take all).")] = 30,
    export: Annotated[Optional[str], typer.Option(help="jsonl or csv: every matching row.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Export to this file (default: stdout).")] = None,
) -> None:
    """Read the audit log: newest first, filtered; or export every matching row."""
    from assistant.app.routes_audit import csv_rows

    if kind not in (None, "question", "admin", "login"):
        _fail("--kind is question, admin or login")
    if export not in (None, "jsonl", "csv"):
        _fail("--export is jsonl or csv")
    query = AuditQuery(since=since, until=until, principal=principal, department=department, kb=kb, doc=doc,
                       refused=refused, kind=kind, limit=limit)  # type: ignore[arg-type]
    with database() as services:
        if export:
            entries = services.audit.iterate(query)
            chunks = (e.model_dump_json() + "\n" for e in entries) if export == "jsonl" else csv_rows(entries)
            target = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
            try:
                for chunk in chunks:
                    target.write(chunk)
            finally:
                if out:
                    target.close()
            _audit(services, "audit.export", export, **query.model_dump(mode="json", exclude_none=True, exclude={"limit"}))
            if out:
                err.print(f"exported to {out}")
            return
        table = Table("id", "time", "who", "channel", "what", "KBs", "sources", "ms")
        for e in services.audit.query(query):
            what = e.question if e.kind == "question" else f"{e.action} {e.target}"
            if e.refused:
                what = f"[yellow]{what} (refused)[/]"
            sources = ", ".join(f"{s.get('doc_id')}@{s.get('version') or '-'}" for s in e.sources)
            table.add_row(str(e.id), f"{e.at:%m-%d %H:%M:%S}", e.principal_id, e.channel, what, ", ".join(e.kbs),
                          sources, f"{e.latency_ms:.0f}" if e.latency_ms is not None else "")
        console.print(table)


def register(app: typer.Typer, kb_app: typer.Typer) -> None:
    app.add_typer(departments_app, name="departments")
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(rules_app, name="im-rules")
    app.add_typer(customers_app, name="customers")
    app.command("audit")(audit)
    kb_app.command("access")(kb_access)
