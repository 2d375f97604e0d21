"""figures/growth: segment series, the fastest-growing ranking and the charts, by hand.

The forecast method itself is tested in tests/unit/web/test_forecast.py; here the figure is built
from a Forecast and Backtest written out by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web import forecast as fc
from selfcare.web.figures import growth as fig

NAN = float("nan")


def seg(dimension, segment_id, period, spend, mom=NAN, usage=0.0, unit="events"):
    return {"dimension": dimension, "segment_id": segment_id, "segment": segment_id.title(),
            "bill_period": period, "spend": spend, "spend_incl_vat": spend * 1.15,
            "mom_pct": mom, "yoy_pct": NAN, "usage_value": usage, "usage_unit": unit,
            "usage_mom_pct": NAN, "usage_yoy_pct": NAN}  # fmt: skip


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame([
        seg("service", "voice", "2026-01", 100.0),
        seg("service", "voice", "2026-03", 150.0, mom=NAN),  # February missing
        seg("service", "data", "2026-02", 80.0),
        seg("service", "data", "2026-03", 120.0, mom=50.0),
        seg("service", "sms", "2026-03", 10.0, mom=-20.0),
        seg("service", "mms", "2026-03", 5.0, mom=50.0),
        seg("total", "ALL", "2026-01", 100.0),
        seg("total", "ALL", "2026-02", 80.0),
        seg("total", "ALL", "2026-03", 285.0),
    ])  # fmt: skip


def test_span_includes_the_gaps_and_crosses_years():
    df = pd.DataFrame({"bill_period": ["2026-02", "2025-11"]})
    assert fig.span(df) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert fig.span(pd.DataFrame()) == [] and fig.span(None) == []


def test_series_counts_a_missing_month_as_zero(frame):
    periods = fig.span(frame)
    assert periods == ["2026-01", "2026-02", "2026-03"]
    assert fig.series(frame, "service", "voice", "spend", periods) == [100.0, 0.0, 150.0]
    assert fig.series(frame, "service", "nothing", "spend", periods) == [0.0, 0.0, 0.0]


def test_ranking_fastest_first_then_undefined_growth_by_spend(frame):
    rank = fig.ranking(frame, "service")
    # 50 % twice: the larger spend first; voice has no growth (a gap before it) and comes last
    assert list(rank.segment) == ["Data", "Mms", "Sms", "Voice"]
    assert list(rank.mom_pct.iloc[:3]) == [50.0, 50.0, -20.0] and pd.isna(rank.mom_pct.iloc[3])
    assert set(rank.bill_period) == {"2026-03"}
    assert list(fig.ranking(frame, "service", vat=True).spend) == pytest.approx(
        [138.0, 5.75, 11.5, 172.5])
    assert fig.ranking(frame, "territory").empty and fig.ranking(pd.DataFrame(), "service").empty


def test_ranking_figure_shows_only_defined_growth_coloured_by_sign(frame):
    (bar,) = fig.ranking_figure(fig.ranking(frame, "service"), "service").data
    assert list(bar.y) == ["Data", "Mms", "Sms"] and list(bar.x) == [50.0, 50.0, -20.0]
    assert list(bar.marker.color) == ["#dc2626", "#dc2626", "#16a34a"]


def test_trend_has_a_line_per_segment_in_time_order(frame):
    figure = fig.trend_figure(frame, "service")
    assert [t.name for t in figure.data] == ["Data", "Mms", "Sms", "Voice"]  # by segment id
    voice = figure.data[3]
    assert list(voice.x) == ["2026-01", "2026-03"] and list(voice.y) == [100.0, 150.0]
    assert figure.layout.title.text == "Spend by service"
    assert fig.trend_figure(frame, "cost_centre", vat=True).layout.title.text == (
        "Spend by cost centre (incl. VAT)")


def test_pct_text():
    assert fig.pct_text(12.345) == "+12.3 %" and fig.pct_text(-3) == "-3.0 %"
    assert fig.pct_text(None) == "n/a" and fig.pct_text(NAN) == "n/a"
    assert fig.pct_text("x") == "n/a"


def test_forecast_figure_joins_the_forecast_to_the_last_actual():
    result = fc.Forecast("holt", (300.0, 310.0, 320.0), 0.5, 0.1)
    test = fc.Backtest("holt", (80.0, 285.0), (90.0, 200.0), (10.0, 85.0), 20.0)
    actual, forecast, holdout = fig.forecast_figure(
        ["2026-01", "2026-02", "2026-03"], [100.0, 80.0, 285.0],
        ["2026-04", "2026-05", "2026-06"], result, test).data  # fmt: skip
    assert list(actual.y) == [100.0, 80.0, 285.0]
    assert list(forecast.x) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert list(forecast.y) == [285.0, 300.0, 310.0, 320.0]
    assert forecast.name == "Forecast (holt)"
    assert list(holdout.x) == ["2026-02", "2026-03"] and list(holdout.y) == [90.0, 200.0]
    bare = fig.forecast_figure(["2026-01"], [1.0], [], fc.Forecast("none", ()), None)
    assert len(bare.data) == 1


def test_total_forecast_of_an_empty_frame():
    assert fig.total_forecast(pd.DataFrame()) == ([], [], [], fc.Forecast("none", ()), None)


def test_export_frame_keeps_actual_rows_sorted_with_exact_amounts(frame):
    out = fig.export_frame(frame)
    assert list(out.columns) == fig.EXPORT_COLUMNS
    actual = out[out.kind == "actual"]
    assert len(actual) == len(frame)
    assert list(zip(actual.dimension, actual.segment, actual.bill_period, strict=True))[:3] == [
        ("service", "Data", "2026-02"), ("service", "Data", "2026-03"),
        ("service", "Mms", "2026-03")]  # fmt: skip
    assert actual.spend.iloc[0] == Decimal("80.0000")
    forecasts = out[out.kind == "forecast"]
    # three months ahead for every segment of the frame: 4 services and the total
    assert len(forecasts) == 15 and set(forecasts.bill_period) == {"2026-04", "2026-05", "2026-06"}
    empty = fig.export_frame(pd.DataFrame())
    assert list(empty.columns) == fig.EXPORT_COLUMNS and empty.empty
