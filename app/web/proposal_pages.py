"""The proposer's pages: the list, the form (save a draft with only a title; running totals), check
your answers and submit, the proposal, withdrawing. Every rule is the proposals service's; these pages
read forms and show what it says."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from app.cycles.service import get_cycle
from app.deps import SessionDep
from app.errors import ServiceError, ValidationFailed
from app.models import Cycle, CycleStatus, Principle, Proposal, ProposalKind, ProposalStatus, Role
from app.money import parse_fixed2
from app.pagination import PageParams
from app.proposals import service
from app.proposals.schemas import ProposalCreate, ProposalUpdate, Withdrawal
from app.web.forms import errors_from, form_int, money_text, path_id, query_int, query_page, text
from app.web.render import money, render
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


FIELDS = ("title", "capability", "kind", "lead", "summary", "fte_change", "reference", "version")


def form_values(form, cycle: Cycle) -> dict:
    """What the user typed, kept as typed so a failed post shows it again."""
    values = {k: text(form, k) for k in FIELDS}
    for y in cycle.financial_years:
        values[f"cost_{y}"] = text(form, f"cost_{y}")
        values[f"saving_{y}"] = text(form, f"saving_{y}")
    for p in range(1, 13):
        values[f"sa_{p}"] = text(form, f"sa_{p}")
    return values


def saved_values(p: Proposal, cycle: Cycle) -> dict:
    """A saved proposal as its form shows it: money as people write it (£1,250,000.00)."""
    fin = {f.year: f for f in p.financials}
    values = {
        "title": p.title,
        "capability": p.capability,
        "kind": p.kind or "",
        "lead": p.lead,
        "summary": p.summary,
        "fte_change": f"{p.fte_change:f}",
        "reference": p.reference,
        "version": str(p.version),
    }
    for y in cycle.financial_years:
        values[f"cost_{y}"] = money(fin[y].cost) if y in fin else ""
        values[f"saving_{y}"] = money(fin[y].saving) if y in fin else ""
    sa = {s.principle_number: s.text for s in p.self_assessments}
    values.update({f"sa_{n}": sa.get(n, "") for n in range(1, 13)})
    return values


def payload(values: dict, cycle: Cycle) -> dict:
    """The service's input from the form: an empty amount is £0, an unchosen kind is none yet."""
    return {
        "title": values["title"],
        "capability": values["capability"],
        "kind": values["kind"] or None,
        "lead": values["lead"],
        "summary": values["summary"],
        "fte_change": values["fte_change"] or "0",
        "financials": [
            {
                "year": y,
                "cost": money_text(values[f"cost_{y}"]) or "0",
                "saving": money_text(values[f"saving_{y}"]) or "0",
            }
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


def _amount(raw: str) -> Decimal | None:
    try:
        return parse_fixed2(money_text(raw) or "0")
    except ValueError:
        return None


def running_totals(values: dict, cycle: Cycle) -> dict:
    """Net per year and the totals of what the form holds, by the one money rule; a cell that cannot be
    read makes its year's net and the totals it feeds unknown (None), never a guess."""
    rows, cost, saving = [], Decimal("0.00"), Decimal("0.00")
    for y in cycle.financial_years:
        c, s = _amount(values.get(f"cost_{y}", "")), _amount(values.get(f"saving_{y}", ""))
        rows.append((y, None if c is None or s is None else c - s))
        cost = None if c is None or cost is None else cost + c
        saving = None if s is None or saving is None else saving + s
    net = None if cost is None or saving is None else cost - saving
    return {"rows": rows, "cost": cost, "saving": saving, "net": net}


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
    by_id = {c.id: c for c in cycles}
    editable = {
        p.id
        for p in rows
        if p.status == ProposalStatus.draft.value and can_edit(web.user, p, by_id[p.cycle_id])
    }
    return render(
        request,
        "proposals.html",
        web,
        title="Proposals",
        items=items,
        editable=editable,
        total=total,
        cycles=cycles,
        cycle_id=cycle_id,
        q=q,
        page=page,
        pages=(total + size - 1) // size,
    )


def missing_fields(p: Proposal) -> dict[str, str]:
    """What the proposal still needs before it can be submitted, as field errors in plain English."""
    missing = service.missing_to_submit(p)
    return errors_from(ValidationFailed("Missing", errors=missing)) if missing else {}


def _form_page(request, web, session, cycle, values, errors, proposal=None, status=200, notice=None):
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
        totals=running_totals(values, cycle),
        notice=notice,
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
    values = {k: "" for k in FIELDS}
    values.update(
        {f"cost_{y}": "" for y in cycle.financial_years} | {f"saving_{y}": "" for y in cycle.financial_years}
    )
    values.update({f"sa_{p}": "" for p in range(1, 13)})
    return _form_page(request, web, session, cycle, values, {})


def _after_save(p: Proposal, action: str) -> RedirectResponse:
    """Save draft: back to the form, totals worked out. Check and submit: to the check page, or back to
    the form listing what is missing. Save changes (a submitted proposal): to the proposal."""
    if action == "submit":
        return RedirectResponse(
            f"/proposals/{p.id}/{'edit?submit=1' if service.missing_to_submit(p) else 'check'}", 303
        )
    if p.status == ProposalStatus.draft.value:
        return RedirectResponse(f"/proposals/{p.id}/edit?saved=1", status_code=303)
    return RedirectResponse(f"/proposals/{p.id}?saved=1", status_code=303)


@router.post("/proposals/new", response_class=HTMLResponse)
def create(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    """A new proposal is always saved as a draft first: it is submitted from its check-your-answers page."""
    cycle = get_cycle(session, form_int(form, "cycle_id", label="cycle id"))
    values = form_values(form, cycle)
    try:
        data = ProposalCreate.model_validate(
            {**payload(values, cycle), "cycle_id": cycle.id, "status": ProposalStatus.draft}
        )
        with session.begin_nested():
            proposal = service.create_proposal(session, web.user, data)
    except (ValidationError, ServiceError) as exc:
        return _form_page(request, web, session, cycle, values, errors_from(exc, renames(cycle)), status=422)
    return _after_save(proposal, text(form, "action"))


def _detail(request, web, session, p, *, errors=None, status=200, message=None, submitted=False):
    cycle = get_cycle(session, p.cycle_id)
    cost, saving = service.totals(p)
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
        can_edit=can_edit(web.user, p, cycle),
        message=message,
        submitted=submitted,
        errors=errors or {},
    )


def can_edit(user, p: Proposal, cycle: Cycle) -> bool:
    return (user.has_role(Role.admin, Role.chair) and cycle.status != CycleStatus.closed) or (
        p.proposer_id == user.id and cycle.status == CycleStatus.open
    )


@router.get("/proposals/{proposal_id}", response_class=HTMLResponse)
def view(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    saved: int = 0,
    submitted: int = 0,
) -> HTMLResponse:
    p = service.get_proposal(session, web.user, proposal_id)
    just_submitted = bool(submitted) and p.status == ProposalStatus.submitted.value
    return _detail(request, web, session, p, message="Saved." if saved else None, submitted=just_submitted)


@router.get("/proposals/{proposal_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    saved: int = 0,
    submit: int = 0,
) -> HTMLResponse:
    p = service.get_proposal(session, web.user, proposal_id)
    cycle = get_cycle(session, p.cycle_id)
    errors, notice = {}, "Draft saved." if saved else None
    if submit:  # sent back from "Check and submit": every field still needed, listed and linked
        errors = missing_fields(p)
        notice = "Your draft is saved. Answer every question listed to submit it." if errors else None
    return _form_page(request, web, session, cycle, saved_values(p, cycle), errors, proposal=p, notice=notice)


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
    return _after_save(p, text(form, "action"))


def _check_page(request, web, session, p, *, errors=None, status=200):
    cycle = get_cycle(session, p.cycle_id)
    missing = missing_fields(p)
    fin = {f.year: f for f in p.financials}
    years = [(y, fin[y].cost, fin[y].saving) for y in cycle.financial_years if y in fin]
    cost, saving = service.totals(p)
    sa = {s.principle_number: s.text for s in p.self_assessments}
    return render(
        request,
        "proposal_check.html",
        web,
        status=status,
        title=f"Check your answers: {p.reference}",
        p=p,
        cycle=cycle,
        kind=dict(KINDS).get(p.kind or "", ""),
        years=years,
        cost=cost,
        saving=saving,
        net=cost - saving,
        principles=principles(session),
        sa=sa,
        missing=missing,
        errors=errors or missing,
    )


@router.get("/proposals/{proposal_id}/check", response_class=HTMLResponse)
def check_page(
    request: Request, proposal_id: Annotated[int, path_id("proposal_id")], web: WebUser, session: SessionDep
):
    """Check your answers: every answer with a Change link to its field, then Submit."""
    p = service.get_proposal(session, web.user, proposal_id)
    if p.status != ProposalStatus.draft.value or not can_edit(web.user, p, get_cycle(session, p.cycle_id)):
        return RedirectResponse(f"/proposals/{p.id}", status_code=303)
    return _check_page(request, web, session, p)


@router.post("/proposals/{proposal_id}/check", response_class=HTMLResponse)
def submit(
    request: Request,
    proposal_id: Annotated[int, path_id("proposal_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    """Put a draft proposal forward to the cycle (the service checks it is complete)."""
    p = service.get_proposal(session, web.user, proposal_id)
    version = form_int(form, "version", min=0)
    try:
        data = ProposalUpdate(status=ProposalStatus.submitted, version=version)
        with session.begin_nested():
            service.update_proposal(session, web.user, p, data)
    except (ValidationError, ServiceError) as exc:
        status = exc.status if isinstance(exc, ServiceError) else 422
        if status in (403, 404):
            raise
        session.refresh(p)
        return _check_page(request, web, session, p, errors=errors_from(exc), status=status)
    return RedirectResponse(f"/proposals/{p.id}?submitted=1", status_code=303)


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
