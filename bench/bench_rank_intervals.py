"""Speed of rank intervals beside its floor (run: ``python bench/bench_rank_intervals.py``).

2,000 proposals x 5 scorers x 12 principles, 1,000 resamples, random but seeded data shaped like a review
(complete scorecards, about 5% "not applicable" answers, the ``minimum`` policy, mean aggregation). The
floor is the least any implementation must do for the same shapes: given the resampled aggregated scores
(1,000 x 2,000 x 12, built before the clock starts), one matrix product with the weights and one argsort
per resample. Both are timed in the same run, interleaved, and the median of the repeats is reported.
Target: rank intervals within 2x the floor and under 3 s. A second line times the same call with a
selection problem (``p_funded``, the budget walk per resample), for information.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import SelectionProblem, rank_intervals  # noqa: E402

P, J, K, R = 2_000, 5, 12, 1_000


def data(seed: int = 2026) -> dict:
    rng = np.random.default_rng(seed)
    quality = rng.beta(2.0, 2.0, P)
    lenient = rng.normal(0.0, 0.4, J)
    raw = 5 * quality[:, None, None] + lenient[None, :, None] + rng.normal(0.0, 0.9, (P, J, K))
    scores = np.clip(np.rint(raw), 0, 5)
    na = rng.random(scores.shape) < 0.05
    scores[na] = np.nan
    weights = rng.dirichlet(np.full(K, 3.0))
    cost = np.rint(rng.lognormal(np.log(500_000), 0.8, (P, 3)) * 100).astype(np.int64)
    budgets = tuple(int(b) for b in cost.sum(axis=0) // 3)
    problem = SelectionProblem(scores=np.zeros(P), net_cost=cost, budgets=budgets)
    resampled = rng.random((R, P, K))  # stands for the resampled aggregated scores
    return {"scores": scores, "na": na, "weights": weights, "problem": problem, "resampled": resampled}


def floor(d: dict) -> None:
    weighted = d["resampled"] @ d["weights"]
    np.argsort(weighted, axis=1)


def intervals(d: dict, with_problem: bool = False) -> None:
    problem = d["problem"] if with_problem else None
    rank_intervals(d["scores"], d["na"], d["weights"], resamples=R, seed=1, problem=problem)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    d = data()
    intervals(d)  # warm up (imports, allocations)
    floor(d)
    figures, floors, with_walk = [], [], []
    for _ in range(args.repeats):
        floors.append(timed(floor, d))
        figures.append(timed(intervals, d))
    for _ in range(args.repeats):
        with_walk.append(timed(intervals, d, True))
    figure, base = statistics.median(figures), statistics.median(floors)
    ratio = figure / base
    ok = ratio <= 2.0 and figure < 3.0
    print(
        f"rank intervals {P:,} proposals x {J} scorers x {K} principles x {R:,} resamples: "
        f"{figure * 1000:.0f} ms; floor (matmul + argsort) {base * 1000:.0f} ms; ratio {ratio:.2f}x; "
        f"target <= 2x floor and < 3 s: {'PASS' if ok else 'FAIL'}"
    )
    walk = statistics.median(with_walk)
    print(f"  with p_funded (budget walk per resample, 3 years): {walk * 1000:.0f} ms (for information)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
