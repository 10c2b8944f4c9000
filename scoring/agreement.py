"""Agreement between scorers (brief Maths 9).

Per proposal and principle, over the submitted *answered* scores only -- a "not applicable" answer is
never a number here, whatever the cycle's not-applicable policy for weighted scores:

* ``spread = max - min`` and the *population* standard deviation (``ddof = 0``: the panel is the whole
  population of judgements on that cell, not a sample of one). One value gives spread 0 and sd 0; no
  value (nothing answered, or only NA answers) gives NaN and is never flagged.
* ``flagged``: ``spread >= threshold`` (the cycle's setting, default ``SPREAD_FLAG`` = 2), except on
  cells the chair has moderated -- a moderated cell is settled and never flagged.

Per cycle: Krippendorff's alpha with the ordinal metric (:func:`krippendorff_alpha_ordinal`), treating
each (proposal, principle) cell as a unit, each scorer as a coder and the answered scores as the values.

Per scorer: leniency, the same function calibrated aggregation uses (:func:`scorer_leniency`).

Example: scores 3, 3, 3, NA, 3 on one cell give spread 0 and sd 0 over four values (not flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aggregate import check_scores, scorer_leniency
from .errors import ScoringInputError
from .rules import SPREAD_FLAG, check_na_policy, frozen


@dataclass(frozen=True)
class Agreement:
    """Agreement figures. ``(P, K)`` arrays per cell, ``max_spread`` per proposal, ``leniency`` per scorer.

    ``max_spread`` is the largest spread over a proposal's principles, answered scores only and moderated
    cells included (NaN when no principle has an answered score); ``alpha`` is NaN when it is undefined
    (fewer than two values in any unit, or no variation at all).
    """

    spread: np.ndarray
    sd: np.ndarray
    n_values: np.ndarray
    flagged: np.ndarray
    max_spread: np.ndarray
    alpha: float
    leniency: np.ndarray


def krippendorff_alpha_ordinal(ratings: object) -> float:
    """Krippendorff's alpha, ordinal metric, for ``ratings`` of shape ``(coders, units)``; NaN = missing.

    Follows K. Krippendorff, *Computing Krippendorff's Alpha-Reliability* (2011): only units with at least
    two values are pairable; the coincidence matrix is ``o[c, k] = sum_u n_uc * (n_uk - [c == k]) /
    (m_u - 1)``, ``n_c = sum_k o[c, k]``, ``n = sum_c n_c``; the ordinal distance between values ``c <= k``
    is ``(sum_{g=c..k} n_g - (n_c + n_k) / 2)^2``; and
    ``alpha = 1 - (n - 1) * sum o * delta / sum n_c n_k delta``.

    Returns NaN when there is no pairable unit or no variation among pairable values.
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 2:
        raise ScoringInputError("ratings", "expected a coders x units array")
    present = ~np.isnan(r)
    m = present.sum(axis=0)
    pairable = m >= 2
    if not pairable.any():
        return float("nan")
    r, present, m = r[:, pairable], present[:, pairable], m[pairable]
    domain = np.unique(r[present])
    if domain.size < 2:
        return float("nan")
    n_units = r.shape[1]
    value_index = np.searchsorted(domain, np.where(present, r, domain[0]))
    unit_index = np.broadcast_to(np.arange(n_units), r.shape)
    counts = (
        np.bincount((unit_index * domain.size + value_index)[present], minlength=n_units * domain.size)
        .reshape(n_units, domain.size)
        .astype(np.float64)
    )
    inv = 1.0 / (m - 1.0)
    coincidence = counts.T @ (counts * inv[:, None]) - np.diag((counts * inv[:, None]).sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    cum = np.cumsum(n_c)
    lo = np.minimum.outer(np.arange(domain.size), np.arange(domain.size))
    hi = np.maximum.outer(np.arange(domain.size), np.arange(domain.size))
    delta = (cum[hi] - cum[lo] + n_c[lo] - (n_c[lo] + n_c[hi]) / 2.0) ** 2
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * (coincidence * delta).sum() / expected)


def spread_and_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread (max - min), population sd and count along the scorer axis of a ``(P, J, K)`` array."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    high = np.where(present, values, -np.inf).max(axis=1, initial=-np.inf)
    low = np.where(present, values, np.inf).min(axis=1, initial=np.inf)
    spread = np.where(count > 0, high - low, np.nan)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / count
        var = (np.where(present, values - mean[:, None, :], 0.0) ** 2).sum(axis=1) / count
    return spread, np.sqrt(var), count


def agreement(
    scores: object,
    not_applicable: object = None,
    *,
    na_policy: str = "minimum",
    scale_min: float = 0,
    scale_max: float = 5,
    threshold: float = SPREAD_FLAG,
    moderated: np.ndarray | None = None,
) -> Agreement:
    """Agreement figures for a ``(P, J, K)`` scores tensor (NaN = no score) and its NA mask.

    Args:
        scores, not_applicable: the submitted scores and NA marks, as :func:`scoring.aggregate` takes them.
        na_policy: validated for symmetry with aggregation; it does not change any figure here (NA answers
            are never values in agreement).
        scale_min, scale_max: the cycle's scale (scores are checked against it).
        threshold: a cell is flagged when its spread is at least this (positive; default 2).
        moderated: ``(P, K)`` boolean mask of the cells the chair has moderated; they are never flagged.

    Example: scores 1, 3 and 4 on one cell give spread 3 (flagged) and sd ``sqrt(14/9) = 1.247``.
    """
    check_na_policy(na_policy)
    limit = _threshold(threshold)
    s, na = check_scores(scores, not_applicable, scale_min, scale_max)  # NA answers are NaN in ``s``
    p, j, k = s.shape
    settled = _moderated_mask(moderated, (p, k))
    spread, sd, count = spread_and_sd(s)
    flagged = (np.nan_to_num(spread, nan=0.0) >= limit) & (count > 0)
    if settled is not None:
        flagged &= ~settled
    any_value = count.any(axis=1)
    max_spread = np.where(
        any_value, np.where(count > 0, spread, -np.inf).max(axis=1, initial=-np.inf), np.nan
    )
    ratings = s.transpose(1, 0, 2).reshape(j, p * k)
    return Agreement(
        spread=frozen(spread),
        sd=frozen(sd),
        n_values=frozen(count),
        flagged=frozen(flagged),
        max_spread=frozen(max_spread),
        alpha=krippendorff_alpha_ordinal(ratings),
        leniency=frozen(scorer_leniency(s, na)),
    )


def _threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.integer | np.floating):
        raise ScoringInputError("threshold", "the disagreement threshold must be a number")
    value = float(threshold)
    if not (np.isfinite(value) and value > 0):
        raise ScoringInputError("threshold", "the disagreement threshold must be a positive number")
    return value


def _moderated_mask(moderated: object, shape: tuple[int, int]) -> np.ndarray | None:
    if moderated is None:
        return None
    mask = np.asarray(moderated)
    if mask.dtype != bool:
        raise ScoringInputError("moderated", "expected a boolean mask of moderated cells")
    if mask.shape != shape:
        raise ScoringInputError(
            "moderated", f"expected shape {shape} (proposals x principles), got {mask.shape}"
        )
    return mask
