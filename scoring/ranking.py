"""Weighted score, coverage and rank (brief Maths 2-5).

For aggregated scores ``a[i, p]`` (NaN = no submitted answer) and weights ``w`` summing to 1:

* ``n[i, p] = (a[i, p] - scale_min) / (scale_max - scale_min)`` (:func:`scoring.rules.normalise`);
* ``W[i] = 100 * sum_p w'[i, p] * n[i, p]`` in ``[0, 100]``, where ``w' = w`` except under the
  ``redistribute`` policy: principles not applicable to proposal ``i`` get ``w' = 0`` and the rest are
  rescaled to sum to 1 (if no weight is left, ``W[i] = 0``). A principle without any answer adds 0;
* ``coverage[i]`` = total weight (original ``w``) of principles with at least one submitted answer, an
  NA mark counting as an answer; ``complete[i]`` is True when every principle with positive weight is
  answered (then coverage is exactly 1);
* listing order: complete proposals first, then incomplete ones; within each, ``W`` descending;
  proposals whose ``W`` differ by at most ``TIE_TOLERANCE`` (1e-9) -- chained through the sorted list,
  so every pair within 1e-9 is tied -- form a tie group sharing one rank; inside a group the order is
  net cost ascending, then reference ascending (Unicode code-point order), then input position;
* rank: competition ("1224") ranking over the listing, so incomplete proposals rank after every
  complete one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .aggregate import Aggregate
from .errors import ScoringInputError
from .rules import TIE_TOLERANCE, check_scale, frozen, normalise
from .weights import check_weights


@dataclass(frozen=True)
class RankedItem:
    """One row of a ranking, in listing order (``position`` is 1-based)."""

    position: int
    index: int
    rank: int
    weighted_score: float
    coverage: float
    complete: bool
    reference: str | None
    net_cost: int | float | None


@dataclass(frozen=True)
class Ranking:
    """A ranking. Arrays are read-only; all but ``order`` are indexed by proposal (input position).

    Attributes:
        order: proposal indices in listing order.
        rank: competition rank of each proposal (1 = best).
        weighted_score: ``W`` of each proposal, 0..100.
        coverage: share of weight on answered principles, 0..1.
        complete: coverage is 1.
        net_cost: the tie-break key given (total net cost, pence), or ``None``.
        references: the tie-break references given, or ``None``.
    """

    order: np.ndarray
    rank: np.ndarray
    weighted_score: np.ndarray
    coverage: np.ndarray
    complete: np.ndarray
    net_cost: np.ndarray | None = None
    references: tuple[str, ...] | None = None

    def items(self) -> list[RankedItem]:
        """The ranking as a list of :class:`RankedItem`, in listing order."""
        out = []
        for pos, i in enumerate(self.order.tolist()):
            out.append(
                RankedItem(
                    position=pos + 1,
                    index=i,
                    rank=int(self.rank[i]),
                    weighted_score=float(self.weighted_score[i]),
                    coverage=float(self.coverage[i]),
                    complete=bool(self.complete[i]),
                    reference=None if self.references is None else self.references[i],
                    net_cost=None if self.net_cost is None else self.net_cost[i].item(),
                )
            )
        return out


def _scores_matrix(scores: object, n_weights: int | None = None) -> np.ndarray:
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim != 2:
        raise ScoringInputError("scores", f"expected a proposal x principle array, got {a.ndim} dimensions")
    if n_weights is not None and a.shape[1] != n_weights:
        raise ScoringInputError("scores", f"{a.shape[1]} principles in scores but {n_weights} weights")
    if np.isinf(a).any():
        raise ScoringInputError("scores", "scores must be finite or NaN (no answer)")
    return a


def _na_mask(not_applicable: object, shape: tuple[int, ...]) -> np.ndarray | None:
    if not_applicable is None:
        return None
    na = np.asarray(not_applicable, dtype=bool)
    if na.shape != shape:
        raise ScoringInputError("not_applicable", f"shape {na.shape} does not match scores {shape}")
    return na if na.any() else None


def effective_weights(weights: np.ndarray, not_applicable: np.ndarray | None, n_proposals: int) -> np.ndarray:
    """Per-proposal weights ``w'`` (shape ``(P, K)``): the redistribute rule, in one place.

    Principles marked not applicable get 0 and the remaining weights are rescaled to sum to 1; a row
    with no weight left is all zeros.
    """
    w = np.asarray(weights, dtype=np.float64)
    if not_applicable is None:
        return np.broadcast_to(w, (n_proposals, w.size))
    kept = np.where(not_applicable, 0.0, w[None, :])
    total = kept.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, kept / total, 0.0)


def weighted_scores(
    scores: object,
    weights: object,
    *,
    scale_min: float = 0,
    scale_max: float = 5,
    not_applicable: object = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``W``, ``coverage`` and ``complete`` for aggregated scores ``(P, K)`` (brief Maths 2-4).

    Example (scale 0..5, weights 0.5/0.3/0.2): scores (4, 5, 0) give
    ``W = 100 * (0.5*0.8 + 0.3*1 + 0.2*0) = 70``; scores (4, NaN, 0) give ``W = 40``, coverage 0.7.
    """
    w = check_weights(weights)
    a = _scores_matrix(scores, w.size)
    lo, hi = check_scale(scale_min, scale_max)
    na = _na_mask(not_applicable, a.shape)
    n = np.nan_to_num(normalise(a, lo, hi), nan=0.0)
    if na is None:
        weighted = 100.0 * (n @ w)
    else:
        weighted = 100.0 * np.einsum("ik,ik->i", n, effective_weights(w, na, a.shape[0]))
    answered = ~np.isnan(a) if na is None else (~np.isnan(a) | na)
    complete = ~((~answered) & (w > 0)[None, :]).any(axis=1)
    coverage = np.where(complete, 1.0, answered.astype(np.float64) @ w)
    return np.clip(weighted, 0.0, 100.0), coverage, complete


def tie_groups(
    sorted_scores: np.ndarray,
    sorted_complete: np.ndarray | None = None,
    *,
    descending: bool = True,
    tolerance: float = TIE_TOLERANCE,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean "starts a new tie group" flags for sorted scores (the 1e-9 rule, in one place).

    A new group starts where the next score is more than ``tolerance`` worse than the previous one
    (below it when sorted ``descending``, above it for ascending keys such as ``-W``) or where
    completeness changes. Works along the last axis, so it serves batches of samples too.
    ``tolerance`` is ``TIE_TOLERANCE`` expressed in the units of ``sorted_scores`` (callers that sort
    fixed-point keys pass it scaled). ``out`` (bool, same shape) and ``scratch`` (same dtype, last axis
    one shorter) are optional preallocated buffers.
    """
    s = np.asarray(sorted_scores)
    starts = np.empty(s.shape, dtype=bool) if out is None else out
    starts[..., :1] = True
    if descending:
        gap = np.subtract(s[..., :-1], s[..., 1:], out=scratch)
    else:
        gap = np.subtract(s[..., 1:], s[..., :-1], out=scratch)
    np.greater(gap, tolerance, out=starts[..., 1:])
    if sorted_complete is not None:
        c = np.asarray(sorted_complete)
        starts[..., 1:] |= c[..., :-1] != c[..., 1:]
    return starts


def tie_break_keys(
    n: int, net_cost: object = None, references: Sequence[str] | None = None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Validated tie-break keys (net cost ascending, then reference ascending)."""
    cost = None
    if net_cost is not None:
        raw = np.asarray(net_cost)
        if raw.dtype == object:
            try:
                raw = raw.astype(np.int64)
            except (OverflowError, TypeError, ValueError):
                raise ScoringInputError("net_cost", "net costs must be numbers (integer pence)") from None
        if (
            raw.shape != (n,)
            or not np.issubdtype(raw.dtype, np.number)
            or np.issubdtype(raw.dtype, np.complexfloating)
        ):
            raise ScoringInputError("net_cost", f"expected {n} numbers")
        if np.issubdtype(raw.dtype, np.floating) and not np.isfinite(raw).all():
            raise ScoringInputError("net_cost", "net costs must be finite")
        cost = raw
    refs = None
    if references is not None:
        refs = np.asarray([str(r) for r in references])
        if refs.shape != (n,):
            raise ScoringInputError("references", f"expected {n} references")
    return cost, refs


def listing_order(
    weighted: np.ndarray,
    complete: np.ndarray,
    net_cost: np.ndarray | None = None,
    references: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Listing order and competition ranks from ``W`` and completeness (brief Maths 4-5)."""
    n = weighted.size
    by_score = np.lexsort((-weighted, ~complete))
    starts = tie_groups(weighted[by_score], complete[by_score])
    group = np.empty(n, dtype=np.int64)
    group[by_score] = np.cumsum(starts) - 1
    keys: list[np.ndarray] = [np.arange(n)]
    if references is not None:
        keys.append(references)
    if net_cost is not None:
        keys.append(net_cost)
    keys.append(group)
    order = np.lexsort(tuple(keys))
    first_position = np.flatnonzero(starts)
    rank = first_position[group] + 1
    return order, rank


def rank(
    scores: object,
    weights: object,
    *,
    scale_min: float | None = None,
    scale_max: float | None = None,
    not_applicable: object = None,
    net_cost: object = None,
    references: Sequence[str] | None = None,
) -> Ranking:
    """Rank proposals from aggregated scores (brief Maths 2-5).

    Args:
        scores: ``(P, K)`` aggregated scores on the scale, NaN where a principle has no answer -- or an
            :class:`~scoring.aggregate.Aggregate`, whose scale and not-applicable mask are then used.
        weights: ``K`` weights summing to 1 (array or :class:`~scoring.weights.WeightResult`).
        scale_min, scale_max: the scale (default 0..5).
        not_applicable: ``(P, K)`` True where a principle is dropped for a proposal (``redistribute``).
        net_cost: total net cost per proposal (integer pence), first tie-break, ascending.
        references: proposal references, second tie-break, ascending.

    Returns:
        A :class:`Ranking`. Deterministic: equal inputs give equal output, ties broken as documented.

    Example: W = (70, 80, 70) with net costs (5, 1, 3) lists proposal 1, then 2, then 0, ranks (2, 1, 2).
    """
    if isinstance(scores, Aggregate):
        if not_applicable is None:
            not_applicable = scores.not_applicable
        scale_min = scores.scale_min if scale_min is None else scale_min
        scale_max = scores.scale_max if scale_max is None else scale_max
        scores = scores.scores
    lo = 0 if scale_min is None else scale_min
    hi = 5 if scale_max is None else scale_max
    weighted, coverage, complete = weighted_scores(
        scores, weights, scale_min=lo, scale_max=hi, not_applicable=not_applicable
    )
    cost, refs = tie_break_keys(weighted.size, net_cost, references)
    order, ranks = listing_order(weighted, complete, cost, refs)
    return Ranking(
        order=frozen(order),
        rank=frozen(ranks),
        weighted_score=frozen(weighted),
        coverage=frozen(coverage),
        complete=frozen(complete),
        net_cost=None if cost is None else frozen(np.array(cost)),
        references=None if refs is None else tuple(refs.tolist()),
    )
