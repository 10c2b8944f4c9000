"""Aggregation of panel scores per proposal and principle (brief Maths 1).

Input is a scores tensor ``s[i, j, p]`` -- proposal ``i`` x scorer ``j`` x principle ``p`` -- holding
submitted scores as floats, NaN where scorer ``j`` gave no score (no submitted scorecard, not assigned,
conflicted, or left blank), plus a boolean mask of the same shape marking "not applicable" (NA) answers.
Only submitted scorecards belong in the tensor. A submitted *answer* is a score or an NA mark.

Methods: ``mean`` (default), ``median``, ``trimmed_mean`` (drop one highest and one lowest value when
there are at least 4), ``moderated`` (the chair's moderated score where one exists, else the mean) and
``calibrated`` (each scorer's scores shifted by minus their leniency, clipped to the scale, then the mean).

Not-applicable policy:

* ``minimum`` (default): an NA answer counts as a score of ``scale_min`` in every method.
* ``redistribute``: NA answers are left out. A principle is *not applicable to a proposal* exactly
  when it has at least one submitted answer and every submitted answer is NA (for ``moderated``: the
  chair's moderated answer decides when there is one -- a moderated score makes it applicable, a
  moderated NA makes it not applicable). Such a principle is dropped for that proposal and the ranking
  rescales the remaining weights to sum to 1. When answers are mixed, the principle is applicable and
  aggregated over its numeric scores only.

Leniency (used by ``calibrated`` and reported by :mod:`scoring.agreement`): for scorer ``j``, the mean
over every cell ``(i, p)`` they gave a numeric score of ``s[i, j, p] - m[i, p]``, where ``m[i, p]`` is the
mean of all numeric scores of that cell (the scorer's own included). NA answers are not judgements on the
scale, so they take part neither in leniency nor in the shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from .errors import ScoringInputError
from .rules import check_na_policy, check_scale, frozen

AggregationMethod = Literal["mean", "median", "trimmed_mean", "moderated", "calibrated"]
AGGREGATIONS: Final[tuple[str, ...]] = ("mean", "median", "trimmed_mean", "moderated", "calibrated")


@dataclass(frozen=True)
class Aggregate:
    """Aggregated scores of each proposal on each principle (arrays are read-only, shape ``(P, K)``).

    Attributes:
        scores: aggregated score on the scale; NaN where the principle has no submitted answer or is not
            applicable under ``redistribute``.
        not_applicable: True where the principle is dropped for the proposal (``redistribute`` only).
        answered: True where at least one answer was submitted (an NA mark counts); drives coverage.
        n_answers: number of submitted answers (scores and NA marks).
        leniency: per-scorer leniency, shape ``(J,)``, for ``calibrated``; ``None`` otherwise.
    """

    method: str
    na_policy: str
    scale_min: float
    scale_max: float
    scores: np.ndarray
    not_applicable: np.ndarray
    answered: np.ndarray
    n_answers: np.ndarray
    leniency: np.ndarray | None = None


def check_scores(
    scores: object, not_applicable: object, scale_min: float, scale_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a ``(P, J, K)`` scores tensor and its NA mask; return float64 scores and a bool mask.

    Values under an NA mark are ignored (set to NaN). Numeric values must lie on the scale.
    """
    lo, hi = check_scale(scale_min, scale_max)
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 3:
        raise ScoringInputError(
            "scores", f"expected a proposal x scorer x principle array, got {s.ndim} dimensions"
        )
    if not_applicable is None:
        na = np.zeros(s.shape, dtype=bool)
    else:
        na = np.asarray(not_applicable, dtype=bool)
        if na.shape != s.shape:
            raise ScoringInputError("not_applicable", f"shape {na.shape} does not match scores {s.shape}")
    s[na] = np.nan
    if np.isinf(s).any():
        raise ScoringInputError("scores", "scores must be finite or NaN (missing)")
    finite = s[~np.isnan(s)]
    if finite.size and (finite.min() < lo or finite.max() > hi):
        raise ScoringInputError("scores", f"scores must lie on the scale {lo:g}..{hi:g}")
    return s, na


def answer_values(
    scores: np.ndarray, not_applicable: np.ndarray, scale_min: float, na_policy: str
) -> np.ndarray:
    """The values that feed aggregation and agreement: NA becomes ``scale_min`` under ``minimum`` and
    stays out (NaN) under ``redistribute``; missing stays NaN."""
    check_na_policy(na_policy)
    values = np.array(scores, dtype=np.float64, copy=True)
    values[not_applicable] = float(scale_min) if na_policy == "minimum" else np.nan
    return values


def _count_sum(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = ~np.isnan(values)
    return present.sum(axis=1), np.where(present, values, 0.0).sum(axis=1)


def _mean(values: np.ndarray) -> np.ndarray:
    count, total = _count_sum(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _order_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values sorted along the scorer axis (NaN last) and the count of present values."""
    return np.sort(values, axis=1), (~np.isnan(values)).sum(axis=1)


def _median(values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.full((values.shape[0], values.shape[2]), np.nan)
    ordered, count = _order_stats(values)
    lo = np.take_along_axis(ordered, (np.maximum(count - 1, 0) // 2)[:, None, :], axis=1)[:, 0, :]
    hi = np.take_along_axis(ordered, np.minimum(count // 2, values.shape[1] - 1)[:, None, :], axis=1)[:, 0, :]
    return np.where(count > 0, (lo + hi) / 2.0, np.nan)


def _trimmed_mean(values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.full((values.shape[0], values.shape[2]), np.nan)
    ordered, count = _order_stats(values)
    total = np.where(np.isnan(ordered), 0.0, ordered).sum(axis=1)
    low = ordered[:, 0, :]
    high = np.take_along_axis(ordered, np.maximum(count - 1, 0)[:, None, :], axis=1)[:, 0, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        trimmed = (total - low - high) / (count - 2)
        plain = total / count
    return np.where(count >= 4, trimmed, plain)


def scorer_leniency(scores: object, not_applicable: object = None) -> np.ndarray:
    """Leniency of each scorer: mean deviation of their numeric scores from the panel mean of each cell.

    ``scores`` is the ``(P, J, K)`` tensor (NaN = no score); NA-marked answers are ignored. Returns shape
    ``(J,)``; NaN for a scorer with no numeric score. Positive means the scorer scores above the panel.

    Example: two scorers give one proposal 4 and 2 on a principle: panel mean 3, leniencies +1 and -1.
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim != 3:
        raise ScoringInputError("scores", "expected a proposal x scorer x principle array")
    if not_applicable is not None:
        s[np.asarray(not_applicable, dtype=bool)] = np.nan
    cell_mean = _mean(s)  # (P, K)
    deviation = s - cell_mean[:, None, :]
    present = ~np.isnan(deviation)
    count = present.sum(axis=(0, 2))
    total = np.where(present, deviation, 0.0).sum(axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def aggregate(
    scores: object,
    not_applicable: object = None,
    *,
    method: str = "mean",
    na_policy: str = "minimum",
    scale_min: float = 0,
    scale_max: float = 5,
    moderated: object = None,
    moderated_na: object = None,
) -> Aggregate:
    """Aggregate a ``(P, J, K)`` scores tensor into per-proposal, per-principle scores.

    Args:
        scores: submitted scores, NaN where none.
        not_applicable: boolean NA mask of the same shape (``None``: no NA answers).
        method: ``mean``, ``median``, ``trimmed_mean``, ``moderated`` or ``calibrated``.
        na_policy: ``minimum`` (NA counts as ``scale_min``) or ``redistribute`` (NA dropped; see module doc).
        scale_min, scale_max: the cycle's scale.
        moderated: ``(P, K)`` chair's moderated scores, NaN where none (used by ``moderated`` only).
        moderated_na: ``(P, K)`` True where the chair moderated to "not applicable".

    Example (mean, scale 0..5, one proposal, one principle): scores 4, 2 and NA give
    ``(4 + 2 + 0) / 3 = 2`` under ``minimum`` and ``(4 + 2) / 2 = 3`` under ``redistribute``.
    """
    if method not in AGGREGATIONS:
        raise ScoringInputError("aggregation", f"unknown aggregation {method!r}; use one of {AGGREGATIONS}")
    check_na_policy(na_policy)
    lo, hi = check_scale(scale_min, scale_max)
    s, na = check_scores(scores, not_applicable, lo, hi)
    n_p, _, n_k = s.shape
    numeric = ~np.isnan(s)
    n_answers = (numeric | na).sum(axis=1)
    answered = n_answers > 0
    all_na = answered & ~numeric.any(axis=1)
    values = answer_values(s, na, lo, na_policy)
    leniency = None

    if method == "mean" or method == "moderated":
        result = _mean(values)
    elif method == "median":
        result = _median(values)
    elif method == "trimmed_mean":
        result = _trimmed_mean(values)
    else:  # calibrated
        leniency = scorer_leniency(s)
        shift = np.nan_to_num(leniency, nan=0.0)
        shifted = np.clip(s - shift[None, :, None], lo, hi)
        if na_policy == "minimum":
            shifted[na] = lo
        result = _mean(shifted)

    dropped = all_na if na_policy == "redistribute" else np.zeros((n_p, n_k), dtype=bool)
    if method == "moderated" and (moderated is not None or moderated_na is not None):
        mod = np.full((n_p, n_k), np.nan) if moderated is None else np.array(moderated, dtype=np.float64)
        mod_na = np.zeros((n_p, n_k), bool) if moderated_na is None else np.asarray(moderated_na, dtype=bool)
        for name, arr in (("moderated", mod), ("moderated_na", mod_na)):
            if arr.shape != (n_p, n_k):
                raise ScoringInputError(name, f"expected shape {(n_p, n_k)}, got {arr.shape}")
        mod = mod.copy()
        mod[mod_na] = np.nan
        has_mod = ~np.isnan(mod)
        if np.isinf(mod).any() or (has_mod.any() and (mod[has_mod].min() < lo or mod[has_mod].max() > hi)):
            raise ScoringInputError("moderated", f"moderated scores must lie on the scale {lo:g}..{hi:g}")
        result = np.where(has_mod, mod, result)
        answered = answered | has_mod | mod_na
        if na_policy == "minimum":
            result = np.where(mod_na, lo, result)
        else:
            dropped = (dropped & ~has_mod) | mod_na
    result = np.where(dropped, np.nan, result)
    return Aggregate(
        method=method,
        na_policy=na_policy,
        scale_min=lo,
        scale_max=hi,
        scores=frozen(result),
        not_applicable=frozen(np.asarray(dropped, dtype=bool)),
        answered=frozen(np.asarray(answered, dtype=bool)),
        n_answers=frozen(n_answers),
        leniency=None if leniency is None else frozen(leniency),
    )
