"""Gathering everything a ranking is computed from into one plain, canonical JSON document.

The same document is what a submission freezes, so a ranking can be recomputed from it exactly,
whatever happens to the live scores later. Reads select columns, not entities.

Version 2 adds what the quorum rule needs (the cycle's ``min_scorecards`` and, per proposal, the
``eligible`` panel members: members of its panel with no conflict of interest on it) and the options the
ranking was asked for (``include_below_quorum``, the rank intervals' ``resamples`` and ``seed``).
Version 1 documents (frozen before quorum) are still recomputed by the version-1 rules.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, select, type_coerce
from sqlalchemy.orm import Session

from app.models import (
    Conflict,
    Cycle,
    ModeratedScore,
    PanelMember,
    PanelProposal,
    Proposal,
    ProposalFinancial,
    ProposalStatus,
    Scorecard,
    Weighting,
)
from app.scorecards.service import counted_scorecards

INPUTS_VERSION = 2
RESAMPLES = 1000  # rank intervals: bootstrap resamples by default
MAX_RESAMPLES = 10_000
SEED = 0


def eligible_scorers(session: Session, rows: list[Any]) -> dict[int, list[int]]:
    """Per proposal, the members of its panel who may score it: not its proposer, no declared conflict."""
    panel_ids = {r.panel_id for r in rows if r.panel_id is not None}
    members: dict[int, list[int]] = {}
    if panel_ids:
        for panel_id, user_id in session.execute(
            select(PanelMember.panel_id, PanelMember.user_id).where(PanelMember.panel_id.in_(panel_ids))
        ):
            members.setdefault(panel_id, []).append(user_id)
    conflicted: set[tuple[int, int]] = set()
    if rows:
        conflicted = set(
            session.execute(
                select(Conflict.proposal_id, Conflict.user_id).where(
                    Conflict.proposal_id.in_([r.id for r in rows])
                )
            ).all()
        )
    return {
        r.id: sorted(
            u for u in members.get(r.panel_id, []) if u != r.proposer_id and (r.id, u) not in conflicted
        )
        for r in rows
    }


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
    rows = session.execute(
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
        .where(Proposal.cycle_id == cycle.id, Proposal.status == ProposalStatus.submitted.value)
        .order_by(Proposal.id)
    ).all()
    ids = [r.id for r in rows]
    eligible = eligible_scorers(session, rows)
    money: dict[int, dict[str, dict[str, int]]] = {pid: {"cost": {}, "saving": {}} for pid in ids}
    if ids:
        # Integer pence straight from the columns: sums and comparisons stay exact.
        pence = select(
            ProposalFinancial.proposal_id,
            ProposalFinancial.year,
            type_coerce(ProposalFinancial.cost, BigInteger),
            type_coerce(ProposalFinancial.saving, BigInteger),
        )
        for pid, year, cost, saving in session.execute(pence.where(ProposalFinancial.proposal_id.in_(ids))):
            money[pid]["cost"][year] = int(cost)
            money[pid]["saving"][year] = int(saving)
    answers = []
    moderated = []
    if ids:
        answers = [
            [r.proposal_id, r.scorer_id, r.principle_number, r.score, bool(r.not_applicable)]
            for r in session.execute(
                counted_scorecards()
                .where(Scorecard.proposal_id.in_(ids))
                .order_by(Scorecard.proposal_id, Scorecard.scorer_id, "principle_number")
            )
        ]
        moderated = [
            [r.proposal_id, r.principle_number, r.score, bool(r.not_applicable)]
            for r in session.execute(
                select(
                    ModeratedScore.proposal_id,
                    ModeratedScore.principle_number,
                    ModeratedScore.score,
                    ModeratedScore.not_applicable,
                )
                .where(ModeratedScore.proposal_id.in_(ids))
                .order_by(ModeratedScore.proposal_id, ModeratedScore.principle_number)
            )
        ]
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
        "proposals": [
            {
                "id": r.id,
                "reference": r.reference,
                "title": r.title,
                "capability": r.capability,
                "kind": r.kind,
                "panel_id": r.panel_id,
                "cost": [money[r.id]["cost"].get(y, 0) for y in years],
                "saving": [money[r.id]["saving"].get(y, 0) for y in years],
                "eligible": eligible[r.id],
            }
            for r in rows
        ],
        "answers": answers,
        "moderated": moderated,
    }
