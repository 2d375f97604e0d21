"""Overview in a real browser: each tenant profile signs in on the login page, lands on the
overview, sees the KPIs, charts and grids with the figures pandas computes from the raw CSVs,
downloads the lines CSV from the page; the analyst is refused. One screenshot per profile.
"""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect as expect_that

from selfcare.web.app import default_period
from selfcare.web.components import money
from tests.integration.spend_support import Expect, q

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _period(raw) -> str:
    # the shell opens on its default selection: from = to = the last complete bill period
    return default_period(sorted(raw.billing.bill_period.unique()))


def _cell(page, grid: str, row: int, col: str):
    return page.locator(
        f"#{grid} .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    )


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_overview_shows_the_viewers_figures(profile, signed_in, raw, people):
    period = _period(raw)
    expect = Expect(raw, people[profile])
    s = signed_in(profile)
    s.open("/overview")
    page = s.page

    kpis = expect.kpis(period, period)
    spend = page.locator("#overview-kpi-spend .kpi-value")
    spend.wait_for()
    assert spend.inner_text().strip() == money(kpis["amount_excl_vat"])
    assert page.locator("#overview-kpi-lines .kpi-value").inner_text().strip() == \
        f"{kpis['active_lines']:,}".replace(",", " ")
    page.locator("#overview-trend .js-plotly-plot").wait_for()

    increases = expect.increases(period)
    if increases:
        page.locator("#overview-increases-chart .js-plotly-plot").wait_for()
        page.locator("#overview-increases-grid .ag-row[row-index='0']").wait_for()
        expect_that(_cell(page, "overview-increases-grid", 0, "msisdn")).to_have_text(
            increases[0]["msisdn"])

    lines = expect.lines(period, period)
    page.locator("#overview-lines-grid .ag-row[row-index='0']").wait_for()
    top = sorted(lines.items(), key=lambda kv: (-kv[1]["amount"], kv[0]))[0]
    expect_that(_cell(page, "overview-lines-grid", 0, "msisdn")).to_have_text(top[0])
    expect_that(_cell(page, "overview-lines-grid", 0, "spend")).to_have_text(
        money(top[1]["amount"]))

    # the download link carries the current selection; its file equals the table
    with page.expect_download() as d:
        page.click("#overview-lines-download")
    path = d.value.path()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"lines_{period}_{period}.csv"
    assert {r["msisdn"]: q(r["amount_excl_vat"]) for r in rows} == {
        m: q(w["amount"]) for m, w in lines.items()}

    # selecting a line offers its itemised records
    _cell(page, "overview-lines-grid", 0, "msisdn").click()
    link = page.locator("#overview-lines-itemised a")
    link.wait_for()
    assert link.get_attribute("href") == f"/itemised?msisdn={top[0]}"
    page.wait_for_timeout(300)  # let the grids paint before the full-page screenshot
    s.screenshot(f"overview-{profile}")


def test_overview_refuses_the_analyst(signed_in):
    s = signed_in("analyst")
    response = s.page.goto(s.base + "/overview")
    assert response.status == 403
    s.screenshot("overview-analyst-refused")
