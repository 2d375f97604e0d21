"""Itemised usage in a real browser: each tenant profile signs in, opens the page (the end user
through a `?msisdn=` link), sees the first page of records sorted newest first as pandas computes
them from the raw CSVs, turns a page on the server, and downloads the streamed CSV from the page,
row for row; the analyst is refused. One screenshot per profile.
"""

from __future__ import annotations

import csv
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from tests.integration.test_itemised import assert_rows_equal

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _cdr(raw) -> pd.DataFrame:
    c = raw.cdr_frame()
    tz = dict(zip(raw.tenants.tenant_id, raw.tenants.timezone, strict=True))
    c["instant"] = pd.to_datetime(c.event_time, utc=True, format="ISO8601")
    c["local_iso"] = [t.tz_convert(tz[tenant]).isoformat()
                      for t, tenant in zip(c.instant, c.tenant_id, strict=True)]
    return c


def _cell(page, row: int, col: str) -> str:
    return page.locator(
        f"#itemised-grid .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    ).inner_text().strip()


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_itemised_page_shows_the_viewers_records(profile, signed_in, raw, people):
    person = people[profile]
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    # the end user's busiest line, so there is more than a page of it to show
    calls = raw.cdr.msisdn.value_counts()
    line = (
        min(visible, key=lambda m: (-int(calls.get(m, 0)), m)) if profile == "end_user" else None
    )
    s = signed_in(profile)
    s.open("/itemised" + (f"?msisdn={line}" if line else ""))
    page = s.page
    link = page.locator("#itemised-download[href^='/export/']")
    link.wait_for()
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    period_from, period_to = query["from"][0], query["to"][0]
    assert query.get("msisdn") == ([line] if line else None)

    c = _cdr(raw)
    c = c[(c.tenant_id == person.tenant_id) & (c.bill_period >= period_from)
          & (c.bill_period <= period_to)]
    if profile in ("manager", "end_user"):
        c = c[c.msisdn.isin(visible)]
    if line:
        c = c[c.msisdn == line]
    oldest_first = c.sort_values(["instant", "record_id"], kind="stable")
    newest_first = c.sort_values("record_id", kind="stable").sort_values(
        "instant", ascending=False, kind="stable")
    assert len(c) > 100

    page.locator("#itemised-grid .ag-row[row-index='0']").wait_for()
    assert _cell(page, 0, "record_id") == newest_first.record_id.iloc[0]
    assert _cell(page, 0, "event_time") == newest_first.local_iso.iloc[0]
    assert f"{len(c):,} records" in page.locator("#itemised-summary").inner_text()

    # the next page comes from the server, not from rows already in the browser
    page.click("#itemised-next")
    page.locator("#itemised-summary", has_text="page 2 of").wait_for()
    second = newest_first.record_id.iloc[100]
    page.locator(f"#itemised-grid [col-id='record_id']:text-is('{second}')").wait_for()
    assert _cell(page, 0, "record_id") == newest_first.record_id.iloc[100]

    with page.expect_download() as d:
        link.click()
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"itemised_{period_from}_{period_to}.csv"
    assert_rows_equal(rows, oldest_first)
    s.screenshot(f"itemised-{profile}")


def test_itemised_refuses_the_analyst(signed_in):
    s = signed_in("analyst")
    response = s.page.goto(s.base + "/itemised")
    assert response.status == 403
    s.screenshot("itemised-analyst-refused")
