"""Weights from numbers at the edges of a float: every bad input is a ScoringInputError naming the field,
quickly, and huge or tiny (but valid) numbers still normalise."""

from __future__ import annotations

import time

import pytest

from scoring import ScoringInputError
from scoring.weights import normalised_weights, pairwise_weights


@pytest.mark.parametrize("value", [1e308, 1e-310])
def test_weights_at_the_ends_of_a_float_normalise(value):
    w = normalised_weights({"1": value, "2": value, "3": value / 2}).weights
    assert w[:3].tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert sum(w) == pytest.approx(1.0, abs=1e-12)


def test_ordinary_weights_are_unchanged():
    assert normalised_weights({"1": 3, "2": 1}).as_dict()["1"] == 0.75


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        ("1e400", "too large"),
        ("1e10000000", "too large or too small"),
        ("1e-10000000", "too large or too small"),
        ("9" * 5000, "not a number"),
        ("1/0", "divides by zero"),
        ("abc", "not a number"),
        ("inf", "not a number"),
        ("1e-1/2", "not a number"),
        (10**400, "too large"),
    ],
    ids=lambda v: str(v)[:12],
)
def test_unreadable_ratios_are_field_errors_in_no_time(ratio, words):
    start = time.perf_counter()
    with pytest.raises(ScoringInputError) as err:
        pairwise_weights([{"a": 1, "b": 2, "ratio": ratio}])
    assert time.perf_counter() - start < 0.05
    assert err.value.field == "comparisons[0].ratio"
    assert words in err.value.detail


@pytest.mark.parametrize(("ratio", "w1"), [("1/3", 0.25), (" 3 ", 0.75), ("1 / 3", 0.25), ("0.5", 1 / 3)])
def test_readable_ratios(ratio, w1):
    assert pairwise_weights([{"a": 1, "b": 2, "ratio": ratio}]).as_dict()["1"] == pytest.approx(w1)


@pytest.mark.parametrize("key", ["²", "٣", "1" * 5000])
def test_odd_principle_keys_are_field_errors(key):
    with pytest.raises(ScoringInputError) as err:
        normalised_weights({key: 1})
    assert err.value.field == f"weights.{key}"
