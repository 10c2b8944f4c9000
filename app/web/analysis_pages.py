"""Finance's analysis pages: two rankings compared, sensitivity to the weights, and the selection within
per-year budgets with its constraints; and a submission's verification.

Each page runs the API's own service functions on the cached computations (``load_ranking``,
``ranking_cache.derived``, ``web_selection``), so a page and the API answer the same question with the same
figures, and who may see what is the API's rule (``check_can_read``, the submissions' readers). The GET
forms are reproducible from their address; a bad value comes back as a field error, never a server error.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import SessionDep, SettingsDep
from app.errors import ServiceError
from app.rankings import cache as ranking_cache
from app.rankings import compute
from app.rankings import service as rankings
from app.rankings.schemas import SelectionRequest
from app.submissions import service as submissions
from app.web import finance_pages
from app.web.finance_charts import rank_range_chart, slope_chart
from app.web.finance_pages import AGGREGATIONS, _cycle, all_cycles
from app.web.forms import Fields, errors_from, path_id, query_int
from app.web.proposal_pages import principles
from app.web.render import render
from app.web.session import WebUser, checked_form
from app.weightings import service as weightings

router = APIRouter(include_in_schema=False)

SENSITIVITY_SAMPLES = 500  # the page's default: a second or less on a large cycle
SENSITIVITY_SEED = 1
TOP_K = 10
CONCENTRATION = 100.0  # the API's default Dirichlet concentration
SELECTION_TIME_LIMIT_S = 10.0


def _aggregation(fields: Fields, name: str, default: str = "mean") -> str:
    value = fields.text(name) or default
    if value not in dict(AGGREGATIONS):
        fields.errors[name] = "Choose an aggregation from the list."
        return default
    return value


def _see(settings) -> tuple[str, ...]:
    return tuple(settings.scorers_see_rankings_from)


def _readable_cycle(session, settings, web, cycle_id: int | None):
    """The cycle asked for (or the one under review) once the user may read its rankings, and its
    weightings."""
    cycle = _cycle(session, cycle_id)
    rankings.check_can_read(web.user, cycle, _see(settings))
    return cycle, weightings.list_weightings(session, cycle.id)


def _weighting_id(fields: Fields, name: str, options: list) -> int | None:
    """A weighting of the cycle chosen on the form (``None``: the cycle's default)."""
    value = fields.int(name, label="weighting")
    if value is not None and value not in {w.id for w in options}:
        fields.errors[name] = "Choose a weighting of this cycle from the list."
        return None
    return value


def _percent(x: float) -> str:
    """A weight as people say it: 8 %, 12.5 %, 0.4 %."""
    v = 100 * x
    return f"{v:.0f} %" if abs(v - round(v)) < 0.05 or v >= 10 else f"{v:.1f} %"


# ----------------------------------------------------------------------------------------------------
# compare


@router.get("/ranking/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    cycle, options = _readable_cycle(session, settings, web, cycle_id)
    fields = Fields(request.query_params)
    a = _weighting_id(fields, "a", options)
    b = _weighting_id(fields, "b", options)
    agg_a = _aggregation(fields, "aggregation")
    agg_b = _aggregation(fields, "aggregation_b", agg_a)
    k = fields.int("k", label="size of the top list", max=500) or TOP_K
    values = {name: fields.text(name) for name in ("a", "b", "aggregation", "aggregation_b", "k")}
    context: dict[str, Any] = {
        "cycle": cycle,
        "cycles": all_cycles(session),
        "weightings": options,
        "aggregations": AGGREGATIONS,
        "errors": fields.errors,
        "values": values,
        "result": None,
    }
    if fields.errors or not options:
        return render(
            request, "compare.html", web, status=422 if fields.errors else 200, title="Compare", **context
        )
    default = next((w.id for w in options if w.is_default), options[0].id)
    if a is None:
        a = default
    if b is None:  # another weighting when there is one; else the same one (compare aggregations)
        b = next((w.id for w in options if w.id != a), a)
    see = _see(settings)
    _, wa, ranked_a = rankings.load_ranking(session, web.user, cycle.id, a, agg_a, see)
    _, wb, ranked_b = rankings.load_ranking(session, web.user, cycle.id, b, agg_b, see)
    # The API's comparison (Kendall's tau-b, shifts, top-k entries and exits), kept with the rankings: the
    # same cache entry as GET /cycles/{id}/ranking/compare when the aggregations agree.
    result = ranking_cache.derived(
        "compare",
        ranked_a.key,
        (ranked_b.key, k),
        lambda: rankings.compare(ranked_a.doc, ranked_b.doc, k),
    )
    sel_a, note_a = rankings.web_selection(session, cycle, wa, ranked_a)
    sel_b, note_b = rankings.web_selection(session, cycle, wb, ranked_b)
    funded_a = set(sel_a["selected"]) if sel_a else None
    funded_b = set(sel_b["selected"]) if sel_b else None
    by_id = {it["proposal_id"]: it for it in ranked_a.items}
    label_a = wa.name + ("" if agg_a == agg_b else f" ({dict(AGGREGATIONS)[agg_a].lower()})")
    label_b = wb.name + ("" if agg_a == agg_b else f" ({dict(AGGREGATIONS)[agg_b].lower()})")
    enter = leave = None
    if funded_a is not None and funded_b is not None:
        enter = [by_id[i] for i in sorted(funded_b - funded_a, key=lambda i: by_id[i]["reference"])]
        leave = [by_id[i] for i in sorted(funded_a - funded_b, key=lambda i: by_id[i]["reference"])]
    values |= {"a": str(wa.id), "b": str(wb.id), "aggregation": agg_a, "aggregation_b": agg_b, "k": str(k)}
    context |= {
        "values": values,
        "wa": wa,
        "wb": wb,
        "label_a": label_a,
        "label_b": label_b,
        "result": result,
        "k": k,
        "titles": {it["proposal_id"]: it["title"] for it in ranked_a.items},
        "references": {it["proposal_id"]: it["reference"] for it in ranked_a.items},
        "funded_a": funded_a,
        "funded_b": funded_b,
        "enter": enter,
        "leave": leave,
        "funded_note": note_a or note_b,
        "chart": slope_chart(result["items"], f"A: {label_a}", f"B: {label_b}", funded_a, funded_b)
        if result["items"]
        else "",
        "query": f"cycle_id={cycle.id}&a={wa.id}&b={wb.id}&aggregation={agg_a}&aggregation_b={agg_b}&k={k}",
    }
    return render(request, "compare.html", web, title="Compare rankings", **context)


# ----------------------------------------------------------------------------------------------------
# sensitivity


def switching_words(s: dict[str, Any], k: int) -> list[str]:
    """A principle's top-k switching values in plain words."""
    p, now = s["principle"], _percent(s["weight"])
    out = []
    for key, verb in (("top_k_rising", "rise"), ("top_k_falling", "fall")):
        o = s.get(key)
        if o is not None:
            out.append(
                f"P{p}'s weight would have to {verb} from {now} to {_percent(o['weight'])} for "
                f"{o['enters_reference']} to overtake {o['leaves_reference']} (and enter the top {k})."
            )
    if s["top_k"] is None:
        out.append(f"P{p} carries all the weight: no other weight can move.")
    elif not out:
        out.append(f"No weight of P{p} from 0 % to 100 % changes the top {k}.")
    elif s.get("top_k_rising") is None:
        out.append(f"No rise of P{p}'s weight changes the top {k}.")
    elif s.get("top_k_falling") is None:
        out.append(f"No fall of P{p}'s weight changes the top {k}.")
    return out


@router.get("/ranking/sensitivity", response_class=HTMLResponse)
def sensitivity_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    cycle, options = _readable_cycle(session, settings, web, cycle_id)
    see = _see(settings)
    fields = Fields(request.query_params)
    weighting_id = _weighting_id(fields, "weighting_id", options)
    aggregation = _aggregation(fields, "aggregation")
    most = settings.sensitivity_max_samples
    samples = fields.int("samples", label="number of samples", min=10, max=most)
    seed = fields.int("seed", label="seed", min=0, max=2**32 - 1)
    k = fields.int("k", label="size of the top list", max=500)
    samples = SENSITIVITY_SAMPLES if samples is None else samples
    seed = SENSITIVITY_SEED if seed is None else seed
    k = TOP_K if k is None else k
    values = {n: fields.text(n) for n in ("weighting_id", "aggregation", "samples", "seed", "k")}
    context: dict[str, Any] = {
        "cycle": cycle,
        "cycles": all_cycles(session),
        "weightings": options,
        "aggregations": AGGREGATIONS,
        "errors": fields.errors,
        "values": values,
        "max_samples": most,
        "result": None,
    }
    if fields.errors or not options:
        return render(
            request,
            "sensitivity.html",
            web,
            status=422 if fields.errors else 200,
            title="Sensitivity",
            **context,
        )
    _, weighting, ranked = rankings.load_ranking(session, web.user, cycle.id, weighting_id, aggregation, see)
    # the API's computation (GET /cycles/{id}/ranking/sensitivity with its defaults), with the rank counts
    # for the chart, kept with the ranking: reloading the page or sharing its address recomputes nothing
    result = ranking_cache.derived(
        "web_sensitivity",
        ranked.key,
        (samples, seed, k),
        lambda: compute.sensitivity(
            ranked.doc,
            samples=samples,
            seed=seed,
            concentration=CONCENTRATION,
            top_k=k,
            request=rankings.budget_line_request(cycle, ranked.doc),
            rank_counts=True,
        ),
    )
    titles = {p.number: p.title for p in principles(session)}
    words = [(s, titles.get(s["principle"], ""), switching_words(s, k)) for s in result["switching"]]
    values |= {
        "weighting_id": str(weighting.id),
        "aggregation": aggregation,
        "samples": str(samples),
        "seed": str(seed),
        "k": str(k),
    }
    context |= {
        "values": values,
        "weighting": weighting,
        "result": result,
        "k": k,
        "words": words,
        "titles": {it["proposal_id"]: it["title"] for it in ranked.items},
        "chart": rank_range_chart(result["proposals"], result["samples"]) if result["proposals"] else "",
        "query": f"cycle_id={cycle.id}&weighting_id={weighting.id}&aggregation={aggregation}"
        f"&samples={samples}&seed={seed}&k={k}",
    }
    return render(request, "sensitivity.html", web, title="Sensitivity", **context)


# ----------------------------------------------------------------------------------------------------
# selection

CONSTRAINTS = ("must_fund", "exclude", "dependencies", "exclusive_groups")
_SEPARATORS = re.compile(r"[\s,;]+")
_DEPENDENCY = re.compile(r"\s*(\S+)\s+(?:needs|requires|->|→)\s+(\S+)\s*", re.IGNORECASE)


class References:
    """Proposal references typed on the selection form, read as the cycle's proposal ids."""

    def __init__(self, items: list[dict[str, Any]]):
        self.ids = {it["reference"].upper(): it["proposal_id"] for it in items}

    def read(self, fields: Fields, name: str, raw: str) -> list[int] | None:
        found, unknown = [], []
        for ref in (r for r in _SEPARATORS.split(raw) if r):
            pid = self.ids.get(ref.upper())
            (found if pid is not None else unknown).append(pid if pid is not None else ref)
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            verb = "is not a reference" if len(unknown) == 1 else "are not references"
            fields.errors[name] = f"{shown} {verb} of a proposal of this cycle."
            return None
        return found

    def list(self, fields: Fields, name: str) -> list[int]:
        return self.read(fields, name, fields.text(name)) or []

    def dependencies(self, fields: Fields, name: str) -> list[dict[str, int]]:
        out = []
        for number, line in enumerate(fields.text(name).splitlines(), start=1):
            if not line.strip():
                continue
            m = _DEPENDENCY.fullmatch(line)
            if m is None:
                fields.errors[name] = (
                    f"Line {number} cannot be read: write one dependency a line, "
                    "like SR21-014 needs SR21-013."
                )
                return []
            pair = self.read(fields, name, f"{m[1]} {m[2]}")
            if pair is None:
                return []
            out.append({"proposal_id": pair[0], "requires_id": pair[1]})
        return out

    def groups(self, fields: Fields, name: str) -> list[list[int]]:
        out = []
        for number, line in enumerate(fields.text(name).splitlines(), start=1):
            if not line.strip():
                continue
            group = self.read(fields, name, line)
            if group is None:
                return []
            if len(set(group)) < 2:
                fields.errors[name] = f"Line {number} names one proposal: a group names two or more."
                return []
            out.append(group)
        return out


def _selection_field(key: str) -> str:
    """The form field of an error the API reports at ``key`` (``budgets.2022-23``, ``must_fund.0``)."""
    head, _, rest = key.partition(".")
    if head == "budgets" and rest:
        return f"budget_{rest.split('.')[0]}"
    if head in ("must_fund", "exclude", "dependencies", "exclusive_groups", "weighting_id", "aggregation"):
        return head
    return "_form"


@router.get("/ranking/selection", response_class=HTMLResponse)
def selection_page(
    request: Request,
    web: WebUser,
    session: SessionDep,
    settings: SettingsDep,
    cycle_id: Annotated[int | None, query_int("cycle_id")],
):
    cycle, options = _readable_cycle(session, settings, web, cycle_id)
    see = _see(settings)
    q = request.query_params
    fields = Fields(q)
    weighting_id = _weighting_id(fields, "weighting_id", options)
    aggregation = _aggregation(fields, "aggregation")
    include = q.get("include_below_quorum") in ("on", "true", "1")
    years = [y.year for y in cycle.years]
    budgets = {y: fields.text(f"budget_{y}") for y in years}
    values = {n: fields.text(n) for n in ("weighting_id", "aggregation", "must_fund", "exclude")} | {
        "dependencies": q.get("dependencies") or "",
        "exclusive_groups": q.get("exclusive_groups") or "",
        "include_below_quorum": include,
        **{
            f"budget_{y}": budgets[y] or ("" if b.budget is None else f"{b.budget:.2f}")
            for y, b in zip(years, cycle.years, strict=True)
        },
    }
    context: dict[str, Any] = {
        "cycle": cycle,
        "cycles": all_cycles(session),
        "weightings": options,
        "aggregations": AGGREGATIONS,
        "years": years,
        "errors": fields.errors,
        "values": values,
        "result": None,
    }

    def page(status: int = 200, **more):
        return render(request, "selection.html", web, status=status, title="Selection", **(context | more))

    if not options:
        return page()
    cycle, weighting, key = rankings.prepare(
        session, web.user, cycle.id, weighting_id, aggregation, see, include_below_quorum=include, resamples=0
    )
    doc = ranking_cache.inputs(session, cycle, weighting, key)
    ranked = rankings.ranked_of(session, cycle, weighting, key)
    refs = References(ranked.items)
    spec = {
        "weighting_id": weighting.id,
        "aggregation": aggregation,
        "budgets": {y: v for y, v in budgets.items() if v},
        "must_fund": refs.list(fields, "must_fund"),
        "exclude": refs.list(fields, "exclude"),
        "dependencies": refs.dependencies(fields, "dependencies"),
        "exclusive_groups": refs.groups(fields, "exclusive_groups"),
        "include_below_quorum": include,
        "time_limit_s": SELECTION_TIME_LIMIT_S,
    }
    values["weighting_id"] = str(weighting.id)
    values["aggregation"] = aggregation
    context["weighting"] = weighting
    if fields.errors:
        return page(422)
    try:
        data = SelectionRequest.model_validate(spec)
        req = rankings.selection_request(cycle, doc, data)
        # the API's selection (POST /cycles/{id}/selection, without the frontier), solved once per request
        result = ranking_cache.derived(
            "web_selection_form",
            key,
            repr(sorted(req.items())),
            lambda: rankings.run_selection(doc, req, with_frontier=False),
        )
    except (ValidationError, ServiceError) as exc:
        errors = {}
        for name, message in errors_from(exc).items():
            errors.setdefault(_selection_field(name), message)
        infeasible = isinstance(exc, ServiceError) and any(e.get("type") == "infeasible" for e in exc.errors)
        if infeasible and "_form" not in errors:
            errors = {"_form": exc.detail, **errors}
        context["errors"] = errors
        # a view with nothing typed yet (a cycle without budgets) is a page asking for them, not an error
        typed = any(name.startswith("budget_") or name in CONSTRAINTS for name in q)
        return page(422 if typed else 200)
    items = {it["proposal_id"]: it for it in ranked.items}
    greedy = result["greedy"]
    money = {
        "optimal": compute.money_by_year(doc, result["selected"]),
        "greedy": compute.money_by_year(doc, greedy["selected"]),
    }

    def listed(ids):
        return sorted((items[i] for i in ids), key=lambda it: (it["rank"] or 10**9, it["reference"]))

    return page(
        result=result,
        budgets={y: compute.pence_str(v) for y, v in req["budgets"].items()},
        money=money,
        chosen=listed(result["selected"]),
        only_optimal=listed(greedy["only_in_optimal"]),
        only_greedy=listed(greedy["only_in_greedy"]),
        skipped=listed(greedy.get("skipped", [])),
    )


# ----------------------------------------------------------------------------------------------------
# submissions: verification


@router.post("/submissions/{submission_id}/verify", response_class=HTMLResponse)
def verify_submission(
    submission_id: Annotated[int, path_id("submission_id")],
    request: Request,
    web: WebUser,
    session: SessionDep,
    form=Depends(checked_form),
):
    """The API's verification (``GET /submissions/{id}/verify``, ``serr verify-submission``) of one
    submission, shown on its cycle's submissions page."""
    sub = submissions.get_submission(session, web.user, submission_id)
    result = submissions.verify(sub)
    cycle = _cycle(session, sub.cycle_id)
    return finance_pages._submissions_page(request, web, session, cycle, verification=result)
