from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.cycles import service as cycles
from app.deps import SessionDep
from app.errors import Forbidden
from app.models import Cycle, Role
from app.web.render import render
from app.web.session import WebUser

router = APIRouter(include_in_schema=False)
ROLES = [r.value for r in Role]


def _admin(web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("The admin pages are for admins.")


def _page(request, web, session, errors=None, values=None, status=200, message=None):
    all_cycles = list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))
    return render(
        request,
        "admin.html",
        web,
        status=status,
        title="Admin",
        cycles=all_cycles,
        transitions={c.id: cycles.allowed_transitions(c) for c in all_cycles},
        roles=ROLES,
        errors=errors or {},
        values=values or {},
        message=message,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, web: WebUser, session: SessionDep):
    _admin(web)
    return _page(request, web, session)
