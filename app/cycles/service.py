"""Cycles: one review exercise, its years, budgets, scale and status."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.cycles.schemas import (
    DEFAULT_SCALE_LABELS,
    CycleCreate,
    CycleUpdate,
    Transition,
    check_labels,
    check_threshold,
)
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.models import Cycle, CycleStatus, CycleYear, Proposal, ProposalFinancial, Role, User
from app.pagination import PageParams, paginate
from app.weightings.service import create_equal

TRANSITIONS: dict[CycleStatus, tuple[CycleStatus, ...]] = {
    CycleStatus.draft: (CycleStatus.open,),
    CycleStatus.open: (CycleStatus.scoring,),
    CycleStatus.scoring: (CycleStatus.moderation,),
    CycleStatus.moderation: (CycleStatus.closed,),
    CycleStatus.closed: (),
}


def allowed_transitions(cycle: Cycle) -> list[CycleStatus]:
    return list(TRANSITIONS[CycleStatus(cycle.status)])


def snapshot(cycle: Cycle) -> dict[str, Any]:
    return {
        "name": cycle.name,
        "reference_prefix": cycle.reference_prefix,
        "status": cycle.status,
        "financial_years": cycle.financial_years,
        "budgets": cycle.budgets,
        "scale_min": cycle.scale_min,
        "scale_max": cycle.scale_max,
        "scale_labels": cycle.scale_labels,
        "not_applicable_policy": cycle.not_applicable_policy,
        "min_scorecards": cycle.min_scorecards,
        "disagreement_threshold": cycle.disagreement_threshold,
    }


def default_prefix(name: str) -> str:
    first = re.sub(r"[^A-Za-z0-9]", "", name.split()[0] if name.split() else "") or "P"
    return first.upper()[:12]


def get_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"Cycle {cycle_id} does not exist.")
    return cycle


def current_cycle(session: Session) -> Cycle | None:
    """The cycle people most likely mean: the newest under review (scoring or moderation), else the
    newest closed one, else the newest; None when there is none. Creating next year's cycle does not
    move everyone's ranking and submissions pages onto an empty one."""
    for statuses in ((CycleStatus.scoring.value, CycleStatus.moderation.value), (CycleStatus.closed.value,)):
        cycle = session.scalar(
            select(Cycle).where(Cycle.status.in_(statuses)).order_by(Cycle.id.desc()).limit(1)
        )
        if cycle is not None:
            return cycle
    return session.scalar(select(Cycle).order_by(Cycle.id.desc()).limit(1))


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> None:
    stmt = select(Cycle.id).where(func.lower(Cycle.name) == name.lower())
    if exclude_id is not None:
        stmt = stmt.where(Cycle.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(
            f"A cycle named '{name}' already exists.",
            errors=[field_error(["body", "name"], "already used by another cycle", "unique")],
        )


def create_cycle(session: Session, actor: User, data: CycleCreate) -> Cycle:
    _name_taken(session, data.name)
    labels = data.scale_labels
    if labels is None:
        labels = DEFAULT_SCALE_LABELS if (data.scale_min, data.scale_max) == (0, 5) else {}
    cycle = Cycle(
        name=data.name,
        reference_prefix=data.reference_prefix or default_prefix(data.name),
        scale_min=data.scale_min,
        scale_max=data.scale_max,
        scale_labels=dict(labels),
        not_applicable_policy=data.not_applicable_policy.value,
        min_scorecards=data.min_scorecards,
        disagreement_threshold=data.disagreement_threshold,
        created_by_id=actor.id,
        years=[
            CycleYear(year=y, position=i, budget=data.budgets.get(y))
            for i, y in enumerate(data.financial_years)
        ],
    )
    session.add(cycle)
    session.flush()
    record(session, actor, "cycle.created", "cycle", cycle.id, after=snapshot(cycle))
    create_equal(session, actor, cycle.id)
    return cycle


def list_cycles(session: Session, page: PageParams, status: str | None) -> tuple[list[Cycle], int]:
    stmt = select(Cycle).order_by(Cycle.created_at.desc(), Cycle.id.desc())
    if status:
        stmt = stmt.where(Cycle.status == status)
    return paginate(session, stmt, page)


def check_version(entity: Any, kind: str, version: int | None) -> None:
    if version is not None and version != entity.version:
        raise Conflict(
            f"{kind} {entity.id} is at version {entity.version}, not {version}; re-read it and apply your "
            "change again.",
            current_version=entity.version,
        )


# What the money and the scoring rest on: set by admins only (a chair may rename a cycle).
ADMIN_FIELDS = (
    "financial_years",
    "budgets",
    "scale_min",
    "scale_max",
    "scale_labels",
    "not_applicable_policy",
    "min_scorecards",
    "disagreement_threshold",
)


def check_admin_fields(actor: User, data: CycleUpdate) -> None:
    if actor.has_role(Role.admin):
        return
    given = [f for f in ADMIN_FIELDS if getattr(data, f) is not None]
    if given:
        raise Forbidden(
            f"Only an admin changes a cycle's {', '.join(given)}.",
            errors=[field_error(["body", f], "only an admin can change this", "forbidden") for f in given],
        )


def update_cycle(session: Session, actor: User, cycle: Cycle, data: CycleUpdate) -> Cycle:
    check_admin_fields(actor, data)
    check_version(cycle, "Cycle", data.version)
    before = snapshot(cycle)
    status = CycleStatus(cycle.status)
    errors = []
    if status == CycleStatus.closed:
        raise Conflict(f"Cycle {cycle.id} is closed and can no longer change.")
    if data.name is not None and data.name != cycle.name:
        _name_taken(session, data.name, cycle.id)
        cycle.name = data.name
    if data.reference_prefix is not None:
        cycle.reference_prefix = data.reference_prefix
    if data.financial_years is not None and data.financial_years != cycle.financial_years:
        if status != CycleStatus.draft:
            errors.append(
                field_error(["body", "financial_years"], "financial years can change only in draft")
            )
        else:
            dropped = set(cycle.financial_years) - set(data.financial_years)
            used = session.scalars(
                select(ProposalFinancial.year)
                .join(Proposal)
                .where(Proposal.cycle_id == cycle.id, ProposalFinancial.year.in_(dropped))
                .distinct()
            ).all()
            if used:
                errors.append(
                    field_error(
                        ["body", "financial_years"], f"proposals have figures for {', '.join(sorted(used))}"
                    )
                )
            else:
                old = {y.year: y.budget for y in cycle.years}
                cycle.years.clear()
                session.flush()
                cycle.years.extend(
                    CycleYear(year=y, position=i, budget=old.get(y))
                    for i, y in enumerate(data.financial_years)
                )
    if data.scale_min is not None or data.scale_max is not None or data.scale_labels is not None:
        lo = cycle.scale_min if data.scale_min is None else data.scale_min
        hi = cycle.scale_max if data.scale_max is None else data.scale_max
        if (lo, hi) != (cycle.scale_min, cycle.scale_max) and status not in (
            CycleStatus.draft,
            CycleStatus.open,
        ):
            errors.append(
                field_error(["body", "scale_min"], "the scale can change only before scoring starts")
            )
        elif lo >= hi:
            errors.append(field_error(["body", "scale_max"], "scale_max must be above scale_min"))
        else:
            labels = cycle.scale_labels if data.scale_labels is None else data.scale_labels
            try:
                check_labels(labels, lo, hi)
            except ValueError as exc:
                errors.append(field_error(["body", "scale_labels"], str(exc)))
            else:
                cycle.scale_min, cycle.scale_max, cycle.scale_labels = lo, hi, dict(labels)
    if data.not_applicable_policy is not None:
        cycle.not_applicable_policy = data.not_applicable_policy.value
    if data.min_scorecards is not None:
        cycle.min_scorecards = data.min_scorecards
    threshold = (
        cycle.disagreement_threshold if data.disagreement_threshold is None else data.disagreement_threshold
    )
    try:
        check_threshold(threshold, cycle.scale_min, cycle.scale_max)
    except ValueError as exc:
        errors.append(field_error(["body", "disagreement_threshold"], str(exc)))
    else:
        cycle.disagreement_threshold = threshold
    if data.budgets is not None:
        years = {y.year: y for y in cycle.years}
        for year, amount in data.budgets.items():
            if year not in years:
                errors.append(field_error(["body", "budgets", year], "not a financial year of this cycle"))
            else:
                years[year].budget = amount
    if errors:
        raise ValidationFailed("The cycle update has invalid fields.", errors=errors)
    cycle.updated_at = datetime.now(UTC)
    session.flush()
    record(session, actor, "cycle.updated", "cycle", cycle.id, before=before, after=snapshot(cycle))
    return cycle


def transition(session: Session, actor: User, cycle: Cycle, data: Transition) -> Cycle:
    current = CycleStatus(cycle.status)
    if data.to not in TRANSITIONS[current]:
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "none (the cycle is closed)"
        raise Conflict(
            f"Cycle {cycle.id} cannot move from {current.value} to {data.to.value}; allowed: {allowed}.",
            current_status=current.value,
        )
    cycle.status = data.to.value
    cycle.updated_at = datetime.now(UTC)
    session.flush()
    event = record(
        session,
        actor,
        "cycle.transitioned",
        "cycle",
        cycle.id,
        before={"status": current.value},
        after={"status": cycle.status},
    )
    if data.reason:
        event.changes = {**event.changes, "reason": data.reason}
    return cycle
