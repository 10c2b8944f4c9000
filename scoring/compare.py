"""Comparison of two rankings of the same proposals (e.g. under two weightings).

* Kendall's tau-b between the two rank vectors (ties allowed in either):
  ``tau_b = (n_c - n_d) / sqrt((n_0 - n_1) * (n_0 - n_2))`` with ``n_0 = n(n-1)/2``, ``n_1``/``n_2`` the
  pairs tied in the first/second ranking, and ``n_c - n_d`` the sum over pairs of
  ``sign(x_i - x_j) * sign(y_i - y_j)``. All counts are exact integers. NaN when either ranking ties
  every pair (or fewer than two proposals).
* Rank shift per proposal: ``shift = rank_b - rank_a`` (positive: the proposal falls under B).
* Top k: the proposals with rank <= k (a tie straddling position k is taken in whole, so a "top k" set may
  hold more than k); entries are in B's top k but not A's, exits the reverse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ScoringInputError
from .ranking import Ranking
from .rules import frozen


@dataclass(frozen=True)
class RankingComparison:
    """Result of :func:`compare_rankings`; proposals are identified by index (input position).

    ``entries``/``exits`` are sorted by rank under B/A respectively, then index.
    """

    tau_b: float
    shift: np.ndarray
    top_k: int
    entries: tuple[int, ...]
    exits: tuple[int, ...]


def _ranks(value: object, field: str) -> np.ndarray:
    r = value.rank if isinstance(value, Ranking) else value
    arr = np.asarray(r)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.number):
        raise ScoringInputError(field, "expected a vector of ranks or a Ranking")
    return arr


def _sign_sum(x: np.ndarray, y: np.ndarray, block: int = 512) -> int:
    """``sum_{i<j} sign(x_i - x_j) * sign(y_i - y_j)`` computed exactly in blocks (O(n^2), vectorised)."""
    n = x.size
    total = 0
    for start in range(0, n, block):
        stop = min(n, start + block)
        dx = np.sign(x[start:stop, None] - x[None, :]).astype(np.int8)
        dy = np.sign(y[start:stop, None] - y[None, :]).astype(np.int8)
        prod = dx * dy
        # keep j > i only
        rows = np.arange(start, stop)[:, None]
        total += int(np.where(np.arange(n)[None, :] > rows, prod, 0).sum(dtype=np.int64))
    return total


def _tied_pairs(x: np.ndarray) -> int:
    _, counts = np.unique(x, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def kendall_tau_b(x: object, y: object) -> float:
    """Kendall's tau-b of two equally long vectors (exact pair counts). NaN when undefined."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ScoringInputError("ranks", "the two rank vectors must have the same length")
    n = a.size
    n0 = n * (n - 1) // 2
    n1, n2 = _tied_pairs(a), _tied_pairs(b)
    if n0 == 0 or n1 == n0 or n2 == n0:
        return float("nan")
    return _sign_sum(a, b) / math.sqrt((n0 - n1) * (n0 - n2))


def compare_rankings(a: Ranking | object, b: Ranking | object, top_k: int = 10) -> RankingComparison:
    """Compare two rankings of the same proposals (``Ranking`` objects or rank vectors by proposal).

    Example: ranks A = (1, 2, 3, 4), B = (2, 1, 3, 4): tau_b = (5 - 1)/6 = 0.667, shifts (+1, -1, 0, 0);
    with k = 1 proposal 1 enters and proposal 0 exits.
    """
    ra, rb = _ranks(a, "a"), _ranks(b, "b")
    if ra.shape != rb.shape:
        raise ScoringInputError("b", "the two rankings must cover the same proposals")
    if top_k < 0:
        raise ScoringInputError("top_k", "must not be negative")
    in_a, in_b = ra <= top_k, rb <= top_k
    entries = np.flatnonzero(in_b & ~in_a)
    exits = np.flatnonzero(in_a & ~in_b)
    entries = entries[np.lexsort((entries, rb[entries]))]
    exits = exits[np.lexsort((exits, ra[exits]))]
    return RankingComparison(
        tau_b=kendall_tau_b(ra, rb),
        shift=frozen(np.asarray(rb, dtype=np.int64) - np.asarray(ra, dtype=np.int64)),
        top_k=top_k,
        entries=tuple(int(i) for i in entries),
        exits=tuple(int(i) for i in exits),
    )
