"""The package's public surface: a notebook-style walk through it, and its purity."""

import subprocess
import sys

import numpy as np
import pytest

import scoring
from scoring import (
    SelectionProblem,
    aggregate,
    agreement,
    compare_rankings,
    derive_weights,
    greedy_select,
    rank,
    select,
    sensitivity,
)


def test_everything_exported_exists():
    for name in scoring.__all__:
        assert getattr(scoring, name) is not None


def test_a_review_end_to_end():
    # 3 proposals x 2 scorers x 12 principles on the 0..5 scale
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, (3, 2, 12)).astype(float)
    scores[0] = 5.0  # proposal 0 is excellent everywhere
    scores[2, :, :] = 1.0
    weights = derive_weights("rank_order", order=[[7], [2, 5], [1]])
    ranking = rank(aggregate(scores), weights, net_cost=[300, 200, 100], references=["A", "B", "C"])
    assert ranking.order[0] == 0 and ranking.weighted_score[0] == pytest.approx(100.0)
    assert ranking.weighted_score[2] == pytest.approx(20.0)
    flat = rank(aggregate(scores), derive_weights("points", weights=[1] * 12))
    assert compare_rankings(ranking, flat).tau_b <= 1.0
    assert agreement(scores).spread[0].max() == 0.0
    problem = SelectionProblem.from_costs(ranking.weighted_score, [[300], [200], [100]], budgets=[400])
    assert select(problem).selected == (0, 2)
    assert greedy_select(problem, ranking.order).selected == (0, 2)
    s = sensitivity(aggregate(scores), weights, samples=50, top_k=1, problem=problem)
    assert s.p_top_k[0] == 1.0 and s.p_selected[0] == 1.0


def test_the_package_is_pure():
    code = (
        "import sys, scoring; "
        "banned = ('fastapi', 'sqlalchemy', 'app', 'starlette', 'pydantic'); "
        "print(','.join(m for m in sys.modules if m.split('.')[0] in banned))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
