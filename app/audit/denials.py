"""Permission denials in the audit trail: every 403 the service answers, API or page, is recorded.

One ASGI middleware sees the status of every response. A 403 is written as an ``auth.denied`` event with
outcome ``denied``: who (the signed-in user, when the request got that far), what (the method and the
route, and the exact path), from where (the client address) and why (the refusal's detail, when the
error handler left it in the request's state). The request's own unit of work has already rolled back
by then, so the event is written in a short write of its own, in a worker thread, before the 403 is sent.

A flood of denials cannot grow the table without bound: a repeat of the same denial (same user, same
address, same method and route) within ``COALESCE_WINDOW`` of the last one adds to that event's
``repeats`` count instead of writing a new row, so one client at one route adds at most one row a minute
however fast it asks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import Database
from app.models import AuditEvent

log = logging.getLogger("serr")

ACTION = "auth.denied"
COALESCE_WINDOW = timedelta(seconds=60)
# Where handlers leave the refusal's detail (``request.state.<DETAIL_KEY>``) and the signed-in user's id.
DETAIL_KEY = "denied_because"
USER_KEY = "user_id"


def _route_of(scope: Scope) -> str:
    """``"GET /api/v1/cycles/{cycle_id}/progress"``: the method and the route's template, prefix included
    (a route inside an included router knows only its own part; the prefix is what precedes it)."""
    path = scope.get("path", "")
    template = getattr(scope.get("route"), "path_format", None)
    if template:
        try:
            rendered = template.format(**{k: str(v) for k, v in (scope.get("path_params") or {}).items()})
        except (KeyError, IndexError, ValueError):
            rendered = None
        if rendered is not None and path.endswith(rendered):
            path = path[: len(path) - len(rendered)] + template
    return f"{scope.get('method', '')} {path}"[:64]


def record_denial(
    db: Database,
    *,
    user_id: int | None,
    client_address: str | None,
    method: str,
    route: str,
    path: str,
    reason: str | None,
    request_id: str | None = None,
) -> None:
    """Write (or count again) one denial, in a unit of work of its own."""
    now = datetime.now(UTC)
    with db.unit_of_work(write=True, request_id=request_id, client_address=client_address) as session:
        address = session.info.get("client_address")
        recent = session.scalar(
            select(AuditEvent)
            .where(
                AuditEvent.action == ACTION,
                AuditEvent.entity_type == "route",
                AuditEvent.entity_id == route,
                AuditEvent.actor_id.is_(None) if user_id is None else AuditEvent.actor_id == user_id,
                AuditEvent.client_address.is_(None)
                if address is None
                else AuditEvent.client_address == address,
                AuditEvent.occurred_at >= now - COALESCE_WINDOW,
            )
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
        if recent is not None:
            changes = dict(recent.changes or {})
            changes["repeats"] = int(changes.get("repeats", 0)) + 1
            changes["last_path"] = path[:500]
            recent.changes = changes
            return
        changes = {"method": method, "path": path[:500], "status": 403}
        if reason:
            changes["reason"] = reason[:500]
        session.add(
            AuditEvent(
                actor_id=user_id,
                action=ACTION,
                entity_type="route",
                entity_id=route,
                changes=changes,
                request_id=session.info.get("request_id"),
                client_address=address,
                outcome="denied",
            )
        )


class DenialAudit:
    """ASGI middleware: records every 403 response before it is sent."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                await self._record(scope)
            await send(message)

        await self.app(scope, receive, send_recording)

    async def _record(self, scope: Scope) -> None:
        state = scope.get("state") or {}
        client = scope.get("client")
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id")
        try:
            await run_in_threadpool(
                record_denial,
                self.db,
                user_id=state.get(USER_KEY),
                client_address=client[0] if client else None,
                method=scope.get("method", ""),
                route=_route_of(scope),
                path=scope.get("path", ""),
                reason=state.get(DETAIL_KEY),
                request_id=request_id.decode("latin-1") if request_id else None,
            )
        except Exception:  # the refusal still goes out; the failure to record it is logged
            log.exception(
                "could not record a permission denial on %s %s", scope.get("method"), scope.get("path")
            )
