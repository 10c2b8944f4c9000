from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from app.audit.service import record
from app.auth import throttle
from app.config import Settings
from app.deps import SessionDep, SettingsDep
from app.errors import NotAuthenticated
from app.models import Panel, Proposal, Role
from app.scorecards.service import allocation, todo_sorted, todo_status
from app.users.service import check_password, signed_in_user
from app.web import mfa_pages
from app.web import session as websession
from app.web.forms import query_int, text
from app.web.render import render
from app.web.session import WebUser, checked_form, form_data, same_token

router = APIRouter(include_in_schema=False)
router.include_router(mfa_pages.router)  # the second factor's steps of sign-in, and its account page
LOGIN_CSRF = "serr_login_csrf"


def login_csrf_cookie(settings: Settings) -> str:
    """The sign-in form's token cookie: ``__Host-`` prefixed when cookies are Secure, as the session's is."""
    return f"__Host-{LOGIN_CSRF}" if settings.secure_cookies else LOGIN_CSRF


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep, next: str = "/", expired: int = 0) -> HTMLResponse:
    token = request.cookies.get(login_csrf_cookie(settings)) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        next=_safe_next(next),
        expired=bool(expired),
        csrf=token,
        errors={},
        email="",
        title="Sign in",
    )
    response.set_cookie(
        login_csrf_cookie(settings),
        token,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",  # a __Host- cookie must have Path=/
    )
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, settings: SettingsDep, form=Depends(form_data)):
    email, nxt = text(form, "email"), _safe_next(text(form, "next") or "/")
    cookie_token = request.cookies.get(login_csrf_cookie(settings)) or ""
    if not cookie_token or not same_token(text(form, "csrf_token"), cookie_token):
        return render(
            request,
            "login.html",
            status=403,
            next=nxt,
            expired=False,
            csrf=cookie_token or "",
            email=email,
            title="Sign in",
            errors={"_form": "The sign-in form expired. Please try again."},
        )
    # No request-wide unit of work: the password is checked with no transaction open, then the web
    # session and its audit record are written in a short write of their own.
    db = request.app.state.db
    attempt = throttle.Attempt.of(request, email, "web")
    try:
        with throttle.guard(db, settings, attempt):  # 429 before the check; a failure counted after it
            checked = check_password(db, settings, email, str(form.get("password") or ""))
        with db.unit_of_work(request_id=attempt.request_id, client_address=attempt.address) as session:
            user = signed_in_user(session, checked)
            # A new session id at every sign-in: a session this browser already had (perhaps one planted
            # by someone else) is ended, never carried over.
            websession.end(session, settings, websession.cookie_of(request, settings))
            if mfa_pages.needs_second_step(session, settings, user):  # the session starts after the code
                return mfa_pages.second_step(request, session, settings, user, nxt)
            secret, _ = websession.start(session, settings, user)
            record(session, user, "auth.web_login", "user", user.id, outcome="success")
            throttle.succeeded(session, attempt)
    except throttle.TooManySignIns as exc:
        response = render(
            request,
            "login.html",
            status=429,
            next=nxt,
            expired=False,
            csrf=cookie_token,
            email=email,
            title="Sign in",
            errors={"_form": exc.detail},
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except NotAuthenticated:
        return render(
            request,
            "login.html",
            status=401,
            next=nxt,
            expired=False,
            csrf=cookie_token,
            email=email,
            title="Sign in",
            errors={"email": "Incorrect email or password."},
        )
    response = RedirectResponse(nxt, status_code=303)
    websession.set_cookie(response, settings, secret)
    response.delete_cookie(login_csrf_cookie(settings), path="/", secure=settings.secure_cookies)
    return response


@router.post("/logout")
def logout(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    websession.end(session, settings, websession.cookie_of(request, settings))
    record(session, web.user, "auth.web_logout", "user", web.user.id, outcome="success")
    response = RedirectResponse("/login", status_code=303)
    websession.clear_cookie(response, settings)
    # The browser drops what it kept of the signed-in pages (cookies are left to clear_cookie: clearing
    # them here would reach every host under the same registrable domain).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


STATUS_LABELS = {
    "to_do": "To do",
    "draft": "Draft",
    "submitted": "Submitted",
    "conflict": "Conflict declared",
}


def my_work(alloc: list[dict], status: str, panel_id: int | None, q: str) -> dict:
    """The scorer's to-do list: every allocated proposal with its status, what is left first; the rows the
    filter keeps (status, panel, words in the reference, title or capability); and the counts."""
    items = [a | {"todo": todo_status(a)} for a in todo_sorted(alloc)]
    words = q.casefold().split()
    shown = [
        a
        for a in items
        if (status not in STATUS_LABELS or a["todo"] == status)
        and (panel_id is None or a["panel_id"] == panel_id)
        and all(w in f"{a['reference']} {a['title']} {a['capability']}".casefold() for w in words)
    ]
    counts = {k: sum(a["todo"] == k for a in items) for k in STATUS_LABELS}
    return {
        "rows": shown,
        "total": len(items),
        "counts": counts,
        "due": len(items) - counts["conflict"],
        "panels": sorted({(a["panel_id"], a["panel_name"]) for a in items}, key=lambda x: x[1]),
        "filter": {"status": status if status in STATUS_LABELS else "", "panel": panel_id, "q": q},
        "filtered": len(shown) != len(items) or bool(q) or status in STATUS_LABELS or panel_id is not None,
        "next": next(
            (a for a in items if a["todo"] in ("to_do", "draft") and a["cycle_status"] == "scoring"), None
        ),
    }


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    web: WebUser,
    session: SessionDep,
    panel: Annotated[int | None, query_int("panel")],
    conflict: Annotated[int | None, query_int("conflict")],
    status: str = "",
    q: str = "",
) -> HTMLResponse:
    user = web.user
    alloc = allocation(session, user, None) if user.has_role(Role.scorer) else []
    work = my_work(alloc, status, panel, q.strip()[:200])
    # The banner after declaring a conflict names the proposal, and shows only when the conflict is there.
    declared = next((a for a in alloc if a["proposal_id"] == conflict and a["conflict"]), None)
    own = (
        list(
            session.scalars(
                select(Proposal).where(Proposal.proposer_id == user.id).order_by(Proposal.reference)
            )
        )
        if user.has_role(Role.proposer)
        else []
    )
    chaired = (
        list(session.scalars(select(Panel).where(Panel.chair_id == user.id).order_by(Panel.name)))
        if user.has_role(Role.chair, Role.admin)
        else []
    )
    if user.has_role(Role.admin):
        chaired = list(session.scalars(select(Panel).order_by(Panel.name)))
    return render(
        request,
        "home.html",
        web,
        title="My work",
        work=work,
        status_labels=STATUS_LABELS,
        declared=declared,
        own=own,
        chaired=chaired,
    )
