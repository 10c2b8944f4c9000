"""Rankings and selections computed from an inputs document (see ``inputs.gather``) by the scoring library.

Everything here is deterministic: the same document gives the same, byte-identical answer.

Quorum (brief Maths 4): a proposal is ranked once it has its quorum of submitted scorecards
(:func:`scoring.quorum.quorum`). Proposals below quorum have no rank and no weighted score; they are
listed after the ranked ones with their coverage ("1 of 5 submitted") and are left out of the budget
walk, selection, sensitivity and comparison -- unless the document asks to include them
(``options.include_below_quorum``), when they are ranked and flagged ``below_quorum``.

Version-1 documents (frozen before quorum existed) are computed by :mod:`app.rankings.legacy`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scoring import SelectionProblem, aggregate, agreement, budget_walk, compare_rankings, rank, select
from scoring import efficient_frontier as frontier_of
from scoring.intervals import rank_intervals
from scoring.quorum import quorum
from scoring.ranking import weighted_scores
from scoring.selection import DEFAULT_PERCENTS
from scoring.sensitivity import sensitivity as sensitivity_of

K = 12
# Seconds shared by all points of the efficient frontier (each solve started from its neighbour's answer).
# Asked for through the API ("auto"): 2.5 times what the optimum took, within these bounds, so the frontier
# costs about what the optimum costs whatever the size of the cycle. A request that does not say (a
# submission's frozen request) keeps 2 s a point, so a frozen frontier reproduces however busy the machine.
FRONTIER_TIME_FACTOR = 2.5
FRONTIER_TIME_BOUNDS_S = (1.0, 10.0)
FRONTIER_FROZEN_S_PER_POINT = 2.0


def pence_str(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}{whole}.{part:02d}"


def number_or_none(x: float | None) -> float | None:
    """JSON has no NaN: an undefined figure is null."""
    return None if x is None or math.isnan(x) else float(x)


def version_of(doc: dict[str, Any]) -> int:
    return int(doc.get("version", 1))


def coverage_text(submitted: int, eligible: int) -> str:
    """How much of the panel has scored a proposal, in words."""
    if submitted == 0:
        return "not yet scored"
    if submitted > eligible:
        return f"{submitted} submitted"
    return f"{submitted} of {eligible} submitted"


class Arrays:
    """The inputs document as arrays: proposals in document order, scorers by id.

    ``ranked`` marks the proposals that take part in the ranking (all of them in a version-1
    document); ``idx`` lists them, and the ranking's positions refer to that list.
    """

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.version = version_of(doc)
        self.proposals = doc["proposals"]
        self.ids = [p["id"] for p in self.proposals]
        n = len(self.ids)
        years = doc["cycle"]["financial_years"]
        index = {pid: i for i, pid in enumerate(self.ids)}
        scorer_ids = sorted({a[1] for a in doc["answers"]})
        j_index = {s: j for j, s in enumerate(scorer_ids)}
        self.scores = np.full((n, len(scorer_ids), K), np.nan)
        self.na = np.zeros(self.scores.shape, dtype=bool)
        scored_by: list[set[int]] = [set() for _ in range(n)]
        for pid, sid, principle, score, na in doc["answers"]:
            scored_by[index[pid]].add(sid)
            if na:
                self.na[index[pid], j_index[sid], principle - 1] = True
            elif score is not None:
                self.scores[index[pid], j_index[sid], principle - 1] = score
        self.moderated = np.full((n, K), np.nan)
        self.moderated_na = np.zeros(self.moderated.shape, dtype=bool)
        for pid, principle, score, na in doc["moderated"]:
            if pid in index:
                if na:
                    self.moderated_na[index[pid], principle - 1] = True
                elif score is not None:
                    self.moderated[index[pid], principle - 1] = score
        self.cost = np.array([p["cost"] for p in self.proposals], dtype=np.int64).reshape(n, len(years))
        self.saving = np.array([p["saving"] for p in self.proposals], dtype=np.int64).reshape(n, len(years))
        self.net_total = (self.cost - self.saving).sum(axis=1)
        self.references = [p["reference"] for p in self.proposals]
        c = doc["cycle"]
        self.scale = (c["scale_min"], c["scale_max"])
        self.weights = np.array([doc["weighting"]["weights"][str(p)] for p in range(1, K + 1)])
        self.submitted = np.array([len(s) for s in scored_by], dtype=np.int64)
        if self.version >= 2:
            eligible = [set(p["eligible"]) for p in self.proposals]
            self.eligible = np.array([len(e) for e in eligible], dtype=np.int64)
            self.quorum = quorum(
                self.eligible,
                self.submitted,
                int(c["min_scorecards"]),
                eligible_submitted=np.array(
                    [len(e & s) for e, s in zip(eligible, scored_by, strict=True)], dtype=np.int64
                ),
            )
            self.below_quorum = ~self.quorum.met
            self.include_below_quorum = bool(doc["options"]["include_below_quorum"])
            self.ranked = self.quorum.met | self.include_below_quorum
        else:
            self.quorum = None
            self.below_quorum = np.zeros(n, dtype=bool)
            self.include_below_quorum = True
            self.ranked = np.ones(n, dtype=bool)
        self.idx = np.flatnonzero(self.ranked)
        self.ranked_ids = [self.ids[i] for i in self.idx.tolist()]
        self.ranked_references = [self.references[i] for i in self.idx.tolist()]

    def aggregate(self, rows: np.ndarray | None = None):
        """Aggregated scores of the ranked proposals (or of ``rows``). Calibrated aggregation measures each
        scorer's leniency on the scorecards of those proposals, as the rank intervals do."""
        rows = self.idx if rows is None else rows
        return aggregate(
            self.scores[rows],
            self.na[rows],
            method=self.doc["aggregation"],
            na_policy=self.doc["cycle"]["not_applicable_policy"],
            scale_min=self.scale[0],
            scale_max=self.scale[1],
            moderated=self.moderated[rows],
            moderated_na=self.moderated_na[rows],
        )

    def rank(self, weights: np.ndarray | None = None):
        """The aggregate and the ranking of the ranked proposals (positions in ``idx``)."""
        agg = self.aggregate()
        return agg, rank(
            agg,
            self.weights if weights is None else weights,
            net_cost=self.net_total[self.idx],
            references=self.ranked_references,
        )

    def intervals(self, problem: SelectionProblem | None):
        """Rank intervals of the ranked proposals (None when the document asks for no resamples)."""
        options = self.doc["options"]
        if not options["resamples"] or not self.idx.size:
            return None
        sub = self.idx
        return rank_intervals(
            self.scores[sub],
            self.na[sub],
            self.weights,
            method=self.doc["aggregation"],
            na_policy=self.doc["cycle"]["not_applicable_policy"],
            scale_min=self.scale[0],
            scale_max=self.scale[1],
            moderated=self.moderated[sub],
            moderated_na=self.moderated_na[sub],
            net_cost=self.net_total[sub],
            references=self.ranked_references,
            problem=problem,
            resamples=int(options["resamples"]),
            seed=int(options["seed"]),
        )

    def cycle_budgets(self) -> list[int] | None:
        """The cycle's envelope per year in pence, or None when any year has none."""
        budgets = self.doc["cycle"]["budgets"]
        years = self.doc["cycle"]["financial_years"]
        if any(budgets.get(y) is None for y in years):
            return None
        return [int(budgets[y]) for y in years]

    def problem(self, weighted: np.ndarray, budgets: list[int], request: dict[str, Any] | None = None):
        """The selection problem over the ranked proposals (positions in ``idx``)."""
        sub = self.idx
        index = {self.ids[i]: pos for pos, i in enumerate(sub.tolist())}
        request = request or {}
        return SelectionProblem.from_costs(
            weighted,
            self.cost[sub],
            budgets,
            saving=self.saving[sub],
            must_fund=[index[i] for i in request.get("must_fund", ())],
            exclude=[index[i] for i in request.get("exclude", ())],
            dependencies=[
                (index[d["proposal_id"]], index[d["requires_id"]]) for d in request.get("dependencies", ())
            ],
            exclusive_groups=[[index[i] for i in g] for g in request.get("exclusive_groups", ())],
        )

    def quorum_note(self, i: int) -> str | None:
        """Why the cycle's quorum does not apply as set to proposal ``i``, or None."""
        if self.quorum is None or not self.quorum.capped[i]:
            return None
        eligible = int(self.eligible[i])
        if eligible == 0:
            if self.proposals[i]["panel_id"] is None:
                return "Not on a panel: nobody can score it, so it cannot be ranked."
            return "Every member of its panel has a conflict of interest: it cannot be ranked."
        members = "member" if eligible == 1 else "members"
        return (
            f"Quorum lowered from {self.quorum.min_scorecards} to {int(self.quorum.required[i])}: "
            f"only {eligible} eligible panel {members}."
        )


def _money_by_year(years: list[str], values) -> dict[str, str]:
    return {y: pence_str(int(v)) for y, v in zip(years, values, strict=True)}


def money_by_year(doc: dict[str, Any], ids: list[int] | set[int]) -> dict[str, dict[str, str]]:
    """Per financial year, the cost, the saving and the net cost (cost - saving) of the proposals ``ids``
    together, summed in pence: ``{year: {"cost", "saving", "net"}}`` as decimal strings."""
    years = doc["cycle"]["financial_years"]
    wanted = set(ids)
    cost, saving = [0] * len(years), [0] * len(years)
    for p in doc["proposals"]:
        if p["id"] in wanted:
            for y in range(len(years)):
                cost[y] += int(p["cost"][y])
                saving[y] += int(p["saving"][y])
    return {
        year: {"cost": pence_str(c), "saving": pence_str(v), "net": pence_str(c - v)}
        for year, c, v in zip(years, cost, saving, strict=True)
    }


def walk_summary(a: Arrays, walk, years: list[str], ranks: np.ndarray) -> dict[str, Any]:
    """The budget walk down the ranked list, as every display of it shows it."""
    funded = [a.ranked_ids[pos] for pos in walk.order if walk.funded[pos]]
    skipped = [a.ranked_ids[pos] for pos in walk.order if walk.skipped[pos]]
    last = walk.last_funded_position
    return {
        "funded": funded,
        "skipped": skipped,
        "last_funded_position": last,
        "last_funded_rank": None if last is None else int(ranks[walk.order[last]]),
        "spend": _money_by_year(years, walk.spend),
        "headroom": _money_by_year(years, walk.headroom),
    }


def ranking(doc: dict[str, Any]) -> dict[str, Any]:
    """The ranking of a document: ``items`` (ranked, then those below quorum), the budget walk down the
    ranked list (None without budgets), counts and a plain note when something is missing."""
    if version_of(doc) < 2:
        from app.rankings import legacy

        return {"items": legacy.ranking_items(doc), "budget_walk": None, "note": None}
    a = Arrays(doc)
    c = doc["cycle"]
    years = c["financial_years"]
    agg, ranked = a.rank()
    agree = agreement(
        a.scores, a.na, na_policy=c["not_applicable_policy"], scale_min=a.scale[0], scale_max=a.scale[1]
    )
    weighted = np.asarray(ranked.weighted_score, dtype=float)
    budgets = a.cycle_budgets()
    problem = a.problem(weighted, budgets) if budgets is not None and a.idx.size else None
    walk = budget_walk(problem, ranked.order) if problem is not None else None
    intervals = a.intervals(problem)
    position = {int(a.idx[pos]): pos for pos in range(a.idx.size)}
    # proposals left out of the ranking are shown with what was submitted, aggregated on their own
    waiting = np.flatnonzero(~a.ranked)
    rest = a.aggregate(waiting)
    _, rest_coverage, _ = weighted_scores(
        rest.scores,
        a.weights,
        scale_min=rest.scale_min,
        scale_max=rest.scale_max,
        not_applicable=rest.not_applicable,
    )
    rest_row = {int(i): r for r, i in enumerate(waiting.tolist())}

    def interval(pos: int) -> dict[str, float] | None:
        if intervals is None or math.isnan(intervals.low[pos]):
            return None
        return {"low": float(intervals.low[pos]), "high": float(intervals.high[pos])}

    def item(i: int) -> dict[str, Any]:
        p = a.proposals[i]
        cost, saving = int(a.cost[i].sum()), int(a.saving[i].sum())
        net = cost - saving
        pos = position.get(i)
        w = None if pos is None else float(ranked.weighted_score[pos])
        scores = agg.scores[pos] if pos is not None else rest.scores[rest_row[i]]
        return {
            "rank": None if pos is None else int(ranked.rank[pos]),
            "proposal_id": p["id"],
            "reference": p["reference"],
            "title": p["title"],
            "capability": p["capability"],
            "kind": p["kind"],
            "panel_id": p["panel_id"],
            "weighted_score": w,
            "rank_interval": None if pos is None else interval(pos),
            "p_funded": None
            if pos is None or intervals is None or intervals.p_funded is None
            else float(intervals.p_funded[pos]),
            "below_quorum": bool(a.below_quorum[i]),
            "scorers": int(a.submitted[i]),
            "eligible": int(a.eligible[i]),
            "quorum": int(a.quorum.required[i]),
            "coverage_text": coverage_text(int(a.submitted[i]), int(a.eligible[i])),
            "quorum_note": a.quorum_note(i),
            "principle_scores": {str(k + 1): number_or_none(scores[k]) for k in range(K)},
            "max_spread": number_or_none(agree.max_spread[i]),
            "coverage": float(ranked.coverage[pos] if pos is not None else rest_coverage[rest_row[i]]),
            "complete": bool(a.quorum.complete[i]),
            "total_cost": pence_str(cost),
            "total_saving": pence_str(saving),
            "net_cost": pence_str(net),
            "score_per_million": w / (net / 100 / 1_000_000) if w is not None and net > 0 else None,
            "funded_by_walk": None if walk is None or pos is None else bool(walk.funded[pos]),
            "skipped_by_walk": None if walk is None or pos is None else bool(walk.skipped[pos]),
        }

    items = [item(int(a.idx[pos])) for pos in ranked.order.tolist()]
    items += [
        item(i)
        for i in sorted(waiting.tolist(), key=lambda i: (-int(a.submitted[i]), a.references[i], a.ids[i]))
    ]
    ranks = np.asarray(ranked.rank)
    return {
        "items": items,
        "budget_walk": None if walk is None else walk_summary(a, walk, years, ranks),
        "note": ranking_note(a),
    }


def ranking_note(a: Arrays) -> str | None:
    """What is missing, in plain words, when not everything is ranked."""
    if not a.ids:
        return "There are no submitted proposals in this cycle yet, so there is nothing to rank."
    waiting = int((~a.ranked).sum())
    if waiting == 0:
        return None
    unscored = int(((~a.ranked) & (a.submitted == 0)).sum())
    need = a.quorum.min_scorecards
    quorum = (
        f"quorum ({need} submitted scorecard{'s' if need != 1 else ''}, fewer where the panel is smaller)"
    )
    if unscored == waiting:
        detail = "none of them is scored yet" if waiting != 1 else "it is not scored yet"
    elif unscored:
        detail = f"{unscored} of them {'are' if unscored != 1 else 'is'} not scored yet"
    else:
        detail = ""
    if a.idx.size == 0:
        return f"Nothing to rank yet: no proposal has reached {quorum}; {waiting} waiting" + (
            f", {detail}." if detail else "."
        )
    return (
        f"{waiting} proposal{'s have' if waiting != 1 else ' has'} not reached {quorum} and "
        f"{'are' if waiting != 1 else 'is'} listed after the ranking, unranked"
        + (f"; {detail}." if detail else ".")
    )


def ranking_items(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The items, in listing order, as the API and exports show them."""
    return ranking(doc)["items"]


def selection(doc: dict[str, Any], request: dict[str, Any], *, with_frontier: bool = True) -> dict[str, Any]:
    """The optimal selection under per-year budgets, the budget walk's answer beside it, and, when
    ``with_frontier``, the efficient frontier (empty otherwise).

    ``request`` holds budgets (pence per year), must_fund, exclude, dependencies, exclusive_groups (proposal
    ids, all ranked ones), time_limit_s (the optimum's) and optionally frontier_time_limit_s (shared by
    every point of the frontier, or ``"auto"``: see :func:`frontier_time_limit`). Proposals below quorum
    take no part unless the document includes them.
    """
    a = Arrays(doc)
    years = doc["cycle"]["financial_years"]
    _, ranked = a.rank()
    weighted = np.asarray(ranked.weighted_score, dtype=float)
    problem = a.problem(weighted, [request["budgets"][y] for y in years], request)
    best = select(problem, time_limit=request["time_limit_s"])
    ids = a.ranked_ids
    references = a.ranked_references
    if best.status == "infeasible":
        d = best.diagnosis
        return {
            "status": "infeasible",
            "reason": d.describe(references, years) if d else "the constraints cannot all hold",
            "conflicting_constraints": [
                {
                    "kind": c.kind,
                    "proposal_ids": [ids[i] for i in c.proposals],
                    "year": years[c.index] if c.kind == "budget" and c.index is not None else None,
                    "index": c.index if c.kind in ("dependency", "exclusive") else None,
                    "description": c.describe(references, years),
                }
                for c in (d.constraints if d else ())
            ],
            "minimal": bool(d.minimal) if d else False,
        }
    walk = budget_walk(problem, ranked.order)
    frontier = (
        frontier_of(problem, time_limit=frontier_time_limit(request, best.seconds), optimum=best)
        if with_frontier
        else ()
    )
    chosen = {ids[i] for i in best.selected}
    greedy_chosen = {ids[i] for i, f in enumerate(walk.funded) if f}
    greedy = {
        "selected": sorted(greedy_chosen),
        "objective": float(walk.objective),
        "spend": _money_by_year(years, walk.spend),
        "headroom": _money_by_year(years, walk.headroom),
        "feasible": bool(walk.feasible),
        "only_in_optimal": sorted(chosen - greedy_chosen),
        "only_in_greedy": sorted(greedy_chosen - chosen),
    }
    out = {
        "status": best.status,
        "selected": sorted(chosen),
        "objective": float(best.objective),
        "gap": number_or_none(best.gap),
        "spend": _money_by_year(years, best.spend),
        "headroom": _money_by_year(years, best.headroom),
        "greedy": greedy,
        "frontier": [
            {
                "budget_factor": float(pt.budget_factor),
                "objective": number_or_none(pt.objective),
                "status": pt.status,
            }
            for pt in frontier
        ],
    }
    if a.version >= 2:
        greedy["skipped"] = [ids[pos] for pos in walk.order if walk.skipped[pos]]
        greedy["last_funded_rank"] = (
            None
            if walk.last_funded_position is None
            else int(ranked.rank[walk.order[walk.last_funded_position]])
        )
        out["below_quorum"] = sorted(a.ids[i] for i in np.flatnonzero(a.below_quorum).tolist())
        out["include_below_quorum"] = a.include_below_quorum
        out["note"] = None if ids else ranking_note(a)
    return out


def frontier_time_limit(request: dict[str, Any], optimum_seconds: float) -> float:
    """The frontier's shared time budget in seconds: the request's ``frontier_time_limit_s``; for
    ``"auto"`` 2.5 times what the optimum took, between 1 and 10 s; when the request does not say (a
    submission's), 2 s a point (at most the request's time_limit_s), as frozen frontiers always had."""
    given = request.get("frontier_time_limit_s")
    if given == "auto":
        low, high = FRONTIER_TIME_BOUNDS_S
        return min(high, max(low, FRONTIER_TIME_FACTOR * optimum_seconds))
    if given is not None:
        return float(given)
    per_point = min(
        FRONTIER_FROZEN_S_PER_POINT, float(request.get("time_limit_s", FRONTIER_FROZEN_S_PER_POINT))
    )
    return per_point * len(DEFAULT_PERCENTS)


def sensitivity(
    doc: dict[str, Any],
    *,
    samples: int,
    seed: int,
    concentration: float,
    top_k: int,
    request: dict[str, Any] | None,
    switching: bool = False,
    rank_counts: bool = False,
) -> dict[str, Any]:
    """Rank percentiles, top-k and selection probabilities under resampled weights, and switching values:
    the top-k ones always, the selection's only when ``switching`` (they sweep through every crossing of
    the proposals' scores, the costly part on a large cycle; otherwise each ``selection`` is null).

    With ``rank_counts`` each proposal also carries ``rank_counts``: ``[[rank, draws], ...]`` for every rank
    it took in at least one draw (the histogram its percentiles are read from)."""
    a = Arrays(doc)
    left_out = sorted(a.ids[i] for i in np.flatnonzero(~a.ranked).tolist())
    if not a.idx.size:
        return {
            "samples": samples,
            "seed": seed,
            "concentration": concentration,
            "top_k": top_k,
            "proposals": [],
            "switching": [],
            "below_quorum": left_out,
            "note": ranking_note(a),
        }
    agg, ranked = a.rank()
    sub = a.idx
    problem = (
        a.problem(
            np.asarray(ranked.weighted_score),
            [request["budgets"][y] for y in doc["cycle"]["financial_years"]],
        )
        if request
        else None
    )
    result = sensitivity_of(
        agg,
        a.weights,
        net_cost=a.net_total[sub],
        references=a.ranked_references,
        samples=samples,
        concentration=concentration,
        seed=seed,
        top_k=top_k,
        problem=problem,
        selection_switching=switching,
        keep_rank_counts=rank_counts,
    )
    proposals = []
    for pos in ranked.order.tolist():
        p5, p50, p95 = (float(x) for x in result.rank_percentiles[pos])
        proposals.append(
            {
                "proposal_id": a.ranked_ids[pos],
                "reference": a.references[int(sub[pos])],
                "rank": int(ranked.rank[pos]),
                "rank_p5": p5,
                "rank_p50": p50,
                "rank_p95": p95,
                "p_top_k": float(result.p_top_k[pos]),
                "p_selected": None if result.p_selected is None else float(result.p_selected[pos]),
            }
        )
        if result.rank_counts is not None:
            row = result.rank_counts[pos]
            proposals[-1]["rank_counts"] = [[int(r) + 1, int(row[r])] for r in np.flatnonzero(row).tolist()]

    def interval(iv):
        return None if iv is None else {"low": float(iv.low), "high": float(iv.high), "exact": bool(iv.exact)}

    def overtaking(o):
        if o is None:
            return None
        enters, leaves = int(sub[o.enters]), int(sub[o.leaves])
        return {
            "weight": float(o.weight),
            "enters": a.ids[enters],
            "enters_reference": a.references[enters],
            "leaves": a.ids[leaves],
            "leaves_reference": a.references[leaves],
        }

    switching = [
        {
            "principle": s.principle,
            "weight": float(s.weight),
            "top_k": interval(s.top_k),
            "selection": interval(s.selection),
            "top_k_rising": overtaking(s.top_k_rising),
            "top_k_falling": overtaking(s.top_k_falling),
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
        "below_quorum": left_out,
        "note": ranking_note(a),
    }


def compare(doc_a: dict[str, Any], doc_b: dict[str, Any], top_k: int) -> dict[str, Any]:
    """Two rankings of the same proposals (same quorum) side by side."""
    a, b = Arrays(doc_a), Arrays(doc_b)
    left_out = sorted(a.ids[i] for i in np.flatnonzero(~a.ranked).tolist())
    if not a.idx.size:
        return {
            "kendall_tau_b": None,
            "entries": [],
            "exits": [],
            "items": [],
            "below_quorum": left_out,
            "note": ranking_note(a),
        }
    _, ra = a.rank()
    _, rb = b.rank()
    result = compare_rankings(ra, rb, top_k=top_k)
    ids = a.ranked_ids
    items = sorted(
        (
            {
                "proposal_id": ids[pos],
                "reference": a.references[int(a.idx[pos])],
                "rank_a": int(ra.rank[pos]),
                "rank_b": int(rb.rank[pos]),
                "shift": int(ra.rank[pos] - rb.rank[pos]),
            }
            for pos in range(len(ids))
        ),
        key=lambda it: (it["rank_b"], it["reference"]),
    )
    tau = float(result.tau_b)
    return {
        "kendall_tau_b": None if tau != tau else tau,
        "entries": [ids[i] for i in result.entries],
        "exits": [ids[i] for i in result.exits],
        "items": items,
        "below_quorum": left_out,
        "note": ranking_note(a),
    }
