from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.deps import AdminUser, SessionDep
from app.models import AuditEvent
from app.pagination import Page, PageDep, paginate
from app.types import Id, SingleLine, UtcDateTime

router = APIRouter(tags=["audit"])


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str
    changes: dict[str, Any]
    request_id: str | None
    client_address: str | None = Field(None, description="The address the request came from.")
    outcome: Literal["success", "failure", "denied"] | None = Field(
        None, description="For security events: how the attempt ended."
    )


@router.get("/audit", response_model=Page[AuditEventOut], summary="The audit trail, newest first (admin)")
def list_audit(
    session: SessionDep,
    admin: AdminUser,
    page: PageDep,
    entity_type: Annotated[
        SingleLine | None, Query(max_length=40, description="e.g. proposal, cycle, user")
    ] = None,
    entity_id: Annotated[SingleLine | None, Query(max_length=64)] = None,
    actor_id: Id | None = None,
    action: Annotated[SingleLine | None, Query(max_length=60, description="e.g. proposal.updated")] = None,
    since: Annotated[UtcDateTime | None, Query(description="ISO 8601, inclusive; UTC without a zone")] = None,
    until: Annotated[UtcDateTime | None, Query(description="ISO 8601, exclusive; UTC without a zone")] = None,
    outcome: Annotated[
        Literal["success", "failure", "denied"] | None,
        Query(description="Only security events that ended so."),
    ] = None,
) -> Page[AuditEventOut]:
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == outcome)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    rows, total = paginate(session, stmt, page)
    return Page(
        items=[AuditEventOut.model_validate(r, from_attributes=True) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
