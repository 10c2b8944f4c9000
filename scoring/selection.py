"""Budget-constrained selection of proposals (brief Maths 7).

Problem: binary ``x[i]`` maximising ``sum_i W[i] * x[i]`` subject to, for every financial year ``y``,
``sum_i net[i, y] * x[i] <= budget[y]`` with ``net = cost - saving``; ``x[i] = 1`` for must-fund,
``x[i] = 0`` for excluded; a dependency ``a -> b`` ("a requires b") means ``x[a] <= x[b]``; a mutually
exclusive group means ``sum_{i in group} x[i] <= 1``.

Money is integer pence throughout (Python ints / int64), never floats: spend, headroom and every budget
check are integer sums. Amounts and per-year totals must stay below 2**53 pence (checked on input). The
integer programme is solved by HiGHS through its own Python interface (``highspy``, pinned), which
works in binary floating point: money enters it divided by the greatest common divisor of all amounts
(exact; 100 when everything is in whole pounds), and per-year totals must then stay within 2**46 (about
7e13) so HiGHS's tolerances stay far below one unit -- larger requests are refused with a
:class:`ScoringInputError`. HiGHS accepts solutions within small feasibility and integrality tolerances,
so every answer is re-checked with exact integer arithmetic after rounding; should a rounded answer
break a budget, that exact set is cut off (a "no-good" constraint removing only that 0/1 point) and the
programme re-solved, so no exactly feasible set is ever lost.

Statuses: ``optimal`` (proven; ``gap`` is HiGHS's relative gap, 0 up to its 1e-6 absolute tolerance),
``time_limit`` (best set found when the limit hit, with the proven relative gap to the bound; if no set
was found, the greedy answer when it is feasible, else an empty selection with ``gap=None``),
``infeasible`` (with a diagnosis).

Infeasibility diagnosis: first a cheap exact check -- propagate must-funds forward along dependencies and
exclusions backward, exclusive-group partners of forced proposals become excluded; a clash is infeasible;
otherwise "fund exactly the forced set" satisfies every logical constraint, and it is also the cheapest
choice in every year unless some free proposal has a negative net cost that year. Only when that does not
settle it is the integer programme asked. A minimal conflicting subset of constraints is then found by
deletion filtering: each constraint in turn (dependencies, exclusive groups, exclusions, must-funds,
budgets) is dropped for good if the rest is still infeasible; what remains is irreducible -- removing any
one of its constraints makes the problem feasible.

Budget walk (brief Maths 10; one definition: :func:`budget_walk` for one ranked list, :func:`budget_line`
for many at once, both running :func:`_advance`; :func:`greedy_select` and sensitivity use them): start
from the forced set (must-funds and everything they require); walk the ranked list; for each
proposal not yet taken, form its *bundle* -- itself plus every proposal it requires, directly or
indirectly, not yet taken -- and take the whole bundle when (1) no member is excluded or forced out,
(2) no exclusive group would then hold two taken proposals, and (3) in every year the bundle either fits
the remaining headroom or does not increase that year's spend. Otherwise skip it (marked: it does not fit,
or a constraint blocks it) and go on -- a proposal further down that fits is still funded. A proposal
pulled in by a bundle is funded even though it ranks lower. The answer is ``feasible`` when it keeps
every budget; when the constraints contradict each other nothing is funded.

Efficient frontier (:func:`efficient_frontier`): the optimal objective with every year's budget scaled to
``floor(budget * percent / 100)`` for percent = 0, 10, ..., 150, keeping all other constraints; one model,
its budgets moved from point to point, each solve started from the set of the point below, under one time
budget shared by all points.

Solver output: HiGHS writes nothing to stdout or stderr; when this module's logger
(``scoring.selection``) is enabled for DEBUG, its lines go there. One solve runs at a time in a process
(a lock): HiGHS instances share a task scheduler.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import highspy
import numpy as np

from .errors import ScoringError, ScoringInputError
from .rules import frozen

SelectionStatus = Literal["optimal", "time_limit", "infeasible"]
ConstraintKind = Literal["must_fund", "exclude", "dependency", "exclusive", "budget"]
MAX_EXACT: Final = 2**53
SOLVER_MONEY_LIMIT: Final = 2**46  # per-year totals HiGHS handles reliably (after dividing by the gcd)
DEFAULT_PERCENTS: Final[tuple[int, ...]] = tuple(range(0, 151, 10))
_MAX_CUTS: Final = 50
_NEVER: Final = 2**62  # a cost no headroom meets (amounts stay below 2**53 in magnitude)
_log = logging.getLogger(__name__)
# One solve at a time in a process: HiGHS shares a task scheduler between its instances.
_SOLVER_LOCK = threading.Lock()


@dataclass(frozen=True)
class Constraint:
    """One constraint of a selection problem, identified for diagnosis.

    ``proposals`` are indices: ``(i,)`` for must-fund/exclude, ``(a, b)`` for "a requires b", the members
    of an exclusive group, ``()`` for a budget. ``index`` is the position of the constraint in its input
    list (dependency, exclusive group) or the year index (budget).
    """

    kind: ConstraintKind
    proposals: tuple[int, ...]
    index: int | None = None

    def describe(self, names: Sequence[str] | None = None, years: Sequence[str] | None = None) -> str:
        """Plain-words description, naming proposals/years by ``names``/``years`` when given."""

        def name(i: int) -> str:
            return names[i] if names is not None else f"proposal {i}"

        if self.kind == "must_fund":
            return f"{name(self.proposals[0])} must be funded"
        if self.kind == "exclude":
            return f"{name(self.proposals[0])} is excluded"
        if self.kind == "dependency":
            return f"{name(self.proposals[0])} requires {name(self.proposals[1])}"
        if self.kind == "exclusive":
            return "at most one of " + ", ".join(name(i) for i in self.proposals)
        year = years[self.index] if years is not None and self.index is not None else f"year {self.index}"
        return f"the budget of {year}"


@dataclass(frozen=True)
class Infeasibility:
    """Why a selection problem has no solution: a conflicting subset of its constraints.

    ``minimal`` is True when the subset is proven irreducible (always, unless a sub-check timed out).
    """

    constraints: tuple[Constraint, ...]
    reason: str
    minimal: bool

    def describe(self, names: Sequence[str] | None = None, years: Sequence[str] | None = None) -> str:
        return "these constraints cannot all hold: " + "; ".join(
            c.describe(names, years) for c in self.constraints
        )


def _money(value: object, field_name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:
        flat = arr.reshape(-1).tolist()
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in flat):
            raise ScoringInputError(field_name, "money must be integer pence")
        if any(abs(int(v)) >= MAX_EXACT for v in flat):
            raise ScoringInputError(field_name, "amount too large (limit 2**53 pence)")
        arr = np.array([int(v) for v in flat], dtype=np.int64).reshape(arr.shape)
    elif arr.dtype.kind == "b" or arr.dtype.kind not in "iu":
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)
        else:
            raise ScoringInputError(field_name, "money must be integer pence (no floats)")
    if arr.dtype.kind == "u" and arr.size and arr.max() >= MAX_EXACT:
        raise ScoringInputError(field_name, "amount too large (limit 2**53 pence)")
    arr = arr.astype(np.int64)
    if arr.size and (arr.max() >= MAX_EXACT or arr.min() <= -MAX_EXACT):
        raise ScoringInputError(field_name, "amount too large (limit 2**53 pence)")
    if shape is not None and arr.shape != shape:
        raise ScoringInputError(field_name, f"expected shape {shape}, got {arr.shape}")
    return arr


def _indices(values: Iterable[object], n: int, field_name: str) -> tuple[int, ...]:
    out = []
    for k, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 0 <= int(v) < n:
            raise ScoringInputError(f"{field_name}[{k}]", f"{v!r} is not a proposal index (0..{n - 1})")
        out.append(int(v))
    return tuple(out)


@dataclass(frozen=True)
class SelectionProblem:
    """A selection problem. Build with ``SelectionProblem(scores=..., net_cost=..., budgets=...)`` or
    :meth:`from_costs`; inputs are validated and normalised.

    Attributes:
        scores: ``W`` per proposal, shape ``(n,)`` (any finite floats; the objective).
        net_cost: ``(n, Y)`` int64 pence, cost minus saving per financial year.
        budgets: ``Y`` ints, pence.
        must_fund, exclude: proposal indices.
        dependencies: ``(a, b)`` pairs, "a requires b".
        exclusive_groups: tuples of proposal indices, at most one of each funded.
    """

    scores: np.ndarray
    net_cost: np.ndarray
    budgets: tuple[int, ...]
    must_fund: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    dependencies: tuple[tuple[int, int], ...] = ()
    exclusive_groups: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        scores = np.array(self.scores, dtype=np.float64).reshape(-1)
        if not np.isfinite(scores).all():
            raise ScoringInputError("scores", "scores must be finite")
        n = scores.size
        budgets = _money(list(self.budgets), "budgets")
        if budgets.ndim != 1:
            raise ScoringInputError("budgets", "expected one budget per financial year")
        net = _money(self.net_cost, "net_cost")
        if net.ndim == 1 and budgets.size == 1:
            net = net.reshape(-1, 1)
        if net.shape != (n, budgets.size):
            raise ScoringInputError("net_cost", f"expected shape {(n, budgets.size)}, got {net.shape}")
        # Every partial sum of a year's net costs and every budget stays below 2**53 in magnitude, so
        # the solver's floats hold them exactly.
        if net.size and np.abs(net).sum(axis=0, dtype=np.int64).max() >= MAX_EXACT:
            raise ScoringInputError("net_cost", "amounts too large to be exact (limit 2**53 pence per year)")
        deps = []
        for k, dep in enumerate(self.dependencies):
            pair = _indices(dep, n, f"dependencies[{k}]")
            if len(pair) != 2:
                raise ScoringInputError(f"dependencies[{k}]", "a dependency is a (proposal, requires) pair")
            if pair[0] == pair[1]:
                raise ScoringInputError(f"dependencies[{k}]", "a proposal cannot require itself")
            deps.append((pair[0], pair[1]))
        groups = []
        for k, group in enumerate(self.exclusive_groups):
            members = _indices(group, n, f"exclusive_groups[{k}]")
            if len(set(members)) != len(members):
                raise ScoringInputError(f"exclusive_groups[{k}]", "a proposal is listed twice in the group")
            groups.append(tuple(members))
        # Money for the solver: divided by the greatest common divisor of every amount (exact), e.g. by
        # 100 when all amounts are whole pounds, to keep HiGHS's floats small.
        divisor = int(np.gcd.reduce(np.abs(np.concatenate([net.ravel(), budgets])))) if net.size else 1
        divisor = max(divisor, 1)
        object.__setattr__(self, "_solver_net", (net // divisor).astype(np.float64))
        object.__setattr__(self, "_solver_budgets", (budgets // divisor).astype(np.float64))
        object.__setattr__(self, "_solver_divisor", divisor)
        object.__setattr__(self, "scores", frozen(scores))
        object.__setattr__(self, "net_cost", frozen(net))
        object.__setattr__(self, "budgets", tuple(int(b) for b in budgets.tolist()))
        object.__setattr__(self, "must_fund", tuple(sorted(set(_indices(self.must_fund, n, "must_fund")))))
        object.__setattr__(self, "exclude", tuple(sorted(set(_indices(self.exclude, n, "exclude")))))
        object.__setattr__(self, "dependencies", tuple(deps))
        object.__setattr__(self, "exclusive_groups", tuple(groups))

    @classmethod
    def from_costs(
        cls,
        scores: object,
        cost: object,
        budgets: Sequence[int],
        *,
        saving: object = None,
        must_fund: Iterable[int] = (),
        exclude: Iterable[int] = (),
        dependencies: Iterable[tuple[int, int]] = (),
        exclusive_groups: Iterable[Iterable[int]] = (),
    ) -> SelectionProblem:
        """Build from cost and saving per proposal and year (``(n, Y)`` integer pence)."""
        c = _money(cost, "cost")
        net = c if saving is None else c - _money(saving, "saving", c.shape)
        return cls(
            scores=np.asarray(scores),
            net_cost=net,
            budgets=tuple(budgets),
            must_fund=tuple(must_fund),
            exclude=tuple(exclude),
            dependencies=tuple(tuple(d) for d in dependencies),  # type: ignore[misc]
            exclusive_groups=tuple(tuple(g) for g in exclusive_groups),
        )

    @property
    def n(self) -> int:
        return int(self.scores.size)

    @property
    def n_years(self) -> int:
        return len(self.budgets)

    def constraints(self) -> tuple[Constraint, ...]:
        """All constraints in deletion-filter order: dependencies, groups, exclusions, must-funds, budgets."""
        out: list[Constraint] = [Constraint("dependency", d, k) for k, d in enumerate(self.dependencies)]
        out += [Constraint("exclusive", g, k) for k, g in enumerate(self.exclusive_groups)]
        out += [Constraint("exclude", (i,)) for i in self.exclude]
        out += [Constraint("must_fund", (i,)) for i in self.must_fund]
        out += [Constraint("budget", (), y) for y in range(self.n_years)]
        return tuple(out)

    def spend(self, selected: Iterable[int]) -> tuple[int, ...]:
        """Exact spend per year (pence) of a set of proposal indices."""
        idx = list(selected)
        return (
            tuple(int(v) for v in self.net_cost[idx].sum(axis=0, dtype=np.int64).tolist())
            if idx
            else ((0,) * self.n_years)
        )

    def violations(self, selected: Iterable[int]) -> tuple[Constraint, ...]:
        """Constraints a set of proposals breaks, checked exactly (integer pence)."""
        chosen = set(int(i) for i in selected)
        out: list[Constraint] = []
        for c in self.constraints():
            if (
                c.kind == "must_fund"
                and c.proposals[0] not in chosen
                or c.kind == "exclude"
                and c.proposals[0] in chosen
                or c.kind == "dependency"
                and c.proposals[0] in chosen
                and c.proposals[1] not in chosen
                or c.kind == "exclusive"
                and len(chosen.intersection(c.proposals)) > 1
            ):
                out.append(c)
        spend = self.spend(sorted(chosen))
        out += [Constraint("budget", (), y) for y in range(self.n_years) if spend[y] > self.budgets[y]]
        return tuple(out)

    def with_budgets(self, budgets: Sequence[int]) -> SelectionProblem:
        return SelectionProblem(
            self.scores, self.net_cost, tuple(budgets), self.must_fund, self.exclude,
            self.dependencies, self.exclusive_groups,
        )  # fmt: skip


@dataclass(frozen=True)
class SelectionResult:
    """Answer of :func:`select`. Money in integer pence; ``selected`` indices ascending.

    ``objective`` is ``sum W`` over the selection (0 when infeasible); ``gap`` the proven relative
    optimality gap (``None`` when infeasible or unknown); ``bound`` the proven upper bound on the
    objective when known.
    """

    status: SelectionStatus
    selected: tuple[int, ...]
    objective: float
    spend: tuple[int, ...]
    headroom: tuple[int, ...]
    gap: float | None
    bound: float | None
    diagnosis: Infeasibility | None = None
    seconds: float = 0.0
    cuts: int = 0


@dataclass(frozen=True)
class GreedyResult:
    """Answer of :func:`greedy_select` (money in integer pence)."""

    selected: tuple[int, ...]
    objective: float
    spend: tuple[int, ...]
    headroom: tuple[int, ...]
    feasible: bool


@dataclass(frozen=True)
class FrontierPoint:
    """One point of the efficient frontier (``objective`` ``None`` when infeasible at that budget)."""

    percent: int
    budget_factor: float
    budgets: tuple[int, ...]
    status: SelectionStatus
    objective: float | None
    gap: float | None
    selected: tuple[int, ...] = field(default=())


# ----------------------------------------------------------------------------------------------------
# logic: propagation of must-fund / exclude / dependencies / exclusive groups


@dataclass(frozen=True)
class _Logic:
    forced_one: np.ndarray
    forced_zero: np.ndarray
    consistent: bool


def _propagate(
    n: int,
    must: Iterable[int],
    excluded: Iterable[int],
    deps: Iterable[tuple[int, int]],
    groups: Iterable[tuple[int, ...]],
) -> _Logic:
    requires: dict[int, list[int]] = {}
    required_by: dict[int, list[int]] = {}
    for a, b in deps:
        requires.setdefault(a, []).append(b)
        required_by.setdefault(b, []).append(a)
    one = np.zeros(n, dtype=bool)
    stack = list(must)
    while stack:
        i = stack.pop()
        if not one[i]:
            one[i] = True
            stack.extend(requires.get(i, ()))
    zero = np.zeros(n, dtype=bool)
    stack = list(excluded)
    consistent = True
    for g in groups:
        forced = [i for i in g if one[i]]
        if len(forced) > 1:
            consistent = False
        elif forced:
            stack.extend(i for i in g if i != forced[0])
    while stack:
        i = stack.pop()
        if not zero[i]:
            zero[i] = True
            stack.extend(required_by.get(i, ()))
    consistent = consistent and not (one & zero).any()
    return _Logic(one, zero, consistent)


def _logic_of(problem: SelectionProblem) -> _Logic:
    return _propagate(
        problem.n, problem.must_fund, problem.exclude, problem.dependencies, problem.exclusive_groups
    )


# ----------------------------------------------------------------------------------------------------
# the integer programme


@dataclass(frozen=True)
class _Solve:
    status: Literal["optimal", "time_limit", "infeasible", "unknown"]
    x: np.ndarray | None
    gap: float | None
    bound: float | None


def _highs(
    problem: SelectionProblem,
    active: Sequence[Constraint],
    *,
    objective: bool,
    cuts: Sequence[np.ndarray] = (),
) -> tuple[highspy.Highs, list[int]] | None:
    """The integer programme as a HiGHS model, or ``None`` when the bounds alone contradict each other.

    Returns the model and, by year, the row of its budget constraint (``-1`` when that budget is not
    active), so that :func:`efficient_frontier` can move the budgets and solve again.
    """
    n = problem.n
    lb = np.zeros(n)
    ub = np.ones(n)
    starts = [0]
    index: list[np.ndarray] = []
    value: list[np.ndarray] = []
    upper: list[float] = []
    budget_row = [-1] * problem.n_years
    columns = np.arange(n, dtype=np.int32)

    def row(idx: np.ndarray, val: np.ndarray, up: float) -> None:
        index.append(np.asarray(idx, dtype=np.int32))
        value.append(np.asarray(val, dtype=np.float64))
        starts.append(starts[-1] + len(index[-1]))
        upper.append(up)

    for c in active:
        if c.kind == "must_fund":
            lb[c.proposals[0]] = 1.0
        elif c.kind == "exclude":
            ub[c.proposals[0]] = 0.0
        elif c.kind == "dependency":
            a, b = c.proposals
            row(np.array([a, b]), np.array([1.0, -1.0]), 0.0)
        elif c.kind == "exclusive":
            members = np.array(sorted(c.proposals))
            row(members, np.ones(members.size), 1.0)
        else:
            year = int(c.index)  # type: ignore[arg-type]
            budget_row[year] = len(upper)
            row(columns, problem._solver_net[:, year], float(problem._solver_budgets[year]))
    for chosen in cuts:  # no-good cut: sum_{i in S} x_i - sum_{i not in S} x_i <= |S| - 1
        row(columns, np.where(chosen, 1.0, -1.0), float(chosen.sum() - 1))
    if (lb > ub).any():
        return None
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = len(upper)
    lp.col_cost_ = -problem.scores if objective else np.zeros(n)
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = np.full(len(upper), -highspy.kHighsInf)
    lp.row_upper_ = np.asarray(upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.concatenate(index) if index else np.zeros(0, dtype=np.int32)
    lp.a_matrix_.value_ = np.concatenate(value) if value else np.zeros(0)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if _log.isEnabledFor(logging.DEBUG):
        # the solver's own lines go to the log, at debug level, never to stdout or stderr
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", False)
        h.cbLogging.subscribe(_log_line)
    h.passModel(lp)
    return h, budget_row


def _log_line(event) -> None:
    _log.debug("HiGHS: %s", str(event.message).rstrip())


_FOUND = {
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "time_limit",
    highspy.HighsModelStatus.kSolutionLimit: "time_limit",
    highspy.HighsModelStatus.kInterrupt: "time_limit",
}


def _run(h: highspy.Highs, n: int, time_limit: float, mip_rel_gap: float, start: np.ndarray | None) -> _Solve:
    """Run HiGHS on a model from :func:`_highs`, optionally from a known feasible 0/1 point."""
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = np.asarray(start, dtype=np.float64)
        solution.value_valid = True
        h.setSolution(solution)
    with _SOLVER_LOCK:
        h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status != 0  # kSolutionStatusNone
    x = np.round(np.asarray(h.getSolution().col_value[:n], dtype=np.float64)).astype(bool) if has_x else None
    bound = info.mip_dual_bound
    bound = None if bound is None or not np.isfinite(bound) else -float(bound)
    gap = info.mip_gap
    gap = None if gap is None or not np.isfinite(gap) else max(0.0, float(gap))
    if status == highspy.HighsModelStatus.kOptimal:
        return _Solve("optimal", x, 0.0 if gap is None else gap, bound)
    if status in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        # every variable is bounded 0/1, so "unbounded or infeasible" is infeasible
        return _Solve("infeasible", None, None, None)
    if status in _FOUND:
        return _Solve("time_limit", x, gap, bound)
    return _Solve("unknown", x, gap, bound)


def _solve_milp(
    problem: SelectionProblem,
    active: Sequence[Constraint] | None,
    *,
    objective: bool,
    time_limit: float,
    mip_rel_gap: float,
    cuts: Sequence[np.ndarray] = (),
) -> _Solve:
    n = problem.n
    active = problem.constraints() if active is None else active
    if n == 0:  # nothing to choose: feasible exactly when every (empty) row holds
        years = [int(c.index) for c in active if c.kind == "budget"]  # type: ignore[arg-type]
        ok = not cuts and all(problem.budgets[y] >= 0 for y in years)
        return (
            _Solve("optimal", np.zeros(0, dtype=bool), 0.0, 0.0)
            if ok
            else _Solve("infeasible", None, None, None)
        )
    built = _highs(problem, active, objective=objective, cuts=cuts)
    if built is None:
        return _Solve("infeasible", None, None, None)
    return _run(built[0], n, time_limit, mip_rel_gap, None)


# ----------------------------------------------------------------------------------------------------
# infeasibility diagnosis


def _split(
    active: Sequence[Constraint],
) -> tuple[list[int], list[int], list[tuple[int, int]], list[tuple[int, ...]], list[int]]:
    must, excl, deps, groups, years = [], [], [], [], []
    for c in active:
        if c.kind == "must_fund":
            must.append(c.proposals[0])
        elif c.kind == "exclude":
            excl.append(c.proposals[0])
        elif c.kind == "dependency":
            deps.append((c.proposals[0], c.proposals[1]))
        elif c.kind == "exclusive":
            groups.append(c.proposals)
        else:
            years.append(int(c.index))  # type: ignore[arg-type]
    return must, excl, deps, groups, years


def _cheap_feasibility(problem: SelectionProblem, active: Sequence[Constraint]) -> bool | None:
    """Exact feasibility without a solver when possible: True/False, or None when undecided."""
    must, excl, deps, groups, years = _split(active)
    logic = _propagate(problem.n, must, excl, deps, groups)
    if not logic.consistent:
        return False
    if not years:
        return True
    spend = problem.net_cost[logic.forced_one].sum(axis=0, dtype=np.int64)
    over = [y for y in years if spend[y] > problem.budgets[y]]
    if not over:
        return True
    free = ~(logic.forced_one | logic.forced_zero)
    if not (problem.net_cost[free][:, over] < 0).any():
        return False
    return None


def _feasible(problem: SelectionProblem, active: Sequence[Constraint], deadline: float) -> bool | None:
    cheap = _cheap_feasibility(problem, active)
    if cheap is not None:
        return cheap
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    solved = _solve_milp(problem, active, objective=False, time_limit=remaining, mip_rel_gap=0.0)
    if solved.status == "infeasible":
        return False
    if solved.x is not None and not _violates_active(problem, active, solved.x):
        return True
    return None


def _violates_active(problem: SelectionProblem, active: Sequence[Constraint], x: np.ndarray) -> bool:
    chosen = np.flatnonzero(x)
    broken = set(problem.violations(chosen.tolist()))
    return any(c in broken for c in active)


def diagnose(problem: SelectionProblem, time_limit: float = 10.0) -> Infeasibility | None:
    """A minimal conflicting subset of the problem's constraints, or ``None`` if the problem is feasible.

    Deletion filter over :meth:`SelectionProblem.constraints`; each feasibility check is exact (cheap
    propagation first, the integer programme only when that cannot decide).
    """
    deadline = time.monotonic() + time_limit
    active = list(problem.constraints())
    full = _feasible(problem, active, deadline)
    if full is True:
        return None
    minimal = full is False
    k = 0
    while k < len(active):
        trial = active[:k] + active[k + 1 :]
        verdict = _feasible(problem, trial, deadline)
        if verdict is False:
            active = trial
        else:
            if verdict is None:
                minimal = False
            k += 1
    reason = _reason(active)
    return Infeasibility(tuple(active), reason, minimal)


def _reason(active: Sequence[Constraint]) -> str:
    kinds = {c.kind for c in active}
    if kinds == {"budget"}:
        return "a budget is below what even the cheapest allowed selection spends"
    if kinds == {"must_fund", "exclude"} and len(active) == 2:
        return "a proposal is both must-fund and excluded"
    if "budget" in kinds and kinds <= {"budget", "must_fund", "dependency"}:
        return "the proposals that must be funded cost more than the budget allows"
    if kinds == {"must_fund", "exclusive"} or kinds == {"must_fund", "exclusive", "dependency"}:
        return "an exclusive group would have to fund two proposals"
    if "exclude" in kinds and "must_fund" in kinds:
        return "a must-fund proposal needs an excluded one"
    return "these constraints cannot all hold together"


# ----------------------------------------------------------------------------------------------------
# public solvers


def _result_from(problem: SelectionProblem, status: SelectionStatus, x: np.ndarray, gap, bound, start, cuts):
    chosen = tuple(int(i) for i in np.flatnonzero(x))
    spend = problem.spend(chosen)
    return SelectionResult(
        status=status,
        selected=chosen,
        objective=math.fsum(problem.scores[list(chosen)].tolist()),
        spend=spend,
        headroom=tuple(b - s for b, s in zip(problem.budgets, spend, strict=True)),
        gap=gap,
        bound=bound,
        seconds=time.monotonic() - start,
        cuts=cuts,
    )


def _infeasible(problem: SelectionProblem, start: float, diagnosis: Infeasibility | None) -> SelectionResult:
    zero = (0,) * problem.n_years
    return SelectionResult(
        status="infeasible", selected=(), objective=0.0, spend=zero, headroom=tuple(problem.budgets),
        gap=None, bound=None, diagnosis=diagnosis, seconds=time.monotonic() - start,
    )  # fmt: skip


def _check_solver_range(problem: SelectionProblem) -> None:
    net, budgets = problem._solver_net, problem._solver_budgets
    if (net.size and np.abs(net).sum(axis=0).max() > SOLVER_MONEY_LIMIT) or (
        budgets.size and np.abs(budgets).max() > SOLVER_MONEY_LIMIT
    ):
        raise ScoringInputError(
            "budgets",
            "amounts too large for the solver (limit 2**46, about 7e13, pence per year after common factors)",
        )


def select(
    problem: SelectionProblem, *, time_limit: float = 10.0, mip_rel_gap: float = 0.0
) -> SelectionResult:
    """Solve the selection integer programme (HiGHS); the answer is verified exactly in integer pence.

    Args:
        problem: the :class:`SelectionProblem`.
        time_limit: seconds for HiGHS (the diagnosis of an infeasible problem has its own, equal, limit).
        mip_rel_gap: relative gap at which HiGHS may stop; 0 (default) asks for proven optimality.
    """
    start = time.monotonic()
    cheap = _cheap_feasibility(problem, problem.constraints())
    if cheap is False:
        return _infeasible(problem, start, diagnose(problem, time_limit))
    _check_solver_range(problem)
    cuts: list[np.ndarray] = []
    deadline = start + time_limit
    while True:
        solved = _solve_milp(
            problem,
            None,
            objective=True,
            time_limit=deadline - time.monotonic(),
            mip_rel_gap=mip_rel_gap,
            cuts=cuts,
        )
        if solved.status == "infeasible":
            # No exactly feasible set exists (no-good cuts only ever remove sets that break a budget).
            diagnosis = diagnose(problem, time_limit)
            if diagnosis is None:
                raise ScoringError("the solver reported a feasible selection problem as infeasible")
            return _infeasible(problem, start, diagnosis)
        if solved.x is None:  # time limit before any feasible set: fall back on the greedy answer
            greedy = greedy_select(problem)
            x = np.zeros(problem.n, dtype=bool)
            if greedy.feasible:
                x[list(greedy.selected)] = True
            return _result_from(problem, "time_limit", x, None, solved.bound, start, len(cuts))
        if not problem.violations(np.flatnonzero(solved.x).tolist()):
            status: SelectionStatus = "optimal" if solved.status == "optimal" else "time_limit"
            return _result_from(problem, status, solved.x, solved.gap, solved.bound, start, len(cuts))
        if len(cuts) >= _MAX_CUTS or time.monotonic() >= deadline:
            raise ScoringInputError("budgets", "the solver could not return an exactly feasible selection")
        cuts.append(solved.x.copy())


def _walk_start(problem: SelectionProblem) -> np.ndarray | None:
    """A feasible set to start the solver from: the budget walk down the list ordered by score per share
    of the budgets (a knapsack's greedy order; the walk checks the money exactly), or ``None``."""
    share = (np.maximum(problem.net_cost, 0) / np.maximum(np.asarray(problem.budgets, float), 1.0)).sum(
        axis=1
    )
    order = np.lexsort((np.arange(problem.n), -(problem.scores / np.maximum(share, 1e-12))))
    walked = budget_walk(problem, order)
    return np.asarray(walked.funded, dtype=bool) if walked.feasible else None


def efficient_frontier(
    problem: SelectionProblem,
    percents: Sequence[int] = DEFAULT_PERCENTS,
    *,
    time_limit: float = 10.0,
    mip_rel_gap: float = 0.0,
    optimum: SelectionResult | None = None,
) -> tuple[FrontierPoint, ...]:
    """Best objective with every year's budget at ``floor(budget * percent / 100)`` (integer pence).

    One HiGHS model (without presolve) is solved at each budget in turn, from the smallest up, each
    solve started from the best set of the point below it (a set that keeps smaller budgets keeps larger
    ones) or, for the first, from the budget walk down the list by score per pound. ``time_limit``
    (seconds) is shared by all points: each gets an equal share of what is left, so the time a quick
    point does not use passes to the next. A point that runs out of time reports ``time_limit`` with the
    best set found and its proven gap, as :func:`select` does. ``optimum``, the :func:`select` answer for
    this very problem, is reused for the 100 % point instead of solving it again. Infeasible points have
    ``objective=None``.
    Every answer is checked exactly in integer pence; should a rounded one break a budget (or no set be
    found in time), that point is solved by :func:`select`.
    """
    wanted = []
    for pct in percents:
        if isinstance(pct, bool) or not isinstance(pct, int | np.integer) or pct < 0:
            raise ScoringInputError("percents", "budget percentages must be non-negative integers")
        wanted.append(int(pct))
    deadline = time.monotonic() + max(float(time_limit), 0.0)
    solved: dict[int, FrontierPoint] = {}
    model: tuple[highspy.Highs, list[int]] | None = None
    start: np.ndarray | None = None  # best set of the last feasible point: it keeps every larger budget
    todo = sorted(set(wanted))
    for k, pct in enumerate(todo):
        budgets = tuple((b * pct) // 100 for b in problem.budgets)
        scaled = problem.with_budgets(budgets)
        if _cheap_feasibility(scaled, scaled.constraints()) is False:
            solved[pct] = FrontierPoint(pct, pct / 100, budgets, "infeasible", None, None)
            continue
        if pct == 100 and optimum is not None and optimum.status != "infeasible":
            solved[pct] = FrontierPoint(
                pct, 1.0, budgets, optimum.status, optimum.objective, optimum.gap, optimum.selected
            )
            start = np.zeros(problem.n, dtype=bool)
            start[list(optimum.selected)] = True
            continue
        share = (deadline - time.monotonic()) / (len(todo) - k)
        point = None
        if problem.n:
            _check_solver_range(scaled)
            if model is None:
                model = _highs(problem, problem.constraints(), objective=True)
                if model is not None:
                    # Without presolve the starting set is used as it is; with it HiGHS first carries the
                    # set into the presolved model by a sub-solve, which on 2,000 proposals costs more
                    # than a point's share of the time (and the model, a few rows, gains little from it).
                    model[0].setOptionValue("presolve", "off")
            if model is not None:
                h, rows = model
                for y, r in enumerate(rows):
                    # the model's money is divided by the problem's common divisor d; its rows are sums
                    # of whole multiples of d, so "<= budget / d" is "<= floor(budget / d)", exactly
                    h.changeRowBounds(r, -highspy.kHighsInf, float(budgets[y] // problem._solver_divisor))
                if start is None or not start.any():
                    start = _walk_start(scaled)
                res = _run(h, problem.n, share, mip_rel_gap, start)
                if res.status in ("optimal", "time_limit") and res.x is not None:
                    chosen = np.flatnonzero(res.x).tolist()
                    if not scaled.violations(chosen):
                        point = FrontierPoint(
                            pct, pct / 100, budgets, res.status,
                            math.fsum(problem.scores[chosen].tolist()), res.gap, tuple(chosen),
                        )  # fmt: skip
                        start = res.x
                elif res.status == "infeasible":
                    point = FrontierPoint(pct, pct / 100, budgets, "infeasible", None, None)
        if point is None:  # no set found in time, or one that breaks a budget once rounded: the long way
            res_full = select(scaled, time_limit=max(share, 0.01), mip_rel_gap=mip_rel_gap)
            objective = None if res_full.status == "infeasible" else res_full.objective
            point = FrontierPoint(
                pct, pct / 100, budgets, res_full.status, objective, res_full.gap, res_full.selected
            )
            if res_full.status != "infeasible" and res_full.selected:
                start = np.zeros(problem.n, dtype=bool)
                start[list(res_full.selected)] = True
        solved[pct] = point
    return tuple(solved[pct] for pct in wanted)


# ----------------------------------------------------------------------------------------------------
# greedy / budget line


@dataclass(frozen=True)
class _Walk:
    """Static data of the greedy walk, shared by :func:`greedy_select` and :func:`budget_line`."""

    start: np.ndarray  # (n,) forced set
    start_spend: np.ndarray  # (Y,)
    blocked: np.ndarray  # (n,) never takeable
    bundle: np.ndarray  # (n, R) bundle members, -1 padded
    member: np.ndarray  # (n, G) exclusive group membership
    consistent: bool
    free: np.ndarray  # (n,) neither forced in nor blocked
    start_fits: bool  # the forced set keeps every budget


def _walk_data(problem: SelectionProblem) -> _Walk:
    n = problem.n
    logic = _logic_of(problem)
    requires: dict[int, list[int]] = {}
    for a, b in problem.dependencies:
        requires.setdefault(a, []).append(b)
    bundles = []
    for i in range(n):
        seen = {i}
        stack = list(requires.get(i, ()))
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(requires.get(j, ()))
        bundles.append([i] + sorted(seen - {i}))
    width = max((len(b) for b in bundles), default=1)
    bundle = np.full((n, width), -1, dtype=np.int64)
    for i, b in enumerate(bundles):
        bundle[i, : len(b)] = b
    member = np.zeros((n, len(problem.exclusive_groups)), dtype=bool)
    for g, group in enumerate(problem.exclusive_groups):
        member[list(group), g] = True
    blocked = logic.forced_zero.copy()
    for i, b in enumerate(bundles):
        if member.shape[1] and (member[b].sum(axis=0) > 1).any():
            blocked[i] = True
        if logic.forced_zero[b].any():
            blocked[i] = True
    start = logic.forced_one
    start_spend = problem.net_cost[start].sum(axis=0, dtype=np.int64)
    return _Walk(
        start=start,
        start_spend=start_spend,
        blocked=blocked,
        bundle=bundle,
        member=member,
        consistent=logic.consistent,
        free=~(start | blocked),
        start_fits=bool((start_spend <= np.asarray(problem.budgets, dtype=np.int64)).all()),
    )


# Outcome codes of one step of the walk (what happened to the proposal at that place of the list).
_TAKEN, _HELD, _BLOCKED, _NO_FIT = 0, 1, 2, 3


def _advance(
    walk: _Walk,
    net: np.ndarray,
    budgets: np.ndarray,
    taken: np.ndarray,
    spent: np.ndarray,
    group_count: np.ndarray,
    item: np.ndarray,
    outcome: np.ndarray | None = None,
) -> None:
    """One step of the greedy walk for a batch of walks (in place): walk ``s`` considers ``item[s]``.

    ``taken`` ``(S, n)``, ``spent`` ``(S, Y)`` and ``group_count`` ``(S, G)`` are the walks' states.
    When ``outcome`` (``(S,)`` int8) is given it receives what happened to ``item[s]``: ``_TAKEN`` (its
    bundle was funded here), ``_HELD`` (already funded: forced, or pulled in by a higher-ranked
    proposal), ``_BLOCKED`` (excluded, forced out, or an exclusive group would hold two) or ``_NO_FIT``
    (it would overspend a year). This is the only implementation of the greedy rule (see the module
    docstring).
    """
    rows = np.arange(item.size)
    if walk.bundle.shape[1] == 1:
        # Without dependencies a proposal can only be taken at its own place, so "not yet taken" is
        # "not in the forced set".
        cost = net[item]  # (S, Y)
        new_spent = spent + cost
        # year by year: a reduction along the short year axis costs more than these few comparisons
        fits_all = np.ones(item.size, dtype=bool)
        for y in range(budgets.size):
            fits = new_spent[:, y] <= budgets[y]
            if not walk.start_fits:
                fits |= cost[:, y] <= 0
            fits_all &= fits
        take = walk.free[item] & fits_all
        clash = None
        if walk.member.shape[1]:
            add = walk.member[item]  # (S, G)
            clash = ((group_count + add) > 1).any(axis=1)
            take &= ~clash
            group_count += add * take[:, None]
        if outcome is not None:
            blocked = walk.blocked[item] if clash is None else walk.blocked[item] | clash
            outcome[:] = np.where(
                walk.start[item], _HELD, np.where(blocked, _BLOCKED, np.where(fits_all, _TAKEN, _NO_FIT))
            )
        # each walk reaches ``item`` once, and before that it is taken exactly when it is forced
        taken[rows, item] = take | walk.start[item]
        np.copyto(spent, new_spent, where=take[:, None])
        return
    held = taken[rows, item]
    cand = ~held & ~walk.blocked[item]
    members = walk.bundle[item]  # (S, R)
    valid = members >= 0
    safe = np.where(valid, members, 0)
    new = valid & ~taken[rows[:, None], safe] & cand[:, None]
    cost = np.einsum("sr,sry->sy", new.astype(np.int64), net[safe])
    fits_all = ((spent + cost <= budgets) | (cost <= 0)).all(axis=1)
    take = cand & fits_all
    clash = None
    if walk.member.shape[1]:
        add = (walk.member[safe] & new[:, :, None]).sum(axis=1)  # (S, G)
        clash = ((group_count + add) > 1).any(axis=1)
        take &= ~clash
        group_count += add * take[:, None]
    if outcome is not None:
        blocked = walk.blocked[item] if clash is None else walk.blocked[item] | clash
        outcome[:] = np.where(held, _HELD, np.where(blocked, _BLOCKED, np.where(fits_all, _TAKEN, _NO_FIT)))
    chosen = new & take[:, None]
    r_idx, c_idx = np.nonzero(chosen)
    taken[rows[r_idx], safe[r_idx, c_idx]] = True
    spent += cost * take[:, None]


def _initial_state(walk: _Walk, n_walks: int, n_years: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    taken = np.zeros((n_walks, walk.start.size), dtype=bool)
    taken[:, walk.start] = True
    spent = np.broadcast_to(walk.start_spend, (n_walks, n_years)).copy()
    group_count = np.broadcast_to(
        walk.member[walk.start].sum(axis=0, dtype=np.int64), (n_walks, walk.member.shape[1])
    ).copy()
    return taken, spent, group_count


def _plain(walk: _Walk, n_years: int) -> bool:
    """No dependencies and no exclusive groups (a proposal is taken alone, only at its own place), and
    few enough years for :func:`_plain_walk`."""
    return walk.bundle.shape[1] == 1 and walk.member.shape[1] == 0 and n_years <= 8


def _plain_walk(
    walk: _Walk,
    net: np.ndarray,
    budgets: np.ndarray,
    columns: np.ndarray,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """The walk of :func:`_advance` for problems without dependencies or exclusive groups, faster.

    ``columns`` is ``(n, S)``: the proposal at each list place of each of ``S`` walks (or, given
    ``labels``, a label ``l`` standing for proposal ``labels[l]``). Returns ``(n, S)`` booleans by list
    place, True where the walk takes that place's proposal (the forced set is not included: it is taken
    before the walk starts). Same rule, same integer arithmetic: a free proposal is taken when, in every
    year, it fits what is left (or, when the forced set alone overspends, does not raise that year's
    spend). Laid out for speed: the walks' headroom is one ``(S, W)`` block, the years padded to ``W`` = 4
    or 8 with nothing to spend, a proposal's costs are fetched as one ``W``-word record, and "fits in
    every year" is one look at the ``W`` comparison bytes as a single integer.
    """
    n, n_s = columns.shape
    years = budgets.size
    width = 4 if years <= 4 else 8
    word = np.uint32 if width == 4 else np.uint64
    every = word(int.from_bytes(b"\x01" * width, "little"))
    record = np.dtype(f"V{8 * width}")
    table = np.zeros((net.shape[0], width), dtype=np.int64)
    table[:, :years] = net if labels is None else net[labels]
    # a proposal that is not free (forced in, so already taken, or blocked) is never taken at its place:
    # give it a cost no headroom can meet (money is below 2**53 in magnitude, so nothing overflows)
    free = walk.free if labels is None else walk.free[labels]
    table[~free, 0] = _NEVER
    records = table.view(record).reshape(-1)
    room = np.zeros(width, dtype=np.int64)
    room[:years] = budgets - walk.start_spend
    relax = not walk.start_fits
    took = np.empty((n, n_s), dtype=bool)
    chunk = 4096
    cost = np.empty((chunk, width), dtype=np.int64)
    left = np.empty((chunk, width), dtype=np.int64)
    fits = np.empty((chunk, width), dtype=bool)
    spare = np.empty((chunk, width), dtype=bool)
    keep = np.empty((chunk, width), dtype=bool)
    for first in range(0, n_s, chunk):
        cols = columns[:, first : first + chunk]
        c = cols.shape[1]
        head = np.repeat(room[None, :], c, axis=0)  # (C, W): what is left per walk and year
        cost_c, left_c, fits_c, spare_c, keep_c = cost[:c], left[:c], fits[:c], spare[:c], keep[:c]
        cost_records = cost_c.view(record).reshape(c)
        fits_word = fits_c.view(word).reshape(c)
        keep_word = keep_c.view(word).reshape(c)
        for k in range(n):
            col = cols[k]
            np.take(records, col, out=cost_records)
            np.subtract(head, cost_c, out=left_c)
            np.greater_equal(left_c, 0, out=fits_c)
            if relax:
                np.less_equal(cost_c, 0, out=spare_c)
                fits_c |= spare_c
            take = took[k, first : first + c]
            np.equal(fits_word, every, out=take)
            # spread each walk's "take" over its W bytes, then keep what is left where taken
            np.multiply(take.view(np.uint8), every, out=keep_word, casting="unsafe")
            np.copyto(head, left_c, where=keep_c)
    return took


def budget_line(
    problem: SelectionProblem,
    orders: np.ndarray,
    walk: _Walk | None = None,
    *,
    outcomes: np.ndarray | None = None,
) -> np.ndarray:
    """The budget walk for many rankings at once: ``orders`` is ``(S, n)`` (each row a ranked list of
    proposal indices); returns ``(S, n)`` booleans by proposal index, True where the proposal is funded.

    Vectorised over rankings (the loop runs over list positions). Rules in the module docstring.
    ``outcomes`` (optional, ``(S, n)`` int8) receives, by list position, what the walk did there (the
    ``_TAKEN``/``_HELD``/``_BLOCKED``/``_NO_FIT`` codes of :func:`_advance`). A problem whose constraints
    contradict each other funds nothing (every outcome ``_BLOCKED``).
    """
    walk = _walk_data(problem) if walk is None else walk
    orders = np.asarray(orders, dtype=np.int64)
    if orders.ndim != 2 or orders.shape[1] != problem.n:
        raise ScoringInputError("orders", f"each ranking must list all {problem.n} proposals")
    n_s, n = orders.shape
    if outcomes is not None and outcomes.shape != orders.shape:
        raise ScoringInputError("outcomes", f"expected shape {orders.shape}")
    if not walk.consistent:
        if outcomes is not None:
            outcomes[...] = _BLOCKED
        return np.zeros((n_s, n), dtype=bool)
    budgets = np.asarray(problem.budgets, dtype=np.int64)
    columns = np.ascontiguousarray(orders.T)
    if outcomes is None and _plain(walk, problem.n_years):
        taken = np.zeros((n_s, n), dtype=bool)
        taken[:, walk.start] = True
        took = _plain_walk(walk, problem.net_cost, budgets, columns)
        rows = np.broadcast_to(np.arange(n_s), (n, n_s))
        taken[rows[took], columns[took]] = True
        return taken
    taken, spent, group_count = _initial_state(walk, n_s, problem.n_years)
    step = None if outcomes is None else np.empty(n_s, dtype=np.int8)
    for k in range(n):
        _advance(walk, problem.net_cost, budgets, taken, spent, group_count, columns[k], step)
        if outcomes is not None:
            outcomes[:, k] = step
    return taken


BudgetReason = Literal["funded", "must_fund", "required", "does_not_fit", "blocked"]


@dataclass(frozen=True)
class BudgetWalk:
    """The budget walk down one ranked list (brief Maths 10): what every display of it shows.

    Attributes:
        order: proposal indices in ranked order (the list walked).
        funded: by proposal index, True when the walk funds it.
        skipped: by proposal index, True when the walk considered it and did not fund it -- it did not
            fit what was left of some year's budget, or a constraint blocked it (excluded, forced out
            by a must-fund's exclusive group or dependency, or its exclusive group already funded).
            Every proposal is exactly one of funded and skipped.
        last_funded_position: 0-based position in ``order`` of the last funded proposal (the chart's
            budget line is drawn after it); ``None`` when nothing is funded.
        spend: per financial year, integer pence spent by the funded set.
        headroom: per financial year, budget minus spend (integer pence; negative only when the
            must-fund proposals alone overspend).
        reason: by proposal index, why: ``funded`` (taken at its own place in the list),
            ``must_fund`` (a must-fund proposal or one it requires), ``required`` (pulled in earlier,
            as a prerequisite of a higher-ranked proposal), ``does_not_fit`` or ``blocked``.
        objective: sum of ``problem.scores`` over the funded set.
        feasible: the funded set keeps every budget and constraint (False only when the must-fund
            proposals overspend or the constraints contradict each other; then nothing is funded).
    """

    order: tuple[int, ...]
    funded: tuple[bool, ...]
    skipped: tuple[bool, ...]
    last_funded_position: int | None
    spend: tuple[int, ...]
    headroom: tuple[int, ...]
    reason: tuple[BudgetReason, ...] = ()
    objective: float = 0.0
    feasible: bool = True

    @property
    def selected(self) -> tuple[int, ...]:
        """Indices of the funded proposals, ascending."""
        return tuple(i for i, f in enumerate(self.funded) if f)


def _check_order(problem: SelectionProblem, order: object) -> np.ndarray:
    try:
        arr = np.asarray(order)
    except (TypeError, ValueError):
        raise ScoringInputError("order", "the order must be a list of proposal indices") from None
    if arr.size == 0 and problem.n == 0:
        return np.zeros(0, dtype=np.int64)
    if (
        arr.dtype.kind not in "iu"
        or arr.shape != (problem.n,)
        or not np.array_equal(np.sort(arr), np.arange(problem.n))
    ):
        raise ScoringInputError("order", "the order must list every proposal index exactly once")
    return arr.astype(np.int64)


def budget_walk(problem: SelectionProblem, order: Sequence[int] | np.ndarray) -> BudgetWalk:
    """Walk down the ranked list ``order`` taking each proposal that fits every year (brief Maths 10).

    The one definition behind the chart's budget line, the greedy answer, the exports and the funded
    probabilities of sensitivity and rank intervals: it runs :func:`budget_line` (rules in the module
    docstring) on the single list and reports, by proposal, funded or skipped and why.

    Example: scores in list order A, B, C with net costs 40, 25 and 10 pence and a budget of 50: A is
    funded (10 left), B does not fit and is skipped, C is funded; the line sits after C (position 2).
    """
    arr = _check_order(problem, order)
    n = problem.n
    walk = _walk_data(problem)
    outcomes = np.empty((1, n), dtype=np.int8)
    funded = budget_line(problem, arr[None, :], walk, outcomes=outcomes)[0]
    reasons: list[BudgetReason] = ["blocked"] * n
    for pos, i in enumerate(arr.tolist()):
        code = int(outcomes[0, pos])
        if code == _TAKEN:
            reasons[i] = "funded"
        elif code == _BLOCKED:
            reasons[i] = "blocked"
        elif code == _NO_FIT:
            reasons[i] = "does_not_fit"
        else:
            reasons[i] = "must_fund" if walk.start[i] else "required"
    chosen = tuple(int(i) for i in np.flatnonzero(funded))
    spend = problem.spend(chosen)
    headroom = tuple(b - s for b, s in zip(problem.budgets, spend, strict=True))
    positions = np.flatnonzero(funded[arr])
    return BudgetWalk(
        order=tuple(arr.tolist()),
        funded=tuple(bool(f) for f in funded.tolist()),
        skipped=tuple(not f for f in funded.tolist()),
        last_funded_position=int(positions[-1]) if positions.size else None,
        spend=spend,
        headroom=headroom,
        reason=tuple(reasons),
        objective=math.fsum(problem.scores[list(chosen)].tolist()),
        feasible=walk.consistent and all(h >= 0 for h in headroom) and not problem.violations(chosen),
    )


def greedy_select(problem: SelectionProblem, order: Sequence[int] | np.ndarray | None = None) -> GreedyResult:
    """The greedy "cut down the ranked list" answer: :func:`budget_walk` summarised.

    ``order`` is the ranked list of proposal indices (e.g. ``Ranking.order``); by default ``W``
    descending, ties by index.
    """
    if order is None:
        order = np.lexsort((np.arange(problem.n), -problem.scores))
    walked = budget_walk(problem, order)
    return GreedyResult(
        selected=walked.selected,
        objective=walked.objective,
        spend=walked.spend,
        headroom=walked.headroom,
        feasible=walked.feasible,
    )


@dataclass(frozen=True)
class Portfolio:
    """Selection, greedy answer and frontier together, as the service reports them."""

    selection: SelectionResult
    greedy: GreedyResult
    frontier: tuple[FrontierPoint, ...]


def portfolio(
    problem: SelectionProblem,
    *,
    order: Sequence[int] | np.ndarray | None = None,
    time_limit: float = 10.0,
    frontier_percents: Sequence[int] = DEFAULT_PERCENTS,
    frontier_time_limit: float = 10.0,
) -> Portfolio:
    """Convenience: :func:`select`, :func:`greedy_select` and :func:`efficient_frontier` in one call
    (``frontier_time_limit`` is the frontier's shared budget, in seconds)."""
    best = select(problem, time_limit=time_limit)
    return Portfolio(
        selection=best,
        greedy=greedy_select(problem, order),
        frontier=efficient_frontier(problem, frontier_percents, time_limit=frontier_time_limit, optimum=best),
    )
