"""Weights by method (brief Maths 6).

Every function returns a :class:`WeightResult` whose ``weights`` array has one entry per principle
(position ``p - 1`` holds principle ``p``), non-negative and summing to 1 within 1e-12.

Methods:

* ``direct`` / ``points`` / ``swing`` -- given non-negative numbers (at least one positive), divided by
  their total. The three differ only in how people produce the numbers (typed weights, a budget of
  points, swing ratings relative to the most important principle at 100); the maths is the same.
  Principles left out get 0.
* ``rank_order`` -- the rank-order centroid ``w_k = (1/n) * sum_{i=k..n} 1/i`` over the ``n`` ranked
  principles; a tied group takes the mean of the centroid weights of the positions it occupies;
  unranked principles get 0.
* ``pairwise`` -- Saaty's 1..9 ratio judgements ``{a, b, ratio}`` ("a is ``ratio`` times as important
  as b", ratio in [1/9, 9]). A complete set of comparisons among the compared principles gives the
  principal (Perron) eigenvector, ``lambda_max``, ``CI = (lambda_max - n) / (n - 1)`` and
  ``CR = CI / RI(n)`` with ``RI`` from :data:`RANDOM_INDEX`; ``CR > 0.1`` is flagged. An incomplete but
  connected set gives the logarithmic least squares solution. Principles never compared get 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

import numpy as np

from .errors import DisconnectedComparisonsError, ScoringInputError
from .rules import CR_THRESHOLD, N_PRINCIPLES, frozen, principle_number

Method = Literal["direct", "points", "swing", "rank_order", "pairwise"]
METHODS: Final[tuple[str, ...]] = ("direct", "points", "swing", "rank_order", "pairwise")

#: Saaty's average random consistency index RI(n) for n = 1..15: the mean consistency index of
#: random reciprocal matrices with entries from the 1/9..9 scale, as tabulated in T. L. Saaty,
#: *The Analytic Hierarchy Process* (McGraw-Hill, 1980) and widely reproduced (e.g. J. Karlsson and
#: K. Ryan, "A cost-value approach for prioritizing requirements", IEEE Software 14(5), 1997).
#: The dip at n = 12 (1.48) is in the published table and is kept as published.
RANDOM_INDEX: Final[Mapping[int, float]] = {
    1: 0.00, 2: 0.00, 3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41,
    9: 1.45, 10: 1.49, 11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59,
}  # fmt: skip

_RATIO_MIN: Final = 1.0 / 9.0
_RATIO_MAX: Final = 9.0
_RATIO_SLACK: Final = 1e-3  # accepts 1/9 typed as 0.111


@dataclass(frozen=True)
class ComparisonResidual:
    """How far one judgement is from the ratio the derived weights imply.

    ``log_error = ln(ratio) - ln(w_a / w_b)``; its absolute value ranks the most inconsistent
    judgements (0 means the weights reproduce the judgement exactly).
    """

    a: int
    b: int
    ratio: float
    implied_ratio: float
    log_error: float


@dataclass(frozen=True)
class PairwiseDiagnostics:
    """Diagnostics of a pairwise (AHP) weighting.

    ``solver`` is ``"eigenvector"`` for a complete set of comparisons among the compared principles and
    ``"log_least_squares"`` otherwise. ``lambda_max``, ``consistency_index``, ``random_index`` and
    ``consistency_ratio`` are given for complete sets only (``None`` otherwise); for n = 2 a complete
    set is always consistent and ``consistency_ratio`` is 0. ``inconsistent`` is ``CR > 0.1``.
    ``worst`` holds the judgements with the largest ``|log_error|``, worst first.
    """

    solver: Literal["eigenvector", "log_least_squares"]
    compared: tuple[int, ...]
    uncompared: tuple[int, ...]
    complete: bool
    lambda_max: float | None
    consistency_index: float | None
    random_index: float | None
    consistency_ratio: float | None
    inconsistent: bool
    worst: tuple[ComparisonResidual, ...]


@dataclass(frozen=True)
class WeightResult:
    """Normalised weights (read-only array, position ``p - 1`` = principle ``p``) and diagnostics."""

    method: str
    weights: np.ndarray
    diagnostics: PairwiseDiagnostics | None = None

    def as_dict(self) -> dict[str, float]:
        """Weights keyed by principle number as a string (``{"1": 0.2, ...}``), as the API shows them."""
        return {str(i + 1): float(w) for i, w in enumerate(self.weights)}


def _total(raw: np.ndarray) -> float:
    try:
        return math.fsum(raw.tolist())
    except OverflowError:  # finite numbers whose sum is beyond a float (1e308 + 1e308)
        return math.inf


def _finish(method: str, raw: np.ndarray, diagnostics: PairwiseDiagnostics | None = None) -> WeightResult:
    total = _total(raw)
    if not math.isfinite(total) or total < 1e-290:
        # Only proportions matter: rescale by the largest number first, so that neither the total nor
        # the quotients overflow or lose their digits in subnormal numbers.
        raw = raw / float(np.max(raw))
        total = _total(raw)
    weights = raw / total
    return WeightResult(method=method, weights=frozen(weights), diagnostics=diagnostics)


# A number as text: a decimal ("3", "0.5", "2e-1") or a ratio of two whole numbers ("1/3"). Its length and
# exponent are bounded before Fraction is used: Fraction("1e10000000") builds a ten-million-digit integer.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?")
_WHOLE = re.compile(r"[+-]?\d+")
_MAX_NUMBER_TEXT = 64
_MAX_EXPONENT = 400  # beyond any float either way


def _parse_text(text: str, field: str) -> float:
    shown = repr(text)[:40]
    parts = [p.strip() for p in text.strip().split("/")]
    if len(text) > _MAX_NUMBER_TEXT or len(parts) > 2:
        raise ScoringInputError(field, f"{shown} is not a number such as 3, 0.5 or 1/3")
    if len(parts) == 2:
        if not (_WHOLE.fullmatch(parts[0]) and _WHOLE.fullmatch(parts[1])):
            raise ScoringInputError(field, f"{shown} is not a number such as 3, 0.5 or 1/3")
        if int(parts[1]) == 0:
            raise ScoringInputError(field, f"{shown} divides by zero")
        value = Fraction(int(parts[0]), int(parts[1]))
    else:
        m = _DECIMAL.fullmatch(parts[0])
        if not m:
            raise ScoringInputError(field, f"{shown} is not a number such as 3, 0.5 or 1/3")
        if m.group(1) and abs(int(m.group(1))) > _MAX_EXPONENT:
            raise ScoringInputError(field, f"{shown} is too large or too small a number")
        value = Fraction(parts[0])
    try:
        return float(value)
    except OverflowError:
        raise ScoringInputError(field, f"{shown} is too large a number") from None


def _number(value: object, field: str) -> float:
    shown = repr(value)[:40]
    if isinstance(value, bool) or value is None:
        raise ScoringInputError(field, f"{shown} is not a number")
    if isinstance(value, str):
        number = _parse_text(value, field)
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise ScoringInputError(field, "must be a finite number (this one is too large)") from None
        except (TypeError, ValueError):
            raise ScoringInputError(field, f"{shown} is not a number") from None
    if not math.isfinite(number):
        raise ScoringInputError(field, "must be a finite number")
    return number


def normalised_weights(
    values: Mapping[int | str, float] | Sequence[float],
    method: str = "direct",
    n_principles: int = N_PRINCIPLES,
) -> WeightResult:
    """Methods ``direct``, ``points`` and ``swing``: non-negative numbers divided by their total.

    ``values`` is either a mapping from principle number (``3`` or ``"3"``) to a number, principles left
    out counting 0, or a sequence of exactly ``n_principles`` numbers.

    Example: ``{"1": 3, "2": 1}`` gives ``w1 = 0.75``, ``w2 = 0.25``, the other ten 0.

    Raises:
        ScoringInputError: a negative or non-finite number, an unknown principle, or no positive number.
    """
    if method not in ("direct", "points", "swing"):
        raise ScoringInputError("method", f"{method!r} is not a normalised-number method")
    raw = np.zeros(n_principles)
    if isinstance(values, Mapping):
        for key, value in values.items():
            p = principle_number(key, f"weights.{key}", n_principles)
            raw[p - 1] = _number(value, f"weights.{key}")
    else:
        items = list(values)
        if len(items) != n_principles:
            raise ScoringInputError("weights", f"expected {n_principles} numbers, got {len(items)}")
        for i, value in enumerate(items):
            raw[i] = _number(value, f"weights.{i + 1}")
    negative = np.flatnonzero(raw < 0)
    if negative.size:
        raise ScoringInputError(f"weights.{negative[0] + 1}", "weights must not be negative")
    if not (raw > 0).any():
        raise ScoringInputError("weights", "at least one weight must be positive")
    return _finish(method, raw)


def rank_order_centroid(n: int) -> np.ndarray:
    """Rank-order centroid weights for ``n`` strictly ranked items: ``w_k = (1/n) sum_{i=k..n} 1/i``.

    Example: ``n = 3`` gives ``(11/18, 5/18, 2/18) = (0.6111, 0.2778, 0.1111)``.
    """
    if n < 1:
        raise ScoringInputError("order", "at least one principle must be ranked")
    reciprocals = 1.0 / np.arange(1, n + 1)
    return np.cumsum(reciprocals[::-1])[::-1] / n


def rank_order_weights(
    order: Sequence[Sequence[int | str] | int | str], n_principles: int = N_PRINCIPLES
) -> WeightResult:
    """Method ``rank_order``: groups of principles from most to least important, a group being a tie.

    With ``n`` principles ranked in total, the group occupying positions ``k..k+g-1`` gives each member
    the mean of the centroid weights ``w_k..w_{k+g-1}``; unranked principles get 0.

    Example: ``[[7], [2, 5], [1]]`` ranks n = 4: centroid weights (25, 13, 7, 3)/48, so principle 7 gets
    25/48, principles 2 and 5 get (13 + 7)/96 = 10/48 each, principle 1 gets 3/48.

    Raises:
        ScoringInputError: empty order or group, unknown principle, or a principle listed twice.
    """
    if isinstance(order, str | bytes) or not isinstance(order, Iterable):
        raise ScoringInputError("order", "must be a list of groups of principle numbers")
    groups: list[list[int]] = []
    seen: dict[int, str] = {}
    for g, group in enumerate(order):
        members = [group] if isinstance(group, int | str | np.integer) else list(group)
        if not members:
            raise ScoringInputError(f"order[{g}]", "a group must name at least one principle")
        numbers = []
        for m, key in enumerate(members):
            field = f"order[{g}][{m}]"
            p = principle_number(key, field, n_principles)
            if p in seen:
                raise ScoringInputError(field, f"principle {p} is already ranked at {seen[p]}")
            seen[p] = field
            numbers.append(p)
        groups.append(numbers)
    if not groups:
        raise ScoringInputError("order", "at least one principle must be ranked")
    centroid = rank_order_centroid(len(seen))
    raw = np.zeros(n_principles)
    position = 0
    for numbers in groups:
        share = centroid[position : position + len(numbers)].mean()
        raw[np.asarray(numbers) - 1] = share
        position += len(numbers)
    return _finish("rank_order", raw)


def _parse_comparisons(comparisons: Iterable[object], n_principles: int) -> list[tuple[int, int, float]]:
    if isinstance(comparisons, str | bytes | Mapping) or not isinstance(comparisons, Iterable):
        raise ScoringInputError("comparisons", "must be a list of {a, b, ratio} comparisons")
    parsed: list[tuple[int, int, float]] = []
    pairs: dict[frozenset[int], int] = {}
    for i, item in enumerate(comparisons):
        field = f"comparisons[{i}]"
        if isinstance(item, Mapping):
            a, b, ratio = item.get("a"), item.get("b"), item.get("ratio")
        elif isinstance(item, tuple | list) and len(item) == 3:
            a, b, ratio = item
        else:
            a, b, ratio = (getattr(item, name, None) for name in ("a", "b", "ratio"))
        if a is None or b is None or ratio is None:
            raise ScoringInputError(field, "a comparison needs a, b and ratio")
        pa = principle_number(a, f"{field}.a", n_principles)
        pb = principle_number(b, f"{field}.b", n_principles)
        if pa == pb:
            raise ScoringInputError(field, f"principle {pa} is compared with itself")
        r = _number(ratio, f"{field}.ratio")
        if not (_RATIO_MIN * (1 - _RATIO_SLACK) <= r <= _RATIO_MAX * (1 + _RATIO_SLACK)):
            raise ScoringInputError(f"{field}.ratio", f"ratio {r:g} is outside Saaty's range 1/9..9")
        key = frozenset((pa, pb))
        if key in pairs:
            raise ScoringInputError(
                field, f"principles {pa} and {pb} are already compared in comparisons[{pairs[key]}]"
            )
        pairs[key] = i
        parsed.append((pa, pb, r))
    if not parsed:
        raise ScoringInputError("comparisons", "at least one comparison is needed")
    return parsed


def _components(nodes: list[int], edges: list[tuple[int, int, float]]) -> list[tuple[int, ...]]:
    parent = {p: p for p in nodes}

    def find(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for a, b, _ in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for p in nodes:
        groups.setdefault(find(p), []).append(p)
    return sorted((tuple(sorted(g)) for g in groups.values()), key=lambda g: (-len(g), g))


def perron_vector(
    matrix: np.ndarray, tol: float = 1e-15, max_iter: int = 100_000
) -> tuple[np.ndarray, float]:
    """Principal eigenvector (summing to 1) and eigenvalue of a positive matrix by power iteration.

    For a positive matrix the Perron root is simple and strictly dominant (Perron-Frobenius), so the
    iteration ``w <- A w / sum(A w)`` converges from any positive start; the start used is the row
    geometric mean, which is already close for near-consistent judgements. ``lambda_max = sum(A w)``.
    """
    a = np.asarray(matrix, dtype=np.float64)
    w = np.exp(np.log(a).mean(axis=1))
    w /= w.sum()
    for _ in range(max_iter):
        aw = a @ w
        nxt = aw / aw.sum()
        if np.max(np.abs(nxt - w) / nxt) <= tol:
            w = nxt
            break
        w = nxt
    return w, float((a @ w).sum())


def pairwise_weights(
    comparisons: Iterable[object], n_principles: int = N_PRINCIPLES, worst: int = 5
) -> WeightResult:
    """Method ``pairwise`` (AHP): weights from Saaty ratio judgements.

    ``comparisons`` items are mappings ``{"a": 1, "b": 2, "ratio": 3}``, ``(a, b, ratio)`` tuples or
    objects with ``a``, ``b``, ``ratio`` attributes; ``ratio`` may be a number or a string like ``"1/3"``.

    * Complete (every pair of compared principles judged once): principal eigenvector of the reciprocal
      matrix, with ``lambda_max``, ``CI``, ``RI`` (:data:`RANDOM_INDEX`) and ``CR``; ``CR > 0.1`` sets
      ``diagnostics.inconsistent``.
    * Incomplete but connected: logarithmic least squares, minimising
      ``sum (ln w_a - ln w_b - ln ratio)^2`` (solved exactly through the comparison graph's Laplacian).
    * Principles that appear in no comparison get weight 0.

    Example: ``1 vs 2 = 2``, ``1 vs 3 = 4``, ``2 vs 3 = 2`` is consistent: weights 4/7, 2/7, 1/7, CR 0.

    Raises:
        DisconnectedComparisonsError: the comparison graph is not connected (names the principles cut off).
        ScoringInputError: malformed, duplicate or out-of-range judgements.
    """
    parsed = _parse_comparisons(comparisons, n_principles)
    compared = sorted({p for a, b, _ in parsed for p in (a, b)})
    components = _components(compared, parsed)
    if len(components) > 1:
        raise DisconnectedComparisonsError(tuple(components))
    m = len(compared)
    index = {p: i for i, p in enumerate(compared)}
    complete = len(parsed) == m * (m - 1) // 2
    if complete:
        matrix = np.ones((m, m))
        for a, b, r in parsed:
            matrix[index[a], index[b]] = r
            matrix[index[b], index[a]] = 1.0 / r
        local, lambda_max = perron_vector(matrix)
        ci = max(0.0, (lambda_max - m) / (m - 1))
        ri = RANDOM_INDEX.get(m)
        cr: float | None
        if ri is None:
            cr = None
        elif ri == 0.0:
            ci, cr = 0.0, 0.0  # n <= 2: a reciprocal matrix is always consistent
        else:
            cr = ci / ri
        solver: Literal["eigenvector", "log_least_squares"] = "eigenvector"
        lam: float | None = lambda_max
        ci_out: float | None = ci
    else:
        laplacian = np.zeros((m, m))
        rhs = np.zeros(m)
        for a, b, r in parsed:
            ia, ib = index[a], index[b]
            laplacian[ia, ia] += 1
            laplacian[ib, ib] += 1
            laplacian[ia, ib] -= 1
            laplacian[ib, ia] -= 1
            rhs[ia] += math.log(r)
            rhs[ib] -= math.log(r)
        # Connected graph: L has a one-dimensional null space (constants); adding 1/m * 11^T fixes
        # sum(log w) = 0 and makes the system non-singular.
        logs = np.linalg.solve(laplacian + 1.0 / m, rhs)
        local = np.exp(logs - logs.max())
        local /= local.sum()
        solver, lam, ci_out, ri, cr = "log_least_squares", None, None, None, None
    residuals = []
    for a, b, r in parsed:
        implied = float(local[index[a]] / local[index[b]])
        residuals.append(ComparisonResidual(a, b, r, implied, math.log(r) - math.log(implied)))
    residuals.sort(key=lambda c: (-abs(c.log_error), c.a, c.b))
    raw = np.zeros(n_principles)
    raw[np.asarray(compared) - 1] = local
    diagnostics = PairwiseDiagnostics(
        solver=solver,
        compared=tuple(compared),
        uncompared=tuple(p for p in range(1, n_principles + 1) if p not in index),
        complete=complete,
        lambda_max=lam,
        consistency_index=ci_out,
        random_index=ri,
        consistency_ratio=cr,
        inconsistent=cr is not None and cr > CR_THRESHOLD,
        worst=tuple(residuals[: max(0, worst)]),
    )
    return _finish("pairwise", raw, diagnostics)


def derive_weights(
    method: str,
    *,
    weights: Mapping[int | str, float] | Sequence[float] | None = None,
    order: Sequence[Sequence[int | str] | int | str] | None = None,
    comparisons: Iterable[object] | None = None,
    n_principles: int = N_PRINCIPLES,
) -> WeightResult:
    """Derive a weighting by method name, taking the input the method needs.

    ``direct``/``points``/``swing`` need ``weights``; ``rank_order`` needs ``order``; ``pairwise`` needs
    ``comparisons``. Raises :class:`ScoringInputError` naming the missing or wrong field.
    """
    if method in ("direct", "points", "swing"):
        if weights is None:
            raise ScoringInputError("weights", f"method {method!r} needs weights")
        return normalised_weights(weights, method, n_principles)
    if method == "rank_order":
        if order is None:
            raise ScoringInputError("order", "method 'rank_order' needs an order")
        return rank_order_weights(order, n_principles)
    if method == "pairwise":
        if comparisons is None:
            raise ScoringInputError("comparisons", "method 'pairwise' needs comparisons")
        return pairwise_weights(comparisons, n_principles)
    raise ScoringInputError("method", f"unknown method {method!r}; use one of {METHODS}")


def check_weights(weights: object, n_principles: int | None = None, field: str = "weights") -> np.ndarray:
    """Validate a weight vector used by ranking/selection/sensitivity: finite, >= 0, sum 1 (+-1e-9).

    Accepts a :class:`WeightResult` or any array-like; returns a float64 copy.
    """
    if isinstance(weights, WeightResult):
        weights = weights.weights
    w = np.array(weights, dtype=np.float64, copy=True).reshape(-1)
    if n_principles is not None and w.size != n_principles:
        raise ScoringInputError(field, f"expected {n_principles} weights, got {w.size}")
    if w.size == 0 or not np.all(np.isfinite(w)):
        raise ScoringInputError(field, "weights must be finite numbers")
    if (w < 0).any():
        raise ScoringInputError(field, "weights must not be negative")
    if abs(math.fsum(w.tolist()) - 1.0) > 1e-9:
        raise ScoringInputError(field, "weights must sum to 1")
    return w
