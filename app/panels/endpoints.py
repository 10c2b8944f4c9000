from __future__ import annotations

from fastapi import APIRouter, Header, Response

from app.cycles.service import get_cycle
from app.deps import ChairOrAdmin, CurrentUser, SessionDep
from app.errors import Forbidden
from app.etag import check_if_match, etag
from app.models import Panel
from app.pagination import Page
from app.panels import service
from app.panels.schemas import ConflictCreate, ConflictOut, CycleProgress, PanelCreate, PanelOut, PanelUpdate
from app.proposals.service import get_proposal
from app.scorecards import review
from app.types import Id

router = APIRouter(tags=["panels"])


def panel_out(p: Panel) -> PanelOut:
    return PanelOut(
        id=p.id,
        cycle_id=p.cycle_id,
        name=p.name,
        chair_id=p.chair_id,
        member_ids=p.member_ids,
        proposal_ids=p.proposal_ids,
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.post(
    "/cycles/{cycle_id}/panels",
    response_model=PanelOut,
    status_code=201,
    summary="Create a panel with its chair, members and proposals (chair, admin)",
)
def create_panel(
    cycle_id: Id, data: PanelCreate, session: SessionDep, user: ChairOrAdmin, response: Response
) -> PanelOut:
    panel = service.create_panel(session, user, cycle_id, data)
    response.headers["ETag"] = etag(panel.version)
    return panel_out(panel)


@router.get(
    "/cycles/{cycle_id}/panels",
    response_model=Page[PanelOut],
    summary="Panels of a cycle (admins and finance see all; others the panels they chair or sit on)",
)
def list_panels(cycle_id: Id, session: SessionDep, user: CurrentUser) -> Page[PanelOut]:
    get_cycle(session, cycle_id)
    panels = service.visible_panels(session, user, cycle_id)
    return Page.whole([panel_out(p) for p in panels])


@router.get("/cycles/{cycle_id}/panels/{panel_id}", response_model=PanelOut, summary="One panel")
def get_panel(
    cycle_id: Id, panel_id: Id, session: SessionDep, user: CurrentUser, response: Response
) -> PanelOut:
    panel = service.get_panel(session, cycle_id, panel_id)
    if panel not in service.visible_panels(session, user, cycle_id):
        raise Forbidden(f"You neither chair nor sit on panel {panel_id}.")
    response.headers["ETag"] = etag(panel.version)
    return panel_out(panel)


@router.patch(
    "/cycles/{cycle_id}/panels/{panel_id}",
    response_model=PanelOut,
    summary="Change a panel's name, members or proposals (its chair, admin)",
)
def update_panel(
    cycle_id: Id,
    panel_id: Id,
    data: PanelUpdate,
    session: SessionDep,
    user: ChairOrAdmin,
    response: Response,
    if_match: str | None = Header(None, alias="If-Match"),
) -> PanelOut:
    panel = service.get_panel(session, cycle_id, panel_id)
    check_if_match(if_match, panel.version, data.version)
    panel = service.update_panel(session, user, panel, data)
    response.headers["ETag"] = etag(panel.version)
    return panel_out(panel)


@router.get(
    "/cycles/{cycle_id}/progress",
    response_model=CycleProgress,
    summary="Scoring progress per panel and scorer, with the missing scorecards (chair, admin)",
)
def cycle_progress(cycle_id: Id, session: SessionDep, user: ChairOrAdmin) -> CycleProgress:
    return review.progress(session, user, cycle_id)


@router.post(
    "/proposals/{proposal_id}/conflicts",
    response_model=ConflictOut,
    status_code=201,
    summary="Declare your conflict of interest, or record another user's (the panel's chair, admin)",
)
def declare_conflict(
    proposal_id: Id, data: ConflictCreate, session: SessionDep, user: CurrentUser
) -> ConflictOut:
    proposal = get_proposal(session, user, proposal_id)
    row = service.declare_conflict(session, user, proposal, data)
    return ConflictOut(
        id=row.id,
        proposal_id=row.proposal_id,
        user_id=row.user_id,
        type=row.type,
        reason=row.reason,
        recorded_by_id=row.recorded_by_id,
        automatic=False,
        created_at=row.created_at,
    )


@router.get(
    "/proposals/{proposal_id}/conflicts",
    response_model=Page[ConflictOut],
    summary="Conflicts on a proposal (all for its chair and admins; your own otherwise)",
)
def list_conflicts(proposal_id: Id, session: SessionDep, user: CurrentUser) -> Page[ConflictOut]:
    proposal = get_proposal(session, user, proposal_id)
    rows = [ConflictOut(**r) for r in service.list_conflicts(session, user, proposal)]
    return Page.whole(rows)
