"""Weights by method, checked against published AHP examples and hand-computed centroid values."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.errors import DisconnectedComparisonsError, ScoringInputError
from scoring.weights import (
    RANDOM_INDEX,
    derive_weights,
    normalised_weights,
    pairwise_weights,
    perron_vector,
    rank_order_centroid,
    rank_order_weights,
)

from .helpers import FAST


def comparisons_from_matrix(matrix, principles=None):
    n = len(matrix)
    principles = principles or list(range(1, n + 1))
    return [
        {"a": principles[i], "b": principles[j], "ratio": matrix[i][j]}
        for i in range(n)
        for j in range(i + 1, n)
    ]


# Saaty's "relative wealth of nations" matrix (Saaty & Khouja 1976, reproduced in T. L. Saaty,
# The Analytic Hierarchy Process, McGraw-Hill 1980, and in Saaty, "How to make a decision: the
# analytic hierarchy process", EJOR 48 (1990) 9-26): US, USSR, China, France, UK, Japan, W. Germany.
# Published: eigenvector .427 .230 .021 .052 .052 .123 .094, lambda_max 7.61, C.I. 0.10, C.R. 0.08.
WEALTH = [
    [1, 4, 9, 6, 6, 5, 5],
    [1 / 4, 1, 7, 5, 5, 3, 4],
    [1 / 9, 1 / 7, 1, 1 / 5, 1 / 5, 1 / 7, 1 / 5],
    [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
    [1 / 6, 1 / 5, 5, 1, 1, 1 / 3, 1 / 3],
    [1 / 5, 1 / 3, 7, 3, 3, 1, 2],
    [1 / 5, 1 / 4, 5, 3, 3, 1 / 2, 1],
]
WEALTH_PUBLISHED = [0.427, 0.230, 0.021, 0.052, 0.052, 0.123, 0.094]

# Saaty's light-intensity (brightness of four chairs) matrix, Saaty, "A scaling method for priorities
# in hierarchical structures", J. Math. Psychology 15 (1977) 234-281: published lambda_max = 4.39,
# C.I. = 0.13.
LIGHT = [[1, 5, 6, 7], [1 / 5, 1, 4, 6], [1 / 6, 1 / 4, 1, 4], [1 / 7, 1 / 6, 1 / 4, 1]]


def test_published_wealth_of_nations_example():
    result = pairwise_weights(comparisons_from_matrix(WEALTH))
    d = result.diagnostics
    assert d.solver == "eigenvector" and d.complete
    assert np.allclose(result.weights[:7], WEALTH_PUBLISHED, atol=0.0006)
    assert np.all(result.weights[7:] == 0)
    assert d.uncompared == (8, 9, 10, 11, 12)
    assert round(d.lambda_max, 2) == 7.61
    assert round(d.consistency_index, 2) == 0.10
    assert d.random_index == 1.32
    assert round(d.consistency_ratio, 2) == 0.08
    assert not d.inconsistent


def test_published_light_intensity_example():
    result = pairwise_weights(comparisons_from_matrix(LIGHT))
    d = result.diagnostics
    assert round(d.lambda_max, 2) == 4.39
    assert round(d.consistency_index, 2) == 0.13
    assert d.consistency_ratio == pytest.approx(d.consistency_index / 0.90)
    assert d.inconsistent  # 0.13 / 0.90 = 0.14 > 0.1
    assert list(np.argsort(-result.weights[:4])) == [0, 1, 2, 3]


def test_random_index_table_is_saatys():
    assert [RANDOM_INDEX[n] for n in range(1, 16)] == [
        0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51, 1.48, 1.56, 1.57, 1.59,
    ]  # fmt: skip


def test_consistent_matrix_reproduces_ratios_exactly():
    # 1 vs 2 = 2, 1 vs 3 = 4, 2 vs 3 = 2: consistent, weights 4/7, 2/7, 1/7
    result = pairwise_weights([{"a": 1, "b": 2, "ratio": 2}, (1, 3, 4), {"a": "2", "b": "3", "ratio": "2"}])
    assert np.allclose(result.weights[:3], [4 / 7, 2 / 7, 1 / 7], atol=1e-13)
    assert result.diagnostics.consistency_ratio == pytest.approx(0.0, abs=1e-12)
    assert result.diagnostics.lambda_max == pytest.approx(3.0, abs=1e-12)


def test_perron_vector_matches_numpy_eig_on_random_reciprocal_matrices():
    rng = np.random.default_rng(7)
    scale = np.array([1 / 9, 1 / 7, 1 / 5, 1 / 3, 1, 3, 5, 7, 9])
    for n in range(3, 13):
        m = np.ones((n, n))
        for i in range(n):
            for j in range(i + 1, n):
                m[i, j] = rng.choice(scale)
                m[j, i] = 1 / m[i, j]
        w, lam = perron_vector(m)
        vals, vecs = np.linalg.eig(m)
        k = np.argmax(vals.real)
        ref = np.abs(vecs[:, k].real)
        ref /= ref.sum()
        assert np.allclose(w, ref, atol=1e-12)
        assert lam == pytest.approx(vals[k].real, abs=1e-10)


def test_worst_comparison_is_the_perturbed_one():
    # consistent weights 8:4:2:1 with the 2-vs-4 judgement distorted from 4 to 1/4
    true = [8, 4, 2, 1]
    comps = [(i + 1, j + 1, true[i] / true[j]) for i in range(4) for j in range(i + 1, 4)]
    comps = [(a, b, 0.25) if (a, b) == (2, 4) else (a, b, r) for a, b, r in comps]
    d = pairwise_weights(comps).diagnostics
    assert (d.worst[0].a, d.worst[0].b) == (2, 4)
    assert abs(d.worst[0].log_error) == max(abs(c.log_error) for c in d.worst)
    assert d.consistency_ratio > 0.1 and d.inconsistent


def test_incomplete_comparisons_use_log_least_squares():
    # a spanning tree is reproduced exactly
    tree = pairwise_weights([(1, 2, 3), (2, 3, 2), (2, 4, 1 / 2)])
    w = tree.weights
    assert tree.diagnostics.solver == "log_least_squares"
    assert tree.diagnostics.consistency_ratio is None
    assert (
        w[0] / w[1] == pytest.approx(3)
        and w[1] / w[2] == pytest.approx(2)
        and w[1] / w[3] == pytest.approx(0.5)
    )
    # a cycle with one extra judgement: compare with an independent least-squares solve
    comps = [(1, 2, 3), (2, 3, 2), (3, 4, 5), (1, 4, 9), (5, 1, 1 / 3)]
    got = pairwise_weights(comps).weights[:5]
    rows, rhs = [], []
    for a, b, r in comps:
        row = np.zeros(5)
        row[a - 1], row[b - 1] = 1, -1
        rows.append(row)
        rhs.append(math.log(r))
    rows.append(np.ones(5))
    rhs.append(0.0)
    logs = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    ref = np.exp(logs) / np.exp(logs).sum()
    assert np.allclose(got, ref, atol=1e-12)


def test_disconnected_comparisons_name_the_cut_off_principles():
    with pytest.raises(DisconnectedComparisonsError) as info:
        pairwise_weights([(1, 2, 3), (2, 3, 2), (7, 9, 2)])
    err = info.value
    assert err.field == "comparisons"
    assert err.unconnected == (7, 9)
    assert err.components == ((1, 2, 3), (7, 9))
    assert "7, 9" in err.detail


@pytest.mark.parametrize(
    ("comparisons", "field"),
    [
        ([(1, 2, 10)], "comparisons[0].ratio"),
        ([(1, 2, 0.1)], "comparisons[0].ratio"),
        ([(1, 1, 2)], "comparisons[0]"),
        ([(1, 2, 2), (2, 1, 0.5)], "comparisons[1]"),
        ([(1, 13, 2)], "comparisons[0].b"),
        ([{"a": 1, "b": 2}], "comparisons[0]"),
        ([(1, 2, "abc")], "comparisons[0].ratio"),
        ([], "comparisons"),
    ],
)
def test_pairwise_validation_names_the_field(comparisons, field):
    with pytest.raises(ScoringInputError) as info:
        pairwise_weights(comparisons)
    assert info.value.field == field


def test_pairwise_accepts_one_ninth_typed_with_three_decimals():
    result = pairwise_weights([(1, 2, 0.111)])
    assert result.weights[1] / result.weights[0] == pytest.approx(1 / 0.111)
    assert result.diagnostics.consistency_ratio == 0.0


def test_rank_order_centroid_by_hand():
    assert np.allclose(rank_order_centroid(3), [0.6111, 0.2778, 0.1111], atol=5e-5)
    # n = 12: w_k = (1/12) * (1/k + ... + 1/12), worked out to four places
    hand_12 = [0.2586, 0.1753, 0.1336, 0.1058, 0.0850, 0.0683, 0.0544, 0.0425, 0.0321, 0.0229, 0.0145, 0.0069]
    assert np.allclose(rank_order_centroid(12), hand_12, atol=5e-5)
    assert rank_order_centroid(12)[-1] == pytest.approx(1 / 144)
    assert rank_order_centroid(12)[0] == pytest.approx(float(Fraction(86021, 332640)))


def test_rank_order_with_ties_and_unranked():
    result = rank_order_weights([[7], [2, 5], [1]])
    expected = np.zeros(12)
    expected[6], expected[1], expected[4], expected[0] = 25 / 48, 10 / 48, 10 / 48, 3 / 48
    assert np.allclose(result.weights, expected, atol=1e-15)
    assert result.as_dict()["7"] == pytest.approx(25 / 48)
    # a single integer is a group of one; strings are principle numbers
    assert np.allclose(rank_order_weights([3, "1", [2]]).weights[:3], [5 / 18, 2 / 18, 11 / 18])


@pytest.mark.parametrize(
    ("order", "field"),
    [([], "order"), ([[1], [1]], "order[1][0]"), ([[1], []], "order[1]"), ([[0]], "order[0][0]")],
)
def test_rank_order_validation(order, field):
    with pytest.raises(ScoringInputError) as info:
        rank_order_weights(order)
    assert info.value.field == field


def test_direct_points_swing_normalise():
    result = normalised_weights({"1": 3, 2: 1})
    assert result.weights[0] == 0.75 and result.weights[1] == 0.25 and result.weights[2:].sum() == 0
    swing = derive_weights("swing", weights={"7": 100, "2": 50, "5": 50})
    assert swing.method == "swing" and swing.weights[6] == pytest.approx(0.5)
    points = derive_weights("points", weights=[10] * 12)
    assert np.allclose(points.weights, 1 / 12)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "direct", "weights": {"1": -1, "2": 3}}, "weights.1"),
        ({"method": "direct", "weights": {"1": 0}}, "weights"),
        ({"method": "points", "weights": {"13": 1}}, "weights.13"),
        ({"method": "swing", "weights": {"x": 1}}, "weights.x"),
        ({"method": "direct", "weights": [1, 2]}, "weights"),
        ({"method": "direct", "weights": {"1": float("nan")}}, "weights.1"),
        ({"method": "direct"}, "weights"),
        ({"method": "rank_order"}, "order"),
        ({"method": "pairwise"}, "comparisons"),
        ({"method": "magic"}, "method"),
    ],
)
def test_derive_weights_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as info:
        derive_weights(**kwargs)
    assert info.value.field == field


@FAST
@given(
    st.dictionaries(st.integers(1, 12), st.floats(0, 1e6), min_size=1).filter(lambda d: sum(d.values()) > 0)
)
def test_normalised_weights_sum_to_one(values):
    w = normalised_weights(values).weights
    assert abs(math.fsum(w) - 1) <= 1e-12
    assert (w >= 0).all()
    assert all(w[p - 1] == 0 for p in range(1, 13) if values.get(p, 0) == 0)


@FAST
@given(
    st.permutations(list(range(1, 13))),
    st.lists(st.integers(1, 3), min_size=1, max_size=12),
    st.integers(1, 12),
)
def test_rank_order_weights_sum_to_one_and_decrease(perm, sizes, ranked):
    chosen = perm[:ranked]
    groups, i = [], 0
    for size in sizes:
        if i >= len(chosen):
            break
        groups.append(chosen[i : i + size])
        i += size
    if i < len(chosen):
        groups.append(chosen[i:])
    w = rank_order_weights(groups).weights
    assert abs(math.fsum(w) - 1) <= 1e-12
    levels = [w[g[0] - 1] for g in groups]
    assert all(a > b for a, b in zip(levels, levels[1:], strict=False))
    assert all(w[p - 1] == 0 for p in perm[ranked:])


@FAST
@given(st.data())
def test_pairwise_weights_sum_to_one(data):
    n = data.draw(st.integers(2, 12))
    principles = data.draw(st.permutations(list(range(1, 13))))[:n]
    ratio = st.sampled_from([1 / 9, 1 / 7, 1 / 5, 1 / 3, 1 / 2, 1, 2, 3, 5, 7, 9])
    pairs = [(principles[i], principles[j]) for i in range(n) for j in range(i + 1, n)]
    keep = data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    # a spanning chain keeps the graph connected; other pairs are optional
    chosen = {(principles[i], principles[i + 1]) for i in range(n - 1)}
    chosen |= {pair for pair, k in zip(pairs, keep, strict=True) if k}
    comps = [(a, b, data.draw(ratio)) for a, b in sorted(chosen)]
    result = pairwise_weights(comps)
    w = result.weights
    assert abs(math.fsum(w) - 1) <= 1e-12
    assert (w[np.array(principles) - 1] > 0).all()
    assert all(w[p - 1] == 0 for p in range(1, 13) if p not in principles)
    assert result.diagnostics.complete == (len(chosen) == len(pairs))
