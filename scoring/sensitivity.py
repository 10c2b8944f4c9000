"""Sensitivity of the ranking and the selection to the weights (brief Maths 8).

**Dirichlet resampling.** ``samples`` weight vectors are drawn from ``Dirichlet(concentration * w)`` over
the principles with positive weight (principles weighted 0 stay 0), with ``numpy.random.default_rng(seed)``
-- the same seed gives the same answer. The mean of the draws is ``w``; a larger concentration keeps them
closer (the variance of ``w_p`` is ``w_p (1 - w_p) / (concentration + 1)``). For each draw the weighted
scores of all proposals come from one matrix product (two under the ``redistribute`` policy: numerator
and denominator) and the listing order from one sort per draw; ranks follow the ranking's rules
(complete proposals first; scores within 1e-9 tied, sharing a competition rank; exact ties listed by net
cost then reference). Completeness does not change between draws, as positive weights stay positive.
Reported per proposal: the 5th/50th/95th percentile of its rank (numpy's default "linear" definition),
the probability of rank <= k, and -- given a :class:`~scoring.selection.SelectionProblem` -- the
probability of being selected, where "selected" under a draw means the budget line: the greedy walk of
:func:`scoring.selection.budget_line` down that draw's listing (solving an integer programme per draw
would be far too slow). A custom ``selector`` may replace the budget line.

**Switching values.** For principle ``p`` the weights move along ``w(t)_p = t``,
``w(t)_q = w_q (1 - t) / (1 - w_p)`` (others rescaled proportionally), ``t`` in ``[0, 1]``; ``t = w_p`` is
the weighting itself. Each ``W_i(t)`` is linear in ``t`` (under ``redistribute`` a ratio of two linear
functions), so two proposals swap places only where their curves cross, found exactly as roots of a
linear or quadratic polynomial -- the tie rule included: a proposal that wins exact ties against another
is overtaken when it falls more than 1e-9 behind it. Reported is the interval ``[low, high]`` around
``w_p`` inside which

* the top-k set -- the first k proposals of the listing -- stays the same: the nearest crossing, on each
  side, of a proposal inside the set with one outside it;
  Each end below 1 (above 0) names the overtaking that happens there: the proposal that enters the top
  k and the one it pushes out (where several curves cross at once, read from the listing just past it);
* the budget-line selection stays the same: a kinetic sweep through the successive crossings of
  neighbouring proposals in the listing, re-checking the greedy walk at each swap (locally when one pair
  crosses alone; where several curves cross at one point the listing is re-read from the ranking's own
  rule just past the point and the walk redone), until the selected set first changes.

At an interval end the set changes (or the end is 0 or 1); a change may last only while curves cross.
Completeness along the path is that of the weights: on ``0 < t < 1`` the weighted principles are those
of ``w`` plus ``p`` (different from ``w`` only when ``w_p = 0``). The ends ``t = 0`` and ``t = 1``
themselves are not examined (there a principle's weight vanishes and, under ``redistribute``, ``W`` may
jump). Ends are exact to within about 1e-10 of weight. When ``w_p = 1`` no other weight can be rescaled
and the intervals are ``None``. ``max_events`` bounds the sweep; an interval cut short by it is marked
``exact=False`` (its ends are then inner bounds).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .aggregate import Aggregate
from .errors import ScoringInputError
from .ranking import listing_order, tie_break_keys, tie_groups, weighted_scores
from .rules import TIE_TOLERANCE, check_scale, frozen, normalise
from .selection import (
    SelectionProblem,
    _advance,
    _initial_state,
    _plain,
    _plain_walk,
    _Walk,
    _walk_data,
    budget_line,
)
from .weights import check_weights

Selector = Callable[[np.ndarray, np.ndarray], np.ndarray]
_SAME_EVENT = 1e-12  # crossings closer than this (in weight units) are treated as simultaneous
_SNAP = 1e-12  # interval ends this close to 0 or 1 are 0 or 1
_PROBE_STEP = 1e-9  # how far past simultaneous crossings the listing is re-read (weight units)
_CLOSE_CROSSINGS = 1e-10  # top-k crossings closer than this are told apart by the listing past them
_MISORDER = 1e-13  # g below this at the start means the pair is out of order (rounding is far smaller)
_HISTOGRAM_BUFFER = 32_000_000  # (place, draw) cells buffered before the per-place counts
_WALK_CELLS = 8_388_608  # (place, draw) cells of listings buffered for one run of the budget walks
_PRODUCT_CELLS = 4_194_304  # (draw, proposal) cells of one block of matrix products


@dataclass(frozen=True)
class Interval:
    """A closed interval of weight values; ``exact`` is False when a search limit cut it short."""

    low: float
    high: float
    exact: bool = True


@dataclass(frozen=True)
class Overtaking:
    """What happens at an end of a top-k interval: proposal ``enters`` (an index) overtakes ``leaves``,
    which drops out of the top k, when the principle's weight reaches ``weight``."""

    weight: float
    enters: int
    leaves: int


@dataclass(frozen=True)
class SwitchingValue:
    """Switching values of one principle (``None`` where undefined or not asked for).

    ``top_k_rising`` and ``top_k_falling`` name the first overtaking at the high and the low end of
    ``top_k`` (``None`` where the end is 0 or 1 and nothing changes before it)."""

    principle: int
    weight: float
    top_k: Interval | None
    selection: Interval | None
    top_k_rising: Overtaking | None = None
    top_k_falling: Overtaking | None = None


@dataclass(frozen=True)
class Sensitivity:
    """Result of :func:`sensitivity`. Arrays are indexed by proposal and read-only.

    ``rank_percentiles`` has one column per entry of ``percentiles`` (default 5, 50, 95).
    """

    samples: int
    concentration: float
    seed: int
    top_k: int
    percentiles: tuple[float, ...]
    rank_percentiles: np.ndarray
    p_top_k: np.ndarray
    p_selected: np.ndarray | None
    switching: tuple[SwitchingValue, ...]
    rank_counts: np.ndarray | None = None  # (P, P): draws giving proposal i rank r + 1, when asked for


@dataclass(frozen=True)
class _Prepared:
    norm: np.ndarray  # (P, K) normalised, 0 where unanswered
    applicable: np.ndarray | None  # (P, K) float 0/1, None when nothing is NA
    weights: np.ndarray
    complete: np.ndarray
    answered: np.ndarray  # (P, K) a score or an NA mark
    base_order: np.ndarray
    tie_rank: np.ndarray  # (P,) position in the tie-break order (net cost, reference, index)


def _prepare(scores, weights, scale_min, scale_max, not_applicable, net_cost, references) -> _Prepared:
    if isinstance(scores, Aggregate):
        if not_applicable is None:
            not_applicable = scores.not_applicable
        scale_min = scores.scale_min if scale_min is None else scale_min
        scale_max = scores.scale_max if scale_max is None else scale_max
        scores = scores.scores
    lo, hi = check_scale(0 if scale_min is None else scale_min, 5 if scale_max is None else scale_max)
    w = check_weights(weights)
    weighted, _, complete = weighted_scores(
        scores, w, scale_min=lo, scale_max=hi, not_applicable=not_applicable
    )
    a = np.asarray(scores, dtype=np.float64)
    norm = np.nan_to_num(normalise(a, lo, hi), nan=0.0)
    applicable = None
    if not_applicable is not None and np.asarray(not_applicable, dtype=bool).any():
        applicable = (~np.asarray(not_applicable, dtype=bool)).astype(np.float64)
        norm = norm * applicable
    cost, refs = tie_break_keys(weighted.size, net_cost, references)
    order, _ = listing_order(weighted, complete, cost, refs)
    keys: list[np.ndarray] = [np.arange(weighted.size)]
    if refs is not None:
        keys.append(refs)
    if cost is not None:
        keys.append(cost)
    tb_order = np.lexsort(tuple(keys))
    tie_rank = np.empty(weighted.size, dtype=np.int64)
    tie_rank[tb_order] = np.arange(weighted.size)
    answered = ~np.isnan(a)
    if not_applicable is not None:
        answered |= np.asarray(not_applicable, dtype=bool)
    return _Prepared(norm, applicable, w, complete, answered, order, tie_rank)


class _SampleKeys:
    """Fixed-point listing keys for Dirichlet draws: one int64 per (draw, proposal), sorted ascending.

    ``key = (100 - W) [+ 1000 if incomplete]`` scaled by ``2**scale_bits`` and truncated, shifted left
    by ``bits`` and or-ed with the proposal's tie-break position. One integer sort then gives each
    draw's listing order (exact ties resolved by net cost, then reference) and the proposal at each
    place. The quantum ``2**-scale_bits`` (about 1e-12 for 5,000 proposals, 6e-14 for 2,000 complete
    ones) is far below the 1e-9 tie tolerance, which is applied to the packed keys scaled alike (so it
    holds to within one quantum). Under ``minimum`` the scaling and offsets fold into the matrix
    (weights sum to 1), so a draw's keys are one matrix product. Buffers are reused between chunks.
    """

    def __init__(self, prep: _Prepared, chunk: int, block: int) -> None:
        n_p = prep.norm.shape[0]
        self.n_p = n_p
        self.bits = max(1, int(max(n_p - 1, 1)).bit_length())
        self.mask = (1 << self.bits) - 1
        span = 100.0 if prep.complete.all() else 1100.0
        self.scale_bits = 62 - self.bits - math.ceil(math.log2(span + 1.0))
        scale = 2.0**self.scale_bits
        self.scale = scale
        self.tolerance = (math.floor(TIE_TOLERANCE * scale) + 1 << self.bits) - 1
        self.offset = np.where(prep.complete, 0.0, 1000.0)
        self.tie_rank = prep.tie_rank.astype(np.int64)
        self.scores_t = 100.0 * prep.norm.T  # (K, P)
        self.applicable_t = None if prep.applicable is None else prep.applicable.T
        self.matrix = None
        if self.applicable_t is None:
            # sum_p w_p * scale * (100 - 100 n_ip + offset_i) = scale * (100 - W_i + offset_i)
            self.matrix = scale * (100.0 + self.offset[None, :] - self.scores_t)
        self.real = np.empty((max(block, chunk), n_p))
        self.packed = np.empty((chunk, n_p), dtype=np.int64)
        self.gaps = np.empty((chunk, max(n_p - 1, 0)), dtype=np.int64)
        self.starts = np.empty((chunk, n_p), dtype=bool)

    def weighted(self, block: np.ndarray) -> np.ndarray:
        """``W`` of every proposal under each draw of ``block``."""
        num = block @ self.scores_t
        if self.applicable_t is None:
            return num
        den = block @ self.applicable_t
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, 0.0)

    def products(self, block: np.ndarray) -> np.ndarray:
        """The scaled keys before packing, ``(B, P)`` floats, for a block of draws.

        One matrix product for many draws (a few thousand): a multi-threaded BLAS splits a product of a
        hundred rows into pieces too small to pay for the threads' hand-over, which on a busy machine
        costs many times the arithmetic. Each row is the same dot products whatever the block."""
        b = block.shape[0]
        real = self.real[:b]
        if self.matrix is not None:
            np.matmul(block, self.matrix, out=real)
        else:
            np.subtract(100.0 + self.offset, self.weighted(block), out=real)
            real *= self.scale
        return real

    def listing(self, real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted packed keys ``(C, P)`` of draws whose :meth:`products` are ``real``, and their
        tie-group start flags."""
        c = real.shape[0]
        packed = self.packed[:c]
        np.copyto(packed, real, casting="unsafe")
        np.left_shift(packed, self.bits, out=packed)
        np.bitwise_or(packed, self.tie_rank, out=packed)
        packed.sort(axis=1)
        starts = tie_groups(
            packed, descending=False, tolerance=self.tolerance, out=self.starts[:c], scratch=self.gaps[:c]
        )
        return packed, starts


class _RankHistogram:
    """Counts of (tie-break slot, rank) over draws, gathered cheaply.

    Most places carry rank = place + 1, so each draw's slots are stored column-wise (place x draw, small
    ints) and counted per place with one short ``bincount`` each when the buffer fills; the few places
    inside tie groups (rank = place of the group's first member + 1) are counted separately.
    """

    def __init__(self, n_p: int, samples: int, chunk: int) -> None:
        self.n_p = n_p
        width = max(chunk, min(samples, _HISTOGRAM_BUFFER // max(n_p, 1)))
        self.buffer = np.empty((n_p, width), dtype=np.int16 if n_p < 2**15 else np.int32)
        self.filled = 0
        self.hist = np.zeros((n_p, n_p), dtype=np.int64)
        self.tied: list[np.ndarray] = []
        self.positions = np.arange(n_p)

    def add(self, packed: np.ndarray, starts: np.ndarray, mask: int, slots: np.ndarray | None = None) -> None:
        """Count one chunk of sorted keys; ``slots``, when given, is ``(packed & mask).T`` already made."""
        c = packed.shape[0]
        if self.filled + c > self.buffer.shape[1]:
            self.flush()
        cols = self.buffer[:, self.filled : self.filled + c]
        if slots is None:
            np.bitwise_and(packed.T, mask, out=cols, casting="unsafe")
        else:
            np.copyto(cols, slots, casting="unsafe")
        if not starts.all():
            rows = np.flatnonzero(~starts.all(axis=1))
            first = np.maximum.accumulate(np.where(starts[rows], self.positions, 0), axis=1)
            inner = ~starts[rows]
            r, k = np.nonzero(inner)
            slots = packed[rows[r], k] & mask
            self.tied.append(slots * self.n_p + first[r, k])
            cols[k, rows[r]] = self.n_p  # sentinel: not counted at its own place
        self.filled += c

    def flush(self) -> None:
        # Count a block of places per bincount call: place-major cells (place * (P + 1) + slot) keep each
        # call's bins small enough to stay in cache; the extra bin per place takes the sentinels.
        n_p = self.n_p
        width = n_p + 1
        block = max(1, 65_536 // width)
        for first in range(0, n_p, block):
            last = min(n_p, first + block)
            cells = self.buffer[first:last, : self.filled].astype(np.intp)
            cells += (np.arange(last - first) * width)[:, None]
            counted = np.bincount(cells.ravel(), minlength=(last - first) * width)
            counted = counted.reshape(last - first, width)
            self.hist[:, first:last] += counted[:, :n_p].T
        self.filled = 0

    def counts(self) -> np.ndarray:
        self.flush()
        if self.tied:
            cells = np.concatenate(self.tied)
            self.hist += np.bincount(cells, minlength=self.n_p * self.n_p).reshape(self.n_p, self.n_p)
            self.tied = []
        return self.hist


def dirichlet_weights(weights: object, samples: int, concentration: float, seed: int) -> np.ndarray:
    """``(samples, K)`` draws from ``Dirichlet(concentration * w)`` on the positive weights; zeros stay 0."""
    w = check_weights(weights)
    if not (isinstance(samples, int | np.integer) and samples >= 1):
        raise ScoringInputError("samples", "must be a positive integer")
    if not (np.isfinite(concentration) and concentration > 0):
        raise ScoringInputError("concentration", "must be a positive number")
    rng = np.random.default_rng(seed)
    positive = np.flatnonzero(w > 0)
    out = np.zeros((int(samples), w.size))
    if positive.size == 1:
        out[:, positive[0]] = 1.0
    else:
        out[:, positive] = rng.dirichlet(concentration * w[positive], size=int(samples))
    return out


def _percentiles_from_counts(counts: np.ndarray, total: int, percentiles: Sequence[float]) -> np.ndarray:
    """Percentiles of ranks from per-proposal rank histograms ``(P, ranks)``.

    Same definition and floating-point steps as ``numpy.percentile(..., method="linear")``: virtual index
    ``h = (q / 100) * (total - 1)``, the order statistics either side of it, and numpy's two-sided
    linear interpolation. The m-th smallest rank (0-based) is the first rank whose cumulative count
    exceeds m; one ``searchsorted`` finds them all, rows being laid end to end with increasing offsets.
    """
    n_p, n_r = counts.shape
    cum = np.cumsum(counts, axis=1)
    offsets = np.arange(n_p, dtype=np.int64)[:, None] * (total + 1)
    cum += offsets
    plan = []
    for q in percentiles:
        h = float(np.float64(q) / 100.0 * (total - 1))
        lo = math.floor(h)
        plan.append((lo, min(lo + 1, total - 1), h - lo))
    wanted = np.array([m for lo, hi, _ in plan for m in (lo, hi)], dtype=np.int64)
    found = np.searchsorted(cum.ravel(), (offsets + wanted[None, :]).ravel(), side="right")
    stats = (found.reshape(n_p, -1) - np.arange(n_p)[:, None] * n_r + 1).astype(np.float64)
    out = np.empty((n_p, len(plan)))
    for c, (_, _, frac) in enumerate(plan):
        x_lo, x_hi = stats[:, 2 * c], stats[:, 2 * c + 1]
        diff = x_hi - x_lo
        out[:, c] = x_hi - diff * (1.0 - frac) if frac >= 0.5 else x_lo + diff * frac
    return out


def sensitivity(
    scores: object,
    weights: object,
    *,
    scale_min: float | None = None,
    scale_max: float | None = None,
    not_applicable: object = None,
    net_cost: object = None,
    references: Sequence[str] | None = None,
    samples: int = 1000,
    concentration: float = 100.0,
    seed: int = 0,
    top_k: int = 10,
    problem: SelectionProblem | None = None,
    selector: Selector | None = None,
    switching: bool = True,
    selection_switching: bool = True,
    percentiles: Sequence[float] = (5.0, 50.0, 95.0),
    chunk_elements: int = 262_144,
    max_events: int = 200_000,
    keep_rank_counts: bool = False,
) -> Sensitivity:
    """Rank percentiles, top-k and selection probabilities under Dirichlet weights, and switching values.

    Args:
        scores, weights, scale_min, scale_max, not_applicable, net_cost, references: as for
            :func:`scoring.ranking.rank` (``scores`` may be an :class:`~scoring.aggregate.Aggregate`).
        samples, concentration, seed: the Dirichlet resampling (see module docstring).
        top_k: k for "probability of rank <= k" and the top-k switching values.
        problem: costs, budgets and constraints for the budget-line selection (its ``scores`` are
            ignored); ``None`` skips selection probabilities and selection switching values.
        selector: optional replacement for the budget line, called per chunk as
            ``selector(weighted_scores (C, P), listing_orders (C, P)) -> (C, P) bool``.
        switching: compute switching values (``False`` skips them).
        selection_switching: also the selection's switching values (the kinetic sweep, by far the
            costlier part on large lists); ``False`` leaves each ``SwitchingValue.selection`` ``None``
            and keeps the top-k intervals.
        percentiles: rank percentiles to report.
        chunk_elements: draws are processed in chunks of about this many (draw, proposal) cells.
        max_events: bound on crossings examined per principle and direction in the selection sweep.
        keep_rank_counts: also return ``rank_counts``, how many draws gave each proposal each rank (the
            histogram the percentiles are read from; ``P x P`` integers).
    """
    prep = _prepare(scores, weights, scale_min, scale_max, not_applicable, net_cost, references)
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 0:
        raise ScoringInputError("top_k", "must be a non-negative integer")
    qs = tuple(float(q) for q in percentiles)
    if any(not 0 <= q <= 100 for q in qs):
        raise ScoringInputError("percentiles", "percentiles must lie in 0..100")
    n_p = prep.norm.shape[0]
    if problem is not None and problem.n != n_p:
        raise ScoringInputError("problem", f"the selection problem has {problem.n} proposals, scores {n_p}")
    draws = dirichlet_weights(prep.weights, samples, concentration, seed)
    walk = _walk_data(problem) if problem is not None and selector is None else None
    want_selection = problem is not None or selector is not None
    if walk is not None and not walk.consistent:
        want_selection = False

    chunk = max(1, min(draws.shape[0], chunk_elements // max(n_p, 1)))
    # the matrix products run on blocks of whole chunks (see _SampleKeys.products)
    product_block = chunk * max(1, min(-(-draws.shape[0] // chunk), _PRODUCT_CELLS // max(n_p * chunk, 1)))
    keys = _SampleKeys(prep, chunk, product_block)
    hist = _RankHistogram(n_p, draws.shape[0], chunk)
    selected = np.zeros(n_p, dtype=np.int64)
    inverse_tie_rank = np.argsort(prep.tie_rank)
    # the budget line loops over list places, so it runs on larger batches of draws than the ranks
    batch = max(chunk, min(draws.shape[0], 4 * chunk_elements // max(n_p, 1), 8192))
    plain = want_selection and walk is not None and _plain(walk, problem.n_years)  # type: ignore[union-attr]
    if plain:
        # Without dependencies or exclusive groups the walks run on the listing's tie-break slots (what
        # the sort gives), place by place over thousands of draws at once, and only the count of walks
        # funding each slot is kept: no (draws x proposals) table of orders or of funded flags.
        batch = max(chunk, min(draws.shape[0], _WALK_CELLS // max(n_p, 1)))
    orders = np.empty((batch, n_p), dtype=np.int64) if want_selection and not plain else None
    slots = np.empty((n_p, batch), dtype=np.int32) if plain else None
    slot_funded = np.zeros(n_p, dtype=np.int64)
    weights_seen: list[np.ndarray] = []
    filled = 0

    def run_selection(rows: int) -> None:
        assert orders is not None
        if selector is not None:
            w_rows = np.concatenate(weights_seen)
            chosen = np.asarray(selector(keys.weighted(w_rows), orders[:rows]), dtype=bool)
            weights_seen.clear()
        else:
            chosen = budget_line(problem, orders[:rows], walk)  # type: ignore[arg-type]
        selected[:] += chosen.sum(axis=0)

    def run_plain(rows: int) -> None:
        assert slots is not None and walk is not None and problem is not None
        columns = slots[:, :rows]
        budgets = np.asarray(problem.budgets, dtype=np.int64)
        took = _plain_walk(walk, problem.net_cost, budgets, columns, labels=inverse_tie_rank)
        slot_funded[:] += np.bincount(columns[took], minlength=n_p)

    real = keys.products(draws[:0])
    for start in range(0, draws.shape[0], chunk):
        block = draws[start : start + chunk]
        at = start % product_block
        if at == 0:
            real = keys.products(draws[start : start + product_block])
        packed, starts = keys.listing(real[at : at + block.shape[0]])
        if slots is not None:
            if filled + block.shape[0] > batch:
                run_plain(filled)
                filled = 0
            here = slots[:, filled : filled + block.shape[0]]
            np.bitwise_and(packed.T, keys.mask, out=here, casting="unsafe")
            hist.add(packed, starts, keys.mask, here)
            filled += block.shape[0]
            continue
        hist.add(packed, starts, keys.mask)
        if orders is not None:
            if filled + block.shape[0] > batch:
                run_selection(filled)
                filled = 0
            np.take(inverse_tie_rank, packed & keys.mask, out=orders[filled : filled + block.shape[0]])
            weights_seen.append(block)
            filled += block.shape[0]
    if orders is not None and filled:
        run_selection(filled)
    if slots is not None:
        if filled:
            run_plain(filled)
        # slot s is proposal inverse_tie_rank[s]; the forced set is funded by every walk
        selected[inverse_tie_rank] += slot_funded
        selected[walk.start] += draws.shape[0]  # type: ignore[union-attr]
    # histogram rows are in tie-break order; bring them back to proposal order
    total = draws.shape[0]
    if n_p:
        # histogram rows are in tie-break order; results go back to proposal order
        counts = hist.counts()
        rank_pct = _percentiles_from_counts(counts, total, qs)[prep.tie_rank]
        p_top = (counts[:, : min(top_k, n_p)].sum(axis=1) / total)[prep.tie_rank]
    else:
        rank_pct, p_top = np.zeros((0, len(qs))), np.zeros(0)
        counts = np.zeros((0, 0), dtype=np.int64)

    switch: tuple[SwitchingValue, ...] = ()
    if switching:
        sweep = walk is not None and selection_switching
        switch = tuple(
            switching_values(prep, top_k, problem if sweep else None, walk if sweep else None, max_events)
        )
    return Sensitivity(
        samples=total,
        concentration=float(concentration),
        seed=int(seed),
        top_k=int(top_k),
        percentiles=qs,
        rank_percentiles=frozen(rank_pct),
        p_top_k=frozen(p_top),
        p_selected=frozen(selected / total) if want_selection else None,
        switching=switch,
        rank_counts=frozen(counts[prep.tie_rank]) if keep_rank_counts else None,
    )


# ----------------------------------------------------------------------------------------------------
# switching values


def _lines(prep: _Prepared, p: int) -> np.ndarray | None:
    """Per proposal ``(a, b, c, d)`` with ``W_i(t) = 100 (a + b t) / (c + d t)`` along principle ``p``."""
    w = prep.weights
    if w[p] >= 1.0:
        return None
    rest = w.copy()
    rest[p] = 0.0
    rest /= 1.0 - w[p]
    n = prep.norm
    a = n @ rest
    b = n[:, p] - a
    if prep.applicable is None:
        c = np.ones_like(a)
        d = np.zeros_like(a)
    else:
        c = prep.applicable @ rest
        d = prep.applicable[:, p] - c
        app_p = prep.applicable[:, p] > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            # p not applicable: numerator and denominator share the factor (1 - t), W is constant a/c
            # on [0, 1). Only p applicable: both share the factor t, W is constant n_p on (0, 1].
            # No weight left at all: W = 0. Written as constant lines to keep the algebra exact.
            level = np.where(~app_p, np.where(c > 0, a / c, 0.0), np.where(c > 0, 0.0, n[:, p]))
        constant = ~app_p | (c == 0)
        a = np.where(constant, level, a)
        b = np.where(constant, 0.0, b)
        d = np.where(constant, 0.0, d)
        c = np.where(constant, 1.0, c)
    return np.stack([a, b, c, d], axis=1)


def _pair_poly(
    li: np.ndarray, lj: np.ndarray, t0: float, direction: int, shift: np.ndarray | float = 0.0
) -> tuple[np.ndarray, ...]:
    """Coefficients (A, B, C) of ``g(u) = num_i den_j - num_j den_i + shift * den_i den_j`` at
    ``t = t0 + direction * u``; ``g / (den_i den_j) = (W_i - W_j) / 100 + shift``.

    With ``shift = +-TIE_TOLERANCE / 100`` the sign of ``g`` says whether i is listed above j under the
    ranking's tie rule (i stays above a proposal it beats on the tie-break until overtaken by more than
    1e-9; it gets above one that beats it only by more than 1e-9). Vectorised over rows.
    """
    ai = li[..., 0] + li[..., 1] * t0
    bi = direction * li[..., 1]
    ci = li[..., 2] + li[..., 3] * t0
    di = direction * li[..., 3]
    aj = lj[..., 0] + lj[..., 1] * t0
    bj = direction * lj[..., 1]
    cj = lj[..., 2] + lj[..., 3] * t0
    dj = direction * lj[..., 3]
    quad = bi * dj - bj * di + shift * di * dj
    lin = ai * dj + bi * cj - aj * di - bj * ci + shift * (ci * dj + di * cj)
    const = ai * cj - aj * ci + shift * ci * cj
    return quad, lin, const


def _first_negative_scalar(quad: float, lin: float, const: float) -> float:
    """:func:`_first_negative` for one polynomial, in plain floats (the sweep calls it per event)."""
    if const < -_MISORDER:
        return 0.0
    const = max(const, 0.0)
    if quad == 0.0:
        return const / -lin if lin < 0 else math.inf
    disc = lin * lin - 4.0 * quad * const
    sq = math.sqrt(max(disc, 0.0))
    q = -0.5 * (lin + (sq if lin >= 0 else -sq))
    r1 = q / quad if q != 0 else 0.0
    r2 = const / q if q != 0 else 0.0
    lo, hi = min(r1, r2), max(r1, r2)
    if quad > 0:
        return max(lo, 0.0) if disc > 0 and hi > 0 else math.inf
    return max(hi, 0.0)


def _tie_shift(tie_rank_i: np.ndarray | int, tie_rank_j: np.ndarray | int) -> np.ndarray:
    """``+TIE_TOLERANCE/100`` where i wins exact ties against j (earlier in the tie-break), else minus."""
    return np.where(np.asarray(tie_rank_i) < np.asarray(tie_rank_j), 1.0, -1.0) * (TIE_TOLERANCE / 100.0)


def _first_negative(quad: np.ndarray, lin: np.ndarray, const: np.ndarray) -> np.ndarray:
    """Smallest ``u >= 0`` after which ``f(u) = quad u^2 + lin u + const`` turns negative (inf if never).

    ``const`` is expected ``>= 0`` (the pair is in order at ``u = 0``); rounding noise below that is
    taken as 0, a clearly negative value (the pair is already out of order) gives 0.
    """
    quad, lin, raw = np.broadcast_arrays(
        np.asarray(quad, float), np.asarray(lin, float), np.asarray(const, float)
    )
    const = np.maximum(raw, 0.0)
    linear = quad == 0
    if linear.all():  # straight lines (the "minimum" policy): one division
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(lin < 0, const / -lin, np.inf)
        return np.where(raw < -_MISORDER, 0.0, out)
    out = np.full(quad.shape, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        lin_root = np.where(lin < 0, const / -lin, np.inf)
        out = np.where(linear, lin_root, out)
        disc = lin * lin - 4.0 * quad * const
        sq = np.sqrt(np.maximum(disc, 0.0))
        q = -0.5 * (lin + np.where(lin >= 0, sq, -sq))
        r1 = np.where(q != 0, q / np.where(quad != 0, quad, 1.0), 0.0)
        r2 = np.where(q != 0, const / np.where(q != 0, q, 1.0), 0.0)
        lo, hi = np.minimum(r1, r2), np.maximum(r1, r2)
        convex = (~linear) & (quad > 0)
        # convex: negative strictly between two distinct roots
        conv = np.where((disc > 0) & (hi > 0), np.maximum(lo, 0.0), np.inf)
        # concave: negative beyond the larger root (always exists as const >= 0)
        conc = np.maximum(hi, 0.0)
        out = np.where(convex, conv, out)
        out = np.where((~linear) & (quad < 0), conc, out)
    # out of order already (a jump of W at an end of [0, 1] under "redistribute"): swaps at once
    return np.where(raw < -_MISORDER, 0.0, out)


def _interior_complete(prep: _Prepared, p: int) -> np.ndarray:
    """Completeness for ``0 < t < 1`` along principle ``p``: the weighted principles are those of ``w``
    and ``p``. (It equals the completeness under ``w`` unless ``w_p = 0``.)"""
    weighted = prep.weights > 0
    weighted[p] = True
    return ~((~prep.answered) & weighted[None, :]).any(axis=1)


def _top_k_side(
    lines: np.ndarray, prep: _Prepared, complete: np.ndarray, k: int, t0: float, direction: int
) -> tuple[float, int | None, int | None]:
    """Distance ``u`` to the first crossing of a proposal inside the top k with one outside it, and that
    pair (outside, inside) as proposal indices (``None`` when no crossing comes)."""
    inside = prep.base_order[:k]
    outside = prep.base_order[k:]
    c_in = complete[inside][:, None]
    c_out = complete[outside][None, :]
    shift = _tie_shift(prep.tie_rank[inside][:, None], prep.tie_rank[outside][None, :])
    quad, lin, const = _pair_poly(lines[inside][:, None, :], lines[outside][None, :, :], t0, direction, shift)
    u = _first_negative(quad, lin, const)
    # a complete proposal is always listed above an incomplete one
    u = np.where(c_in == c_out, u, np.where(c_out, 0.0, np.inf))
    if not u.size or not np.isfinite(u.min()):
        return math.inf, None, None
    first = float(u.min())
    rows, cols = np.nonzero(u <= first + _CLOSE_CROSSINGS)
    if rows.size == 1:
        return first, int(outside[cols[0]]), int(inside[rows[0]])
    # several crossings at once (or closer than the ends are exact): the listing just past the point says
    # which proposal got in and which went out (the first of each in listing order, when several did)
    room = (1.0 - t0 if direction > 0 else t0) - first  # never past 0 or 1
    t = t0 + direction * (first + max(min(_PROBE_STEP, room / 2), 0.0))
    weighted = 100.0 * (lines[:, 0] + lines[:, 1] * t) / (lines[:, 2] + lines[:, 3] * t)
    listed, _ = listing_order(weighted, complete, prep.tie_rank)
    was_in = set(inside.tolist())
    now_in = set(listed[:k].tolist())
    entering = [int(i) for i in listed[:k].tolist() if i not in was_in]
    leaving = [int(i) for i in listed[k:].tolist() if i in was_in and i not in now_in]
    if not entering or not leaving:
        return first, int(outside[cols[0]]), int(inside[rows[0]])
    return first, entering[0], leaving[0]


def _state_equal(x: tuple[np.ndarray, ...], y: tuple[np.ndarray, ...]) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(x, y, strict=True))


class _Sweep:
    """Kinetic sweep of the listing order along one direction, tracking the budget-line walk."""

    def __init__(self, problem: SelectionProblem, walk: _Walk, order: np.ndarray):
        self.problem = problem
        self.walk = walk
        self.budgets = np.asarray(problem.budgets, dtype=np.int64)
        self.order = order.copy()
        n = order.size
        taken, spent, groups = _initial_state(walk, 1, problem.n_years)
        self.taken = np.zeros((n + 1, n), dtype=bool)
        self.spent = np.zeros((n + 1, problem.n_years), dtype=np.int64)
        self.groups = np.zeros((n + 1, walk.member.shape[1]), dtype=np.int64)
        self.taken[0], self.spent[0], self.groups[0] = taken[0], spent[0], groups[0]
        self.recompute(0)
        self.base = self.taken[n].copy()
        # Every takeable proposal taken, none saving money, no exclusive groups: partial sums never
        # exceed the total, so every order of the list takes them all and the selection cannot change.
        free = walk.free
        self.order_free = bool(
            not walk.member.shape[1]
            and (problem.net_cost[free] >= 0).all()
            and np.array_equal(self.base, walk.start | free)
        )

    def copy(self) -> _Sweep:
        """An independent sweep in the same state (the walk along the base order is computed once)."""
        other = object.__new__(_Sweep)
        other.__dict__.update(self.__dict__)
        other.order = self.order.copy()
        other.taken, other.spent, other.groups = self.taken.copy(), self.spent.copy(), self.groups.copy()
        return other

    def _step(self, state: tuple[np.ndarray, ...], item: int) -> tuple[np.ndarray, ...]:
        taken, spent, groups = (s[None, :].copy() for s in state)
        _advance(self.walk, self.problem.net_cost, self.budgets, taken, spent, groups, np.array([item]))
        return taken[0], spent[0], groups[0]

    def state(self, k: int) -> tuple[np.ndarray, ...]:
        return self.taken[k], self.spent[k], self.groups[k]

    def set_state(self, k: int, state: tuple[np.ndarray, ...]) -> None:
        self.taken[k], self.spent[k], self.groups[k] = state

    def recompute(self, k: int) -> None:
        for pos in range(k, self.order.size):
            self.set_state(pos + 1, self._step(self.state(pos), int(self.order[pos])))

    def swap_is_neutral(self, k: int) -> bool:
        """After swapping positions k, k+1 in ``order``: does the walk reach the same state at k+2?"""
        mid = self._step(self.state(k), int(self.order[k]))
        after = self._step(mid, int(self.order[k + 1]))
        if _state_equal(after, self.state(k + 2)):
            self.set_state(k + 1, mid)
            return True
        return False

    def changed(self) -> bool:
        return not np.array_equal(self.taken[self.order.size], self.base)


def _selection_side(
    lines: np.ndarray,
    prep: _Prepared,
    complete_now: np.ndarray,
    base: _Sweep,
    t0: float,
    direction: int,
    limit: float,
    max_events: int,
) -> tuple[float, bool]:
    """Distance ``u`` from ``t0`` (in ``direction``) to the first change of the budget-line selection."""
    n = prep.base_order.size
    if n < 2 or limit <= 0 or base.order_free:
        return limit, True
    sweep = base.copy()
    order = sweep.order
    poly: dict[tuple[int, int], tuple[float, float, float]] = {}
    rows = lines.tolist()
    tie_rank = prep.tie_rank.tolist()
    complete = complete_now.tolist()
    tol = TIE_TOLERANCE / 100.0

    def certificate(k: int, now: float) -> float:
        """When the pair at places k, k+1 next swaps (as ``u``), given it is in order at ``u = now``."""
        i, j = int(order[k]), int(order[k + 1])
        if complete[i] != complete[j]:  # complete first: out of order means a swap at once
            return now if complete[j] else math.inf
        coef = poly.get((i, j))
        if coef is None:
            # scalar form of _pair_poly (same algebra, plain floats)
            ai, bi, ci, di = rows[i]
            aj, bj, cj, dj = rows[j]
            ai, ci = ai + bi * t0, ci + di * t0
            aj, cj = aj + bj * t0, cj + dj * t0
            bi, di, bj, dj = direction * bi, direction * di, direction * bj, direction * dj
            s = tol if tie_rank[i] < tie_rank[j] else -tol
            coef = (
                bi * dj - bj * di + s * di * dj,
                ai * dj + bi * cj - aj * di - bj * ci + s * (ci * dj + di * cj),
                ai * cj - aj * ci + s * ci * cj,
            )
            poly[(i, j)] = coef
        quad, lin, const = coef
        # the same polynomial around u = now
        return now + _first_negative_scalar(quad, 2 * quad * now + lin, quad * now * now + lin * now + const)

    version = np.zeros(n, dtype=np.int64)
    heap: list[tuple[float, int, int]] = []

    def renew(m: int, now: float) -> bool:
        """New certificate for the pair at place m; False when that pair is due at once."""
        version[m] += 1
        cert = certificate(m, now)
        if cert <= now + _SAME_EVENT:
            return False
        heapq.heappush(heap, (cert, m, int(version[m])))
        return True

    def resync(now: float) -> int:
        """Reset the order to the ranking's own listing just after ``now``; return the first changed place.

        Used where several curves cross at once (common with whole-number scores), so ties and chains
        of near-ties are settled exactly as :func:`scoring.ranking.rank` settles them.
        """
        ahead = heap[0][0] if heap else limit
        probe = now + max(min(_PROBE_STEP, (ahead - now) / 2), 2 * _SAME_EVENT)
        t = t0 + direction * probe
        weighted = 100.0 * (lines[:, 0] + lines[:, 1] * t) / (lines[:, 2] + lines[:, 3] * t)
        listed, _ = listing_order(weighted, complete_now, prep.tie_rank)
        changed = np.flatnonzero(listed != order)
        order[:] = listed
        heap.clear()
        for m in range(n - 1):
            version[m] += 1
            heapq.heappush(heap, (max(certificate(m, probe), probe), m, int(version[m])))
        return int(changed[0]) if changed.size else n

    for k in range(n - 1):
        heapq.heappush(heap, (certificate(k, 0.0), k, 0))
    if any(cert <= _SAME_EVENT for cert, _, _ in heap):  # out of order at once (see _first_negative)
        first = resync(0.0)
        if first < n:
            sweep.recompute(first)
            if sweep.changed():
                return 0.0, True
    events = 0
    while heap:
        u, k, ver = heapq.heappop(heap)
        if ver != version[k]:
            continue
        if u > limit:
            return limit, True
        batch = [k]
        latest = u
        while heap and heap[0][0] <= u + _SAME_EVENT:
            u2, k2, ver2 = heapq.heappop(heap)
            if ver2 == version[k2]:
                batch.append(k2)
                latest = max(latest, u2)
        events += len(batch)
        before = order.copy()
        if len(batch) == 1:
            # one pair crosses alone: swap it and re-check the walk locally
            order[k], order[k + 1] = order[k + 1], order[k]
            clean = all([renew(m, latest) for m in (k - 1, k, k + 1) if 0 <= m < n - 1])
            if clean:
                if not sweep.swap_is_neutral(k):
                    sweep.recompute(k)
                    if sweep.changed():
                        return u, True
                if events >= max_events:
                    return u, False
                continue
        first = resync(latest)
        first = min(first, int(np.flatnonzero(before != order)[0]) if (before != order).any() else n)
        if first < n:
            sweep.recompute(first)
            if sweep.changed():
                return u, True
        if events >= max_events:
            return u, False
    return limit, True


def _interval(t0: float, down: float, up: float, exact: bool) -> Interval:
    low = t0 - down
    high = t0 + up
    return Interval(0.0 if low <= _SNAP else low, 1.0 if high >= 1.0 - _SNAP else high, exact)


def switching_values(
    prep: _Prepared,
    top_k: int,
    problem: SelectionProblem | None,
    walk: _Walk | None,
    max_events: int = 200_000,
) -> list[SwitchingValue]:
    """Switching values of every principle (see the module docstring)."""
    out = []
    n_p = prep.base_order.size
    base = _Sweep(problem, walk, prep.base_order) if problem is not None and walk is not None else None
    for p in range(prep.weights.size):
        t0 = float(prep.weights[p])
        lines = _lines(prep, p)
        if lines is None:
            out.append(SwitchingValue(p + 1, t0, None, None))
            continue
        complete = _interior_complete(prep, p)
        top: Interval | None = None
        rising = falling = None
        if 0 < top_k < n_p:
            up, up_in, up_out = _top_k_side(lines, prep, complete, top_k, t0, +1)
            down, down_in, down_out = _top_k_side(lines, prep, complete, top_k, t0, -1)
            top = _interval(t0, down, up, True)
            if up_in is not None and top.high < 1.0:
                rising = Overtaking(top.high, up_in, up_out)
            if down_in is not None and top.low > 0.0:
                falling = Overtaking(top.low, down_in, down_out)
        else:
            top = Interval(0.0, 1.0)
        sel: Interval | None = None
        if base is not None:
            up, exact_up = _selection_side(lines, prep, complete, base, t0, +1, 1.0 - t0, max_events)
            down, exact_down = _selection_side(lines, prep, complete, base, t0, -1, t0, max_events)
            sel = _interval(t0, down, up, exact_up and exact_down)
        out.append(SwitchingValue(p + 1, t0, top, sel, rising, falling))
    return out
