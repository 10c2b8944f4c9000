"""Comparison of two rankings: Kendall's tau-b (against scipy), rank shifts, top-k entries and exits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import kendalltau

from scoring.compare import compare_rankings, kendall_tau_b
from scoring.errors import ScoringInputError
from scoring.ranking import rank

from .helpers import FAST


def test_hand_example():
    c = compare_rankings([1, 2, 3, 4], [2, 1, 3, 4], top_k=1)
    assert c.tau_b == pytest.approx(4 / 6)
    assert c.shift.tolist() == [1, -1, 0, 0]
    assert c.entries == (1,) and c.exits == (0,)


def test_ties_at_the_cut_are_taken_whole():
    c = compare_rankings([1, 2, 2, 4], [1, 2, 3, 3], top_k=2)
    assert c.entries == () and c.exits == (2,)


def test_with_ranking_objects():
    scores = np.array([[5, 0], [0, 5], [3, 3]], dtype=float)
    a = rank(scores, [0.8, 0.2])
    b = rank(scores, [0.2, 0.8])
    c = compare_rankings(a, b, top_k=1)
    assert a.rank.tolist() == [1, 3, 2] and b.rank.tolist() == [3, 1, 2]
    assert c.shift.tolist() == [2, -2, 0]
    assert c.entries == (1,) and c.exits == (0,)
    assert c.tau_b == pytest.approx(kendalltau(a.rank, b.rank).statistic)


def test_undefined_tau():
    assert np.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    assert np.isnan(kendall_tau_b([1], [1]))
    with pytest.raises(ScoringInputError):
        compare_rankings([1, 2], [1, 2, 3])


def test_large_rankings_against_scipy():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 300, 1500)
    y = x + rng.integers(-40, 40, 1500)
    assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)


@FAST
@given(st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8)), min_size=2, max_size=40))
def test_tau_b_matches_scipy(pairs):
    x, y = np.array(pairs).T
    ref = kendalltau(x, y).statistic
    got = kendall_tau_b(x, y)
    if np.isnan(ref):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(ref, abs=1e-12)
