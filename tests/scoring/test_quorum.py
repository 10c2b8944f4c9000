"""Quorum (brief Maths 4): the cycle's setting capped by the eligible panel, never zero."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.errors import ScoringInputError
from scoring.quorum import quorum

from .helpers import FAST


def test_worked_examples():
    # 5 eligible, 1 submitted; 2 eligible, 2 submitted; 0 eligible (not on a panel); 5 of 5.
    q = quorum([5, 2, 0, 5], [1, 2, 0, 5], 3)
    assert q.required.tolist() == [3, 2, 1, 3]
    assert q.met.tolist() == [False, True, False, True]
    assert q.capped.tolist() == [False, True, True, False]
    assert q.complete.tolist() == [False, True, False, True]


def test_complete_counts_only_eligible_members():
    # three scorecards, but one is from a member who has since left the panel: not complete
    q = quorum([3], [3], 3, eligible_submitted=[2])
    assert q.met.tolist() == [True] and q.complete.tolist() == [False]


def test_no_proposals():
    q = quorum([], [], 3)
    assert q.required.shape == (0,) and q.met.shape == (0,) and q.complete.dtype == bool


@pytest.mark.parametrize(
    "args, field",
    [
        (([1], [1], 0), "min_scorecards"),
        (([1], [1], 2.5), "min_scorecards"),
        (([1], [1], True), "min_scorecards"),
        (([-1], [0], 3), "eligible"),
        (([1, 2], [1], 3), "submitted"),
        (([1.5], [1], 3), "eligible"),
    ],
)
def test_bad_inputs_are_named(args, field):
    with pytest.raises(ScoringInputError) as err:
        quorum(*args)
    assert err.value.field == field


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=30),
    st.integers(1, 10),
)
def test_properties(rows, k):
    eligible = np.array([e for e, _ in rows], dtype=np.int64)
    submitted = np.array([s for _, s in rows], dtype=np.int64)
    q = quorum(eligible, submitted, k)
    assert (q.required >= 1).all() and (q.required <= k).all()
    assert (q.required <= np.maximum(eligible, 1)).all()
    # nobody scored it: never rankable
    assert not q.met[submitted == 0].any()
    # a full, uncapped panel that has all submitted is rankable
    assert q.met[(eligible >= k) & (submitted >= k)].all()
    assert (q.complete == ((eligible > 0) & (np.minimum(submitted, eligible) == eligible))).all()
