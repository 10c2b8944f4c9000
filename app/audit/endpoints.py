from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.audit import service
from app.deps import AdminUser, SessionDep
from app.pagination import Page, PageDep
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
    rows, total = service.list_events(
        session,
        service.AuditFilter(
            actor_id=actor_id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            outcome=outcome,
            since=since,
            until=until,
        ),
        page,
    )
    return Page(
        items=[AuditEventOut.model_validate(r, from_attributes=True) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
