"""Kaplan-Meier from aggregated counts, and the t quantile of the confidence intervals."""

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.outcomes.km import CI_UNDEFINED, estimate
from app.outcomes.trajectory import mean_ci, t_quantile_975
from tests.outcomes.brute import figure, kaplan_meier


def _rows(obs: list[tuple[int, bool]]) -> list[tuple[int, int, int]]:
    ended = Counter(d for d, _ in obs)
    events = Counter(d for d, e in obs if e)
    return [(d, ended[d], events[d]) for d in ended]


def test_a_textbook_example() -> None:
    """Times 1, 2+, 3, 3, 4+, 5 (+ censored): S(1) = 5/6, S(3) = 5/6 * 2/4."""
    fit = estimate(_rows([(1, True), (2, False), (3, True), (3, True), (4, False), (5, True)]))
    assert fit.n == 6
    assert fit.events == 4
    assert fit.at(1).survival == pytest.approx(5 / 6)
    assert fit.at(2).survival == pytest.approx(5 / 6)
    assert fit.at(3).survival == pytest.approx(5 / 6 * 2 / 4)
    assert fit.at(5).survival == 0.0
    assert fit.median == 3
    assert fit.at_risk(3) == 4
    assert fit.at_risk(6) == 0


def test_survival_is_undefined_after_the_last_censored_observation() -> None:
    fit = estimate(_rows([(10, True), (20, False)]))
    assert fit.at(15).survival == pytest.approx(0.5)
    assert fit.at(30).survival is None


def test_greenwood_log_log_interval() -> None:
    """n = 10, one event at day 5: S = 0.9, V = 1/(10*9); the log-log bounds by hand."""
    fit = estimate([(5, 1, 1), (100, 9, 0)])
    point = fit.at(5)
    se = math.sqrt(1 / 90) / abs(math.log(0.9))
    assert point.lower == pytest.approx(0.9 ** math.exp(1.959963984540054 * se))
    assert point.upper == pytest.approx(0.9 ** math.exp(-1.959963984540054 * se))
    assert point.lower is not None and point.upper is not None
    assert point.lower < 0.9 < point.upper


def test_the_interval_is_undefined_where_the_curve_reaches_zero() -> None:
    """When everyone still at risk has the event, S = 0 and the Greenwood term divides by
    zero: R's survfit gives NA for the bounds there, and for a median bound that would be
    read from them (here: one event at day 212, the only one at risk)."""
    fit = estimate([(0, 1, 0), (30, 1, 0), (212, 1, 1)])
    point = fit.at(212)
    assert (point.survival, point.lower, point.upper) == (0.0, None, None)
    assert fit.at(365).survival == 0.0 and fit.at(365).lower is None
    assert fit.median == 212
    assert fit.median_ci == (None, None)
    assert fit.median_ci_undefined


def test_a_median_bound_read_before_the_curve_reaches_zero_stands() -> None:
    """Times 1, 2, 3 (all events): the lower band reaches 0.5 at day 1 or 2, defined; the
    upper band is still above 0.5 at day 2 and undefined at day 3, where S = 0."""
    fit = estimate([(1, 1, 1), (2, 1, 1), (3, 1, 1)])
    low, high = fit.median_ci
    assert low is not None and low <= 2
    assert high is None and fit.median_ci_undefined
    assert fit.at(3).lower is None


def test_no_events_means_no_median() -> None:
    fit = estimate([(3, 2, 0), (8, 1, 0)])
    assert fit.median is None
    assert fit.median_ci == (None, None)
    assert not fit.median_ci_undefined  # open-ended, not undefined


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="events"):
        estimate([(1, 1, 2)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=60))
def test_the_aggregated_estimate_equals_the_individual_one(obs: list[tuple[int, bool]]) -> None:
    """km.estimate over counts per day == the product-limit over each observation
    (tests.outcomes.brute, written independently)."""
    fit = estimate(_rows(obs))
    want = kaplan_meier(obs, figure(len(obs)))
    assert fit.median == want["median_days"]
    assert fit.median_ci == (want["median_lower"], want["median_upper"])
    assert (CI_UNDEFINED if fit.median_ci_undefined else None) == want["median_ci_undefined"]
    for point in want["at"]:
        got = fit.at(point["day"])
        assert got.at_risk == point["at_risk"]
        for name in ("survival", "lower", "upper"):
            value = getattr(got, name)
            if point[name] is None:
                assert value is None
            else:
                assert value == pytest.approx(point[name], rel=1e-12, abs=1e-12)


def _t_cdf(t: float, df: int, steps: int = 200_000) -> float:
    """P(T <= t) by Simpson's rule on the density, to check the table independently."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(x: float) -> float:
        value: float = c * (1 + x * x / df) ** (-(df + 1) / 2)
        return value

    h = t / steps
    total = density(0) + density(t)
    total += sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    cdf: float = 0.5 + total * h / 3
    return cdf


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 45, 120, 1000])
def test_t_quantile_is_the_97_5th_percentile(df: int) -> None:
    assert _t_cdf(t_quantile_975(df), df) == pytest.approx(0.975, abs=2e-6)


def test_mean_ci() -> None:
    assert mean_ci(1, 5.0, None) is None
    low, high = mean_ci(4, 10.0, 2.0) or (0.0, 0.0)
    assert (low + high) / 2 == pytest.approx(10.0)
    assert high - low == pytest.approx(2 * 3.182446305 * 2.0 / 2)
