from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy import select

from app.cycles.service import current_cycle
from app.deps import SessionDep, SettingsDep
from app.errors import NotFound, ServiceError
from app.models import Cycle, Role, Weighting
from app.rankings import cache as ranking_cache
from app.rankings import service as rankings
from app.rankings.endpoints import ranking_download
from app.submissions import service as submissions
from app.submissions.endpoints import MEDIA, download
from app.submissions.schemas import SelectionSpec, SubmissionCreate
from app.web.charts import profile_bars, ranking_bars
from app.web.forms import Fields, FormError, errors_from, form_int, path_id, query_int, query_page, text
from app.web.proposal_pages import principles
from app.web.render import render, templates
from app.web.session import WebUser, checked_form
from app.weightings import service as weightings
from app.weightings.schemas import WeightingCreate

router = APIRouter(include_in_schema=False)
AGGREGATIONS = [
    ("mean", "Mean"),
    ("median", "Median"),
    ("trimmed_mean", "Trimmed mean"),
    ("moderated", "Moderated"),
    ("calibrated", "Calibrated for scorer leniency"),
]


def _cycle(session, cycle_id: int | None) -> Cycle:
    """The cycle asked for, or by default the one under review (see ``current_cycle``)."""
    cycle = session.get(Cycle, cycle_id) if cycle_id is not None else current_cycle(session)
    if cycle is None:
        raise NotFound(
            "There is no such review cycle yet." if cycle_id is not None else "There is no review cycle yet."
        )
    return cycle


def all_cycles(session) -> list[Cycle]:
    return list(session.scalars(select(Cycle).order_by(Cycle.id.desc())))


@router.get("/ranking", response_class=HTMLResponse)
def ranking_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    weighting_id: Annotated[int | None, query_int("weighting_id")],
    proposal_id: Annotated[int | None, query_int("proposal_id")],
    page: Annotated[int, query_page()],
    aggregation: str = "mean",
):
    cycle = _cycle(session, cycle_id)
    if aggregation not in dict(AGGREGATIONS):
        aggregation = "mean"
    include = request.query_params.get("include_below_quorum") in ("on", "true", "1")
    # The ranking and the optimal selection come from the cache: computed once per distinct input, the
    # selection's integer programme never solved on every view.
    cycle, weighting, computed = rankings.load_ranking(
        session,
        web.user,
        cycle.id,
        weighting_id,
        aggregation,
        tuple(settings.scorers_see_rankings_from),
        include_below_quorum=include,
    )
    result = computed.result
    items = result["items"]
    ranked = [it for it in items if it["rank"] is not None]
    waiting = [it for it in items if it["rank"] is None]
    walk = result["budget_walk"]
    selected, selection, note = set(), None, None
    if ranked and walk is not None:
        selection, note = rankings.web_selection(session, cycle, weighting, computed)
        if selection is not None:
            selected = set(selection["selected"])
    elif ranked:
        note = "The cycle has no budget for every financial year, so there is no funded set or budget line."
    chosen = next((it for it in items if it["proposal_id"] == proposal_id), None)
    titles = {p.number: p.title for p in principles(session)}
    query = f"cycle_id={cycle.id}&weighting_id={weighting.id}&aggregation={aggregation}" + (
        "&include_below_quorum=on" if include else ""
    )
    # The chart and the tables (thousands of rows on a large cycle) depend on the ranking alone: drawn and
    # encoded once per ranking, then put in place of their mark in each view's page.
    # A page of RANKING_PAGE_SIZE ranks at a time (the API's largest page), as the chart and the table; the
    # proposals not ranked yet are listed on the last page.
    pages = max(1, -(-len(ranked) // RANKING_PAGE_SIZE))
    page = min(page, pages)
    start = (page - 1) * RANKING_PAGE_SIZE
    shown = ranked[start : start + RANKING_PAGE_SIZE]
    tables = ranking_cache.derived(
        "web_tables",
        computed.key,
        (query, page),
        lambda: (
            templates.get_template("_ranking_tables.html")
            .render(
                items=shown,
                waiting=waiting if page == pages else [],
                selected=selected,
                chart=ranking_bars(shown, selected, walk, start=start, total=len(ranked)) if shown else "",
                query=query,
                page=page,
                pages=pages,
                start=start,
                ranked_count=len(ranked),
            )
            .encode("utf-8")
        ),
    )
    page = render(
        request,
        "ranking.html",
        web,
        title="Ranking",
        cycle=cycle,
        weighting=weighting,
        aggregation=aggregation,
        aggregations=AGGREGATIONS,
        cycles=all_cycles(session),
        weightings=weightings.list_weightings(session, cycle.id),
        items=ranked,
        waiting=waiting,
        ranking_note=result["note"],
        walk=walk,
        include_below_quorum=include,
        selected=selected,
        selection=selection,
        note=note,
        tables=Markup(TABLES_MARK),
        chosen=chosen,
        profile=profile_bars(chosen["principle_scores"], cycle.scale_min, cycle.scale_max, titles)
        if chosen
        else "",
        query=query,
    )
    # Only the template writes this mark: any text from the data is escaped, so it cannot contain it.
    page.body = page.body.replace(TABLES_MARK.encode(), tables, 1)
    page.headers["content-length"] = str(len(page.body))
    return page


TABLES_MARK = "<!--ranking tables-->"
RANKING_PAGE_SIZE = 500


@router.get("/ranking.{fmt}")
def ranking_file(
    fmt: str,
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    weighting_id: Annotated[int | None, query_int("weighting_id")],
    aggregation: str = "mean",
) -> Response:
    if cycle_id is None:
        raise FormError("cycle_id", "The address names no cycle: add ?cycle_id= with the cycle's number.")
    if fmt not in ("csv", "xlsx") or aggregation not in dict(AGGREGATIONS):
        return render(request, "error.html", web, status=404, title="Not found", detail="No such download.")
    _, _, computed = rankings.load_ranking(
        session,
        web.user,
        cycle_id,
        weighting_id,
        aggregation,
        tuple(settings.scorers_see_rankings_from),
        include_below_quorum=request.query_params.get("include_below_quorum") in ("on", "true", "1"),
    )
    return ranking_download(request, web.user, fmt, computed.doc, computed.items)


def _weightings_page(request, web, session, cycle, errors=None, values=None, status=200, message=None):
    return render(
        request,
        "weightings.html",
        web,
        status=status,
        title="Weightings",
        cycle=cycle,
        cycles=all_cycles(session),
        weightings=weightings.list_weightings(session, cycle.id),
        can_manage=weightings.can_manage(web.user),
        principles=principles(session),
        errors=errors or {},
        values=values or {},
        message=message,
    )


@router.get("/weightings", response_class=HTMLResponse)
def weightings_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    saved: int = 0,
):
    cycle = _cycle(session, cycle_id)
    return _weightings_page(request, web, session, cycle, message="Weighting saved." if saved else None)


@router.post("/weightings", response_class=HTMLResponse)
def create_weighting(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    weightings.require_manager(web.user)  # the error page, before the form is read
    cycle = _cycle(session, form_int(form, "cycle_id", label="cycle id"))
    method = text(form, "method")
    values = {k: text(form, k) for k in form if k != "csrf_token"}
    body = {
        "name": text(form, "name"),
        "description": text(form, "description"),
        "method": method,
        "make_default": form.get("make_default") == "on",
    }
    fields = Fields(form)
    errors = fields.errors
    if method == "points":
        points = {}
        for p in range(1, 13):
            value = fields.decimal(f"points_{p}", label="points", min=Decimal(0))
            points[str(p)] = 0.0 if value is None else float(value)
        body["weights"] = points
    else:
        positions: dict[int, list[int]] = {}
        for p in range(1, 13):
            rank = fields.int(f"rank_{p}", label="rank", min=1, max=12)
            if rank is not None:
                positions.setdefault(rank, []).append(p)
        body["order"] = [positions[k] for k in sorted(positions)]
    try:
        if errors:
            raise ValueError
        data = WeightingCreate.model_validate(body)
        with session.begin_nested():
            weightings.create_weighting(session, web.user, cycle.id, data)
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            errors |= errors_from(exc, {"weights": "points_1", "order": "rank_1"})
        return _weightings_page(request, web, session, cycle, errors=errors, values=values, status=422)
    except ServiceError as exc:
        renames = {f"weights.{p}": f"points_{p}" for p in range(1, 13)} | {
            "weights": "points_1",
            "order": "rank_1",
        }
        return _weightings_page(
            request, web, session, cycle, errors=errors_from(exc, renames), values=values, status=exc.status
        )
    return RedirectResponse(f"/weightings?cycle_id={cycle.id}&saved=1", status_code=303)


@router.post("/weightings/{weighting_id}/default")
def make_default(
    weighting_id: Annotated[int, path_id("weighting_id")],
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    w = session.get(Weighting, weighting_id)
    weightings.make_default(
        session, web.user, weightings.get_weighting(session, w.cycle_id if w else 0, weighting_id)
    )
    return RedirectResponse(f"/weightings?cycle_id={w.cycle_id}&saved=1", status_code=303)


def _submissions_page(
    request, web, session, cycle, *, errors=None, status=200, message=None, verification=None
) -> HTMLResponse:
    listed = submissions.list_submissions(session, web.user, cycle.id)
    return render(
        request,
        "submissions.html",
        web,
        status=status,
        title="Submissions",
        cycle=cycle,
        cycles=all_cycles(session),
        submissions=listed,
        issuers={s.id: submissions.issuer_label(session, s) for s in listed},
        verification=verification,
        weightings=weightings.list_weightings(session, cycle.id),
        aggregations=AGGREGATIONS,
        issuable=cycle.status in submissions.ISSUABLE,
        can_override=web.user.has_role(Role.admin),
        errors=errors or {},
        message=message,
    )


@router.get("/submissions", response_class=HTMLResponse)
def submissions_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
    issued: int = 0,
):
    cycle = _cycle(session, cycle_id)
    return _submissions_page(request, web, session, cycle, message="Submission issued." if issued else None)


@router.post("/submissions", response_class=HTMLResponse)
def issue(request: Request, web: WebUser, session: SessionDep, form=Depends(checked_form)):
    cycle = _cycle(session, form_int(form, "cycle_id", label="cycle id"))
    fields = Fields(form)
    weighting_id = fields.int("weighting_id", label="weighting")
    try:
        fields.check()
        data = SubmissionCreate(
            title=text(form, "title"),
            weighting_id=weighting_id,
            aggregation=text(form, "aggregation") or "mean",
            note=text(form, "note"),
            selection=SelectionSpec() if form.get("with_selection") == "on" else None,
            include_below_quorum=form.get("include_below_quorum") == "on",
            override_reason=text(form, "override_reason") or None,
        )
        with session.begin_nested():
            submissions.issue(session, web.user, cycle.id, data)
    except (FormError, ValidationError, ServiceError) as exc:
        return _submissions_page(request, web, session, cycle, errors=errors_from(exc), status=422)
    return RedirectResponse(f"/submissions?cycle_id={cycle.id}&issued=1", status_code=303)


@router.get("/submissions/{submission_id}/download.{fmt}")
def submission_file(
    submission_id: Annotated[int, path_id("submission_id")],
    fmt: str,
    request: Request,
    web: WebUser,
    session: SessionDep,
) -> Response:
    if fmt not in MEDIA:
        return render(request, "error.html", web, status=404, title="Not found", detail="No such download.")
    return download(request, session, web.user, submission_id, fmt)
