"""The admin's audit trail page: who did what, to which object, when and from where, filtered by a GET form,
newest first, 50 to a page; and the same filters as a CSV download of every matching event.

The filters are read here into the audit service's ``AuditFilter``; the query is the service's, the one the
API's ``GET /api/v1/audit`` runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from app.audit import exports
from app.audit.service import OUTCOMES, AuditFilter, iter_events, kinds, list_events
from app.deps import SessionDep
from app.errors import Forbidden
from app.models import Role, User
from app.pagination import PageParams
from app.rankings.endpoints import audit_export
from app.types import is_single_line
from app.web.forms import Fields, query_page
from app.web.render import render
from app.web.session import WebUser

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
KINDS_FOR_SECONDS = 60
FILTERS = ("actor_id", "action", "entity_type", "entity_id", "outcome", "from", "to")
# An object's own page, where the web client has one (a route missing today is simply not linked).
OBJECT_PAGES = {
    "proposal": "/proposals/{proposal_id}",
    "cycle": "/cycles/{cycle_id}",
    "panel": "/panels/{panel_id}",
    "user": "/admin/users/{user_id}",
}
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _admin(web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("The audit trail is for admins.")


def _date(fields: Fields, name: str, label: str) -> date | None:
    raw = fields.text(name)
    if not raw:
        return None
    try:
        if m := _UK_DATE.fullmatch(raw):
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    fields.errors[name] = f"Enter the {label} date as a real date, such as 2026-11-29 or 29/11/2026."
    return None


def read_filter(query: Any) -> tuple[AuditFilter, dict[str, str], dict[str, str]]:
    """The page's filters from its address: the service's filter, the values as typed (to show them again)
    and a message for each that could not be read."""
    fields = Fields(query)
    values = {name: fields.text(name) for name in FILTERS}
    actor_id = fields.int("actor_id", label="user")
    outcome = values["outcome"] or None
    if outcome is not None and outcome not in OUTCOMES:
        fields.errors["outcome"] = "Choose success, failure or denied, or any outcome."
    for name, longest, label in (
        ("action", 60, "action"),
        ("entity_type", 40, "object type"),
        ("entity_id", 64, "object id"),
    ):
        if len(values[name]) > longest:
            fields.errors[name] = f"The {label} is at most {longest} characters."
        elif not is_single_line(values[name]):
            fields.errors[name] = f"The {label} must be one line without control characters."
    start, end = _date(fields, "from", "from"), _date(fields, "to", "to")
    if start and end and end < start:
        fields.errors["to"] = "The to date must be the same as or after the from date."
    return (
        AuditFilter(
            actor_id=actor_id,
            action=values["action"] or None,
            entity_type=values["entity_type"] or None,
            entity_id=values["entity_id"] or None,
            outcome=outcome if "outcome" not in fields.errors else None,
            since=datetime.combine(start, time(), UTC) if start else None,
            until=datetime.combine(end + timedelta(days=1), time(), UTC) if end and end < date.max else None,
        ),
        values,
        fields.errors,
    )


def _address(path: str, values: dict[str, str], **more: Any) -> str:
    kept = {k: v for k, v in values.items() if v} | {k: v for k, v in more.items() if v}
    return path + (f"?{urlencode(kept)}" if kept else "")


def changes_list(changes: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """``(field, before, after)`` for a field that changed, ``(key, value, None)`` for a plain detail."""

    def show(v: Any) -> str:
        if v is None:
            return "–"
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)

    out = []
    for key, value in (changes or {}).items():
        if isinstance(value, dict) and set(value) == {"before", "after"}:
            out.append((key, show(value["before"]), show(value["after"])))
        else:
            out.append((key, show(value), None))
    return out


def _kinds(request: Request, session) -> tuple[list[str], list[str]]:
    """The filters' choices of action and object type, read again at most once a minute: two scans of the
    whole trail, and new kinds of event arrive only with new code (a value typed into the address that is
    not listed yet is still shown and used)."""
    cached = getattr(request.app.state, "audit_kinds", None)
    now = monotonic()
    if cached is None or now - cached[0] > KINDS_FOR_SECONDS:
        cached = request.app.state.audit_kinds = (now, kinds(session))
    return cached[1]


def _object_links(request: Request) -> dict[str, str]:
    paths = {ctx.path for ctx in iter_route_contexts(request.app.routes)}
    return {kind: page for kind, page in OBJECT_PAGES.items() if page in paths}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, web: WebUser, session: SessionDep, page: Annotated[int, query_page()]
) -> HTMLResponse:
    _admin(web)
    f, values, errors = read_filter(request.query_params)
    users = list(session.execute(select(User.id, User.full_name, User.email).order_by(User.email)))
    actions, types = _kinds(request, session)
    rows, total = [], 0
    if not errors:
        rows, total = list_events(session, f, PageParams(limit=PER_PAGE, offset=(page - 1) * PER_PAGE))
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    links = _object_links(request)
    return render(
        request,
        "audit.html",
        web,
        status=422 if errors else 200,
        title="Audit trail",
        events=[
            {
                "event": e,
                "link": links[e.entity_type].format_map({f"{e.entity_type}_id": e.entity_id})
                if e.entity_type in links and e.entity_id.isascii() and e.entity_id.isdigit()
                else None,
                "changes": changes_list(e.changes),
            }
            for e in rows
        ],
        users={u.id: u for u in users},
        actions=actions,
        types=types,
        outcomes=OUTCOMES,
        values=values,
        errors=errors,
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PER_PAGE + 1,
        last=(page - 1) * PER_PAGE + len(rows),
        previous_url=_address("/audit", values, page=page - 1 if page > 2 else None) if page > 1 else None,
        next_url=_address("/audit", values, page=page + 1) if page < pages else None,
        first_url=_address("/audit", values),
        csv_url=_address("/audit.csv", values),
    )


@router.get("/audit.csv")
def audit_csv(request: Request, web: WebUser, session: SessionDep):
    """Every matching event, streamed in chunks from a read of its own (the request's session ends when
    this function returns); the download is recorded once the last row is sent."""
    _admin(web)
    f, values, errors = read_filter(request.query_params)
    if errors:
        return audit_page(request, web, session, 1)
    emails = {uid: email for uid, email in session.execute(select(User.id, User.email))}
    db, user = request.app.state.db, web.user

    def body():
        rows = 0
        with db.unit_of_work(write=False) as read:
            chunks = iter_events(read, f)

            def counted():
                nonlocal rows
                for chunk in chunks:
                    rows += len(chunk)
                    yield chunk

            yield from exports.csv_chunks(counted(), emails)
        filters = {k: v for k, v in values.items() if v}
        audit_export(request, user, "audit", "audit", "trail", format="csv", rows=rows, filters=filters)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
