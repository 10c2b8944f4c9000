"""Speed figures for the scoring maths, printed with their targets (run: ``python bench/bench_scoring.py``).

Instances are random but seeded and shaped like a review: each proposal has a latent quality that drives
both its panel scores and its size, so better proposals tend to cost more and the budget (40-60% of the
total net cost of each year) forces real trade-offs. Timings are wall-clock on this machine; where a
figure is compared with a floor, both are measured in the same run, interleaved, and the best of the
repeats is used for each (the machine is shared, so single runs are noisy).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring import SelectionProblem, aggregate, dirichlet_weights, rank, select, sensitivity  # noqa: E402

K = 12


def review(n: int, scorers: int, seed: int) -> dict[str, np.ndarray]:
    """A cycle's arrays: scores tensor, weights, per-year cost and saving (pence), references."""
    rng = np.random.default_rng(seed)
    quality = rng.beta(2.0, 2.0, n)
    relevance = rng.uniform(-1.0, 1.0, (n, K))  # some principles suit some proposals
    lenient = rng.normal(0.0, 0.4, scorers)
    raw = 5 * quality[:, None, None] + relevance[:, None, :] + lenient[None, :, None]
    raw = raw + rng.normal(0.0, 0.7, (n, scorers, K))
    scores = np.clip(np.rint(raw), 0, 5)
    scores[rng.random(scores.shape) < 0.02] = np.nan  # a few blanks
    weights = rng.dirichlet(np.full(K, 3.0))
    size = rng.lognormal(np.log(500_000), 0.8, n)  # pounds per year
    return {"scores": scores, "weights": weights, "quality": quality, "size": size, "rng": rng}


def selection_instance(n: int, years: int, seed: int) -> SelectionProblem:
    data = review(n, 5, seed)
    rng = data["rng"]
    ranking = rank(aggregate(data["scores"]), data["weights"])
    cost_pounds = data["size"][:, None] * (0.6 + data["quality"][:, None]) * rng.uniform(0.7, 1.3, (n, years))
    cost = np.rint(cost_pounds * 100).astype(np.int64)
    efficiency = rng.random(n) < 0.3
    saving = (cost * rng.uniform(0.2, 0.9, (n, years)) * efficiency[:, None]).astype(np.int64)
    net = cost - saving
    budgets = [int(b) for b in net.sum(axis=0) * rng.uniform(0.4, 0.6, years)]
    return SelectionProblem.from_costs(ranking.weighted_score, cost, budgets, saving=saving)


def line(name: str, figure: str, target: str, ok: bool) -> None:
    print(f"{name:<58} {figure:<34} target {target:<22} {'PASS' if ok else 'MISS'}")


def bench_selection_300() -> None:
    problem = selection_instance(300, 3, seed=300)
    start = time.perf_counter()
    result = select(problem, time_limit=30.0)
    elapsed = time.perf_counter() - start
    assert not problem.violations(result.selected)
    ok = result.status == "optimal" and (result.gap or 0.0) <= 1e-9 and elapsed <= 2.0
    line(
        "selection 300 proposals x 3 years, proven optimal",
        f"{elapsed:.2f} s, {result.status}, gap {result.gap:.1e}",
        "<= 2 s, gap 0",
        ok,
    )


def bench_selection_1000() -> None:
    problem = selection_instance(1000, 3, seed=1000)
    start = time.perf_counter()
    result = select(problem, time_limit=10.0)
    elapsed = time.perf_counter() - start
    assert not problem.violations(result.selected)
    gap = result.gap if result.gap is not None else float("inf")
    line(
        "selection 1,000 proposals x 3 years, 10 s limit",
        f"{elapsed:.2f} s, {result.status}, gap {100 * gap:.4f} %",
        "gap <= 0.1 %",
        gap <= 1e-3,
    )


def bench_sensitivity(repeats: int) -> None:
    n, samples = 2000, 10_000
    data = review(n, 5, seed=2000)
    agg = aggregate(data["scores"])
    weights = data["weights"]
    ranking = rank(agg, weights)
    matrix = np.nan_to_num(agg.scores / 5.0 * 100.0, nan=0.0).T  # (K, P)
    draws = dirichlet_weights(weights, samples, 100.0, seed=1)
    floors, runs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        keys = draws @ matrix
        order = np.argsort(keys, axis=1)
        floors.append(time.perf_counter() - start)
        del keys, order
        start = time.perf_counter()
        result = sensitivity(agg, weights, samples=samples, concentration=100.0, seed=1, top_k=20)
        runs.append(time.perf_counter() - start)
    floor, best = min(floors), min(runs)
    assert result.rank_percentiles.shape == (n, 3) and len(result.switching) == K
    assert np.isclose(result.p_top_k.sum(), 20.0) or result.p_top_k.sum() >= 20.0
    del ranking
    line(
        "sensitivity 2,000 proposals x 10,000 draws (+ top-k switching)",
        f"{best:.3f} s = {best / floor:.2f} x floor {floor:.3f} s",
        "<= 1.5 x floor",
        best <= 1.5 * floor,
    )
    runs_text = ", ".join(f"{r:.3f}" for r in runs)
    floors_text = ", ".join(f"{f:.3f}" for f in floors)
    print(f"{'':<58} all runs {runs_text}; floors {floors_text}")


def bench_sensitivity_with_selection() -> None:
    n = 2000
    data = review(n, 5, seed=2000)
    agg = aggregate(data["scores"])
    problem = selection_instance(n, 3, seed=2000)
    start = time.perf_counter()
    result = sensitivity(agg, data["weights"], samples=10_000, seed=1, top_k=20, problem=problem)
    elapsed = time.perf_counter() - start
    assert result.p_selected is not None
    exact = all(s.selection is not None and s.selection.exact for s in result.switching)
    print(
        f"{'  info: same, with budget-line selection probability':<58} "
        f"{elapsed:.2f} s (selection switching values exact: {exact})"
    )


def bench_ranking(repeats: int) -> None:
    n, scorers = 5000, 5
    data = review(n, scorers, seed=5000)
    scores, weights = data["scores"], data["weights"]
    net = np.rint(data["size"] * 100).astype(np.int64)
    refs = [f"SR-{i:05d}" for i in range(n)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ranking = rank(aggregate(scores), weights, net_cost=net, references=refs)
        times.append(time.perf_counter() - start)
    assert ranking.order.size == n
    best = min(times)
    line(
        "ranking 5,000 proposals x 5 scorers from arrays",
        f"{1000 * best:.1f} ms (median {1000 * float(np.median(times)):.1f} ms)",
        "<= 50 ms",
        best <= 0.050,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats for the timed comparisons")
    parser.add_argument("--quick", action="store_true", help="skip the informational extra figure")
    args = parser.parse_args()
    print(f"scoring benchmarks on {os.cpu_count()} cores, numpy {np.__version__}")
    bench_selection_300()
    bench_selection_1000()
    bench_sensitivity(args.repeats)
    if not args.quick:
        bench_sensitivity_with_selection()
    bench_ranking(max(args.repeats, 10))


if __name__ == "__main__":
    main()
