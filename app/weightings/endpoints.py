from __future__ import annotations

from fastapi import APIRouter

from app.deps import ChairOrAdmin, CurrentUser, SessionDep
from app.models import Weighting
from app.pagination import Page
from app.types import Id
from app.weightings import service
from app.weightings.schemas import WeightingCreate, WeightingOut

router = APIRouter(tags=["weightings"])


def weighting_out(w: Weighting) -> WeightingOut:
    cr = (w.diagnostics or {}).get("consistency_ratio")
    return WeightingOut(
        id=w.id,
        cycle_id=w.cycle_id,
        name=w.name,
        description=w.description,
        method=w.method,
        inputs=w.inputs,
        weights=w.weights,
        consistency_ratio=cr,
        diagnostics=w.diagnostics,
        is_default=w.is_default,
        predecessor_id=w.predecessor_id,
        created_by_id=w.created_by_id,
        created_at=w.created_at,
    )


@router.post(
    "/cycles/{cycle_id}/weightings",
    response_model=WeightingOut,
    status_code=201,
    summary="Create a weighting by method: direct, points, swing, rank_order or pairwise (chair, admin)",
)
def create_weighting(
    cycle_id: Id, data: WeightingCreate, session: SessionDep, user: ChairOrAdmin
) -> WeightingOut:
    return weighting_out(service.create_weighting(session, user, cycle_id, data))


@router.get(
    "/cycles/{cycle_id}/weightings", response_model=Page[WeightingOut], summary="A cycle's weightings"
)
def list_weightings(cycle_id: Id, session: SessionDep, user: CurrentUser) -> Page[WeightingOut]:
    rows = [weighting_out(w) for w in service.list_weightings(session, cycle_id)]
    return Page.whole(rows)


@router.get(
    "/cycles/{cycle_id}/weightings/{weighting_id}", response_model=WeightingOut, summary="One weighting"
)
def get_weighting(cycle_id: Id, weighting_id: Id, session: SessionDep, user: CurrentUser) -> WeightingOut:
    return weighting_out(service.get_weighting(session, cycle_id, weighting_id))


@router.post(
    "/cycles/{cycle_id}/weightings/{weighting_id}/default",
    response_model=WeightingOut,
    summary="Make this weighting the cycle's default (chair, admin)",
)
def set_default(cycle_id: Id, weighting_id: Id, session: SessionDep, user: ChairOrAdmin) -> WeightingOut:
    w = service.get_weighting(session, cycle_id, weighting_id)
    return weighting_out(service.make_default(session, user, w))
