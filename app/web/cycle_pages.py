"""Cycles on the web: the list, one cycle, creating and editing it, and changing its status through a
confirmation page that states the consequences with the database's numbers.

Every write goes through ``app.cycles.service`` (the same functions as POST/PATCH /api/v1/cycles and
POST /api/v1/cycles/{id}/transition), which checks and audits it. This module only reads the form: the
budgets table (one row per financial year), the scale and its labels, and maps errors to the fields.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select

from app.cycles import service
from app.cycles.schemas import (
    CycleCreate,
    CycleUpdate,
    Transition,
    check_financial_years,
    check_labels,
    check_threshold,
)
from app.deps import SessionDep, SettingsDep
from app.errors import Conflict, Forbidden, ServiceError
from app.models import (
    Cycle,
    CycleStatus,
    ModeratedScore,
    NotApplicablePolicy,
    Panel,
    PanelMember,
    PanelProposal,
    Proposal,
    Role,
    Scorecard,
    Submission,
)
from app.money import Money
from app.scorecards import review
from app.web.forms import Fields, errors_from, form_int, money_text, path_id, text
from app.web.messages import Label, message
from app.web.render import render
from app.web.session import WebUser, checked_form

router = APIRouter(include_in_schema=False)

MAX_YEARS = 10  # CycleCreate.financial_years holds at most ten
MONEY = TypeAdapter(Money)
_LABEL = re.compile(r"label_(-?[0-9]{1,3})")

NA_POLICIES = {
    NotApplicablePolicy.minimum.value: (
        "Count as the lowest point",
        "A “not applicable” answer counts as the lowest point of the scale for that principle. "
        "Proposals that do not touch a principle score less on it. This is the default.",
    ),
    NotApplicablePolicy.redistribute.value: (
        "Leave the principle out",
        "The principle is dropped for that proposal and its weight is shared among the other "
        "principles, rescaled to add up to 100%. Proposals are judged only on what applies to them.",
    ),
}

STATUS_SAYS = {
    "draft": "Being set up: only chairs and admins can add proposals.",
    "open": "Open for proposals: proposers write and submit them.",
    "scoring": "Panels score the proposals; proposers can no longer edit.",
    "moderation": "Scorers can no longer edit; chairs agree moderated scores and submissions are issued.",
    "closed": "Final: nothing in the cycle changes any more.",
}

SAVED = {"created": "Cycle created.", "saved": "Cycle saved."}


def _managers(web) -> bool:
    return web.user.has_role(Role.admin, Role.chair)


def _require_manager(web) -> None:
    if not _managers(web):
        raise Forbidden("Only chairs and admins create and edit cycles.")


def _require_admin(web) -> None:
    if not web.user.has_role(Role.admin):
        raise Forbidden("Only an admin changes a cycle's status on the web.")


def _bounds(model, name: str) -> tuple[int, int]:
    """The lowest and highest value the schema allows for an integer field: one definition."""
    meta = model.model_fields[name].metadata
    lo = next(m.ge for m in meta if isinstance(m, Ge))
    hi = next(m.le for m in meta if isinstance(m, Le))
    return lo, hi


def proposal_counts(session, cycle_ids: list[int]) -> dict[int, dict[str, int]]:
    """``{cycle_id: {status: count}}`` of proposals, in one grouped query."""
    out: dict[int, dict[str, int]] = {c: {} for c in cycle_ids}
    if cycle_ids:
        rows = session.execute(
            select(Proposal.cycle_id, Proposal.status, func.count())
            .where(Proposal.cycle_id.in_(cycle_ids))
            .group_by(Proposal.cycle_id, Proposal.status)
        )
        for cycle_id, status, n in rows:
            out[cycle_id][status] = n
    return out


def budget_total(cycle: Cycle) -> Decimal | None:
    amounts = [b for b in cycle.budgets.values() if b is not None]
    return sum(amounts, Decimal("0.00")) if amounts else None


# ---- the list and one cycle -------------------------------------------------------------------------


@router.get("/cycles", response_class=HTMLResponse)
def list_page(request: Request, web: WebUser, session: SessionDep) -> HTMLResponse:
    cycles = list(session.scalars(select(Cycle).order_by(Cycle.created_at.desc(), Cycle.id.desc())))
    counts = proposal_counts(session, [c.id for c in cycles]) if _managers(web) else {}
    return render(
        request,
        "cycles.html",
        web,
        title="Cycles",
        cycles=cycles,
        counts=counts,
        totals={c.id: budget_total(c) for c in cycles},
        managers=_managers(web),
    )


def _overview(request, web, session, cycle: Cycle, message=None, notice=None, status=200):
    counts = proposal_counts(session, [cycle.id])[cycle.id] if _managers(web) else None
    return render(
        request,
        "cycle.html",
        web,
        status=status,
        title=cycle.name,
        cycle=cycle,
        counts=counts,
        total=budget_total(cycle),
        policies=NA_POLICIES,
        status_says=STATUS_SAYS,
        can_edit=_managers(web) and cycle.status != CycleStatus.closed.value,
        can_move=web.user.has_role(Role.admin) and bool(service.allowed_transitions(cycle)),
        message=message,
        notice=notice,
    )


@router.get("/cycles/new", response_class=HTMLResponse)
def new_page(request: Request, web: WebUser, session: SessionDep) -> HTMLResponse:
    _require_manager(web)
    values = blank_values()
    return _form_page(request, web, None, values, {})


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
def cycle_page(
    request: Request,
    cycle_id: Annotated[int, path_id("cycle_id")],
    web: WebUser,
    session: SessionDep,
    saved: str = "",
    moved: str = "",
) -> HTMLResponse:
    cycle = service.get_cycle(session, cycle_id)
    message = SAVED.get(saved)
    if moved and moved == cycle.status:
        message = f"The cycle is now in {cycle.status}. {STATUS_SAYS[cycle.status]}"
    return _overview(request, web, session, cycle, message=message)


# ---- the create and edit form -----------------------------------------------------------------------


def blank_values() -> dict[str, Any]:
    create = CycleCreate.model_fields
    return {
        "name": "",
        "reference_prefix": "",
        "years": ["", "", ""],
        "budgets": ["", "", ""],
        "scale_min": str(create["scale_min"].default),
        "scale_max": str(create["scale_max"].default),
        "labels": {},
        "not_applicable_policy": create["not_applicable_policy"].default.value,
        "min_scorecards": str(create["min_scorecards"].default),
        "disagreement_threshold": str(create["disagreement_threshold"].default),
        "version": "",
    }


def values_of(cycle: Cycle) -> dict[str, Any]:
    return {
        "name": cycle.name,
        "reference_prefix": cycle.reference_prefix,
        "years": list(cycle.financial_years),
        "budgets": ["" if b is None else f"{b:,.2f}" for b in cycle.budgets.values()],
        "scale_min": str(cycle.scale_min),
        "scale_max": str(cycle.scale_max),
        "labels": {int(k): v for k, v in cycle.scale_labels.items()},
        "not_applicable_policy": cycle.not_applicable_policy,
        "min_scorecards": str(cycle.min_scorecards),
        "disagreement_threshold": str(cycle.disagreement_threshold),
        "version": str(cycle.version),
    }


def _scale_shown(values: dict[str, Any], cycle: Cycle | None) -> list[int]:
    """The scale points the form offers a label for: the scale typed if it can be read, else the saved one."""
    try:
        lo, hi = int(values["scale_min"]), int(values["scale_max"])
    except ValueError:
        lo, hi = (cycle.scale_min, cycle.scale_max) if cycle else (0, 5)
    smin, smax = _bounds(CycleCreate, "scale_min")
    if not (smin <= lo < hi <= smax):
        lo, hi = (cycle.scale_min, cycle.scale_max) if cycle else (0, 5)
    return list(range(lo, hi + 1))


def _form_page(request, web, cycle, values, errors, status=200, current=None):
    admin = web.user.has_role(Role.admin)
    state = CycleStatus(cycle.status) if cycle else CycleStatus.draft
    points = _scale_shown(values, cycle)
    # labels typed for points outside the scale shown stay on the form (with their error), never dropped
    extra = sorted(k for k, v in values["labels"].items() if v and k not in points)
    return render(
        request,
        "cycle_form.html",
        web,
        status=status,
        title=f"Edit {cycle.name}" if cycle else "New cycle",
        cycle=cycle,
        values=values,
        errors=errors,
        points=points,
        extra_labels=extra,
        policies=NA_POLICIES,
        admin_fields=admin or cycle is None,
        years_editable=cycle is None or state == CycleStatus.draft,
        scale_editable=cycle is None or state in (CycleStatus.draft, CycleStatus.open),
        rows=max(len(values["years"]), 1),
        max_years=MAX_YEARS,
        min_bounds=_bounds(CycleCreate, "min_scorecards"),
        threshold_bounds=_bounds(CycleCreate, "disagreement_threshold"),
        current=current,
    )


def read_values(form, cycle: Cycle | None, years_editable: bool) -> dict[str, Any]:
    """What the user typed, kept as typed so a refused post shows it again."""
    values: dict[str, Any] = {
        k: text(form, k)
        for k in (
            "name",
            "reference_prefix",
            "scale_min",
            "scale_max",
            "not_applicable_policy",
            "min_scorecards",
            "disagreement_threshold",
        )
    }
    if years_editable:
        years = [text(form, f"year_{i}") for i in range(MAX_YEARS)]
        budgets = [text(form, f"budget_{i}") for i in range(MAX_YEARS)]
        last = max((i for i in range(MAX_YEARS) if years[i] or budgets[i]), default=-1)
        values["years"], values["budgets"] = years[: last + 1], budgets[: last + 1]
    else:
        values["years"] = list(cycle.financial_years)
        values["budgets"] = [text(form, f"budget_{i}") for i in range(len(values["years"]))]
    labels: dict[int, str] = {}
    for key in form:
        m = _LABEL.fullmatch(key)
        if m:
            labels[int(m.group(1))] = text(form, key)
    values["labels"] = labels
    return values


def check_table(values: dict[str, Any], years_editable: bool) -> tuple[list[str], dict[str, Any], dict]:
    """The budgets table: ``(financial years, {year: amount or None}, errors)``. Each cell that cannot be
    read is an error on that cell; a year given twice is an error on its second row; blank rows are
    skipped (they add nothing); a row with an amount but no year is an error, never dropped."""
    errors: dict[str, str] = {}
    years: list[str] = []
    budgets: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for i, (year, amount) in enumerate(zip(values["years"], values["budgets"], strict=True)):
        if not year and not amount:
            continue
        if years_editable:
            if not year:
                errors[f"year_{i}"] = "Enter the financial year of this budget, like 2026-27."
            elif year in seen:
                errors[f"year_{i}"] = f"{year} is already in row {seen[year] + 1}: give each year once."
            else:
                try:
                    check_financial_years([year])
                except ValueError as exc:
                    errors[f"year_{i}"] = f"{str(exc)[0].upper()}{str(exc)[1:]}."
        if year and year not in seen:
            seen[year] = i
            years.append(year)
        if amount:
            try:
                budgets[year] = MONEY.validate_python(money_text(amount))  # "1 250 000" too
            except ValidationError as exc:
                # the one mapping of the web forms: "Enter a budget for 2027-28 of £0 or more"
                field = f"budget_{year or i}"
                labels = None if year else {field: Label("budget in this row", money=True)}
                errors[f"budget_{i}"] = message(field, exc.errors()[0], labels)
        else:
            budgets[year] = None
    if not years and not errors:
        errors["year_0"] = "Enter at least one financial year, like 2026-27."
    if years_editable and not errors:
        try:
            check_financial_years(years)
        except ValueError as exc:
            errors["financial_years"] = f"{str(exc)[0].upper()}{str(exc)[1:]}."
    return years, budgets, errors


def check_settings(values: dict[str, Any], scale_editable: bool, cycle: Cycle | None):
    """Scale, labels, quorum and threshold: typed numbers read here, the cycle's rules from the schema."""
    fields = Fields(values, status=422)
    smin, smax = _bounds(CycleCreate, "scale_min")
    if scale_editable:
        lo = fields.int("scale_min", label="lowest point", required=True, min=smin, max=smax)
        hi = fields.int("scale_max", label="highest point", required=True, min=smin, max=smax)
    else:
        lo, hi = cycle.scale_min, cycle.scale_max
    qlo, qhi = _bounds(CycleCreate, "min_scorecards")
    tlo, thi = _bounds(CycleCreate, "disagreement_threshold")
    quorum = fields.int("min_scorecards", label="quorum", required=True, min=qlo, max=qhi)
    threshold = fields.int(
        "disagreement_threshold", label="disagreement threshold", required=True, min=tlo, max=thi
    )
    errors = dict(fields.errors)
    labels = {k: v for k, v in values["labels"].items() if v}
    if lo is not None and hi is not None:
        if lo >= hi:
            errors["scale_max"] = f"The highest point ({hi}) must be above the lowest point ({lo})."
        else:
            for k in sorted(labels):
                try:
                    check_labels({str(k): labels[k]}, lo, hi)
                except ValueError:
                    errors[f"label_{k}"] = (
                        f"Point {k} is not on the scale {lo} to {hi}: clear this label or widen the scale."
                    )
            if threshold is not None and "disagreement_threshold" not in errors:
                try:
                    check_threshold(threshold, lo, hi)
                except ValueError:
                    errors["disagreement_threshold"] = (
                        f"The threshold {threshold} is wider than the scale {lo} to {hi}: no two scores can "
                        f"be more than {hi - lo} apart, so nothing would ever be flagged."
                    )
    return lo, hi, {str(k): v for k, v in labels.items()}, quorum, threshold, errors


def renames(values: dict[str, Any]) -> dict[str, str]:
    out = {f"scale_labels.{k}": f"label_{k}" for k in values["labels"]}
    for i, year in enumerate(values["years"]):
        out.setdefault(f"budgets.{year}", f"budget_{i}")
    out.update({f"financial_years.{i}": "financial_years" for i in range(MAX_YEARS)})
    out["budgets"] = "financial_years"
    out["scale_labels"] = "scale_max"
    return out


def validated(model, body: dict[str, Any], values: dict[str, Any], errors: dict[str, str]):
    """The schema's own checks of the whole body, their messages added to the form's (which come first:
    they name the cell); the model when everything is right, else ``None``."""
    try:
        data = model.model_validate(body)
    except ValidationError as exc:
        table_errors = any(k.startswith(("year_", "budget_")) for k in errors)
        for key, message in errors_from(exc, renames(values)).items():
            if (key == "_form" and errors) or (key == "financial_years" and table_errors):
                continue
            if (
                key in ("min_scorecards", "disagreement_threshold", "scale_min", "scale_max")
                and body.get(key) is None
            ):
                continue  # the form has already said why it could not read the number
            errors.setdefault(key, message)
        return None
    return None if errors else data


def _rerender(action: str, values: dict[str, Any]) -> bool:
    """The form's own buttons that only redraw it: another row for a year, the labels of a new scale."""
    if action == "add_year" and len(values["years"]) < MAX_YEARS:
        values["years"].append("")
        values["budgets"].append("")
        return True
    return action == "show_points"


@router.post("/cycles/new", response_class=HTMLResponse)
def create(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    _require_manager(web)
    values = read_values(form, None, True)
    if _rerender(text(form, "action"), values):
        return _form_page(request, web, None, values, {})
    years, budgets, errors = check_table(values, True)
    lo, hi, labels, quorum, threshold, more = check_settings(values, True, None)
    errors |= more
    data = validated(
        CycleCreate,
        {
            "name": values["name"],
            "reference_prefix": values["reference_prefix"] or None,
            "financial_years": years,
            "budgets": {y: b for y, b in budgets.items() if b is not None},
            "scale_min": lo,
            "scale_max": hi,
            "scale_labels": labels or None,
            "not_applicable_policy": values["not_applicable_policy"],
            "min_scorecards": quorum,
            "disagreement_threshold": threshold,
        },
        values,
        errors,
    )
    if data is not None:
        try:
            with session.begin_nested():
                cycle = service.create_cycle(session, web.user, data)
        except ServiceError as exc:
            errors = errors_from(exc, renames(values))
    if errors:
        return _form_page(request, web, None, values, errors, status=422)
    return RedirectResponse(f"/cycles/{cycle.id}?saved=created", status_code=303)


@router.get("/cycles/{cycle_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, cycle_id: Annotated[int, path_id("cycle_id")], web: WebUser, session: SessionDep
) -> HTMLResponse:
    _require_manager(web)
    cycle = service.get_cycle(session, cycle_id)
    if cycle.status == CycleStatus.closed.value:
        return _overview(
            request, web, session, cycle, notice="This cycle is closed: it can no longer change."
        )
    return _form_page(request, web, cycle, values_of(cycle), {})


@router.post("/cycles/{cycle_id}/edit", response_class=HTMLResponse)
def update(
    request: Request,
    cycle_id: Annotated[int, path_id("cycle_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    _require_manager(web)
    cycle = service.get_cycle(session, cycle_id)
    version = form_int(form, "version", min=0)
    state = CycleStatus(cycle.status)
    admin = web.user.has_role(Role.admin)
    years_editable = admin and state == CycleStatus.draft
    scale_editable = state in (CycleStatus.draft, CycleStatus.open)
    values = read_values(form, cycle, years_editable)
    values["version"] = str(version)
    if _rerender(text(form, "action"), values):
        return _form_page(request, web, cycle, values, {})
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "version": version,
        "name": values["name"],
        "reference_prefix": values["reference_prefix"] or None,
    }
    if admin:  # a chair's form has only the name and prefix: the rest is the admin's (as in the API)
        years, budgets, errors = check_table(values, years_editable)
        lo, hi, labels, quorum, threshold, more = check_settings(values, scale_editable, cycle)
        errors |= more
        body |= {
            "budgets": budgets,
            "scale_labels": labels,
            "not_applicable_policy": values["not_applicable_policy"],
            "min_scorecards": quorum,
            "disagreement_threshold": threshold,
        }
        if years_editable:
            body["financial_years"] = years
        if scale_editable:
            body |= {"scale_min": lo, "scale_max": hi}
    current = None
    data = validated(CycleUpdate, body, values, errors)
    if data is not None:
        try:
            with session.begin_nested():
                service.update_cycle(session, web.user, cycle, data)
        except ServiceError as exc:
            if isinstance(exc, Conflict) and "current_version" in exc.extra:
                session.refresh(cycle)
                current = values_of(cycle)
                values["version"] = str(cycle.version)
                errors = {
                    "_form": "Someone else saved this cycle while you were editing it, so your changes "
                    "have not been saved. What you typed is kept below; the values saved now are listed "
                    "under it. Check them, then save again to replace them."
                }
            else:
                errors = errors_from(exc, renames(values))
    if errors:
        return _form_page(
            request, web, cycle, values, errors, status=409 if current else 422, current=current
        )
    return RedirectResponse(f"/cycles/{cycle.id}?saved=saved", status_code=303)


# ---- status changes ---------------------------------------------------------------------------------


def _count(session, stmt) -> int:
    return session.scalar(stmt) or 0


def consequences(session, web, settings, cycle: Cycle, to: CycleStatus) -> list[str]:
    """What moving ``cycle`` to ``to`` does, in sentences with the database's numbers."""
    says: list[str] = []
    by_status = proposal_counts(session, [cycle.id])[cycle.id]
    submitted, drafts = by_status.get("submitted", 0), by_status.get("draft", 0)
    panels = _count(session, select(func.count()).select_from(Panel).where(Panel.cycle_id == cycle.id))

    def n(count: int, one: str, many: str | None = None) -> str:
        return f"{count} {one if count == 1 else (many or one + 's')}"

    if to == CycleStatus.open:
        missing = [y for y, b in cycle.budgets.items() if b is None]
        says.append("Proposers can write and submit proposals for this cycle.")
        says.append(
            f"{n(submitted + drafts, 'proposal')} already entered ({submitted} submitted, {drafts} draft)."
        )
        if missing:
            says.append(
                f"{n(len(missing), 'financial year has', 'financial years have')} no budget envelope yet "
                f"({', '.join(missing)}); selections within budget need one for every year."
            )
        says.append(
            f"The scale ({cycle.scale_min} to {cycle.scale_max}) can still change while the cycle is open; "
            "the financial years can no longer change."
        )
    elif to == CycleStatus.scoring:
        unassigned = _count(
            session,
            select(func.count())
            .select_from(Proposal)
            .where(
                Proposal.cycle_id == cycle.id,
                Proposal.status == "submitted",
                ~Proposal.id.in_(select(PanelProposal.proposal_id)),
            ),
        )
        scorers = _count(
            session,
            select(func.count(func.distinct(PanelMember.user_id)))
            .join(Panel, Panel.id == PanelMember.panel_id)
            .where(Panel.cycle_id == cycle.id),
        )
        says.append(f"{n(submitted, 'proposal is', 'proposals are')} submitted for scoring.")
        if drafts:
            says.append(
                f"{n(drafts, 'draft proposal', 'draft proposals')} will not be scored: "
                "proposers can no longer edit or submit their proposals."
            )
        else:
            says.append("Proposers can no longer edit or submit their proposals.")
        says.append(
            f"{n(unassigned, 'submitted proposal is', 'submitted proposals are')} on no panel: "
            "nobody can score them until a chair assigns them."
            if unassigned
            else "Every submitted proposal is on a panel."
        )
        says.append(f"{n(panels, 'panel')} with {n(scorers, 'scorer')} can start scoring.")
        says.append(f"The scale ({cycle.scale_min} to {cycle.scale_max}) can no longer change.")
    elif to == CycleStatus.moderation:
        progress = review.progress(session, web.user, cycle.id)
        expected = sum(p.expected for p in progress.panels)
        done = sum(p.submitted for p in progress.panels)
        half = sum(p.drafted for p in progress.panels)
        missing = expected - done
        says.append(
            f"{n(missing, 'scorecard is', 'scorecards are')} still missing "
            f"({half} started as drafts, {missing - half} not started); scorers can no longer edit or "
            "submit them, and chairs can no longer reopen scorecards."
            if missing
            else "Every scorecard due has been submitted; scorers can no longer edit them."
        )
        says.append(f"{done} of {n(expected, 'scorecard')} due are submitted, across {n(panels, 'panel')}.")
        if len(progress.panels) > 1:
            says.append(
                "By panel: "
                + "; ".join(f"{p.name}, {p.submitted} of {p.expected} submitted" for p in progress.panels)
                + "."
            )
        says.append("Chairs can still agree moderated scores. Submissions can be issued from now on.")
        if "moderation" in settings.scorers_see_rankings_from:
            says.append("Scorers can now see the ranking.")
    elif to == CycleStatus.closed:
        cards = _count(
            session,
            select(func.count())
            .select_from(Scorecard)
            .join(Proposal, Proposal.id == Scorecard.proposal_id)
            .where(Proposal.cycle_id == cycle.id, Scorecard.status == "submitted"),
        )
        moderated = _count(
            session,
            select(func.count())
            .select_from(ModeratedScore)
            .join(Proposal, Proposal.id == ModeratedScore.proposal_id)
            .where(Proposal.cycle_id == cycle.id),
        )
        issued = _count(
            session, select(func.count()).select_from(Submission).where(Submission.cycle_id == cycle.id)
        )
        says.append(
            f"Everything becomes final: {n(submitted + drafts + by_status.get('withdrawn', 0), 'proposal')}, "
            f"{n(panels, 'panel')}, {n(cards, 'submitted scorecard')} and {n(moderated, 'moderated score')} "
            "can no longer change, and neither can the cycle's settings."
        )
        says.append(
            f"{n(issued, 'submission has', 'submissions have')} been issued; more can still be issued."
        )
        says.append("A closed cycle cannot be opened again.")
    return says


def _status_page(request, web, session, settings, cycle, errors=None, values=None, status=200):
    allowed = service.allowed_transitions(cycle)
    return render(
        request,
        "cycle_status.html",
        web,
        status=status,
        title=f"Change the status of {cycle.name}",
        cycle=cycle,
        moves=[(to, consequences(session, web, settings, cycle, to)) for to in allowed],
        status_says=STATUS_SAYS,
        errors=errors or {},
        values=values or {},
    )


@router.get("/cycles/{cycle_id}/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    cycle_id: Annotated[int, path_id("cycle_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    _require_admin(web)
    return _status_page(request, web, session, settings, service.get_cycle(session, cycle_id))


@router.post("/cycles/{cycle_id}/status", response_class=HTMLResponse)
def change_status(
    request: Request,
    cycle_id: Annotated[int, path_id("cycle_id")],
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    form=Depends(checked_form),
):
    _require_admin(web)
    cycle = service.get_cycle(session, cycle_id)
    values = {"to": text(form, "to"), "reason": text(form, "reason")}
    try:
        data = Transition(to=values["to"], reason=values["reason"] or None)
        with session.begin_nested():
            service.transition(session, web.user, cycle, data)
    except (ValidationError, ServiceError) as exc:
        session.refresh(cycle)
        errors = errors_from(exc)
        if "to" in errors:
            errors = {"_form": "Choose the status to move the cycle to."}
        return _status_page(
            request,
            web,
            session,
            settings,
            cycle,
            errors=errors,
            values=values,
            status=409 if isinstance(exc, Conflict) else 422,
        )
    return RedirectResponse(f"/cycles/{cycle.id}?moved={cycle.status}", status_code=303)
