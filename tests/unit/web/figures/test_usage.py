"""figures/usage: the month-on-month table and its charts from a hand-made `usage_monthly`."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import usage as fig

D = Decimal
ZERO_USAGE = {"minutes": 0.0, "sms": 0, "mms": 0, "data_mb": 0.0}
NO_CHARGE = D(0)


def month(period, service, events, in_bundle, oob, roaming=NO_CHARGE, **usage):
    return {"bill_period": period, "service": service, **ZERO_USAGE, **usage, "events": events,
            "in_bundle_events": in_bundle, "out_of_bundle_charge": oob,
            "roaming_charge": roaming}  # fmt: skip


@pytest.fixture
def monthly() -> pd.DataFrame:
    return pd.DataFrame([
        month("2026-01", "VOICE", 10, 10, D(0), minutes=100.0),
        month("2025-12", "VOICE", 8, 8, D(0), minutes=80.0),
        month("2026-01", "DATA", 5, 2, D("12.50"), data_mb=2048.0),
        month("2026-03", "DATA", 4, 4, D(0), data_mb=1024.0),  # February missing
        month("2026-01", "SMS", 3, 0, D("1.50"), D("0.50"), sms=3),
        month("2025-12", "SMS", 0, 0, D(0), sms=0),
    ])  # fmt: skip


def test_previous_period_crosses_the_year():
    assert fig.previous_period("2026-01") == "2025-12"
    assert fig.previous_period("2026-10") == "2026-09"


def test_table_rows_in_period_then_service_order_in_each_services_unit(monthly):
    table = fig.monthly_table(monthly)
    assert list(zip(table.bill_period, table.service, strict=True)) == [
        ("2025-12", "SMS"), ("2025-12", "VOICE"), ("2026-01", "DATA"), ("2026-01", "SMS"),
        ("2026-01", "VOICE"), ("2026-03", "DATA")]  # fmt: skip
    by = table.set_index(["bill_period", "service"])
    assert by.loc[("2026-01", "DATA"), "usage"] == 2.0
    assert by.loc[("2026-01", "DATA"), "unit"] == "GB"
    assert by.loc[("2026-01", "VOICE"), "unit"] == "minutes"
    assert by.loc[("2026-01", "SMS"), "unit"] == "messages"


def test_mom_against_the_previous_calendar_month_only(monthly):
    by = fig.monthly_table(monthly).set_index(["bill_period", "service"])
    assert by.loc[("2026-01", "VOICE"), "mom_pct"] == 25.0  # 100 / 80 - 1
    assert pd.isna(by.loc[("2026-03", "DATA"), "mom_pct"])  # February is not there
    assert pd.isna(by.loc[("2026-01", "SMS"), "mom_pct"])  # growth from nothing is undefined
    assert pd.isna(by.loc[("2025-12", "VOICE"), "mom_pct"])


def test_events_split_into_bundle_and_charged_and_vat_on_charges(monthly):
    row = fig.monthly_table(monthly).iloc[2]  # 2026-01 DATA
    assert (row.events, row.in_bundle_events, row.out_of_bundle_events) == (5, 2, 3)
    assert row.out_of_bundle_charge == 12.5
    sms = fig.monthly_table(monthly, vat=True).iloc[3]
    assert (sms.out_of_bundle_charge, sms.roaming_charge) == (1.725, 0.575)


def test_rows_before_first_only_feed_the_change(monthly):
    table = fig.monthly_table(monthly, first="2026-01")
    assert sorted(set(table.bill_period)) == ["2026-01", "2026-03"]
    assert table[(table.bill_period == "2026-01") & (table.service == "VOICE")].mom_pct.item() == 25


def test_an_empty_frame_gives_an_empty_table_with_the_columns():
    assert list(fig.monthly_table(pd.DataFrame()).columns) == [
        "bill_period", "service", "usage", "unit", "mom_pct", "events", "in_bundle_events",
        "out_of_bundle_events", "out_of_bundle_charge", "roaming_charge"]  # fmt: skip
    assert fig.monthly_table(None).empty


def test_usage_text():
    assert fig.usage_text(3899.84, "minutes") == "3 899.8 minutes"
    assert fig.usage_text(748.0, "messages") == "748 messages"
    assert fig.usage_text(1234567.0, "messages") == "1 234 567 messages"


def test_volume_figure_has_one_chart_per_service_in_order(monthly):
    figure = fig.volume_figure(fig.monthly_table(monthly))
    assert [t.name for t in figure.data] == ["Voice minutes", "SMS", "MMS", "Data (GB)"]
    voice, sms, mms, data = figure.data
    assert list(voice.x) == ["2025-12", "2026-01"] and list(voice.y) == [80.0, 100.0]
    assert list(mms.x) == [] and list(data.y) == [2.0, 1.0]
    assert [a.text for a in figure.layout.annotations] == ["Voice minutes", "SMS", "MMS",
                                                           "Data (GB)"]  # fmt: skip


def test_mom_figure_draws_only_defined_changes(monthly):
    figure = fig.mom_figure(fig.monthly_table(monthly))
    assert [t.name for t in figure.data] == ["Voice minutes"]
    assert list(figure.data[0].x) == ["2026-01"] and list(figure.data[0].y) == [25.0]
    assert figure.layout.title.text == "Month-on-month change"


def test_bundle_figure_sums_services_per_period(monthly):
    figure = fig.bundle_figure(fig.monthly_table(monthly), vat=True)
    in_bundle, charged, charge = figure.data
    assert list(in_bundle.x) == ["2025-12", "2026-01", "2026-03"]
    assert list(in_bundle.y) == [8, 12, 4]  # 8 + 0 ; 10 + 2 + 0 ; 4
    assert list(charged.y) == [0, 6, 0]  # 0 ; 0 + 3 + 3 ; 0
    assert charge.name == "Out-of-bundle charge incl. VAT"
    assert figure.layout.barmode == "stack"


@pytest.fixture
def roaming() -> pd.DataFrame:
    return pd.DataFrame({
        "bill_period": ["2026-01", "2026-01", "2026-02"],
        "roaming_country": ["GB", "US", "GB"], "service": ["VOICE", "DATA", "DATA"],
        "lines": [1, 2, 1], "events": [3, 4, 5], "minutes": [12.34567, 0, 0],
        "data_mb": [0, 100.5, 50.25], "charge": [D("10"), D("30"), D("15")],
        "extra": ["dropped", "dropped", "dropped"],
    })  # fmt: skip


def test_roaming_table_keeps_its_columns_and_adds_vat(roaming):
    table = fig.roaming_table(roaming, vat=True)
    assert list(table.columns) == ["bill_period", "roaming_country", "service", "lines", "events",
                                   "minutes", "data_mb", "charge"]  # fmt: skip
    assert list(table.charge) == [11.5, 34.5, 17.25]
    assert list(table.minutes) == [12.3457, 0.0, 0.0]
    assert fig.roaming_table(None).empty


def test_roaming_figure_orders_countries_by_charge_stacked_by_service(roaming):
    figure = fig.roaming_figure(fig.roaming_table(roaming))
    # GB: 10 + 15 = 25, US: 30 -> US first
    assert [t.name for t in figure.data] == ["Voice minutes", "Data (GB)"]
    voice, data = figure.data
    assert list(voice.x) == ["US", "GB"] and list(voice.y) == [0.0, 10.0]
    assert list(data.y) == [30.0, 15.0]
    assert figure.layout.title.text == "Roaming charge by country"
