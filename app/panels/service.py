"""Panels, their members and assignments; conflicts of interest; and who may do what on a proposal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.cycles.service import check_version, get_cycle
from app.errors import Conflict as ConflictError
from app.errors import Forbidden, NotFound, ValidationFailed, field_error
from app.models import (
    Conflict,
    Cycle,
    CycleStatus,
    Panel,
    PanelMember,
    PanelProposal,
    Proposal,
    Role,
    Scorecard,
    User,
    UserRole,
)
from app.panels.schemas import ConflictCreate, PanelCreate, PanelUpdate


def snapshot(panel: Panel) -> dict[str, Any]:
    return {
        "name": panel.name,
        "chair_id": panel.chair_id,
        "member_ids": panel.member_ids,
        "proposal_ids": panel.proposal_ids,
    }


def get_panel(session: Session, cycle_id: int, panel_id: int) -> Panel:
    panel = session.get(Panel, panel_id)
    if panel is None or panel.cycle_id != cycle_id:
        raise NotFound(f"Panel {panel_id} does not exist in cycle {cycle_id}.")
    return panel


def panel_of(session: Session, proposal_id: int) -> Panel | None:
    return session.scalar(
        select(Panel)
        .join(PanelProposal, PanelProposal.panel_id == Panel.id)
        .where(PanelProposal.proposal_id == proposal_id)
    )


def chairs(user: User, panel: Panel | None) -> bool:
    """Admins act as chair of every panel; a chair of their own."""
    return user.has_role(Role.admin) or (panel is not None and panel.chair_id == user.id)


def declared_conflicts(session: Session, user_id: int) -> dict[int, Conflict]:
    """The user's declared conflicts by proposal id, in one query."""
    return {c.proposal_id: c for c in session.scalars(select(Conflict).where(Conflict.user_id == user_id))}


def conflict_of(
    session: Session, user_id: int, proposal: Proposal, declared: dict[int, Conflict] | None = None
) -> str | None:
    """Why ``user_id`` is conflicted on ``proposal``, or None (``declared``: preloaded for many proposals)."""
    if proposal.proposer_id == user_id:
        return f"you are the proposer of {proposal.reference} (proposal_author)"
    if declared is None:
        row = session.scalar(
            select(Conflict).where(Conflict.proposal_id == proposal.id, Conflict.user_id == user_id)
        )
    else:
        row = declared.get(proposal.id)
    if row is not None:
        return f"a declared conflict on {proposal.reference} ({row.type}: {row.reason})"
    return None


def require_not_conflicted(session: Session, user: User, proposal: Proposal) -> None:
    why = conflict_of(session, user.id, proposal)
    if why:
        raise Forbidden(f"You have a conflict of interest: {why}.", conflict=why)


def chairs_proposal(session: Session, user: User, panel: Panel | None, proposal: Proposal) -> bool:
    """Chair rights on one proposal: the chair of its panel (or an admin) with no conflict on it.

    A conflicted chair or admin is like a conflicted member for that proposal: another chair or an
    admin reads its scorecards, moderates it and reopens them."""
    return chairs(user, panel) and conflict_of(session, user.id, proposal) is None


def require_chairs_proposal(
    session: Session, user: User, panel: Panel | None, proposal: Proposal, doing: str
) -> None:
    """403 unless ``user`` has chair rights on ``proposal``; ``doing`` says what, e.g. "moderates scores"."""
    if not chairs(user, panel):
        raise Forbidden(f"Only the panel's chair or an admin {doing}.")
    why = conflict_of(session, user.id, proposal)
    if why:
        raise Forbidden(
            f"You have a conflict of interest: {why}; another chair or an admin {doing} for "
            f"{proposal.reference}.",
            conflict=why,
        )


def _check_members_and_proposals(
    session: Session,
    cycle: Cycle,
    panel_id: int | None,
    chair_id: int | None,
    member_ids: list[int] | None,
    proposal_ids: list[int] | None,
) -> list[dict]:
    errors = []
    if chair_id is not None:
        roles = set(session.scalars(select(UserRole.role).where(UserRole.user_id == chair_id)))
        if not roles & {"chair", "admin"}:
            errors.append(field_error(["body", "chair_id"], f"user {chair_id} is not a chair"))
    if member_ids:
        scorers = set(
            session.scalars(
                select(User.id)
                .join(UserRole)
                .where(User.id.in_(member_ids), User.is_active, UserRole.role == "scorer")
            )
        )
        for i, uid in enumerate(member_ids):
            if uid not in scorers:
                errors.append(field_error(["body", "member_ids", i], f"user {uid} is not an active scorer"))
    if proposal_ids:
        rows = dict(
            session.execute(select(Proposal.id, Proposal.cycle_id).where(Proposal.id.in_(proposal_ids))).all()
        )
        elsewhere = dict(
            session.execute(
                select(PanelProposal.proposal_id, Panel.name)
                .join(Panel, Panel.id == PanelProposal.panel_id)
                .where(
                    PanelProposal.proposal_id.in_(proposal_ids), PanelProposal.panel_id != (panel_id or -1)
                )
            ).all()
        )
        for i, pid in enumerate(proposal_ids):
            if rows.get(pid) != cycle.id:
                errors.append(
                    field_error(["body", "proposal_ids", i], f"proposal {pid} is not in this cycle")
                )
            elif pid in elsewhere:
                errors.append(
                    field_error(
                        ["body", "proposal_ids", i],
                        f"proposal {pid} is already on panel '{elsewhere[pid]}'",
                        "unique",
                    )
                )
    return errors


def create_panel(session: Session, actor: User, cycle_id: int, data: PanelCreate) -> Panel:
    cycle = get_cycle(session, cycle_id)
    if cycle.status == CycleStatus.closed:
        raise ConflictError(f"Cycle {cycle.id} is closed.")
    chair_id = data.chair_id if data.chair_id is not None else actor.id
    if not actor.has_role(Role.admin) and chair_id != actor.id:
        raise Forbidden("A chair creates panels that they chair; only an admin names another chair.")
    if session.scalar(select(Panel.id).where(Panel.cycle_id == cycle.id, Panel.name == data.name)):
        raise ConflictError(
            f"Cycle {cycle.id} already has a panel named '{data.name}'.",
            errors=[field_error(["body", "name"], "already used in this cycle", "unique")],
        )
    errors = _check_members_and_proposals(session, cycle, None, chair_id, data.member_ids, data.proposal_ids)
    if errors:
        raise ValidationFailed("The panel has invalid fields.", errors=errors)
    panel = Panel(
        cycle_id=cycle.id,
        name=data.name,
        chair_id=chair_id,
        members=[PanelMember(user_id=u) for u in data.member_ids],
        assignments=[PanelProposal(proposal_id=p, cycle_id=cycle.id) for p in data.proposal_ids],
    )
    session.add(panel)
    session.flush()
    record(session, actor, "panel.created", "panel", panel.id, after=snapshot(panel))
    return panel


def update_panel(session: Session, actor: User, panel: Panel, data: PanelUpdate) -> Panel:
    if not chairs(actor, panel):
        raise Forbidden(f"Only the chair of panel '{panel.name}' or an admin can change it.")
    check_version(panel, "Panel", data.version)
    cycle = get_cycle(session, panel.cycle_id)
    if cycle.status == CycleStatus.closed:
        raise ConflictError(f"Cycle {cycle.id} is closed.")
    if data.chair_id is not None and data.chair_id != panel.chair_id and not actor.has_role(Role.admin):
        raise Forbidden("Only an admin can hand a panel to another chair.")
    errors = _check_members_and_proposals(
        session, cycle, panel.id, data.chair_id, data.member_ids, data.proposal_ids
    )
    if (
        data.name
        and data.name != panel.name
        and session.scalar(
            select(Panel.id).where(Panel.cycle_id == cycle.id, Panel.name == data.name, Panel.id != panel.id)
        )
    ):
        errors.append(field_error(["body", "name"], "already used in this cycle", "unique"))
    if errors:
        raise ValidationFailed("The panel update has invalid fields.", errors=errors)
    before = snapshot(panel)
    if data.name is not None:
        panel.name = data.name
    if data.chair_id is not None:
        panel.chair_id = data.chair_id
    if data.member_ids is not None:
        keep = [m for m in panel.members if m.user_id in data.member_ids]
        have = {m.user_id for m in keep}
        panel.members = keep + [PanelMember(user_id=u) for u in data.member_ids if u not in have]
    if data.proposal_ids is not None:
        keep_a = [a for a in panel.assignments if a.proposal_id in data.proposal_ids]
        have = {a.proposal_id for a in keep_a}
        panel.assignments = keep_a + [
            PanelProposal(proposal_id=p, cycle_id=cycle.id) for p in data.proposal_ids if p not in have
        ]
    panel.updated_at = datetime.now(UTC)
    session.flush()
    record(session, actor, "panel.updated", "panel", panel.id, before=before, after=snapshot(panel))
    return panel


def visible_panels(session: Session, user: User, cycle_id: int) -> list[Panel]:
    stmt = select(Panel).where(Panel.cycle_id == cycle_id).order_by(Panel.name)
    if not user.has_role(Role.admin, Role.finance):
        stmt = stmt.where(
            (Panel.chair_id == user.id)
            | Panel.id.in_(select(PanelMember.panel_id).where(PanelMember.user_id == user.id))
        )
    return list(session.scalars(stmt))


def declare_conflict(session: Session, actor: User, proposal: Proposal, data: ConflictCreate) -> Conflict:
    user_id = data.user_id if data.user_id is not None else actor.id
    if user_id != actor.id:
        require_chairs_proposal(
            session, actor, panel_of(session, proposal.id), proposal, "records another user's conflict"
        )
    if session.get(User, user_id) is None:
        raise ValidationFailed(
            "Unknown user.", errors=[field_error(["body", "user_id"], f"no user {user_id}")]
        )
    if session.scalar(
        select(Conflict.id).where(Conflict.proposal_id == proposal.id, Conflict.user_id == user_id)
    ):
        raise ConflictError(f"User {user_id} already has a conflict recorded on proposal {proposal.id}.")
    row = Conflict(
        proposal_id=proposal.id, user_id=user_id, type=data.type, reason=data.reason, recorded_by_id=actor.id
    )
    session.add(row)
    session.flush()
    changes: dict[str, Any] = {"user_id": user_id, "type": data.type, "reason": data.reason}
    withdrawn = session.scalar(
        select(Scorecard.id).where(Scorecard.proposal_id == proposal.id, Scorecard.scorer_id == user_id)
    )
    if withdrawn is not None:
        changes["scorecard_withdrawn_from_aggregation"] = withdrawn
    record(session, actor, "conflict.recorded", "proposal", proposal.id, changes=changes)
    return row


def list_conflicts(session: Session, user: User, proposal: Proposal) -> list[dict[str, Any]]:
    """All conflicts for the chair/admin; your own otherwise. The proposer's is listed as automatic."""
    return panel_conflicts(session, user, panel_of(session, proposal.id), [proposal])


def panel_conflicts(
    session: Session, user: User, panel: Panel | None, proposals: list[Proposal]
) -> list[dict[str, Any]]:
    """The conflicts on ``proposals`` (all on ``panel``, or on none) that ``user`` may see, proposal by
    proposal in the order given: every one where the user has chair rights on the proposal
    (``chairs_proposal``), only their own elsewhere; the proposer's listed first, as automatic.
    A few queries whatever the number of proposals."""
    if not proposals:
        return []
    mine = declared_conflicts(session, user.id)
    chair = chairs(user, panel)
    rows: dict[int, list[Conflict]] = {}
    for r in session.scalars(
        select(Conflict).where(Conflict.proposal_id.in_([p.id for p in proposals])).order_by(Conflict.id)
    ):
        rows.setdefault(r.proposal_id, []).append(r)
    out = []
    for proposal in proposals:
        everyone = chair and conflict_of(session, user.id, proposal, mine) is None
        if proposal.proposer_id is not None and (everyone or proposal.proposer_id == user.id):
            out.append(
                dict(
                    id=None,
                    proposal_id=proposal.id,
                    user_id=proposal.proposer_id,
                    type="proposal_author",
                    reason="The proposer of a proposal may not score it.",
                    recorded_by_id=None,
                    automatic=True,
                    created_at=proposal.created_at,
                )
            )
        for r in rows.get(proposal.id, []):
            if everyone or r.user_id == user.id:
                out.append(
                    dict(
                        id=r.id,
                        proposal_id=r.proposal_id,
                        user_id=r.user_id,
                        type=r.type,
                        reason=r.reason,
                        recorded_by_id=r.recorded_by_id,
                        automatic=False,
                        created_at=r.created_at,
                    )
                )
    return out
