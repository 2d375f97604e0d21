"""Top 50 numbers dialled in a real browser: each tenant profile signs in, opens the page, sees the
chart and the grid with the ranking pandas computes from the raw CSVs, drills into the lines that
called the top number, and downloads the CSV from the page; the analyst is refused.
One screenshot per profile.
"""

from __future__ import annotations

import csv
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.test_top_numbers import (
    assert_top_equal,
    expected_lines,
    expected_top,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _cell(page, grid: str, row: int, col: str) -> str:
    return page.locator(
        f"#{grid} .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    ).inner_text().strip()


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_top_numbers_page_shows_the_viewers_ranking(profile, signed_in, raw, people):
    s = signed_in(profile)
    s.open("/top-numbers")
    page = s.page
    link = page.locator("#top-numbers-download[href^='/export/']")
    link.wait_for()
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    period_from, period_to = query["from"][0], query["to"][0]
    want = expected_top(raw, people, profile, period_from, period_to, by="calls")
    assert want

    page.locator("#top-numbers-chart .js-plotly-plot").wait_for()
    page.locator("#top-numbers-grid .ag-row[row-index='0']").wait_for()
    assert _cell(page, "top-numbers-grid", 0, "other_party") == want[0]["other_party"]
    assert _cell(page, "top-numbers-grid", 0, "calls") == str(want[0]["calls"])
    assert page.locator("#top-numbers-chart .bars .point").count() == len(want)

    # the download link carries the current selection; its file equals the table
    with page.expect_download() as d:
        link.click()
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"top_numbers_{period_from}_{period_to}.csv"
    assert_top_equal(rows, want)

    # picking the top number lists the viewer's lines that called it
    page.locator("#top-numbers-grid .ag-row[row-index='0'] [col-id='other_party']").click()
    lines = expected_lines(raw, people, profile, period_from, period_to, want[0]["other_party"])
    page.locator("#top-numbers-lines-grid .ag-row[row-index='0']").wait_for()
    assert _cell(page, "top-numbers-lines-grid", 0, "msisdn") == lines[0]["msisdn"]
    assert want[0]["other_party"] in page.locator("#top-numbers-lines-title").inner_text()
    s.screenshot(f"top-numbers-{profile}")


def test_top_numbers_refuses_the_analyst(signed_in):
    s = signed_in("analyst")
    response = s.page.goto(s.base + "/top-numbers")
    assert response.status == 403
    s.screenshot("top-numbers-analyst-refused")
