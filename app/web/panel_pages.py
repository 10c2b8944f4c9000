from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.deps import SessionDep
from app.errors import Forbidden, NotFound, ServiceError
from app.models import Cycle, Panel, Proposal
from app.panels.service import chairs
from app.rankings.compute import number_or_none
from app.scorecards import review, service
from app.scorecards.review import names_of
from app.scorecards.schemas import ModerationPut
from app.web.charts import heat_class
from app.web.forms import INT32_MAX, Fields, FormError, errors_from, form_int, path_id, query_int, text
from app.web.proposal_pages import principles
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)


def _panel(session, web, panel_id: int) -> Panel:
    panel = session.get(Panel, panel_id)
    if panel is None:
        raise NotFound(f"Panel {panel_id} does not exist.")
    if not chairs(web.user, panel):
        raise Forbidden("Only the panel's chair or an admin sees this page.")
    return panel


def _heat(session, web, cycle: Cycle, proposal_id: int):
    """Scorer × principle grid of one proposal (drafts included, for the chair), with cells flagged where
    the submitted answered scores spread by the cycle's threshold or more and the chair has not yet
    agreed a moderated score (the figures of the agreement endpoint)."""
    cards = service.list_for_proposal(session, web.user, proposal_id)
    tensor = service.load_tensor(session, [proposal_id])
    figures, _ = review.figures(session, cycle, tensor)
    flagged = {k + 1 for k in range(12) if figures.flagged[0, k]} if tensor.scorer_ids else set()
    spread = {k + 1: number_or_none(figures.spread[0, k]) for k in range(12)} if tensor.scorer_ids else {}
    names = names_of(session, {c.scorer_id for c in cards})
    rows = []
    for c in cards:
        by = {a.principle: a for a in c.scores}
        cells = []
        for k in range(1, 13):
            a = by.get(k)
            value = None if a is None or a.not_applicable else a.score
            shown = "NA" if a is not None and a.not_applicable else ("" if value is None else str(value))
            cells.append(
                {
                    "shown": shown,
                    "level": heat_class(value, cycle.scale_min, cycle.scale_max),
                    "flagged": k in flagged and c.status == "submitted",
                }
            )
        rows.append({"card": c, "name": names.get(c.scorer_id, str(c.scorer_id)), "cells": cells})
    return rows, flagged, spread


def _page(
    request, web, session, panel_id: int, proposal_id: int | None, errors=None, status=200, message=None
):
    panel = _panel(session, web, panel_id)
    cycle = session.get(Cycle, panel.cycle_id)
    progress = next(p for p in review.progress(session, web.user, cycle.id).panels if p.panel_id == panel.id)
    proposals = (
        list(
            session.scalars(
                select(Proposal).where(Proposal.id.in_(panel.proposal_ids)).order_by(Proposal.reference)
            )
        )
        if panel.proposal_ids
        else []
    )
    chosen = next((p for p in proposals if p.id == proposal_id), proposals[0] if proposals else None)
    heat, flagged, spread, moderated, conflict = [], set(), {}, {}, None
    if chosen is not None:
        try:
            heat, flagged, spread = _heat(session, web, cycle, chosen.id)
        except Forbidden as exc:  # the chair is conflicted on this proposal: nothing of its scores is shown
            conflict = exc.detail
        else:
            moderated = {m.principle_number: m for m in service.moderated(session, chosen.id)}
    return render(
        request,
        "panel.html",
        web,
        status=status,
        title=panel.name,
        panel=panel,
        cycle=cycle,
        progress=progress,
        proposals=proposals,
        chosen=chosen,
        heat=heat,
        flagged=flagged,
        spread=spread,
        moderated=moderated,
        conflict=conflict,
        principles=principles(session),
        errors=errors or {},
        message=message,
        levels=list(range(cycle.scale_min, cycle.scale_max + 1)),
    )


@router.get("/panels/{panel_id}", response_class=HTMLResponse)
def panel_page(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    proposal_id: Annotated[int | None, query_int("proposal_id")],
    saved: str = "",
):
    messages = {"moderation": "Moderated scores saved.", "reopened": "Scorecard reopened."}
    return _page(request, web, session, panel_id, proposal_id, message=messages.get(saved))


@router.post("/panels/{panel_id}/moderate", response_class=HTMLResponse)
def moderate(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    _panel(session, web, panel_id)
    proposal_id = form_int(form, "proposal_id", label="proposal id")
    fields = Fields(form)
    answers = []
    for p in range(1, 13):
        score, note = text(form, f"mod_{p}"), text(form, f"note_{p}")
        if score == "" and not note:
            continue
        answers.append(
            {
                "principle": p,
                "score": None
                if score == "na"
                else fields.int(f"mod_{p}", label="agreed score", min=-INT32_MAX, max=INT32_MAX),
                "not_applicable": score == "na",
                "note": note,
            }
        )
    try:
        fields.check()
        if not answers:
            return RedirectResponse(f"/panels/{panel_id}?proposal_id={proposal_id}", status_code=303)
        data = ModerationPut.model_validate({"scores": answers})
        with session.begin_nested():
            service.moderate(session, web.user, proposal_id, data)
    except (FormError, ValidationError, ServiceError) as exc:
        renames = {f"scores.{i}": f"note_{a['principle']}" for i, a in enumerate(answers)}
        renames |= {f"scores.{i}.score": f"mod_{a['principle']}" for i, a in enumerate(answers)}
        return _page(
            request, web, session, panel_id, proposal_id, errors=errors_from(exc, renames), status=422
        )
    return RedirectResponse(f"/panels/{panel_id}?proposal_id={proposal_id}&saved=moderation", status_code=303)


@router.post("/panels/{panel_id}/reopen", response_class=HTMLResponse)
def reopen(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    _panel(session, web, panel_id)
    proposal_id = form_int(form, "proposal_id", label="proposal id")
    scorecard_id = form_int(form, "scorecard_id", label="scorecard id")
    reason = text(form, "reason")
    try:
        if len(reason) < 3:
            return _page(
                request,
                web,
                session,
                panel_id,
                proposal_id,
                status=422,
                errors={"_form": "Give a reason for reopening the scorecard."},
            )
        with session.begin_nested():
            service.reopen(session, web.user, proposal_id, scorecard_id, reason)
    except ServiceError as exc:
        return _page(request, web, session, panel_id, proposal_id, errors=errors_from(exc), status=exc.status)
    return RedirectResponse(f"/panels/{panel_id}?proposal_id={proposal_id}&saved=reopened", status_code=303)
