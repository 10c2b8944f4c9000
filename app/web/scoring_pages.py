from __future__ import annotations

from types import SimpleNamespace
from typing import Annotated

import numpy as np
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
from scoring.agreement import spread_and_sd

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


def _others(session, web, proposal_id: int, own_id: int, cycle) -> list[dict] | None:
    """After the user's own submission: every submitted scorecard of the proposal (the API's
    GET /proposals/{id}/scorecards, with its blind rule), as a table per principle with the spread of the
    answered scores; None while the rule keeps them hidden."""
    try:
        cards = service.list_for_proposal(session, web.user, proposal_id)
    except ServiceError:
        return None
    cards = [c for c in cards if c.status == "submitted"]
    others = [c for c in cards if c.scorer_id != own_id]
    ordered = [c for c in cards if c.scorer_id == own_id] + others
    letters = {c.scorer_id: chr(ord("A") + i) if i < 26 else str(i + 1) for i, c in enumerate(others)}
    values = np.full((1, len(ordered), 12), np.nan)
    table = {p: [None] * len(ordered) for p in range(1, 13)}
    for j, c in enumerate(ordered):
        for a in c.scores:
            table[a.principle][j] = "N/A" if a.not_applicable else a.score
            if a.score is not None and not a.not_applicable:
                values[0, j, a.principle - 1] = a.score
    spread, _, count = spread_and_sd(values)
    return {
        "columns": [
            ("You" if c.scorer_id == own_id else f"Member {letters[c.scorer_id]}", c.counts_in_aggregation)
            for c in ordered
        ],
        "rows": [
            (p, table[p], None if count[0, p - 1] == 0 else int(spread[0, p - 1])) for p in range(1, 13)
        ],
        "others": len(others),
        "threshold": cycle.disagreement_threshold,
    }


def _page(request, web, session, proposal_id, raw=None, errors=None, status=200, saved="", reason=""):
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
    locked = card.status == "submitted"
    prs = principles(session)
    # Banners promise only what is so: "submitted" when the card is, "saved" when a draft is there.
    message = {"draft": "Draft saved." if card.status == "draft" else None}.get(saved)
    just_submitted = saved == "submitted" and locked
    mine = service.allocation(session, web.user, None) if just_submitted else []
    upcoming = service.next_to_score(mine, proposal_id) if just_submitted else None
    # not submitted and not conflicted, but in a cycle not in scoring: nothing to offer, and not "all done"
    waiting = sum(service.todo_status(a) in ("to_do", "draft") for a in mine)
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
        principles=prs,
        titles={pr.number: pr.title for pr in prs},
        sa={s.principle_number: s.text for s in p.self_assessments},
        money=[(f.year, f.cost, f.saving, f.cost - f.saving) for f in p.financials],
        cost=cost,
        saving=saving,
        net=cost - saving,
        conflict_types=CONFLICT_TYPES,
        conflict_reason=reason,
        message=message,
        just_submitted=just_submitted,
        upcoming=upcoming,
        waiting=waiting,
        locked=locked,
        others=_others(session, web, proposal_id, web.user.id, cycle) if locked else None,
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
    return _page(request, web, session, proposal_id, saved=saved)


def ordered_errors(errors: dict[str, str]) -> dict[str, str]:
    """The page's errors in the order of its fields: principle by principle, then the rest."""
    order = [f"{f}_{p}" for p in range(1, 13) for f in ("score", "rationale", "confidence")]
    return {k: errors[k] for k in order if k in errors} | {k: v for k, v in errors.items() if k not in order}


def unanswered_errors(session, web, proposal_id: int, answers: list[dict]) -> dict[str, str]:
    """An error beside each principle that stops the submission, as the service counts them: the
    answers posted over those already saved."""
    saved = {a.principle: a for a in service.get_own(session, web.user, proposal_id).scores}
    posted = {a["principle"]: SimpleNamespace(**a) for a in answers}
    return {
        f"score_{p}": f"Select a score for principle {p}, or mark it not applicable."
        for p in service.unanswered(saved | posted)
    }


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
        errors = errors_from(exc, renames(answers))
        if isinstance(exc, ServiceError) and any(e.get("type") == "incomplete" for e in exc.errors or []):
            errors.pop("_form", None)
            errors |= unanswered_errors(session, web, proposal_id, answers)
        return _page(
            request,
            web,
            session,
            proposal_id,
            raw=raw,
            errors=ordered_errors(errors),
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
        return _page(
            request, web, session, proposal_id, errors=errs, status=422, reason=text(form, "conflict_reason")
        )
    return RedirectResponse(f"/?conflict={proposal_id}#conflict-banner", status_code=303)
