"""The fixed rules shared by every part of the maths, each defined in exactly one place.

* principles are numbered ``1..N_PRINCIPLES``; arrays indexed by principle use position ``p - 1``;
* scores live on an integer scale ``scale_min..scale_max`` and are normalised to ``[0, 1]``;
* weighted scores closer than ``TIE_TOLERANCE`` count as equal when ranking;
* a pairwise weighting with consistency ratio above ``CR_THRESHOLD`` is flagged;
* a spread of submitted scores of at least ``SPREAD_FLAG`` is flagged for moderation.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from .errors import ScoringInputError

N_PRINCIPLES: Final = 12
TIE_TOLERANCE: Final = 1e-9
CR_THRESHOLD: Final = 0.1
SPREAD_FLAG: Final = 2.0
DEFAULT_SCALE: Final = (0, 5)
NA_POLICIES: Final = ("minimum", "redistribute")


def check_scale(scale_min: float, scale_max: float) -> tuple[float, float]:
    """Validate a scoring scale and return it as ``(scale_min, scale_max)`` floats."""
    try:
        lo, hi = float(scale_min), float(scale_max)
    except (TypeError, ValueError):
        raise ScoringInputError("scale", "scale_min and scale_max must be numbers") from None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ScoringInputError("scale", "scale_min and scale_max must be finite")
    if hi <= lo:
        raise ScoringInputError("scale_max", f"scale_max ({scale_max}) must exceed scale_min ({scale_min})")
    return lo, hi


def check_na_policy(na_policy: str) -> str:
    """Validate a not-applicable policy name (``minimum`` or ``redistribute``)."""
    if na_policy not in NA_POLICIES:
        raise ScoringInputError(
            "na_policy", f"unknown not-applicable policy {na_policy!r}; use one of {NA_POLICIES}"
        )
    return na_policy


def normalise(values: np.ndarray, scale_min: float, scale_max: float) -> np.ndarray:
    """Brief Maths 2: ``n = (a - scale_min) / (scale_max - scale_min)``, elementwise (NaN stays NaN)."""
    lo, hi = check_scale(scale_min, scale_max)
    return (np.asarray(values, dtype=np.float64) - lo) / (hi - lo)


def principle_number(key: object, field: str, n_principles: int = N_PRINCIPLES) -> int:
    """Turn a principle key (``3`` or ``"3"``) into an int in ``1..n_principles``."""
    if isinstance(key, bool):
        raise ScoringInputError(field, f"{key!r} is not a principle number")
    if isinstance(key, str):
        text = key.strip()
        # ASCII digits only ("²" is a digit to str.isdigit), and short: int() of thousands of digits is
        # refused (or slow) by Python itself.
        if not (text.isascii() and text.isdigit() and len(text) <= 9):
            raise ScoringInputError(field, f"{key[:20]!r} is not a principle number")
        number = int(text)
    elif isinstance(key, int | np.integer):
        number = int(key)
    else:
        raise ScoringInputError(field, f"{key!r} is not a principle number")
    if not 1 <= number <= n_principles:
        raise ScoringInputError(
            field, f"principle {number} does not exist (principles are 1..{n_principles})"
        )
    return number


def frozen(array: np.ndarray) -> np.ndarray:
    """Return ``array`` marked read-only, so results held in frozen dataclasses stay immutable."""
    array.setflags(write=False)
    return array
