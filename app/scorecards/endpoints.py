from __future__ import annotations

from fastapi import APIRouter, Response

from app.db import commit_now
from app.deps import ChairOrAdmin, CurrentUser, SessionDep, writes_late
from app.idempotency import IdempotencyDep
from app.pagination import Page
from app.scorecards import review, service
from app.scorecards.schemas import (
    AllocationItem,
    BatchOut,
    BatchPut,
    CycleAgreement,
    ModeratedOut,
    ModerationPut,
    Reopen,
    ScorecardOut,
    ScorecardPut,
)
from app.types import Id

router = APIRouter(tags=["scorecards"])


@router.get(
    "/users/me/allocation",
    response_model=Page[AllocationItem],
    summary="The proposals on your panels, with your scorecard's state",
)
def my_allocation(session: SessionDep, user: CurrentUser, cycle_id: Id | None = None) -> Page[AllocationItem]:
    items = [AllocationItem(**r) for r in service.allocation(session, user, cycle_id)]
    return Page.whole(items)


@router.get(
    "/proposals/{proposal_id}/scorecard",
    response_model=ScorecardOut,
    summary="Your own scorecard for a proposal (status 'new' until you save)",
)
def get_scorecard(proposal_id: Id, session: SessionDep, user: CurrentUser) -> ScorecardOut:
    return service.get_own(session, user, proposal_id)


@router.put(
    "/proposals/{proposal_id}/scorecard",
    response_model=ScorecardOut,
    summary="Save answers to your scorecard; submit: true checks all twelve and locks it",
)
@writes_late
def put_scorecard(
    proposal_id: Id, data: ScorecardPut, session: SessionDep, user: CurrentUser
) -> ScorecardOut:
    saved = service.save(session, user, proposal_id, data)
    commit_now(session)
    return saved


@router.post(
    "/scorecards/batch",
    response_model=BatchOut,
    summary="Save or submit many of your scorecards at once: all items or none",
)
@writes_late
def put_batch(
    data: BatchPut, session: SessionDep, user: CurrentUser, response: Response, idem: IdempotencyDep
) -> BatchOut | Response:
    items = service.save_batch(session, user, data.items)
    result = BatchOut(saved=len(items), submitted=sum(i.status == "submitted" for i in items), items=items)
    answer = idem.remember(result, response)
    commit_now(session)
    return answer


@router.get(
    "/proposals/{proposal_id}/scorecards",
    response_model=Page[ScorecardOut],
    summary="All scorecards of a proposal (its chair, admins; a member after submitting their own)",
)
def list_scorecards(proposal_id: Id, session: SessionDep, user: CurrentUser) -> Page[ScorecardOut]:
    items = service.list_for_proposal(session, user, proposal_id)
    return Page.whole(items)


@router.post(
    "/proposals/{proposal_id}/scorecards/{scorecard_id}/reopen",
    response_model=ScorecardOut,
    summary="Reopen a submitted scorecard so its scorer can change it (the panel's chair, admin)",
)
def reopen_scorecard(
    proposal_id: Id, scorecard_id: Id, data: Reopen, session: SessionDep, user: ChairOrAdmin
) -> ScorecardOut:
    return service.reopen(session, user, proposal_id, scorecard_id, data.reason)


def _moderated_out(rows) -> list[ModeratedOut]:
    return [
        ModeratedOut(
            principle=m.principle_number,
            score=m.score,
            not_applicable=m.not_applicable,
            note=m.note,
            moderated_by_id=m.moderated_by_id,
            updated_at=m.updated_at,
        )
        for m in rows
    ]


@router.get(
    "/proposals/{proposal_id}/moderation",
    response_model=list[ModeratedOut],
    summary="The chair's moderated (consensus) scores of a proposal",
)
def get_moderation(proposal_id: Id, session: SessionDep, user: CurrentUser) -> list[ModeratedOut]:
    return _moderated_out(service.get_moderation(session, user, proposal_id))


@router.put(
    "/proposals/{proposal_id}/moderation",
    response_model=list[ModeratedOut],
    summary="Set moderated scores with notes (the panel's chair, admin; in scoring or moderation)",
)
def put_moderation(
    proposal_id: Id, data: ModerationPut, session: SessionDep, user: ChairOrAdmin
) -> list[ModeratedOut]:
    return _moderated_out(service.moderate(session, user, proposal_id, data))


@router.get(
    "/cycles/{cycle_id}/agreement",
    response_model=CycleAgreement,
    summary="Spread and sd per proposal and principle, Krippendorff's alpha, scorer leniency (chair, admin)",
)
def cycle_agreement(cycle_id: Id, session: SessionDep, user: ChairOrAdmin) -> CycleAgreement:
    return review.agreement(session, user, cycle_id)
