"""figures/itemised: grid rows, totals, the summary line and the scan window, by hand."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import itemised as fig

NAN = float("nan")


def test_rows_keep_the_order_and_turn_missing_text_into_blanks():
    df = pd.DataFrame({
        "record_id": [11, 12], "msisdn": ["27820000001", "27820000002"],
        "event_time": ["2026-04-01 08:00:00+02:00", "2026-04-01 07:00:00+02:00"],
        "service": ["VOICE", "DATA"], "direction": ["MO", "MO"],
        "other_party": ["27110000001", NAN], "destination_class": ["national", NAN],
        "roaming_country": [NAN, "GB"], "duration_s": [61, 0], "volume_kb": [0, 2048],
        "charge": [Decimal("1.2345"), None], "bundle_id": [NAN, "B1"],
        "bill_period": ["2026-04", "2026-04"],
    })  # fmt: skip
    first, second = fig.itemised_rows(df)
    assert first == {"record_id": "11", "msisdn": "27820000001",
                     "event_time": "2026-04-01 08:00:00+02:00", "service": "VOICE",
                     "direction": "MO", "other_party": "27110000001",
                     "destination_class": "national", "roaming_country": "", "duration_s": 61,
                     "volume_kb": 0, "charge": 1.2345, "bundle_id": "", "bill_period": "2026-04"}
    assert (second["other_party"], second["roaming_country"], second["charge"]) == ("", "GB", 0.0)
    with_vat = fig.itemised_rows(df, incl_vat=True)
    assert [r["charge"] for r in with_vat] == [1.4197, 0.0]  # 1.2345 * 1.15 = 1.419675


def test_totals_add_every_period():
    counts = pd.DataFrame({"bill_period": ["2026-04", "2026-05"], "records": [3, 4],
                           "charge": [Decimal("1.10"), Decimal("2.25")]})  # fmt: skip
    assert fig.totals(counts) == (7, Decimal("3.35"))
    assert fig.totals(counts.iloc[0:0]) == (0, Decimal(0))


@pytest.mark.parametrize(("records", "pages"), [(0, 1), (1, 1), (100, 1), (101, 2), (250, 3)])
def test_page_count(records, pages):
    assert fig.page_count(records) == pages


def test_summary_line():
    assert fig.summary_text(250, Decimal("1234.5"), 1) == (
        "250 records, ZAR 1,234.50 excl. VAT. Showing 101–200 (page 2 of 3)."
    )
    assert fig.summary_text(250, Decimal("100"), 2, incl_vat=True) == (
        "250 records, ZAR 115.00 incl. VAT. Showing 201–250 (page 3 of 3)."
    )
    assert fig.summary_text(0, None, 0) == (
        "0 records, ZAR 0.00 excl. VAT. Showing 0–0 (page 1 of 1)."
    )


@pytest.fixture
def counts() -> pd.DataFrame:
    # 60 records in April, none in May, 80 in June, 30 in July
    return pd.DataFrame({"bill_period": ["2026-07", "2026-04", "2026-05", "2026-06"],
                         "records": [30, 60, 0, 80]})  # fmt: skip


@pytest.mark.parametrize(
    ("sort", "descending", "offset", "window"),
    [
        pytest.param("event_time", True, 0, ("2026-06", "2026-07"), id="newest-first-page"),
        pytest.param("event_time", True, 100, ("2026-04", "2026-07"), id="newest-second-page"),
        pytest.param("event_time", False, 0, ("2026-04", "2026-06"), id="oldest-first-page"),
        pytest.param("event_time", False, 40, ("2026-04", "2026-06"), id="oldest-offset-40"),
        pytest.param("charge", True, 0, ("2026-04", "2026-07"), id="other-sort-all-held"),
    ],
)
def test_scan_window_reads_only_the_periods_the_page_can_come_from(
    counts, sort, descending, offset, window
):
    assert fig.scan_window(counts, "2026-03", "2026-08", sort, descending, offset) == window


def test_scan_window_stays_inside_the_range_asked_for(counts):
    assert fig.scan_window(counts, "2026-05", "2026-06", "charge", False, 0) == (
        "2026-05", "2026-06")
    empty = counts.assign(records=0)
    assert fig.scan_window(empty, "2026-03", "2026-08", "event_time", True, 0) == (
        "2026-03", "2026-08")
