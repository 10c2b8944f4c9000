"""Computed rankings kept in memory, one computation per distinct input, never stale after a write.

Every ranking read (the JSON pages, CSV and XLSX, compare, the web page, selection, sensitivity and
submissions) asks here for its inputs document and, where it shows one, the ranking of it. Each is keyed
by everything that changes the answer:

- the cycle's *revision*: its slots in ``ranking_revisions``, which database triggers move on every write to
  what a ranking is computed from (migration 0009), read in the request **before** anything is computed, so
  a write committed meanwhile can only make the entry fresher than its key, never staler; the revision
  lives in the database, so several instances sharing it are never stale either;
- the cycle's own settings (name, years, budgets, scale, not-applicable policy, quorum, threshold) and the
  weighting (id, name, method, weights), read with the cycle and the weighting in the same request;
- the aggregation and the options (include_below_quorum, resamples, seed).

The entries are shared and must never be changed by their readers. The cache is a bounded LRU, safe to use
from every thread, and computes a key at most once at a time: a second request for a key being computed
waits for the first one's answer.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Cycle, RankingRevision, Weighting
from app.rankings.inputs import RESAMPLES, SEED, document, gather_rows

T = TypeVar("T")
ENTRIES = 48  # documents, rankings and selections together (a few per cycle and weighting in use)
ROWS = 4  # the cycles' rows (the answers: the large part), shared by every document of one revision


class LRU:
    """A bounded, thread-safe least-recently-used map that computes each missing key once at a time."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.computed = 0  # how many values were computed (for tests and measurements)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:  # one computation of a key at a time; the others wait for it
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    return self._data[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self.computed += 1
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
            return value

    def forget(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop the entries whose key ``keep`` refuses."""
        with self._lock:
            for key in [k for k in self._data if not keep(k)]:
                del self._data[key]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


rows_cache = LRU(ROWS)
cache = LRU(ENTRIES)


def revision(session: Session, cycle_id: int) -> tuple[tuple[int, int], ...]:
    """Where the cycle's ranking inputs stand now: changes with every committed write to them."""
    return tuple(
        (slot, rev)
        for slot, rev in session.execute(
            select(RankingRevision.slot, RankingRevision.revision)
            .where(RankingRevision.cycle_id == cycle_id)
            .order_by(RankingRevision.slot)
        )
    )


@dataclass(frozen=True)
class Key:
    """What a cycle's document is computed from (see the module's notes); ``options`` are per use."""

    database: str  # one process may serve (tests: many) databases whose cycles share ids
    cycle_id: int
    revision: tuple[tuple[int, int], ...]
    settings: str  # the cycle's settings and the weighting, as canonical JSON
    aggregation: str
    options: tuple[bool, int, int]  # include_below_quorum, resamples, seed

    def with_(self, **changes) -> Key:
        return Key(**{**self.__dict__, **changes})


def key_of(
    session: Session,
    cycle: Cycle,
    weighting: Weighting,
    aggregation: str,
    *,
    include_below_quorum: bool = False,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Key:
    """The key of a document, with the cycle's revision read now (before anything is computed)."""
    settings = settings_of(cycle, weighting)
    return Key(
        database=session.get_bind().url.render_as_string(hide_password=True),
        cycle_id=cycle.id,
        revision=revision(session, cycle.id),
        settings=settings,
        aggregation=aggregation,
        options=(bool(include_below_quorum), int(resamples), int(seed)),
    )


def settings_of(cycle: Cycle, weighting: Weighting) -> str:
    """The cycle's settings and the weighting, as one canonical string (see :class:`Key`)."""
    settings = {
        "cycle": [
            cycle.name,
            cycle.scale_min,
            cycle.scale_max,
            cycle.not_applicable_policy,
            cycle.min_scorecards,
            cycle.disagreement_threshold,
            [[y.year, None if y.budget is None else int(y.budget * 100)] for y in cycle.years],
        ],
        "weighting": [weighting.id, weighting.name, weighting.method, weighting.weights],
    }
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def _rows(session: Session, key: Key) -> dict[str, list]:
    def compute() -> dict[str, list]:
        # Whatever an older revision of this cycle computed is of no more use to anyone reading now.
        rows_cache.forget(lambda k: k[:2] != (key.database, key.cycle_id) or k[2] == key.revision)
        cache.forget(
            lambda k: (
                (k[2].database, k[2].cycle_id) != (key.database, key.cycle_id)
                or k[2].revision == key.revision
            )
        )
        return gather_rows(session, key.cycle_id)

    return rows_cache.get((key.database, key.cycle_id, key.revision), compute)


def inputs(session: Session, cycle: Cycle, weighting: Weighting, key: Key) -> dict[str, Any]:
    """The inputs document of ``key`` (as :func:`app.rankings.inputs.gather` builds it), computed once."""
    include_below_quorum, resamples, seed = key.options

    def compute() -> dict[str, Any]:
        return document(
            cycle,
            weighting,
            key.aggregation,
            _rows(session, key),
            include_below_quorum=include_below_quorum,
            resamples=resamples,
            seed=seed,
        )

    return cache.get(("inputs", key.cycle_id, key), compute)  # (kind, cycle, key, ...) as derived()


def derived(kind: str, key: Key, extra: Hashable, compute: Callable[[], T]) -> T:
    """Something computed from the document of ``key`` alone (and ``extra``), computed once per key."""
    return cache.get((kind, key.cycle_id, key, extra), compute)


def clear() -> None:
    rows_cache.clear()
    cache.clear()
