"""Tariff analyser in a real browser: each tenant profile signs in on the login page, opens
/tariffs, sees the KPIs, charts and grid with the figures pandas computes from the raw CSVs,
downloads the analysis CSV from the page and drills into a line; the analyst is refused.
One screenshot per profile.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from selfcare.web.app import default_period
from selfcare.web.components import money
from tests.integration.test_tariffs import Model

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def model(raw) -> Model:
    return Model(raw)


def _cell(page, grid: str, row: int, col: str) -> str:
    return page.locator(
        f"#{grid} .ag-center-cols-container .ag-row[row-index='{row}'] [col-id='{col}']"
    ).inner_text().strip()


def _flat(text: str) -> str:
    return text.replace(" ", "").replace("\u00a0", "")


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_tariffs_show_the_viewers_figures(profile, signed_in, raw, people, model):
    # the shell opens on its default selection; the analysis window ends at "to"
    period = default_period(sorted(raw.billing.bill_period.unique()))
    person = people[profile]
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    want = model.analysis(person.tenant_id, visible, period, 3)
    want = want.sort_values(["recommended", "avg_saving", "msisdn"],
                            ascending=[False, False, True]).reset_index(drop=True)
    rec = want[want.recommended]

    s = signed_in(profile)
    s.open("/tariffs")
    page = s.page
    lines = page.locator("#tariffs-kpi-lines .kpi-value")
    lines.wait_for()
    assert lines.inner_text().strip() == str(len(want))
    assert page.locator("#tariffs-kpi-recommended .kpi-value").inner_text().strip() == \
        str(len(rec))
    assert _flat(page.locator("#tariffs-kpi-saving .kpi-value").inner_text()) == \
        _flat(money(sum(rec.avg_saving, Decimal(0))))
    for chart in ("cost-centre-chart", "risk-chart", "trend-chart"):
        page.locator(f"#tariffs-{chart} .js-plotly-plot").wait_for()

    page.locator("#tariffs-grid .ag-row[row-index='0']").wait_for()
    first = want.iloc[0]
    assert _cell(page, "tariffs-grid", 0, "msisdn") == first.msisdn
    assert _cell(page, "tariffs-grid", 0, "best_plan") == first.best_plan
    assert _flat(_cell(page, "tariffs-grid", 0, "avg_saving")) == _flat(money(first.avg_saving))

    # the download link carries the current selection; its file equals the table
    with page.expect_download() as d:
        page.click("#tariffs-download")
    assert d.value.suggested_filename == f"tariff_analysis_{period}_{period}.csv"
    with open(d.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["msisdn"]: (Decimal(r["avg_saving"]), r["recommended"]) for r in rows} == {
        m: (s_, str(bool(r_))) for m, s_, r_ in zip(want.msisdn, want.avg_saving,
                                                    want.recommended, strict=True)}

    # drill down: a line's month-by-month costs on each plan
    page.locator("#tariffs-grid .ag-row[row-index='0'] [col-id='msisdn']").click()
    title = page.locator("#tariffs-line-title")
    title.filter(has_text=first.msisdn).wait_for()
    page.locator("#tariffs-line-chart .js-plotly-plot").wait_for()
    page.locator("#tariffs-line-months-grid .ag-row[row-index='0']").wait_for()
    page.locator("#tariffs-line-options-grid .ag-row[row-index='0']").wait_for()
    assert page.locator("#tariffs-line-options-download").get_attribute("href").endswith(
        f"msisdn={first.msisdn}")
    s.screenshot(f"tariffs-{profile}")


def test_tariffs_refuse_the_analyst(signed_in):
    s = signed_in("analyst")
    response = s.page.goto(s.base + "/tariffs")
    assert response.status == 403
