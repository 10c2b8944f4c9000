"""Scorecards (blind until submitted), moderation, and the score tensor every statistic is built from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.db import begin_write, dialect_insert, recheck
from app.errors import Conflict as ConflictError
from app.errors import Forbidden, NotFound, ServiceError, ValidationFailed, field_error
from app.models import (
    ApiToken,
    AuditEvent,
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
    UserRole,
)
from app.models.base import utcnow
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


def _answers_out(answers: dict[int, Any]) -> dict[str, list]:
    """A card's answers (by principle) as the API shows them, and the principles still unanswered."""
    return {
        "scores": [
            AnswerOut(
                principle=p,
                score=a.score,
                not_applicable=a.not_applicable,
                rationale=a.rationale,
                confidence=a.confidence,
            )
            for p, a in answers.items()
        ],
        "missing": unanswered(answers),
    }


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
        **_answers_out(answers),
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


def unanswered(answers: dict[int, Any]) -> list[int]:
    """The principles without a score or "not applicable" among ``answers`` (by principle number; each
    with ``score`` and ``not_applicable``): what stops a scorecard from being submitted."""
    return [p for p in PRINCIPLES if p not in answers or not _answered(answers[p])]


def submit_errors(cycle: Cycle, answers: dict[int, ScorecardAnswer], loc: tuple) -> list[dict]:
    """Completeness and rationale rules a scorecard must meet to be submitted."""
    errors = []
    missing = unanswered(answers)
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


@dataclass
class _Answer:
    score: int | None
    not_applicable: bool
    rationale: str
    confidence: int | None


@dataclass
class _Card:
    """One scorer's scorecard as read (``id`` None: not saved yet) and as the saves of a request leave it."""

    id: int | None
    status: str
    version: int
    submitted_at: datetime | None
    answers: dict[int, _Answer]
    saved: bool = False
    submitted: bool = False


@dataclass
class _Target:
    """What saving a scorecard for one proposal depends on, read in one query."""

    proposal: Any  # id, reference, status, proposer_id: what can_read and conflict_of look at
    cycle: Any  # id, status, scale_min, scale_max
    panel_name: str | None
    on_panel: bool
    member: bool
    conflict: Any  # type, reason; None when no conflict is declared
    card: _Card


# Tables, for statements that need no ORM: they compile and run without its bookkeeping.
_t_scorecard_answer = ScorecardAnswer.__table__
_t_scorecard = Scorecard.__table__
_t_panel_proposal = PanelProposal.__table__
_t_panel_member = PanelMember.__table__
_t_panel = Panel.__table__
_t_proposal = Proposal.__table__
_t_cycle = Cycle.__table__
_t_conflict = Conflict.__table__
_t_api_token = ApiToken.__table__
_t_user_role = UserRole.__table__
_t_user = User.__table__
_t_audit_event = AuditEvent.__table__


def _targets_query():
    """The proposals, their cycles, the user's panel membership and declared conflict and the user's
    scorecard with its answers (a row per answer), for ``:ids`` and ``:user_id`` (built once, so each save
    only binds its values)."""
    user_id = bindparam("user_id")
    member = (
        exists()
        .where(
            _t_panel_member.c.panel_id == _t_panel_proposal.c.panel_id, _t_panel_member.c.user_id == user_id
        )
        .correlate(_t_panel_proposal)
    )
    return (
        select(
            _t_proposal.c.id,
            _t_proposal.c.reference,
            _t_proposal.c.status,
            _t_proposal.c.proposer_id,
            _t_cycle.c.id.label("cycle_id"),
            _t_cycle.c.status.label("cycle_status"),
            _t_cycle.c.scale_min,
            _t_cycle.c.scale_max,
            _t_panel_proposal.c.panel_id,
            _t_panel.c.name.label("panel_name"),
            member.label("member"),
            _t_conflict.c.type.label("conflict_type"),
            _t_conflict.c.reason.label("conflict_reason"),
            _t_scorecard.c.id.label("card_id"),
            _t_scorecard.c.status.label("card_status"),
            _t_scorecard.c.version.label("card_version"),
            _t_scorecard.c.submitted_at.label("card_submitted_at"),
            _t_scorecard_answer.c.principle_number.label("a_principle"),
            _t_scorecard_answer.c.score.label("a_score"),
            _t_scorecard_answer.c.not_applicable.label("a_not_applicable"),
            _t_scorecard_answer.c.rationale.label("a_rationale"),
            _t_scorecard_answer.c.confidence.label("a_confidence"),
        )
        .join(_t_cycle, _t_cycle.c.id == _t_proposal.c.cycle_id)
        .outerjoin(_t_panel_proposal, _t_panel_proposal.c.proposal_id == _t_proposal.c.id)
        .outerjoin(_t_panel, _t_panel.c.id == _t_panel_proposal.c.panel_id)
        .outerjoin(
            _t_conflict, and_(_t_conflict.c.proposal_id == _t_proposal.c.id, _t_conflict.c.user_id == user_id)
        )
        .outerjoin(
            _t_scorecard,
            and_(_t_scorecard.c.proposal_id == _t_proposal.c.id, _t_scorecard.c.scorer_id == user_id),
        )
        .outerjoin(_t_scorecard_answer, _t_scorecard_answer.c.scorecard_id == _t_scorecard.c.id)
        .where(_t_proposal.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(_t_proposal.c.id, _t_scorecard_answer.c.principle_number)
    )


_TARGETS = _targets_query()
_LOCK_CARDS = (
    select(_t_scorecard.c.id)
    .where(
        _t_scorecard.c.proposal_id.in_(bindparam("ids", expanding=True)),
        _t_scorecard.c.scorer_id == bindparam("user_id"),
    )
    .order_by(_t_scorecard.c.id)
    .with_for_update()
)
_USER_ID = bindparam("user_id")
_NOW = bindparam("now", type_=_t_scorecard.c.updated_at.type)


def _bump_one(checked: bool):
    """One card's version bump, checked against the version and status read; ``checked``: also against
    everything else the save relied on (for a save whose reads were not under the write lock): the
    proposal still readable and on a panel of the user, no conflict, the cycle still in scoring on the same
    scale, the bearer token still live and the user's roles the same."""
    where = [
        _t_scorecard.c.id == bindparam("card_id"),
        _t_scorecard.c.status == "draft",
        _t_scorecard.c.version == bindparam("read_version"),
    ]
    if checked:
        allowed = (
            select(1)
            .select_from(_t_proposal)
            .join(_t_cycle, _t_cycle.c.id == _t_proposal.c.cycle_id)
            .join(_t_panel_proposal, _t_panel_proposal.c.proposal_id == _t_proposal.c.id)
            .join(
                _t_panel_member,
                and_(
                    _t_panel_member.c.panel_id == _t_panel_proposal.c.panel_id,
                    _t_panel_member.c.user_id == _USER_ID,
                ),
            )
            .where(
                _t_proposal.c.id == _t_scorecard.c.proposal_id,
                _t_proposal.c.status == bindparam("proposal_status"),
                or_(_t_proposal.c.proposer_id.is_(None), _t_proposal.c.proposer_id != _USER_ID),
                _t_cycle.c.status == CycleStatus.scoring.value,
                _t_cycle.c.scale_min == bindparam("scale_min"),
                _t_cycle.c.scale_max == bindparam("scale_max"),
                ~exists().where(
                    _t_conflict.c.proposal_id == _t_proposal.c.id, _t_conflict.c.user_id == _USER_ID
                ),
            )
            .correlate(_t_scorecard)
        )
        live = (
            select(1)
            .select_from(_t_api_token)
            .join(_t_user, _t_user.c.id == _t_api_token.c.user_id)
            .where(
                _t_api_token.c.id == bindparam("token_id"),
                _t_api_token.c.user_id == _USER_ID,
                _t_api_token.c.revoked_at.is_(None),
                _t_api_token.c.expires_at > _NOW,
                _t_user.c.is_active.is_(True),
            )
        )
        role_count = select(func.count()).where(_t_user_role.c.user_id == _USER_ID).scalar_subquery()
        where += [
            exists(allowed),
            exists(live),
            role_count == bindparam("role_count"),
            ~exists().where(
                _t_user_role.c.user_id == _USER_ID,
                _t_user_role.c.role.not_in(bindparam("roles", expanding=True)),
            ),
        ]
    return (
        update(_t_scorecard)
        .where(*where)
        .values(
            status=bindparam("new_status"),
            version=bindparam("new_version"),
            submitted_at=bindparam("new_submitted_at", type_=_t_scorecard.c.submitted_at.type),
            updated_at=_NOW,
        )
        .returning(_t_scorecard.c.id)
    )


_BUMP_ONE = _bump_one(checked=False)
_BUMP_ONE_CHECKED = _bump_one(checked=True)
_AUDIT = insert(_t_audit_event).returning(
    _t_audit_event.c.id
)  # as one multi-row INSERT (see _upsert_answers)
_UPSERTS: dict[str, Any] = {}


def _upsert_answers(session: Session):
    """``INSERT … ON CONFLICT (scorecard_id, principle_number) DO UPDATE`` for this database, built once."""
    dialect = session.get_bind().dialect.name
    if dialect not in _UPSERTS:
        stmt = dialect_insert(session, _t_scorecard_answer)
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["scorecard_id", "principle_number"],
            set_={
                c: stmt.excluded[c]
                for c in ("score", "not_applicable", "rationale", "confidence", "updated_at")
            },
        ).returning(
            stmt.table.c.scorecard_id
        )  # RETURNING: SQLAlchemy sends many rows as one multi-row INSERT
    return _UPSERTS[dialect]


# PostgreSQL: the answers as seven arrays, one row each from ``unnest`` -- seven parameters however many
# answers, where a multi-row VALUES list has seven a row to bind and plan (about twice as slow at 1,200).
_UPSERT_ARRAYS = text(
    "INSERT INTO scorecard_answers "
    "(scorecard_id, principle_number, score, not_applicable, rationale, confidence, updated_at) "
    "SELECT * FROM unnest(CAST(:scorecard_id AS integer[]), CAST(:principle_number AS integer[]), "
    "CAST(:score AS integer[]), CAST(:not_applicable AS boolean[]), CAST(:rationale AS text[]), "
    "CAST(:confidence AS integer[]), CAST(:updated_at AS timestamp with time zone[])) "
    "ON CONFLICT (scorecard_id, principle_number) DO UPDATE SET score = excluded.score, "
    "not_applicable = excluded.not_applicable, rationale = excluded.rationale, "
    "confidence = excluded.confidence, updated_at = excluded.updated_at"
)
_ANSWER_COLUMNS = (
    "scorecard_id", "principle_number", "score", "not_applicable", "rationale", "confidence", "updated_at",
)  # fmt: skip


def _save_answers(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or update the answers ``rows`` in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_UPSERT_ARRAYS, {c: [r[c] for r in rows] for c in _ANSWER_COLUMNS})
    else:
        session.execute(_upsert_answers(session), rows)


def _read_targets(session: Session, user: User, proposal_ids: list[int], lock: bool) -> dict[int, _Target]:
    """What saving the user's scorecards for ``proposal_ids`` depends on, with the cards' answers: one
    query however many proposals (two with ``lock``)."""
    ids = sorted(set(proposal_ids))
    if lock:  # PostgreSQL, after a concurrent save: hold the cards until this transaction ends
        session.execute(_LOCK_CARDS, {"ids": ids, "user_id": user.id})
    rows = session.execute(_TARGETS, {"ids": ids, "user_id": user.id}).all()
    targets: dict[int, _Target] = {}
    for r in rows:  # one row per answer of the card (one when it has none, or there is no card)
        if r.id in targets:
            targets[r.id].card.answers[r.a_principle] = _Answer(
                r.a_score, r.a_not_applicable, r.a_rationale, r.a_confidence
            )
            continue
        card = (
            _Card(r.card_id, r.card_status, r.card_version, r.card_submitted_at, {})
            if r.card_id is not None
            else _Card(None, "new", 0, None, {})
        )
        targets[r.id] = _Target(
            proposal=SimpleNamespace(
                id=r.id, reference=r.reference, status=r.status, proposer_id=r.proposer_id
            ),
            cycle=SimpleNamespace(
                id=r.cycle_id, status=r.cycle_status, scale_min=r.scale_min, scale_max=r.scale_max
            ),
            panel_name=r.panel_name,
            on_panel=r.panel_id is not None,
            member=bool(r.member),
            conflict=(
                SimpleNamespace(type=r.conflict_type, reason=r.conflict_reason)
                if r.conflict_type is not None
                else None
            ),
            card=card,
        )
        if r.a_principle is not None:
            card.answers[r.a_principle] = _Answer(
                r.a_score, r.a_not_applicable, r.a_rationale, r.a_confidence
            )
    return targets


def _check_target(
    user: User, target: _Target | None, proposal_id: int, data: ScorecardPut, loc: tuple
) -> None:
    """The rules of saving, in the order ``save`` has always applied them (the first broken one answers)."""
    if target is None:
        raise NotFound(f"Proposal {proposal_id} does not exist.")
    proposal = target.proposal
    if not can_read(user, proposal):
        raise NotFound(f"Proposal {proposal.id} does not exist or is not yours to see.")
    if not target.on_panel or not target.member:
        where = f"panel '{target.panel_name}'" if target.on_panel else "any panel"
        raise Forbidden(
            f"You are not a member of {where} for proposal {proposal.reference}; "
            "only its panel members score it."
        )
    declared = {proposal.id: target.conflict} if target.conflict is not None else {}
    why = conflict_of(None, user.id, proposal, declared)  # type: ignore[arg-type]
    if why:
        raise Forbidden(f"You have a conflict of interest: {why}.", conflict=why)
    if target.cycle.status != CycleStatus.scoring:
        raise ConflictError(
            f"Scorecards can be saved only while the cycle is in scoring; cycle {target.cycle.id} "
            f"is in '{target.cycle.status}'."
        )
    errors = _check_answers(target.cycle, data.scores, loc)
    if errors:
        raise ValidationFailed("The scorecard has invalid answers.", errors=errors)


@dataclass
class _Saved:
    """One save applied to its card (in memory): the answer it gets and its audit event."""

    proposal_id: int
    card: _Card
    out: ScorecardOut
    action: str
    changes: dict[str, Any]
    touched: set[int]


def _answer_json(a: _Answer | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "score": a.score,
        "not_applicable": a.not_applicable,
        "rationale": a.rationale,
        "confidence": a.confidence,
    }


def _answers_diff(before: dict[int, _Answer], after: dict[int, _Answer]) -> dict[str, Any]:
    """``app.audit.service.diff`` of the answers as ``{"principle N": {score, not_applicable, rationale,
    confidence}}``, without its generic conversion: the answers hold only numbers, booleans and text."""
    out: dict[str, Any] = {}
    for key, p in sorted((f"principle {p}", p) for p in before.keys() | after.keys()):
        b, a = before.get(p), after.get(p)
        if b != a:
            out[key] = {"before": _answer_json(b), "after": _answer_json(a)}
    return out


def _apply(
    user: User, target: _Target | None, proposal_id: int, data: ScorecardPut, loc: tuple, now: datetime
) -> _Saved:
    """Check one save against the card as the earlier saves of the request left it, and apply it there."""
    _check_target(user, target, proposal_id, data, loc)
    assert target is not None
    card = target.card
    if card.status == "submitted":
        raise ConflictError(
            f"Your scorecard for {target.proposal.reference} is submitted and locked; the panel "
            "chair can reopen it."
        )
    if data.version is not None and data.version != card.version:
        raise ConflictError(
            f"Your scorecard is at version {card.version}, not {data.version}; re-read it.",
            current_version=card.version,
        )
    before = card.answers
    after = dict(before)
    for a in data.scores:
        if a.score is None and not a.not_applicable and not a.rationale:
            after.pop(a.principle, None)
        else:
            after[a.principle] = _Answer(a.score, a.not_applicable, a.rationale, a.confidence)
    after = dict(sorted(after.items()))
    changes = _answers_diff(before, after)
    action = "scorecard.saved"
    status, submitted_at = "draft", card.submitted_at
    if data.submit:
        errors = submit_errors(target.cycle, after, loc)  # type: ignore[arg-type]
        if errors:
            raise ValidationFailed(
                f"The scorecard for {target.proposal.reference} cannot be submitted.", errors=errors
            )
        status, submitted_at = "submitted", now
        changes["status"] = {"before": "draft", "after": "submitted"}
        action = "scorecard.submitted"
    card.status, card.version, card.submitted_at, card.answers = status, card.version + 1, submitted_at, after
    card.saved = True
    card.submitted = card.submitted or data.submit
    out = ScorecardOut(
        id=card.id,
        proposal_id=proposal_id,
        scorer_id=user.id,
        status=status,
        version=card.version,
        submitted_at=submitted_at,
        updated_at=now,
        **_answers_out(after),
        counts_in_aggregation=True,  # the save was refused otherwise: a conflicted scorer does not score
    )
    return _Saved(proposal_id, card, out, action, changes, {a.principle for a in data.scores})


def _plan(
    session: Session, user: User, items: list[tuple[int, ScorecardPut, tuple]], now: datetime, lock: bool
) -> tuple[list[_Saved], list[dict], dict[int, _Target], dict[int, _Card]]:
    """Read once, then apply every save in order in memory; a failed save leaves its card as it was.

    Answers the saves, the errors (single saves raise theirs), the targets, and each card as read."""
    targets = _read_targets(session, user, [pid for pid, _, _ in items], lock)
    as_read = {pid: replace(t.card, answers=dict(t.card.answers)) for pid, t in targets.items()}
    saved: list[_Saved] = []
    errors: list[dict] = []
    single = len(items) == 1 and items[0][2] == ("body",)
    for proposal_id, data, loc in items:
        try:
            # _apply changes the card only once every check has passed
            saved.append(_apply(user, targets.get(proposal_id), proposal_id, data, loc, now))
        except ServiceError as exc:
            if single:
                raise
            if isinstance(exc, ValidationFailed):
                errors.extend(exc.errors or [field_error(list(loc), exc.detail)])
            else:
                errors.append(
                    {**field_error([*loc, "proposal_id"], exc.detail, exc.type_slug), "status": exc.status}
                )
    return saved, errors, targets, as_read


def _write(
    session: Session,
    user: _t_user,
    saved: list[_Saved],
    targets: dict[int, _Target],
    as_read: dict[int, _Card],
    now: datetime,
    checked: dict[str, Any] | None = None,
) -> bool:
    """Write the saves in set-based statements: new scorecards, the version bump of the others (checked
    against the versions read), the answers in one upsert, cleared answers in one delete, the audit events
    in one insert. False, having written nothing that counts, when a card changed since it was read."""
    touched: dict[int, set[int]] = {}
    for s in saved:
        touched.setdefault(s.proposal_id, set()).update(s.touched)
    final = {pid: targets[pid].card for pid in touched}
    new = [pid for pid in touched if as_read[pid].id is None]
    old = [pid for pid in touched if as_read[pid].id is not None]
    ids: dict[int, int] = {pid: as_read[pid].id for pid in old}  # type: ignore[misc]
    if new:
        rows = session.execute(
            dialect_insert(session, _t_scorecard)
            .values(
                [
                    dict(
                        proposal_id=pid,
                        scorer_id=user.id,
                        status=final[pid].status,
                        version=final[pid].version,
                        submitted_at=final[pid].submitted_at,
                        created_at=now,
                        updated_at=now,
                    )
                    for pid in new
                ]
            )
            .on_conflict_do_nothing(index_elements=["proposal_id", "scorer_id"])
            .returning(_t_scorecard.c.proposal_id, _t_scorecard.c.id)
        ).all()
        if len(rows) != len(new):
            return False
        ids.update({r.proposal_id: r.id for r in rows})
    if len(old) == 1:
        pid = old[0]
        bumped = session.execute(
            _BUMP_ONE if checked is None else _BUMP_ONE_CHECKED,
            {
                **(checked or {}),
                "card_id": ids[pid],
                "read_version": as_read[pid].version,
                "new_status": final[pid].status,
                "new_version": final[pid].version,
                "new_submitted_at": final[pid].submitted_at,
                "now": now,
            },
        ).all()
        if len(bumped) != 1:
            return False
    elif old:
        by_id = {ids[pid]: pid for pid in old}
        bumped = session.execute(
            update(_t_scorecard)
            .where(
                _t_scorecard.c.id.in_(sorted(by_id)),
                _t_scorecard.c.status == "draft",
                _t_scorecard.c.version
                == case({i: as_read[p].version for i, p in by_id.items()}, value=_t_scorecard.c.id),
            )
            .values(
                status=case({i: final[p].status for i, p in by_id.items()}, value=_t_scorecard.c.id),
                version=case({i: final[p].version for i, p in by_id.items()}, value=_t_scorecard.c.id),
                submitted_at=case(
                    {i: final[p].submitted_at for i, p in by_id.items() if final[p].submitted_at is not None},
                    value=_t_scorecard.c.id,
                    else_=_t_scorecard.c.submitted_at,
                )
                if any(final[p].submitted_at is not None for p in old)
                else _t_scorecard.c.submitted_at,
                updated_at=now,
            )
            .returning(_t_scorecard.c.id)
        ).all()
        if len(bumped) != len(old):
            return False
    for s in saved:
        s.card.id = ids[s.proposal_id]
        s.out.id = ids[s.proposal_id]
    upserts, cleared = [], []
    for pid, principles in touched.items():
        answers, had = final[pid].answers, as_read[pid].answers
        for p in sorted(principles):
            if p in answers:
                a = answers[p]
                upserts.append(
                    dict(
                        scorecard_id=ids[pid],
                        principle_number=p,
                        score=a.score,
                        not_applicable=a.not_applicable,
                        rationale=a.rationale,
                        confidence=a.confidence,
                        updated_at=now,
                    )
                )
            elif p in had:
                cleared.append((ids[pid], p))
    if cleared:
        session.execute(
            delete(_t_scorecard_answer).where(
                or_(
                    *(
                        and_(
                            _t_scorecard_answer.c.scorecard_id == c,
                            _t_scorecard_answer.c.principle_number == p,
                        )
                        for c, p in cleared
                    )
                )
            )
        )
    if upserts:  # one statement for all the answers
        _save_answers(session, upserts)
    events = [
        dict(
            occurred_at=utcnow(),
            actor_id=user.id,
            action=s.action,
            entity_type="scorecard",
            entity_id=str(ids[s.proposal_id]),
            changes={"proposal_id": s.proposal_id, **s.changes},
            request_id=session.info.get("request_id"),
        )
        for s in saved
        if s.changes
    ]
    if events:
        session.execute(_AUDIT, events)
    return True


STALE_RETRIES = 5


def _recheck_in_statement(
    session: Session, user: User, saved: list[_Saved], targets: dict[int, _Target], as_read: dict[int, _Card]
) -> dict[str, Any] | None:
    """The values the checked version bump compares with, when the saves touch one existing card of a
    request authenticated by a bearer token; else None."""
    cards = {s.proposal_id for s in saved}
    token_id = session.info.get("token_id")
    if len(cards) != 1 or token_id is None:
        return None
    (pid,) = cards
    if as_read[pid].id is None:
        return None
    target = targets[pid]
    roles = user.roles
    return {
        "user_id": user.id,
        "proposal_status": target.proposal.status,
        "scale_min": target.cycle.scale_min,
        "scale_max": target.cycle.scale_max,
        "token_id": token_id,
        "role_count": len(roles),
        "roles": roles,
    }


def _save_all(session: Session, user: User, items: list[tuple[int, ScorecardPut, tuple]]) -> list[_Saved]:
    """Read, check and apply every save in memory, then take the write lock and write them together.

    SQLite: the reads run before the write lock (``begin_write``); if another writer committed meanwhile
    they are read again under the lock. PostgreSQL: the version bump checks every card is still as read;
    if one is not (a concurrent save of the same card), the writes are undone and the saves planned again
    with the cards locked. Either way no save is built on a card that changed under it.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    lock = False
    for _ in range(STALE_RETRIES):
        now = datetime.now(UTC)
        saved, errors, targets, as_read = _plan(session, user, items, now, lock)
        if errors:
            failed = sorted({e["loc"][2] for e in errors})
            raise ValidationFailed(
                f"The batch was not saved: {len(failed)} of {len(items)} item(s) failed "
                f"(items {', '.join(map(str, failed))}); nothing was changed.",
                errors=errors,
            )
        checked = None
        if not begin_write(session):
            # Another writer committed between the reads and the lock. One existing card (the common
            # save): its version bump checks in the same statement everything the save relied on. Else:
            # check the token again and read again, under the lock.
            checked = _recheck_in_statement(session, user, saved, targets, as_read)
            if checked is None:
                recheck(session)
                continue
        if not postgres:
            if _write(session, user, saved, targets, as_read, now, checked):
                return saved
            if checked is not None:  # nothing was written (one statement, no row): read again, under the lock
                recheck(session)
                continue
            break  # cannot happen under SQLite's write lock with current reads; refuse rather than guess
        # One card: its insert or version bump is the first write and writes nothing when stale.
        savepoint = session.begin_nested() if len({s.proposal_id for s in saved}) > 1 else None
        if _write(session, user, saved, targets, as_read, now):
            if savepoint is not None:
                savepoint.commit()
            return saved
        if savepoint is not None:
            savepoint.rollback()
        lock = True
    raise ConflictError("Your scorecards changed while they were being saved; read them again and retry.")


def save(
    session: Session, user: User, proposal_id: int, data: ScorecardPut, loc: tuple = ("body",)
) -> ScorecardOut:
    """Save answers (a per-principle upsert) and optionally submit, checked against the card's version."""
    return _save_all(session, user, [(proposal_id, data, loc)])[0].out


def save_batch(session: Session, user: User, items: list) -> list[ScorecardOut]:
    """Every item or none, all errors reported at once; saved together in set-based statements."""
    saved = _save_all(
        session, user, [(item.proposal_id, item, ("body", "items", i)) for i, item in enumerate(items)]
    )
    return [s.out for s in saved]


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
    """The proposals on panels the user sits on, with their own scorecard's state, how many of its
    principles are answered, and the cycle's status (scoring is possible only while it is 'scoring')."""
    stmt = (
        select(Proposal, Panel.id, Panel.name, Cycle.status)
        .join(PanelProposal, PanelProposal.proposal_id == Proposal.id)
        .join(Panel, Panel.id == PanelProposal.panel_id)
        .join(PanelMember, and_(PanelMember.panel_id == Panel.id, PanelMember.user_id == user.id))
        .join(Cycle, Cycle.id == Proposal.cycle_id)
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
    answered = dict(
        session.execute(
            select(Scorecard.proposal_id, func.count(ScorecardAnswer.principle_number))
            .join(ScorecardAnswer, ScorecardAnswer.scorecard_id == Scorecard.id)
            .where(
                Scorecard.scorer_id == user.id,
                or_(ScorecardAnswer.score.is_not(None), ScorecardAnswer.not_applicable.is_(True)),
            )
            .group_by(Scorecard.proposal_id)
        ).all()
    )
    declared = declared_conflicts(session, user.id)
    return [
        dict(
            proposal_id=p.id,
            reference=p.reference,
            title=p.title,
            capability=p.capability,
            cycle_id=p.cycle_id,
            cycle_status=cycle_status,
            panel_id=panel_id,
            panel_name=panel_name,
            scorecard_status=states.get(p.id, "new"),
            answered=answered.get(p.id, 0),
            conflict=conflict_of(session, user.id, p, declared),
        )
        for p, panel_id, panel_name, cycle_status in rows
    ]


# A scorer's to-do list: what is left (to do, then drafts in progress) comes first.
TODO_ORDER = ("to_do", "draft", "submitted", "conflict")


def todo_status(item: dict[str, Any]) -> str:
    """An allocation item's place on the scorer's to-do list: 'to_do' (nothing saved), 'draft',
    'submitted' or 'conflict' (declared or recorded: not theirs to score)."""
    if item["conflict"]:
        return "conflict"
    return {"new": "to_do"}.get(item["scorecard_status"], item["scorecard_status"])


def todo_sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The to-do list's order: what is left first (to do, then drafts), those of a cycle not in scoring
    (nothing can be saved there now) after the ones that can be scored; then submitted, then conflicts;
    by reference within each."""

    def key(a: dict[str, Any]) -> tuple:
        status = todo_status(a)
        waiting = status in ("to_do", "draft") and a["cycle_status"] != CycleStatus.scoring.value
        return (
            TODO_ORDER.index(status) > 1,
            waiting,
            TODO_ORDER.index(status),
            a["reference"],
            a["proposal_id"],
        )

    return sorted(items, key=key)


def next_to_score(items: list[dict[str, Any]], after: int) -> dict[str, Any] | None:
    """The next proposal left to score after proposal ``after``: the first unfinished one (to do or draft)
    of a cycle in scoring, after ``after`` in reference order, wrapping round; None when none is left."""
    left = [
        a
        for a in sorted(items, key=lambda a: (a["reference"], a["proposal_id"]))
        if a["proposal_id"] != after
        and a["cycle_status"] == CycleStatus.scoring.value
        and todo_status(a) in ("to_do", "draft")
    ]
    current = next((a for a in items if a["proposal_id"] == after), None)
    if current is not None:
        later = [a for a in left if (a["reference"], a["proposal_id"]) > (current["reference"], after)]
        if later:
            return later[0]
    return left[0] if left else None


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
