"""The account page: who you are, changing your password, and your personal API tokens.

Creating a personal token needs a fresh sign-in, as on the API: the web session must have started within
``SERR_FRESH_SIGNIN_MINUTES``; an older one is offered a new sign-in that comes back here. The token's
secret is shown once, on the page that answers the creating post, and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.auth import passwords, throttle
from app.config import Settings
from app.db import commit_now
from app.deps import SessionDep, SettingsDep, client_address, writes_late
from app.errors import NotFound, ServiceError
from app.models import ApiToken, WebSession
from app.users import service
from app.users.schemas import PasswordChange, TokenCreate
from app.web.forms import Fields, FormError, errors_from, path_id, text
from app.web.render import render, templates
from app.web.session import Web, WebUser, checked_form

router = APIRouter(include_in_schema=False)

# The admin page's new-user form describes the same rule.
templates.env.globals["password_hint"] = passwords.HINT

SAVED = {
    "password": "Your password has been changed. Every other sign-in of yours has ended: other browsers "
    "must sign in again, and your API tokens, personal ones included, no longer work.",
    "revoked": "The token has been revoked: it no longer works.",
}
MISMATCH = "The new password and its confirmation are different: type the same password in both."


def _fresh(session, settings: Settings, web: Web) -> bool:
    """Whether this web session started within the fresh sign-in window."""
    started = session.scalar(select(WebSession.created_at).where(WebSession.id == web.session_id))
    window = timedelta(minutes=settings.fresh_signin_minutes)
    return started is not None and datetime.now(UTC) - started <= window


def _page(
    request: Request,
    web: Web,
    session,
    settings: Settings,
    *,
    errors: dict | None = None,
    values: dict | None = None,
    status: int = 200,
    message: str | None = None,
    created: tuple[ApiToken, str] | None = None,
) -> HTMLResponse:
    tokens = list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == web.user.id, ApiToken.kind == "personal")
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
    return render(
        request,
        "account.html",
        web,
        status=status,
        title="Your account",
        tokens=tokens,
        now=datetime.now(UTC),
        fresh=_fresh(session, settings, web),
        fresh_minutes=settings.fresh_signin_minutes,
        days_default=settings.personal_token_days_default,
        days_max=settings.personal_token_days_max,
        errors=errors or {},
        values=values or {},
        message=message,
        created=created,
    )


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, saved: str = ""):
    return _page(request, web, session, settings, message=SAVED.get(saved))


@router.post("/account/password", response_class=HTMLResponse)
@writes_late
def change_password(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    # Passwords are read exactly as typed: never stripped.
    new = str(form.get("new_password") or "")
    errors: dict[str, str] = {}
    try:
        data = PasswordChange(current_password=str(form.get("current_password") or ""), new_password=new)
    except ValidationError as exc:
        errors = errors_from(exc)
    if str(form.get("confirm_password") or "") != new:
        errors.setdefault("confirm_password", MISMATCH)
    if errors:
        return _page(request, web, session, settings, errors=errors, status=422)
    # The page's reads end here, so that argon2 runs with no transaction held; the change is written in a
    # short unit of work of its own, and this browser's session is the one kept.
    commit_now(session)
    try:
        service.change_own_password(
            request.app.state.db,
            settings,
            web.user.id,
            data,
            keep_web_session_id=web.session_id,
            request_id=request.headers.get("x-request-id"),
            client_address=client_address(request),
            attempt=throttle.Attempt.of(request, web.user.email, "web"),
        )
    except ServiceError as exc:
        return _page(request, web, session, settings, errors=errors_from(exc), status=exc.status)
    return RedirectResponse("/account?saved=password", status_code=303)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    values = {"name": text(form, "name"), "expires_in_days": text(form, "expires_in_days")}
    if not _fresh(session, settings, web):
        minutes = settings.fresh_signin_minutes
        errors = {
            "_form": f"Creating a token needs a recent sign-in: yours is more than {minutes} minutes old. "
            "Sign in again, then create the token."
        }
        return _page(request, web, session, settings, errors=errors, values=values, status=403)
    fields = Fields(form, status=422)
    days = fields.int("expires_in_days", label="number of days", max=settings.personal_token_days_max)
    try:
        fields.check()
        data = TokenCreate(name=values["name"], expires_in_days=days)
        with session.begin_nested():
            created = service.issue_personal_token(session, settings, web.user, data)
    except (FormError, ValidationError, ServiceError) as exc:
        return _page(request, web, session, settings, errors=errors_from(exc), values=values, status=422)
    return _page(request, web, session, settings, created=created, status=201)


def _own_token(session, web: Web, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != web.user.id or row.kind != "personal":
        raise NotFound(f"You have no personal token {token_id}.")
    return row


@router.get("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def confirm_revoke(
    request: Request, token_id: Annotated[int, path_id("token_id")], web: WebUser, session: SessionDep
):
    row = _own_token(session, web, token_id)
    return render(request, "account_revoke.html", web, title="Revoke a token", token=row)


@router.post("/account/tokens/{token_id}/revoke", response_class=HTMLResponse)
def revoke(
    request: Request,
    token_id: Annotated[int, path_id("token_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    service.revoke_personal_token(session, web.user, token_id)
    return RedirectResponse("/account?saved=revoked", status_code=303)
