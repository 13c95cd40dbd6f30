"""Routing rules over HTTP.

    GET/POST /v1/rules    GET/PUT/DELETE /v1/rules/{id}    POST /v1/rules/{id}/move
    GET /v1/rules/{id}/history    POST /v1/rules/test

Admins and knowledge managers read; admins change (every change audited, a new version each). A rule
that does not hold together, or names a knowledge base, department, tool or backend this server does
not have, is a 400 naming the field; an unknown id a 404; a ``version`` that is not the rule's current
one (someone saved it meanwhile) a 409.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError

from assistant.app.audit_trail import Actor
from assistant.app.container import Services
from assistant.app.http_auth import Guard, request_id
from assistant.app.http_limits import RowId
from assistant.app.routing import RoutingRules, RuleTrial
from assistant.domain import (
    Language,
    Principal,
    Role,
    RoutingRule,
    RuleSpec,
    RuleVersion,
)
from assistant.errors import InvalidRule, RuleConflict, UnknownRule

BOOKKEEPING = ("id", "position", "updated_at", "updated_by", "source")  # sent back from a GET: ignored
RULE_EXAMPLE = {
    "name": "发票问题找财务", "enabled": True,
    "match": {"keywords": ["发票", "invoice"], "chats": ["oc_finance_group"], "platforms": ["feishu"]},
    "action": {"kbs": ["finance"], "style": "steps", "tools": [], "backend": None, "prompt": None},
}


class Move(BaseModel):
    position: int = Field(ge=1, description="1 is tried first; beyond the last puts it last.")


class TrialIn(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    platform: str | None = Field(None, max_length=32, description="feishu, dingtalk, wecom, wecom_bot, or api ...")
    chat_id: str | None = Field(None, max_length=300)
    user_id: str | None = Field(None, max_length=300)
    department: str | None = Field(None, max_length=64)
    departments: list[str] | None = None
    role: Role | None = Field(None, description="Default: what the IM rules say for the chat, else agent.")
    language: Language | None = Field(None, description="Default: detected from the question.")


def _spec(body: dict[str, Any]) -> RuleSpec:
    try:
        return RuleSpec.model_validate(body)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors(include_url=False, include_input=False)]
        raise HTTPException(400, "; ".join(problems)) from None


def _counting(field: str, value: Any) -> int | None:
    """An optional whole number from 1 (a position, a version), or a 400 naming the field."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HTTPException(400, f"{field}: a whole number from 1")
    return value


def rules_router(services: Services, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/v1/rules", tags=["routing rules"])
    reader = Depends(guard.role("knowledge_manager"))  # and admin
    admin = Depends(guard.role("admin"))
    rules = RoutingRules(services)

    def actor(request: Request, principal: Principal) -> Actor:
        return Actor(principal, channel="api", request_id=request_id(request))

    @router.get("")
    def list_rules(_: Principal = reader) -> list[RoutingRule]:
        """Every rule, in the order they are tried."""
        return rules.list_rules()

    @router.post("", status_code=201)
    def create_rule(request: Request, body: dict[str, Any] = Body(examples=[RULE_EXAMPLE]),
                    principal: Principal = admin) -> RoutingRule:
        """A new rule, tried last (or at ``position``)."""
        position = _counting("position", body.pop("position", None))
        try:
            return rules.create(_spec(body), actor(request, principal), position=position)
        except InvalidRule as exc:
            raise HTTPException(400, str(exc)) from exc

    @router.post("/test")
    def test_rule(body: TrialIn, _: Principal = reader) -> RuleTrial:
        """Which rule a question from this asker would meet, and which knowledge bases it would search."""
        departments = body.departments if body.departments is not None else (
            [body.department] if body.department else None)
        return rules.try_rule(body.question, platform=body.platform, chat_id=body.chat_id, user_id=body.user_id,
                              departments=departments, role=body.role, language=body.language)

    @router.get("/{rule_id}")
    def get_rule(rule_id: RowId, _: Principal = reader) -> RoutingRule:
        try:
            return rules.get(rule_id)
        except UnknownRule as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.put("/{rule_id}")
    def update_rule(rule_id: RowId, request: Request, body: dict[str, Any] = Body(examples=[RULE_EXAMPLE]),
                    principal: Principal = admin) -> RoutingRule:
        """Save the rule's new form as its next version; send the ``version`` you read to be told (409)
        when someone saved it meanwhile."""
        expected = _counting("version", body.pop("version", None))
        for key in BOOKKEEPING:
            body.pop(key, None)
        try:
            return rules.update(rule_id, _spec(body), actor(request, principal), expected_version=expected)
        except UnknownRule as exc:
            raise HTTPException(404, str(exc)) from exc
        except InvalidRule as exc:
            raise HTTPException(400, str(exc)) from exc
        except RuleConflict as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.delete("/{rule_id}")
    def delete_rule(rule_id: RowId, request: Request, principal: Principal = admin) -> RoutingRule:
        """Remove the rule; its history keeps it, the deletion as its last version."""
        try:
            return rules.delete(rule_id, actor(request, principal))
        except UnknownRule as exc:
            raise HTTPException(404, str(exc)) from exc

    @router.post("/{rule_id}/move")
    def move_rule(rule_id: RowId, body: Move, request: Request, principal: Principal = admin) -> list[RoutingRule]:
        """Put the rule at ``position``; answers every rule in the new order."""
        try:
            rules.move(rule_id, body.position, actor(request, principal))
        except UnknownRule as exc:
            raise HTTPException(404, str(exc)) from exc
        return rules.list_rules()

    @router.get("/{rule_id}/history")
    def rule_history(rule_id: RowId, _: Principal = reader) -> list[RuleVersion]:
        """Every saved state of the rule, oldest first, with who and when (deleted rules too)."""
        try:
            return rules.history(rule_id)
        except UnknownRule as exc:
            raise HTTPException(404, str(exc)) from exc

    return router
