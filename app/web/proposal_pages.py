from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.cycles.service import get_cycle
from app.deps import SessionDep
from app.errors import ServiceError
from app.models import Cycle, CycleStatus, Principle, ProposalKind, ProposalStatus, Role
from app.pagination import PageParams
from app.proposals import service
from app.proposals.schemas import ProposalCreate, ProposalUpdate, Withdrawal
from app.web.forms import errors_from, form_int, path_id, query_int, query_page, text
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)
KINDS = [(k.value, k.value.capitalize()) for k in ProposalKind]


def principles(session) -> list[Principle]:
    return list(session.scalars(select(Principle).order_by(Principle.number)))


def writable_cycles(session, user) -> list[Cycle]:
    statuses = [CycleStatus.open.value]
    if user.has_role(Role.admin, Role.chair):
        statuses += [CycleStatus.draft.value, CycleStatus.scoring.value, CycleStatus.moderation.value]
    return list(session.scalars(select(Cycle).where(Cycle.status.in_(statuses)).order_by(Cycle.id.desc())))


def form_values(form, cycle: Cycle) -> dict:
    """What the user typed, kept as typed so a failed post shows it again."""
    values = {
        k: text(form, k)
        for k in ("title", "capability", "kind", "lead", "summary", "fte_change", "reference", "version")
    }
    for y in cycle.financial_years:
        values[f"cost_{y}"] = text(form, f"cost_{y}")
        values[f"saving_{y}"] = text(form, f"saving_{y}")
    for p in range(1, 13):
        values[f"sa_{p}"] = text(form, f"sa_{p}")
    return values


def payload(values: dict, cycle: Cycle) -> dict:
    return {
        "title": values["title"],
        "capability": values["capability"],
        "kind": values["kind"],
        "lead": values["lead"],
        "summary": values["summary"],
        "fte_change": values["fte_change"] or "0",
        "financials": [
            {"year": y, "cost": values[f"cost_{y}"] or "0", "saving": values[f"saving_{y}"] or "0"}
            for y in cycle.financial_years
        ],
        "self_assessment": {str(p): values[f"sa_{p}"] for p in range(1, 13) if values[f"sa_{p}"]},
    }


def renames(cycle: Cycle) -> dict[str, str]:
    out = {}
    for i, y in enumerate(cycle.financial_years):
        out[f"financials.{i}.cost"] = f"cost_{y}"
        out[f"financials.{i}.saving"] = f"saving_{y}"
        out[f"financials.{i}.year"] = f"cost_{y}"
    return out


@router.get("/proposals", response_class=HTMLResponse)
def list_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    page: Annotated[int, query_page()],
    q: str = "",
) -> HTMLResponse:
    size = 50
    stmt = service.list_query(
        web.user,
        cycle_id=cycle_id,
        status=None,
        capability=None,
        kind=None,
        q=q or None,
        proposer_id=None,
        sort="reference",
    )
    rows, total = service.list_proposals(session, PageParams(limit=size, offset=(page - 1) * size), stmt)
    cycles = list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))
    items = [(p, service.totals(p)) for p in rows]
    return render(
        request,
        "proposals.html",
        web,
        title="Proposals",
        items=items,
        total=total,
        cycles=cycles,
        cycle_id=cycle_id,
        q=q,
        page=page,
        pages=(total + size - 1) // size,
    )


def _form_page(request, web, session, cycle, values, errors, proposal=None, status=200):
    return render(
        request,
        "proposal_form.html",
        web,
        status=status,
        cycle=cycle,
        values=values,
        errors=errors,
        proposal=proposal,
        principles=principles(session),
        kinds=KINDS,
        cycles=writable_cycles(session, web.user),
        title=f"Edit {proposal.reference}" if proposal else "New proposal",
    )


@router.get("/proposals/new", response_class=HTMLResponse)
def new_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
) -> HTMLResponse:
    cycles = writable_cycles(session, web.user)
    if not cycles:
        return render(
            request,
            "error.html",
            web,
            status=409,
            title="No cycle is open",
            detail="Proposals can be written only while a review cycle is open for proposals.",
        )
    cycle = next((c for c in cycles if c.id == cycle_id), cycles[0])
    values = {k: "" for k in ("title", "capability", "kind", "lead", "summary", "fte_change", "reference")}
    values.update(
        {f"cost_{y}": "" for y in cycle.financial_years} | {f"saving_{y}": "" for y in cycle.financial_years}
    )
    values.update({f"sa_{p}": "" for p in range(1, 13)})
    return _form_page(request, web, session, cycle, values, {})


@router.post("/proposals/new", response_class=HTMLResponse)
def create(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    cycle = get_cycle(session, form_int(form, "cycle_id", label="cycle id"))
    values = form_values(form, cycle)
    status = ProposalStatus.draft if form.get("action") == "draft" else ProposalStatus.submitted
    try:
        data = ProposalCreate.model_validate(
            {**payload(values, cycle), "cycle_id": cycle.id, "status": status}
        )
        with session.begin_nested():
            proposal = service.create_proposal(session, web.user, data)
    except (ValidationError, ServiceError) as exc:
        return _form_page(request, web, session, cycle, values, errors_from(exc, renames(cycle)), status=422)
    return RedirectResponse(f"/proposals/{proposal.id}?saved=1", status_code=303)


def _detail(request, web, session, p, *, errors=None, status=200, message=None) -> HTMLResponse:
    cycle = get_cycle(session, p.cycle_id)
    cost, saving = service.totals(p)
    can_edit = (web.user.has_role(Role.admin, Role.chair) and cycle.status != CycleStatus.closed) or (
        p.proposer_id == web.user.id and cycle.status == CycleStatus.open
    )
    return render(
        request,
        "proposal.html",
        web,
        status=status,
        title=p.title,
        p=p,
        cycle=cycle,
        cost=cost,
        saving=saving,
        net=cost - saving,
        principles=principles(session),
        can_edit=can_edit,
        message=message,
        errors=errors or {},
    )


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def view(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    saved: int = 0,
) -> HTMLResponse:
    p = service.get_proposal(session, web.user, proposal_id)
    return _detail(request, web, session, p, message="Saved." if saved else None)


@router.get("/proposals/{proposal_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, proposal_id: Annotated[int, path_id("proposal_id")], web: WebUser, session: SessionDep
) -> HTMLResponse:
    p = service.get_proposal(session, web.user, proposal_id)
    cycle = get_cycle(session, p.cycle_id)
    fin = {f.year: f for f in p.financials}
    values = {
        "title": p.title,
        "capability": p.capability,
        "kind": p.kind,
        "lead": p.lead,
        "summary": p.summary,
        "fte_change": f"{p.fte_change:f}",
        "reference": p.reference,
        "version": str(p.version),
    }
    for y in cycle.financial_years:
        values[f"cost_{y}"] = f"{fin[y].cost:f}" if y in fin else ""
        values[f"saving_{y}"] = f"{fin[y].saving:f}" if y in fin else ""
    sa = {s.principle_number: s.text for s in p.self_assessments}
    values.update({f"sa_{n}": sa.get(n, "") for n in range(1, 13)})
    return _form_page(request, web, session, cycle, values, {}, proposal=p)


@router.post("/proposals/{proposal_id}/edit", response_class=HTMLResponse)
def update(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    p = service.get_proposal(session, web.user, proposal_id)
    cycle = get_cycle(session, p.cycle_id)
    values = form_values(form, cycle)
    version = form_int(form, "version", min=0)
    try:
        data = ProposalUpdate.model_validate({**payload(values, cycle), "version": version})
        with session.begin_nested():
            service.update_proposal(session, web.user, p, data)
    except (ValidationError, ServiceError) as exc:
        return _form_page(
            request,
            web,
            session,
            cycle,
            values,
            errors_from(exc, renames(cycle)),
            proposal=p,
            status=422 if not isinstance(exc, ServiceError) or exc.status == 422 else exc.status,
        )
    return RedirectResponse(f"/proposals/{p.id}?saved=1", status_code=303)


@router.post("/proposals/{proposal_id}/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    """Put a draft proposal forward to the cycle."""
    p = service.get_proposal(session, web.user, proposal_id)
    version = form_int(form, "version", min=0)
    try:
        data = ProposalUpdate(status=ProposalStatus.submitted, version=version)
        with session.begin_nested():
            service.update_proposal(session, web.user, p, data)
    except (ValidationError, ServiceError) as exc:
        return _detail(request, web, session, p, errors=errors_from(exc), status=422)
    return RedirectResponse(f"/proposals/{p.id}?saved=1", status_code=303)


@router.post("/proposals/{proposal_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    p = service.get_proposal(session, web.user, proposal_id)
    try:
        with session.begin_nested():
            service.withdraw(session, web.user, p, Withdrawal(reason=text(form, "reason")))
    except (ValidationError, ServiceError) as exc:
        return _detail(request, web, session, p, errors=errors_from(exc), status=422)
    return RedirectResponse(f"/proposals/{p.id}?saved=1", status_code=303)
