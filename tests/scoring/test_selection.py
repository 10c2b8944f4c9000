"""Budget-constrained selection (brief Maths 7) against brute force, with exact integer money."""

import itertools
import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scoring.selection as selection_module
from scoring.errors import ScoringInputError
from scoring.selection import (
    Constraint,
    SelectionProblem,
    efficient_frontier,
    greedy_select,
    portfolio,
    select,
)

from .helpers import FAST


def all_subsets(n):
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)


def feasible_mask(problem, subsets, constraints=None):
    constraints = problem.constraints() if constraints is None else constraints
    ok = np.ones(len(subsets), dtype=bool)
    spend = subsets.astype(np.int64) @ problem.net_cost
    for c in constraints:
        if c.kind == "must_fund":
            ok &= subsets[:, c.proposals[0]]
        elif c.kind == "exclude":
            ok &= ~subsets[:, c.proposals[0]]
        elif c.kind == "dependency":
            ok &= ~subsets[:, c.proposals[0]] | subsets[:, c.proposals[1]]
        elif c.kind == "exclusive":
            ok &= subsets[:, list(c.proposals)].sum(axis=1) <= 1
        else:
            ok &= spend[:, c.index] <= problem.budgets[c.index]
    return ok


def random_problem(rng, n, years):
    scores = np.round(rng.random(n) * 100, 2)
    # costs loosely follow scores so the knapsack is not trivial; some proposals save money
    cost = ((20 + scores[:, None] * rng.uniform(0.5, 1.5, (n, years))) * 10_000).astype(np.int64)
    saving = (cost * rng.uniform(0, 0.6, (n, years)) * (rng.random((n, 1)) < 0.4)).astype(np.int64)
    saving[rng.random(n) < 0.1] += 2_000_000  # occasionally a net saving
    net = cost - saving
    budgets = tuple(int(b) for b in np.maximum(net, 0).sum(axis=0) * rng.uniform(0.3, 0.7, years))
    pick = lambda k: [int(i) for i in rng.choice(n, size=min(k, n), replace=False)]  # noqa: E731
    must = pick(rng.integers(0, 3)) if rng.random() < 0.5 else []
    exclude = pick(rng.integers(0, 3)) if rng.random() < 0.5 else []
    deps = [tuple(pick(2)) for _ in range(rng.integers(0, 4))] if n > 1 else []
    groups = [tuple(pick(rng.integers(2, 4))) for _ in range(rng.integers(0, 3))] if n > 2 else []
    return SelectionProblem.from_costs(
        scores,
        cost,
        budgets,
        saving=saving,
        must_fund=must,
        exclude=exclude,
        dependencies=deps,
        exclusive_groups=groups,
    )


def test_selection_equals_brute_force_on_random_instances():
    rng = np.random.default_rng(20261128)
    infeasible = 0
    for _ in range(220):
        problem = random_problem(rng, int(rng.integers(1, 17)), int(rng.integers(1, 4)))
        subsets = all_subsets(problem.n)
        ok = feasible_mask(problem, subsets)
        result = select(problem)
        if not ok.any():
            infeasible += 1
            assert result.status == "infeasible" and result.selected == ()
            diagnosis = result.diagnosis
            assert diagnosis is not None and diagnosis.minimal
            # the named constraints really conflict, and dropping any one of them resolves it
            assert not feasible_mask(problem, subsets, diagnosis.constraints).any()
            for k in range(len(diagnosis.constraints)):
                rest = diagnosis.constraints[:k] + diagnosis.constraints[k + 1 :]
                assert feasible_mask(problem, subsets, rest).any()
            continue
        best = (subsets[ok].astype(float) @ problem.scores).max()
        assert result.status == "optimal"
        assert result.objective == pytest.approx(best, abs=1e-6)
        assert problem.violations(result.selected) == ()
        spend = [sum(int(problem.net_cost[i, y]) for i in result.selected) for y in range(problem.n_years)]
        assert list(result.spend) == spend
        assert list(result.headroom) == [b - s for b, s in zip(problem.budgets, spend, strict=True)]
        assert result.gap is not None and result.gap <= 1e-6
    assert infeasible >= 15  # the generator does produce infeasible requests


def problem_4(**kwargs):
    return SelectionProblem(scores=[5, 4, 3, 2], net_cost=[[10], [20], [30], [40]], budgets=(50,), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"must_fund": [0], "exclude": [0]}, {("exclude", (0,)), ("must_fund", (0,))}),
        (
            {"must_fund": [0], "dependencies": [(0, 2)], "exclude": [2]},
            {("must_fund", (0,)), ("dependency", (0, 2)), ("exclude", (2,))},
        ),
        (
            {"must_fund": [1, 2], "exclusive_groups": [(0, 1, 2)]},
            {("must_fund", (1,)), ("must_fund", (2,)), ("exclusive", (0, 1, 2))},
        ),
        ({"must_fund": [2, 3]}, {("must_fund", (2,)), ("must_fund", (3,)), ("budget", ())}),
        (
            {"must_fund": [0, 1], "dependencies": [(1, 3), (0, 1)]},
            {("must_fund", (1,)), ("dependency", (1, 3)), ("budget", ())},
        ),
    ],
)
def test_infeasible_requests_name_the_conflict(kwargs, expected):
    result = select(problem_4(**kwargs))
    assert result.status == "infeasible"
    assert {(c.kind, c.proposals) for c in result.diagnosis.constraints} == expected
    text = result.diagnosis.describe(names=["A", "B", "C", "D"], years=["2022-23"])
    assert text.startswith("these constraints cannot all hold")


def test_empty_and_negative_budget_edge_cases():
    empty = SelectionProblem(scores=[], net_cost=np.zeros((0, 2), dtype=np.int64), budgets=(5, 6))
    result = select(empty)
    assert result.status == "optimal" and result.selected == () and result.headroom == (5, 6)
    assert greedy_select(empty).feasible and efficient_frontier(empty, [100])[0].objective == 0.0
    # a negative budget no proposal can meet
    result = select(SelectionProblem(scores=[1.0], net_cost=[[5]], budgets=(-1,)))
    assert result.status == "infeasible"
    assert result.diagnosis.constraints == (Constraint("budget", (), 0),)
    assert "budget" in result.diagnosis.reason
    # ... which a money-saving proposal can meet
    result = select(SelectionProblem(scores=[1.0, 0.0], net_cost=[[5], [-3]], budgets=(-1,)))
    assert result.status == "optimal" and result.selected == (1,) and result.headroom == (2,)


def test_net_savings_can_rescue_a_must_fund():
    # must-fund 3 costs 40 > 30, but proposal 1 saves 20 and may be funded
    problem = SelectionProblem(
        scores=[5, 4, 3, 2], net_cost=[[10], [-20], [30], [40]], budgets=(30,), must_fund=[3], exclude=[0]
    )
    result = select(problem)
    assert result.status == "optimal" and result.selected == (1, 3) and result.spend == (20,)
    # saving of only 5: infeasible, and the diagnosis is just the must-fund and the budget
    problem = SelectionProblem(
        scores=[5, 4, 3, 2], net_cost=[[10], [-5], [30], [40]], budgets=(30,), must_fund=[3]
    )
    result = select(problem)
    assert result.status == "infeasible"
    assert set(result.diagnosis.constraints) == {Constraint("must_fund", (3,)), Constraint("budget", (), 0)}


def reference_greedy(problem, order):
    """The documented greedy rules, written out with sets and Python ints."""
    requires = {}
    for a, b in problem.dependencies:
        requires.setdefault(a, set()).add(b)

    def closure(i):
        out, stack = {i}, [i]
        while stack:
            for b in requires.get(stack.pop(), ()):
                if b not in out:
                    out.add(b)
                    stack.append(b)
        return out

    forced = set().union(*(closure(i) for i in problem.must_fund)) if problem.must_fund else set()
    out_ = set(problem.exclude)
    for g in problem.exclusive_groups:
        hit = forced.intersection(g)
        if len(hit) == 1:
            out_ |= set(g) - hit
    changed = True
    while changed:
        changed = False
        for a, b in problem.dependencies:
            if b in out_ and a not in out_:
                out_.add(a)
                changed = True
    taken = set(forced)
    spend = [sum(int(problem.net_cost[i, y]) for i in taken) for y in range(problem.n_years)]
    for i in order:
        if i in taken:
            continue
        bundle = closure(i) - taken
        if bundle & out_:
            continue
        after = taken | bundle
        if any(len(after.intersection(g)) > 1 for g in problem.exclusive_groups):
            continue
        if any(len(closure(i).intersection(g)) > 1 for g in problem.exclusive_groups):
            continue
        cost = [sum(int(problem.net_cost[j, y]) for j in bundle) for y in range(problem.n_years)]
        if all(spend[y] + cost[y] <= problem.budgets[y] or cost[y] <= 0 for y in range(problem.n_years)):
            taken = after
            spend = [spend[y] + cost[y] for y in range(problem.n_years)]
    return tuple(sorted(taken))


def test_greedy_follows_its_documented_rules():
    rng = np.random.default_rng(99)
    checked = 0
    for _ in range(200):
        problem = random_problem(rng, int(rng.integers(1, 14)), int(rng.integers(1, 4)))
        order = rng.permutation(problem.n)
        result = greedy_select(problem, order)
        logic = selection_module._logic_of(problem)
        if not logic.consistent:
            assert result.selected == () and not result.feasible
            continue
        checked += 1
        assert result.selected == reference_greedy(problem, order.tolist())
        assert result.feasible == (problem.violations(result.selected) == ())
        assert result.objective == pytest.approx(problem.scores[list(result.selected)].sum())
        optimum = select(problem)
        if result.feasible and optimum.status == "optimal":
            assert result.objective <= optimum.objective + 1e-9
    assert checked > 100


def test_greedy_pulls_in_prerequisites_and_skips_what_does_not_fit():
    problem = problem_4(dependencies=[(0, 3)])
    # order 0, 1, 2, 3: bundle {0, 3} costs 50 and fills the budget; 1 and 2 no longer fit
    assert greedy_select(problem).selected == (0, 3)
    assert greedy_select(problem_4(exclusive_groups=[(0, 1)])).selected == (0, 2)


def test_frontier_matches_brute_force():
    rng = np.random.default_rng(3)
    problem = random_problem(rng, 10, 2)
    problem = SelectionProblem(scores=problem.scores, net_cost=problem.net_cost, budgets=problem.budgets)
    subsets = all_subsets(problem.n)
    points = efficient_frontier(problem)
    assert [p.percent for p in points] == list(range(0, 151, 10))
    objectives = []
    for point in points:
        budgets = tuple(b * point.percent // 100 for b in problem.budgets)
        assert point.budgets == budgets
        scaled = problem.with_budgets(budgets)
        ok = feasible_mask(scaled, subsets)
        best = (subsets[ok].astype(float) @ problem.scores).max()
        assert point.objective == pytest.approx(best, abs=1e-6)
        objectives.append(point.objective)
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(objectives))


def test_frontier_reports_infeasible_points():
    points = efficient_frontier(problem_4(must_fund=[3]), percents=[0, 50, 80, 100])
    assert [p.status for p in points] == ["infeasible", "infeasible", "optimal", "optimal"]
    assert points[0].objective is None and points[2].objective == pytest.approx(2.0)
    assert points[3].objective == pytest.approx(7.0)


def test_money_is_exact_integer_pence():
    # an exact fit and a one-penny overshoot at about 11 billion pounds
    big = 2**40
    problem = SelectionProblem(
        scores=[3, 2, 1], net_cost=[[big + 1], [big - 1], [1]], budgets=(2 * big,), dependencies=[]
    )
    result = select(problem)
    assert result.selected == (0, 1) and result.spend == (2 * big,) and result.headroom == (0,)
    # one penny over budget must be refused
    problem = SelectionProblem(scores=[3, 2], net_cost=[[big + 1], [big]], budgets=(2 * big,))
    result = select(problem)
    assert result.selected == (0,) and result.headroom == (big - 1,)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"net_cost": [[1.5], [2.0]]}, "net_cost"),
        ({"budgets": (10.0,)}, "budgets"),
        ({"net_cost": [[True], [False]]}, "net_cost"),
        ({"net_cost": [[2**60], [1]]}, "net_cost"),
        ({"net_cost": [[2**52], [2**52]]}, "net_cost"),
        ({"net_cost": [[1, 2], [3, 4]]}, "net_cost"),
        ({"must_fund": [5]}, "must_fund[0]"),
        ({"dependencies": [(0, 0)]}, "dependencies[0]"),
        ({"exclusive_groups": [(0, 0)]}, "exclusive_groups[0]"),
        ({"scores": [1.0, np.nan]}, "scores"),
    ],
)
def test_validation(kwargs, field):
    base = {"scores": [1.0, 2.0], "net_cost": [[1], [2]], "budgets": (10,)}
    with pytest.raises(ScoringInputError) as info:
        SelectionProblem(**{**base, **kwargs})
    assert info.value.field == field


def test_amounts_beyond_the_solver_range_are_refused():
    problem = SelectionProblem(scores=[1.0, 2.0], net_cost=[[2**47 + 1], [1]], budgets=(2**47,))
    with pytest.raises(ScoringInputError) as info:
        select(problem)
    assert info.value.field == "budgets"
    # whole-pound amounts are divided by 100 first, so this larger figure is fine
    problem = SelectionProblem(scores=[2.0, 1.0], net_cost=[[2**45 * 100], [100]], budgets=(2**45 * 100,))
    assert select(problem).selected == (0,)


def test_rounded_solver_answer_over_budget_is_cut_off_and_resolved(monkeypatch):
    # Simulate a solver that accepts an answer a float tolerance lets exceed the budget by 1p.
    problem = SelectionProblem(scores=[10, 9, 1], net_cost=[[50], [51], [49]], budgets=(100,))
    real_run = selection_module._run
    real_highs = selection_module._highs
    calls = []

    def counting_highs(problem, active, **kwargs):
        built = real_highs(problem, active, **kwargs)
        calls.append(built[0].getNumRow())
        return built

    def sloppy_run(h, n, *args):
        result = real_run(h, n, *args)
        if len(calls) == 1:
            # 101p against a budget of 100p
            return selection_module._Solve(result.status, np.array([True, True, False]), 0.0, result.bound)
        return result

    monkeypatch.setattr(selection_module, "_highs", counting_highs)
    monkeypatch.setattr(selection_module, "_run", sloppy_run)
    result = select(problem)
    assert result.cuts == 1 and calls[1] == calls[0] + 1
    assert result.status == "optimal" and result.selected in ((0, 2), (1, 2)) and result.spend[0] <= 100
    assert result.objective == pytest.approx(11.0)


def test_time_limit_returns_best_found_with_its_gap():
    rng = np.random.default_rng(8)
    n = 400
    scores = rng.uniform(10, 100, n)
    cost = (scores[:, None] * rng.uniform(0.9, 1.1, (n, 3)) * 1_000_000).astype(np.int64)
    problem = SelectionProblem(scores=scores, net_cost=cost, budgets=tuple(int(b) for b in cost.sum(0) // 2))
    result = select(problem, time_limit=0.02)
    assert result.status in ("time_limit", "optimal")
    assert problem.violations(result.selected) == ()
    if result.status == "time_limit" and result.gap is not None:
        assert result.gap >= 0 and result.bound >= result.objective - 1e-6


def test_portfolio_bundles_the_three_answers():
    out = portfolio(problem_4(), frontier_percents=[100])
    assert out.selection.selected == (0, 1) and out.greedy.selected == (0, 1)
    assert out.frontier[0].objective == pytest.approx(out.selection.objective)


@FAST
@given(
    st.lists(
        st.tuples(st.floats(0, 100), st.lists(st.integers(-(10**12), 10**13), min_size=2, max_size=2)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.integers(0, 5 * 10**13), min_size=2, max_size=2),
)
def test_selection_never_exceeds_a_budget(rows, budgets):
    scores = [r[0] for r in rows]
    net = [r[1] for r in rows]
    problem = SelectionProblem(scores=scores, net_cost=net, budgets=tuple(budgets))
    result = select(problem, time_limit=5)
    assert result.status == "optimal"
    for y in range(2):
        assert sum(net[i][y] for i in result.selected) <= budgets[y]
    assert greedy_select(problem).feasible
    for y in range(2):
        assert sum(net[i][y] for i in greedy_select(problem).selected) <= budgets[y]


def test_solver_output_goes_to_the_debug_log_never_to_stdout(capfd, caplog):
    rng = np.random.default_rng(3)
    n = 60
    scores = rng.uniform(1, 100, n)
    cost = rng.integers(1, 1000, (n, 2))
    problem = SelectionProblem(scores=scores, net_cost=cost, budgets=tuple(int(b) for b in cost.sum(0) // 3))
    select(problem)
    efficient_frontier(problem, [50, 100])
    assert capfd.readouterr() == ("", "")
    assert not [r for r in caplog.records if r.name == "scoring.selection"]
    with caplog.at_level(logging.DEBUG, logger="scoring.selection"):
        select(problem)
    lines = [r for r in caplog.records if r.name == "scoring.selection"]
    assert lines and all(r.levelno == logging.DEBUG for r in lines)
    assert any("HiGHS" in r.getMessage() for r in lines)
    assert capfd.readouterr() == ("", "")


def test_frontier_shares_one_time_budget_and_warm_starts_give_the_same_optima():
    rng = np.random.default_rng(11)
    n = 40
    scores = rng.uniform(1, 100, n)
    cost = rng.integers(1, 1000, (n, 3))
    problem = SelectionProblem(scores=scores, net_cost=cost, budgets=tuple(int(b) for b in cost.sum(0) // 2))
    best = select(problem)
    points = efficient_frontier(problem, [150, 0, 50, 100, 50], optimum=best)
    assert [p.percent for p in points] == [150, 0, 50, 100, 50]
    for p in points:
        alone = select(problem.with_budgets(p.budgets))
        assert p.status == alone.status == "optimal"
        assert p.objective == pytest.approx(alone.objective, abs=1e-6)
        assert not problem.with_budgets(p.budgets).violations(p.selected)
    assert points[3].objective == best.objective and points[3].selected == best.selected
    # a budget of no time at all still answers every point, each with a set that keeps its budgets
    hurried = efficient_frontier(problem, time_limit=0.0)
    assert len(hurried) == 16
    for p in hurried:
        assert p.objective is not None and not problem.with_budgets(p.budgets).violations(p.selected)
