from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.deps import CurrentUser, SessionDep
from app.idempotency import IdempotencyDep
from app.models import Submission, User
from app.pagination import Page
from app.rankings.endpoints import CSV, XLSX, audit_export, file_response
from app.submissions import service
from app.submissions.schemas import SubmissionCreate, SubmissionOut, SubmissionSummary, Verification
from app.types import Id

router = APIRouter(tags=["submissions"])
PDF = "application/pdf"
MEDIA = {"csv": CSV, "xlsx": XLSX, "pdf": PDF}


def summary(s: Submission) -> SubmissionSummary:
    return SubmissionSummary(
        id=s.id,
        cycle_id=s.cycle_id,
        title=s.title,
        note=s.note,
        weighting_id=s.weighting_id,
        aggregation=s.aggregation,
        status=s.status,
        content_sha256=s.content_sha256,
        supersedes_id=s.supersedes_id,
        superseded_by_id=s.superseded_by_id,
        created_by_id=s.created_by_id,
        created_at=s.created_at,
    )


def submission_out(user: User, s: Submission) -> SubmissionOut:
    content, withheld = service.visible_content(user, s)
    return SubmissionOut(**summary(s).model_dump(), content=content, answers_withheld=withheld)


@router.post(
    "/cycles/{cycle_id}/submissions",
    response_model=SubmissionOut,
    status_code=201,
    summary="Freeze a ranking (and optionally a selection) with all its inputs into a hashed submission "
    "(cycle in moderation or closed; an admin may override with override_reason)",
)
def issue(
    cycle_id: Id,
    data: SubmissionCreate,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    idem: IdempotencyDep,
) -> SubmissionOut | Response:
    return idem.remember(submission_out(user, service.issue(session, user, cycle_id, data)), response)


@router.get(
    "/cycles/{cycle_id}/submissions",
    response_model=Page[SubmissionSummary],
    summary="A cycle's submissions, newest first",
)
def list_submissions(cycle_id: Id, session: SessionDep, user: CurrentUser) -> Page[SubmissionSummary]:
    rows = [summary(s) for s in service.list_submissions(session, user, cycle_id)]
    return Page.whole(rows)


@router.get(
    "/submissions/{submission_id:int}",
    response_model=SubmissionOut,
    summary="One submission, whole (the individual scorers' answers for admins only)",
)
def get_submission(submission_id: Id, session: SessionDep, user: CurrentUser) -> SubmissionOut:
    return submission_out(user, service.get_submission(session, user, submission_id))


@router.get(
    "/submissions/{submission_id:int}/verify",
    response_model=Verification,
    summary="Check the stored hash and recompute the results from the frozen inputs",
)
def verify(submission_id: Id, session: SessionDep, user: CurrentUser) -> Verification:
    return Verification(**service.verify(service.get_submission(session, user, submission_id)))


def download(request: Request, session, user, submission_id: int, fmt: str) -> Response:
    """A submission's ranking with its Selected column as a file, or its board pack (PDF); the download is
    audited once built."""
    s = service.get_submission(session, user, submission_id)
    content = service.file_bytes(session, s, fmt)
    audit_export(request, user, "submission", "submission", s.id, format=fmt)
    return file_response(content, MEDIA[fmt], f"submission-{s.id}.{fmt}")


@router.get(
    "/submissions/{submission_id:int}.{fmt}",
    summary="A submission's ranking (with Selected) as CSV or XLSX, or its board pack as PDF",
    description="`.csv` and `.xlsx`: the frozen ranking with a Selected column. `.pdf`: the board pack, "
    "typeset from the submission's frozen record alone (cover, summary, ranked list, charts, a page per "
    "funded proposal, method annex); its metadata and every page's footer carry the content_sha256, and "
    "`serr verify-submission ID --pdf FILE` checks a pack in hand against the record. The same submission "
    "always gives the same PDF.",
    response_class=Response,
    responses={
        200: {
            "description": "The file, as an attachment",
            "content": {CSV: {}, XLSX: {}, PDF: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def submission_file(
    submission_id: Id,
    fmt: Literal["csv", "xlsx", "pdf"],
    request: Request,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    return download(request, session, user, submission_id, fmt)
