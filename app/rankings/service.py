"""Who may see rankings, and turning API requests into computations on an inputs document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.cycles.service import get_cycle
from app.errors import Forbidden, ServiceError, ValidationFailed, field_error
from app.models import Cycle, CycleStatus, Role, User, Weighting
from app.rankings import cache, compute
from app.rankings.compute import ranking as compute_ranking
from app.rankings.inputs import RESAMPLES, SEED
from app.rankings.schemas import RankingItem, SelectionRequest, WeightingRef
from app.weightings.service import get_weighting

SCORERS_SEE_FROM = (CycleStatus.moderation.value, CycleStatus.closed.value)


def check_can_read(user: User, cycle: Cycle, scorers_see_from: tuple[str, ...] = SCORERS_SEE_FROM) -> None:
    if user.has_role(Role.admin, Role.chair, Role.finance):
        return
    if user.has_role(Role.scorer):
        if cycle.status in scorers_see_from:
            return
        raise Forbidden(
            f"Scorers see rankings once the cycle is in {' or '.join(scorers_see_from)}; "
            f"cycle {cycle.id} is in '{cycle.status}'."
        )
    raise Forbidden("Rankings are for finance, chairs and admins.")


def weighting_ref(w: Weighting) -> WeightingRef:
    return WeightingRef(id=w.id, name=w.name, method=w.method, weights=w.weights)


def prepare(
    session: Session,
    user: User,
    cycle_id: int,
    weighting_id: int | None,
    aggregation: str,
    scorers_see_from: tuple[str, ...],
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[Cycle, Weighting, cache.Key]:
    """The cycle and weighting asked for, once ``user`` may read them, and the key of their document (the
    cycle's revision read now, before anything is computed)."""
    cycle = get_cycle(session, cycle_id)
    check_can_read(user, cycle, scorers_see_from)
    weighting = get_weighting(session, cycle.id, weighting_id)
    key = cache.key_of(
        session,
        cycle,
        weighting,
        aggregation,
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
    )
    return cycle, weighting, key


def load(
    session: Session,
    user: User,
    cycle_id: int,
    weighting_id: int | None,
    aggregation: str,
    scorers_see_from: tuple[str, ...],
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[Cycle, Weighting, dict[str, Any]]:
    """The cycle, the weighting and the inputs document (shared: never change it)."""
    cycle, weighting, key = prepare(
        session,
        user,
        cycle_id,
        weighting_id,
        aggregation,
        scorers_see_from,
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
    )
    return cycle, weighting, cache.inputs(session, cycle, weighting, key)


@dataclass(frozen=True)
class Ranked:
    """A computed ranking, shared by every page, export and view of it: never change it.

    ``items_json`` holds each item as the API serialises it (a ``RankingItem``), made once, so that a page
    of the ranking is the cached bytes of its items inside a small envelope."""

    key: cache.Key
    doc: dict[str, Any]
    result: dict[str, Any]
    items_json: list[bytes]
    ranked: int
    below_quorum: int

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.result["items"]


def ranked_of(session: Session, cycle: Cycle, weighting: Weighting, key: cache.Key) -> Ranked:
    """The ranking of ``key``'s document, computed at most once per key."""

    def compute() -> Ranked:
        doc = cache.inputs(session, cycle, weighting, key)
        result = compute_ranking(doc)
        items = result["items"]
        dump = RankingItem.__pydantic_serializer__.to_json
        return Ranked(
            key=key,
            doc=doc,
            result=result,
            items_json=[dump(RankingItem.model_validate(it)) for it in items],
            ranked=sum(it["rank"] is not None for it in items),
            below_quorum=sum(it["below_quorum"] for it in items),
        )

    return cache.derived("ranking", key, None, compute)


def load_ranking(
    session: Session,
    user: User,
    cycle_id: int,
    weighting_id: int | None,
    aggregation: str,
    scorers_see_from: tuple[str, ...],
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[Cycle, Weighting, Ranked]:
    """The cycle, the weighting and their ranking, from the cache when nothing it depends on has changed."""
    cycle, weighting, key = prepare(
        session,
        user,
        cycle_id,
        weighting_id,
        aggregation,
        scorers_see_from,
        include_below_quorum=include_below_quorum,
        resamples=resamples,
        seed=seed,
    )
    return cycle, weighting, ranked_of(session, cycle, weighting, key)


def filter_positions(
    items: list[dict],
    *,
    capability: str | None,
    kind: str | None,
    panel_id: int | None,
    complete: bool | None,
) -> list[int]:
    """The positions in ``items`` of the items the filters keep. Filters narrow the list; ranks stay those
    of the whole cycle."""
    if capability is None and kind is None and panel_id is None and complete is None:
        return list(range(len(items)))
    wanted = None if capability is None else capability.lower()
    return [
        i
        for i, it in enumerate(items)
        if (wanted is None or it["capability"].lower() == wanted)
        and (kind is None or it["kind"] == kind)
        and (panel_id is None or it["panel_id"] == panel_id)
        and (complete is None or it["complete"] == complete)
    ]


def selection_request(cycle: Cycle, doc: dict[str, Any], req: SelectionRequest) -> dict[str, Any]:
    """Validate a selection request against the cycle; money to pence, ids checked, field-level errors."""
    errors = []
    budgets: dict[str, int] = {}
    given = req.budgets or {}
    for year in given:
        if year not in cycle.financial_years:
            errors.append(field_error(["body", "budgets", year], "not a financial year of this cycle"))
    for y in cycle.years:
        amount = given.get(y.year, y.budget)
        if amount is None:
            errors.append(
                field_error(["body", "budgets", y.year], "the cycle has no budget for this year; give one")
            )
        else:
            budgets[y.year] = int(amount * 100)
    arrays = compute.Arrays(doc)
    ranked = set(arrays.ranked_ids)
    waiting = {
        arrays.ids[i]: compute.coverage_text(int(arrays.submitted[i]), int(arrays.eligible[i]))
        for i in range(len(arrays.ids))
        if not arrays.ranked[i]
    }

    def check(ids: list[int], loc: list) -> None:
        for i, pid in enumerate(ids):
            if pid in waiting:
                errors.append(
                    field_error(
                        [*loc, i],
                        f"proposal {pid} is below quorum ({waiting[pid]}) and not ranked; "
                        "set include_below_quorum to include it",
                        "below_quorum",
                    )
                )
            elif pid not in ranked:
                errors.append(
                    field_error([*loc, i], f"proposal {pid} is not a submitted proposal of this cycle")
                )

    check(req.must_fund, ["body", "must_fund"])
    check(req.exclude, ["body", "exclude"])
    for i, d in enumerate(req.dependencies):
        check([d.proposal_id, d.requires_id], ["body", "dependencies", i])
    for i, g in enumerate(req.exclusive_groups):
        check(g, ["body", "exclusive_groups", i])
    if errors:
        raise ValidationFailed("The selection request has invalid fields.", errors=errors)
    return {
        "budgets": budgets,
        "must_fund": sorted(set(req.must_fund)),
        "exclude": sorted(set(req.exclude)),
        "dependencies": [d.model_dump() for d in req.dependencies],
        "exclusive_groups": [sorted(set(g)) for g in req.exclusive_groups],
        "time_limit_s": req.time_limit_s,
    }


def _constraint_loc(c: dict[str, Any]) -> list:
    """Where in the request a conflicting constraint came from."""
    if c["kind"] == "budget":
        return ["body", "budgets", c["year"]]
    if c["kind"] in ("dependency", "exclusive") and c.get("index") is not None:
        return ["body", "dependencies" if c["kind"] == "dependency" else "exclusive_groups", c["index"]]
    return ["body", c["kind"]]


def run_selection(
    doc: dict[str, Any], request: dict[str, Any], *, with_frontier: bool = True
) -> dict[str, Any]:
    result = compute.selection(doc, request, with_frontier=with_frontier)
    if result["status"] == "infeasible":
        raise ValidationFailed(
            f"No selection satisfies every constraint: {result['reason']}.",
            errors=[
                field_error(_constraint_loc(c), c["description"], "infeasible")
                for c in result["conflicting_constraints"]
            ],
            conflicting_constraints=result["conflicting_constraints"],
        )
    return result


def budget_line_request(cycle: Cycle, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Sensitivity's budget line: the cycle's envelopes in pence, as the inputs document holds them (no
    constraints to check); None when a year has no budget."""
    if not all(y.budget is not None for y in cycle.years):
        return None
    return {"budgets": dict(doc["cycle"]["budgets"])}


def compare(doc_a: dict[str, Any], doc_b: dict[str, Any], top_k: int) -> dict[str, Any]:
    return compute.compare(doc_a, doc_b, top_k)


def web_selection(
    session: Session, cycle: Cycle, weighting: Weighting, ranked: Ranked
) -> tuple[dict[str, Any] | None, str | None]:
    """The optimal selection the web ranking page shows within the cycle's budgets (or why there is none),
    solved at most once per ranking key (which holds the budgets), never on every view."""

    def solve() -> tuple[dict[str, Any] | None, str | None]:
        try:
            request = selection_request(cycle, ranked.doc, SelectionRequest(time_limit_s=5))
            return run_selection(ranked.doc, request, with_frontier=False), None
        except ServiceError as exc:
            return None, exc.detail

    return cache.derived("web_selection", ranked.key, None, solve)
