"""Scorecards (blind until submitted), moderation, and the score tensor every statistic is built from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import diff, record
from app.db import dialect_insert
from app.errors import Conflict as ConflictError
from app.errors import Forbidden, NotFound, ServiceError, ValidationFailed, field_error
from app.models import (
    Conflict,
    Cycle,
    CycleStatus,
    ModeratedScore,
    Panel,
    PanelMember,
    PanelProposal,
    Proposal,
    ProposalStatus,
    Role,
    Scorecard,
    ScorecardAnswer,
    User,
)
from app.panels.service import (
    chairs,
    chairs_proposal,
    conflict_of,
    declared_conflicts,
    panel_of,
    require_chairs_proposal,
    require_not_conflicted,
)
from app.proposals.service import can_read
from app.scorecards.schemas import (
    Answer,
    AnswerOut,
    ModerationPut,
    ScorecardOut,
    ScorecardPut,
)

PRINCIPLES = tuple(range(1, 13))


@dataclass
class Context:
    proposal: Proposal
    cycle: Cycle
    panel: Panel | None


def context(session: Session, proposal_id: int) -> Context:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.")
    return Context(proposal, session.get(Cycle, proposal.cycle_id), panel_of(session, proposal_id))


def require_readable(user: User, ctx: Context) -> None:
    """Scorers and finance do not see drafts, here either (the rule of proposals.service.can_read)."""
    if not can_read(user, ctx.proposal):
        raise NotFound(f"Proposal {ctx.proposal.id} does not exist or is not yours to see.")


def require_member(session: Session, user: User, ctx: Context) -> None:
    require_readable(user, ctx)
    if ctx.panel is None or user.id not in ctx.panel.member_ids:
        where = f"panel '{ctx.panel.name}'" if ctx.panel else "any panel"
        raise Forbidden(
            f"You are not a member of {where} for proposal {ctx.proposal.reference}; "
            "only its panel members score it."
        )
    require_not_conflicted(session, user, ctx.proposal)


def _answers(session: Session, scorecard_id: int) -> dict[int, ScorecardAnswer]:
    rows = session.scalars(
        select(ScorecardAnswer)
        .where(ScorecardAnswer.scorecard_id == scorecard_id)
        .order_by(ScorecardAnswer.principle_number)
        .execution_options(populate_existing=True)
    )
    return {r.principle_number: r for r in rows}


def _answered(a: ScorecardAnswer) -> bool:
    return a.not_applicable or a.score is not None


def scorecard_out(session: Session, sc: Scorecard | None, proposal: Proposal, scorer_id: int) -> ScorecardOut:
    answers = _answers(session, sc.id) if sc is not None else {}
    return ScorecardOut(
        id=sc.id if sc else None,
        proposal_id=proposal.id,
        scorer_id=scorer_id,
        status=sc.status if sc else "new",
        version=sc.version if sc else 0,
        submitted_at=sc.submitted_at if sc else None,
        updated_at=sc.updated_at if sc else None,
        scores=[
            AnswerOut(
                principle=p,
                score=a.score,
                not_applicable=a.not_applicable,
                rationale=a.rationale,
                confidence=a.confidence,
            )
            for p, a in answers.items()
        ],
        missing=[p for p in PRINCIPLES if p not in answers or not _answered(answers[p])],
        counts_in_aggregation=conflict_of(session, scorer_id, proposal) is None,
    )


def _find(session: Session, proposal_id: int, scorer_id: int) -> Scorecard | None:
    return session.scalar(
        select(Scorecard)
        .where(Scorecard.proposal_id == proposal_id, Scorecard.scorer_id == scorer_id)
        .execution_options(populate_existing=True)
    )


def get_own(session: Session, user: User, proposal_id: int) -> ScorecardOut:
    ctx = context(session, proposal_id)
    require_member(session, user, ctx)
    return scorecard_out(session, _find(session, proposal_id, user.id), ctx.proposal, user.id)


def _answer_snapshot(answers: dict[int, ScorecardAnswer]) -> dict[str, Any]:
    return {
        f"principle {p}": {
            "score": a.score,
            "not_applicable": a.not_applicable,
            "rationale": a.rationale,
            "confidence": a.confidence,
        }
        for p, a in answers.items()
    }


def _check_answers(cycle: Cycle, answers: list[Answer], loc: tuple) -> list[dict]:
    errors = []
    for i, a in enumerate(answers):
        if a.score is not None and not cycle.scale_min <= a.score <= cycle.scale_max:
            errors.append(
                field_error(
                    [*loc, "scores", i, "score"],
                    f"score must be an integer from {cycle.scale_min} to {cycle.scale_max}",
                )
            )
    return errors


def submit_errors(cycle: Cycle, answers: dict[int, ScorecardAnswer], loc: tuple) -> list[dict]:
    """Completeness and rationale rules a scorecard must meet to be submitted."""
    errors = []
    missing = [p for p in PRINCIPLES if p not in answers or not _answered(answers[p])]
    if missing:
        listed = ", ".join(str(p) for p in missing)
        errors.append(
            field_error(
                [*loc, "submit"],
                f"cannot submit: principle{'s' if len(missing) > 1 else ''} "
                f"{listed} not answered; all twelve need a score or not applicable",
                "incomplete",
            )
        )
    for p, a in answers.items():
        if a.rationale.strip():
            continue
        if a.not_applicable:
            errors.append(
                field_error(
                    [*loc, "principles", p, "rationale"],
                    "a rationale is required when a principle is marked not applicable",
                )
            )
        elif a.score in (cycle.scale_min, cycle.scale_max):
            errors.append(
                field_error(
                    [*loc, "principles", p, "rationale"],
                    f"a rationale is required for a score of {a.score}, at the end of the "
                    f"scale ({cycle.scale_min}-{cycle.scale_max})",
                )
            )
    return errors


def save(
    session: Session, user: User, proposal_id: int, data: ScorecardPut, loc: tuple = ("body",)
) -> ScorecardOut:
    """Save answers (a per-principle upsert) and optionally submit, under the scorecard's row lock."""
    ctx = context(session, proposal_id)
    require_member(session, user, ctx)
    if ctx.cycle.status != CycleStatus.scoring:
        raise ConflictError(
            f"Scorecards can be saved only while the cycle is in scoring; cycle {ctx.cycle.id} "
            f"is in '{ctx.cycle.status}'."
        )
    errors = _check_answers(ctx.cycle, data.scores, loc)
    if errors:
        raise ValidationFailed("The scorecard has invalid answers.", errors=errors)
    now = datetime.now(UTC)
    session.execute(
        dialect_insert(session, Scorecard)
        .values(
            proposal_id=proposal_id,
            scorer_id=user.id,
            status="draft",
            version=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["proposal_id", "scorer_id"])
    )
    # Take the row lock (PostgreSQL) / we already hold the write lock (SQLite) and check state atomically.
    stmt = update(Scorecard).where(
        Scorecard.proposal_id == proposal_id, Scorecard.scorer_id == user.id, Scorecard.status == "draft"
    )
    if data.version is not None:
        stmt = stmt.where(Scorecard.version == data.version)
    bumped = session.execute(
        stmt.values(version=Scorecard.version + 1, updated_at=now).returning(Scorecard.id)
    )
    if bumped.first() is None:
        current = _find(session, proposal_id, user.id)
        if current.status == "submitted":
            raise ConflictError(
                f"Your scorecard for {ctx.proposal.reference} is submitted and locked; the panel "
                "chair can reopen it."
            )
        raise ConflictError(
            f"Your scorecard is at version {current.version}, not {data.version}; re-read it.",
            current_version=current.version,
        )
    sc = _find(session, proposal_id, user.id)
    before = _answers(session, sc.id)
    before_snapshot = _answer_snapshot(before)
    for a in data.scores:
        if a.score is None and not a.not_applicable and not a.rationale:
            if a.principle in before:
                session.delete(before[a.principle])
            continue
        values = dict(
            score=a.score,
            not_applicable=a.not_applicable,
            rationale=a.rationale,
            confidence=a.confidence,
            updated_at=now,
        )
        session.execute(
            dialect_insert(session, ScorecardAnswer)
            .values(scorecard_id=sc.id, principle_number=a.principle, **values)
            .on_conflict_do_update(index_elements=["scorecard_id", "principle_number"], set_=values)
        )
    session.flush()
    after = _answers(session, sc.id)
    changes = diff(before_snapshot, _answer_snapshot(after))
    action = "scorecard.saved"
    if data.submit:
        errors = submit_errors(ctx.cycle, after, loc)
        if errors:
            raise ValidationFailed(
                f"The scorecard for {ctx.proposal.reference} cannot be submitted.", errors=errors
            )
        session.execute(
            update(Scorecard).where(Scorecard.id == sc.id).values(status="submitted", submitted_at=now)
        )
        changes["status"] = {"before": "draft", "after": "submitted"}
        action = "scorecard.submitted"
    if changes:
        record(session, user, action, "scorecard", sc.id, changes={"proposal_id": proposal_id, **changes})
    return scorecard_out(session, _find(session, proposal_id, user.id), ctx.proposal, user.id)


def save_batch(session: Session, user: User, items: list) -> list[ScorecardOut]:
    """Every item or none: each is tried in a savepoint so that all errors are reported at once."""
    results, errors = [], []
    for i, item in enumerate(items):
        loc = ("body", "items", i)
        savepoint = session.begin_nested()
        try:
            results.append(save(session, user, item.proposal_id, item, loc))
            savepoint.commit()
        except ValidationFailed as exc:
            savepoint.rollback()
            errors.extend(exc.errors or [field_error(list(loc), exc.detail)])
        except ServiceError as exc:
            savepoint.rollback()
            errors.append(
                {**field_error([*loc, "proposal_id"], exc.detail, exc.type_slug), "status": exc.status}
            )
    if errors:
        failed = sorted({e["loc"][2] for e in errors})
        raise ValidationFailed(
            f"The batch was not saved: {len(failed)} of {len(items)} item(s) failed "
            f"(items {', '.join(map(str, failed))}); nothing was changed.",
            errors=errors,
        )
    return results


def can_see_all(session: Session, user: User, ctx: Context) -> None:
    """Chairs of the panel and admins see every scorecard, unless conflicted on the proposal; a member
    only after submitting their own."""
    require_readable(user, ctx)
    if chairs(user, ctx.panel):
        require_chairs_proposal(session, user, ctx.panel, ctx.proposal, "reads its scorecards")
        return
    if user.has_role(Role.finance, Role.proposer) and (
        ctx.panel is None or user.id not in ctx.panel.member_ids
    ):
        raise Forbidden("Individual scorecards are for the panel; finance and proposers see aggregates only.")
    require_member(session, user, ctx)
    own = _find(session, ctx.proposal.id, user.id)
    if own is None or own.status != "submitted":
        raise Forbidden(f"Submit your own scorecard for {ctx.proposal.reference} before seeing the others'.")


def list_for_proposal(session: Session, user: User, proposal_id: int) -> list[ScorecardOut]:
    ctx = context(session, proposal_id)
    can_see_all(session, user, ctx)
    stmt = select(Scorecard).where(Scorecard.proposal_id == proposal_id).order_by(Scorecard.scorer_id)
    if not chairs_proposal(session, user, ctx.panel, ctx.proposal):
        stmt = stmt.where(Scorecard.status == "submitted")
    return [scorecard_out(session, sc, ctx.proposal, sc.scorer_id) for sc in session.scalars(stmt)]


def reopen(session: Session, user: User, proposal_id: int, scorecard_id: int, reason: str) -> ScorecardOut:
    ctx = context(session, proposal_id)
    require_chairs_proposal(session, user, ctx.panel, ctx.proposal, "reopens a scorecard")
    if ctx.cycle.status != CycleStatus.scoring:
        raise ConflictError(
            f"Scorecards can be reopened only while the cycle is in scoring (it is '{ctx.cycle.status}')."
        )
    sc = session.get(Scorecard, scorecard_id)
    if sc is None or sc.proposal_id != proposal_id:
        raise NotFound(f"Scorecard {scorecard_id} is not a scorecard of proposal {proposal_id}.")
    if sc.status != "submitted":
        raise ConflictError(f"Scorecard {scorecard_id} is not submitted; there is nothing to reopen.")
    session.execute(
        update(Scorecard)
        .where(Scorecard.id == sc.id)
        .values(status="draft", submitted_at=None, version=Scorecard.version + 1)
    )
    record(
        session,
        user,
        "scorecard.reopened",
        "scorecard",
        sc.id,
        changes={
            "status": {"before": "submitted", "after": "draft"},
            "reason": reason,
            "proposal_id": proposal_id,
        },
    )
    return scorecard_out(session, _find(session, proposal_id, sc.scorer_id), ctx.proposal, sc.scorer_id)


def moderated(session: Session, proposal_id: int) -> list[ModeratedScore]:
    return list(
        session.scalars(
            select(ModeratedScore)
            .where(ModeratedScore.proposal_id == proposal_id)
            .order_by(ModeratedScore.principle_number)
            .execution_options(populate_existing=True)
        )
    )


def get_moderation(session: Session, user: User, proposal_id: int) -> list[ModeratedScore]:
    ctx = context(session, proposal_id)
    can_see_all(session, user, ctx)
    return moderated(session, proposal_id)


def moderate(session: Session, user: User, proposal_id: int, data: ModerationPut) -> list[ModeratedScore]:
    ctx = context(session, proposal_id)
    require_chairs_proposal(session, user, ctx.panel, ctx.proposal, "moderates scores")
    if ctx.cycle.status not in (CycleStatus.scoring, CycleStatus.moderation):
        raise ConflictError(
            f"Moderation happens in scoring or moderation; cycle {ctx.cycle.id} is '{ctx.cycle.status}'."
        )
    errors = []
    for i, a in enumerate(data.scores):
        if a.score is not None and not ctx.cycle.scale_min <= a.score <= ctx.cycle.scale_max:
            errors.append(
                field_error(
                    ["body", "scores", i, "score"],
                    f"score must be an integer from {ctx.cycle.scale_min} to {ctx.cycle.scale_max}",
                )
            )
    if errors:
        raise ValidationFailed("The moderation has invalid scores.", errors=errors)
    existing = {m.principle_number: m for m in moderated(session, proposal_id)}
    before = {
        str(p): {"score": m.score, "not_applicable": m.not_applicable, "note": m.note}
        for p, m in existing.items()
    }
    now = datetime.now(UTC)
    for a in data.scores:
        row = existing.get(a.principle)
        if a.score is None and not a.not_applicable:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            session.add(
                ModeratedScore(
                    proposal_id=proposal_id,
                    principle_number=a.principle,
                    score=a.score,
                    not_applicable=a.not_applicable,
                    note=a.note,
                    moderated_by_id=user.id,
                    updated_at=now,
                )
            )
        else:
            row.score, row.not_applicable, row.note = a.score, a.not_applicable, a.note
            row.moderated_by_id, row.updated_at = user.id, now
    session.flush()
    after_rows = moderated(session, proposal_id)
    after = {
        str(m.principle_number): {"score": m.score, "not_applicable": m.not_applicable, "note": m.note}
        for m in after_rows
    }
    record(session, user, "moderation.saved", "proposal", proposal_id, before=before, after=after)
    return after_rows


@dataclass(frozen=True)
class ScoreTensor:
    """Submitted, unconflicted answers of a set of proposals: ``scores[p, j, k]`` (NaN = no score) and
    ``not_applicable[p, j, k]``, with proposals and scorers in the order of the id lists."""

    proposal_ids: list[int]
    scorer_ids: list[int]
    scores: np.ndarray
    not_applicable: np.ndarray


def counted_scorecards():
    """Submitted scorecards whose scorer has no conflict on the proposal (selectable columns only)."""
    no_declared = ~exists().where(
        and_(Conflict.proposal_id == Scorecard.proposal_id, Conflict.user_id == Scorecard.scorer_id)
    )
    not_author = or_(Proposal.proposer_id.is_(None), Proposal.proposer_id != Scorecard.scorer_id)
    return (
        select(
            Scorecard.proposal_id,
            Scorecard.scorer_id,
            ScorecardAnswer.principle_number,
            ScorecardAnswer.score,
            ScorecardAnswer.not_applicable,
        )
        .join(ScorecardAnswer, ScorecardAnswer.scorecard_id == Scorecard.id)
        .join(Proposal, Proposal.id == Scorecard.proposal_id)
        .where(Scorecard.status == "submitted", no_declared, not_author)
    )


def load_tensor(session: Session, proposal_ids: list[int]) -> ScoreTensor:
    rows = (
        session.execute(counted_scorecards().where(Scorecard.proposal_id.in_(proposal_ids))).all()
        if proposal_ids
        else []
    )
    scorer_ids = sorted({r.scorer_id for r in rows})
    p_index = {pid: i for i, pid in enumerate(proposal_ids)}
    j_index = {sid: j for j, sid in enumerate(scorer_ids)}
    scores = np.full((len(proposal_ids), len(scorer_ids), len(PRINCIPLES)), np.nan)
    na = np.zeros(scores.shape, dtype=bool)
    for r in rows:
        i, j, k = p_index[r.proposal_id], j_index[r.scorer_id], r.principle_number - 1
        if r.not_applicable:
            na[i, j, k] = True
        elif r.score is not None:
            scores[i, j, k] = r.score
    return ScoreTensor(proposal_ids, scorer_ids, scores, na)


def allocation(session: Session, user: User, cycle_id: int | None) -> list[dict[str, Any]]:
    """The proposals on panels the user sits on, with their own scorecard's state."""
    stmt = (
        select(Proposal, Panel.id, Panel.name)
        .join(PanelProposal, PanelProposal.proposal_id == Proposal.id)
        .join(Panel, Panel.id == PanelProposal.panel_id)
        .join(PanelMember, and_(PanelMember.panel_id == Panel.id, PanelMember.user_id == user.id))
        .where(Proposal.status != ProposalStatus.draft.value)
        .order_by(Proposal.reference)
    )
    if cycle_id is not None:
        stmt = stmt.where(Proposal.cycle_id == cycle_id)
    rows = session.execute(stmt).all()
    states = dict(
        session.execute(
            select(Scorecard.proposal_id, Scorecard.status).where(Scorecard.scorer_id == user.id)
        ).all()
    )
    declared = declared_conflicts(session, user.id)
    return [
        dict(
            proposal_id=p.id,
            reference=p.reference,
            title=p.title,
            capability=p.capability,
            panel_id=panel_id,
            panel_name=panel_name,
            scorecard_status=states.get(p.id, "new"),
            conflict=conflict_of(session, user.id, p, declared),
        )
        for p, panel_id, panel_name in rows
    ]


def count_scorecards(session: Session, proposal_ids: list[int]) -> dict[tuple[int, int], str]:
    if not proposal_ids:
        return {}
    rows = session.execute(
        select(Scorecard.proposal_id, Scorecard.scorer_id, Scorecard.status).where(
            Scorecard.proposal_id.in_(proposal_ids)
        )
    ).all()
    return {(r.proposal_id, r.scorer_id): r.status for r in rows}


def conflicted_pairs(session: Session, proposal_ids: list[int]) -> set[tuple[int, int]]:
    if not proposal_ids:
        return set()
    declared = session.execute(
        select(Conflict.proposal_id, Conflict.user_id).where(Conflict.proposal_id.in_(proposal_ids))
    ).all()
    authors = session.execute(
        select(Proposal.id, Proposal.proposer_id).where(
            Proposal.id.in_(proposal_ids), Proposal.proposer_id.is_not(None)
        )
    ).all()
    return {(p, u) for p, u in declared} | {(p, u) for p, u in authors}
