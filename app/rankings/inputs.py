"""Gathering everything a ranking is computed from into one plain, canonical JSON document.

The same document is what a submission freezes, so a ranking can be recomputed from it exactly,
whatever happens to the live scores later. Reads select columns, not entities: a handful of set-based
reads joined on the cycle, fetched as plain tuples and put in order here.

Version 2 adds what the quorum rule needs (the cycle's ``min_scorecards`` and, per proposal, the
``eligible`` panel members: members of its panel with no conflict of interest on it) and the options the
ranking was asked for (``include_below_quorum``, the rank intervals' ``resamples`` and ``seed``).
Version 1 documents (frozen before quorum) are still recomputed by the version-1 rules.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any

from sqlalchemy import BigInteger, select, type_coerce
from sqlalchemy.orm import Session

from app.models import (
    Conflict,
    Cycle,
    ModeratedScore,
    Panel,
    PanelMember,
    PanelProposal,
    Proposal,
    ProposalFinancial,
    ProposalStatus,
    Weighting,
)
from app.scorecards.service import counted_scorecards

INPUTS_VERSION = 2
RESAMPLES = 1000  # rank intervals: bootstrap resamples by default
MAX_RESAMPLES = 10_000
SEED = 0


def _rows(session: Session, stmt) -> list[tuple]:
    """Every row of a Core select as plain tuples, straight from the driver's cursor: no Row objects and no
    result processing (booleans may come back as 0/1 and money as integer pence, the stored values)."""
    result = session.connection().execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


@contextmanager
def _bulk():
    """Building many small objects at once: the cyclic collector (which would walk every object made so far,
    over and over) pauses until the block ends. Nothing built here forms a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def gather(
    session: Session,
    cycle: Cycle,
    weighting: Weighting,
    aggregation: str,
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Any]:
    """The inputs document of ``cycle`` under ``weighting``: a few set-based reads joined on the cycle."""
    return document(
        cycle,
        weighting,
        aggregation,
        gather_rows(session, cycle.id),
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
    )


def gather_rows(session: Session, cycle_id: int) -> dict[str, list]:
    """What a cycle's rankings are computed from, whatever the weighting and options: its submitted
    proposals (each with cost, saving and eligible scorers by year), the counted answers and the moderated
    scores, in document order. Five reads, each joined on the cycle; the shared part of every document."""
    submitted = (Proposal.cycle_id == cycle_id) & (Proposal.status == ProposalStatus.submitted.value)
    with _bulk():
        rows = _rows(
            session,
            select(
                Proposal.id,
                Proposal.reference,
                Proposal.title,
                Proposal.capability,
                Proposal.kind,
                Proposal.proposer_id,
                PanelProposal.panel_id,
            )
            .outerjoin(PanelProposal, PanelProposal.proposal_id == Proposal.id)
            .where(submitted)
            .order_by(Proposal.id),
        )
        members: dict[int, list[int]] = {}
        for panel_id, user_id in _rows(
            session,
            select(PanelMember.panel_id, PanelMember.user_id)
            .join(Panel, Panel.id == PanelMember.panel_id)
            .where(Panel.cycle_id == cycle_id),
        ):
            members.setdefault(panel_id, []).append(user_id)
        # A scorer with a declared conflict on a proposal, or its proposer, is not eligible for it.
        conflicted = set(
            _rows(
                session,
                select(Conflict.proposal_id, Conflict.user_id)
                .join(Proposal, Proposal.id == Conflict.proposal_id)
                .where(Proposal.cycle_id == cycle_id),
            )
        )
        years: dict[int, dict[str, tuple[int, int]]] = {r[0]: {} for r in rows}
        for pid, year, cost, saving in _rows(
            session,
            select(
                ProposalFinancial.proposal_id,
                ProposalFinancial.year,
                type_coerce(ProposalFinancial.cost, BigInteger),
                type_coerce(ProposalFinancial.saving, BigInteger),
            )
            .join(Proposal, Proposal.id == ProposalFinancial.proposal_id)
            .where(submitted),
        ):
            years[pid][year] = (int(cost), int(saving))
        # The answers that count (one rule, counted_scorecards), read in storage order and ordered here:
        # cheaper than a sort in SQL.
        found = _rows(session, counted_scorecards().where(submitted))
        found.sort()  # (proposal, scorer, principle) is unique: scores are never compared
        answers = [[pid, sid, principle, score, bool(na)] for pid, sid, principle, score, na in found]
        del found
        moderated = _rows(
            session,
            select(
                ModeratedScore.proposal_id,
                ModeratedScore.principle_number,
                ModeratedScore.score,
                ModeratedScore.not_applicable,
            )
            .join(Proposal, Proposal.id == ModeratedScore.proposal_id)
            .where(submitted),
        )
        moderated.sort()
        return {
            "proposals": [
                (
                    pid,
                    reference,
                    title,
                    capability,
                    kind,
                    panel_id,
                    years[pid],
                    sorted(
                        u
                        for u in members.get(panel_id, ())
                        if u != proposer_id and (pid, u) not in conflicted
                    ),
                )
                for pid, reference, title, capability, kind, proposer_id, panel_id in rows
            ],
            "answers": answers,
            "moderated": [[pid, p, score, bool(na)] for pid, p, score, na in moderated],
        }


def document(
    cycle: Cycle,
    weighting: Weighting,
    aggregation: str,
    rows: dict[str, list],
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, Any]:
    """The inputs document from a cycle's rows (see :func:`gather_rows`), which it shares, never copies:
    neither may be changed afterwards."""
    years = cycle.financial_years
    return {
        "version": INPUTS_VERSION,
        "cycle": {
            "id": cycle.id,
            "name": cycle.name,
            "financial_years": years,
            "scale_min": cycle.scale_min,
            "scale_max": cycle.scale_max,
            "not_applicable_policy": cycle.not_applicable_policy,
            "min_scorecards": cycle.min_scorecards,
            "disagreement_threshold": cycle.disagreement_threshold,
            "budgets": {y.year: None if y.budget is None else int(y.budget * 100) for y in cycle.years},
        },
        "weighting": {
            "id": weighting.id,
            "name": weighting.name,
            "method": weighting.method,
            "weights": {str(p): weighting.weights[str(p)] for p in range(1, 13)},
        },
        "aggregation": aggregation,
        "options": {"include_below_quorum": include_below_quorum, "resamples": resamples, "seed": seed},
        "proposals": proposals_of(rows["proposals"], years),
        "answers": rows["answers"],
        "moderated": rows["moderated"],
    }


def proposals_of(rows: list[tuple], years: list[str]) -> list[dict[str, Any]]:
    """The document's proposals: money per financial year of the cycle (0 where none is given)."""
    return [
        {
            "id": pid,
            "reference": reference,
            "title": title,
            "capability": capability,
            "kind": kind,
            "panel_id": panel_id,
            "cost": [money[y][0] if y in money else 0 for y in years],
            "saving": [money[y][1] if y in money else 0 for y in years],
            "eligible": eligible,
        }
        for pid, reference, title, capability, kind, panel_id, money, eligible in rows
    ]
