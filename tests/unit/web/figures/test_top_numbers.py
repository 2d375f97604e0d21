"""figures/top_numbers: rows and the bar chart from a hand-made `reports.top_numbers` frame."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from selfcare.web.figures import top_numbers as fig


@pytest.fixture
def top() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "other_party": ["27110000001", "0800123456", "27820000003"],
            "destination_class": ["national", "toll_free", "mobile"],
            "calls": [40, 25, 3],
            "minutes": [120.456, 30.0, 2.5],
            "cost": [Decimal("100.0050"), Decimal("0"), Decimal("9.99")],
            "lines": [4, 2, 1],
            "share": [0.5, 0.3125, float("nan")],
        }
    )


def test_rows_keep_rank_order_numbers_as_text_and_cents(top):
    rows = fig.top_numbers_rows(top)
    assert [r["other_party"] for r in rows] == ["27110000001", "0800123456", "27820000003"]
    assert rows[0] == {"rank": 1, "other_party": "27110000001", "destination_class": "national",
                       "calls": 40, "minutes": 120.46, "cost": 100.0, "lines": 4,
                       "share": 50.0}  # fmt: skip
    assert rows[1]["share"] == 31.25 and rows[1]["cost"] == 0.0
    assert rows[2]["destination_class"] == "mobile" and rows[2]["share"] is None


def test_vat_is_fifteen_percent_on_the_cost_only(top):
    rows = fig.top_numbers_rows(top, incl_vat=True)
    # 100.0050 * 1.15 = 115.005750 -> 115.01 ; 9.99 * 1.15 = 11.4885 -> 11.49
    assert [r["cost"] for r in rows] == [115.01, 0.0, 11.49]
    assert [r["minutes"] for r in rows] == [120.46, 30.0, 2.5]


@pytest.mark.parametrize(
    ("by", "values", "unit"),
    [("calls", [40, 25, 3], "Calls"), ("minutes", [120.46, 30.0, 2.5], "Minutes"),
     ("cost", [100.0, 0.0, 9.99], "Cost (ZAR)")],
)  # fmt: skip
def test_bars_follow_the_measure_with_rank_one_on_top(top, by, values, unit):
    figure = fig.top_numbers_figure(top, by)
    (bar,) = figure.data
    assert list(bar.x) == values
    assert list(bar.y) == ["27110000001", "0800123456", "27820000003"]
    assert bar.orientation == "h"
    assert figure.layout.title.text == f"Top 3 numbers dialled by {unit.lower()}"
    assert figure.layout.xaxis.title.text == unit
    assert figure.layout.yaxis.type == "category" and figure.layout.yaxis.autorange == "reversed"


def test_cost_bars_incl_vat_say_so(top):
    figure = fig.top_numbers_figure(top, "cost", incl_vat=True)
    assert list(figure.data[0].x) == [115.01, 0.0, 11.49]
    assert figure.layout.title.text == "Top 3 numbers dialled by cost (zar incl. vat)"


def test_drill_down_rows():
    df = pd.DataFrame({"msisdn": ["27820000001", "27820000002"],
                       "employee_name": ["Ada Lovelace", None], "calls": [5, 1],
                       "minutes": [10.005, 0.5],
                       "cost": [Decimal("2.345"), Decimal("1")]})  # fmt: skip
    assert fig.lines_rows(df, incl_vat=True) == [
        {"msisdn": "27820000001", "employee_name": "Ada Lovelace", "calls": 5, "minutes": 10.01,
         "cost": 2.7},  # 2.345 * 1.15 = 2.69675
        {"msisdn": "27820000002", "employee_name": "", "calls": 1, "minutes": 0.5, "cost": 1.15},
    ]  # fmt: skip
