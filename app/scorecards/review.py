"""What a chair runs the review from: progress per panel and scorer, and agreement between scorers."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cycles.service import get_cycle
from app.errors import Forbidden
from app.models import Cycle, ModeratedScore, Proposal, Role, User
from app.panels.schemas import CycleProgress, MissingScorecard, PanelProgress, ProgressScorer
from app.panels.service import visible_panels
from app.rankings.compute import number_or_none
from app.scorecards.schemas import (
    CycleAgreement,
    PrincipleAgreement,
    ProposalAgreement,
    ScorerLeniency,
)
from app.scorecards.service import PRINCIPLES, ScoreTensor, conflicted_pairs, count_scorecards, load_tensor
from scoring.agreement import Agreement
from scoring.agreement import agreement as agreement_figures


def _chaired_panels(session: Session, user: User, cycle_id: int):
    panels = visible_panels(session, user, cycle_id)
    if not user.has_role(Role.admin):
        panels = [p for p in panels if p.chair_id == user.id]
        if not panels and not user.has_role(Role.chair):
            raise Forbidden("Progress and agreement are for panel chairs and admins.")
    return panels


def names_of(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())


def progress(session: Session, user: User, cycle_id: int) -> CycleProgress:
    get_cycle(session, cycle_id)
    panels = _chaired_panels(session, user, cycle_id)
    all_ids = [pid for p in panels for pid in p.proposal_ids]
    refs = (
        dict(session.execute(select(Proposal.id, Proposal.reference).where(Proposal.id.in_(all_ids))).all())
        if all_ids
        else {}
    )
    states = count_scorecards(session, all_ids)
    conflicted = conflicted_pairs(session, all_ids)
    names = names_of(session, {m for p in panels for m in p.member_ids})
    out = []
    for panel in panels:
        scorers, missing = [], []
        for member in panel.member_ids:
            due = [pid for pid in panel.proposal_ids if (pid, member) not in conflicted]
            drafted = sum(states.get((pid, member)) == "draft" for pid in due)
            submitted = sum(states.get((pid, member)) == "submitted" for pid in due)
            scorers.append(
                ProgressScorer(
                    scorer_id=member,
                    name=names.get(member, ""),
                    assigned=len(due),
                    drafted=drafted,
                    submitted=submitted,
                )
            )
            missing.extend(
                MissingScorecard(
                    scorer_id=member,
                    scorer_name=names.get(member, ""),
                    proposal_id=pid,
                    reference=refs[pid],
                    state="draft" if states.get((pid, member)) else "not started",
                )
                for pid in due
                if states.get((pid, member)) != "submitted"
            )
        out.append(
            PanelProgress(
                panel_id=panel.id,
                name=panel.name,
                chair_id=panel.chair_id,
                proposals=len(panel.proposal_ids),
                expected=sum(s.assigned for s in scorers),
                drafted=sum(s.drafted for s in scorers),
                submitted=sum(s.submitted for s in scorers),
                scorers=scorers,
                missing=sorted(missing, key=lambda m: (m.reference, m.scorer_id)),
            )
        )
    return CycleProgress(cycle_id=cycle_id, panels=out)


def moderated_mask(session: Session, proposal_ids: list[int]) -> np.ndarray:
    """``(P, 12)`` True where the chair has agreed a moderated score (or not applicable)."""
    mask = np.zeros((len(proposal_ids), len(PRINCIPLES)), dtype=bool)
    if proposal_ids:
        index = {pid: i for i, pid in enumerate(proposal_ids)}
        for pid, number in session.execute(
            select(ModeratedScore.proposal_id, ModeratedScore.principle_number).where(
                ModeratedScore.proposal_id.in_(proposal_ids)
            )
        ):
            mask[index[pid], number - 1] = True
    return mask


def figures(session: Session, cycle: Cycle, tensor: ScoreTensor) -> tuple[Agreement, np.ndarray]:
    """Agreement of submitted scorecards (answered scores only) with the cycle's threshold; moderated
    cells are settled and never flagged. Also returns the moderated mask."""
    mask = moderated_mask(session, tensor.proposal_ids)
    result = agreement_figures(
        tensor.scores,
        tensor.not_applicable,
        na_policy=cycle.not_applicable_policy,
        scale_min=cycle.scale_min,
        scale_max=cycle.scale_max,
        threshold=cycle.disagreement_threshold,
        moderated=mask,
    )
    return result, mask


def agreement(session: Session, user: User, cycle_id: int) -> CycleAgreement:
    cycle = get_cycle(session, cycle_id)
    panels = _chaired_panels(session, user, cycle_id)
    proposal_ids = sorted(pid for p in panels for pid in p.proposal_ids)
    refs = (
        dict(
            session.execute(
                select(Proposal.id, Proposal.reference).where(Proposal.id.in_(proposal_ids))
            ).all()
        )
        if proposal_ids
        else {}
    )
    tensor = load_tensor(session, proposal_ids)
    result, moderated = figures(session, cycle, tensor)
    answered = ~np.isnan(tensor.scores) | tensor.not_applicable
    proposals = []
    for i, pid in enumerate(tensor.proposal_ids):
        principles = [
            PrincipleAgreement(
                principle=k + 1,
                n=int(result.n_values[i, k]),
                spread=number_or_none(result.spread[i, k]),
                sd=number_or_none(result.sd[i, k]),
                needs_moderation=bool(result.flagged[i, k]),
                moderated=bool(moderated[i, k]),
            )
            for k in range(len(PRINCIPLES))
        ]
        proposals.append(
            ProposalAgreement(
                proposal_id=pid,
                reference=refs[pid],
                scorers=int(answered[i].any(axis=1).sum()),
                max_spread=number_or_none(result.max_spread[i]),
                needs_moderation=bool(result.flagged[i].any()),
                principles=principles,
            )
        )
    names = names_of(session, set(tensor.scorer_ids))
    scorers = [
        ScorerLeniency(
            scorer_id=sid,
            name=names.get(sid, ""),
            scores=int(answered[:, j, :].sum()),
            leniency=number_or_none(result.leniency[j]),
        )
        for j, sid in enumerate(tensor.scorer_ids)
    ]
    return CycleAgreement(
        cycle_id=cycle_id,
        disagreement_threshold=cycle.disagreement_threshold,
        krippendorff_alpha=number_or_none(result.alpha),
        proposals=proposals,
        scorers=scorers,
    )
