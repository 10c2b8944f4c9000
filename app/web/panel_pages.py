"""The chair's pages: a panel's triage view (every proposal with its coverage, flagged principles and
largest spread, sortable and filterable) and one proposal's moderation page (its heat map of scores by
member and principle, with a legend, the agreed scores, the moderation form and previous/next links
through the flagged proposals).

The figures are the agreement endpoint's (``app.scorecards.review.figures``); moderation and reopening
go through the scorecards service, which checks and audits them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.deps import SessionDep
from app.errors import Forbidden, NotFound, ServiceError
from app.models import Cycle, Panel, Proposal
from app.panels.service import chairs, conflict_of, declared_conflicts
from app.rankings.compute import number_or_none
from app.scorecards import review, service
from app.scorecards.review import names_of
from app.scorecards.schemas import ModerationPut
from app.web.charts import heat_class
from app.web.forms import INT32_MAX, Fields, errors_from, form_int, path_id, query_int, text
from app.web.proposal_pages import principles
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)

# Sortable columns of the triage table: the order a first click gives (text up, figures down).
SORTS = {
    "reference": "asc",
    "title": "asc",
    "coverage": "asc",
    "flagged": "desc",
    "spread": "desc",
    "moderated": "desc",
}
DEFAULT_SORT = ("flagged", "desc")
SAVED = {"moderation": "Moderated scores saved.", "reopened": "Scorecard reopened."}


def _panel(session, web, panel_id: int) -> Panel:
    panel = session.get(Panel, panel_id)
    if panel is None:
        raise NotFound(f"Panel {panel_id} does not exist.")
    if not chairs(web.user, panel):
        raise Forbidden("Only the panel's chair or an admin sees this page.")
    return panel


@dataclass
class TriageRow:
    """One proposal of the panel as the triage table shows it. ``conflict`` is why the signed-in chair
    may not see its scores (then its figures are not shown)."""

    id: int
    reference: str
    title: str
    submitted: int
    expected: int
    flagged: int
    spread: float | None
    moderated: int
    conflict: str | None

    def key(self, column: str) -> Any:
        """The value sorted on; ``None`` (nothing to show) sorts last in either direction."""
        if self.conflict and column not in ("reference", "title"):
            return None
        return {
            "reference": self.reference,
            "title": self.title.casefold(),
            "coverage": (self.submitted / self.expected if self.expected else 0.0, self.submitted),
            "flagged": self.flagged,
            "spread": self.spread,
            "moderated": self.moderated,
        }[column]


def triage_rows(session, web, panel: Panel, cycle: Cycle) -> list[TriageRow]:
    """Every proposal of the panel, in reference order, with the figures of the agreement endpoint:
    submitted scorecards of the members who may score it, principles flagged for moderation (spread at
    the cycle's threshold or more and no agreed score), the largest spread and the agreed principles."""
    ids = list(panel.proposal_ids)
    if not ids:
        return []
    proposals = list(
        session.scalars(select(Proposal).where(Proposal.id.in_(ids)).order_by(Proposal.reference))
    )
    ids = [p.id for p in proposals]
    tensor = service.load_tensor(session, ids)
    figures, moderated = review.figures(session, cycle, tensor)
    states = service.count_scorecards(session, ids)
    conflicted = service.conflicted_pairs(session, ids)
    declared = declared_conflicts(session, web.user.id)
    rows = []
    for i, p in enumerate(proposals):
        eligible = [m for m in panel.member_ids if (p.id, m) not in conflicted]
        rows.append(
            TriageRow(
                id=p.id,
                reference=p.reference,
                title=p.title,
                submitted=sum(states.get((p.id, m)) == "submitted" for m in eligible),
                expected=len(eligible),
                flagged=int(figures.flagged[i].sum()),
                spread=number_or_none(figures.max_spread[i]),
                moderated=int(moderated[i].sum()),
                conflict=conflict_of(session, web.user.id, p, declared),
            )
        )
    return rows


def sorted_rows(rows: list[TriageRow], column: str, direction: str) -> list[TriageRow]:
    """Rows sorted on ``column``; ties (and the rows with nothing to show, always last) by reference."""
    by_reference = sorted(rows, key=lambda r: r.reference)
    known = [r for r in by_reference if r.key(column) is not None]
    unknown = [r for r in by_reference if r.key(column) is None]
    return sorted(known, key=lambda r: r.key(column), reverse=direction == "desc") + unknown


@router.get("/panels/{panel_id}", response_class=HTMLResponse)
def panel_page(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    proposal_id: Annotated[int | None, query_int("proposal_id")],
    sort: str = "",
    dir: str = "",
    flagged: str = "",
    saved: str = "",
):
    panel = _panel(session, web, panel_id)
    if proposal_id is not None:  # the address this page had before the triage view: one proposal's page
        return RedirectResponse(f"/panels/{panel_id}/proposals/{proposal_id}", status_code=303)
    cycle = session.get(Cycle, panel.cycle_id)
    progress = next(p for p in review.progress(session, web.user, cycle.id).panels if p.panel_id == panel.id)
    column = sort if sort in SORTS else DEFAULT_SORT[0]
    direction = dir if dir in ("asc", "desc") else (SORTS[column] if sort in SORTS else DEFAULT_SORT[1])
    only_flagged = flagged == "1"
    rows = triage_rows(session, web, panel, cycle)
    shown = sorted_rows([r for r in rows if r.flagged or not only_flagged], column, direction)
    first_flagged = next((r for r in rows if r.flagged and not r.conflict), None)
    return render(
        request,
        "panel.html",
        web,
        title=panel.name,
        panel=panel,
        cycle=cycle,
        progress=progress,
        rows=shown,
        total=len(rows),
        flagged_count=sum(1 for r in rows if r.flagged),
        first_flagged=first_flagged,
        sort=column,
        direction=direction,
        only_flagged=only_flagged,
        message=SAVED.get(saved),
    )


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


def _on_panel(session, panel: Panel, proposal_id: int) -> Proposal:
    proposal = session.get(Proposal, proposal_id) if proposal_id in panel.proposal_ids else None
    if proposal is None:
        raise NotFound(f"Proposal {proposal_id} is not on the panel {panel.name}.")
    return proposal


def _moderation_page(
    request,
    web,
    session,
    panel_id: int,
    proposal_id: int,
    *,
    errors=None,
    entered: dict[int, dict[str, str]] | None = None,
    entered_reason: tuple[int, str] | None = None,
    status=200,
    message=None,
):
    panel = _panel(session, web, panel_id)
    proposal = _on_panel(session, panel, proposal_id)
    cycle = session.get(Cycle, panel.cycle_id)
    heat, flagged, spread, moderated, conflict = [], set(), {}, {}, None
    try:
        heat, flagged, spread = _heat(session, web, cycle, proposal.id)
    except Forbidden as exc:  # the chair is conflicted on this proposal: nothing of its scores is shown
        conflict = exc.detail
    else:
        moderated = {m.principle_number: m for m in service.moderated(session, proposal.id)}
    # What the form shows: what the chair just sent (after an error), else the agreed scores on record.
    values = entered or {
        k: {"score": "na" if m.not_applicable else str(m.score), "note": m.note} for k, m in moderated.items()
    }
    # Previous and next through the panel's flagged proposals, in reference order (this one included).
    rows = triage_rows(session, web, panel, cycle)
    here = next(r for r in rows if r.id == proposal.id)
    flagged_rows = [r for r in rows if r.flagged and not r.conflict]
    previous = next((r for r in reversed(flagged_rows) if r.reference < here.reference), None)
    following = next((r for r in flagged_rows if r.reference > here.reference), None)
    if message == SAVED["moderation"]:  # the banner says where the proposal now stands
        message += (
            f" {proposal.reference}: {len(moderated)} of 12 principles agreed, {len(flagged)} still flagged."
        )
    return render(
        request,
        "panel_proposal.html",
        web,
        status=status,
        title=f"{proposal.reference} – {panel.name}",
        panel=panel,
        cycle=cycle,
        proposal=proposal,
        here=here,
        flagged_total=len(flagged_rows),
        previous=previous,
        following=following,
        heat=heat,
        flagged=flagged,
        spread=spread,
        moderated=moderated,
        values=values,
        reasons=dict([entered_reason]) if entered_reason else {},
        conflict=conflict,
        principles=principles(session),
        errors=errors or {},
        message=message,
        legend=[
            (v, heat_class(v, cycle.scale_min, cycle.scale_max), (cycle.scale_labels or {}).get(str(v), ""))
            for v in range(cycle.scale_min, cycle.scale_max + 1)
        ],
        levels=list(range(cycle.scale_min, cycle.scale_max + 1)),
    )


@router.get("/panels/{panel_id}/proposals/{proposal_id}", response_class=HTMLResponse)
def moderation_page(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    saved: str = "",
):
    return _moderation_page(request, web, session, panel_id, proposal_id, message=SAVED.get(saved))


@router.post("/panels/{panel_id}/moderate", response_class=HTMLResponse)
def moderate(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    proposal_id = form_int(form, "proposal_id", label="proposal id")
    _on_panel(session, panel, proposal_id)
    on_record = {m.principle_number for m in service.moderated(session, proposal_id)}
    fields = Fields(form)
    entered: dict[int, dict[str, str]] = {}
    answers = []
    for p in range(1, 13):
        score, note = text(form, f"mod_{p}"), text(form, f"note_{p}")
        entered[p] = {"score": score, "note": note}
        if score == "" and p not in on_record:
            if note:  # a note with nothing agreed would be dropped without a word
                fields.errors[f"mod_{p}"] = (
                    f"Choose the agreed score for principle {p}, or Not applicable, to go with its note; "
                    "or clear the note."
                )
            continue
        answers.append(
            {
                "principle": p,
                "score": None
                if score in ("", "na")
                else fields.int(f"mod_{p}", label="agreed score", min=-INT32_MAX, max=INT32_MAX),
                "not_applicable": score == "na",
                "note": note,
            }
        )
    page = f"/panels/{panel_id}/proposals/{proposal_id}"
    if not answers and not fields.errors:
        return RedirectResponse(page, status_code=303)
    renames = {f"scores.{i}": f"note_{a['principle']}" for i, a in enumerate(answers)}
    renames |= {f"scores.{i}.score": f"mod_{a['principle']}" for i, a in enumerate(answers)}
    renames |= {f"scores.{i}.note": f"note_{a['principle']}" for i, a in enumerate(answers)}
    errors = dict(fields.errors)  # every problem at once: the typed fields' and the rules' of each answer
    status = 422
    try:
        data = ModerationPut.model_validate({"scores": answers})
    except ValidationError as exc:
        errors = errors_from(exc, renames) | errors
    if not errors:
        try:
            with session.begin_nested():
                service.moderate(session, web.user, proposal_id, data)
        except ServiceError as exc:
            errors, status = errors_from(exc, renames), exc.status
    if errors:
        order = {f"{kind}_{p}": (p, n) for p in range(1, 13) for n, kind in enumerate(("mod", "note"))}
        errors = dict(sorted(errors.items(), key=lambda e: order.get(e[0], (0, 0))))
        return _moderation_page(
            request, web, session, panel_id, proposal_id, errors=errors, entered=entered, status=status
        )
    return RedirectResponse(f"{page}?saved=moderation", status_code=303)


@router.post("/panels/{panel_id}/reopen", response_class=HTMLResponse)
def reopen(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    proposal_id = form_int(form, "proposal_id", label="proposal id")
    _on_panel(session, panel, proposal_id)
    scorecard_id = form_int(form, "scorecard_id", label="scorecard id")
    reason = text(form, "reason")
    try:
        if len(reason) < 3:
            return _moderation_page(
                request,
                web,
                session,
                panel_id,
                proposal_id,
                status=422,
                errors={f"reason-{scorecard_id}": "Give a reason for reopening, of 3 characters or more."},
                entered_reason=(scorecard_id, reason),
            )
        with session.begin_nested():
            service.reopen(session, web.user, proposal_id, scorecard_id, reason)
    except ServiceError as exc:
        return _moderation_page(
            request, web, session, panel_id, proposal_id, errors=errors_from(exc), status=exc.status
        )
    return RedirectResponse(f"/panels/{panel_id}/proposals/{proposal_id}?saved=reopened", status_code=303)
