"""Sign-in, and the administration of accounts and permissions over HTTP.

    POST /v1/auth/login  /v1/auth/logout   GET /v1/me
    /v1/departments  /v1/users  /v1/keys  /v1/kbs/{kb}/access  /v1/im-rules  /v1/customer-bindings

Everything but sign-in takes an admin (``/v1/me`` any principal); every change is audited, and
every sign-in, successful or not. The use cases are in ``administration.py`` (the console calls them too).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from assistant.app.administration import Administration, Conflict, NotFound, TooManySignIns, WrongPassword
from assistant.app.audit_trail import Actor, act_entry
from assistant.app.auth import SESSION_COOKIE
from assistant.app.container import Services
from assistant.app.http_auth import Guard, request_id
from assistant.app.http_limits import RowId
from assistant.domain import ApiKey, CustomerBinding, Department, ImRule, Principal, Role, User
from assistant.errors import AssistantError


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class DepartmentIn(BaseModel):
    name: str = Field(max_length=64)
    description: str = Field("", max_length=500)


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    departments: list[str] = Field(default_factory=list)
    display_name: str = Field("", max_length=100)


class UserPatch(BaseModel):
    password: str | None = Field(None, min_length=8, max_length=256)
    role: Role | None = None
    departments: list[str] | None = None
    disabled: bool | None = None
    display_name: str | None = Field(None, max_length=100)


class KeyIn(BaseModel):
    name: str = Field("", max_length=100)
    role: Role
    departments: list[str] = Field(default_factory=list)
    expires_in_days: float | None = Field(None, gt=0, le=36500)


class KeyCreated(BaseModel):
    key: str = Field(description="Shown this once: only its hash is kept.")
    record: ApiKey


class KbAccess(BaseModel):
    department: str | None = None
    readers: list[str] = Field(default_factory=list)


class BindingIn(BaseModel):
    platform: str = Field(max_length=32)
    user_id: str = Field(max_length=200)
    customer_id: str = Field(max_length=64)


def admin_router(services: Services, guard: Guard, limiter) -> APIRouter:
    router = APIRouter(prefix="/v1")
    admin = Depends(guard.role("admin"))
    directory = services.directory
    administration = Administration(services, limiter)

    def actor(request: Request, principal: Principal = admin) -> Actor:
        return Actor(principal, "api", request_id(request))

    acting = Depends(actor)

    def audit(request: Request, principal: Principal, action: str, target: str = "", **more) -> None:
        services.audit.append(act_entry(principal, action, target, request_id=request_id(request), **more))

    def failing(exc: AssistantError) -> HTTPException:
        return HTTPException(400, str(exc))

    # -- signing in --------------------------------------------------------------------------
    @router.post("/auth/login", tags=["sign-in"])
    def login(body: Login, request: Request, response: Response) -> dict:
        try:
            principal = administration.sign_in(body.username, body.password, request_id=request_id(request))
        except TooManySignIns as exc:
            raise HTTPException(429, str(exc)) from exc
        except WrongPassword as exc:
            raise HTTPException(401, str(exc)) from exc
        response.set_cookie(SESSION_COOKIE, services.auth.session_cookie(principal), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=services.auth.session_seconds)
        return principal.model_dump(include={"id", "name", "role", "departments"})

    @router.post("/auth/logout", tags=["sign-in"])
    def logout(response: Response) -> dict:
        response.delete_cookie(SESSION_COOKIE)
        return {"signed_out": True}

    @router.get("/me", tags=["sign-in"])
    def me(principal: Principal = Depends(guard.principal)) -> Principal:
        return principal

    # -- departments ---------------------------------------------------------------------------
    @router.get("/departments", tags=["administration"])
    def departments(_: Principal = admin) -> list[Department]:
        return directory.list_departments()

    @router.post("/departments", status_code=201, tags=["administration"])
    def create_department(body: DepartmentIn, a: Actor = acting) -> Department:
        with _refused():
            return administration.create_department(a, body.name, body.description)

    @router.delete("/departments/{name}", tags=["administration"])
    def delete_department(name: str, a: Actor = acting) -> dict:
        with _refused():
            administration.delete_department(a, name)
        return {"deleted": name}

    # -- users ---------------------------------------------------------------------------------
    @router.get("/users", tags=["administration"])
    def users(_: Principal = admin) -> list[User]:
        return directory.list_users()

    @router.post("/users", status_code=201, tags=["administration"])
    def create_user(body: UserIn, a: Actor = acting) -> User:
        with _refused():
            return administration.create_user(a, body.username, body.password, body.role, body.departments,
                                              body.display_name)

    @router.patch("/users/{username}", tags=["administration"])
    def update_user(username: str, body: UserPatch, a: Actor = acting) -> User:
        with _refused():
            return administration.update_user(a, username, password=body.password, role=body.role,
                                              departments=body.departments, disabled=body.disabled,
                                              display_name=body.display_name)

    @router.delete("/users/{username}", tags=["administration"])
    def delete_user(username: str, a: Actor = acting) -> dict:
        with _refused():
            administration.delete_user(a, username)
        return {"deleted": username}

    # -- API keys ------------------------------------------------------------------------------
    @router.get("/keys", tags=["administration"])
    def keys(_: Principal = admin) -> list[ApiKey]:
        return directory.list_keys()

    @router.post("/keys", status_code=201, tags=["administration"])
    def create_key(body: KeyIn, a: Actor = acting) -> KeyCreated:
        with _refused():
            record, key = administration.create_key(a, body.role, name=body.name, departments=body.departments,
                                                    expires_in_days=body.expires_in_days)
        return KeyCreated(key=key, record=record)

    @router.delete("/keys/{key_id}", tags=["administration"])
    def revoke_key(key_id: str, a: Actor = acting) -> dict:
        with _refused():
            administration.revoke_key(a, key_id)
        return {"revoked": key_id}

    # -- knowledge-base permissions -----------------------------------------------------------
    @router.put("/kbs/{kb}/access", tags=["administration"])
    def kb_access(kb: str, body: KbAccess, a: Actor = acting) -> dict:
        with _refused():
            administration.set_kb_access(a, kb, body.department, body.readers)
        return {"kb": kb, **body.model_dump()}

    # -- IM identities and customers ----------------------------------------------------------
    @router.get("/im-rules", tags=["administration"])
    def im_rules(_: Principal = admin) -> list[ImRule]:
        return directory.list_im_rules()

    @router.post("/im-rules", status_code=201, tags=["administration"])
    def add_im_rule(body: ImRule, request: Request, principal: Principal = admin) -> ImRule:
        try:
            rule = directory.add_im_rule(body.model_copy(update={"id": None}))
        except AssistantError as exc:
            raise failing(exc) from exc
        audit(request, principal, "im_rule.add", str(rule.id), detail=rule.model_dump())
        return rule

    @router.delete("/im-rules/{rule_id}", tags=["administration"])
    def delete_im_rule(rule_id: RowId, request: Request, principal: Principal = admin) -> dict:
        if not directory.delete_im_rule(rule_id):
            raise HTTPException(404, f"no IM rule {rule_id}")
        audit(request, principal, "im_rule.delete", str(rule_id))
        return {"deleted": rule_id}

    @router.get("/customer-bindings", tags=["administration"])
    def bindings(_: Principal = admin) -> list[CustomerBinding]:
        return directory.list_bindings()

    @router.post("/customer-bindings", status_code=201, tags=["administration"])
    def bind(body: BindingIn, request: Request, principal: Principal = admin) -> CustomerBinding:
        binding = directory.bind_customer(body.platform, body.user_id, body.customer_id)
        audit(request, principal, "customer.bind", f"{body.platform}:{body.user_id}", detail={"customer_id": body.customer_id})
        return binding

    @router.delete("/customer-bindings/{platform}/{user_id}", tags=["administration"])
    def unbind(platform: str, user_id: str, request: Request, principal: Principal = admin) -> dict:
        if not directory.unbind_customer(platform, user_id):
            raise HTTPException(404, f"no binding for {platform}:{user_id}")
        audit(request, principal, "customer.unbind", f"{platform}:{user_id}")
        return {"deleted": f"{platform}:{user_id}"}

    return router


@contextmanager
def _refused() -> Iterator[None]:
    """The use cases' errors as HTTP: missing 404, exists or in use 409, bad input 400."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except AssistantError as exc:
        raise HTTPException(400, str(exc)) from exc
