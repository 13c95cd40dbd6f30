"""Administration pages, for admins: users (create, role, departments, disable, password), departments,
API keys (created keys are shown once; revoke), and who owns and reads each knowledge base.

Each change is a use case of ``assistant/app/administration.py`` with the viewer as actor (channel
``console``), audited like its API twin. A change redirects back to its list with a notice; a refused
one shows the list again with the reason, and a created key is shown on the page it answers (never in a URL).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from assistant.app.administration import Administration, Conflict, NotFound
from assistant.app.console.web import ADMINS, Pages, Viewer, page_number, slice_page, with_query
from assistant.domain import ROLES, ApiKey, Role
from assistant.errors import AssistantError

NOTICES = ("user_created", "user_updated", "department_created", "department_deleted", "key_revoked", "access_saved")


def admin_router(pages: Pages, administration: Administration) -> APIRouter:
    router = APIRouter(prefix="/console/admin", include_in_schema=False)
    services = pages.services
    directory = services.directory
    admin_page, admin_form = Depends(pages.page(*ADMINS)), Depends(pages.form(*ADMINS))

    def common(request: Request, error: AssistantError | None) -> dict:
        t = pages.translator(request)
        notice = request.query_params.get("notice")
        return {
            "departments": [d.name for d in directory.list_departments()], "roles": ROLES,
            "notice": t(f"notice.{notice}") if notice in NOTICES and error is None else "",
            "error": f"{t('error.not_done')}: {error}" if error else "",
        }

    def status_of(error: AssistantError) -> int:
        return 404 if isinstance(error, NotFound) else 409 if isinstance(error, Conflict) else 400

    def as_role(value: str) -> Role:
        if value not in ROLES:
            raise AssistantError(f"{value!r} is not a role; use one of {', '.join(ROLES)}")
        return value  # type: ignore[return-value]

    # -- users ---------------------------------------------------------------------------------
    def users_page(request: Request, viewer: Viewer, error: AssistantError | None = None,
                   form: dict | None = None) -> Response:
        q = request.query_params.get("q", "").strip().lower()
        users = [u for u in directory.list_users() if not q or q in f"{u.username} {u.display_name}".lower()]
        shown, paging = slice_page(users, page_number(request.query_params.get("page")),
                                   with_query("/console/admin/users", q=q))
        return pages.render(request, "admin_users.html", viewer, status=status_of(error) if error else 200,
                            active="users", users=shown, paging=paging, q=q, form=form or {}, **common(request, error))

    @router.get("/users")
    def users(request: Request, viewer: Viewer = admin_page) -> Response:
        return users_page(request, viewer)

    @router.post("/users")
    def create_user(request: Request, username: str = Form(""), display_name: str = Form("", max_length=100),
                    password: str = Form(""), role: str = Form("agent"),
                    departments: list[str] = Form([]), viewer: Viewer = admin_form) -> Response:
        form = {"username": username, "display_name": display_name, "role": role, "departments": departments}
        try:
            if not 8 <= len(password) <= 256:
                raise AssistantError(pages.translator(request)("users.password_rule"))
            administration.create_user(pages.actor(request, viewer), username.strip(), password, as_role(role),
                                       departments, display_name.strip())
        except AssistantError as exc:
            return users_page(request, viewer, exc, form)
        return RedirectResponse(with_query("/console/admin/users", notice="user_created"), 303)

    @router.post("/users/{username}")
    def update_user(request: Request, username: str, display_name: str = Form("", max_length=100),
                    role: str = Form("agent"), departments: list[str] = Form([]),
                    disabled: str = Form(""), password: str = Form(""), viewer: Viewer = admin_form) -> Response:
        try:
            if password and not 8 <= len(password) <= 256:
                raise AssistantError(pages.translator(request)("users.password_rule"))
            if disabled and viewer.principal.id == f"user:{username}":
                raise AssistantError(pages.translator(request)("users.not_yourself"))
            administration.update_user(pages.actor(request, viewer), username, role=as_role(role),
                                       departments=departments, disabled=bool(disabled),
                                       display_name=display_name.strip(), password=password or None)
        except AssistantError as exc:
            return users_page(request, viewer, exc)
        return RedirectResponse(with_query("/console/admin/users", notice="user_updated"), 303)

    # -- departments ---------------------------------------------------------------------------
    def departments_page(request: Request, viewer: Viewer, error: AssistantError | None = None) -> Response:
        listed = directory.list_departments()
        shown, paging = slice_page(listed, page_number(request.query_params.get("page")), "/console/admin/departments")
        return pages.render(request, "admin_departments.html", viewer, status=status_of(error) if error else 200,
                            active="departments", listed=shown, paging=paging, **common(request, error))

    @router.get("/departments")
    def departments(request: Request, viewer: Viewer = admin_page) -> Response:
        return departments_page(request, viewer)

    @router.post("/departments")
    def create_department(request: Request, name: str = Form(""), description: str = Form("", max_length=500),
                          viewer: Viewer = admin_form) -> Response:
        try:
            administration.create_department(pages.actor(request, viewer), name.strip(), description.strip())
        except AssistantError as exc:
            return departments_page(request, viewer, exc)
        return RedirectResponse(with_query("/console/admin/departments", notice="department_created"), 303)

    @router.post("/departments/{name}/delete")
    def delete_department(request: Request, name: str, viewer: Viewer = admin_form) -> Response:
        try:
            administration.delete_department(pages.actor(request, viewer), name)
        except AssistantError as exc:
            return departments_page(request, viewer, exc)
        return RedirectResponse(with_query("/console/admin/departments", notice="department_deleted"), 303)

    # -- API keys ------------------------------------------------------------------------------
    def keys_page(request: Request, viewer: Viewer, error: AssistantError | None = None,
                  created: tuple[ApiKey, str] | None = None) -> Response:
        q = request.query_params.get("q", "").strip().lower()
        keys = [k for k in directory.list_keys() if not q or q in f"{k.id} {k.name} {k.created_by}".lower()]
        keys.sort(key=lambda k: (k.revoked_at is not None, -(k.created_at.timestamp() if k.created_at else 0)))
        shown, paging = slice_page(keys, page_number(request.query_params.get("page")),
                                   with_query("/console/admin/keys", q=q))
        return pages.render(request, "admin_keys.html", viewer, status=status_of(error) if error else 200,
                            active="keys", keys=shown, paging=paging, q=q, created=created, **common(request, error))

    @router.get("/keys")
    def keys(request: Request, viewer: Viewer = admin_page) -> Response:
        return keys_page(request, viewer)

    @router.post("/keys")
    def create_key(request: Request, name: str = Form("", max_length=100), role: str = Form("agent"),
                   departments: list[str] = Form([]), expires_in_days: str = Form(""),
                   viewer: Viewer = admin_form) -> Response:
        try:
            days = float(expires_in_days) if expires_in_days.strip() else None
            if days is not None and days <= 0:
                raise ValueError
        except ValueError:
            return keys_page(request, viewer, AssistantError(pages.translator(request)("keys.days_rule")))
        try:
            created = administration.create_key(pages.actor(request, viewer), as_role(role), name=name.strip(),
                                                departments=departments, expires_in_days=days)
        except AssistantError as exc:
            return keys_page(request, viewer, exc)
        return keys_page(request, viewer, created=created)

    @router.post("/keys/{key_id}/revoke")
    def revoke_key(request: Request, key_id: str, viewer: Viewer = admin_form) -> Response:
        try:
            administration.revoke_key(pages.actor(request, viewer), key_id)
        except AssistantError as exc:
            return keys_page(request, viewer, exc)
        return RedirectResponse(with_query("/console/admin/keys", notice="key_revoked"), 303)

    # -- knowledge-base access -----------------------------------------------------------------
    def access_page(request: Request, viewer: Viewer, error: AssistantError | None = None) -> Response:
        q = request.query_params.get("q", "").strip().lower()
        kbs = [kb for kb in services.catalog.list_kbs() if not q or q in kb.name]
        shown, paging = slice_page(kbs, page_number(request.query_params.get("page")),
                                   with_query("/console/admin/access", q=q))
        return pages.render(request, "admin_access.html", viewer, status=status_of(error) if error else 200,
                            active="access", kbs=shown, paging=paging, q=q, **common(request, error))

    @router.get("/access")
    def access(request: Request, viewer: Viewer = admin_page) -> Response:
        return access_page(request, viewer)

    @router.post("/access/{kb}")
    def set_access(request: Request, kb: str, department: str = Form(""), readers: list[str] = Form([]),
                   viewer: Viewer = admin_form) -> Response:
        try:
            administration.set_kb_access(pages.actor(request, viewer), kb, department or None,
                                         [r for r in readers if r != department])
        except AssistantError as exc:
            return access_page(request, viewer, exc)
        return RedirectResponse(with_query("/console/admin/access", notice="access_saved"), 303)

    return router
