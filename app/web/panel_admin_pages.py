"""Panels on the web: the panels a user may see (per cycle), a new panel, and the page where a panel's
chair or an admin renames it, adds and removes members and proposals, and sees and records conflicts.

Every change goes through the panels service the API uses (``create_panel``, ``update_panel`` with the
panel's version for optimistic concurrency, ``declare_conflict``), which checks the rules and audits
the change; this module reads the form, turns the service's answers into plain English beside the
fields, and names what changed in a banner after the redirect.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.deps import SessionDep
from app.errors import Conflict as ConflictError
from app.errors import Forbidden, NotFound, ServiceError
from app.models import (
    CONFLICT_TYPES,
    Cycle,
    CycleStatus,
    Panel,
    PanelProposal,
    Proposal,
    ProposalStatus,
    Role,
    User,
    UserRole,
)
from app.panels import service
from app.panels.schemas import ConflictCreate, PanelCreate, PanelUpdate
from app.scorecards import review
from app.scorecards.review import names_of
from app.scorecards.service import conflicted_pairs
from app.web.forms import Fields, FormError, form_int, parse_int, path_id, query_int, text
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)

CONFLICT_WORDS = {
    "line_management": "Line management",
    "proposal_author": "Proposer",
    "financial": "Financial",
    "personal": "Personal",
    "other": "Other",
}
STALE = (
    "Someone else changed this panel after you opened the page. The page now shows the panel as it is: "
    "check it and make your change again."
)


# --- reads -------------------------------------------------------------------------------------------


def _all_cycles(session) -> list[Cycle]:
    return list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))


def _cycle(session, cycles: list[Cycle], cycle_id: int | None) -> Cycle | None:
    """The cycle asked for, or by default the newest."""
    if cycle_id is None:
        return cycles[0] if cycles else None
    cycle = next((c for c in cycles if c.id == cycle_id), None)
    if cycle is None:
        raise NotFound(f"There is no review cycle {cycle_id}.")
    return cycle


def _panel(session, web, panel_id: int) -> Panel:
    panel = session.get(Panel, panel_id)
    if panel is None:
        raise NotFound(f"Panel {panel_id} does not exist.")
    if not service.chairs(web.user, panel):
        raise Forbidden(f"Only the chair of panel ‘{panel.name}’ or an admin manages it.")
    return panel


def _manager(web) -> None:
    if not web.user.has_role(Role.admin, Role.chair):
        raise Forbidden("Only chairs and admins set up panels.")


def _users_with(session, *roles: str) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.is_active, User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(roles))))
            .order_by(User.full_name, User.id)
        )
    )


def _proposals(session, ids) -> list[Proposal]:
    ids = list(ids)
    if not ids:
        return []
    return list(session.scalars(select(Proposal).where(Proposal.id.in_(ids)).order_by(Proposal.reference)))


def _free_proposals(session, cycle: Cycle) -> list[Proposal]:
    """The cycle's submitted proposals that are on no panel yet."""
    return list(
        session.scalars(
            select(Proposal)
            .where(
                Proposal.cycle_id == cycle.id,
                Proposal.status == ProposalStatus.submitted.value,
                Proposal.id.not_in(select(PanelProposal.proposal_id)),
            )
            .order_by(Proposal.reference)
        )
    )


def _known_conflicts(session, proposal_ids: list[int]) -> dict[int, list[str]]:
    """Per user, the references of the proposals (of those given) they are conflicted on: declared
    conflicts and their own proposals, the same pairs the scoring progress leaves out."""
    refs = {p.id: p.reference for p in _proposals(session, proposal_ids)}
    out: dict[int, list[str]] = {}
    for pid, uid in sorted(conflicted_pairs(session, proposal_ids)):
        out.setdefault(uid, []).append(refs[pid])
    return {uid: sorted(r) for uid, r in out.items()}


def _cycle_proposal_ids(session, cycle: Cycle) -> list[int]:
    return list(session.scalars(select(Proposal.id).where(Proposal.cycle_id == cycle.id)))


def _ids(raw: str) -> list[int]:
    """Ids named in a page's address for its banner (``ids=3,7``); anything unreadable is left out."""
    out = []
    for part in raw.split(",")[:200]:
        try:
            out.append(parse_int(part.strip(), label="id"))
        except ValueError:
            continue
    return out


def _checked_ids(form, name: str, label: str) -> list[int]:
    """The ticked boxes of a list of ids (a field nobody types: a bad one is a plain 400 page)."""
    out = []
    for raw in form.getlist(name):
        try:
            value = parse_int(str(raw).strip(), label=label)
        except ValueError as exc:
            raise FormError(name, str(exc)) from None
        if value not in out:
            out.append(value)
    return out


# --- plain-English errors ------------------------------------------------------------------------------


def _sentence(msg: str) -> str:
    msg = msg.strip()
    msg = msg[:1].upper() + msg[1:]
    return msg if msg.endswith((".", "?", "!")) else msg + "."


def _panel_errors(
    session,
    exc: Exception,
    *,
    name: str,
    member_ids: list[int],
    proposal_ids: list[int],
    keys: dict[str, str],
) -> dict[str, str]:
    """The service's (or the schema's) refusal of a panel as ``{form field: message}``; ``keys`` maps
    ``name``, ``chair_id``, ``member_ids`` and ``proposal_ids`` to the form's field names."""
    if isinstance(exc, ValidationError):
        raw = [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": e["type"]} for e in exc.errors()]
    elif isinstance(exc, ServiceError) and exc.errors:
        raw = exc.errors
    elif isinstance(exc, ServiceError):
        return {"_form": _sentence(exc.detail)}
    else:
        raise exc
    people = names_of(session, set(member_ids))
    refs = {p.id: f"{p.reference} {p.title}" for p in _proposals(session, proposal_ids)}
    out: dict[str, list[str]] = {}
    for e in raw:
        loc = [p for p in e["loc"] if p != "body"]
        field = str(loc[0]) if loc else "_form"
        index = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        msg = str(e["msg"]).removeprefix("Value error, ")
        if field == "name":
            if "already used" in msg:
                msg = f"This cycle already has a panel named ‘{name}’: choose another name."
            else:
                msg = "Enter a name for the panel of 200 characters or fewer, on one line."
        elif field == "chair_id":
            msg = "Choose the chair from the list: they must have the chair or admin role."
        elif field == "member_ids" and index is not None and index < len(member_ids):
            uid = member_ids[index]
            msg = f"{people.get(uid, f'User {uid}')} is not an active scorer, so cannot sit on a panel."
        elif field == "proposal_ids" and index is not None and index < len(proposal_ids):
            pid = proposal_ids[index]
            shown = refs.get(pid, f"Proposal {pid}")
            msg = _sentence(re.sub(rf"^proposal {pid}\b", shown, msg))
            if "not in this cycle" in msg:
                msg = f"{shown} is not a proposal of this cycle."
        else:
            msg = _sentence(msg)
        out.setdefault(keys.get(field, "_form"), []).append(msg)
    return {k: " ".join(v) for k, v in out.items()}


# --- /panels -------------------------------------------------------------------------------------------


@router.get("/panels", response_class=HTMLResponse)
def panels_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    cycles = _all_cycles(session)
    cycle = _cycle(session, cycles, cycle_id)
    rows = []
    if cycle is not None:
        panels = service.visible_panels(session, web.user, cycle.id)
        try:  # scoring progress is for the panels one chairs (all of them for an admin), as in the API
            progress = {p.panel_id: p for p in review.progress(session, web.user, cycle.id).panels}
        except Forbidden:
            progress = {}
        chairs = names_of(session, {p.chair_id for p in panels})
        for p in panels:
            rows.append(
                {
                    "panel": p,
                    "chair": chairs.get(p.chair_id, ""),
                    "members": len(p.member_ids),
                    "proposals": len(p.proposal_ids),
                    "progress": progress.get(p.id),
                    "chairs": service.chairs(web.user, p),
                }
            )
    return render(
        request,
        "panels.html",
        web,
        title="Panels",
        cycles=cycles,
        cycle=cycle,
        rows=rows,
        can_create=web.user.has_role(Role.admin, Role.chair)
        and cycle is not None
        and cycle.status != CycleStatus.closed.value,
    )


# --- /panels/new ---------------------------------------------------------------------------------------


def _new_page(request, web, session, cycle_id, values=None, errors=None, status=200):
    """The new-panel form for a cycle that is not closed (by default the newest such)."""
    cycles = [c for c in _all_cycles(session) if c.status != CycleStatus.closed.value]
    if cycle_id is None:
        cycle = cycles[0] if cycles else None
    else:
        cycle = next((c for c in cycles if c.id == cycle_id), None)
        if cycle is None:
            asked = session.get(Cycle, cycle_id)
            if asked is None:
                raise NotFound(f"There is no review cycle {cycle_id}.")
            errors = {"_form": f"Cycle ‘{asked.name}’ is closed: its panels can no longer change."}
            status = 409
    scorers, free, conflicts, chairs = [], [], {}, []
    if cycle is not None:
        scorers = _users_with(session, Role.scorer.value)
        free = _free_proposals(session, cycle)
        conflicts = _known_conflicts(session, _cycle_proposal_ids(session, cycle))
        if web.user.has_role(Role.admin):
            chairs = _users_with(session, Role.chair.value, Role.admin.value)
    values = values or {"name": "", "chair_id": str(web.user.id), "member_ids": [], "proposal_ids": []}
    return render(
        request,
        "panel_new.html",
        web,
        status=status,
        title="New panel",
        cycles=cycles,
        cycle=cycle,
        scorers=scorers,
        free=free,
        conflicts=conflicts,
        chairs=chairs,
        values=values,
        errors=errors or {},
    )


@router.get("/panels/new", response_class=HTMLResponse)
def new_panel_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    _manager(web)
    return _new_page(request, web, session, cycle_id)


@router.post("/panels/new", response_class=HTMLResponse)
def create_panel(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    _manager(web)
    cycle_id = form_int(form, "cycle_id", label="cycle id")
    member_ids = _checked_ids(form, "member_ids", "member")
    proposal_ids = _checked_ids(form, "proposal_ids", "proposal")
    fields = Fields(form, status=422)
    chair_id = fields.int("chair_id", label="chair") if web.user.has_role(Role.admin) else None
    values = {
        "name": text(form, "name"),
        "chair_id": text(form, "chair_id"),
        "member_ids": member_ids,
        "proposal_ids": proposal_ids,
    }
    errors = dict(fields.errors)
    if not values["name"]:
        errors["name"] = "Enter a name for the panel."
    if errors:
        return _new_page(request, web, session, cycle_id, values, errors, status=422)
    keys = {
        "name": "name",
        "chair_id": "chair_id",
        "member_ids": "member_ids",
        "proposal_ids": "proposal_ids",
    }
    try:
        data = PanelCreate(
            name=values["name"], chair_id=chair_id, member_ids=member_ids, proposal_ids=proposal_ids
        )
        with session.begin_nested():
            panel = service.create_panel(session, web.user, cycle_id, data)
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, NotFound):
            raise
        errs = _panel_errors(
            session, exc, name=values["name"], member_ids=member_ids, proposal_ids=proposal_ids, keys=keys
        )
        status = exc.status if isinstance(exc, Forbidden) else 422
        return _new_page(request, web, session, cycle_id, values, errs, status=status)
    return RedirectResponse(f"/panels/{panel.id}/manage?done=created", status_code=303)


# --- /panels/{panel_id}/manage -------------------------------------------------------------------------


def _banner(session, panel: Panel, done: str, ids: list[int]) -> str | None:
    def people() -> str:
        names = names_of(session, set(ids))
        return ", ".join(names[i] for i in ids if i in names)

    def proposals() -> str:
        return ", ".join(f"{p.reference} {p.title}" for p in _proposals(session, ids))

    if done == "created":
        return (
            f"Panel ‘{panel.name}’ created with {len(panel.member_ids)} member"
            f"{'s' if len(panel.member_ids) != 1 else ''} and {len(panel.proposal_ids)} proposal"
            f"{'s' if len(panel.proposal_ids) != 1 else ''}."
        )
    if done == "chair" and ids:
        return f"The panel is now chaired by {names_of(session, set(ids)).get(ids[0], 'another chair')}."
    if done == "renamed":
        return f"Panel renamed to ‘{panel.name}’."
    if done == "members-added" and ids:
        return f"Added to the panel: {people()}."
    if done == "member-removed" and ids:
        return f"Removed from the panel: {people()}."
    if done == "proposals-added" and ids:
        return f"Proposals added to the panel: {proposals()}."
    if done == "proposal-removed" and ids:
        return f"Proposal removed from the panel: {proposals()}."
    if done == "conflict" and len(ids) == 2:
        who = names_of(session, {ids[0]}).get(ids[0], "")
        what = next(iter(_proposals(session, [ids[1]])), None)
        if who and what is not None:
            return f"Conflict of interest recorded: {who} on {what.reference} {what.title}."
    return None


def _manage_page(request, web, session, panel: Panel, values=None, errors=None, status=200, banner=None):
    cycle = session.get(Cycle, panel.cycle_id)
    members = (
        list(session.scalars(select(User).where(User.id.in_(panel.member_ids)).order_by(User.full_name)))
        if panel.member_ids
        else []
    )
    proposals = _proposals(session, panel.proposal_ids)
    member_set = set(panel.member_ids)
    candidates = [u for u in _users_with(session, Role.scorer.value) if u.id not in member_set]
    free = _free_proposals(session, cycle)
    known = _known_conflicts(session, _cycle_proposal_ids(session, cycle))
    # Every conflict on the panel's proposals the user may see (the rule of the API's list_conflicts, in
    # one set-based read): declared ones, and a proposer's own when they sit on or chair this panel.
    involved = member_set | {panel.chair_id}
    by_id = {p.id: p for p in proposals}
    conflicts = [
        {**c, "proposal": by_id[c["proposal_id"]]}
        for c in service.panel_conflicts(session, web.user, panel, proposals)
        if not (c["automatic"] and c["user_id"] not in involved)
    ]
    names = names_of(
        session,
        {c["user_id"] for c in conflicts}
        | {c["recorded_by_id"] for c in conflicts if c["recorded_by_id"]}
        | {panel.chair_id},
    )
    return render(
        request,
        "panel_manage.html",
        web,
        status=status,
        title=f"Manage {panel.name}",
        panel=panel,
        cycle=cycle,
        chair_name=names.get(panel.chair_id, ""),
        chair_options=[
            (u.id, f"{u.full_name} ({', '.join(u.roles)})")
            for u in _users_with(session, Role.chair.value, Role.admin.value)
        ]
        if web.user.has_role(Role.admin)
        else [],
        members=members,
        proposals=proposals,
        candidates=candidates,
        free=free,
        known=known,
        conflicts=conflicts,
        names=names,
        conflict_types=[(t, CONFLICT_WORDS[t]) for t in CONFLICT_TYPES if t != "proposal_author"],
        conflict_words=CONFLICT_WORDS,
        members_options=[(u.id, u.full_name) for u in members],
        proposal_options=[(p.id, f"{p.reference} {p.title}") for p in proposals],
        editable=cycle.status != CycleStatus.closed.value,
        values=values or {},
        errors=errors or {},
        banner=banner,
    )


@router.get("/panels/{panel_id}/manage", response_class=HTMLResponse)
def manage_page(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    done: str = "",
    ids: str = "",
):
    panel = _panel(session, web, panel_id)
    return _manage_page(request, web, session, panel, banner=_banner(session, panel, done, _ids(ids)))


def _update(
    request, web, session, panel: Panel, form, data: dict, *, keys: dict[str, str], values: dict, done: str
):
    """Apply one change through the service with the version the page was drawn from; the page again
    with the refusal beside its field, or a redirect to the page naming what changed."""
    version = form_int(form, "version", label="version", min=0)
    member_ids = data.get("member_ids") or []
    proposal_ids = data.get("proposal_ids") or []
    try:
        with session.begin_nested():
            service.update_panel(session, web.user, panel, PanelUpdate(version=version, **data))
    except (ValidationError, ServiceError) as exc:
        if isinstance(exc, ConflictError) and "current_version" in exc.extra:
            session.refresh(panel)
            return _manage_page(request, web, session, panel, errors={"_form": STALE}, status=409)
        if isinstance(exc, (Forbidden, NotFound)):
            raise
        session.refresh(panel)
        errs = _panel_errors(
            session,
            exc,
            name=values.get("name", ""),
            member_ids=member_ids,
            proposal_ids=proposal_ids,
            keys=keys,
        )
        status = exc.status if isinstance(exc, ServiceError) else 422
        return _manage_page(request, web, session, panel, values=values, errors=errs, status=status)
    return RedirectResponse(f"/panels/{panel.id}/manage?{done}", status_code=303)


def _refuse(request, web, session, panel, field: str, message: str, values=None, status=422):
    return _manage_page(request, web, session, panel, values=values, errors={field: message}, status=status)


@router.post("/panels/{panel_id}/rename", response_class=HTMLResponse)
def rename(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    name = text(form, "name")
    if not name:
        return _refuse(request, web, session, panel, "name", "Enter a name for the panel.", {"name": name})
    return _update(
        request,
        web,
        session,
        panel,
        form,
        {"name": name},
        keys={"name": "name"},
        values={"name": name},
        done="done=renamed",
    )


@router.post("/panels/{panel_id}/chair", response_class=HTMLResponse)
def change_chair(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    """An admin hands the panel to another chair (the service refuses anyone else)."""
    panel = _panel(session, web, panel_id)
    if not web.user.has_role(Role.admin):
        raise Forbidden("Only an admin can hand a panel to another chair.")
    fields = Fields(form, status=422)
    chair_id = fields.int("chair_id", label="chair", required=True)
    if fields.errors:
        return _refuse(request, web, session, panel, "chair_id", "Select the new chair from the list.")
    if chair_id == panel.chair_id:
        return _refuse(
            request, web, session, panel, "chair_id", "Select a chair other than the panel's chair now."
        )
    return _update(
        request,
        web,
        session,
        panel,
        form,
        {"chair_id": chair_id},
        keys={"chair_id": "chair_id"},
        values={"chair_id": str(chair_id)},
        done=f"done=chair&ids={chair_id}",
    )


# What the member and proposal forms change: the panel's list, the form's field of ticked boxes, the
# label of a bad id, the refusals, the banner's words and the page's section to return to.
_LISTS = {
    "members": {
        "attr": "member_ids",
        "label": "member",
        "none": "Select at least one scorer to add.",
        "gone": "That person is not a member of this panel (someone may have removed them already).",
        "added": "members-added",
        "removed": "member-removed",
    },
    "proposals": {
        "attr": "proposal_ids",
        "label": "proposal",
        "none": "Select at least one proposal to add.",
        "gone": "That proposal is not on this panel (someone may have removed it already).",
        "added": "proposals-added",
        "removed": "proposal-removed",
    },
}


def _add(request, web, session, panel: Panel, form, what: str):
    """Add the ticked members or proposals that are not on the panel yet."""
    spec = _LISTS[what]
    attr, field = spec["attr"], "add_" + spec["attr"]
    current = getattr(panel, attr)
    chosen = [i for i in _checked_ids(form, field, spec["label"]) if i not in current]
    if not chosen:
        return _refuse(request, web, session, panel, field, spec["none"])
    return _update(
        request,
        web,
        session,
        panel,
        form,
        {attr: current + chosen},
        keys={attr: field},
        values={field: chosen},
        done=f"done={spec['added']}&ids=" + ",".join(map(str, chosen)) + f"#{what}",
    )


def _remove(request, web, session, panel: Panel, form, what: str, field: str, label: str):
    """Take one member or proposal (the form's ``field``) off the panel."""
    spec = _LISTS[what]
    current = getattr(panel, spec["attr"])
    gone = form_int(form, field, label=label)
    if gone not in current:
        return _refuse(request, web, session, panel, "_form", spec["gone"], status=409)
    return _update(
        request,
        web,
        session,
        panel,
        form,
        {spec["attr"]: [i for i in current if i != gone]},
        keys={},
        values={},
        done=f"done={spec['removed']}&ids={gone}#{what}",
    )


@router.post("/panels/{panel_id}/members", response_class=HTMLResponse)
def add_members(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    return _add(request, web, session, _panel(session, web, panel_id), form, "members")


@router.post("/panels/{panel_id}/members/remove", response_class=HTMLResponse)
def remove_member(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    return _remove(request, web, session, panel, form, "members", "user_id", "member id")


@router.post("/panels/{panel_id}/proposals", response_class=HTMLResponse)
def add_proposals(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    return _add(request, web, session, _panel(session, web, panel_id), form, "proposals")


@router.post("/panels/{panel_id}/proposals/remove", response_class=HTMLResponse)
def remove_proposal(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    return _remove(request, web, session, panel, form, "proposals", "proposal_id", "proposal id")


@router.post("/panels/{panel_id}/conflicts", response_class=HTMLResponse)
def record_conflict(
    request: Request,
    panel_id: Annotated[int, path_id("panel_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    panel = _panel(session, web, panel_id)
    fields = Fields(form, status=422)
    user_id = fields.int("conflict_user_id", label="member")
    proposal_id = fields.int("conflict_proposal_id", label="proposal")
    values = {
        k: text(form, k)
        for k in ("conflict_user_id", "conflict_proposal_id", "conflict_type", "conflict_reason")
    }
    errors = dict(fields.errors)
    if "conflict_user_id" not in errors and user_id not in panel.member_ids:
        errors["conflict_user_id"] = "Select the member of this panel who has the conflict."
    if "conflict_proposal_id" not in errors and proposal_id not in panel.proposal_ids:
        errors["conflict_proposal_id"] = "Select a proposal on this panel."
    if values["conflict_type"] not in CONFLICT_WORDS or values["conflict_type"] == "proposal_author":
        errors["conflict_type"] = "Select the kind of conflict."
    if len(values["conflict_reason"]) < 3:
        errors["conflict_reason"] = "Give the reason for the conflict, in a few words."
    elif len(values["conflict_reason"]) > 2000:
        errors["conflict_reason"] = "The reason must be 2000 characters or fewer."
    if errors:
        return _manage_page(request, web, session, panel, values=values, errors=errors, status=422)
    proposal = session.get(Proposal, proposal_id)
    try:
        data = ConflictCreate(user_id=user_id, type=values["conflict_type"], reason=values["conflict_reason"])
        with session.begin_nested():
            service.declare_conflict(session, web.user, proposal, data)
    except ValidationError:
        errs = {"conflict_reason": "Give the reason for the conflict as plain text."}
        return _manage_page(request, web, session, panel, values=values, errors=errs, status=422)
    except ServiceError as exc:
        if isinstance(exc, ConflictError):
            who = names_of(session, {user_id}).get(user_id, "This member")
            msg = f"{who} already has a conflict recorded on {proposal.reference}."
            errs = {"conflict_user_id": msg}
        else:
            errs = {"_form": _sentence(exc.detail)}
        return _manage_page(request, web, session, panel, values=values, errors=errs, status=exc.status)
    return RedirectResponse(
        f"/panels/{panel.id}/manage?done=conflict&ids={user_id},{proposal_id}#conflicts", status_code=303
    )
