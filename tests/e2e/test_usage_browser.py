"""Usage month on month in a real browser: each tenant profile signs in, opens the page, sees the
charts, the KPIs and the grid with the figures pandas computes from the raw CDRs, and downloads
the CSV from the page; the analyst is refused. One screenshot per profile.
"""

from __future__ import annotations

import csv
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.test_usage import _same, expected_monthly

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _cell(page, grid: str, row: int, col: str) -> str:
    return page.locator(
        f"#{grid} .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    ).inner_text().strip()


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_usage_page_shows_the_viewers_usage(profile, signed_in, raw, people):
    s = signed_in(profile)
    s.open("/usage")
    page = s.page
    link = page.locator("#usage-download[href^='/export/']")
    link.wait_for()
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    period_from, period_to = query["from"][0], query["to"][0]
    want = expected_monthly(raw, people, profile, period_from, period_to)
    assert want

    page.locator("#usage-volume-chart .js-plotly-plot").wait_for()
    page.locator("#usage-bundle-chart .js-plotly-plot").wait_for()
    page.locator("#usage-grid .ag-row[row-index='0']").wait_for()
    # KPI: voice minutes in the last period, as pandas counts them
    voice = next((w for w in want if w["service"] == "VOICE" and w["bill_period"] == period_to),
                 None)
    if voice is not None:
        text = page.locator("#usage-kpi-voice .kpi-value").inner_text()
        assert text == f"{voice['minutes']:,.1f} minutes".replace(",", " ")
    # the grid is sorted newest first: row 0 is a service of the last period
    assert _cell(page, "usage-grid", 0, "bill_period") == period_to
    service = _cell(page, "usage-grid", 0, "service")
    w = next(w for w in want if w["bill_period"] == period_to and w["service"] == service)
    assert _cell(page, "usage-grid", 0, "events").replace(",", "") == str(w["events"])

    with page.expect_download() as d:
        link.click()
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"usage_monthly_{period_from}_{period_to}.csv"
    _same(rows, want)
    s.screenshot(f"usage-{profile}")


def test_usage_refuses_the_analyst(signed_in):
    s = signed_in("analyst")
    response = s.page.goto(s.base + "/usage")
    assert response.status == 403
