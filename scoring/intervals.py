"""How sure each rank is: rank intervals from resampling the panel (brief Maths 11).

**Bootstrap.** Proposal ``i`` has ``m_i`` *submitted* scorecards: the scorers ``j`` with at least one
answer (a score or a not-applicable mark) on it. One resample draws, for every proposal independently,
``m_i`` of its submitted scorecards with replacement; the proposal is then aggregated with the same
method and not-applicable policy as the ranking (:func:`scoring.aggregate`), its weighted score ``W``
and completeness computed as :func:`scoring.ranking.weighted_scores` does, and every proposal ranked
with the ranking's rules (complete proposals first; ``W`` within 1e-9 tied and sharing a competition
rank; tie order net cost ascending, then reference, then input position).

Choices made:

* ``moderated``: the chair's moderated values (and moderated "not applicable") stay fixed in every
  resample; the other principles are the mean of the drawn scorecards.
* ``calibrated``: each scorer's leniency is computed once from the full panel and held fixed; a drawn
  scorecard brings its scorer's shifted, clipped scores (a duplicate draw brings them twice).
* A proposal without a submitted scorecard has nothing to resample: its ``W`` is the ranking's in every
  resample (it keeps its place among the others) and its interval is NaN. A proposal with one
  scorecard has a fixed ``W``, but its rank can still move when its neighbours' scores move.

**Draws (reproducible).** Proposal ``i``'s ``m_i`` slots are drawn in groups of ``g`` slots (pairs,
``g = 2``, when the tensor has at most 8 scorer columns ``J``; single slots otherwise): group ``p``
covers slots ``g*p ..``, of which ``k = clip(m_i - g*p, 0, g)`` are used, and one 32-bit number ``u``
picks one of its ``m_i**k`` outcomes, ``o = floor(m_i**k * u / 2**32)``; a pair's outcome is the
submitted scorecards ``o // m_i`` (first slot) and ``o % m_i`` (second) -- two independent draws with
replacement, in scorer order. The numbers come from ``numpy.random.default_rng(seed)``: for each
resample in turn its bit generator gives ``h = ceil(G * P / 2)`` 64-bit outputs (``G = ceil(J / g)``
groups, ``P`` proposals), read as 32-bit numbers low half first (``u_0`` = low half of the first output,
``u_1`` its high half, ...), and group ``p`` of proposal ``i`` takes ``u_{p*P + i}``. The same seed and
inputs give byte-identical results, whatever the chunking. (Each outcome has a probability within
``2**-32``, about 2e-10, of ``m_i**-k``.)

**Reported per proposal** (over the ``resamples`` ranks): ``low`` and ``high`` -- the 5th and 95th
percentile ranks -- and ``median``, each by the *inverted CDF* rule (``numpy.percentile(...,
method="inverted_cdf")``): the ``q``-th percentile of ``R`` ranks is the ``k``-th smallest,
``k = max(1, ceil(R * q / 100))`` (exact arithmetic) -- an actual rank, a whole number, such that at
least ``q`` % of the resamples rank the proposal there or better. Given a
:class:`~scoring.selection.SelectionProblem`, ``p_funded`` is the share of resamples in which the budget
walk (:func:`scoring.selection.budget_line`) down that resample's listing funds the proposal.

**Cost.** Most proposals take a linear shortcut: when every submitted scorecard of a proposal answers
the same principles in the same way (score, NA or blank -- always so for complete scorecards under the
``minimum`` policy) and the method is a mean (``mean``, ``moderated``, ``calibrated``), the resampled
``W`` is the mean of the drawn scorecards' own weighted scores, so one gather and one sum per draw
replace aggregating twelve principles. Other proposals (``median``, ``trimmed_mean``, mixed NA or blank
answers under ``redistribute``) are aggregated in full, with :func:`scoring.aggregate` and
:func:`scoring.ranking.weighted_scores` themselves, in chunks of at most ``chunk_elements`` values.
Ranks come from one integer sort per resample (fixed-point keys, as in :mod:`scoring.sensitivity`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .aggregate import AGGREGATIONS, aggregate, answer_values, check_scores
from .errors import ScoringInputError
from .ranking import effective_weights, tie_break_keys, tie_groups, weighted_scores
from .rules import TIE_TOLERANCE, frozen
from .selection import SelectionProblem, _walk_data, budget_line
from .weights import check_weights

_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_LINEAR = ("mean", "moderated", "calibrated")
_PAIR_LIMIT = 8  # up to this many scorer columns, slots are drawn in pairs


@dataclass(frozen=True)
class RankIntervals:
    """Result of :func:`rank_intervals`. Arrays are indexed by proposal (input position), read-only.

    Attributes:
        low, high: the ``percentiles`` (default 5th and 95th) of the proposal's rank over the resamples;
            whole numbers (float arrays so that a proposal without a submitted scorecard can be NaN).
        median: the 50th percentile rank, same rule.
        p_funded: share of resamples in which the budget walk funds the proposal, or ``None`` when no
            selection problem was given.
        resamples, seed: the bootstrap's size and seed.
        percentiles: the two percentiles reported as ``low`` and ``high``.
        scorecards: submitted scorecards per proposal (the size of each proposal's resample).
    """

    low: np.ndarray
    high: np.ndarray
    median: np.ndarray
    p_funded: np.ndarray | None
    resamples: int
    seed: int
    percentiles: tuple[float, float] = (5.0, 95.0)
    scorecards: np.ndarray | None = None


def percentile_index(count: int, q: float) -> int:
    """0-based index of the ``q``-th percentile among ``count`` sorted values, inverted-CDF rule: the
    ``k``-th smallest with ``k = max(1, ceil(count * q / 100))``, computed exactly (``numpy.percentile(...,
    method="inverted_cdf")`` agrees except where its floating-point ``count * q / 100`` lands just above
    a whole number, e.g. 100 values at q = 7)."""
    k = math.ceil(Fraction(count) * Fraction(float(q)) / 100)
    return min(max(k, 1), max(count, 1)) - 1


def _check_options(
    resamples: object, seed: object, percentiles: object
) -> tuple[int, int, tuple[float, float]]:
    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer) or resamples < 1:
        raise ScoringInputError("resamples", "the number of resamples must be a whole number of at least 1")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ScoringInputError("seed", "the seed must be a whole number of at least 0")
    try:
        qs = tuple(float(q) for q in percentiles)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ScoringInputError("percentiles", "expected two numbers, e.g. (5, 95)") from None
    if len(qs) != 2 or not all(math.isfinite(q) and 0 <= q <= 100 for q in qs) or qs[0] > qs[1]:
        raise ScoringInputError("percentiles", "expected two percentiles in 0..100, the lower first")
    return int(resamples), int(seed), (qs[0], qs[1])


@dataclass
class _Plan:
    """Everything fixed across resamples."""

    n_p: int
    n_j: int
    m: np.ndarray  # (P,) submitted scorecards
    fast: np.ndarray  # (P,) bool: linear shortcut
    table: np.ndarray  # (P * (J + 1),) per-scorecard W contributions, compacted, 0 in the pad slot
    constant: np.ndarray  # (P,) fixed part of W (moderated cells)
    inv_m: np.ndarray  # (P,) 1 / m (0 when m = 0)
    complete: np.ndarray  # (P,) completeness of fast proposals (constant)
    slow: np.ndarray  # indices of the proposals aggregated in full
    slow_values: np.ndarray  # (q * (J + 1), K) compacted values of slow proposals, NaN pad
    slow_na: np.ndarray  # (q * (J + 1), K)
    slow_moderated: np.ndarray | None  # (q, K)
    slow_moderated_na: np.ndarray | None
    agg_method: str


def _plan(
    s: np.ndarray,
    na: np.ndarray,
    w: np.ndarray,
    method: str,
    na_policy: str,
    lo: float,
    hi: float,
    moderated: object,
    moderated_na: object,
    leniency: np.ndarray | None,
) -> _Plan:
    n_p, n_j, n_k = s.shape
    raw = s
    if method == "calibrated":
        shift = np.nan_to_num(leniency, nan=0.0) if leniency is not None else np.zeros(n_j)
        raw = np.clip(s - shift[None, :, None], lo, hi)  # NaN (no score, or NA) stays NaN
    values = answer_values(raw, na, lo, na_policy)  # what the method averages
    fixed = np.zeros((n_p, n_k), dtype=bool)
    mod = np.full((n_p, n_k), np.nan)
    mod_na = np.zeros((n_p, n_k), dtype=bool)
    if method == "moderated" and (moderated is not None or moderated_na is not None):
        if moderated is not None:
            mod = np.array(moderated, dtype=np.float64)
        if moderated_na is not None:
            mod_na = np.asarray(moderated_na, dtype=bool)
        mod = np.where(mod_na, np.nan, mod)
        fixed = ~np.isnan(mod) | mod_na
    submitted = (~np.isnan(s) | na).any(axis=2)  # (P, J)
    m = submitted.sum(axis=1)
    compact = np.argsort(~submitted, axis=1, kind="stable")  # submitted scorers first, in input order
    present = ~np.isnan(values)
    na_only = na & ~present
    p_cnt = present.sum(axis=1)
    n_cnt = na_only.sum(axis=1)
    mm = m[:, None]
    uniform = fixed | (((p_cnt == 0) | (p_cnt == mm)) & ((n_cnt == 0) | (n_cnt == mm)))
    fast = uniform.all(axis=1)
    if method not in _LINEAR:
        # median and trimmed mean equal the mean only when the drawn values cannot differ
        first = np.take_along_axis(values, compact[:, :1, None], axis=1)
        same = (values == first) | np.isnan(values) & np.isnan(first)
        same |= ~submitted[:, :, None] | fixed[:, None, :]
        fast &= (m <= 1) | same.all(axis=(1, 2))

    redistribute = na_policy == "redistribute"
    numeric = ~fixed & (p_cnt > 0)
    answered = fixed | (p_cnt > 0) | (n_cnt > 0)
    dropped = np.zeros((n_p, n_k), dtype=bool)
    if redistribute:
        dropped = (~fixed & (n_cnt > 0) & (p_cnt == 0)) | mod_na
    eff = effective_weights(w, dropped if dropped.any() else None, n_p)
    span = hi - lo
    norm = np.where(numeric[:, None, :] & present, (values - lo) / span, 0.0)
    contribution = 100.0 * np.einsum("ijk,ik->ij", norm, eff)  # (P, J)
    table = np.zeros((n_p, n_j + 1))
    table[:, :n_j] = np.take_along_axis(contribution, compact, axis=1)
    table[:, :n_j][np.arange(n_j)[None, :] >= mm] = 0.0
    mod_value = np.where(mod_na, lo if not redistribute else np.nan, mod)
    mod_norm = np.where(fixed & ~np.isnan(mod_value), (mod_value - lo) / span, 0.0)
    constant = 100.0 * (mod_norm * eff).sum(axis=1)
    with np.errstate(divide="ignore"):
        inv_m = np.where(m > 0, 1.0 / np.maximum(m, 1), 0.0)
    complete = ~(~answered & (w > 0)[None, :]).any(axis=1)

    slow = np.flatnonzero(~fast)
    q = slow.size
    slow_values = np.full((q, n_j + 1, n_k), np.nan)
    slow_na = np.zeros((q, n_j + 1, n_k), dtype=bool)
    if q:
        order = compact[slow]
        slow_values[:, :n_j] = np.take_along_axis(raw[slow], order[:, :, None], axis=1)
        slow_na[:, :n_j] = np.take_along_axis(na[slow], order[:, :, None], axis=1)
        beyond = np.arange(n_j)[None, :] >= m[slow][:, None]
        slow_values[:, :n_j][beyond] = np.nan
        slow_na[:, :n_j][beyond] = False
    use_mod = method == "moderated" and fixed.any()
    return _Plan(
        n_p=n_p,
        n_j=n_j,
        m=m,
        fast=fast,
        table=table.reshape(-1),
        constant=constant,
        inv_m=inv_m,
        complete=complete,
        slow=slow,
        slow_values=slow_values.reshape(q * (n_j + 1), n_k),
        slow_na=slow_na.reshape(q * (n_j + 1), n_k),
        slow_moderated=np.where(mod_na, np.nan, mod)[slow] if use_mod else None,
        slow_moderated_na=mod_na[slow] if use_mod else None,
        agg_method="mean" if method == "calibrated" else method,
    )


class _Draws:
    """The seeded stream of scorecard draws (rules in the module docstring), a block of resamples at once.

    Slots are drawn in groups of ``group`` (2 while ``J <= _PAIR_LIMIT``, else 1): group ``p`` of proposal
    ``i`` covers slots ``g*p .. g*p + g - 1``, of which ``k = clip(m_i - g*p, 0, g)`` are used, and one
    32-bit number ``u`` picks one of its ``m_i**k`` outcomes, ``o = floor(m_i**k * u / 2**32)``; a pair's
    outcome is scorecards ``o // m_i`` (first slot) and ``o % m_i`` (second slot).
    """

    def __init__(self, m: np.ndarray, n_j: int, seed: int) -> None:
        self.bitgen = np.random.default_rng(seed).bit_generator
        n_p = m.size
        self.m = m.astype(np.int64)
        self.n_j = n_j
        self.group = 2 if n_j <= _PAIR_LIMIT else 1
        self.n_groups = -(-n_j // self.group)
        self.width = max(n_j**self.group, 1)  # table entries per (proposal, group)
        self.shape = (self.n_groups, n_p)
        self.cells = self.n_groups * n_p
        self.half = (self.cells + 1) // 2
        first_slot = self.group * np.arange(self.n_groups)[:, None]
        self.used = np.clip(self.m[None, :] - first_slot, 0, self.group)  # (G, P)
        self.outcomes = self.m[None, :] ** self.used  # (G, P); 1 when no slot is used
        self.multiplier = self.outcomes.astype(np.uint64)
        groups = np.arange(n_p)[None, :] * self.n_groups + np.arange(self.n_groups)[:, None]
        self.base = (groups * self.width).astype(np.int64)

    def uniform(self, count: int) -> np.ndarray:
        """``(count, G, P)`` 32-bit numbers for the next ``count`` resamples: the low, then the high half
        of each 64-bit output in turn; a resample's last half is unused when ``G * P`` is odd."""
        raw = self.bitgen.random_raw(count * self.half)
        if sys.byteorder == "little":
            words = raw.view(np.uint32)
        else:  # pragma: no cover - the same numbers, built by arithmetic
            words = np.stack([raw & _LOW32, raw >> _SHIFT32], axis=-1).astype(np.uint32).reshape(-1)
        return words.reshape(count, 2 * self.half)[:, : self.cells].reshape(count, *self.shape)

    def table_index(self, u: np.ndarray) -> np.ndarray:
        """Flat index into :meth:`group_table` of each drawn outcome, ``(count, G, P)``."""
        scaled = np.multiply(u, self.multiplier)  # uint64: u < 2**32 and m**k < 2**32
        np.right_shift(scaled, _SHIFT32, out=scaled)
        index = scaled.view(np.int64)
        np.add(index, self.base, out=index)
        return index

    def group_table(self, per_slot: np.ndarray) -> np.ndarray:
        """Flat ``(P * G * width)`` table: for each outcome of a group, the sum of ``per_slot`` (``(P, J)``,
        by compacted scorecard) over the scorecards it draws; 0 for unused groups and outcomes."""
        n_p = self.m.size
        table = np.zeros((n_p, self.n_groups, self.width))
        o = np.arange(self.width)[None, :]
        m = np.maximum(self.m, 1)[:, None]
        for p in range(self.n_groups):
            k = self.used[p][:, None]
            valid = o < self.outcomes[p][:, None]
            first = np.where(k == 2, o // m, o)
            take_first = valid & (k >= 1)
            value = np.where(take_first, np.take_along_axis(per_slot, np.where(take_first, first, 0), 1), 0.0)
            if self.group == 2:
                take_second = valid & (k == 2)
                second = np.where(take_second, o % m, 0)
                value += np.where(take_second, np.take_along_axis(per_slot, second, 1), 0.0)
            table[:, p] = value
        return table.reshape(-1)

    def slots(self, u: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """Compacted scorecard drawn in each slot, ``(count, J, len(columns))``; ``J`` where unused."""
        pad = self.n_j
        out = np.full((u.shape[0], self.n_groups * self.group, columns.size), pad, dtype=np.int64)
        m = np.maximum(self.m[columns], 1)
        for p in range(self.n_groups):
            k = self.used[p, columns]
            o = ((u[:, p, columns] * self.multiplier[p, columns]) >> _SHIFT32).astype(np.int64)
            if self.group == 2:
                out[:, 2 * p] = np.where(k == 2, o // m, np.where(k == 1, o, pad))
                out[:, 2 * p + 1] = np.where(k == 2, o % m, pad)
            else:
                out[:, p] = np.where(k == 1, o, pad)
        return out[:, : self.n_j]


def _slow_scores(
    plan: _Plan,
    draws: _Draws,
    u: np.ndarray,
    na_policy: str,
    lo: float,
    hi: float,
    w: np.ndarray,
    budget: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``W`` and completeness ``(count, q)`` of the proposals aggregated in full."""
    count = u.shape[0]
    q, n_j = plan.slow.size, plan.n_j
    n_k = plan.slow_values.shape[1]
    weighted = np.empty((count, q))
    complete = np.empty((count, q), dtype=bool)
    base = np.arange(q)[None, :, None] * (n_j + 1)
    step = max(1, budget // max(q * max(n_j, 1) * n_k, 1))
    for start in range(0, count, step):
        block = draws.slots(u[start : start + step], plan.slow)  # (c, J, q)
        c = block.shape[0]
        index = (block.transpose(0, 2, 1) + base).reshape(-1)  # (c, q, J)
        values = plan.slow_values[index].reshape(c * q, n_j, n_k)
        marks = plan.slow_na[index].reshape(c * q, n_j, n_k)
        tile = None if plan.slow_moderated is None else (c, 1)
        agg = aggregate(
            values,
            marks,
            method=plan.agg_method,
            na_policy=na_policy,
            scale_min=lo,
            scale_max=hi,
            moderated=None if tile is None else np.tile(plan.slow_moderated, tile),
            moderated_na=None if tile is None else np.tile(plan.slow_moderated_na, tile),
        )
        w_block, _, c_block = weighted_scores(
            agg.scores, w, scale_min=lo, scale_max=hi, not_applicable=agg.not_applicable
        )
        weighted[start : start + c] = w_block.reshape(c, q)
        complete[start : start + c] = c_block.reshape(c, q)
    return weighted, complete


class _Ranker:
    """Competition ranks (and listing orders) of many resamples: one integer sort per resample.

    ``key = (100 - W) [+ 1000 if incomplete]`` scaled by ``2**scale_bits``, truncated, shifted left by
    ``bits`` and or-ed with the proposal's tie-break slot (its place in the order net cost, reference,
    index); sorting gives the listing and the slot at each place; the 1e-9 tie rule is applied to the
    sorted keys with the tolerance scaled alike (:func:`scoring.ranking.tie_groups`), holding to within
    one quantum (about 1e-12 of ``W``), far below the tolerance itself. Ranks are stored by slot.
    """

    def __init__(self, tie_rank: np.ndarray, may_be_incomplete: bool) -> None:
        n_p = tie_rank.size
        self.bits = max(1, int(max(n_p - 1, 1)).bit_length())
        self.mask = (1 << self.bits) - 1
        span = 1100.0 if may_be_incomplete else 100.0
        scale_bits = 62 - self.bits - math.ceil(math.log2(span + 1.0))
        self.scale = 2.0**scale_bits
        self.tolerance = (math.floor(TIE_TOLERANCE * self.scale) + 1 << self.bits) - 1
        self.tie_rank = tie_rank.astype(np.int64)
        self.by_tie_rank = np.argsort(tie_rank).astype(np.int64)
        self.rank_type = np.uint16 if n_p < 2**16 else np.int32  # ranks are 1..P
        self.positions = np.arange(1, n_p + 1, dtype=self.rank_type)
        self.tiled = np.empty(0, dtype=self.rank_type)

    def real_keys(self, weighted: np.ndarray, complete: np.ndarray) -> np.ndarray:
        """Scaled keys ``(100 - W + 1000 * incomplete) * scale`` for ``W`` computed in full."""
        real = np.subtract(100.0, weighted)
        real += np.where(complete, 0.0, 1000.0)
        real *= self.scale
        return real

    def rank(self, real: np.ndarray, ranks: np.ndarray, want_orders: bool) -> np.ndarray | None:
        """Fill ``ranks`` ``(count, P)`` by tie-break slot; return the listing orders when asked."""
        packed = real.astype(np.int64)  # keys are never negative beyond rounding: truncation gives 0
        np.left_shift(packed, self.bits, out=packed)
        np.bitwise_or(packed, self.tie_rank, out=packed)
        packed.sort(axis=1)
        starts = tie_groups(packed, descending=False, tolerance=self.tolerance)
        np.bitwise_and(packed, self.mask, out=packed)  # the slot at each place
        count, n_p = packed.shape
        untied = bool(starts.all())
        if untied:  # no ties: rank = place
            if self.tiled.size < count * n_p:
                self.tiled = np.tile(self.positions, count)
            place_rank = self.tiled[: count * n_p]
        else:
            place_rank = np.where(starts, self.positions, 0).astype(self.rank_type)
            np.maximum.accumulate(place_rank, axis=1, out=place_rank)
            place_rank = place_rank.reshape(-1)
        orders = None
        if want_orders:
            # inside a tie group the listing follows the tie-break slot, not the (equal to 1e-9) keys
            tied = () if untied else np.flatnonzero(~starts.all(axis=1))
            if len(tied):
                regrouped = np.cumsum(starts[tied], axis=1) << self.bits
                regrouped |= packed[tied]
                regrouped.sort(axis=1)
                packed[tied] = regrouped & self.mask
            orders = np.take(self.by_tie_rank, packed)
        packed += (np.arange(count) * n_p)[:, None]
        ranks.reshape(-1)[packed.reshape(-1)] = place_rank
        return orders


def rank_intervals(
    scores: object,
    not_applicable: object,
    weights: object,
    *,
    method: str = "mean",
    na_policy: str = "minimum",
    scale_min: float = 0,
    scale_max: float = 5,
    moderated: object = None,
    moderated_na: object = None,
    net_cost: object = None,
    references: Sequence[str] | None = None,
    problem: SelectionProblem | None = None,
    resamples: int = 1000,
    seed: int = 0,
    percentiles: Sequence[float] = (5.0, 95.0),
    chunk_elements: int = 200_000,
) -> RankIntervals:
    """Rank intervals by bootstrapping each proposal's submitted scorecards (rules in the module doc).

    Args:
        scores: ``(P, J, K)`` submitted scores, NaN where none; not_applicable: the NA marks (or ``None``).
        weights: ``K`` weights summing to 1 (array or :class:`~scoring.weights.WeightResult`).
        method, na_policy, scale_min, scale_max, moderated, moderated_na: as for :func:`scoring.aggregate`.
        net_cost, references: tie-break keys, as for :func:`scoring.ranking.rank`.
        problem: costs, budgets and constraints for ``p_funded`` (its ``scores`` are ignored).
        resamples, seed: the bootstrap's size and seed.
        percentiles: the two percentiles reported as ``low`` and ``high``.
        chunk_elements: resamples are processed in blocks of about this many drawn values.

    Example: two proposals scored by two scorers each on one principle, weight 1: A gets 5 and 5, B
    gets 4 and 0. A's ``W`` is always 100; B's is 80, 40 or 0, never above A: A's interval is [1, 1]
    and B's [2, 2]. See ``docs/maths.md`` for a worked example with overlapping intervals.
    """
    if method not in AGGREGATIONS:
        raise ScoringInputError("aggregation", f"unknown aggregation {method!r}; use one of {AGGREGATIONS}")
    point = aggregate(
        scores,
        not_applicable,
        method=method,
        na_policy=na_policy,
        scale_min=scale_min,
        scale_max=scale_max,
        moderated=moderated,
        moderated_na=moderated_na,
    )  # validates every input the aggregation takes
    lo, hi = point.scale_min, point.scale_max
    s, na = check_scores(scores, not_applicable, lo, hi)
    n_p, n_j, n_k = s.shape
    w = check_weights(weights, n_k)
    n_r, seed_value, qs = _check_options(resamples, seed, percentiles)
    if isinstance(chunk_elements, bool) or not isinstance(chunk_elements, int) or chunk_elements < 1:
        raise ScoringInputError("chunk_elements", "must be a positive whole number")
    cost, refs = tie_break_keys(n_p, net_cost, references)
    if problem is not None and problem.n != n_p:
        raise ScoringInputError("problem", f"the selection problem has {problem.n} proposals, scores {n_p}")

    keys: list[np.ndarray] = [np.arange(n_p)]
    if refs is not None:
        keys.append(refs)
    if cost is not None:
        keys.append(cost)
    tie_rank = np.empty(n_p, dtype=np.int64)
    tie_rank[np.lexsort(tuple(keys))] = np.arange(n_p)

    plan = _plan(s, na, w, method, na_policy, lo, hi, moderated, moderated_na, point.leniency)
    draws = _Draws(plan.m, n_j, seed_value)
    ranker = _Ranker(tie_rank, bool(plan.slow.size) or not plan.complete.all())
    # The linear shortcut straight to scaled keys: key = scale * (100 - W [+ 1000]), with
    # W = constant + (1 / m) * (sum of the drawn scorecards' contributions).
    per_slot = -ranker.scale * plan.inv_m[:, None] * plan.table.reshape(n_p, n_j + 1)[:, :n_j]
    key_table = draws.group_table(per_slot)
    key_constant = ranker.scale * (100.0 - plan.constant + np.where(plan.complete, 0.0, 1000.0))
    walk = _walk_data(problem) if problem is not None else None
    funded = np.zeros(n_p, dtype=np.int64)
    ranks = np.zeros((n_r, n_p), dtype=ranker.rank_type)  # by tie-break slot

    chunk = max(1, min(n_r, chunk_elements // max(draws.cells, 1)))
    batch = max(chunk, min(n_r, 2**22 // max(n_p, 1), 8192)) if walk is not None else 0
    orders_buffer = np.empty((batch, n_p), dtype=np.int64) if walk is not None else None
    filled = 0
    for start in range(0, n_r, chunk):
        count = min(chunk, n_r - start)
        u = draws.uniform(count)
        real = np.take(key_table, draws.table_index(u)).sum(axis=1)  # (count, P)
        real += key_constant
        if plan.slow.size:
            slow_w, slow_complete = _slow_scores(plan, draws, u, na_policy, lo, hi, w, chunk_elements)
            real[:, plan.slow] = ranker.real_keys(slow_w, slow_complete)
        orders = ranker.rank(real, ranks[start : start + count], orders_buffer is not None)
        if orders_buffer is not None:
            if filled + count > batch:
                funded += budget_line(problem, orders_buffer[:filled], walk).sum(axis=0)  # type: ignore[arg-type]
                filled = 0
            orders_buffer[filled : filled + count] = orders
            filled += count
    if orders_buffer is not None and filled:
        funded += budget_line(problem, orders_buffer[:filled], walk).sum(axis=0)  # type: ignore[arg-type]

    ordered = np.ascontiguousarray(ranks.T)  # (P, R) by slot
    ordered.sort(axis=1)
    ordered = ordered[tie_rank]  # each proposal's ranks, ascending
    picks = [percentile_index(n_r, q) for q in (qs[0], 50.0, qs[1])]
    stats = ordered[:, picks].astype(np.float64)
    stats[plan.m == 0] = np.nan
    return RankIntervals(
        low=frozen(np.ascontiguousarray(stats[:, 0])),
        high=frozen(np.ascontiguousarray(stats[:, 2])),
        median=frozen(np.ascontiguousarray(stats[:, 1])),
        p_funded=None if problem is None else frozen(funded / n_r),
        resamples=n_r,
        seed=seed_value,
        percentiles=qs,
        scorecards=frozen(plan.m.astype(np.int64)),
    )
