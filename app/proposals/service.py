"""Proposals: the capability proposals of a cycle, with their money per year and self-assessment."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.audit.service import record
from app.cycles.service import check_version, get_cycle
from app.db import broken_constraint
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.models import (
    Cycle,
    CycleStatus,
    Proposal,
    ProposalFinancial,
    ProposalSelfAssessment,
    ProposalStatus,
    Role,
    User,
)
from app.pagination import PageParams, paginate, parse_sort
from app.proposals.schemas import FinancialLine, ProposalCreate, ProposalUpdate, Withdrawal

WITH_CHILDREN = (selectinload(Proposal.financials), selectinload(Proposal.self_assessments))
STAFF_ROLES = (Role.admin, Role.chair, Role.finance, Role.scorer)
MANAGER_ROLES = (Role.admin, Role.chair)
SORTS = {
    "reference": Proposal.reference,
    "title": Proposal.title,
    "capability": Proposal.capability,
    "kind": Proposal.kind,
    "status": Proposal.status,
    "created_at": Proposal.created_at,
    "updated_at": Proposal.updated_at,
    "id": Proposal.id,
}


def snapshot(p: Proposal) -> dict[str, Any]:
    return {
        "reference": p.reference,
        "title": p.title,
        "capability": p.capability,
        "kind": p.kind,
        "summary": p.summary,
        "lead": p.lead,
        "status": p.status,
        "fte_change": p.fte_change,
        "financials": {f.year: {"cost": f.cost, "saving": f.saving} for f in p.financials},
        "self_assessment": {str(s.principle_number): s.text for s in p.self_assessments},
    }


def totals(p: Proposal) -> tuple[Decimal, Decimal]:
    cost = sum((f.cost for f in p.financials), Decimal("0.00"))
    saving = sum((f.saving for f in p.financials), Decimal("0.00"))
    return cost, saving


def is_staff(user: User) -> bool:
    return user.has_role(*STAFF_ROLES)


def can_read(user: User, proposal: Proposal) -> bool:
    """Its proposer always; chairs and admins (who manage proposals) always; scorers and finance once it
    is no longer a draft. A draft is its proposer's work in progress."""
    if proposal.proposer_id == user.id or user.has_role(*MANAGER_ROLES):
        return True
    return is_staff(user) and proposal.status != ProposalStatus.draft.value


def get_proposal(session: Session, user: User, proposal_id: int) -> Proposal:
    proposal = session.scalar(select(Proposal).where(Proposal.id == proposal_id).options(*WITH_CHILDREN))
    if proposal is None or not can_read(user, proposal):
        raise NotFound(f"Proposal {proposal_id} does not exist or is not yours to see.")
    return proposal


def _check_can_write(user: User, cycle: Cycle, proposal: Proposal | None) -> None:
    status = CycleStatus(cycle.status)
    if user.has_role(*MANAGER_ROLES):
        if status == CycleStatus.closed:
            raise Conflict(f"Cycle {cycle.id} is closed; its proposals can no longer change.")
        return
    if not user.has_role(Role.proposer):
        raise Forbidden("Only proposers, chairs and admins write proposals.")
    if proposal is not None and proposal.proposer_id != user.id:
        raise Forbidden(f"Proposal {proposal.id} belongs to another proposer; you can edit only your own.")
    if status != CycleStatus.open:
        raise Conflict(
            f"Cycle {cycle.id} is in status '{status.value}'; "
            "proposers can write proposals only while it is open."
        )


def check_against_cycle(
    cycle: Cycle, financials: list[FinancialLine] | None, loc: tuple = ("body",)
) -> list[dict]:
    """Rules that need the cycle: financial lines only for its years."""
    errors = []
    years = set(cycle.financial_years)
    for i, line in enumerate(financials or []):
        if line.year not in years:
            errors.append(
                field_error(
                    [*loc, "financials", i, "year"],
                    f"{line.year} is not a financial year of this cycle ({', '.join(cycle.financial_years)})",
                )
            )
    return errors


# What a proposal needs before it is submitted, in the order of the form: (field, what to do). A draft may
# leave them empty; the API and the web client both submit through create_proposal/update_proposal, so
# this is the one completeness rule.
NEEDED_TO_SUBMIT = (
    ("capability", "enter the capability before submitting"),
    ("kind", "choose a kind before submitting"),
    ("lead", "enter the capability lead before submitting"),
)


def missing_to_submit(proposal: Proposal, loc: tuple = ("body",)) -> list[dict]:
    """Field errors (type ``missing``) for each field a submitted proposal needs and this one lacks."""
    return [
        field_error([*loc, name], said, "missing")
        for name, said in NEEDED_TO_SUBMIT
        if not (getattr(proposal, name) or "").strip()
    ]


def check_complete(proposal: Proposal, message: str) -> None:
    """A submitted proposal is complete: raise every missing field at once, as field errors."""
    if proposal.status == ProposalStatus.submitted.value:
        errors = missing_to_submit(proposal)
        if errors:
            raise ValidationFailed(message, errors=errors)


# What the database names when a reference is repeated in a cycle: the any-case index, the exact-case
# constraint (PostgreSQL), or the exact-case constraint's columns (SQLite).
REFERENCE_CONSTRAINTS = frozenset(
    {
        "uq_proposals_cycle_id_lower_reference",
        "uq_proposals_cycle_id_reference",
        "proposals.cycle_id, proposals.reference",
    }
)


def reference_error(reference: str) -> dict:
    return field_error(["body", "reference"], f"{reference} is already used in this cycle", "unique")


def _flush_checking_reference(session: Session, reference: str, message: str) -> None:
    """Flush; a reference that a concurrent write took after our check gets the check's own answer."""
    try:
        session.flush()
    except IntegrityError as exc:
        if broken_constraint(exc) not in REFERENCE_CONSTRAINTS:
            raise
        raise ValidationFailed(message, errors=[reference_error(reference)]) from None


def _reference_taken(session: Session, cycle_id: int, reference: str, exclude_id: int | None = None) -> bool:
    stmt = select(Proposal.id).where(
        Proposal.cycle_id == cycle_id, func.lower(Proposal.reference) == reference.lower()
    )
    if exclude_id is not None:
        stmt = stmt.where(Proposal.id != exclude_id)
    return session.scalar(stmt) is not None


def next_reference(session: Session, cycle: Cycle) -> str:
    """``PREFIX-NNN`` from the cycle's counter, atomically incremented (row lock / write lock)."""
    while True:
        n = session.execute(
            update(Cycle)
            .where(Cycle.id == cycle.id)
            .values(proposal_seq=Cycle.proposal_seq + 1)
            .returning(Cycle.proposal_seq)
        ).scalar_one()
        ref = f"{cycle.reference_prefix}-{n:03d}"
        if not _reference_taken(session, cycle.id, ref):
            return ref


def _set_financials(proposal: Proposal, cycle: Cycle, lines: list[FinancialLine]) -> None:
    given = {line.year: line for line in lines}
    existing = {f.year: f for f in proposal.financials}
    for year in cycle.financial_years:
        line = given.get(year)
        row = existing.get(year)
        if row is None:
            proposal.financials.append(
                ProposalFinancial(
                    year=year,
                    cost=line.cost if line else Decimal("0"),
                    saving=line.saving if line else Decimal("0"),
                )
            )
        elif line is not None:
            row.cost, row.saving = line.cost, line.saving


def _set_self_assessment(proposal: Proposal, texts: dict[str, str]) -> None:
    existing = {s.principle_number: s for s in proposal.self_assessments}
    wanted = {int(k): v for k, v in texts.items()}
    for number, row in existing.items():
        if number not in wanted:
            proposal.self_assessments.remove(row)
    for number, text in sorted(wanted.items()):
        if number in existing:
            existing[number].text = text
        else:
            proposal.self_assessments.append(ProposalSelfAssessment(principle_number=number, text=text))


def create_proposal(
    session: Session,
    actor: User,
    data: ProposalCreate,
    *,
    cycle: Cycle | None = None,
    proposer_id: int | None = None,
    audit: bool = True,
) -> Proposal:
    cycle = cycle or get_cycle(session, data.cycle_id)
    _check_can_write(actor, cycle, None)
    if data.status == ProposalStatus.withdrawn:
        raise ValidationFailed(
            "A new proposal cannot be withdrawn.",
            errors=[field_error(["body", "status"], "use draft or submitted")],
        )
    errors = check_against_cycle(cycle, data.financials)
    if data.reference and _reference_taken(session, cycle.id, data.reference):
        errors.append(reference_error(data.reference))
    if errors:
        raise ValidationFailed("The proposal has invalid fields.", errors=errors)
    if proposer_id is None and not actor.has_role(*MANAGER_ROLES):
        proposer_id = actor.id
    proposal = Proposal(
        cycle_id=cycle.id,
        reference=data.reference or next_reference(session, cycle),
        title=data.title,
        capability=data.capability,
        kind=data.kind.value if data.kind else None,
        summary=data.summary,
        lead=data.lead,
        fte_change=data.fte_change,
        status=data.status.value,
        proposer_id=proposer_id,
        financials=[],
        self_assessments=[],
    )
    check_complete(proposal, "A submitted proposal needs every field below; save it as a draft until then.")
    _set_financials(proposal, cycle, data.financials)
    _set_self_assessment(proposal, data.self_assessment)
    session.add(proposal)
    _flush_checking_reference(session, proposal.reference, "The proposal has invalid fields.")
    if audit:
        record(session, actor, "proposal.created", "proposal", proposal.id, after=snapshot(proposal))
    return proposal


def update_proposal(session: Session, actor: User, proposal: Proposal, data: ProposalUpdate) -> Proposal:
    cycle = get_cycle(session, proposal.cycle_id)
    _check_can_write(actor, cycle, proposal)
    check_version(proposal, "Proposal", data.version)
    errors = check_against_cycle(cycle, data.financials)
    if (
        data.reference
        and data.reference != proposal.reference
        and _reference_taken(session, cycle.id, data.reference, proposal.id)
    ):
        errors.append(reference_error(data.reference))
    if data.status == ProposalStatus.withdrawn:
        errors.append(
            field_error(["body", "status"], "withdraw with POST /proposals/{id}/withdraw and a reason")
        )
    if (
        data.status is not None
        and proposal.status == ProposalStatus.withdrawn
        and not actor.has_role(Role.admin)
    ):
        errors.append(field_error(["body", "status"], "only an admin can reinstate a withdrawn proposal"))
    if errors:
        raise ValidationFailed("The proposal update has invalid fields.", errors=errors)
    before = snapshot(proposal)
    for name in ("reference", "title", "capability", "summary", "lead", "fte_change"):
        value = getattr(data, name)
        if value is not None:
            setattr(proposal, name, value)
    if data.kind is not None or "kind" in data.model_fields_set:  # an explicit null clears it
        proposal.kind = data.kind.value if data.kind else None
    if data.status is not None:
        proposal.status = data.status.value
    check_complete(proposal, "A submitted proposal needs every field below; save it as a draft until then.")
    if data.financials is not None:
        _set_financials(proposal, cycle, data.financials)
    if data.self_assessment is not None:
        _set_self_assessment(proposal, data.self_assessment)
    after = snapshot(proposal)
    if after != before:
        proposal.updated_at = datetime.now(UTC)  # also bumps the version when only child rows changed
        _flush_checking_reference(session, proposal.reference, "The proposal update has invalid fields.")
        record(session, actor, "proposal.updated", "proposal", proposal.id, before=before, after=after)
    return proposal


def withdraw(session: Session, actor: User, proposal: Proposal, data: Withdrawal) -> Proposal:
    cycle = get_cycle(session, proposal.cycle_id)
    _check_can_write(actor, cycle, proposal)
    check_version(proposal, "Proposal", data.version)
    if proposal.status == ProposalStatus.withdrawn:
        raise Conflict(f"Proposal {proposal.id} is already withdrawn.")
    before = proposal.status
    proposal.status = ProposalStatus.withdrawn.value
    proposal.updated_at = datetime.now(UTC)
    session.flush()
    record(
        session,
        actor,
        "proposal.withdrawn",
        "proposal",
        proposal.id,
        changes={"status": {"before": before, "after": proposal.status}, "reason": data.reason},
    )
    return proposal


def list_query(
    user: User,
    *,
    cycle_id: int | None,
    status: str | None,
    capability: str | None,
    kind: str | None,
    q: str | None,
    proposer_id: int | None,
    sort: str | None,
) -> Select:
    stmt = select(Proposal).options(*WITH_CHILDREN)
    if not is_staff(user):
        stmt = stmt.where(Proposal.proposer_id == user.id)
    elif not user.has_role(*MANAGER_ROLES):  # the same rule as can_read
        stmt = stmt.where(or_(Proposal.status != ProposalStatus.draft.value, Proposal.proposer_id == user.id))
    if cycle_id is not None:
        stmt = stmt.where(Proposal.cycle_id == cycle_id)
    if status:
        stmt = stmt.where(Proposal.status == status)
    if capability:
        stmt = stmt.where(func.lower(Proposal.capability) == capability.lower())
    if kind:
        stmt = stmt.where(Proposal.kind == kind)
    if proposer_id is not None:
        stmt = stmt.where(Proposal.proposer_id == proposer_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Proposal.reference).like(like),
                func.lower(Proposal.title).like(like),
                func.lower(Proposal.summary).like(like),
            )
        )
    return stmt.order_by(*parse_sort(sort, SORTS, "reference"), Proposal.id)


def list_proposals(session: Session, page: PageParams, stmt: Select) -> tuple[list[Proposal], int]:
    return paginate(session, stmt, page)
