"""Aggregation (brief Maths 1) against hand-worked cells and a plain-Python reading of the definitions."""

import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scoring.aggregate import AGGREGATIONS, aggregate, scorer_leniency
from scoring.errors import ScoringInputError

from .helpers import FAST

nan = np.nan


def cell(values, na=None):
    """A 1 proposal x J scorers x 1 principle tensor and its NA mask."""
    s = np.array(values, dtype=float).reshape(1, -1, 1)
    mask = np.zeros(s.shape, dtype=bool) if na is None else np.array(na, dtype=bool).reshape(s.shape)
    return s, mask


@pytest.mark.parametrize(
    ("values", "method", "expected"),
    [
        ([4, 2, 3], "mean", 3.0),
        ([4, 2, 5, nan], "mean", 11 / 3),
        ([1, 2, 2, 5], "median", 2.0),
        ([1, 3, 4, 5], "median", 3.5),
        ([1, 3, 5], "median", 3.0),
        ([0, 3, 4, 5], "trimmed_mean", 3.5),  # drop 0 and 5
        ([0, 4, 5], "trimmed_mean", 3.0),  # fewer than 4: plain mean
        ([0, 2, 2, 4, 5, 5], "trimmed_mean", 13 / 4),
        ([nan, nan], "mean", nan),
        ([nan, nan], "median", nan),
        ([nan, nan], "trimmed_mean", nan),
    ],
)
def test_methods_on_one_cell(values, method, expected):
    s, na = cell(values)
    got = aggregate(s, na, method=method).scores[0, 0]
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_not_applicable_policies():
    # scores 4, 2 and NA (scale 0..5)
    s, na = cell([4, 2, nan], [0, 0, 1])
    minimum = aggregate(s, na)
    assert minimum.scores[0, 0] == pytest.approx(2.0)  # (4 + 2 + 0) / 3
    assert not minimum.not_applicable.any() and minimum.answered[0, 0] and minimum.n_answers[0, 0] == 3
    redistribute = aggregate(s, na, na_policy="redistribute")
    assert redistribute.scores[0, 0] == pytest.approx(3.0)  # NA left out
    assert not redistribute.not_applicable[0, 0]  # mixed answers: applicable
    # every answer NA: dropped under redistribute, scale_min under minimum
    s, na = cell([nan, nan, nan], [1, 1, 0])
    assert aggregate(s, na, na_policy="redistribute").not_applicable[0, 0]
    assert math.isnan(aggregate(s, na, na_policy="redistribute").scores[0, 0])
    assert aggregate(s, na, scale_min=1, scale_max=10).scores[0, 0] == 1.0
    # no answer at all: neither applicable-dropped nor answered
    s, na = cell([nan, nan])
    agg = aggregate(s, na, na_policy="redistribute")
    assert not agg.not_applicable[0, 0] and not agg.answered[0, 0]


def test_median_and_trimmed_mean_count_na_as_minimum():
    s, na = cell([5, 5, 4, nan], [0, 0, 0, 1])
    assert aggregate(s, na, method="median").scores[0, 0] == 4.5  # 0, 4, 5, 5
    assert aggregate(s, na, method="trimmed_mean").scores[0, 0] == 4.5  # drop 0 and 5
    assert aggregate(s, na, method="trimmed_mean", na_policy="redistribute").scores[0, 0] == pytest.approx(
        14 / 3
    )


def test_moderated():
    s = np.array([[[4, 1], [2, 1]], [[3, 3], [5, 3]]], dtype=float)  # 2 proposals x 2 scorers x 2 principles
    moderated = np.array([[2.0, nan], [nan, nan]])
    agg = aggregate(s, method="moderated", moderated=moderated)
    assert agg.scores.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    # moderated to not applicable
    mod_na = np.array([[False, True], [False, False]])
    assert aggregate(s, method="moderated", moderated=moderated, moderated_na=mod_na).scores[0, 1] == 0.0
    red = aggregate(s, method="moderated", moderated=moderated, moderated_na=mod_na, na_policy="redistribute")
    assert red.not_applicable.tolist() == [[False, True], [False, False]]
    # a moderated score makes an all-NA cell applicable again
    na = np.zeros(s.shape, bool)
    na[1, :, 0] = True
    red = aggregate(
        s, na, method="moderated", moderated=np.array([[nan, nan], [4, nan]]), na_policy="redistribute"
    )
    assert not red.not_applicable[1, 0] and red.scores[1, 0] == 4.0
    # without any moderation it is the mean
    assert np.array_equal(aggregate(s, method="moderated").scores, aggregate(s).scores)


def test_leniency_and_calibrated_by_hand():
    # 2 proposals x 3 scorers x 1 principle; scorer 2 skips proposal 1
    s = np.array([[[4], [2], [3]], [[5], [3], [nan]]], dtype=float)
    # panel means: 3 and 4; deviations: A (+1, +1), B (-1, -1), C (0)
    assert np.allclose(scorer_leniency(s), [1.0, -1.0, 0.0])
    agg = aggregate(s, method="calibrated")
    assert np.allclose(agg.leniency, [1.0, -1.0, 0.0])
    # shifted: A 3, 4; B 3, 4; C 3 -> means 3 and 4
    assert np.allclose(agg.scores[:, 0], [3.0, 4.0])
    # clipping to the scale: a harsh scorer's 5 shifted up stays 5
    s = np.array([[[5], [1]], [[5], [5]]], dtype=float)
    lenient = scorer_leniency(s)
    assert np.allclose(lenient, [1.0, -1.0])
    assert np.allclose(aggregate(s, method="calibrated").scores[:, 0], [3.0, 4.5])  # (4+2)/2, (4+5)/2


def test_leniency_ignores_na_and_calibrated_keeps_na_at_minimum():
    s = np.array([[[4], [nan]], [[4], [2]]], dtype=float)
    na = np.array([[[False], [True]], [[False], [False]]])
    assert np.allclose(scorer_leniency(s, na), [0.5, -1.0])  # cell 0 has one score: deviation 0
    agg = aggregate(s, na, method="calibrated")
    assert agg.scores[0, 0] == pytest.approx((3.5 + 0) / 2)  # 4 - 0.5, NA -> 0
    assert agg.scores[1, 0] == pytest.approx((3.5 + 3) / 2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scores": np.zeros((2, 2))}, "scores"),
        ({"scores": np.full((1, 1, 1), 6.0)}, "scores"),
        ({"scores": np.full((1, 1, 1), -1.0)}, "scores"),
        ({"scores": np.full((1, 1, 1), np.inf)}, "scores"),
        ({"scores": np.zeros((1, 1, 1)), "method": "mode"}, "aggregation"),
        ({"scores": np.zeros((1, 1, 1)), "na_policy": "ignore"}, "na_policy"),
        ({"scores": np.zeros((1, 1, 1)), "scale_min": 5, "scale_max": 5}, "scale_max"),
        ({"scores": np.zeros((1, 1, 1)), "not_applicable": np.zeros((1, 1, 2), bool)}, "not_applicable"),
        ({"scores": np.zeros((1, 1, 1)), "method": "moderated", "moderated": np.zeros((2, 1))}, "moderated"),
        (
            {"scores": np.zeros((1, 1, 1)), "method": "moderated", "moderated": np.full((1, 1), 9.0)},
            "moderated",
        ),
    ],
)
def test_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as info:
        aggregate(**kwargs)
    assert info.value.field == field


# --- a plain reading of the brief, cell by cell, as an independent reference -------------------------


def reference(s, na, method, policy, lo, hi, moderated):
    p_n, j_n, k_n = s.shape
    out = np.full((p_n, k_n), np.nan)
    dropped = np.zeros((p_n, k_n), bool)
    # leniency: per scorer, over numeric scores
    devs = {j: [] for j in range(j_n)}
    for i in range(p_n):
        for k in range(k_n):
            nums = [s[i, j, k] for j in range(j_n) if not na[i, j, k] and not math.isnan(s[i, j, k])]
            for j in range(j_n):
                if not na[i, j, k] and not math.isnan(s[i, j, k]):
                    devs[j].append(s[i, j, k] - statistics.fmean(nums))
    lenient = {j: (statistics.fmean(d) if d else 0.0) for j, d in devs.items()}
    for i in range(p_n):
        for k in range(k_n):
            answers = [(j, None if na[i, j, k] else s[i, j, k]) for j in range(j_n)]
            answers = [(j, v) for j, v in answers if v is None or not math.isnan(v)]
            if answers and all(v is None for _, v in answers) and policy == "redistribute":
                dropped[i, k] = True
            vals = []
            for j, v in answers:
                if v is None:
                    if policy == "minimum":
                        vals.append(lo)
                elif method == "calibrated":
                    vals.append(min(hi, max(lo, v - lenient[j])))
                else:
                    vals.append(v)
            if method == "moderated" and moderated is not None and not math.isnan(moderated[i, k]):
                out[i, k] = moderated[i, k]
                dropped[i, k] = False
                continue
            if dropped[i, k] or not vals:
                continue
            if method == "median":
                out[i, k] = statistics.median(vals)
            elif method == "trimmed_mean" and len(vals) >= 4:
                out[i, k] = (sum(vals) - max(vals) - min(vals)) / (len(vals) - 2)
            else:
                out[i, k] = statistics.fmean(vals)
    return out, dropped


@FAST
@given(
    hnp.arrays(
        np.int8,
        st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 3)),
        elements=st.integers(-2, 5),
    ),
    st.sampled_from(AGGREGATIONS),
    st.sampled_from(["minimum", "redistribute"]),
    st.integers(0, 2**31),
)
def test_matches_plain_reading_of_the_brief(codes, method, policy, seed):
    # code -2: no score, -1: NA, 0..5: a score
    s = np.where(codes >= 0, codes, np.nan).astype(float)
    na = codes == -1
    rng = np.random.default_rng(seed)
    moderated = np.where(rng.random(s.shape[::2]) < 0.3, rng.integers(0, 6, s.shape[::2]), np.nan)
    agg = aggregate(s, na, method=method, na_policy=policy, moderated=moderated)
    ref, dropped = reference(s, na, method, policy, 0.0, 5.0, moderated)
    assert np.allclose(agg.scores, ref, equal_nan=True, atol=1e-12)
    assert np.array_equal(agg.not_applicable, dropped)
    assert np.array_equal(
        agg.answered, ((~np.isnan(s)) | na).any(axis=1) | ~np.isnan(moderated) * (method == "moderated")
    )
