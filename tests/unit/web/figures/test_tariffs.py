"""figures/tariffs: analysis rows, KPIs, savings per cost centre and the charts, by hand.

Incl. VAT: billed amounts add the invoice's own VAT, modelled costs 15 % (half up to 1e-4).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import tariffs as fig

D = Decimal


@pytest.fixture
def analysis() -> pd.DataFrame:
    return pd.DataFrame({
        "msisdn": ["27820000001", "27820000002", "27820000003"],
        "employee_name": ["Ada", "", "Grace"],
        "cost_centre_name": ["Sales", "Sales", None],
        "current_plan": ["P100", "P200", "P300"],
        "months": [6, 6, 3],
        "avg_cost_current": [D("100.00"), D("200.00"), D("50.00")],
        "avg_vat_current": [D("15.00"), D("30.00"), D("7.50")],
        "best_plan": ["P50", "P100", "P300"],
        "avg_cost_best": [D("60.00"), D("150.00"), D("50.00")],
        "saving_pct": [0.4, 0.25, float("nan")],
        "months_better": [6, 4, 0],
        "min_saving": [D("30.00"), D("-10.00"), D("0")],
        "max_saving": [D("50.00"), D("90.00"), D("0")],
        "recommended": [True, True, False],
        "possibly_redundant": [False, True, False],
    })  # fmt: skip


def test_with_vat_rounds_half_up_to_four_places():
    assert fig.with_vat(D("0.00005"), True) == D("0.0001")  # 0.0000575
    assert fig.with_vat(D("10"), True) == D("11.5000")
    assert fig.with_vat(None, True) == 0 and fig.with_vat(D("3"), False) == D("3")


def test_analysis_rows_excl_vat(analysis):
    first, second, third = fig.analysis_rows(analysis)
    assert first == {"msisdn": "27820000001", "employee_name": "Ada", "cost_centre_name": "Sales",
                     "current_plan": "P100", "months": 6, "avg_cost_current": 100.0,
                     "best_plan": "P50", "avg_cost_best": 60.0, "avg_saving": 40.0,
                     "saving_pct": 0.4, "months_better": 6, "min_saving": 30.0, "max_saving": 50.0,
                     "recommended": "Yes", "possibly_redundant": ""}  # fmt: skip
    assert second["employee_name"] == "" and second["possibly_redundant"] == "Yes"
    assert third["saving_pct"] is None and third["recommended"] == ""


def test_analysis_rows_incl_vat_use_invoice_vat_for_the_bill_and_15_percent_for_the_model(
    analysis,
):
    first = fig.analysis_rows(analysis, vat=True)[0]
    assert first["avg_cost_current"] == 115.0  # 100 + the invoice's 15.00
    assert first["avg_cost_best"] == 69.0  # 60 * 1.15
    assert first["avg_saving"] == 46.0
    assert (first["min_saving"], first["max_saving"]) == (34.5, 57.5)


def test_kpis_count_recommended_lines_and_their_saving(analysis):
    assert fig.kpis(analysis) == {"lines": 3, "recommended": 2, "monthly_saving": D("90.00"),
                                  "redundant": 1}  # fmt: skip
    # incl. VAT: (115 - 69) + (230 - 172.5)
    assert fig.kpis(analysis, vat=True)["monthly_saving"] == D("103.5")
    assert fig.kpis(analysis.iloc[0:0]) == {"lines": 0, "recommended": 0,
                                            "monthly_saving": 0, "redundant": 0}  # fmt: skip


def test_cost_centre_savings_recommended_only_largest_first(analysis):
    more = pd.concat([analysis, analysis.iloc[[0]].assign(
        msisdn="27820000004", cost_centre_name="Ops", avg_cost_current=D("500"))])  # fmt: skip
    frame = fig.cost_centre_savings(more)
    assert list(frame.cost_centre_name) == ["Ops", "Sales"]
    assert list(frame.lines) == [1, 2]
    assert list(frame.avg_saving) == [D("440.00"), D("90.00")]
    assert fig.cost_centre_savings(analysis.assign(recommended=False)).empty
    (bar,) = fig.cost_centre_figure(more).data
    assert list(bar.x) == [440.0, 90.0] and list(bar.y) == ["Ops", "Sales"]
    assert list(bar.customdata) == [1, 2]


def test_risk_band_shows_lines_with_another_plan_by_average_saving(analysis):
    band, average = fig.risk_band_figure(analysis).data
    # line 3's best plan is its current plan: nothing to show; line 2 saves more on average
    assert list(band.y) == ["27820000002 → P100", "27820000001 → P50"]
    assert list(band.base) == [-10.0, 30.0]
    assert list(band.x) == [100.0, 20.0]  # max - min
    assert list(average.x) == [50.0, 40.0]
    assert [list(c) for c in band.customdata] == [[-10.0, 90.0, 4, 6], [30.0, 50.0, 6, 6]]
    assert list(fig.risk_band_figure(analysis, top=1).data[0].y) == ["27820000002 → P100"]


def test_spend_trend_two_series_per_period():
    df = pd.DataFrame({"bill_period": ["2026-04", "2026-05"],
                       "avg_plan_spend_per_line": [D("100"), D("110")],
                       "avg_spend_per_line": [D("120"), D("125")]})  # fmt: skip
    plan, every = fig.spend_trend_figure(df, vat=True).data
    assert list(plan.x) == ["2026-04", "2026-05"]
    assert list(plan.y) == [115.0, 126.5] and list(every.y) == [138.0, 143.75]
    assert all(len(t.x) == 0 for t in fig.spend_trend_figure(df.iloc[0:0]).data)


@pytest.fixture
def line_months() -> pd.DataFrame:
    return pd.DataFrame({
        "bill_period": ["2026-05", "2026-04", "2026-04", "2026-05"],
        "plan_code": ["P100", "P100", "P50", "P50"],
        "plan_name": ["Hundred", "Hundred", "Fifty", "Fifty"],
        "is_current": [True, True, False, False],
        "cost": [D("100"), D("100"), D("70"), D("40")],
        "billed_current": [D("101"), D("99"), D("99"), D("101")],
        "billed_vat": [D("15.15"), D("14.85"), D("14.85"), D("15.15")],
    })  # fmt: skip


def test_line_months_figure_bill_bars_and_a_line_per_plan(line_months):
    billed, p100, p50 = fig.line_months_figure(line_months).data
    assert list(billed.x) == ["2026-04", "2026-05"] and list(billed.y) == [99.0, 101.0]
    assert p100.name == "P100 (current)" and p50.name == "P50"
    assert list(p50.x) == ["2026-04", "2026-05"] and list(p50.y) == [70.0, 40.0]
    assert fig.line_months_figure(line_months.iloc[0:0]).data == ()


def test_line_month_rows_and_option_rows(line_months):
    rows = fig.line_month_rows(line_months, vat=True)
    assert rows[2] == {"bill_period": "2026-04", "plan_code": "P50", "plan_name": "Fifty",
                       "current": "", "cost": 80.5, "billed_current": 113.85,
                       "saving": 33.35}  # fmt: skip
    options = pd.DataFrame({"plan_code": ["P50"], "plan_name": ["Fifty"], "is_current": [False],
                            "avg_cost": [D("55")], "months_cheaper": [2]})  # fmt: skip
    assert fig.option_rows(options, vat=True) == [
        {"plan_code": "P50", "plan_name": "Fifty", "current": "", "avg_cost": 63.25,
         "months_cheaper": 2}]  # fmt: skip
