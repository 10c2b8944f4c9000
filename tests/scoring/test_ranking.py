"""Weighted score, coverage and ranking (brief Maths 2-5) and their properties."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scoring.aggregate import aggregate
from scoring.errors import ScoringInputError
from scoring.ranking import rank, weighted_scores

from .helpers import FAST

nan = np.nan


def test_weighted_score_and_coverage_by_hand():
    w = [0.5, 0.3, 0.2]
    scores = np.array([[4, 5, 0], [4, nan, 0], [5, 5, 5]], dtype=float)
    weighted, coverage, complete = weighted_scores(scores, w)
    assert weighted.tolist() == pytest.approx([70.0, 40.0, 100.0])
    assert coverage.tolist() == pytest.approx([1.0, 0.7, 1.0])
    assert complete.tolist() == [True, False, True]
    # another scale: 1..10 with the same normalised values
    weighted, _, _ = weighted_scores(1 + scores * 9 / 5, w, scale_min=1, scale_max=10)
    assert weighted.tolist() == pytest.approx([70.0, 40.0, 100.0])


def test_redistribute_rescales_remaining_weights():
    w = [0.5, 0.3, 0.2]
    scores = np.array([[4, nan, 0], [nan, nan, nan]])
    na = np.array([[False, True, False], [True, True, True]])
    weighted, coverage, complete = weighted_scores(scores, w, not_applicable=na)
    # proposal 0: weights 0.5/0.7 and 0.2/0.7 -> 100 * (0.5/0.7 * 0.8) = 57.142857
    assert weighted[0] == pytest.approx(100 * 0.5 / 0.7 * 0.8)
    assert weighted[1] == 0.0  # nothing applicable
    assert coverage.tolist() == [1.0, 1.0] and complete.all()  # NA counts as an answer


def test_zero_weight_principles_do_not_affect_completeness():
    weighted, coverage, complete = weighted_scores(np.array([[5, nan]]), [1.0, 0.0])
    assert weighted[0] == 100.0 and coverage[0] == 1.0 and complete[0]


def test_competition_ranking_and_tie_order():
    # W = 70, 80, 70, 60, 70 (+1e-10, a tie within 1e-9)
    scores = np.array([[3.5, 3.5], [4, 4], [3.5, 3.5], [3, 3], [3.5 + 5e-12, 3.5 + 5e-12]])
    r = rank(scores, [0.5, 0.5], net_cost=[5, 1, 3, 0, 3], references=["P-3", "P-1", "P-9", "P-0", "P-2"])
    assert r.rank.tolist() == [2, 1, 2, 5, 2]
    # tie: net cost ascending (3, 3, 5) then reference ascending (P-2 before P-9)
    assert r.order.tolist() == [1, 4, 2, 0, 3]
    items = r.items()
    assert [i.rank for i in items] == [1, 2, 2, 2, 5]
    assert [i.reference for i in items] == ["P-1", "P-2", "P-9", "P-3", "P-0"]
    assert items[0].net_cost == 1 and items[0].weighted_score == pytest.approx(80.0)


def test_incomplete_listed_after_complete():
    scores = np.array([[5, nan], [1, 1], [2, 2], [5, nan]])
    r = rank(scores, [0.5, 0.5], references=["a", "b", "c", "d"])
    assert r.order.tolist() == [2, 1, 0, 3]
    assert r.rank.tolist() == [3, 2, 1, 3]
    assert r.complete.tolist() == [False, True, True, False]


def test_rank_takes_an_aggregate():
    s = np.array([[[4, 4], [2, nan]], [[5, 1], [5, 1]]], dtype=float)
    na = np.zeros(s.shape, bool)
    na[0, 1, 1] = True
    agg = aggregate(s, na, na_policy="redistribute", scale_min=1, scale_max=5)
    r = rank(agg, [0.5, 0.5])
    # proposal 0: principle 1 mean 3 -> 0.5, principle 2 mean 4 (NA left out) -> 0.75
    assert r.weighted_score.tolist() == pytest.approx([62.5, 50.0])
    assert r.order.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scores": np.zeros((2, 3)), "weights": [0.5, 0.5]}, "scores"),
        ({"scores": np.zeros(3), "weights": [1.0]}, "scores"),
        ({"scores": np.zeros((2, 2)), "weights": [0.6, 0.6]}, "weights"),
        ({"scores": np.zeros((2, 2)), "weights": [1.5, -0.5]}, "weights"),
        ({"scores": np.zeros((2, 2)), "weights": [0.5, 0.5], "net_cost": [1]}, "net_cost"),
        ({"scores": np.zeros((2, 2)), "weights": [0.5, 0.5], "references": ["a"]}, "references"),
        (
            {"scores": np.zeros((2, 2)), "weights": [0.5, 0.5], "not_applicable": np.zeros((2, 3))},
            "not_applicable",
        ),
    ],
)
def test_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as info:
        rank(**kwargs)
    assert info.value.field == field


# --- properties --------------------------------------------------------------------------------------

score_tables = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 12), st.just(4)),
    elements=st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0, 10 / 3, 4.0, 5.0]),
)
weight_vectors = st.lists(st.integers(0, 10), min_size=4, max_size=4).filter(lambda v: sum(v) > 0)


def as_weights(raw):
    w = np.array(raw, dtype=float)
    return w / w.sum()


@FAST
@given(score_tables, weight_vectors, st.integers(-3, 3), st.integers(1, 4))
def test_scale_map_preserves_the_ranking(scores, raw, shift, stretch):
    w = as_weights(raw)
    base = rank(scores, w)
    mapped = rank(shift + scores * stretch, w, scale_min=shift, scale_max=shift + 5 * stretch)
    assert np.array_equal(base.order, mapped.order)
    assert np.array_equal(base.rank, mapped.rank)
    assert np.allclose(base.weighted_score, mapped.weighted_score, atol=1e-9)


@FAST
@given(score_tables, weight_vectors, st.data())
def test_adding_a_dominated_proposal_keeps_the_others_order(scores, raw, data):
    w = as_weights(raw)
    n = scores.shape[0]
    cost = data.draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    base = rank(scores, w, net_cost=cost)
    worst = scores.min(axis=0)
    new = np.vstack([scores, worst * data.draw(st.sampled_from([0.0, 0.5, 1.0]))])
    grown = rank(new, w, net_cost=[*cost, data.draw(st.integers(-5, 5))])
    assert [i for i in grown.order.tolist() if i != n] == base.order.tolist()


@FAST
@given(score_tables, weight_vectors, st.data())
def test_a_dominating_proposal_never_ranks_below(scores, raw, data):
    assume(scores.shape[0] >= 2)
    w = as_weights(raw)
    i, j = data.draw(
        st.sampled_from([(a, b) for a in range(scores.shape[0]) for b in range(scores.shape[0]) if a != b])
    )
    scores = scores.copy()
    scores[i] = np.maximum(scores[i], scores[j])
    r = rank(
        scores, w, net_cost=data.draw(st.lists(st.integers(0, 9), min_size=len(scores), max_size=len(scores)))
    )
    assert r.rank[i] <= r.rank[j]
    assert r.weighted_score[i] >= r.weighted_score[j] - 1e-9


@FAST
@given(score_tables, weight_vectors, st.data())
def test_ranking_is_independent_of_input_order(scores, raw, data):
    w = as_weights(raw)
    n = scores.shape[0]
    refs = [f"P-{k:03d}" for k in range(n)]
    cost = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    perm = np.array(data.draw(st.permutations(list(range(n)))))
    a = rank(scores, w, net_cost=cost, references=refs)
    b = rank(scores[perm], w, net_cost=np.array(cost)[perm], references=[refs[k] for k in perm])
    assert [refs[k] for k in a.order] == [refs[perm[k]] for k in b.order]
    assert np.array_equal(a.rank[perm], b.rank)


@FAST
@given(score_tables, weight_vectors)
def test_ranks_are_competition_ranks(scores, raw):
    r = rank(scores, as_weights(raw))
    listed = r.rank[r.order]
    assert listed[0] == 1
    for pos in range(1, len(listed)):
        assert listed[pos] in (listed[pos - 1], pos + 1)
    w_listed = r.weighted_score[r.order]
    assert np.all(np.diff(w_listed) <= 1e-9)
    # equal W (to 1e-9) share a rank, different W do not
    for a in range(len(listed)):
        for b in range(len(listed)):
            assert (abs(w_listed[a] - w_listed[b]) <= 1e-9) == (listed[a] == listed[b])
