"""figures/overview: KPIs, the 12-month trend, increases, alerts and lines from hand-made frames."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import overview as fig

NAN = float("nan")


def kpis(**over) -> pd.DataFrame:
    row = {"amount_excl_vat": Decimal("1150.00"), "amount_incl_vat": Decimal("1322.50"),
           "vat": Decimal("172.50"), "previous_amount_excl_vat": Decimal("1000.00"),
           "previous_amount_incl_vat": Decimal("1150.00"), "previous_from": "2026-01",
           "previous_to": "2026-03", "active_lines": 1234, "voice_minutes": 98765.4,
           "sms": 4321, "data_gb": 12.345}  # fmt: skip
    row.update(over)
    return pd.DataFrame([row])


def test_kpis_in_display_order_with_the_change_against_the_previous_window():
    values = fig.kpi_values(kpis())
    assert [v["id"] for v in values] == ["spend", "previous", "lines", "voice", "sms", "data"]
    assert values[0]["title"] == "Total spend (excl. VAT)"
    assert values[0]["value"] == "R 1 150.00"
    assert values[0]["delta"] == "+15.0 % vs Jan 2026–Mar 2026"  # 1150 / 1000 - 1
    assert values[1]["value"] == "R 1 000.00" and values[1]["delta"] is None
    assert [v["value"] for v in values[2:]] == ["1 234", "98 765", "4 321", "12.35"]


def test_kpis_incl_vat_use_the_invoice_twins():
    values = fig.kpi_values(kpis(previous_from="2026-03"), incl_vat=True)
    assert values[0]["title"] == "Total spend (incl. VAT)"
    assert values[0]["value"] == "R 1 322.50" and values[1]["value"] == "R 1 150.00"
    assert values[0]["delta"] == "+15.0 % vs Mar 2026"  # a one-month window reads as one month


def test_no_previous_spend_is_said_not_divided_by():
    values = fig.kpi_values(kpis(previous_amount_excl_vat=Decimal(0)))
    assert values[0]["delta"] == "no spend in Jan 2026–Mar 2026"
    assert fig.change_pct(Decimal(5), Decimal(0)) is None
    assert fig.change_pct(Decimal(50), Decimal(-100)) == 150.0  # against the size of a credit


def test_no_activity_only_when_everything_is_zero():
    assert fig.no_activity(pd.DataFrame())
    zero = kpis(amount_excl_vat=Decimal(0), vat=Decimal(0), voice_minutes=0.0, sms=0, data_gb=0.0)
    assert fig.no_activity(zero)
    assert not fig.no_activity(kpis(amount_excl_vat=Decimal(0), vat=Decimal(0), voice_minutes=0.0,
                                    sms=1, data_gb=0.0))  # fmt: skip
    assert fig.kpi_values(pd.DataFrame()) == []


def test_last_periods_cross_the_year():
    assert fig.last_periods("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert len(fig.last_periods("2026-06")) == 12


def test_trend_stacks_each_charge_type_over_twelve_months_with_gaps_as_zero():
    trend = pd.DataFrame({
        "bill_period": ["2026-06", "2026-05", "2026-06", "2026-06"],
        "charge_type": ["USAGE", "SUBSCRIPTION", "SUBSCRIPTION", "DISCOUNT"],
        "amount_excl_vat": [Decimal("20.5"), Decimal("100"), Decimal("100"), Decimal("-10")],
        "amount_incl_vat": [Decimal("23.575"), Decimal("115"), Decimal("115"), Decimal("-11.5")],
    })  # fmt: skip
    figure = fig.trend_figure(trend, "2026-06")
    # known types in the colour table's alphabetical order
    assert [bar.name for bar in figure.data] == ["Discount", "Subscription", "Usage"]
    for bar in figure.data:
        assert len(bar.x) == 12 and bar.x[0] == "Jul 2025" and bar.x[-1] == "Jun 2026"
    discount, subscription, usage = (list(bar.y) for bar in figure.data)
    assert discount == [0.0] * 11 + [-10.0]
    assert subscription == [0.0] * 10 + [100.0, 100.0]
    assert usage == [0.0] * 11 + [20.5]
    assert figure.layout.barmode == "relative"
    assert figure.layout.yaxis.title.text == "ZAR excl. VAT"
    incl = fig.trend_figure(trend, "2026-06", incl_vat=True)
    assert list(incl.data[2].y)[-1] == 23.575 and incl.layout.yaxis.title.text == "ZAR incl. VAT"


def test_an_empty_trend_has_no_bars():
    empty = pd.DataFrame(columns=["bill_period", "charge_type", "amount_excl_vat"])
    assert fig.trend_figure(empty, "2026-06").data == ()


@pytest.fixture
def increases() -> pd.DataFrame:
    n = 12
    return pd.DataFrame({
        "msisdn": [f"2782000{i:04d}" for i in range(n)],
        "employee_name": ["Ada"] + [None] * (n - 1),
        "cost_centre_name": ["Sales"] * n,
        "previous_amount": [Decimal(10)] * n,
        "current_amount": [Decimal(10 + 100 - i) for i in range(n)],
        "increase": [Decimal(100 - i) for i in range(n)],
        "previous_amount_incl_vat": [Decimal("11.5")] * n,
        "current_amount_incl_vat": [Decimal("11.5") + Decimal(115 - i) for i in range(n)],
        "increase_incl_vat": [Decimal(115 - i) for i in range(n)],
    })  # fmt: skip


def test_increase_rows_keep_the_query_order(increases):
    rows = fig.increases_rows(increases)
    assert [r["increase"] for r in rows] == [float(100 - i) for i in range(12)]
    assert rows[0] == {"msisdn": "27820000000", "employee_name": "Ada",
                       "cost_centre_name": "Sales", "previous": 10.0, "current": 110.0,
                       "increase": 100.0}  # fmt: skip
    assert rows[1]["employee_name"] == "(no employee)"
    assert fig.increases_rows(increases, incl_vat=True)[0]["increase"] == 115.0


def test_increase_bars_are_the_top_ten_biggest_on_top(increases):
    (bar,) = fig.increases_figure(increases).data
    assert list(bar.x) == [float(x) for x in range(91, 101)]  # plotly draws the last bar on top
    assert bar.y[-1] == "27820000000 · Ada" and bar.y[0] == "27820000009 · (no employee)"
    assert [list(c) for c in bar.customdata][-1] == [10.0, 110.0]


def test_alert_rows_name_the_alert_and_keep_a_missing_average_missing():
    df = pd.DataFrame({
        "bill_period": ["2026-06", "2026-06"], "alert": ["ROAMING_SHOCK", "NEW_KIND"],
        "reason": ["roaming R 900", "x"], "msisdn": ["27820000001", "27820000002"],
        "employee_name": [None, "Ada"], "cost_centre_name": [None, "Sales"],
        "amount_excl_vat": [Decimal("900.004"), Decimal("1")],
        "amount_incl_vat": [Decimal("1035.0046"), Decimal("1.15")],
        "earlier_average_excl_vat": [Decimal("12.346"), NAN],
    })  # fmt: skip
    rows = fig.alerts_rows(df)
    assert rows[0] == {"bill_period": "2026-06", "alert": "Roaming bill shock",
                       "reason": "roaming R 900", "msisdn": "27820000001",
                       "employee_name": "(no employee)", "cost_centre_name": "",
                       "amount": 900.0, "earlier_average": 12.35}  # fmt: skip
    assert rows[1]["alert"] == "NEW_KIND" and rows[1]["earlier_average"] is None
    assert [r["amount"] for r in fig.alerts_rows(df, incl_vat=True)] == [1035.0, 1.15]


def test_line_rows_and_their_columns_agree():
    df = pd.DataFrame({"msisdn": ["27820000001"], "employee_id": [None],
                       "employee_name": [None], "cost_centre_id": ["CC1"], "plan_code": ["P1"],
                       "status": ["active"], "amount_excl_vat": [Decimal("5.555")],
                       "amount_incl_vat": [Decimal("6.38825")]})  # fmt: skip
    (row,) = fig.lines_rows(df)
    assert row == {"msisdn": "27820000001", "employee_id": "", "employee_name": "(no employee)",
                   "cost_centre_id": "CC1", "plan_code": "P1", "status": "active",
                   "spend": 5.56}  # fmt: skip
    assert fig.lines_rows(df, incl_vat=True)[0]["spend"] == 6.39
    assert [c["field"] for c in fig.line_columns()] == [
        "msisdn", "employee_name", "cost_centre_id", "plan_code", "status", "spend"]


@pytest.mark.parametrize(
    ("rows", "href"),
    [([{"msisdn": "27820000001"}], "/itemised?msisdn=27820000001"), (None, None), ([], None),
     ([{"msisdn": "2782<script>"}], None), ([{"msisdn": "+27820000001"}], None), ([{}], None)],
)  # fmt: skip
def test_the_itemised_link_is_only_for_a_digits_msisdn(rows, href):
    link = fig.itemised_link(rows)
    if href is None:
        assert link is None
    else:
        assert link.children.href == href
        assert link.children.children == "Itemised records of 27820000001"


def test_amount_helpers():
    assert fig.dec(None) == 0 and fig.dec(NAN) == 0 and fig.dec(1.5) == Decimal("1.5")
    assert fig.cents(Decimal("2.346")) == 2.35 and fig.cents(Decimal("-2.346")) == -2.35
    assert fig.text(None) == "" and fig.text(NAN) == "" and fig.text("a") == "a"
