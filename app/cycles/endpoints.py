from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from app.cycles import service
from app.cycles.schemas import CycleCreate, CycleOut, CycleUpdate, Transition
from app.deps import ChairOrAdmin, CurrentUser, SessionDep
from app.etag import check_if_match, etag
from app.models import Cycle, CycleStatus
from app.pagination import Page, PageDep
from app.types import Id

router = APIRouter(tags=["cycles"])


def cycle_out(cycle: Cycle) -> CycleOut:
    return CycleOut(
        id=cycle.id,
        name=cycle.name,
        reference_prefix=cycle.reference_prefix,
        status=cycle.status,
        financial_years=cycle.financial_years,
        budgets=cycle.budgets,
        scale_min=cycle.scale_min,
        scale_max=cycle.scale_max,
        scale_labels=cycle.scale_labels,
        not_applicable_policy=cycle.not_applicable_policy,
        min_scorecards=cycle.min_scorecards,
        disagreement_threshold=cycle.disagreement_threshold,
        allowed_transitions=service.allowed_transitions(cycle),
        version=cycle.version,
        created_at=cycle.created_at,
        updated_at=cycle.updated_at,
    )


IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag you read; stale → 412.")]


@router.post("/cycles", response_model=CycleOut, status_code=201, summary="Create a cycle (admin, chair)")
def create_cycle(data: CycleCreate, session: SessionDep, user: ChairOrAdmin, response: Response) -> CycleOut:
    cycle = service.create_cycle(session, user, data)
    response.headers["ETag"] = etag(cycle.version)
    return cycle_out(cycle)


@router.get("/cycles", response_model=Page[CycleOut], summary="List cycles, newest first")
def list_cycles(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    status: Annotated[CycleStatus | None, Query(description="Only cycles in this status.")] = None,
) -> Page[CycleOut]:
    rows, total = service.list_cycles(session, page, status.value if status else None)
    return Page(items=[cycle_out(c) for c in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/cycles/{cycle_id}", response_model=CycleOut, summary="One cycle")
def get_cycle(cycle_id: Id, session: SessionDep, user: CurrentUser, response: Response) -> CycleOut:
    cycle = service.get_cycle(session, cycle_id)
    response.headers["ETag"] = etag(cycle.version)
    return cycle_out(cycle)


@router.patch(
    "/cycles/{cycle_id}",
    response_model=CycleOut,
    summary="Update a cycle (admin, chair; its years, budgets, scale and not-applicable policy: admin only)",
)
def update_cycle(
    cycle_id: Id,
    data: CycleUpdate,
    session: SessionDep,
    user: ChairOrAdmin,
    response: Response,
    if_match: IfMatch = None,
) -> CycleOut:
    cycle = service.get_cycle(session, cycle_id)
    check_if_match(if_match, cycle.version, data.version)
    cycle = service.update_cycle(session, user, cycle, data)
    response.headers["ETag"] = etag(cycle.version)
    return cycle_out(cycle)


@router.post(
    "/cycles/{cycle_id}/transition",
    response_model=CycleOut,
    summary="Move a cycle to its next status (draft → open → scoring → moderation → closed)",
)
def transition_cycle(
    cycle_id: Id,
    data: Transition,
    session: SessionDep,
    user: ChairOrAdmin,
    response: Response,
    if_match: IfMatch = None,
) -> CycleOut:
    cycle = service.get_cycle(session, cycle_id)
    check_if_match(if_match, cycle.version, None, required=False)
    cycle = service.transition(session, user, cycle, data)
    response.headers["ETag"] = etag(cycle.version)
    return cycle_out(cycle)
