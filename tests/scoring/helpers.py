"""Shared test settings for the scoring maths: fast, deterministic hypothesis runs."""

from hypothesis import HealthCheck, settings

FAST = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
