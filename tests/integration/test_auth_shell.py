"""The shell over the small generated lake: the shared period selector offers the viewer's bill
periods (expected values computed with pandas from the raw export files) and defaults to the
last complete month; the header names the viewer's tenant."""

from __future__ import annotations

from datetime import date

import pytest

from selfcare.web.app import default_period

PERIODS_CALL = {
    "output": "..app-period-from.options...app-period-from.value..."
    "app-period-to.options...app-period-to.value..",
    "outputs": [
        {"id": "app-period-from", "property": "options"},
        {"id": "app-period-from", "property": "value"},
        {"id": "app-period-to", "property": "options"},
        {"id": "app-period-to", "property": "value"},
    ],
    "inputs": [{"id": "app-shell", "property": "id", "value": "app-shell"}],
    "changedPropIds": [],
}


def _login(client, person):
    resp = client.post("/login", data={"email": person.email, "password": person.password})
    assert resp.status_code in (302, 303)


def expected_periods(raw, person) -> list[str]:
    if person.role == "analyst":
        b = raw.billing_frame()
        lines = b.groupby("bill_period").msisdn.nunique()
        return sorted(lines[lines >= 5].index)
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    b = raw.billing_frame()
    b = b[b.tenant_id == person.tenant_id]
    c = raw.cdr_frame()
    c = c[c.tenant_id == person.tenant_id]
    if person.role not in ("admin", "finance"):
        b = b[b.msisdn.isin(visible)]
        c = c[c.msisdn.isin(visible)]
    return sorted(set(b.bill_period) | set(c.bill_period))


def last_complete(periods: list[str]) -> str | None:
    this_month = f"{date.today():%Y-%m}"
    before = [p for p in periods if p < this_month]
    return before[-1] if before else (periods[-1] if periods else None)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["admin", "end_user", "analyst", "admin2"])
def test_period_selector_offers_the_viewers_periods(flask_app, people, raw, profile):
    person = people[profile]
    c = flask_app.test_client()
    _login(c, person)
    resp = c.post("/_dash-update-component", json=PERIODS_CALL)
    assert resp.status_code == 200
    got = resp.json["response"]
    expected = expected_periods(raw, person)
    assert expected, "the small estate has periods for every profile"
    assert [o["value"] for o in got["app-period-from"]["options"]] == expected
    assert got["app-period-to"]["options"] == got["app-period-from"]["options"]
    assert (
        got["app-period-from"]["value"] == got["app-period-to"]["value"] == last_complete(expected)
    )


@pytest.mark.slow
def test_header_names_the_tenant(flask_app, people, raw):
    person = people["admin"]
    c = flask_app.test_client()
    _login(c, person)
    body = c.get("/_dash-layout").get_data(as_text=True)
    name = raw.tenants.set_index("tenant_id").loc[person.tenant_id, "name"]
    assert name in body or name.replace("&", "\\u0026") in body
    other = raw.tenants[raw.tenants.tenant_id != person.tenant_id].name.iloc[0]
    assert other not in body


def test_default_period_is_the_last_complete_month():
    periods = ["2026-01", "2026-02", "2026-03"]
    assert default_period(periods, date(2026, 3, 15)) == "2026-02"
    assert default_period(periods, date(2026, 5, 1)) == "2026-03"
    assert default_period(periods, date(2025, 12, 1)) == "2026-03"  # all ahead: the latest
    assert default_period([], date(2026, 1, 1)) is None
