"""Spend by cost centre in a real browser: admin, finance and a manager sign in on the login page,
see the treemap, the total (= the invoice total pandas computes from the billing CSVs) and the
table, drill into a cost centre, and download the per-month CSV from the page; an end user is
refused. One screenshot per profile.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
from playwright.sync_api import expect as expect_that

from selfcare.web.app import default_period
from selfcare.web.components import money
from tests.integration.spend_support import D0, Expect, q

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SPECIAL = {"ACCOUNT_LEVEL", "UNASSIGNED", "UNKNOWN"}


def _row(page, grid: str, row_id: str):
    return page.locator(f"#{grid} .ag-center-cols-container .ag-row[row-id='{row_id}']")


@pytest.mark.parametrize("profile", ["admin", "finance", "manager"])
def test_spend_by_cost_centre_shows_the_invoice_total(profile, signed_in, raw, people):
    period = default_period(sorted(raw.billing.bill_period.unique()))
    expect = Expect(raw, people[profile])
    b = expect.billing()
    b = b[b.bill_period == period]
    invoice_total = sum(b.amount_d, D0)
    tree = expect.tree(period, period)

    s = signed_in(profile)
    s.open("/spend-by-cost-centre")
    page = s.page
    total = page.locator("#spend-by-cost-centre-kpi-total .kpi-value")
    expect_that(total).to_have_text(money(invoice_total))
    page.locator("#spend-by-cost-centre-tree .js-plotly-plot").wait_for()

    # the biggest cost centre's row shows its rolled-up spend
    cc = max((c for c in tree if c not in SPECIAL), key=lambda c: tree[c]["amount"])
    row = _row(page, "spend-by-cost-centre-grid", cc)
    expect_that(row.locator("[col-id='spend']")).to_have_text(money(tree[cc]["amount"]))
    if profile == "manager":
        for special in SPECIAL:
            assert _row(page, "spend-by-cost-centre-grid", special).count() == 0

    # drill: the cost centre's employees appear
    row.locator("[col-id='cost_centre_name']").click()
    employees = expect.employees(period, period, cc)
    first = max(employees.items(), key=lambda kv: (kv[1]["amount"], kv[0]))
    expect_that(page.locator(
        "#spend-by-cost-centre-employees-grid .ag-row[row-index='0'] [col-id='spend']"
    )).to_have_text(money(first[1]["amount"]))

    with page.expect_download() as d:
        page.click("#spend-by-cost-centre-download")
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert d.value.suggested_filename == f"spend_by_cost_centre_{period}_{period}.csv"
    assert q(sum((Decimal(r["amount_excl_vat"]) for r in rows), D0)) == q(invoice_total)
    assert {r["cost_centre_id"] for r in rows} == {
        cc for (_, cc) in expect.by_cost_centre(period, period)}
    page.wait_for_timeout(300)  # let the grids paint before the full-page screenshot
    s.screenshot(f"spend-by-cost-centre-{profile}")


def test_spend_by_cost_centre_refuses_an_end_user(signed_in):
    s = signed_in("end_user")
    response = s.page.goto(s.base + "/spend-by-cost-centre")
    assert response.status == 403
    s.screenshot("spend-by-cost-centre-end_user-refused")
