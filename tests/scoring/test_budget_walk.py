"""The budget walk (brief Maths 10): one definition, checked against a plain-Python walk."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import BudgetWalk, SelectionProblem, budget_line, budget_walk, greedy_select
from scoring.errors import ScoringInputError

from .helpers import FAST


def python_walk(problem, order):
    """The documented walk with sets and Python ints: (funded set, reason by index)."""
    n = problem.n
    requires = {}
    for a, b in problem.dependencies:
        requires.setdefault(a, set()).add(b)
    required_by = {}
    for a, b in problem.dependencies:
        required_by.setdefault(b, set()).add(a)

    def closure(i):
        out, stack = {i}, [i]
        while stack:
            for b in requires.get(stack.pop(), ()):
                if b not in out:
                    out.add(b)
                    stack.append(b)
        return out

    forced = set()
    for i in problem.must_fund:
        forced |= closure(i)
    out = set(problem.exclude)
    consistent = True
    for g in problem.exclusive_groups:
        hit = forced.intersection(g)
        if len(hit) > 1:
            consistent = False
        elif hit:
            out |= set(g) - hit
    stack = list(out)
    while stack:
        for a in required_by.get(stack.pop(), ()):
            if a not in out:
                out.add(a)
                stack.append(a)
    if not consistent or forced & out:
        return set(), {i: "blocked" for i in range(n)}
    years = range(problem.n_years)
    taken = set(forced)
    reason = {i: "must_fund" for i in forced}
    spend = [sum(int(problem.net_cost[i, y]) for i in taken) for y in years]
    for i in order:
        if i in taken:
            reason.setdefault(i, "required")
            continue
        bundle = closure(i) - taken
        after = taken | bundle
        if (
            closure(i) & out
            or any(len(after.intersection(g)) > 1 for g in problem.exclusive_groups)
            or any(len(closure(i).intersection(g)) > 1 for g in problem.exclusive_groups)
        ):
            reason[i] = "blocked"
            continue
        cost = [sum(int(problem.net_cost[j, y]) for j in bundle) for y in years]
        if all(spend[y] + cost[y] <= problem.budgets[y] or cost[y] <= 0 for y in years):
            taken = after
            spend = [spend[y] + cost[y] for y in years]
            reason[i] = "funded"
        else:
            reason[i] = "does_not_fit"
    return taken, reason


@st.composite
def problems(draw):
    n = draw(st.integers(0, 8))
    years = draw(st.integers(1, 3))
    money = st.integers(-30, 60)
    net = [[draw(money) for _ in range(years)] for _ in range(n)]
    budgets = [draw(st.integers(0, 120)) for _ in range(years)]
    index = st.integers(0, max(n - 1, 0))
    must = draw(st.lists(index, max_size=2)) if n else []
    exclude = draw(st.lists(index, max_size=2)) if n else []
    deps = []
    if n > 1:
        for a, b in draw(st.lists(st.tuples(index, index), max_size=3)):
            if a != b:
                deps.append((a, b))
    groups = []
    if n > 2:
        for g in draw(st.lists(st.lists(index, min_size=2, max_size=3, unique=True), max_size=2)):
            groups.append(tuple(g))
    order = draw(st.permutations(list(range(n))))
    problem = SelectionProblem(
        scores=np.arange(n, 0, -1, dtype=float),
        net_cost=np.array(net, dtype=np.int64).reshape(n, years),
        budgets=tuple(budgets),
        must_fund=tuple(must),
        exclude=tuple(exclude),
        dependencies=tuple(deps),
        exclusive_groups=tuple(groups),
    )
    return problem, list(order)


@FAST
@given(problems())
def test_budget_walk_equals_a_plain_python_walk(case):
    problem, order = case
    walked = budget_walk(problem, order)
    funded, reason = python_walk(problem, order)
    assert walked.order == tuple(order)
    assert walked.funded == tuple(i in funded for i in range(problem.n))
    assert walked.skipped == tuple(i not in funded for i in range(problem.n))
    assert walked.reason == tuple(reason[i] for i in range(problem.n))
    positions = [p for p, i in enumerate(order) if i in funded]
    assert walked.last_funded_position == (positions[-1] if positions else None)
    spend = tuple(sum(int(problem.net_cost[i, y]) for i in funded) for y in range(problem.n_years))
    assert walked.spend == spend
    assert walked.headroom == tuple(b - s for b, s in zip(problem.budgets, spend, strict=True))
    assert all(type(v) is int for v in walked.spend + walked.headroom)
    # the greedy answer is the walk, summarised
    greedy = greedy_select(problem, order)
    assert greedy.selected == walked.selected == tuple(sorted(funded))
    assert (greedy.spend, greedy.headroom) == (walked.spend, walked.headroom)
    assert greedy.feasible == walked.feasible
    # and the many-rankings form gives the same row
    if problem.n:
        line = budget_line(problem, np.array([order, order[::-1]]))
        assert line[0].tolist() == list(walked.funded)
        assert line[1].tolist() == list(budget_walk(problem, order[::-1]).funded)


def test_a_proposal_that_does_not_fit_is_skipped_and_later_ones_are_still_funded():
    # the case: list A, B, C; B does not fit what A leaves, C does
    problem = SelectionProblem(
        scores=np.array([9.0, 8.0, 7.0]), net_cost=np.array([[40], [25], [10]]), budgets=(50,)
    )
    walked = budget_walk(problem, [0, 1, 2])
    assert isinstance(walked, BudgetWalk)
    assert walked.funded == (True, False, True)
    assert walked.skipped == (False, True, False)
    assert walked.reason == ("funded", "does_not_fit", "funded")
    assert walked.last_funded_position == 2  # the line is after C, not after A
    assert walked.spend == (50,) and walked.headroom == (0,)
    assert greedy_select(problem, [0, 1, 2]).selected == (0, 2)


def test_reasons_for_must_funds_prerequisites_and_constraints():
    problem = SelectionProblem(
        scores=np.array([5.0, 4.0, 3.0, 2.0, 1.0]),
        net_cost=np.array([[10], [10], [10], [10], [10]]),
        budgets=(40,),
        must_fund=(4,),
        exclude=(2,),
        dependencies=((0, 3),),
        exclusive_groups=((1, 4),),
    )
    walked = budget_walk(problem, [0, 1, 2, 3, 4])
    # 4 is forced; 0 pulls in 3; 1 shares a group with the forced 4; 2 is excluded
    assert walked.reason == ("funded", "blocked", "blocked", "required", "must_fund")
    assert walked.selected == (0, 3, 4) and walked.last_funded_position == 4
    assert walked.spend == (30,) and walked.feasible


def test_contradicting_constraints_fund_nothing():
    problem = SelectionProblem(
        scores=np.array([1.0, 2.0]), net_cost=np.array([[1], [1]]), budgets=(5,), must_fund=(0,), exclude=(0,)
    )
    walked = budget_walk(problem, [1, 0])
    assert walked.funded == (False, False) and walked.skipped == (True, True)
    assert walked.last_funded_position is None and not walked.feasible
    assert walked.reason == ("blocked", "blocked") and walked.headroom == (5,)


def test_empty_problem_and_nothing_fits():
    empty = SelectionProblem(scores=np.zeros(0), net_cost=np.zeros((0, 2), dtype=np.int64), budgets=(0, 0))
    walked = budget_walk(empty, [])
    assert walked.funded == () and walked.last_funded_position is None and walked.spend == (0, 0)
    poor = SelectionProblem(scores=np.ones(2), net_cost=np.array([[5], [6]]), budgets=(4,))
    assert budget_walk(poor, [0, 1]).last_funded_position is None


@pytest.mark.parametrize("order", [[0, 0], [0], [0, 1, 2], [0.0, 1.0], "ab", [True, False]])
def test_order_must_list_every_proposal_once(order):
    problem = SelectionProblem(scores=np.ones(2), net_cost=np.array([[5], [6]]), budgets=(4,))
    with pytest.raises(ScoringInputError) as err:
        budget_walk(problem, order)
    assert err.value.field == "order"


@FAST
@given(problems(), st.integers(0, 2**32 - 1))
def test_budget_line_over_many_lists_equals_one_walk_per_list(case, seed):
    # budget_line walks every list at once (a faster layout when there are no dependencies or
    # exclusive groups); budget_walk walks one list, reporting why. They must fund the same proposals.
    problem, _ = case
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(problem.n) for _ in range(7)], dtype=np.int64).reshape(7, problem.n)
    line = budget_line(problem, orders)
    assert line.shape == (7, problem.n) and line.dtype == bool
    for row, order in zip(line, orders, strict=True):
        assert row.tolist() == list(budget_walk(problem, order).funded)


@pytest.mark.parametrize("overspent", [False, True])
@pytest.mark.parametrize("years", [1, 3, 6])
def test_budget_line_at_scale_equals_one_walk_per_list(overspent, years):
    # larger lists than hypothesis draws: savings (negative net costs), must-funds and exclusions, and
    # must-funds that alone overspend (then a proposal that does not raise a year's spend still goes in)
    rng = np.random.default_rng(years + 10 * overspent)
    n = 80
    net = rng.integers(-20_000, 90_000, (n, years))
    budgets = net.clip(0).sum(axis=0) // 3
    must = (0, 1, 2) if overspent else (5,)
    if overspent:
        net[list(must)] = budgets // 2 + 1
    problem = SelectionProblem(
        scores=rng.uniform(0, 100, n), net_cost=net, budgets=tuple(budgets), must_fund=must, exclude=(7, 8)
    )
    orders = np.array([rng.permutation(n) for _ in range(40)])
    line = budget_line(problem, orders)
    for row, order in zip(line, orders, strict=True):
        walked = budget_walk(problem, order)
        assert row.tolist() == list(walked.funded)
    assert line[:, list(must)].all() and not line[:, [7, 8]].any()
