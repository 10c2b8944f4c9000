"""Admin web page for sign-in locks: the counters and locks in force, each with a Lift button."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.auth import throttle
from app.auth.locks import lock_out
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, NotFound
from app.models import Role
from app.pagination import PageParams
from app.web.forms import text
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)
SHOWN = 200  # the most counters one page lists (locked first, then the latest failures)
SCOPES = [("account", "Account (email address)"), ("address", "Client address")]


def _admin(web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("The sign-in locks page is for admins.")


def _page(request, web, session, settings, *, errors=None, values=None, status=200, message=None):
    rows, total = throttle.current(
        session, settings, PageParams(limit=SHOWN, offset=0), scope=None, locked_only=False
    )
    at = throttle.now()
    return render(
        request,
        "admin_locks.html",
        web,
        status=status,
        title="Sign-in locks",
        locks=[lock_out(settings, r, at) for r in rows],
        total=total,
        scopes=SCOPES,
        settings=settings,
        errors=errors or {},
        values=values or {},
        message=message,
    )


@router.get("/admin/locks", response_class=HTMLResponse)
def locks_page(request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, lifted: str = ""):
    _admin(web)
    message = f"Lifted: the sign-ins of {lifted} are checked again at once." if lifted else None
    return _page(request, web, session, settings, message=message)


@router.post("/admin/locks/lift", response_class=HTMLResponse)
def lift(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    _admin(web)
    values = {"scope": text(form, "scope"), "key": text(form, "key")}
    errors = {}
    if values["scope"] not in dict(SCOPES):
        errors["scope"] = "Choose an account or a client address."
    if not values["key"]:
        errors["key"] = "Enter the email address or the client address to lift."
    elif len(values["key"]) > throttle.KEY_MAX:
        errors["key"] = f"The email or address is at most {throttle.KEY_MAX} characters."
    if errors:
        return _page(request, web, session, settings, errors=errors, values=values, status=422)
    try:
        with session.begin_nested():
            throttle.lift(session, web.user, values["scope"], values["key"])
    except NotFound:
        errors = {"key": "No failed sign-ins are counted for that account or address; nothing to lift."}
        return _page(request, web, session, settings, errors=errors, values=values, status=404)
    return RedirectResponse("/admin/locks?" + urlencode({"lifted": values["key"]}), status_code=303)
