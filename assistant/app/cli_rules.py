"""Routing rules from the command line: read them and try a question against them.

    assistant rules list
    assistant rules test "电子发票怎么开？" --platform feishu --chat oc_123 [--role agent --department finance]
    assistant rules history 3

They touch only the database, so they run beside a server. Rules are changed over the HTTP API
(``/v1/rules``) or the console, where each change is checked against the server's backends and tools.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from assistant.app.cli_admin import database
from assistant.domain import ROLES, RoutingRule

console = Console()
err = Console(stderr=True)
routing_app = typer.Typer(no_args_is_help=True,
                          help="Routing rules: which knowledge bases, style, tools and model a question gets.")


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _shown(values: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in values.items() if v not in (None, []))


@routing_app.command("list")
def rules_list() -> None:
    """Every rule, in the order they are tried (the first enabled one that matches decides)."""
    from assistant.app.routing import RoutingRules

    with database() as services:
        table = Table("#", "id", "name", "on", "matches", "chooses", "version", "source", "by")
        for r in RoutingRules(services).list_rules():
            table.add_row(str(r.position), str(r.id), r.name, "yes" if r.enabled else "no",
                          _shown(r.match.model_dump()), _shown(r.action.model_dump()), str(r.version), r.source,
                          r.updated_by)
        console.print(table)


@routing_app.command("test")
def rules_test(
    question: str,
    platform: Annotated[Optional[str], typer.Option(help="feishu, dingtalk, wecom, wecom_bot; or api, cli.")] = None,
    chat: Annotated[Optional[str], typer.Option(help="The chat / group id.")] = None,
    user: Annotated[Optional[str], typer.Option(help="The platform's user id.")] = None,
    department: Annotated[Optional[list[str]], typer.Option("--department", help="Repeatable.")] = None,
    role: Annotated[Optional[str], typer.Option(help="Default: the IM rules' for the chat, else agent.")] = None,
    language: Annotated[Optional[str], typer.Option(help="zh, en or mixed; default: detected.")] = None,
) -> None:
    """Which rule a question from this asker meets, and which knowledge bases it would search."""
    from assistant.app.routing import RoutingRules

    if language not in (None, "zh", "en", "mixed"):
        _fail(f"--language {language!r}: use zh, en or mixed")
    if role is not None and role not in ROLES:
        _fail(f"--role {role!r} is not a role; use one of {', '.join(ROLES)}")
    with database() as services:
        trial = RoutingRules(services).try_rule(question, platform=platform, chat_id=chat, user_id=user,
                                                departments=department, role=role,  # type: ignore[arg-type]
                                                language=language)  # type: ignore[arg-type]
    asker = f"{trial.role}" + (f" of {', '.join(trial.departments)}" if trial.departments else "")
    rule: RoutingRule | None = trial.rule
    console.print(f"rule: #{rule.id} {rule.name} (v{rule.version})" if rule else "rule: none matches", highlight=False)
    console.print(f"asked as: {asker}, language {trial.language}", highlight=False)
    console.print(f"searches: {', '.join(trial.kbs) or 'nothing'}", highlight=False)
    if trial.dropped:
        console.print(f"left out (this asker may not read them): {', '.join(trial.dropped)}", highlight=False)


@routing_app.command("history")
def rules_history(rule_id: int) -> None:
    """Every saved state of a rule, oldest first (a deleted rule's too)."""
    from assistant.app.routing import RoutingRules

    with database() as services:  # an unknown id is said and exits 1
        versions = RoutingRules(services).history(rule_id)
        table = Table("version", "change", "when", "by", "name", "matches", "chooses")
        for v in versions:
            table.add_row(str(v.version), v.change, f"{v.at:%Y-%m-%d %H:%M:%S}", v.by, v.rule.name,
                          _shown(v.rule.match.model_dump()), _shown(v.rule.action.model_dump()))
        console.print(table)
