"""Rank intervals (brief Maths 11) against a plain-Python bootstrap with the same seed logic."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scoring.intervals as intervals_module
from scoring import RankIntervals, SelectionProblem, aggregate, rank, rank_intervals
from scoring.errors import ScoringInputError
from scoring.intervals import percentile_index

from .helpers import FAST
from .test_budget_walk import python_walk

nan = np.nan


def reference_intervals(
    scores,
    na,
    weights,
    *,
    method="mean",
    na_policy="minimum",
    scale=(0, 5),
    moderated=None,
    moderated_na=None,
    net_cost=None,
    references=None,
    problem=None,
    resamples=50,
    seed=0,
    percentiles=(5.0, 95.0),
):
    """The documented bootstrap, one resample and one proposal at a time, through aggregate and rank."""
    lo, hi = scale
    s = np.array(scores, dtype=float)
    na = np.zeros(s.shape, bool) if na is None else np.asarray(na, bool)
    n_p, n_j, n_k = s.shape
    submitted = [
        [j for j in range(n_j) if any(not math.isnan(s[i, j, k]) or na[i, j, k] for k in range(n_k))]
        for i in range(n_p)
    ]
    values, agg_method = s, method
    if method == "calibrated":  # leniency from the full panel, held fixed
        leniency = aggregate(
            s, na, method="calibrated", na_policy=na_policy, scale_min=lo, scale_max=hi
        ).leniency
        values = np.clip(s - np.nan_to_num(leniency)[None, :, None], lo, hi)
        agg_method = "mean"
    bitgen = np.random.default_rng(seed).bit_generator
    group = 2 if n_j <= 8 else 1  # slots drawn in pairs, one 32-bit number per pair
    n_groups = -(-n_j // group)
    half = (n_groups * n_p + 1) // 2
    ranks = [[] for _ in range(n_p)]
    funded = [0] * n_p
    for _ in range(resamples):
        raw = [int(r) for r in bitgen.random_raw(half)] if half else []
        u = [half_word for r in raw for half_word in (r & 0xFFFFFFFF, r >> 32)]
        drawn = np.full(s.shape, nan)
        marks = np.zeros(s.shape, bool)
        for i in range(n_p):
            m = len(submitted[i])
            picks = []  # scorecard drawn in each slot, in slot order
            for p in range(n_groups):
                used = min(max(m - group * p, 0), group)
                outcome = (m**used * u[p * n_p + i]) >> 32
                if used == 2:
                    picks += [outcome // m, outcome % m]
                elif used == 1:
                    picks.append(outcome)
            assert len(picks) == m
            for t, pick in enumerate(picks):
                j = submitted[i][pick]
                drawn[i, t] = values[i, j]
                marks[i, t] = na[i, j]
        agg = aggregate(
            drawn,
            marks,
            method=agg_method,
            na_policy=na_policy,
            scale_min=lo,
            scale_max=hi,
            moderated=moderated,
            moderated_na=moderated_na,
        )
        ranking = rank(agg, weights, net_cost=net_cost, references=references)
        for i in range(n_p):
            ranks[i].append(int(ranking.rank[i]))
        if problem is not None:
            chosen, _ = python_walk(problem, ranking.order.tolist())
            for i in chosen:
                funded[i] += 1

    def pick(values, q):
        k = max(1, math.ceil(Fraction(len(values)) * Fraction(q) / 100))
        return float(sorted(values)[k - 1])

    low = [pick(r, percentiles[0]) if submitted[i] else nan for i, r in enumerate(ranks)]
    high = [pick(r, percentiles[1]) if submitted[i] else nan for i, r in enumerate(ranks)]
    median = [pick(r, 50.0) if submitted[i] else nan for i, r in enumerate(ranks)]
    p_funded = None if problem is None else [f / resamples for f in funded]
    return low, high, median, p_funded


def same(a, b):
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


@st.composite
def panels(draw):
    n_p = draw(st.integers(1, 6))
    n_j = draw(st.integers(1, 4))
    n_k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 6, (n_p, n_j, n_k)).astype(float)
    kind = draw(st.sampled_from(["complete", "na", "blanks", "unsubmitted"]))
    na = np.zeros(s.shape, bool)
    if kind in ("na", "blanks", "unsubmitted"):
        na = rng.random(s.shape) < 0.2
    if kind in ("blanks", "unsubmitted"):
        s[rng.random(s.shape) < 0.2] = nan
    if kind == "unsubmitted":  # whole scorecards missing, sometimes every one of a proposal
        gone = rng.random((n_p, n_j)) < 0.4
        s[gone] = nan
        na[gone] = False
    s[na] = nan
    raw_w = rng.random(n_k) * (rng.random(n_k) < 0.8)
    if raw_w.sum() == 0:
        raw_w[0] = 1.0
    weights = raw_w / raw_w.sum()
    method = draw(st.sampled_from(["mean", "median", "trimmed_mean", "moderated", "calibrated"]))
    policy = draw(st.sampled_from(["minimum", "redistribute"]))
    moderated = moderated_na = None
    if method == "moderated" and draw(st.booleans()):
        moderated = np.where(rng.random((n_p, n_k)) < 0.3, rng.integers(0, 6, (n_p, n_k)), nan)
        moderated_na = rng.random((n_p, n_k)) < 0.15
    net_cost = rng.integers(0, 5, n_p) if draw(st.booleans()) else None
    references = [f"R{k}" for k in rng.permutation(n_p)] if draw(st.booleans()) else None
    problem = None
    if draw(st.booleans()):
        problem = SelectionProblem(
            scores=np.zeros(n_p),
            net_cost=rng.integers(0, 40, (n_p, 2)),
            budgets=(int(rng.integers(0, 80)), int(rng.integers(0, 80))),
        )
    return dict(
        scores=s,
        na=na,
        weights=weights,
        method=method,
        na_policy=policy,
        moderated=moderated,
        moderated_na=moderated_na,
        net_cost=net_cost,
        references=references,
        problem=problem,
        seed=draw(st.integers(0, 1000)),
    )


def run(case, resamples, **extra):
    return rank_intervals(
        case["scores"],
        case["na"],
        case["weights"],
        method=case["method"],
        na_policy=case["na_policy"],
        moderated=case["moderated"],
        moderated_na=case["moderated_na"],
        net_cost=case["net_cost"],
        references=case["references"],
        problem=case["problem"],
        resamples=resamples,
        seed=case["seed"],
        **extra,
    )


@FAST
@given(panels())
def test_equals_a_plain_python_bootstrap(case):
    got = run(case, 30)
    low, high, median, p_funded = reference_intervals(
        case["scores"],
        case["na"],
        case["weights"],
        method=case["method"],
        na_policy=case["na_policy"],
        moderated=case["moderated"],
        moderated_na=case["moderated_na"],
        net_cost=case["net_cost"],
        references=case["references"],
        problem=case["problem"],
        resamples=30,
        seed=case["seed"],
    )
    assert same(got.low, low) and same(got.high, high) and same(got.median, median)
    if p_funded is None:
        assert got.p_funded is None
    else:
        assert got.p_funded.tolist() == p_funded
    # chunking never changes the answer
    small = run(case, 30, chunk_elements=7)
    assert small.low.tobytes() == got.low.tobytes() and small.high.tobytes() == got.high.tobytes()
    assert small.median.tobytes() == got.median.tobytes()


@FAST
@given(panels())
def test_the_linear_shortcut_equals_full_aggregation(case):
    fast = run(case, 25)
    original = intervals_module._LINEAR
    intervals_module._LINEAR = ()  # every proposal with differing scorecards is aggregated in full
    try:
        full = run(case, 25)
    finally:
        intervals_module._LINEAR = original
    assert same(fast.low, full.low) and same(fast.high, full.high) and same(fast.median, full.median)


def test_large_panels_draw_slot_by_slot():
    rng = np.random.default_rng(12)
    s = rng.integers(0, 6, (5, 11, 2)).astype(float)
    s[rng.random(s.shape) < 0.1] = nan
    s[1, 4:] = nan  # fewer scorecards for one proposal
    got = rank_intervals(s, None, [0.4, 0.6], resamples=40, seed=5, method="median")
    low, high, median, _ = reference_intervals(s, None, [0.4, 0.6], resamples=40, seed=5, method="median")
    assert same(got.low, low) and same(got.high, high) and same(got.median, median)


def test_a_small_case_by_hand_against_the_reference():
    # 4 proposals x 3 scorers x 2 principles, weights 0.7 / 0.3, one problem with a budget of 50
    s = np.array(
        [
            [[5, 4], [5, 4], [5, 4]],  # agree, top
            [[4, 3], [2, 1], [3, 5]],  # split
            [[3, 3], [4, 2], [1, 4]],  # split
            [[0, 1], [0, 1], [0, 1]],  # agree, bottom
        ],
        dtype=float,
    )
    problem = SelectionProblem(scores=np.zeros(4), net_cost=np.array([[30], [20], [20], [5]]), budgets=(50,))
    got = rank_intervals(s, None, [0.7, 0.3], problem=problem, resamples=200, seed=7)
    low, high, median, p_funded = reference_intervals(
        s, None, [0.7, 0.3], problem=problem, resamples=200, seed=7
    )
    assert got.low.tolist() == low and got.high.tolist() == high and got.median.tolist() == median
    assert got.p_funded.tolist() == p_funded
    assert (got.low[0], got.high[0]) == (1, 1) and (got.low[3], got.high[3]) == (4, 4)
    assert got.low[1] == 2 and got.high[1] == 3 and got.low[2] == 2 and got.high[2] == 3
    assert got.p_funded[0] == 1.0  # always first, and fits
    assert got.scorecards.tolist() == [3, 3, 3, 3]


def test_perfect_agreement_with_far_neighbours_has_width_zero():
    rng = np.random.default_rng(3)
    s = rng.integers(1, 5, (8, 5, 12)).astype(float)  # a noisy middle field
    s[0] = 5.0  # everyone gives 5 everywhere: far above the rest
    s[1] = 0.0  # everyone gives 0 everywhere: far below
    out = rank_intervals(s, None, np.full(12, 1 / 12), resamples=500, seed=1)
    assert (out.low[0], out.high[0], out.median[0]) == (1, 1, 1)
    assert (out.low[1], out.high[1], out.median[1]) == (8, 8, 8)


def test_a_split_panel_gives_a_wide_interval():
    # proposal 0: two scorers give 5s, two give 0s; the other proposals sit evenly in between
    s = np.empty((11, 4, 1))
    s[0, :, 0] = [5, 5, 0, 0]
    for k in range(1, 11):
        s[k, :, 0] = k * 0.5 - 0.25 if k * 0.5 - 0.25 >= 0 else 0
    out = rank_intervals(s, None, [1.0], scale_max=5, resamples=1000, seed=0)
    assert out.high[0] - out.low[0] >= 6
    agreeing = out.high[1:] - out.low[1:]
    assert (agreeing <= 1).all()  # the others agree among themselves; they move only by one place


def test_seeded_results_are_byte_identical_and_the_seed_matters():
    rng = np.random.default_rng(9)
    s = rng.integers(0, 6, (40, 5, 12)).astype(float)
    na = rng.random(s.shape) < 0.1
    problem = SelectionProblem(scores=np.zeros(40), net_cost=rng.integers(1, 50, (40, 1)), budgets=(300,))
    args = (s, na, np.full(12, 1 / 12))
    one = rank_intervals(*args, problem=problem, seed=42, resamples=300)
    two = rank_intervals(*args, problem=problem, seed=42, resamples=300)
    for field in ("low", "high", "median", "p_funded"):
        assert getattr(one, field).tobytes() == getattr(two, field).tobytes()
    other = rank_intervals(*args, problem=problem, seed=43, resamples=300)
    assert not (
        np.array_equal(one.low, other.low)
        and np.array_equal(one.high, other.high)
        and np.array_equal(one.p_funded, other.p_funded)
    )
    assert (one.resamples, one.seed) == (300, 42)


def test_p_funded_is_one_or_zero_for_obvious_cases():
    s = np.zeros((4, 3, 2))
    s[0] = 5.0
    s[1] = [[4, 4], [4, 3], [3, 4]]
    s[2] = [[2, 2], [1, 2], [2, 1]]
    s[3] = [[1, 0], [0, 1], [0, 0]]
    # 0 is top and cheap; 3 is bottom and costs more than what 0 and 1 leave; 2 never fits either
    problem = SelectionProblem(
        scores=np.zeros(4), net_cost=np.array([[10], [10], [100], [100]]), budgets=(30,)
    )
    out = rank_intervals(s, None, [0.5, 0.5], problem=problem, resamples=400)
    assert out.p_funded.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_degenerate_inputs():
    empty = rank_intervals(np.zeros((0, 3, 12)), None, np.full(12, 1 / 12))
    assert empty.low.shape == empty.high.shape == empty.median.shape == (0,) and empty.p_funded is None
    none_problem = SelectionProblem(
        scores=np.zeros(0), net_cost=np.zeros((0, 1), dtype=np.int64), budgets=(5,)
    )
    assert rank_intervals(np.zeros((0, 3, 2)), None, [0.5, 0.5], problem=none_problem).p_funded.shape == (0,)
    # one scorer: nothing to resample, every interval has width 0
    rng = np.random.default_rng(0)
    single = rank_intervals(rng.integers(0, 6, (7, 1, 3)).astype(float), None, [0.2, 0.3, 0.5])
    assert np.array_equal(single.low, single.high) and np.array_equal(single.low, single.median)
    # a proposal nobody scored: NaN interval, but it keeps its place in every resample's ranking
    s = np.array([[[5.0], [4.0]], [[nan], [nan]], [[1.0], [2.0]]])
    out = rank_intervals(s, None, [1.0])
    assert math.isnan(out.low[1]) and math.isnan(out.high[1]) and math.isnan(out.median[1])
    assert (out.low[0], out.high[0], out.low[2], out.high[2]) == (1, 1, 2, 2)
    assert out.scorecards.tolist() == [2, 0, 2]
    # no scorers at all
    assert np.isnan(rank_intervals(np.zeros((3, 0, 2)), None, [0.5, 0.5]).low).all()


def test_percentile_index_is_the_exact_inverted_cdf():
    for count in range(1, 300):
        data = np.arange(1, count + 1)
        for q in (0, 1, 5, 25, 50, 75, 95, 99, 100):
            assert percentile_index(count, q) + 1 == np.percentile(data, q, method="inverted_cdf")
    assert percentile_index(100, 7) == 6  # numpy's floating point says the 8th; exactly it is the 7th


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"resamples": 0}, "resamples"),
        ({"resamples": 2.5}, "resamples"),
        ({"resamples": True}, "resamples"),
        ({"seed": -1}, "seed"),
        ({"seed": "x"}, "seed"),
        ({"percentiles": (95, 5)}, "percentiles"),
        ({"percentiles": (5, 50, 95)}, "percentiles"),
        ({"percentiles": (5, 101)}, "percentiles"),
        ({"percentiles": ("a", 1)}, "percentiles"),
        ({"method": "mode"}, "aggregation"),
        ({"na_policy": "zero"}, "na_policy"),
        ({"weights": [1.0]}, "weights"),
        ({"net_cost": [1, 2]}, "net_cost"),
        ({"references": ["a"]}, "references"),
        ({"moderated": np.zeros((1, 1))}, "moderated"),
        ({"scores": np.zeros((2, 3))}, "scores"),
        ({"scores": np.full((3, 2, 2), 9.0)}, "scores"),
        ({"chunk_elements": 0}, "chunk_elements"),
        (
            {
                "problem": SelectionProblem(
                    scores=np.zeros(2), net_cost=np.zeros((2, 1), dtype=np.int64), budgets=(1,)
                )
            },
            "problem",
        ),
    ],
)
def test_validation(kwargs, field):
    args = {"scores": np.zeros((3, 2, 2)), "weights": [0.5, 0.5]}
    args.update({key: kwargs.pop(key) for key in ("scores", "weights") if key in kwargs})
    if "moderated" in kwargs:
        kwargs["method"] = "moderated"
    with pytest.raises(ScoringInputError) as err:
        rank_intervals(args["scores"], None, args["weights"], **kwargs)
    assert err.value.field == field


def test_exported():
    out = rank_intervals(np.full((2, 2, 1), 3.0), None, [1.0], resamples=5)
    assert isinstance(out, RankIntervals)
    assert out.low.flags.writeable is False


def test_inside_a_tie_the_listing_follows_the_tie_break_not_rounding():
    # W equal to within 1e-9 (rounding of different sums): the order is net cost, not the tiny difference
    ranker = intervals_module._Ranker(np.array([0, 1, 2]), False)
    weighted = np.array([[50.0, 50.0 + 1e-12, 10.0], [50.0 + 1e-12, 50.0, 10.0]])
    ranks = np.zeros((2, 3), dtype=ranker.rank_type)
    orders = ranker.rank(ranker.real_keys(weighted, np.ones((2, 3), bool)), ranks, True)
    assert orders.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert ranks.tolist() == [[1, 1, 3], [1, 1, 3]]
