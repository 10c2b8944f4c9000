"""Rankings and selections computed from an inputs document (see ``inputs.gather``) by the scoring library.

Everything here is deterministic: the same document gives the same, byte-identical answer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scoring import SelectionProblem, aggregate, agreement, greedy_select, rank, select
from scoring import efficient_frontier as frontier_of
from scoring.sensitivity import sensitivity as sensitivity_of

K = 12


def pence_str(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{part:02d}"


def number_or_none(x: float | None) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return None if x is None or math.isnan(x) else float(x)


class Arrays:
    """The inputs document as arrays: proposals in document order, scorers by id."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.proposals = doc["proposals"]
        self.ids = [p["id"] for p in self.proposals]
        index = {pid: i for i, pid in enumerate(self.ids)}
        scorer_ids = sorted({a[1] for a in doc["answers"]})
        j_index = {s: j for j, s in enumerate(scorer_ids)}
        self.scores = np.full((len(self.ids), len(scorer_ids), K), np.nan)
        self.na = np.zeros(self.scores.shape, dtype=bool)
        for pid, sid, principle, score, na in doc["answers"]:
            if na:
                self.na[index[pid], j_index[sid], principle - 1] = True
            elif score is not None:
                self.scores[index[pid], j_index[sid], principle - 1] = score
        self.moderated = np.full((len(self.ids), K), np.nan)
        self.moderated_na = np.zeros(self.moderated.shape, dtype=bool)
        for pid, principle, score, na in doc["moderated"]:
            if pid in index:
                if na:
                    self.moderated_na[index[pid], principle - 1] = True
                elif score is not None:
                    self.moderated[index[pid], principle - 1] = score
        self.cost = np.array([p["cost"] for p in self.proposals], dtype=np.int64).reshape(len(self.ids), -1)
        self.saving = np.array([p["saving"] for p in self.proposals], dtype=np.int64).reshape(
            len(self.ids), -1
        )
        self.net_total = (self.cost - self.saving).sum(axis=1)
        self.references = [p["reference"] for p in self.proposals]
        c = doc["cycle"]
        self.scale = (c["scale_min"], c["scale_max"])
        self.weights = np.array([doc["weighting"]["weights"][str(p)] for p in range(1, K + 1)])

    def aggregate(self):
        return aggregate(
            self.scores,
            self.na,
            method=self.doc["aggregation"],
            na_policy=self.doc["cycle"]["not_applicable_policy"],
            scale_min=self.scale[0],
            scale_max=self.scale[1],
            moderated=self.moderated,
            moderated_na=self.moderated_na,
        )

    def rank(self, weights: np.ndarray | None = None):
        agg = self.aggregate()
        return agg, rank(
            agg,
            self.weights if weights is None else weights,
            net_cost=self.net_total,
            references=self.references,
        )


def ranking_items(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranked items, in listing order, as the API and exports show them."""
    a = Arrays(doc)
    if not a.ids:
        return []
    agg, ranking = a.rank()
    agree = agreement(
        a.scores,
        a.na,
        na_policy=doc["cycle"]["not_applicable_policy"],
        scale_min=a.scale[0],
        scale_max=a.scale[1],
    )
    scorers = (~np.isnan(a.scores) | a.na).any(axis=2).sum(axis=1)
    items = []
    for i in ranking.order.tolist():
        p = a.proposals[i]
        cost, saving = int(a.cost[i].sum()), int(a.saving[i].sum())
        net = cost - saving
        w = float(ranking.weighted_score[i])
        items.append(
            {
                "rank": int(ranking.rank[i]),
                "proposal_id": p["id"],
                "reference": p["reference"],
                "title": p["title"],
                "capability": p["capability"],
                "kind": p["kind"],
                "panel_id": p["panel_id"],
                "weighted_score": w,
                "principle_scores": {str(k + 1): number_or_none(agg.scores[i, k]) for k in range(K)},
                "scorers": int(scorers[i]),
                "max_spread": number_or_none(agree.max_spread[i]),
                "coverage": float(ranking.coverage[i]),
                "complete": bool(ranking.complete[i]),
                "total_cost": pence_str(cost),
                "total_saving": pence_str(saving),
                "net_cost": pence_str(net),
                "score_per_million": w / (net / 100 / 1_000_000) if net > 0 else None,
            }
        )
    return items


def selection_problem(a: Arrays, weighted: np.ndarray, request: dict[str, Any]) -> SelectionProblem:
    index = {pid: i for i, pid in enumerate(a.ids)}
    years = a.doc["cycle"]["financial_years"]
    return SelectionProblem.from_costs(
        weighted,
        a.cost,
        [request["budgets"][y] for y in years],
        saving=a.saving,
        must_fund=[index[i] for i in request["must_fund"]],
        exclude=[index[i] for i in request["exclude"]],
        dependencies=[(index[d["proposal_id"]], index[d["requires_id"]]) for d in request["dependencies"]],
        exclusive_groups=[[index[i] for i in g] for g in request["exclusive_groups"]],
    )


def _money_by_year(years: list[str], values) -> dict[str, str]:
    return {y: pence_str(int(v)) for y, v in zip(years, values, strict=True)}


def selection(doc: dict[str, Any], request: dict[str, Any], *, with_frontier: bool = True) -> dict[str, Any]:
    """The optimal selection under per-year budgets, the greedy answer beside it, and the frontier.

    ``request`` holds budgets (pence per year), must_fund, exclude, dependencies, exclusive_groups (proposal
    ids) and time_limit_s.
    """
    a = Arrays(doc)
    years = doc["cycle"]["financial_years"]
    _, ranking = a.rank()
    weighted = np.asarray(ranking.weighted_score, dtype=float)
    problem = selection_problem(a, weighted, request)
    best = select(problem, time_limit=request["time_limit_s"])
    ids = a.ids
    if best.status == "infeasible":
        d = best.diagnosis
        return {
            "status": "infeasible",
            "reason": d.describe(a.references, years) if d else "the constraints cannot all hold",
            "conflicting_constraints": [
                {
                    "kind": c.kind,
                    "proposal_ids": [ids[i] for i in c.proposals],
                    "year": years[c.index] if c.kind == "budget" and c.index is not None else None,
                    "index": c.index if c.kind in ("dependency", "exclusive") else None,
                    "description": c.describe(a.references, years),
                }
                for c in (d.constraints if d else ())
            ],
            "minimal": bool(d.minimal) if d else False,
        }
    greedy = greedy_select(problem, ranking.order)
    frontier = frontier_of(problem, time_limit=min(2.0, request["time_limit_s"])) if with_frontier else ()
    chosen = {ids[i] for i in best.selected}
    greedy_chosen = {ids[i] for i in greedy.selected}
    return {
        "status": best.status,
        "selected": sorted(chosen),
        "objective": float(best.objective),
        "gap": number_or_none(best.gap),
        "spend": _money_by_year(years, best.spend),
        "headroom": _money_by_year(years, best.headroom),
        "greedy": {
            "selected": sorted(greedy_chosen),
            "objective": float(greedy.objective),
            "spend": _money_by_year(years, greedy.spend),
            "headroom": _money_by_year(years, greedy.headroom),
            "feasible": bool(greedy.feasible),
            "only_in_optimal": sorted(chosen - greedy_chosen),
            "only_in_greedy": sorted(greedy_chosen - chosen),
        },
        "frontier": [
            {
                "budget_factor": float(pt.budget_factor),
                "objective": number_or_none(pt.objective),
                "status": pt.status,
            }
            for pt in frontier
        ],
    }


def sensitivity(
    doc: dict[str, Any],
    *,
    samples: int,
    seed: int,
    concentration: float,
    top_k: int,
    request: dict[str, Any] | None,
) -> dict[str, Any]:
    a = Arrays(doc)
    if not a.ids:
        return {
            "samples": samples,
            "seed": seed,
            "concentration": concentration,
            "top_k": top_k,
            "proposals": [],
            "switching": [],
        }
    agg, ranking = a.rank()
    problem = selection_problem(a, np.asarray(ranking.weighted_score), request) if request else None
    result = sensitivity_of(
        agg,
        a.weights,
        net_cost=a.net_total,
        references=a.references,
        samples=samples,
        concentration=concentration,
        seed=seed,
        top_k=top_k,
        problem=problem,
    )
    proposals = []
    for i in ranking.order.tolist():
        p5, p50, p95 = (float(x) for x in result.rank_percentiles[i])
        proposals.append(
            {
                "proposal_id": a.ids[i],
                "reference": a.references[i],
                "rank": int(ranking.rank[i]),
                "rank_p5": p5,
                "rank_p50": p50,
                "rank_p95": p95,
                "p_top_k": float(result.p_top_k[i]),
                "p_selected": None if result.p_selected is None else float(result.p_selected[i]),
            }
        )

    def interval(iv):
        return None if iv is None else {"low": float(iv.low), "high": float(iv.high), "exact": bool(iv.exact)}

    switching = [
        {
            "principle": s.principle,
            "weight": float(s.weight),
            "top_k": interval(s.top_k),
            "selection": interval(s.selection),
        }
        for s in result.switching
    ]
    return {
        "samples": result.samples,
        "seed": result.seed,
        "concentration": float(result.concentration),
        "top_k": result.top_k,
        "proposals": proposals,
        "switching": switching,
    }
