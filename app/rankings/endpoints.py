from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.audit.service import record
from app.deps import CurrentUser, SessionDep, SettingsDep, client_address
from app.errors import ValidationFailed, field_error
from app.models import ProposalKind, User
from app.rankings import cache, compute, exports, service
from app.rankings.inputs import MAX_RESAMPLES, RESAMPLES, SEED
from app.rankings.schemas import (
    Aggregation,
    CompareOut,
    RankingOut,
    SelectionOut,
    SelectionRequest,
    SensitivityOut,
)
from app.types import INT32_MAX, Id, Offset, SingleLine
from app.weightings.service import get_weighting

router = APIRouter(tags=["rankings"])

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA = {"csv": CSV, "xlsx": XLSX}


def audit_export(request: Request, user: User, what: str, entity_type: str, entity_id: int, **params) -> None:
    """An export is not a mutation but is recorded: who pulled what, in its own short write.

    Call it once the file is built, so that an export that failed never shows as exported."""
    with request.app.state.db.unit_of_work(
        request_id=request.headers.get("x-request-id"), client_address=client_address(request)
    ) as session:
        record(session, user, f"{what}.exported", entity_type, entity_id, changes=params)


def file_response(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def ranking_download(request: Request, user: User, fmt: str, doc: dict, items: list[dict]) -> Response:
    """A ranking as a CSV or XLSX file; who pulled it is recorded once the file is built."""
    cycle_id, weighting_id, aggregation = doc["cycle"]["id"], doc["weighting"]["id"], doc["aggregation"]
    content = exports.ranking_file(fmt, doc, items, user.email)
    audit_export(
        request,
        user,
        "ranking",
        "cycle",
        cycle_id,
        format=fmt,
        weighting_id=weighting_id,
        aggregation=aggregation,
        rows=len(items),
    )
    name = f"ranking-cycle{cycle_id}-w{weighting_id}-{aggregation}.{fmt}"
    return file_response(content, MEDIA[fmt], name)


def wants(request: Request, fmt: str | None) -> str:
    if fmt:
        return fmt
    return "csv" if "text/csv" in request.headers.get("accept", "") else "json"


@router.get(
    "/cycles/{cycle_id}/ranking",
    response_model=RankingOut,
    summary="Proposals ranked by weighted score: JSON, CSV (Accept: text/csv or format=csv) or XLSX",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def ranking(
    cycle_id: Id,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    weighting_id: Annotated[Id | None, Query(description="Default: the cycle's default weighting.")] = None,
    aggregation: Aggregation = "mean",
    capability: Annotated[SingleLine | None, Query(max_length=120)] = None,
    kind: ProposalKind | None = None,
    panel_id: Id | None = None,
    complete: Annotated[bool | None, Query(description="true: complete proposals only.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
    offset: Annotated[Offset, Query(description="Items to skip.")] = 0,
    format: Annotated[Literal["json", "csv", "xlsx"] | None, Query(description="File format.")] = None,
    include_below_quorum: Annotated[
        bool, Query(description="Also rank proposals below quorum; each such row is flagged below_quorum.")
    ] = False,
    resamples: Annotated[
        int,
        Query(
            ge=0, le=MAX_RESAMPLES, description="Bootstrap resamples for rank_interval and p_funded; 0: none."
        ),
    ] = RESAMPLES,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Seed of the resampling.")] = SEED,
):
    cycle, weighting, ranked = service.load_ranking(
        session,
        user,
        cycle_id,
        weighting_id,
        aggregation,
        tuple(settings.scorers_see_rankings_from),
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
    )
    positions = service.filter_positions(
        ranked.items,
        capability=capability,
        kind=kind.value if kind else None,
        panel_id=panel_id,
        complete=complete,
    )
    fmt = wants(request, format)
    if fmt != "json":
        return ranking_download(request, user, fmt, ranked.doc, [ranked.items[i] for i in positions])
    envelope = RankingOut(
        cycle_id=cycle.id,
        weighting=service.weighting_ref(weighting),
        aggregation=aggregation,
        not_applicable_policy=cycle.not_applicable_policy,
        min_scorecards=cycle.min_scorecards,
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
        ranked=ranked.ranked,
        below_quorum=ranked.below_quorum,
        note=ranked.result["note"],
        budget_walk=ranked.result["budget_walk"],
        items=[],
        total=len(positions),
        limit=limit,
        offset=offset,
    )
    # The page's items are the cached bytes of each item, as the model serialises them, in its envelope.
    body = RankingOut.__pydantic_serializer__.to_json(envelope)
    at = body.rindex(b',"items":[],') + len(b',"items":[')
    items = b",".join(ranked.items_json[i] for i in positions[offset : offset + limit])
    return Response(body[:at] + items + body[at:], media_type="application/json")


@router.get(
    "/cycles/{cycle_id}/ranking/compare",
    response_model=CompareOut,
    summary="Two weightings side by side: rank shifts, Kendall's tau-b, top-k entries and exits",
)
def compare(
    cycle_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    a: Annotated[Id, Query(description="Weighting id A.")],
    b: Annotated[Id, Query(description="Weighting id B.")],
    aggregation: Aggregation = "mean",
    k: Annotated[int, Query(ge=1, le=500, description="Size of the top list.")] = 10,
) -> CompareOut:
    see = tuple(settings.scorers_see_rankings_from)
    cycle, wa, key_a = service.prepare(session, user, cycle_id, a, aggregation, see)
    wb = wa if b == wa.id else get_weighting(session, cycle.id, b)
    key_b = key_a.with_(settings=cache.settings_of(cycle, wb))
    # both documents share the cycle's rows, read once; the comparison itself is kept with them
    result = cache.derived(
        "compare",
        key_a,
        (key_b, k),
        lambda: service.compare(
            cache.inputs(session, cycle, wa, key_a), cache.inputs(session, cycle, wb, key_b), k
        ),
    )
    return CompareOut(
        cycle_id=cycle_id,
        a=service.weighting_ref(wa),
        b=service.weighting_ref(wb),
        aggregation=aggregation,
        top_k=k,
        **result,
    )


@router.get(
    "/cycles/{cycle_id}/ranking/sensitivity",
    response_model=SensitivityOut,
    summary="Rank percentiles, top-k and selection probabilities under resampled weights; switching values",
)
def sensitivity(
    cycle_id: Id,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    weighting_id: Id | None = None,
    aggregation: Aggregation = "mean",
    samples: Annotated[
        int,
        Query(ge=10, le=INT32_MAX, description="Dirichlet draws (at most SERR_SENSITIVITY_MAX_SAMPLES)."),
    ] = 2000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Seed of the draws.")] = 1,
    concentration: Annotated[
        float, Query(gt=0, le=1e6, description="Dirichlet concentration around the weights.")
    ] = 100.0,
    k: Annotated[int, Query(ge=1, le=500)] = 10,
    budgets: Annotated[
        bool, Query(description="Also the probability of being inside the cycle's budget line.")
    ] = True,
    switching: Annotated[
        bool,
        Query(
            description="Also the selection's switching values (how far each weight can move before the "
            "budget line's funded set changes; slow on a large cycle). Without it each switching value's "
            "selection is null; the top-k ones are always given."
        ),
    ] = False,
) -> SensitivityOut:
    if samples > settings.sensitivity_max_samples:
        raise ValidationFailed(
            "Too many samples.",
            errors=[field_error(["query", "samples"], f"at most {settings.sensitivity_max_samples}")],
        )
    cycle, weighting, doc = service.load(
        session, user, cycle_id, weighting_id, aggregation, tuple(settings.scorers_see_rankings_from)
    )
    request = service.budget_line_request(cycle, doc) if budgets else None
    result = compute.sensitivity(
        doc,
        samples=samples,
        seed=seed,
        concentration=concentration,
        top_k=k,
        request=request,
        switching=switching,
    )
    return SensitivityOut(
        cycle_id=cycle.id, weighting=service.weighting_ref(weighting), aggregation=aggregation, **result
    )


@router.post(
    "/cycles/{cycle_id}/selection",
    response_model=SelectionOut,
    summary="The best set of proposals within every year's budget (exact integer programme), with the "
    "greedy answer; the efficient frontier when asked for (frontier: true)",
    responses={
        422: {
            "description": "Invalid request, or no selection satisfies the constraints "
            "(the conflicting ones are named)."
        }
    },
)
def selection(
    cycle_id: Id, data: SelectionRequest, session: SessionDep, settings: SettingsDep, user: CurrentUser
) -> SelectionOut:
    cycle, weighting, doc = service.load(
        session,
        user,
        cycle_id,
        data.weighting_id,
        data.aggregation,
        tuple(settings.scorers_see_rankings_from),
        include_below_quorum=data.include_below_quorum,
        resamples=0,
    )
    request = service.selection_request(cycle, doc, data)
    request["frontier_time_limit_s"] = (
        "auto" if data.frontier_time_limit_s is None else data.frontier_time_limit_s
    )
    result = service.run_selection(doc, request, with_frontier=data.frontier)
    return SelectionOut(
        cycle_id=cycle.id,
        weighting=service.weighting_ref(weighting),
        aggregation=data.aggregation,
        budgets={y: compute.pence_str(v) for y, v in request["budgets"].items()},
        **result,
    )
