from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.deps import SessionDep
from app.errors import ServiceError
from app.models import CONFLICT_TYPES
from app.panels.schemas import ConflictCreate
from app.panels.service import declare_conflict
from app.proposals.service import get_proposal, totals
from app.scorecards import service
from app.scorecards.schemas import ScorecardPut
from app.web.forms import INT32_MAX, Fields, FormError, errors_from, path_id, text
from app.web.proposal_pages import principles
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)


def answers_from(form) -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """The twelve answers as posted, the raw values to show again, and the fields that could not be read."""
    fields = Fields(form)
    answers, raw = [], {}
    for p in range(1, 13):
        score, rationale, confidence = (
            text(form, f"score_{p}"),
            text(form, f"rationale_{p}"),
            text(form, f"confidence_{p}"),
        )
        raw |= {f"score_{p}": score, f"rationale_{p}": rationale, f"confidence_{p}": confidence}
        if not (score or rationale or confidence):
            continue
        answers.append(
            {
                "principle": p,
                "score": None
                if score == "na"
                else fields.int(f"score_{p}", label="score", min=-INT32_MAX, max=INT32_MAX),
                "not_applicable": score == "na",
                "rationale": rationale,
                "confidence": fields.int(f"confidence_{p}", label="confidence", min=1, max=3),
            }
        )
    return answers, raw, fields.errors


def renames(answers: list[dict]) -> dict[str, str]:
    out = {"submit": "_form"}
    for i, a in enumerate(answers):
        p = a["principle"]
        out |= {
            f"scores.{i}.score": f"score_{p}",
            f"scores.{i}.rationale": f"rationale_{p}",
            f"scores.{i}.confidence": f"confidence_{p}",
            f"scores.{i}": f"score_{p}",
        }
    for p in range(1, 13):
        out[f"principles.{p}.rationale"] = f"rationale_{p}"
    return out


def _page(request, web, session, proposal_id, raw=None, errors=None, status=200, message=None):
    ctx = service.context(session, proposal_id)
    p = get_proposal(session, web.user, proposal_id)
    try:
        card = service.get_own(session, web.user, proposal_id)
    except ServiceError as exc:
        return render(
            request,
            "error.html",
            web,
            status=exc.status,
            title="You cannot score this proposal",
            detail=exc.detail,
        )
    if raw is None:
        raw = {}
        for a in card.scores:
            raw[f"score_{a.principle}"] = (
                "na" if a.not_applicable else ("" if a.score is None else str(a.score))
            )
            raw[f"rationale_{a.principle}"] = a.rationale
            raw[f"confidence_{a.principle}"] = "" if a.confidence is None else str(a.confidence)
    cost, saving = totals(p)
    cycle = ctx.cycle
    levels = [
        (str(v), cycle.scale_labels.get(str(v), "")) for v in range(cycle.scale_min, cycle.scale_max + 1)
    ]
    return render(
        request,
        "score.html",
        web,
        status=status,
        title=f"Score {p.reference}",
        p=p,
        cycle=cycle,
        card=card,
        raw=raw,
        errors=errors or {},
        levels=levels,
        principles=principles(session),
        sa={s.principle_number: s.text for s in p.self_assessments},
        net=cost - saving,
        conflict_types=CONFLICT_TYPES,
        message=message,
        locked=card.status == "submitted",
        scoring_open=cycle.status == "scoring",
    )


@router.get("/proposals/{proposal_id}/score", response_class=HTMLResponse)
def score_page(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    saved: str = "",
):
    messages = {
        "draft": "Draft saved.",
        "submitted": "Scorecard submitted.",
        "conflict": "Conflict declared.",
    }
    return _page(request, web, session, proposal_id, message=messages.get(saved))


@router.post("/proposals/{proposal_id}/score", response_class=HTMLResponse)
def save_score(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    answers, raw, unreadable = answers_from(form)
    submit = form.get("action") == "submit"
    try:
        if unreadable:
            raise FormError(unreadable)
        data = ScorecardPut.model_validate({"scores": answers, "submit": submit})
        with session.begin_nested():
            service.save(session, web.user, proposal_id, data)
    except (FormError, ValidationError, ServiceError) as exc:
        return _page(
            request,
            web,
            session,
            proposal_id,
            raw=raw,
            errors=errors_from(exc, renames(answers)),
            status=422 if not isinstance(exc, ServiceError) else exc.status,
        )
    return RedirectResponse(
        f"/proposals/{proposal_id}/score?saved={'submitted' if submit else 'draft'}", status_code=303
    )


@router.post("/proposals/{proposal_id}/conflict", response_class=HTMLResponse)
def declare(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    p = get_proposal(session, web.user, proposal_id)
    try:
        data = ConflictCreate(type=text(form, "type"), reason=text(form, "conflict_reason"))
        with session.begin_nested():
            declare_conflict(session, web.user, p, data)
    except (ValidationError, ServiceError) as exc:
        errs = errors_from(exc, {"type": "conflict_type", "reason": "conflict_reason"})
        return _page(request, web, session, proposal_id, errors=errs, status=422)
    return RedirectResponse("/?conflict=1", status_code=303)
