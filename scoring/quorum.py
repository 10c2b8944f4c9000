"""Quorum and panel completeness (brief Maths 4).

A proposal is *rankable* when it has at least its quorum of submitted scorecards. Per proposal ``i``,
with ``eligible[i]`` the panel members who may score it (members of its panel without a conflict of
interest on it) and ``submitted[i]`` the submitted scorecards that feed aggregation:

* ``required[i] = max(1, min(min_scorecards, eligible[i]))`` -- the cycle's setting, capped by what the
  panel can give, and never 0: a proposal nobody has scored is never ranked;
* ``met[i] = submitted[i] >= required[i]``;
* ``capped[i] = eligible[i] < min_scorecards`` -- the cycle's setting cannot be met for that proposal
  (its quorum was lowered; with no eligible member at all it cannot be ranked);
* ``complete[i]``: every eligible member has submitted (``eligible_submitted[i] == eligible[i] > 0``).

Example: ``min_scorecards = 3``; a proposal with 5 eligible members and 1 submitted scorecard needs 3
and is not rankable; one with 2 eligible members (3 conflicted) needs 2, is capped, and is rankable and
complete once both have submitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ScoringInputError
from .rules import frozen


@dataclass(frozen=True)
class Quorum:
    """Quorum per proposal; every array has one entry per proposal (read-only)."""

    min_scorecards: int
    required: np.ndarray
    met: np.ndarray
    capped: np.ndarray
    complete: np.ndarray


def _counts(values: object, field: str, n: int | None = None) -> np.ndarray:
    raw = np.asarray(values)
    if raw.size == 0:
        raw = raw.astype(np.int64)
    if raw.ndim != 1 or not (np.issubdtype(raw.dtype, np.integer) or raw.dtype == bool):
        raise ScoringInputError(field, "expected one whole number per proposal")
    counts = raw.astype(np.int64)
    if (counts < 0).any():
        raise ScoringInputError(field, "counts cannot be negative")
    if n is not None and counts.size != n:
        raise ScoringInputError(field, f"expected {n} counts, got {counts.size}")
    return counts


def quorum(
    eligible: object,
    submitted: object,
    min_scorecards: int,
    eligible_submitted: object = None,
) -> Quorum:
    """Quorum, rankability and completeness per proposal (rules in the module docstring).

    Args:
        eligible: panel members who may score each proposal.
        submitted: submitted scorecards counted for each proposal.
        min_scorecards: the cycle's quorum setting, at least 1.
        eligible_submitted: of the eligible members, how many submitted (default:
            ``min(submitted, eligible)``); decides ``complete``.
    """
    if isinstance(min_scorecards, bool) or not isinstance(min_scorecards, int | np.integer):
        raise ScoringInputError("min_scorecards", "expected a whole number")
    if min_scorecards < 1:
        raise ScoringInputError("min_scorecards", "at least one scorecard is needed to rank a proposal")
    e = _counts(eligible, "eligible")
    s = _counts(submitted, "submitted", e.size)
    done = (
        np.minimum(s, e)
        if eligible_submitted is None
        else _counts(eligible_submitted, "eligible_submitted", e.size)
    )
    if (done > e).any():
        raise ScoringInputError("eligible_submitted", "more eligible members submitted than are eligible")
    required = np.maximum(1, np.minimum(int(min_scorecards), e))
    return Quorum(
        min_scorecards=int(min_scorecards),
        required=frozen(required),
        met=frozen(s >= required),
        capped=frozen(e < min_scorecards),
        complete=frozen((e > 0) & (done == e)),
    )
