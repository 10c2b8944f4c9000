from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Response, UploadFile

from app.deps import ChairOrAdmin, CurrentUser, SessionDep, SettingsDep
from app.etag import check_if_match, etag
from app.idempotency import IdempotencyDep
from app.models import Proposal, ProposalKind, ProposalStatus
from app.pagination import Page, PageDep, sort_pattern
from app.proposals import importer, service
from app.proposals.schemas import FinancialLine, ProposalCreate, ProposalOut, ProposalUpdate, Withdrawal
from app.types import Id, SingleLine

router = APIRouter(tags=["proposals"])

IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag you read; stale → 412.")]


def proposal_out(p: Proposal) -> ProposalOut:
    cost, saving = service.totals(p)
    return ProposalOut(
        id=p.id,
        cycle_id=p.cycle_id,
        reference=p.reference,
        title=p.title,
        capability=p.capability,
        kind=p.kind,
        summary=p.summary,
        lead=p.lead,
        status=p.status,
        proposer_id=p.proposer_id,
        financials=[FinancialLine(year=f.year, cost=f.cost, saving=f.saving) for f in p.financials],
        total_cost=cost,
        total_saving=saving,
        net_cost=cost - saving,
        fte_change=p.fte_change,
        self_assessment={str(s.principle_number): s.text for s in p.self_assessments},
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@router.post(
    "/proposals",
    response_model=ProposalOut,
    status_code=201,
    summary="Create a proposal (proposer while the cycle is open; chair, admin)",
)
def create_proposal(
    data: ProposalCreate, session: SessionDep, user: CurrentUser, response: Response, idem: IdempotencyDep
) -> ProposalOut | Response:
    proposal = service.create_proposal(session, user, data)
    response.headers["ETag"] = etag(proposal.version)
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return idem.remember(proposal_out(proposal), response)


@router.get(
    "/proposals",
    response_model=Page[ProposalOut],
    summary="List proposals (proposers see their own) with filters, sort and paging",
)
def list_proposals(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    cycle_id: Id | None = None,
    status: ProposalStatus | None = None,
    capability: Annotated[SingleLine | None, Query(max_length=120)] = None,
    kind: ProposalKind | None = None,
    proposer_id: Id | None = None,
    q: Annotated[
        SingleLine | None, Query(max_length=200, description="Text in reference, title or summary.")
    ] = None,
    sort: Annotated[
        SingleLine | None,
        Query(
            description="Comma-separated fields, '-' for descending: " + ", ".join(sorted(service.SORTS)),
            json_schema_extra={"pattern": sort_pattern(service.SORTS)},
        ),
    ] = None,
) -> Page[ProposalOut]:
    stmt = service.list_query(
        user,
        cycle_id=cycle_id,
        status=status.value if status else None,
        capability=capability,
        kind=kind.value if kind else None,
        q=q,
        proposer_id=proposer_id,
        sort=sort,
    )
    rows, total = service.list_proposals(session, page, stmt)
    return Page(items=[proposal_out(p) for p in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, summary="One proposal")
def get_proposal(proposal_id: Id, session: SessionDep, user: CurrentUser, response: Response) -> ProposalOut:
    proposal = service.get_proposal(session, user, proposal_id)
    response.headers["ETag"] = etag(proposal.version)
    return proposal_out(proposal)


@router.patch(
    "/proposals/{proposal_id}",
    response_model=ProposalOut,
    summary="Update a proposal; send its version (body) or ETag (If-Match)",
)
def update_proposal(
    proposal_id: Id,
    data: ProposalUpdate,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> ProposalOut:
    proposal = service.get_proposal(session, user, proposal_id)
    check_if_match(if_match, proposal.version, data.version)
    proposal = service.update_proposal(session, user, proposal, data)
    response.headers["ETag"] = etag(proposal.version)
    return proposal_out(proposal)


@router.post("/proposals/{proposal_id}/withdraw", response_model=ProposalOut, summary="Withdraw a proposal")
def withdraw_proposal(
    proposal_id: Id,
    data: Withdrawal,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
) -> ProposalOut:
    proposal = service.get_proposal(session, user, proposal_id)
    check_if_match(if_match, proposal.version, data.version, required=False)
    proposal = service.withdraw(session, user, proposal, data)
    response.headers["ETag"] = etag(proposal.version)
    return proposal_out(proposal)


@router.post(
    "/cycles/{cycle_id}/proposals/import",
    response_model=importer.ImportResult,
    status_code=201,
    summary="Import proposals from CSV or XLSX: every row lands or none does",
    responses={422: {"description": "Row-level errors; nothing was imported."}},
)
def import_proposals(
    cycle_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: ChairOrAdmin,
    file: Annotated[UploadFile, File(description="A .csv (UTF-8) or .xlsx file; layout in docs/import.md.")],
    response: Response,
    idem: IdempotencyDep,
) -> importer.ImportResult | Response:
    content = file.file.read(settings.max_upload_bytes + 1)
    result = importer.import_file(
        session, user, cycle_id, file.filename or "", content, settings.max_upload_bytes
    )
    return idem.remember(result, response)
