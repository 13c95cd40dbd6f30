"""Sign-in, and the administration of accounts and permissions over HTTP.

    POST /v1/auth/login  /v1/auth/logout   GET /v1/me
    /v1/departments  /v1/users  /v1/keys  /v1/kbs/{kb}/access  /v1/im-rules  /v1/customer-bindings

Everything but sign-in takes an admin (``/v1/me`` any principal); every change is audited, and
every sign-in, successful or not.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from assistant.app.audit_trail import act_entry
from assistant.app.auth import SESSION_COOKIE, hash_password
from assistant.app.container import Services
from assistant.app.http_auth import Guard, request_id
from assistant.domain import ApiKey, CustomerBinding, Department, ImRule, Principal, Role, User
from assistant.errors import AssistantError

LOGIN_ATTEMPTS_PER_15_MIN = 10


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
    expires_in_days: float | None = Field(None, gt=0)


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

    def audit(request: Request, principal: Principal, action: str, target: str = "", **more) -> None:
        services.audit.append(act_entry(principal, action, target, request_id=request_id(request), **more))

    def failing(exc: AssistantError) -> HTTPException:
        return HTTPException(400, str(exc))

    # -- signing in --------------------------------------------------------------------------
    @router.post("/auth/login", tags=["sign-in"])
    def login(body: Login, request: Request, response: Response) -> dict:
        if not limiter.allow(f"login:{body.username}", LOGIN_ATTEMPTS_PER_15_MIN, 900):
            raise HTTPException(429, "too many sign-in attempts for this account; wait 15 minutes")
        principal = services.auth.login(body.username, body.password)
        if principal is None:
            who = Principal(kind="user", id=f"user:{body.username}", name=body.username, role="agent")
            audit(request, who, "login.failed", body.username, status="denied", channel="console")
            raise HTTPException(401, "wrong user name or password")
        response.set_cookie(SESSION_COOKIE, services.auth.session_cookie(principal), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=services.auth.session_seconds)
        audit(request, principal, "login", principal.id, channel="console")
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
    def create_department(body: DepartmentIn, request: Request, principal: Principal = admin) -> Department:
        try:
            created = directory.create_department(body.name, body.description)
        except AssistantError as exc:
            raise failing(exc) from exc
        if not created:
            raise HTTPException(409, f"department {body.name!r} exists already")
        audit(request, principal, "department.create", body.name)
        return Department(name=body.name, description=body.description)

    @router.delete("/departments/{name}", tags=["administration"])
    def delete_department(name: str, request: Request, principal: Principal = admin) -> dict:
        try:
            deleted = directory.delete_department(name)
        except AssistantError as exc:
            raise HTTPException(409, str(exc)) from exc
        if not deleted:
            raise HTTPException(404, f"no department {name!r}")
        audit(request, principal, "department.delete", name)
        return {"deleted": name}

    # -- users ---------------------------------------------------------------------------------
    @router.get("/users", tags=["administration"])
    def users(_: Principal = admin) -> list[User]:
        return directory.list_users()

    @router.post("/users", status_code=201, tags=["administration"])
    def create_user(body: UserIn, request: Request, principal: Principal = admin) -> User:
        try:
            user = directory.create_user(body.username, hash_password(body.password), body.role, body.departments,
                                         body.display_name)
        except AssistantError as exc:
            raise failing(exc) from exc
        audit(request, principal, "user.create", body.username, detail={"role": body.role, "departments": body.departments})
        return user

    @router.patch("/users/{username}", tags=["administration"])
    def update_user(username: str, body: UserPatch, request: Request, principal: Principal = admin) -> User:
        try:
            user = directory.update_user(
                username, role=body.role, departments_=body.departments, disabled=body.disabled,
                display_name=body.display_name, password_hash=hash_password(body.password) if body.password else None,
            )
        except AssistantError as exc:
            raise failing(exc) from exc
        if user is None:
            raise HTTPException(404, f"no user {username!r}")
        changed = body.model_dump(exclude_none=True, exclude={"password"})
        audit(request, principal, "user.update", username,
              detail={**changed, "password_changed": body.password is not None})
        return user

    @router.delete("/users/{username}", tags=["administration"])
    def delete_user(username: str, request: Request, principal: Principal = admin) -> dict:
        if principal.id == f"user:{username}":
            raise HTTPException(400, "an admin cannot delete their own account; another admin can")
        if not directory.delete_user(username):
            raise HTTPException(404, f"no user {username!r}")
        audit(request, principal, "user.delete", username)
        return {"deleted": username}

    # -- API keys ------------------------------------------------------------------------------
    @router.get("/keys", tags=["administration"])
    def keys(_: Principal = admin) -> list[ApiKey]:
        return directory.list_keys()

    @router.post("/keys", status_code=201, tags=["administration"])
    def create_key(body: KeyIn, request: Request, principal: Principal = admin) -> KeyCreated:
        try:
            record, key = services.auth.create_key(body.role, name=body.name, departments=body.departments,
                                                   created_by=principal.id, expires_in_days=body.expires_in_days)
        except AssistantError as exc:
            raise failing(exc) from exc
        audit(request, principal, "key.create", record.id, detail={"role": body.role, "departments": body.departments})
        return KeyCreated(key=key, record=record)

    @router.delete("/keys/{key_id}", tags=["administration"])
    def revoke_key(key_id: str, request: Request, principal: Principal = admin) -> dict:
        if not directory.revoke_key(key_id):
            raise HTTPException(404, f"no usable key {key_id!r}")
        audit(request, principal, "key.revoke", key_id)
        return {"revoked": key_id}

    # -- knowledge-base permissions -----------------------------------------------------------
    @router.put("/kbs/{kb}/access", tags=["administration"])
    def kb_access(kb: str, body: KbAccess, request: Request, principal: Principal = admin) -> dict:
        known = {d.name for d in directory.list_departments()}
        missing = sorted({d for d in [body.department, *body.readers] if d} - known)
        if missing:
            raise HTTPException(400, f"no department {', '.join(missing)}; create it first")
        try:
            services.catalog.set_kb_access(kb, body.department, body.readers)
        except AssistantError as exc:
            raise HTTPException(404, str(exc)) from exc
        audit(request, principal, "kb.access", kb, kbs=[kb], detail=body.model_dump())
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
    def delete_im_rule(rule_id: int, request: Request, principal: Principal = admin) -> dict:
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
