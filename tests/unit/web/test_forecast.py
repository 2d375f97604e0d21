"""The forecast method against hand-worked series (docs/forecast.md shows the same examples)."""

from __future__ import annotations

import pytest

from selfcare.web import forecast as fc


def test_holt_forecasts_a_linear_series_exactly():
    # 100, 110, ..., 150: every (alpha, beta) has zero one-step error, so the trend is 10.
    y = [100.0 + 10 * i for i in range(6)]
    got = fc.holt(y)
    assert got.method == "holt"
    assert got.values == pytest.approx((160.0, 170.0, 180.0))


def test_holt_one_step_error_worked_by_hand():
    # y = 10, 12, 15; alpha = 0.5, beta = 0.5.
    # init level 10, trend 2; after y1=12: level 12, trend 2.
    # forecast for y2 = 14, error 1 -> SSE 1.
    assert fc.holt_one_step_sse([10, 12, 15], 0.5, 0.5) == pytest.approx(1.0)
    # after y2=15: level = .5*15 + .5*14 = 14.5; trend = .5*(2.5) + .5*2 = 2.25
    # forecast for y3 = 16.75; y3 = 18 -> error 1.25 -> SSE 1 + 1.5625
    assert fc.holt_one_step_sse([10, 12, 15, 18], 0.5, 0.5) == pytest.approx(2.5625)


def test_holt_picks_the_least_squares_pair():
    y = [10.0, 12.0, 15.0, 18.0, 18.0, 25.0, 24.0]
    got = fc.holt(y)
    best = min(
        (fc.holt_one_step_sse(y, a, b), a, b) for a in fc.GRID for b in fc.BETA_GRID
    )
    assert fc.holt_one_step_sse(y, got.alpha, got.beta) == pytest.approx(best[0])
    # and the forecast follows from that pair: rerun the recursion by hand
    level, trend = y[0], y[1] - y[0]
    for v in y[1:]:
        new_level = got.alpha * v + (1 - got.alpha) * (level + trend)
        trend = got.beta * (new_level - level) + (1 - got.beta) * trend
        level = new_level
    assert got.values == pytest.approx((level + trend, level + 2 * trend, level + 3 * trend))


def test_seasonal_naive_repeats_last_year():
    season = [float(v) for v in (5, 7, 9, 11, 13, 15, 17, 15, 13, 11, 9, 7)]
    y = season * 2  # 24 months: the seasonal method applies
    got = fc.forecast(y)
    assert got.method == "seasonal-naive"
    assert got.values == (5.0, 7.0, 9.0)
    # with 25 months the next month is month 14 of the pattern (index 1 of the season)
    got = fc.forecast([*y, 99.0])
    assert got.values == (7.0, 9.0, 11.0)


def test_short_histories_choose_the_documented_method():
    assert fc.forecast([]).method == "none"
    one = fc.forecast([42.0])
    assert one.method == "naive" and one.values == (42.0, 42.0, 42.0)
    assert fc.forecast([1.0, 2.0]).method == "holt"
    assert fc.forecast([1.0] * 23).method == "holt"
    assert fc.forecast([1.0] * 24).method == "seasonal-naive"


def test_mape_worked_by_hand():
    # |100-90|/100 = 10 %, |200-220|/200 = 10 %, |50-40|/50 = 20 % -> mean 13.333 %
    assert fc.mape([100, 200, 50], [90, 220, 40]) == pytest.approx(40 / 3)
    # a zero actual is left out (the percentage is undefined)
    assert fc.mape([0, 100], [5, 150]) == pytest.approx(50.0)
    assert fc.mape([0, 0], [1, 2]) is None


def test_backtest_holds_back_the_last_three_months():
    # fit on 100, 110, 120 (linear: forecast 130, 140, 150) against 130, 150, 120
    bt = fc.backtest([100, 110, 120, 130, 150, 120])
    assert bt is not None
    assert bt.method == "holt"
    assert bt.actual == (130.0, 150.0, 120.0)
    assert bt.forecast == pytest.approx((130.0, 140.0, 150.0))
    assert bt.abs_errors == pytest.approx((0.0, 10.0, 30.0))
    # (0/130 + 10/150 + 30/120) / 3 * 100
    assert bt.mape == pytest.approx((0 + 10 / 150 + 30 / 120) / 3 * 100)


def test_backtest_needs_two_months_to_fit():
    assert fc.backtest([1, 2, 3, 4]) is None
    assert fc.backtest([1, 2, 3, 4, 5]) is not None


def test_next_periods_cross_the_year():
    assert fc.next_periods("2026-11") == ["2026-12", "2027-01", "2027-02"]
