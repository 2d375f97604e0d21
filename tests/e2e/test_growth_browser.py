"""Growth analysis in a real browser: admin, finance and the operator's analyst sign in, open the
page, see the charts, KPIs, forecast and the fastest-growing segments as pandas computes them from
the raw files, and download the CSV (with forecast rows) from the page; a manager and an end user
are refused. One screenshot per profile.
"""

from __future__ import annotations

import csv
from urllib.parse import parse_qs, urlsplit

import pytest

from selfcare.web import components
from selfcare.web import forecast as fc
from tests.integration.test_growth import (
    _check_export,
    _expected_ranking,
    expected_analyst,
    expected_tenant,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _cell(page, grid: str, row: int, col: str) -> str:
    return page.locator(
        f"#{grid} .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    ).inner_text().strip()


@pytest.mark.parametrize("profile", ["admin", "finance", "analyst"])
def test_growth_page_shows_growth_and_forecast(profile, signed_in, raw, people):
    s = signed_in(profile)
    if profile == "analyst":
        # the analyst's landing page
        assert s.page.url.rstrip("/").endswith("/growth")
    s.open("/growth")
    page = s.page
    link = page.locator("#growth-download[href^='/export/']")
    link.wait_for()
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    period_from, period_to = query["from"][0], query["to"][0]
    periods = sorted(raw.billing.bill_period.unique())
    periods = [p for p in periods if p <= period_to]

    def expected(first, last):
        if profile == "analyst":
            return expected_analyst(raw, first, last)
        return expected_tenant(raw, people, profile, first, last)

    want = expected(period_from, period_to)
    history = expected(periods[0], period_to)
    dimension = "industry" if profile == "analyst" else "product_type"

    page.locator("#growth-rank-chart .js-plotly-plot").wait_for()
    page.locator("#growth-forecast-chart .js-plotly-plot").wait_for()
    page.locator("#growth-grid .ag-row[row-index='0']").wait_for()
    # KPIs: total spend of the last period, and the forecast error on held-back months
    spend = want[("total", "ALL", period_to)]["spend"]
    assert page.locator("#growth-kpi-spend .kpi-value").inner_text() == components.money(spend)
    total = [float(history[("total", "ALL", p)]["spend"]) for p in periods]
    bt = fc.backtest(total)
    assert page.locator("#growth-kpi-mape .kpi-value").inner_text() == f"{bt.mape:.1f} %"
    assert page.locator("#growth-kpi-yoy .kpi-value").inner_text() == "n/a"
    # the grid: fastest-growing segment first
    ranking = _expected_ranking(want, dimension, period_to)
    assert _cell(page, "growth-grid", 0, "segment") == ranking[0]

    with page.expect_download() as d:
        link.click()
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"growth_{period_from}_{period_to}.csv"
    _check_export(rows, want, periods, history)
    assert {r["kind"] for r in rows} == {"actual", "forecast", "holdout"}
    s.screenshot(f"growth-{profile}")


@pytest.mark.parametrize("profile", ["manager", "end_user"])
def test_growth_refuses_other_profiles(profile, signed_in):
    s = signed_in(profile)
    response = s.page.goto(s.base + "/growth")
    assert response.status == 403
