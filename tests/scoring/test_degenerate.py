"""Degenerate inputs for every public function of ``scoring`` (hypothesis properties).

The cases: zero proposals, one proposal, one scorer, proposals but no scorecards, all scores equal, every
answer "not applicable", and a weighting that is zero on every answered principle. Each function must
give a defined answer (checked by value) or a named :class:`ScoringInputError` -- never a numpy or scipy
exception, and never a RuntimeWarning (they are errors inside these tests).
"""

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scoring
from scoring import ScoringInputError

from .helpers import FAST

nan = np.nan
KINDS = (
    "zero_proposals",
    "one_proposal",
    "one_scorer",
    "all_equal",
    "all_not_applicable",
    "weight_unanswered",
)

# Every public function of the package, and the test below that feeds it the degenerate cases.
COVERED = {
    "aggregate": "test_panel_functions",
    "answer_values": "test_panel_functions",
    "scorer_leniency": "test_panel_functions",
    "agreement": "test_panel_functions",
    "krippendorff_alpha_ordinal": "test_panel_functions",
    "normalise": "test_panel_functions",
    "weighted_scores": "test_ranking_functions",
    "effective_weights": "test_ranking_functions",
    "rank": "test_ranking_functions",
    "compare_rankings": "test_ranking_functions",
    "kendall_tau_b": "test_ranking_functions",
    "budget_line": "test_selection_functions",
    "budget_walk": "test_selection_functions",
    "diagnose": "test_selection_functions",
    "efficient_frontier": "test_selection_functions",
    "greedy_select": "test_selection_functions",
    "portfolio": "test_selection_functions",
    "select": "test_selection_functions",
    "dirichlet_weights": "test_resampling_functions",
    "sensitivity": "test_resampling_functions",
    "rank_intervals": "test_resampling_functions",
    "quorum": "test_quorum",
    "derive_weights": "test_weight_functions",
    "normalised_weights": "test_weight_functions",
    "pairwise_weights": "test_weight_functions",
    "rank_order_centroid": "test_weight_functions",
    "rank_order_weights": "test_weight_functions",
}


def test_every_public_function_is_covered():
    public = {name for name in scoring.__all__ if inspect.isfunction(getattr(scoring, name))}
    assert public == set(COVERED), "add the new public function to a degenerate-input test and to COVERED"
    assert set(COVERED.values()) <= {name for name in globals() if name.startswith("test_")}


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@st.composite
def panels(draw):
    """A degenerate panel: ``(kind, scores (P, J, K), not_applicable, weights)`` on the 0..5 scale."""
    kind = draw(st.sampled_from(KINDS))
    n_p = {"zero_proposals": 0, "one_proposal": 1}.get(kind, draw(st.integers(1, 5)))
    n_j = {"one_scorer": 1, "no_scorers": 0}.get(kind, draw(st.integers(1, 4)))
    n_k = draw(st.integers(2, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = rng.integers(0, 6, (n_p, n_j, n_k)).astype(float)
    scores[rng.random(scores.shape) < 0.15] = nan  # a few blanks
    na = (rng.random(scores.shape) < 0.15) & np.isnan(scores)
    weights = rng.random(n_k) + 0.01
    if kind == "all_equal":
        scores[:] = draw(st.integers(0, 5))
        na[:] = False
    elif kind == "all_not_applicable":
        scores[:] = nan
        na[:] = True
    elif kind == "weight_unanswered":
        scores[:, :, -1] = nan  # nobody answered the last principle, and only it carries weight
        na[:, :, -1] = False
        weights[:] = 0.0
    weights[-1] += 1.0 if kind == "weight_unanswered" else 0.0
    return kind, scores, na, weights / weights.sum()


AGGREGATE_OPTIONS = st.tuples(
    st.sampled_from(scoring.AGGREGATIONS), st.sampled_from(["minimum", "redistribute"])
)


def moderation(n_p, n_k):
    moderated = np.full((n_p, n_k), nan)
    moderated_na = np.zeros((n_p, n_k), bool)
    if n_p:
        moderated[0, 0] = 4.0
        moderated_na[-1, -1] = True
    return moderated, moderated_na


@FAST
@given(panels(), AGGREGATE_OPTIONS)
def test_panel_functions(panel, options):
    kind, s, na, _ = panel
    method, policy = options
    n_p, n_j, n_k = s.shape
    moderated, moderated_na = moderation(n_p, n_k)
    agg = scoring.aggregate(
        s, na, method=method, na_policy=policy, moderated=moderated, moderated_na=moderated_na
    )
    assert agg.scores.shape == (n_p, n_k)
    finite = agg.scores[~np.isnan(agg.scores)]
    assert ((finite >= 0) & (finite <= 5)).all()
    plain = scoring.aggregate(s, na, method=method, na_policy=policy)
    if kind == "all_equal":
        assert (plain.scores == s[0, 0, 0]).all() if n_p else plain.scores.size == 0
    if kind == "all_not_applicable":
        if policy == "minimum":
            assert (plain.scores == 0).all() and plain.answered.all() and not plain.not_applicable.any()
        else:
            assert np.isnan(plain.scores).all() and plain.not_applicable.all()
    values = scoring.answer_values(s, na, 0, policy)
    assert values.shape == s.shape and np.array_equal(
        np.isnan(values), np.isnan(s) & ~(na & (policy == "minimum"))
    )
    leniency = scoring.scorer_leniency(s, na)
    assert leniency.shape == (n_j,)
    if kind in ("all_equal", "one_scorer"):
        assert np.all((leniency == 0) | np.isnan(leniency))
    if kind == "all_not_applicable" or n_p == 0:
        assert np.isnan(leniency).all()
    if kind == "no_scorers":
        assert np.isnan(plain.scores).all() and not plain.answered.any()

    agree = scoring.agreement(s, na, na_policy=policy, moderated=np.zeros((n_p, n_k), bool))
    assert agree.spread.shape == agree.sd.shape == agree.flagged.shape == (n_p, n_k)
    assert agree.max_spread.shape == (n_p,)
    if kind in ("all_equal", "one_scorer"):
        answered = agree.n_values > 0
        assert (agree.spread[answered] == 0).all() and (agree.sd[answered] == 0).all()
        assert not agree.flagged.any() and math.isnan(agree.alpha)
    if kind in ("all_not_applicable", "no_scorers"):
        assert (agree.n_values == 0).all() and np.isnan(agree.spread).all() and not agree.flagged.any()
        assert np.isnan(agree.max_spread).all() and math.isnan(agree.alpha)
    alpha = scoring.krippendorff_alpha_ordinal(s.transpose(1, 0, 2).reshape(n_j, n_p * n_k))
    assert math.isnan(alpha) or -2.0 <= alpha <= 1.0
    if n_p == 0:
        assert math.isnan(alpha)
    norm = scoring.normalise(agg.scores, 0, 5)
    assert norm.shape == (n_p, n_k) and np.all(np.isnan(norm) | ((norm >= 0) & (norm <= 1)))


@FAST
@given(panels(), AGGREGATE_OPTIONS)
def test_ranking_functions(panel, options):
    kind, s, na, w = panel
    method, policy = options
    n_p, _, n_k = s.shape
    agg = scoring.aggregate(s, na, method=method, na_policy=policy)
    weighted, coverage, complete = scoring.weighted_scores(agg.scores, w, not_applicable=agg.not_applicable)
    assert weighted.shape == coverage.shape == complete.shape == (n_p,)
    assert ((weighted >= 0) & (weighted <= 100)).all() and ((coverage >= 0) & (coverage <= 1 + 1e-12)).all()
    if kind in ("weight_unanswered", "no_scorers"):
        assert (weighted == 0).all() and (coverage == 0).all() and not complete.any()
    if kind == "all_not_applicable":
        assert (weighted == 0).all() and complete.all()
    if kind == "all_equal":
        assert np.allclose(weighted, 100 * s[0, 0, 0] / 5) and complete.all() if n_p else True
    effective = scoring.effective_weights(w, agg.not_applicable, n_p)
    sums = effective.sum(axis=1)
    assert effective.shape == (n_p, n_k) and np.all(np.isclose(sums, 1) | (sums == 0))
    ranking = scoring.rank(agg, w, net_cost=np.arange(n_p), references=[f"R{i}" for i in range(n_p)])
    assert sorted(ranking.order.tolist()) == list(range(n_p))
    assert ((ranking.rank >= 1) & (ranking.rank <= max(n_p, 1))).all()
    if kind in ("weight_unanswered", "all_not_applicable", "no_scorers") or (kind == "all_equal" and n_p):
        assert (ranking.rank == 1).all() and ranking.order.tolist() == list(range(n_p))  # one tie, by cost
    assert [item.index for item in ranking.items()] == ranking.order.tolist()
    other = scoring.rank(agg, np.full(n_k, 1 / n_k))
    comparison = scoring.compare_rankings(ranking, other, top_k=2)
    assert comparison.shift.shape == (n_p,)
    tau = scoring.kendall_tau_b(ranking.rank, ranking.rank)
    assert tau == 1.0 if len(set(ranking.rank.tolist())) > 1 else math.isnan(tau)
    assert math.isnan(comparison.tau_b) or -1.0 <= comparison.tau_b <= 1.0


@FAST
@given(panels(), st.integers(0, 3))
def test_selection_functions(panel, budget):
    _, s, na, w = panel
    n_p = s.shape[0]
    ranking = scoring.rank(scoring.aggregate(s, na), w)
    problem = scoring.SelectionProblem(
        scores=ranking.weighted_score, net_cost=np.ones((n_p, 2), dtype=np.int64), budgets=(budget, budget)
    )
    chosen = scoring.select(problem)
    best = np.sort(ranking.weighted_score)[::-1][: min(n_p, budget)].sum()
    assert chosen.status == "optimal" and chosen.objective == pytest.approx(best, abs=1e-6)
    assert len(chosen.selected) <= budget and all(h >= 0 for h in chosen.headroom)
    walked = scoring.budget_walk(problem, ranking.order)
    assert walked.selected == tuple(sorted(ranking.order[: min(n_p, budget)].tolist()))
    assert walked.last_funded_position == (min(n_p, budget) - 1 if min(n_p, budget) else None)
    greedy = scoring.greedy_select(problem, ranking.order)
    assert greedy.selected == walked.selected and greedy.feasible
    line = scoring.budget_line(problem, np.stack([ranking.order, ranking.order[::-1]]))
    assert line.shape == (2, n_p) and line[0].tolist() == list(walked.funded)
    assert scoring.diagnose(problem) is None
    frontier = scoring.efficient_frontier(problem, [0, 100])
    assert [p.objective is not None for p in frontier] == [True, True]
    bundle = scoring.portfolio(problem, order=ranking.order, frontier_percents=[100])
    assert bundle.greedy.selected == walked.selected and bundle.selection.status == "optimal"
    # a budget no selection can meet is explained, not an exception
    must = scoring.SelectionProblem(
        scores=ranking.weighted_score,
        net_cost=np.full((n_p, 1), 5, dtype=np.int64),
        budgets=(1,),
        must_fund=(0,) if n_p else (),
    )
    result = scoring.select(must)
    assert result.status == ("infeasible" if n_p else "optimal")


@FAST
@given(panels(), st.sampled_from(scoring.AGGREGATIONS))
def test_resampling_functions(panel, method):
    kind, s, na, w = panel
    n_p, n_j, _ = s.shape
    draws = scoring.dirichlet_weights(w, 5, 100.0, 0)
    assert np.allclose(draws.sum(axis=1), 1) and (draws[:, w == 0] == 0).all()
    problem = scoring.SelectionProblem(
        scores=np.zeros(n_p), net_cost=np.ones((n_p, 1), dtype=np.int64), budgets=(1,)
    )
    agg = scoring.aggregate(s, na, method=method)
    sens = scoring.sensitivity(agg, w, samples=30, problem=problem, top_k=1)
    assert sens.rank_percentiles.shape == (n_p, 3)
    assert ((sens.rank_percentiles >= 1) & (sens.rank_percentiles <= max(n_p, 1))).all()
    assert np.allclose(sens.p_selected.sum(), min(n_p, 1))
    if (
        n_p == 1
        or kind in ("all_not_applicable", "weight_unanswered", "no_scorers")
        or (kind == "all_equal" and n_p)
    ):
        assert (sens.rank_percentiles == 1).all()  # one proposal, or everybody tied
    intervals = scoring.rank_intervals(s, na, w, method=method, problem=problem, resamples=30)
    assert intervals.low.shape == intervals.high.shape == intervals.median.shape == (n_p,)
    scored = intervals.scorecards > 0
    assert np.array_equal(np.isnan(intervals.low), ~scored)
    low, median, high = intervals.low[scored], intervals.median[scored], intervals.high[scored]
    assert ((low >= 1) & (low <= median) & (median <= high) & (high <= n_p)).all()
    assert np.allclose(intervals.p_funded.sum(), min(n_p, 1))
    if n_j == 1:
        assert np.array_equal(low, high)  # nothing to resample: width 0
    if kind == "no_scorers":
        assert np.isnan(intervals.low).all() and (intervals.scorecards == 0).all()
    if kind in ("all_not_applicable", "weight_unanswered") or (kind == "all_equal" and n_p):
        assert (low == 1).all() and (high == 1).all()


@FAST
@given(st.integers(0, 6), st.integers(0, 6), st.integers(1, 4))
def test_quorum(eligible, submitted, min_scorecards):
    from scoring import quorum

    for n in (0, 1, 3):
        q = quorum([eligible] * n, [min(submitted, eligible)] * n, min_scorecards)
        assert q.required.shape == q.met.shape == q.complete.shape == (n,)
        assert (q.required >= 1).all() and (q.required <= max(min_scorecards, 1)).all()
        assert (q.complete == ((eligible > 0) & (min(submitted, eligible) == eligible))).all()
    with pytest.raises(ScoringInputError):
        quorum([1], [1], 0)


@FAST
@given(st.integers(1, 12), st.sampled_from(["direct", "points", "swing"]))
def test_weight_functions(principle, method):
    # a single principle carries all the weight, whatever the method
    one = np.zeros(12)
    one[principle - 1] = 1.0
    assert np.array_equal(scoring.normalised_weights({str(principle): 5}, method).weights, one)
    assert np.array_equal(scoring.derive_weights(method, weights={principle: 1}).weights, one)
    assert np.array_equal(scoring.rank_order_weights([[principle]]).weights, one)
    assert scoring.rank_order_centroid(1).tolist() == [1.0]
    assert np.allclose(scoring.rank_order_weights([list(range(1, 13))]).weights, 1 / 12)  # one big tie
    other = principle % 12 + 1
    equal = scoring.pairwise_weights([{"a": principle, "b": other, "ratio": 1}])
    assert np.allclose(
        equal.weights[[principle - 1, other - 1]], 0.5
    ) and equal.weights.sum() == pytest.approx(1)
    assert equal.diagnostics.consistency_ratio == 0.0
    # nothing to weigh is a named error, never a numpy one
    for call, field in [
        (lambda: scoring.normalised_weights([0] * 12, method), "weights"),
        (lambda: scoring.derive_weights(method, weights={}), "weights"),
        (lambda: scoring.rank_order_weights([]), "order"),
        (lambda: scoring.rank_order_centroid(0), "order"),
        (lambda: scoring.pairwise_weights([]), "comparisons"),
        (lambda: scoring.derive_weights("pairwise", comparisons=[]), "comparisons"),
    ]:
        with pytest.raises(ScoringInputError) as err:
            call()
        assert err.value.field == field


@pytest.mark.parametrize("n_k", [0])
def test_no_principles_at_all_is_a_named_error(n_k):
    s = np.zeros((2, 2, n_k))
    for call in (
        lambda: scoring.rank(scoring.aggregate(s), np.zeros(n_k)),
        lambda: scoring.weighted_scores(np.zeros((2, n_k)), np.zeros(n_k)),
        lambda: scoring.rank_intervals(s, None, np.zeros(n_k)),
        lambda: scoring.sensitivity(np.zeros((2, n_k)), np.zeros(n_k)),
        lambda: scoring.dirichlet_weights(np.zeros(n_k), 3, 10.0, 0),
    ):
        with pytest.raises(ScoringInputError) as err:
            call()
        assert err.value.field == "weights"
