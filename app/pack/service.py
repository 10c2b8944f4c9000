"""The board pack of a submission: a PDF typeset from the submission's frozen record, never live data.

Everything printed comes from the stored document (``Submission.content``: inputs, selection request and
results) and the columns beside it (who issued it and when, superseded or not). The figures the pack's
verification reads back (:mod:`app.pack.verify`) are built here once, by :func:`table_rows`.

The document is Typst (``app/web/templates/pack/board_pack.typ``) compiled by the ``typst`` package in a
child process (``typeset.py``: the compiler's caches never stay in the service) with its own embedded
fonts only (no system fonts, no network). The data goes in as one JSON value (``sys.inputs.pack``) and is
printed as text, never read as markup. The creation date is the submission's issue time, so the same
submission always gives the same bytes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from app.models import Submission
from app.rankings.compute import Arrays, version_of
from app.web import charts
from scoring import N_PRINCIPLES, agreement

TEMPLATE = Path(__file__).resolve().parent.parent / "web" / "templates" / "pack" / "board_pack.typ"
BARS_PER_PAGE = 36
NOT_RECORDED = "not recorded in this submission"
DASH = "—"
METHODS = {
    "points": "points shared out by the chair (normalised to sum to 1)",
    "direct": "weights given directly (normalised to sum to 1)",
    "pairwise": "pairwise comparisons (AHP, principal eigenvector)",
    "equal": "equal weights",
}
AGGREGATION_RULES = {
    "mean": "the mean of the submitted scores on each principle",
    "median": "the median of the submitted scores on each principle",
    "trimmed_mean": "the mean after dropping the highest and lowest score on each principle",
    "moderated": "the chair's moderated score where there is one, else the mean of the submitted scores",
    "calibrated": "the mean of the scores after removing each scorer's measured leniency",
}
NA_POLICIES = {
    "minimum": "a 'not applicable' answer counts as the bottom of the scale",
    "redistribute": "'not applicable' answers are left out and that principle's weight is shared out "
    "among the others for the proposal",
}


def pounds(value: int | str | None) -> str:
    """Money as printed in the pack: exact pounds and pence with thousands separators.

    ``value`` is pence (an int, as the frozen inputs hold it) or a decimal string of pounds (as the
    frozen results hold it)."""
    if value is None:
        return DASH
    amount = Decimal(value) / 100 if isinstance(value, int) else Decimal(value)
    return f"{amount:,.2f}"


def score_text(score: float | None) -> str:
    return DASH if score is None else f"{score:.2f}"


def interval_text(interval: dict[str, float] | None) -> str:
    return DASH if not interval else f"{interval['low']:g}–{interval['high']:g}"


def one_decimal(value: float | None) -> str:
    return DASH if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def funded_ids(content: dict[str, Any]) -> tuple[set[int] | None, str]:
    """The funded set the submission records, and where it comes from.

    The optimal selection when the submission includes one; else the walk down the ranked list within
    the cycle's budgets; else None (nothing funded is recorded)."""
    results = content["results"]
    if results.get("selection"):
        return set(results["selection"]["selected"]), "the optimal selection within the budgets"
    if results.get("budget_walk"):
        return set(results["budget_walk"]["funded"]), "the walk down the ranked list within the budgets"
    return None, NOT_RECORDED


def per_year_net(content: dict[str, Any]) -> dict[int, list[int]]:
    """Each proposal's net cost (cost less saving) by financial year, in pence, from the frozen inputs."""
    return {
        p["id"]: [c - s for c, s in zip(p["cost"], p["saving"], strict=True)]
        for p in content["inputs"]["proposals"]
    }


def table_rows(content: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranked table exactly as printed: every ranked proposal in rank order, as text.

    ``figures`` are the cells that follow the title and capability (score, interval, per-year net,
    funded): verification checks them, in this order, against the PDF's text."""
    funded, _ = funded_ids(content)
    nets = per_year_net(content)
    rows = []
    for it in content["results"]["ranking"]:
        figures = [
            score_text(it["weighted_score"]),
            interval_text(it.get("rank_interval")),
            *[pounds(v) for v in nets[it["proposal_id"]]],
            DASH if funded is None else ("yes" if it["proposal_id"] in funded else "no"),
        ]
        rows.append(
            {
                "rank": str(it["rank"]),
                "reference": it["reference"],
                "title": it["title"]
                + (f" (below quorum: {it['coverage_text']})" if it.get("below_quorum") else ""),
                "capability": it["capability"],
                "figures": figures,
            }
        )
    return rows


def _status(sub: Submission) -> str:
    if sub.superseded_by_id is not None:
        return f"superseded by submission {sub.superseded_by_id}"
    return "current"


def _budgets(content: dict[str, Any]) -> dict[str, int] | None:
    request = content.get("selection_request")
    if request and request.get("budgets"):
        return request["budgets"]
    return content["inputs"]["cycle"].get("budgets") or None


def _summary(content: dict[str, Any]) -> dict[str, Any]:
    inputs, results = content["inputs"], content["results"]
    years = inputs["cycle"]["financial_years"]
    by_id = {it["proposal_id"]: it for it in results["ranking"]}
    funded, source = funded_ids(content)
    selection, walk = results.get("selection"), results.get("budget_walk")
    chosen = selection or walk
    budgets = _budgets(content)
    nets = per_year_net(content)
    funded_rows = [
        {
            "reference": it["reference"],
            "title": it["title"],
            "score": score_text(it["weighted_score"]),
            "net": pounds(it["net_cost"]),
        }
        for it in results["ranking"]
        if funded is not None and it["proposal_id"] in funded
    ]
    year_rows = []
    if chosen is not None and budgets:
        for y in years:
            year_rows.append(
                {
                    "year": y,
                    "budget": pounds(budgets.get(y)),
                    "spend": pounds(chosen["spend"].get(y)),
                    "headroom": pounds(chosen["headroom"].get(y)),
                }
            )
    elif funded is not None:
        for k, y in enumerate(years):
            year_rows.append(
                {
                    "year": y,
                    "budget": DASH,
                    "spend": pounds(sum(nets[i][k] for i in funded)),
                    "headroom": DASH,
                }
            )

    def refs(ids: list[int]) -> str:
        return ", ".join(by_id[i]["reference"] if i in by_id else f"#{i}" for i in ids) or "none"

    greedy = None
    if selection and selection.get("greedy"):
        g = selection["greedy"]
        greedy = {
            "status": selection["status"],
            "optimal_objective": f"{selection['objective']:.2f}",
            "greedy_objective": f"{g['objective']:.2f}",
            "optimal_count": str(len(selection["selected"])),
            "greedy_count": str(len(g["selected"])),
            "only_in_optimal": refs(g["only_in_optimal"]),
            "only_in_greedy": refs(g["only_in_greedy"]),
            "gap": "" if selection.get("gap") is None else f"{selection['gap']:.4f}",
            "note": selection.get("note") or "",
        }
    not_ranked = [
        {
            "reference": it["reference"],
            "title": it["title"],
            "coverage": it["coverage_text"],
            "note": it.get("quorum_note") or "",
        }
        for it in results.get("not_ranked", [])
    ]
    include = bool(inputs.get("options", {}).get("include_below_quorum", version_of(inputs) < 2))
    flagged = [it["reference"] for it in results["ranking"] if it.get("below_quorum")]
    if version_of(inputs) < 2:
        quorum_text = (
            "This submission was issued before quorum rules: every proposal was ranked, whatever its "
            "number of scorecards."
        )
    elif include:
        quorum_text = (
            "Proposals below quorum were included in the ranking and the selection, each flagged"
            + (f" ({', '.join(flagged)})." if flagged else "; none was below quorum.")
        )
    else:
        quorum_text = (
            f"{len(not_ranked)} proposals below quorum were left out of the ranking and the selection and "
            "are listed here unranked."
            if not_ranked
            else "Every proposal reached quorum."
        )
    return {
        "funded_source": source,
        "funded": funded_rows,
        "funded_recorded": funded is not None,
        "years": year_rows,
        "greedy": greedy,
        "not_ranked": not_ranked,
        "quorum_text": quorum_text,
        "note": results.get("note") or "",
    }


def _profile_means(items: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for k in range(1, N_PRINCIPLES + 1):
        values = [it["principle_scores"].get(str(k)) for it in items]
        values = [v for v in values if v is not None]
        out[str(k)] = sum(values) / len(values) if values else None
    return out


def _charts(content: dict[str, Any]) -> dict[str, Any]:
    """The web client's charts (app.web.charts) as standalone vector SVGs."""
    inputs, results = content["inputs"], content["results"]
    ranked = results["ranking"]
    funded, _ = funded_ids(content)
    chosen = funded or set()
    walk = results.get("budget_walk")
    bars = [
        charts.standalone(
            charts.ranking_bars(
                ranked[start : start + BARS_PER_PAGE], chosen, walk, start=start, total=len(ranked)
            )
        )
        for start in range(0, len(ranked), BARS_PER_PAGE)
    ]
    cycle = inputs["cycle"]
    profile = None
    if funded:
        inside = [it for it in ranked if it["proposal_id"] in funded]
        outside = [it for it in ranked if it["proposal_id"] not in funded]
        profile = charts.standalone(
            charts.profile_compare(
                _profile_means(inside), _profile_means(outside), cycle["scale_min"], cycle["scale_max"]
            )
        )
    return {
        "bars": bars,
        "sensitivity": any(it.get("rank_interval") for it in ranked),
        "profile": profile,
    }


def _panel_figures(content: dict[str, Any]) -> tuple[Arrays | None, Any]:
    """The frozen answers as arrays and their agreement figures (None when no answers are recorded)."""
    inputs = content["inputs"]
    if not inputs.get("answers"):
        return None, None
    a = Arrays(inputs)
    c = inputs["cycle"]
    moderated = ~np.isnan(a.moderated) | a.moderated_na
    agree = agreement(
        a.scores,
        a.na,
        na_policy=c["not_applicable_policy"],
        scale_min=c["scale_min"],
        scale_max=c["scale_max"],
        threshold=c.get("disagreement_threshold", 2),
        moderated=moderated,
    )
    return a, agree


def _funded_pages(content: dict[str, Any], a: Arrays | None, agree: Any) -> list[dict[str, Any]]:
    inputs, results = content["inputs"], content["results"]
    funded, _ = funded_ids(content)
    if not funded:
        return []
    years = inputs["cycle"]["financial_years"]
    proposals = {p["id"]: p for p in inputs["proposals"]}
    index = {pid: i for i, pid in enumerate(a.ids)} if a is not None else {}
    pages = []
    for it in results["ranking"]:
        pid = it["proposal_id"]
        if pid not in funded:
            continue
        p = proposals[pid]
        money = [
            {
                "year": y,
                "cost": pounds(p["cost"][k]),
                "saving": pounds(p["saving"][k]),
                "net": pounds(p["cost"][k] - p["saving"][k]),
            }
            for k, y in enumerate(years)
        ]
        principles = []
        i = index.get(pid)
        for k in range(1, N_PRINCIPLES + 1):
            moderated = DASH
            spread = DASH
            n_values = DASH
            if i is not None:
                if a.moderated_na[i, k - 1]:
                    moderated = "n/a"
                elif not math.isnan(a.moderated[i, k - 1]):
                    moderated = f"{a.moderated[i, k - 1]:g}"
                spread = one_decimal(float(agree.spread[i, k - 1]))
                n_values = str(int(agree.n_values[i, k - 1]))
            principles.append(
                {
                    "principle": f"P{k}",
                    "weight": f"{inputs['weighting']['weights'][str(k)]:.3f}",
                    "aggregated": one_decimal(it["principle_scores"].get(str(k))),
                    "moderated": moderated,
                    "spread": spread,
                    "values": n_values,
                }
            )
        pages.append(
            {
                "reference": it["reference"],
                "title": it["title"],
                "capability": it["capability"],
                "kind": it["kind"],
                "rank": str(it["rank"]),
                "score": score_text(it["weighted_score"]),
                "interval": interval_text(it.get("rank_interval")),
                "coverage": (it.get("coverage_text") or DASH)
                + (", below quorum (included by this submission)" if it.get("below_quorum") else ""),
                "max_spread": one_decimal(it.get("max_spread")),
                "totals": {
                    "cost": pounds(it["total_cost"]),
                    "saving": pounds(it["total_saving"]),
                    "net": pounds(it["net_cost"]),
                },
                "money": money,
                "principles": principles,
                "moderated_any": any(pr["moderated"] != DASH for pr in principles),
            }
        )
    return pages


def _method(content: dict[str, Any], a: Arrays | None, agree: Any) -> dict[str, Any]:
    inputs = content["inputs"]
    weighting, cycle = inputs["weighting"], inputs["cycle"]
    method = weighting.get("method") or ""
    request = content.get("selection_request")
    constraints = []
    if request:
        refs = {p["id"]: p["reference"] for p in inputs["proposals"]}

        def names(ids: list[int]) -> str:
            return ", ".join(refs.get(i, f"#{i}") for i in ids) or "none"

        constraints = [
            ["Budgets", "; ".join(f"{y}: £{pounds(v)}" for y, v in (request.get("budgets") or {}).items())],
            ["Must fund", names(request.get("must_fund", []))],
            ["Excluded", names(request.get("exclude", []))],
            [
                "Dependencies",
                "; ".join(
                    f"{refs.get(d['proposal_id'], d['proposal_id'])} needs "
                    f"{refs.get(d['requires_id'], d['requires_id'])}"
                    if isinstance(d, dict) and "proposal_id" in d
                    else json.dumps(d, sort_keys=True)
                    for d in request.get("dependencies", [])
                )
                or "none",
            ],
            [
                "Exclusive groups",
                "; ".join("one of " + names(g) for g in request.get("exclusive_groups", [])) or "none",
            ],
            ["Solver time limit", f"{request.get('time_limit_s', '')} s"],
        ]
    agreement_rows = []
    if agree is not None:
        alpha = agree.alpha
        agreement_rows = [
            ["Krippendorff's alpha (ordinal), all answers", DASH if math.isnan(alpha) else f"{alpha:.3f}"],
            [
                f"Cells with a spread of {cycle.get('disagreement_threshold', 2)} or more, not moderated",
                str(int(np.asarray(agree.flagged).sum())),
            ],
            ["Moderated cells", str(len(inputs.get("moderated", [])))],
            ["Scorers with answers", str(a.scores.shape[1]) if a is not None else DASH],
        ]
    options = inputs.get("options", {})
    return {
        "weighting_name": weighting.get("name", ""),
        "method": METHODS.get(method, method or NOT_RECORDED),
        "pairwise": method == "pairwise",
        "weights": [[f"P{k}", f"{weighting['weights'][str(k)]:.4f}"] for k in range(1, N_PRINCIPLES + 1)],
        "aggregation": AGGREGATION_RULES.get(inputs["aggregation"], inputs["aggregation"]),
        "na_policy": NA_POLICIES.get(cycle.get("not_applicable_policy", ""), NOT_RECORDED),
        "scale": f"{cycle['scale_min']} to {cycle['scale_max']}",
        "quorum": f"{cycle['min_scorecards']} submitted scorecards (fewer where the panel is smaller)"
        if "min_scorecards" in cycle
        else NOT_RECORDED,
        "resamples": str(options.get("resamples", "")) if options else "",
        "agreement": agreement_rows,
        "constraints": constraints,
    }


def pack_data(sub: Submission, issued_by: str) -> dict[str, Any]:
    """Everything the pack prints, as text, from the submission's row and frozen document."""
    content = sub.content
    inputs = content["inputs"]
    a, agree = _panel_figures(content)
    created = sub.created_at
    return {
        "id": str(sub.id),
        "title": content["title"],
        "note": content.get("note") or "",
        "cycle": inputs["cycle"]["name"],
        "hash": sub.content_sha256,
        "issued_by": issued_by or NOT_RECORDED,
        "issued_at": created.strftime("%Y-%m-%d %H:%M UTC"),
        "date": [created.year, created.month, created.day, created.hour, created.minute, created.second],
        "status": _status(sub),
        "supersedes": "" if sub.supersedes_id is None else str(sub.supersedes_id),
        "weighting": f"{inputs['weighting'].get('name', '')} ({inputs['weighting'].get('method', '')})",
        "aggregation": inputs["aggregation"],
        "quorum_choice": (
            "proposals below quorum included in the ranking, each flagged"
            if inputs.get("options", {}).get("include_below_quorum")
            else "proposals below quorum left out of the ranking and listed apart"
        )
        if version_of(inputs) >= 2
        else "issued before quorum rules: every proposal ranked",
        "override": content.get("override"),
        "years": inputs["cycle"]["financial_years"],
        "summary": _summary(content),
        "rows": table_rows(content),
        "charts": _charts(content),
        "funded_pages": _funded_pages(content, a, agree),
        "method": _method(content, a, agree),
        "not_recorded": NOT_RECORDED,
    }


TYPESET = Path(__file__).resolve().parent / "typeset.py"
TYPESET_TIMEOUT_S = 120


class TypesetError(RuntimeError):
    """The typesetter failed: a fault in the template or the data given to it, never the user's input."""


def compile_pack(data: dict[str, Any]) -> bytes:
    """Typeset the pack in a child process (see ``typeset.py``), dated by the submission's issue time."""
    stamp = int(datetime(*data["date"], tzinfo=UTC).timestamp())
    done = subprocess.run(
        [sys.executable, str(TYPESET), str(TEMPLATE), str(stamp)],
        input=json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8"),
        capture_output=True,
        timeout=TYPESET_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF-"):
        raise TypesetError(done.stderr.decode("utf-8", "replace").strip() or "the typesetter gave no PDF")
    return done.stdout


def build(sub: Submission, issued_by: str) -> bytes:
    """The submission's board pack as PDF bytes."""
    return compile_pack(pack_data(sub, issued_by))
