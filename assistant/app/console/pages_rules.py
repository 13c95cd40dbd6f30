"""Routing rules: the ordered list, a rule's form and its version history, and the tester.

The same use cases as ``/v1/rules`` (``assistant/app/routing.py``): admins and knowledge managers
read the rules and use the tester, admins create, edit, reorder and delete (each change a new version,
audited with the channel ``console``). A rule naming what this server does not have is shown again
with the field named; saving over someone else's newer version says so (the form carries the version
it was read at).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from assistant.app.console.web import ADMINS, MANAGERS, PageError, Pages, Viewer, with_query
from assistant.app.routing import DOORS, IM_PLATFORMS, RoutingRules, RuleTrial
from assistant.domain import RoutingRule, RuleSpec
from assistant.errors import InvalidRule, RuleConflict, UnknownRule

ROLES = ("admin", "knowledge_manager", "agent", "customer")
LANGUAGES = ("zh", "en", "mixed")
STYLES = ("brief", "steps", "detailed")
NOTICES = ("rule_created", "rule_saved", "rule_deleted", "rule_moved")


@dataclass
class RuleForm:
    """What the rule form shows: the fields as typed (so a refused form comes back as it was sent)."""

    name: str = ""
    enabled: bool = True
    keywords: str = ""
    pattern: str = ""
    platforms: list[str] = field(default_factory=list)
    chats: str = ""
    departments: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    kbs: list[str] = field(default_factory=list)
    style: str = ""
    prompt: str = ""
    tools_mode: str = ""  # "": as without the rule; "none": no tools; "only": the listed ones
    tools: str = ""
    backend: str = ""
    version: int | None = None
    position: int | None = None

    @classmethod
    def of(cls, rule: RoutingRule) -> RuleForm:
        m, a = rule.match, rule.action
        return cls(name=rule.name, enabled=rule.enabled, keywords=", ".join(m.keywords), pattern=m.pattern or "",
                   platforms=list(m.platforms), chats=", ".join(m.chats), departments=list(m.departments),
                   roles=list(m.roles), languages=list(m.languages), kbs=list(a.kbs or []), style=a.style or "",
                   prompt=a.prompt or "", tools_mode="" if a.tools is None else ("only" if a.tools else "none"),
                   tools=", ".join(a.tools or []), backend=a.backend or "", version=rule.version,
                   position=rule.position)

    @classmethod
    def sent(cls, data: FormData) -> RuleForm:
        def number(name: str) -> int | None:
            value = str(data.get(name) or "").strip()
            return int(value) if value.isdigit() and int(value) > 0 else None

        return cls(name=str(data.get("name") or "").strip(), enabled=data.get("enabled") == "on",
                   keywords=str(data.get("keywords") or ""), pattern=str(data.get("pattern") or "").strip(),
                   platforms=_all(data, "platforms"), chats=str(data.get("chats") or ""),
                   departments=_all(data, "departments"), roles=_all(data, "roles"),
                   languages=_all(data, "languages"), kbs=_all(data, "kbs"), style=str(data.get("style") or ""),
                   prompt=str(data.get("prompt") or "").strip(), tools_mode=str(data.get("tools_mode") or ""),
                   tools=str(data.get("tools") or ""), backend=str(data.get("backend") or ""),
                   version=number("version"), position=number("position"))

    def spec(self) -> RuleSpec:
        """The rule this form describes; ``InvalidRule`` names the first field that does not hold."""
        body = {
            "name": self.name, "enabled": self.enabled,
            "match": {"keywords": _split(self.keywords), "pattern": self.pattern or None, "platforms": self.platforms,
                      "chats": _split(self.chats), "departments": self.departments, "roles": self.roles,
                      "languages": self.languages},
            "action": {"kbs": self.kbs or None, "style": self.style or None, "prompt": self.prompt or None,
                       "tools": None if self.tools_mode == "" else ([] if self.tools_mode == "none" else
                                                                    _split(self.tools)),
                       "backend": self.backend or None},
        }
        try:
            return RuleSpec.model_validate(body)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"] if not isinstance(part, int)) or "rule"
            raise InvalidRule(where, first["msg"].removeprefix("Value error, ")) from None


def _shown(rule: RoutingRule) -> str:
    """A saved state of a rule as readable JSON (only what was set), for the history table."""
    return json.dumps(rule.spec().model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)


def _all(data: FormData, name: str) -> list[str]:
    return [str(v) for v in data.getlist(name) if str(v)]


def _split(text: str) -> list[str]:
    """Comma-, semicolon- or line-separated words (Chinese punctuation too)."""
    return [part.strip() for part in re.split(r"[,，;；\n]", text) if part.strip()]


def rules_router(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/console/admin/rules", include_in_schema=False)
    services = pages.services
    rules = RoutingRules(services)

    def choices() -> dict:
        s = services
        registry = s.tool_stage.registry if s.tool_stage is not None else None
        return {
            "platforms": [*IM_PLATFORMS, *DOORS], "roles": ROLES, "languages": LANGUAGES, "styles": STYLES,
            "all_departments": [d.name for d in s.directory.list_departments()],
            "all_kbs": [kb.name for kb in s.catalog.list_kbs()],
            "tool_names": [t["function"]["name"] for t in registry.specs()] if registry is not None else [],
            "backends": [b.name for b in s.answer_chain.backends] + ["extractive"],
        }

    def listing(request: Request, viewer: Viewer, *, status: int = 200, error: str = "", form: RuleForm | None = None,
                trial: RuleTrial | None = None, asked: dict | None = None) -> Response:
        t = pages.translator(request)
        notice = request.query_params.get("notice")
        return pages.render(request, "rules.html", viewer, status=status, active="rules", rules=rules.list_rules(),
                            may_change=viewer.may(ADMINS), form=form or RuleForm(), error=error, trial=trial,
                            asked=asked or {}, notice=t(f"notice.{notice}") if notice in NOTICES else "", choices=choices())

    def one(request: Request, viewer: Viewer, rule_id: int, *, status: int = 200, error: str = "",
            form: RuleForm | None = None) -> Response:
        try:
            rule = rules.get(rule_id)
        except UnknownRule as exc:
            raise PageError(404, "error.no_rule", str(rule_id)) from exc
        t = pages.translator(request)
        notice = request.query_params.get("notice")
        return pages.render(request, "rule.html", viewer, status=status, active="rules", rule=rule,
                            history=[(v, _shown(v.rule)) for v in reversed(rules.history(rule_id))],
                            may_change=viewer.may(ADMINS),
                            form=form or RuleForm.of(rule), error=error, count=len(rules.list_rules()),
                            notice=t(f"notice.{notice}") if notice in NOTICES else "", choices=choices())

    def refused(request: Request, exc: InvalidRule) -> str:
        return f"{pages.translator(request)('error.not_done')}: {exc}"  # the rule's own words name the field

    @router.get("")
    def rule_list(request: Request, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        return listing(request, viewer)

    @router.post("")
    async def create(request: Request, viewer: Viewer = Depends(pages.form(*ADMINS))) -> Response:
        form = RuleForm.sent(await request.form())
        try:
            rule = rules.create(form.spec(), pages.actor(request, viewer), position=form.position)
        except InvalidRule as exc:
            return listing(request, viewer, status=400, error=refused(request, exc), form=form)
        return RedirectResponse(with_query(f"/console/admin/rules/{rule.id}", notice="rule_created"), 303)

    @router.post("/test")
    async def trial(request: Request, viewer: Viewer = Depends(pages.form(*MANAGERS))) -> Response:
        t = pages.translator(request)
        data = await request.form()
        asked = {name: str(data.get(name) or "").strip() for name in
                 ("question", "platform", "chat_id", "user_id", "department", "role", "language")}
        if not asked["question"] or len(asked["question"]) > 4000:
            return listing(request, viewer, status=400, asked=asked,
                           error=f"{t('rules.test.question')}: {t('ask.bad_question', max=4000)}")
        found = rules.try_rule(
            asked["question"], platform=asked["platform"] or None, chat_id=asked["chat_id"] or None,
            user_id=asked["user_id"] or None, departments=[asked["department"]] if asked["department"] else None,
            role=asked["role"] if asked["role"] in ROLES else None,  # type: ignore[arg-type]
            language=asked["language"] if asked["language"] in LANGUAGES else None,  # type: ignore[arg-type]
        )
        return listing(request, viewer, trial=found, asked=asked)

    @router.get("/{rule_id}")
    def rule_page(request: Request, rule_id: int, viewer: Viewer = Depends(pages.page(*MANAGERS))) -> Response:
        return one(request, viewer, rule_id)

    @router.post("/{rule_id}")
    async def save(request: Request, rule_id: int, viewer: Viewer = Depends(pages.form(*ADMINS))) -> Response:
        form = RuleForm.sent(await request.form())
        try:
            rules.update(rule_id, form.spec(), pages.actor(request, viewer), expected_version=form.version)
        except UnknownRule as exc:
            raise PageError(404, "error.no_rule", str(rule_id)) from exc
        except InvalidRule as exc:
            return one(request, viewer, rule_id, status=400, error=refused(request, exc), form=form)
        except RuleConflict:
            return one(request, viewer, rule_id, status=409, form=form,
                       error=pages.translator(request)("rules.conflict"))
        return RedirectResponse(with_query(f"/console/admin/rules/{rule_id}", notice="rule_saved"), 303)

    @router.post("/{rule_id}/move")
    async def move(request: Request, rule_id: int, viewer: Viewer = Depends(pages.form(*ADMINS))) -> Response:
        data = await request.form()
        value = str(data.get("position") or "").strip()
        if not value.isdigit() or int(value) < 1:
            return listing(request, viewer, status=400,
                           error=f"{pages.translator(request)('rules.position')}: {pages.translator(request)('rules.position_rule')}")
        try:
            rules.move(rule_id, int(value), pages.actor(request, viewer))
        except UnknownRule as exc:
            raise PageError(404, "error.no_rule", str(rule_id)) from exc
        return RedirectResponse(with_query("/console/admin/rules", notice="rule_moved"), 303)

    @router.post("/{rule_id}/delete")
    def delete(request: Request, rule_id: int, viewer: Viewer = Depends(pages.form(*ADMINS))) -> Response:
        try:
            rules.delete(rule_id, pages.actor(request, viewer))
        except UnknownRule as exc:
            raise PageError(404, "error.no_rule", str(rule_id)) from exc
        return RedirectResponse(with_query("/console/admin/rules", notice="rule_deleted"), 303)

    return router
