from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.cycles import service as cycles
from app.deps import SessionDep, SettingsDep
from app.errors import Forbidden, ServiceError
from app.models import Cycle, Role, User
from app.users.schemas import UserCreate
from app.users.service import create_user
from app.web.forms import errors_from, text
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)
ROLES = [r.value for r in Role]


def _admin(web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("The admin pages are for admins.")


def _page(request, web, session, errors=None, values=None, status=200, message=None):
    users = list(session.scalars(select(User).order_by(User.email)))
    all_cycles = list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))
    return render(
        request,
        "admin.html",
        web,
        status=status,
        title="Admin",
        users=users,
        cycles=all_cycles,
        transitions={c.id: cycles.allowed_transitions(c) for c in all_cycles},
        roles=ROLES,
        errors=errors or {},
        values=values or {},
        message=message,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, web: WebUser, session: SessionDep, saved: str = ""):
    _admin(web)
    return _page(request, web, session, message={"user": "User created."}.get(saved))


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request, web: WebUser, session: SessionDep, settings: SettingsDep, form=Depends(checked_form)
):
    _admin(web)
    values = {"email": text(form, "email"), "full_name": text(form, "full_name")}
    try:
        data = UserCreate(
            email=values["email"],
            full_name=values["full_name"],
            password=str(form.get("password") or ""),
            roles=form.getlist("roles"),
        )
        with session.begin_nested():
            create_user(session, settings, web.user, data)
    except (ValidationError, ServiceError) as exc:
        errs = errors_from(exc, {f"roles.{i}": "roles" for i in range(10)})
        return _page(request, web, session, errors=errs, values=values, status=422)
    return RedirectResponse("/admin?saved=user", status_code=303)
