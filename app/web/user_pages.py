"""The admin's users pages: find a user, edit their name and roles, deactivate and reactivate them, set a
new password, end every session of theirs, and create a user.

Every change goes through ``app.users.service`` (the API's PATCH /users/{id}, POST /users/{id}/sign-out
and POST /users), which audits it and holds the rules (an admin cannot deactivate themselves or drop their
own admin role; a new password or a deactivation ends every session and token). Those rules' refusals are
shown here as they are said there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import passwords
from app.config import Settings
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, ServiceError
from app.models import ApiToken, AuditEvent, Role, User, UserMfa, WebSession
from app.pagination import PageParams
from app.types import is_single_line
from app.users import service as users
from app.users.schemas import UserCreate, UserUpdate
from app.web.forms import (
    FormError,
    errors_from,
    form_int,
    last_event_id,
    path_id,
    query_int,
    query_page,
    text,
)
from app.web.render import render
from app.web.session import Web, WebUser, checked_form

router = APIRouter(include_in_schema=False)
ROLES = [r.value for r in Role]
PER_PAGE = 50
SIGN_INS = ("auth.login", "auth.web_login")  # what the audit trail records for an API or web sign-in
ACTIVE_CHOICES = {"": None, "yes": True, "no": False}


def _admin(web: Web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("The admin pages are for admins.")


def _plain(errors: dict[str, str]) -> dict[str, str]:
    """Field errors as sentences: the service says ``an admin cannot …``, a page ``An admin cannot …``."""
    return {k: (v[:1].upper() + v[1:]) if v else v for k, v in errors.items()}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Live:
    """What a user is signed in with now: the web sessions and API tokens that would still open a page."""

    sessions: int
    tokens: int

    @property
    def words(self) -> str:
        if not self.sessions and not self.tokens:
            return "They have no open sessions or API tokens"
        return f"Their {_count(self.sessions, 'session')} and {_count(self.tokens, 'API token')}"


def live_of(session: Session, settings: Settings, user_id: int) -> Live:
    now = datetime.now(UTC)
    idle_since = now - timedelta(minutes=settings.web_idle_minutes)
    sessions = session.scalar(
        select(func.count())
        .select_from(WebSession)
        .where(
            WebSession.user_id == user_id, WebSession.expires_at > now, WebSession.last_seen_at > idle_since
        )
    )
    tokens = session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    )
    return Live(sessions or 0, tokens or 0)


def _last_sign_ins(session: Session, ids: list[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    rows = session.execute(
        select(AuditEvent.actor_id, func.max(AuditEvent.occurred_at))
        .where(AuditEvent.actor_id.in_(ids), AuditEvent.action.in_(SIGN_INS), AuditEvent.outcome == "success")
        .group_by(AuditEvent.actor_id)
    ).all()
    return dict(rows)


def _mfa_of(session: Session, ids: list[int]) -> dict[int, datetime | None]:
    if not ids:
        return {}
    return dict(
        session.execute(select(UserMfa.user_id, UserMfa.confirmed_at).where(UserMfa.user_id.in_(ids))).all()
    )


# The list


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, web: WebUser, session: SessionDep, page: Annotated[int, query_page()]):
    _admin(web)
    params = request.query_params
    q, role, active = text(params, "q"), text(params, "role"), text(params, "active")
    errors = {}
    if len(q) > 200 or not is_single_line(q):
        errors["q"] = "Search with at most 200 characters on one line."
    if role and role not in ROLES:
        errors["role"] = "Choose a role from the list."
    if active not in ACTIVE_CHOICES:
        errors["active"] = "Choose active, deactivated or all."
    if errors:
        raise FormError(errors, status=400)
    rows, total = users.list_users(
        session,
        PageParams(limit=PER_PAGE, offset=(page - 1) * PER_PAGE),
        role=role or None,
        q=q or None,
        is_active=ACTIVE_CHOICES[active],
    )
    ids = [u.id for u in rows]
    kept = {k: v for k, v in {"q": q, "role": role, "active": active}.items() if v}

    def page_url(n: int) -> str:
        return "/admin/users?" + urlencode({**kept, **({"page": n} if n > 1 else {})})

    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        "admin_users.html",
        web,
        title="Users",
        rows=rows,
        total=total,
        first=(page - 1) * PER_PAGE + 1,
        last=(page - 1) * PER_PAGE + len(rows),
        page=page,
        pages=pages,
        previous_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page < pages else None,
        filters={"q": q, "role": role, "active": active},
        filtered=bool(kept),
        roles=ROLES,
        mfa=_mfa_of(session, ids),
        last_sign_in=_last_sign_ins(session, ids),
    )


# A new user


def _new_page(request, web, errors=None, values=None, status=200):
    return render(
        request,
        "admin_user_new.html",
        web,
        status=status,
        title="New user",
        roles=ROLES,
        errors=_plain(errors or {}),
        values=values or {"roles": []},
        password_hint=passwords.HINT,
    )


@router.get("/admin/users/new", response_class=HTMLResponse)
def new_user_page(request: Request, web: WebUser):
    _admin(web)
    return _new_page(request, web)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    _admin(web)
    values = {
        "email": text(form, "email"),
        "full_name": text(form, "full_name"),
        "roles": form.getlist("roles"),
    }
    errors = {}
    if not values["email"]:
        errors["email"] = "Enter their email address."
    if not values["full_name"]:
        errors["full_name"] = "Enter their full name."
    if not form.get("password"):
        errors["password"] = "Enter a password for them."
    if not values["roles"]:
        errors["roles"] = "Choose at least one role."
    if errors:
        return _new_page(request, web, errors, values, status=422)
    try:
        data = UserCreate(
            email=values["email"],
            full_name=values["full_name"],
            password=str(form.get("password") or ""),
            roles=values["roles"],
        )
        with session.begin_nested():
            user = users.create_user(session, settings, web.user, data)
    except (ValidationError, ServiceError) as exc:
        errs = errors_from(exc, {f"roles.{i}": "roles" for i in range(len(values["roles"]))})
        return _new_page(request, web, errs, values, status=422)
    return _done(session, web, user)


# One user


def _ended(changes: dict) -> str:
    sessions, tokens = changes.get("web_sessions_ended") or 0, changes.get("tokens_revoked") or 0
    if not sessions and not tokens:
        return "No open sessions or API tokens were"
    return f"{_count(sessions, 'session')} and {_count(tokens, 'API token')}"


def _banner(event: AuditEvent, name: str) -> str:
    """What an action did, told from its audit record (the counts are the ones the service recorded)."""
    changes = event.changes or {}
    ended = _ended(changes)
    if event.action == "user.created":
        return f"{name} was created. They can sign in with the password you set."
    if event.action == "user.signed_out":
        return f"{name} was signed out everywhere. {ended} ended; their account stays active."
    if "password" in changes:
        return (
            f"{name} has a new password. {_ended(changes)} ended: they sign in again with the new password."
        )
    if "is_active" in changes and changes["is_active"].get("after") is False:
        return f"{name} was deactivated. {ended} ended. They cannot sign in until they are reactivated."
    if "is_active" in changes:
        return f"{name} was reactivated. They can sign in again with their password."
    if "roles" in changes:
        return (
            f"Your changes to {name} were saved. Their roles changed, so their web sessions ended: "
            "they sign in again to work with the new roles."
        )
    return f"Your changes to {name} were saved."


DONE_ACTIONS = ("user.created", "user.updated", "user.signed_out")


def _done(session: Session, web: Web, user: User) -> RedirectResponse:
    """Post/redirect/get to the user's page, naming the audit record of what was just done: the banner
    there is told from that record, so it says what happened, and a reload does nothing again."""
    event_id = last_event_id(
        session,
        web.user.id,
        AuditEvent.entity_type == "user",
        AuditEvent.entity_id == str(user.id),
        AuditEvent.action.in_(DONE_ACTIONS),
    )
    query = f"?done={event_id}" if event_id is not None else ""
    return RedirectResponse(f"/admin/users/{user.id}{query}", status_code=303)


def _user_page(
    request: Request,
    web: Web,
    session: Session,
    settings: Settings,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    values: dict | None = None,
    status: int = 200,
    message: str | None = None,
    failure: str | None = None,
    password_errors: dict[str, str] | None = None,
):
    mfa = _mfa_of(session, [user.id])
    return render(
        request,
        "admin_user.html",
        web,
        status=status,
        title=user.full_name,
        user=user,
        is_self=user.id == web.user.id,
        roles=ROLES,
        errors=_plain(errors or {}),
        password_errors=_plain(password_errors or {}),
        values=values or {"full_name": user.full_name, "roles": user.roles},
        live=live_of(session, settings, user.id),
        has_mfa=user.id in mfa,
        mfa_confirmed=mfa.get(user.id),
        last_sign_in=_last_sign_ins(session, [user.id]).get(user.id),
        password_hint=passwords.HINT,
        banner=message,
        failure=failure,
    )


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    user_id: Annotated[int, path_id("user_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    done: Annotated[int | None, query_int("done", label="action")],
):
    _admin(web)
    user = users.get_user(session, user_id)
    message = None
    if done is not None:
        event = session.get(AuditEvent, done)
        if (
            event is not None
            and event.action in DONE_ACTIONS
            and event.entity_type == "user"
            and event.entity_id == str(user.id)
            and event.actor_id == web.user.id
        ):
            message = _banner(event, user.full_name)
    return _user_page(request, web, session, settings, user, message=message)


def _refused(exc: Exception) -> str:
    """A service's refusal told as one sentence: its field message where it has one, else its summary."""
    errs = errors_from(exc)
    return " ".join(_plain({k: v.rstrip(".") + "." for k, v in errs.items()}).values())


def _update(session: Session, settings: Settings, web: Web, user: User, data: UserUpdate) -> None:
    with session.begin_nested():
        users.update_user(session, settings, web.user, user, data)


@router.post("/admin/users/{user_id}", response_class=HTMLResponse)
def edit_user(
    request: Request,
    user_id: Annotated[int, path_id("user_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    form=Depends(checked_form),
):
    _admin(web)
    user = users.get_user(session, user_id)
    version = form_int(form, "version", min=0)
    values = {"full_name": text(form, "full_name"), "roles": form.getlist("roles")}
    errors = {}
    if not values["full_name"]:
        errors["full_name"] = "Enter their full name."
    elif len(values["full_name"]) > 200:
        errors["full_name"] = "The full name must be 200 characters or fewer."
    if not values["roles"]:
        errors["roles"] = "Choose at least one role."
    before = user.roles
    if not errors:
        try:
            data = UserUpdate(version=version, full_name=values["full_name"], roles=values["roles"])
            _update(session, settings, web, user, data)
        except (ValidationError, ServiceError) as exc:
            errors = errors_from(exc, {f"roles.{i}": "roles" for i in range(len(values["roles"]))})
    if errors:
        session.refresh(user)
        return _user_page(request, web, session, settings, user, errors=errors, values=values, status=422)
    if user.roles != before and user.id == web.user.id:  # their own web session ended with the change
        return RedirectResponse("/login", status_code=303)
    return _done(session, web, user)


def _confirm_page(request, web, session, settings, user, action: str, status: int = 200, failure=None):
    return render(
        request,
        "admin_user_confirm.html",
        web,
        status=status,
        title=f"{action.capitalize()} {user.full_name}",
        user=user,
        action=action,
        live=live_of(session, settings, user.id),
        is_self=user.id == web.user.id,
        failure=failure,
    )


def _status_change(request, web, session, settings, user_id: int, action: str, form):
    _admin(web)
    user = users.get_user(session, user_id)
    try:
        _update(session, settings, web, user, UserUpdate(is_active=action == "reactivate"))
    except (ValidationError, ServiceError) as exc:
        session.refresh(user)
        return _confirm_page(request, web, session, settings, user, action, 422, failure=_refused(exc))
    return _done(session, web, user)


def _status_routes(action: str) -> None:
    """The confirmation page and its form for ``deactivate`` or ``reactivate``, one verb apart."""

    @router.get(f"/admin/users/{{user_id}}/{action}", response_class=HTMLResponse, name=f"{action}_page")
    def confirm_page(
        request: Request,
        user_id: Annotated[int, path_id("user_id")],
        web: WebUser,
        session: SessionDep,
        settings: SettingsDep,
    ):
        _admin(web)
        return _confirm_page(request, web, session, settings, users.get_user(session, user_id), action)

    @router.post(f"/admin/users/{{user_id}}/{action}", response_class=HTMLResponse, name=action)
    def change(
        request: Request,
        user_id: Annotated[int, path_id("user_id")],
        web: WebUser,
        session: SessionDep,
        settings: SettingsDep,
        form=Depends(checked_form),
    ):
        return _status_change(request, web, session, settings, user_id, action, form)


_status_routes("deactivate")
_status_routes("reactivate")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user_id: Annotated[int, path_id("user_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    form=Depends(checked_form),
):
    _admin(web)
    user = users.get_user(session, user_id)
    password = str(form.get("password") or "")  # exactly as typed: spaces count
    errors = {} if password else {"password": "Enter the new password."}
    if not errors:
        try:
            _update(session, settings, web, user, UserUpdate(password=password))
        except (ValidationError, ServiceError) as exc:
            errors = errors_from(exc)
    if errors:
        session.refresh(user)
        return _user_page(request, web, session, settings, user, password_errors=errors, status=422)
    if user.id == web.user.id:  # their own session ended with the rest
        return RedirectResponse("/login", status_code=303)
    return _done(session, web, user)


@router.post("/admin/users/{user_id}/sign-out", response_class=HTMLResponse)
def sign_out(
    request: Request,
    user_id: Annotated[int, path_id("user_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    form=Depends(checked_form),
):
    _admin(web)
    user = users.get_user(session, user_id)
    try:
        with session.begin_nested():
            users.sign_out_user(session, web.user, user)
    except ServiceError as exc:
        return _user_page(request, web, session, settings, user, failure=_refused(exc), status=422)
    return _done(session, web, user)
