"""Sensitivity (brief Maths 8): Dirichlet resampling checked draw by draw against rank() and the greedy
walk, and switching values checked by probing the ranking on both sides of each reported end."""

import importlib

import numpy as np
import pytest

from scoring.errors import ScoringInputError
from scoring.ranking import rank
from scoring.selection import SelectionProblem, greedy_select
from scoring.sensitivity import dirichlet_weights, sensitivity

# the package re-exports the function under the module's name, so fetch the module itself
sensitivity_module = importlib.import_module("scoring.sensitivity")

nan = np.nan


def test_dirichlet_draws_are_seeded_centred_and_keep_zero_weights():
    w = np.array([0.5, 0.3, 0.0, 0.2])
    a = dirichlet_weights(w, 20_000, 100.0, seed=42)
    assert np.array_equal(a, dirichlet_weights(w, 20_000, 100.0, seed=42))
    assert not np.array_equal(a, dirichlet_weights(w, 20_000, 100.0, seed=43))
    assert (a[:, 2] == 0).all()
    assert np.allclose(a.sum(axis=1), 1.0, atol=1e-12)
    assert np.allclose(a.mean(axis=0), w, atol=0.002)
    # Var(w_p) = w_p (1 - w_p) / (concentration + 1)
    assert np.allclose(a.var(axis=0)[[0, 1, 3]], w[[0, 1, 3]] * (1 - w[[0, 1, 3]]) / 101, rtol=0.1)
    single = dirichlet_weights([0.0, 1.0], 5, 10.0, seed=0)
    assert (single == [0.0, 1.0]).all()


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"samples": 0}, "samples"), ({"concentration": 0}, "concentration")]
)
def test_dirichlet_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as info:
        dirichlet_weights([0.5, 0.5], **{"samples": 10, "concentration": 10.0, "seed": 0, **kwargs})
    assert info.value.field == field


def reference(scores, w, samples, concentration, seed, top_k, problem=None, **kw):
    """Rank, top-k and selection statistics computed draw by draw with rank() and greedy_select()."""
    draws = dirichlet_weights(w, samples, concentration, seed)
    ranks = np.empty((samples, scores.shape[0]))
    chosen = np.zeros(scores.shape[0])
    for s, draw in enumerate(draws):
        r = rank(scores, draw, **kw)
        ranks[s] = r.rank
        if problem is not None:
            chosen[list(greedy_select(problem, r.order).selected)] += 1
    return np.percentile(ranks, [5, 50, 95], axis=0).T, (ranks <= top_k).mean(axis=0), chosen / samples


def random_case(rng, n, k=5, na=False, incomplete=False, duplicates=False):
    scores = rng.integers(0, 6, (n, k)).astype(float)
    scores += rng.choice([0.0, 1 / 3, 0.5], size=(n, k))
    scores = np.clip(scores, 0, 5)
    not_applicable = None
    if duplicates:
        scores[1] = scores[0]
        scores[3] = scores[2]
    if incomplete:
        scores[rng.random((n, k)) < 0.05] = nan
    if na:
        not_applicable = rng.random((n, k)) < 0.15
        scores[not_applicable] = nan
    w = rng.dirichlet(np.ones(k) * 2)
    cost = rng.integers(-20, 100, (n, 2)) * 1000
    return scores, not_applicable, w, cost


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"na": True},
        {"incomplete": True},
        {"duplicates": True},
        {"duplicates": True, "na": True, "incomplete": True},
    ],
)
def test_statistics_match_rank_and_greedy_draw_by_draw(variant):
    rng = np.random.default_rng(len(variant) * 7 + 1)
    n = 30
    scores, na, w, cost = random_case(rng, n, **variant)
    problem = SelectionProblem(
        scores=np.zeros(n),
        net_cost=cost,
        budgets=tuple(int(b) for b in np.maximum(cost, 0).sum(0) // 2),
        dependencies=[(4, 9), (9, 11)],
        exclusive_groups=[(0, 2, 5)],
    )
    refs = [f"P-{i:02d}" for i in range(n)]
    net = cost.sum(axis=1)
    kw = {"not_applicable": na, "net_cost": net, "references": refs}
    got = sensitivity(
        scores,
        w,
        samples=300,
        concentration=30.0,
        seed=9,
        top_k=7,
        problem=problem,
        chunk_elements=700,
        switching=False,
        keep_rank_counts=True,
        **kw,
    )
    pct, top, sel = reference(scores, w, 300, 30.0, 9, 7, problem, **kw)
    ranks = np.stack([rank(scores, d, **kw).rank for d in dirichlet_weights(w, 300, 30.0, 9)])
    assert np.array_equal(got.rank_counts, [np.bincount(r - 1, minlength=n) for r in ranks.T])
    assert np.array_equal(got.rank_percentiles, pct)
    assert np.array_equal(got.p_top_k, top)
    assert np.allclose(got.p_selected, sel, atol=1e-15)
    assert got.samples == 300 and got.percentiles == (5.0, 50.0, 95.0)


@pytest.mark.parametrize("forced", ["none", "must_fund_and_exclude", "overspent"])
@pytest.mark.parametrize("variant", [{}, {"duplicates": True, "na": True, "incomplete": True}])
def test_selection_probability_without_dependencies_matches_the_walk_draw_by_draw(
    monkeypatch, forced, variant
):
    # without dependencies or exclusive groups the walks run on the listing's slots, many draws at
    # once, in batches; each draw must still fund what budget_walk funds down that draw's ranking
    monkeypatch.setattr(sensitivity_module, "_WALK_CELLS", 40 * 64)  # several batches of 64 draws
    rng = np.random.default_rng(len(variant) + 3 * len(forced))
    n = 40
    scores, na, w, cost = random_case(rng, n, **variant)
    budgets = tuple(int(b) for b in np.maximum(cost, 0).sum(0) // 3)
    must, exclude = (), ()
    if forced == "must_fund_and_exclude":
        must, exclude = (3, 17), (5,)
    elif forced == "overspent":
        must = (0, 1)
        cost[list(must)] = np.array(budgets) // 2 + 1000
    problem = SelectionProblem(
        scores=np.zeros(n), net_cost=cost, budgets=budgets, must_fund=must, exclude=exclude
    )
    refs = [f"P-{i:02d}" for i in range(n)]
    kw = {"not_applicable": na, "net_cost": cost.sum(axis=1), "references": refs}
    got = sensitivity(
        scores, w, samples=300, concentration=30.0, seed=5, top_k=7, problem=problem, switching=False, **kw
    )
    pct, top, sel = reference(scores, w, 300, 30.0, 5, 7, problem, **kw)
    assert np.array_equal(got.rank_percentiles, pct)
    assert np.array_equal(got.p_top_k, top)
    assert np.allclose(got.p_selected, sel, atol=1e-15)
    assert got.p_selected[list(must)].tolist() == [1.0] * len(must)


def test_results_do_not_depend_on_chunking(monkeypatch):
    rng = np.random.default_rng(4)
    scores, _, w, _ = random_case(rng, 50, duplicates=True)
    a = sensitivity(scores, w, samples=500, seed=1, switching=False)
    monkeypatch.setattr(sensitivity_module, "_HISTOGRAM_BUFFER", 1)  # flush the rank histogram every chunk
    b = sensitivity(scores, w, samples=500, seed=1, switching=False, chunk_elements=123)
    assert np.array_equal(a.rank_percentiles, b.rank_percentiles)
    assert np.array_equal(a.p_top_k, b.p_top_k)


def test_custom_selector():
    rng = np.random.default_rng(6)
    scores, _, w, _ = random_case(rng, 20)

    def top_three(weighted, orders):
        chosen = np.zeros(weighted.shape, dtype=bool)
        np.put_along_axis(chosen, orders[:, :3], True, axis=1)
        return chosen

    got = sensitivity(scores, w, samples=200, seed=3, top_k=3, selector=top_three, switching=False)
    # scores with thirds and halves can tie, so compare with listing positions, not ranks
    positions = np.zeros(20)
    for draw in dirichlet_weights(w, 200, 100.0, 3):
        positions[rank(scores, draw).order[:3]] += 1
    assert np.allclose(got.p_selected, positions / 200)


def test_switching_values_by_hand():
    # W_A = 100 t and W_B = 100 (1 - t) along principle 1: they cross at t = 0.5
    scores = np.array([[5.0, 0.0], [0.0, 5.0]])
    got = sensitivity(scores, [0.6, 0.4], samples=10, top_k=1)
    one, two = got.switching
    assert one.principle == 1 and one.weight == pytest.approx(0.6)
    assert one.top_k.low == pytest.approx(0.5, abs=1e-9) and one.top_k.high == 1.0
    assert two.top_k.low == 0.0 and two.top_k.high == pytest.approx(0.5, abs=1e-9)
    assert one.selection is None
    # with a budget that funds one of the two, the selection switches at the same point
    problem = SelectionProblem(scores=[0, 0], net_cost=[[10], [10]], budgets=(15,))
    got = sensitivity(scores, [0.6, 0.4], samples=10, top_k=1, problem=problem)
    assert got.switching[0].selection.low == pytest.approx(0.5, abs=1e-9)
    assert got.switching[0].selection.high == 1.0 and got.switching[0].selection.exact


def test_switching_undefined_for_the_only_weighted_principle():
    got = sensitivity(np.array([[5.0, 0.0], [1.0, 5.0]]), [1.0, 0.0], samples=5, top_k=1)
    assert got.switching[0].top_k is None and got.switching[0].selection is None
    assert got.switching[1].top_k.low == 0.0


def weights_at(w, p, t):
    out = w * (1 - t) / (1 - w[p])
    out[p] = t
    return out


def probe(sv, w, p, k, scores, na, net, problem):
    """Check both intervals of one principle by evaluating rank() and the greedy walk around them."""

    def order_at(t):
        return rank(scores, weights_at(w, p, t), not_applicable=na, net_cost=net).order

    probes = [
        (sv.top_k, lambda t: frozenset(order_at(t)[:k].tolist())),
        (sv.selection, lambda t: greedy_select(problem, order_at(t)).selected),
    ]
    for interval, state in probes:
        base = state(w[p])
        low, high = interval.low, interval.high
        assert low <= w[p] <= high and interval.exact
        for t in np.linspace(low, high, 13)[1:-1]:
            assert state(t) == base
        # just past each end (inside the open interval (0, 1)) the set differs; the change may last only
        # while curves cross, so look at a few distances
        steps = (1e-11, 1e-10, 1e-9, 1e-8, 1e-7)
        if low > 0:
            assert any(state(low - min(d, low / 2)) != base for d in steps)
        if high < 1:
            assert any(state(high + min(d, (1 - high) / 2)) != base for d in steps)
    # the overtaking named at each end of the top-k interval: just past it, that one is in and the other out
    top = probes[0][1]
    for end, overtaking, sign in ((sv.top_k.high, sv.top_k_rising, 1), (sv.top_k.low, sv.top_k_falling, -1)):
        if (end >= 1) if sign > 0 else (end <= 0):
            assert overtaking is None
            continue
        assert overtaking is not None and overtaking.weight == end
        assert overtaking.leaves in top(w[p]) and overtaking.enters not in top(w[p])
        past = [top(end + sign * min(d, (1 - end) / 2 if sign > 0 else end / 2)) for d in steps]
        assert any(overtaking.enters in s and overtaking.leaves not in s for s in past)
    return len(probes)


def test_switching_values_probe_on_random_cases():
    rng = np.random.default_rng(11)
    checked = 0
    for case in range(36):
        n = int(rng.integers(3, 16))
        scores, na, w, cost = random_case(
            rng,
            n,
            k=int(rng.integers(2, 5)),
            na=case % 3 == 0,
            incomplete=case % 4 == 1,
            duplicates=case % 5 == 2 and n > 4,
        )
        if case % 7 == 3:
            w[0] = 0.0
            w /= w.sum()
        k = int(rng.integers(1, n))
        net = cost.sum(axis=1)
        problem = SelectionProblem(
            scores=np.zeros(n),
            net_cost=cost,
            budgets=tuple(int(b) for b in np.maximum(cost, 0).sum(0) // 2),
            dependencies=[tuple(int(i) for i in rng.choice(n, 2, replace=False))],
        )
        got = sensitivity(scores, w, samples=5, top_k=k, problem=problem, not_applicable=na, net_cost=net)
        for sv in got.switching:
            p = sv.principle - 1
            if sv.top_k is None:  # the only weighted principle
                assert w[p] == 1.0 and sv.selection is None
                continue
            checked += probe(sv, w, p, k, scores, na, net, problem)
    assert checked > 200


def test_event_limit_marks_intervals_inexact():
    rng = np.random.default_rng(2)
    scores, _, w, cost = random_case(rng, 60)
    cost = np.abs(cost)
    problem = SelectionProblem(scores=np.zeros(60), net_cost=cost, budgets=(10**9, 10**9))  # funds everything
    got = sensitivity(scores, w, samples=5, problem=problem, max_events=3)
    assert all(sv.selection.low == 0.0 and sv.selection.high == 1.0 for sv in got.switching)
    problem = SelectionProblem(scores=np.zeros(60), net_cost=cost, budgets=(0, 0))
    got = sensitivity(scores, w, samples=5, problem=problem, max_events=1)
    assert any(not sv.selection.exact for sv in got.switching)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"top_k": -1}, "top_k"),
        ({"percentiles": (5, 101)}, "percentiles"),
        ({"problem": SelectionProblem(scores=[0], net_cost=[[1]], budgets=(1,))}, "problem"),
    ],
)
def test_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as info:
        sensitivity(np.zeros((2, 2)), [0.5, 0.5], samples=5, **kwargs)
    assert info.value.field == field
