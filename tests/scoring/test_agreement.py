"""Agreement: spread, population sd, Krippendorff's ordinal alpha (published example and the
``krippendorff`` package) and leniency."""

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.aggregate import aggregate, scorer_leniency
from scoring.agreement import agreement, krippendorff_alpha_ordinal
from scoring.errors import ScoringInputError

from .helpers import FAST

nan = np.nan

# K. Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), the example with missing
# values: 4 observers x 12 units; published ordinal alpha = 0.815.
PUBLISHED = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]


def test_published_ordinal_alpha():
    assert round(krippendorff_alpha_ordinal(PUBLISHED), 3) == 0.815


def test_alpha_matches_the_krippendorff_package():
    rng = np.random.default_rng(2024)
    for trial in range(30):
        coders, units = rng.integers(2, 7), rng.integers(2, 60)
        data = rng.integers(0, 6, (coders, units)).astype(float)
        # agreeing raters in some trials
        if trial % 3 == 0:
            data = np.clip(data[:1] + rng.integers(-1, 2, (coders, units)), 0, 5)
        data[rng.random(data.shape) < 0.3] = nan
        present = (~np.isnan(data)).sum(axis=0) >= 2
        values = np.unique(data[:, present][~np.isnan(data[:, present])])
        if values.size < 2:
            assert math.isnan(krippendorff_alpha_ordinal(data))
            continue
        ref = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
        assert krippendorff_alpha_ordinal(data) == pytest.approx(ref, abs=1e-10)


def test_alpha_edge_cases():
    assert math.isnan(krippendorff_alpha_ordinal([[1, nan], [nan, 2]]))  # nothing pairable
    assert math.isnan(krippendorff_alpha_ordinal([[3, 3], [3, 3]]))  # no variation
    assert krippendorff_alpha_ordinal([[1, 2, 3, 4], [1, 2, 3, 4]]) == 1.0


def test_spread_sd_flag_by_hand():
    # proposal 0: principle 0 scores 1, 3, 4; principle 1 scores 2, 2, NA
    s = np.array([[[1, 2], [3, 2], [4, nan]]], dtype=float)
    na = np.zeros(s.shape, bool)
    na[0, 2, 1] = True
    a = agreement(s, na)
    assert a.spread[0].tolist() == [3.0, 0.0]  # NA is not a number, even under "minimum"
    assert a.sd[0, 0] == pytest.approx(math.sqrt(14 / 9))  # population sd of 1, 3, 4
    assert a.sd[0, 1] == 0.0  # population sd of 2, 2
    assert a.flagged[0].tolist() == [True, False]
    assert a.max_spread[0] == 3.0
    r = agreement(s, na, na_policy="redistribute")
    assert r.spread[0].tolist() == [3.0, 0.0] and r.flagged[0].tolist() == [True, False]
    assert r.sd[0, 1] == 0.0 and r.n_values[0].tolist() == [3, 2]


def test_no_scores_give_nan_and_no_flag():
    a = agreement(np.full((2, 2, 1), nan))
    assert np.isnan(a.spread).all() and np.isnan(a.sd).all() and not a.flagged.any()
    assert np.isnan(a.max_spread).all() and math.isnan(a.alpha)


def test_cycle_alpha_treats_cells_as_units():
    rng = np.random.default_rng(5)
    s = rng.integers(0, 6, (6, 4, 3)).astype(float)
    s[rng.random(s.shape) < 0.2] = nan
    ratings = s.transpose(1, 0, 2).reshape(4, -1)
    assert agreement(s).alpha == pytest.approx(
        krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
    )


@FAST
@given(st.integers(0, 2**32 - 1))
def test_leniency_is_the_calibration_leniency(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 6, (5, 4, 3)).astype(float)
    s[rng.random(s.shape) < 0.25] = nan
    na = np.isnan(s) & (rng.random(s.shape) < 0.5)
    a = agreement(s, na)
    assert np.array_equal(a.leniency, scorer_leniency(s, na), equal_nan=True)
    assert np.array_equal(aggregate(s, na, method="calibrated").leniency, a.leniency, equal_nan=True)
    # population sd and spread against numpy, cell by cell
    for i in range(5):
        for k in range(3):
            vals = np.where(na[i, :, k], nan, s[i, :, k])  # answered scores only
            vals = vals[~np.isnan(vals)]
            if vals.size:
                assert a.spread[i, k] == vals.max() - vals.min()
                assert a.sd[i, k] == pytest.approx(np.std(vals, ddof=0), abs=1e-12)


@pytest.mark.parametrize("policy", ["minimum", "redistribute"])
def test_not_applicable_is_never_a_number_in_agreement(policy):
    # the SR21-001 principle 10: scores 3, 3, 3, NA, 3 -> spread 0, not flagged
    s = np.array([[[3.0], [3.0], [3.0], [nan], [3.0]]])
    na = np.zeros(s.shape, bool)
    na[0, 3, 0] = True
    a = agreement(s, na, na_policy=policy)
    assert a.spread[0, 0] == 0.0 and a.sd[0, 0] == 0.0 and a.n_values[0, 0] == 4
    assert not a.flagged[0, 0] and a.max_spread[0] == 0.0
    # a cell answered only "not applicable" has no value at all
    only_na = agreement(np.full((1, 2, 1), nan), np.ones((1, 2, 1), bool), na_policy=policy)
    assert np.isnan(only_na.spread[0, 0]) and only_na.n_values[0, 0] == 0 and not only_na.flagged.any()
    assert np.isnan(only_na.max_spread[0])


def test_alpha_uses_answered_scores_only():
    rng = np.random.default_rng(11)
    s = rng.integers(0, 6, (8, 4, 3)).astype(float)
    na = rng.random(s.shape) < 0.25
    numeric = np.where(na, nan, s)
    ratings = numeric.transpose(1, 0, 2).reshape(4, -1)
    expected = krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
    for policy in ("minimum", "redistribute"):
        assert agreement(s, na, na_policy=policy).alpha == pytest.approx(expected, abs=1e-12)


def test_threshold_and_moderated_cells():
    # spreads 1, 2, 3 on three principles
    s = np.array([[[2, 2, 1], [3, 4, 4]]], dtype=float)
    a = agreement(s)
    assert a.spread[0].tolist() == [1.0, 2.0, 3.0] and a.flagged[0].tolist() == [False, True, True]
    assert agreement(s, threshold=3).flagged[0].tolist() == [False, False, True]
    assert agreement(s, threshold=1).flagged[0].tolist() == [True, True, True]
    moderated = np.array([[False, False, True]])
    m = agreement(s, moderated=moderated)
    assert m.flagged[0].tolist() == [False, True, False]
    # the raw spread stays what the panel gave
    assert m.spread[0].tolist() == [1.0, 2.0, 3.0] and m.max_spread[0] == 3.0


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": -1}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": "2"}, "threshold"),
        ({"moderated": np.zeros((2, 3), bool)}, "moderated"),
        ({"moderated": np.zeros((1,), bool)}, "moderated"),
    ],
)
def test_agreement_validation(kwargs, field):
    with pytest.raises(ScoringInputError) as err:
        agreement(np.zeros((1, 2, 3)), **kwargs)
    assert err.value.field == field
