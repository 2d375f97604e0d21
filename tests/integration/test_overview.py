"""Overview: KPIs, trend, increases, alerts and lines vs pandas on the raw CSVs, for every profile
that may see the page; its exports; its callbacks; and the scope it must never leave.

Expected values come from `spend_support.Expect` (pandas + Decimal on the export files).
"""

from __future__ import annotations

from decimal import Decimal

import flask_login
import pytest

from selfcare import gate
from selfcare.services import users
from tests.conftest import login
from tests.integration.spend_support import Expect, csv_rows, q, shift, txt

VIEWERS = ["admin", "finance", "manager", "end_user", "admin2"]
CASES = [pytest.param(p, id=p) for p in VIEWERS]


@pytest.fixture(scope="module")
def periods(raw):
    ps = sorted(raw.billing.bill_period.unique())
    # a three-month selection with data before it, so "previous period" has something to say
    return ps[-4], ps[-2]


def _expect(raw, people, profile) -> Expect:
    return Expect(raw, people[profile])


# -- the queries, profile by profile -------------------------------------------------------------


@pytest.mark.parametrize("profile", CASES)
def test_kpis_match_the_raw_files(profile, raw, people, scope_of, periods):
    want = _expect(raw, people, profile).kpis(*periods)
    got = gate.run("reports.overview_kpis", scope_of(profile), period_from=periods[0],
                   period_to=periods[1]).iloc[0]
    assert q(got.amount_excl_vat) == q(want["amount_excl_vat"])
    assert q(got.vat) == q(want["vat"])
    assert q(got.amount_incl_vat) == q(want["amount_excl_vat"] + want["vat"])
    assert q(got.previous_amount_excl_vat) == q(want["previous_amount_excl_vat"])
    assert q(got.previous_amount_incl_vat) == q(want["previous_amount_excl_vat"]
                                                 + want["previous_vat"])
    assert (got.previous_from, got.previous_to) == (want["previous_from"], want["previous_to"])
    assert int(got.active_lines) == want["active_lines"]
    assert abs(float(got.voice_minutes) - want["voice_minutes"]) < 1e-6
    assert int(got.sms) == want["sms"]
    assert abs(float(got.data_gb) - want["data_gb"]) < 1e-9
    assert want["amount_excl_vat"] != 0  # the case is not vacuous


@pytest.mark.parametrize("profile", CASES)
def test_trend_is_twelve_months_by_charge_type(profile, raw, people, scope_of, periods):
    want = _expect(raw, people, profile).trend(periods[1])
    df = gate.run("reports.overview_trend", scope_of(profile), period_to=periods[1])
    got = {(r.bill_period, r.charge_type): (q(r.amount_excl_vat), q(r.vat))
           for r in df.itertuples(index=False)}
    assert got == {k: (q(a), q(v)) for k, (a, v) in want.items()}
    assert all(p <= periods[1] for p, _ in got)


@pytest.mark.parametrize("profile", CASES)
def test_increases_match_the_raw_files(profile, raw, people, scope_of, periods):
    want = _expect(raw, people, profile).increases(periods[1])
    df = gate.run("reports.overview_increases", scope_of(profile), period_from=periods[0],
                  period_to=periods[1])
    assert list(df.msisdn) == [w["msisdn"] for w in want]
    for r, w in zip(df.itertuples(index=False), want, strict=True):
        assert q(r.previous_amount) == q(w["previous_amount"])
        assert q(r.current_amount) == q(w["current_amount"])
        assert q(r.increase) == q(w["increase"])
        assert q(r.increase_incl_vat) == q(w["increase_incl_vat"])
        assert txt(r.employee_id) == w["employee_id"]
        assert r.cost_centre_id == w["cost_centre_id"]
        assert (r.previous_period, r.current_period) == (shift(periods[1], -1), periods[1])


@pytest.mark.parametrize("profile", CASES)
def test_alerts_follow_the_documented_rules(profile, raw, people, scope_of, periods):
    ps = sorted(raw.billing.bill_period.unique())
    want = _expect(raw, people, profile).alerts(ps[0], ps[-1])
    df = gate.run("reports.overview_alerts", scope_of(profile), period_from=ps[0],
                  period_to=ps[-1])
    got = {(r.bill_period, r.msisdn, r.alert): r for r in df.itertuples(index=False)}
    assert set(got) == set(want)
    for key, w in want.items():
        assert q(got[key].amount_excl_vat) == q(w["amount"]), key
        if w["average"] is not None:
            assert q(got[key].earlier_average_excl_vat) == q(w["average"]), key


def test_the_estate_raises_both_kinds_of_alert(raw, people, scope_of):
    """The generated estate has roaming shocks and spikes: the rules are exercised, not vacuous."""
    ps = sorted(raw.billing.bill_period.unique())
    kinds = set()
    for profile in ("admin", "admin2"):
        df = gate.run("reports.overview_alerts", scope_of(profile), period_from=ps[0],
                      period_to=ps[-1])
        kinds |= set(df.alert)
    assert kinds == {"ROAMING_SHOCK", "SPEND_SPIKE"}


@pytest.mark.parametrize("profile", CASES)
def test_lines_carry_their_spend(profile, raw, people, scope_of, periods):
    want = _expect(raw, people, profile).lines(*periods)
    df = gate.run("reports.lines_spend", scope_of(profile), period_from=periods[0],
                  period_to=periods[1], cost_centre_id=None, employee_id=None)
    got = {r.msisdn: r for r in df.itertuples(index=False)}
    assert set(got) == set(want)
    for m, w in want.items():
        assert q(got[m].amount_excl_vat) == q(w["amount"]), m
        assert q(got[m].vat) == q(w["vat"]), m
        assert txt(got[m].employee_id) == w["employee_id"]
        assert got[m].cost_centre_id == w["cost_centre_id"]
        assert txt(got[m].plan_code) == w["plan_code"]
        assert txt(got[m].status) == w["status"]


# -- exports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", CASES)
def test_exports_match_the_raw_files(profile, raw, people, flask_app, periods):
    expect = _expect(raw, people, profile)
    client = flask_app.test_client()
    login(client, people[profile])
    query = f"from={periods[0]}&to={periods[1]}"

    rows = csv_rows(client.get(f"/export/overview_increases.csv?{query}"))
    want = expect.increases(periods[1])
    assert [r["msisdn"] for r in rows] == [w["msisdn"] for w in want]
    assert [q(r["increase"]) for r in rows] == [q(w["increase"]) for w in want]

    rows = csv_rows(client.get(f"/export/overview_alerts.csv?{query}"))
    want_alerts = expect.alerts(*periods)
    assert {(r["bill_period"], r["msisdn"], r["alert"]): q(r["amount_excl_vat"]) for r in rows} \
        == {k: q(v["amount"]) for k, v in want_alerts.items()}

    rows = csv_rows(client.get(f"/export/lines.csv?{query}"))
    want_lines = expect.lines(*periods)
    assert list(rows[0]) == ["msisdn", "employee_id", "employee_name", "cost_centre_id",
                             "plan_code", "status", "amount_excl_vat", "vat", "amount_incl_vat"]
    assert {r["msisdn"]: (q(r["amount_excl_vat"]), q(r["amount_incl_vat"])) for r in rows} == {
        m: (q(w["amount"]), q(w["amount"] + w["vat"])) for m, w in want_lines.items()}


def test_lines_export_filters_by_employee_and_cost_centre(raw, people, flask_app, periods):
    expect = _expect(raw, people, "admin")
    client = flask_app.test_client()
    login(client, people["admin"])
    some = sorted((m, r) for m, r in expect.lines(*periods).items() if r["employee_id"])[0][1]
    for params, want in (
        (f"employee={some['employee_id']}", expect.lines(*periods, employee=some["employee_id"])),
        (f"cost_centre={some['cost_centre_id']}",
         expect.lines(*periods, cost_centre=some["cost_centre_id"])),
        ("cost_centre=UNKNOWN", expect.lines(*periods, cost_centre="UNKNOWN")),
    ):
        rows = csv_rows(client.get(f"/export/lines.csv?from={periods[0]}&to={periods[1]}&{params}"))
        assert {r["msisdn"] for r in rows} == set(want), params
        assert want, params
    bad = client.get(f"/export/lines.csv?from={periods[0]}&to={periods[1]}&employee=x'%20or%201")
    assert bad.status_code == 400


# -- scope ----------------------------------------------------------------------------------


def test_analyst_is_refused_page_and_exports(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["analyst"])
    assert client.get("/overview").status_code == 403
    for report in ("overview_increases", "overview_alerts", "lines"):
        resp = client.get(f"/export/{report}.csv?from={periods[0]}&to={periods[1]}")
        assert resp.status_code == 403, report


def test_signed_out_gets_no_export(flask_app, periods):
    resp = flask_app.test_client().get(f"/export/lines.csv?from={periods[0]}&to={periods[1]}")
    assert resp.status_code == 401


@pytest.mark.parametrize("profile", ["manager", "end_user"])
def test_a_chain_never_sees_lines_outside_it(profile, raw, people, scope_of):
    visible = _expect(raw, people, profile).visible
    ps = sorted(raw.billing.bill_period.unique())
    scope = scope_of(profile)
    seen = set()
    for name, extra in (("overview_increases", {}), ("overview_alerts", {}),
                        ("lines_spend", {"cost_centre_id": None, "employee_id": None})):
        for p in ps:
            df = gate.run(f"reports.{name}", scope, period_from=ps[0], period_to=p, **extra)
            seen |= set(df.msisdn)
    assert seen and seen <= visible


def test_tenant_two_admin_sees_no_tenant_one_line(raw, people, scope_of, periods):
    t1_lines = set(raw.lines[raw.lines.tenant_id == people["admin"].tenant_id].msisdn)
    df = gate.run("reports.lines_spend", scope_of("admin2"), period_from=periods[0],
                  period_to=periods[1], cost_centre_id=None, employee_id=None)
    assert len(df) and not (set(df.msisdn) & t1_lines)
    kpis = gate.run("reports.overview_kpis", scope_of("admin2"), period_from=periods[0],
                    period_to=periods[1]).iloc[0]
    t1 = Expect(raw, people["admin"]).kpis(*periods)
    assert q(kpis.amount_excl_vat) != q(t1["amount_excl_vat"])


def test_foreign_filters_return_nothing(raw, people, flask_app, periods):
    """A manager asking for a line or employee outside the chain, or a tenant-1 cost centre asked
    for by the tenant-2 admin, gets an empty file."""
    expect = _expect(raw, people, "manager")
    register = expect.register()
    foreign = sorted({register[m]["employee_id"] for m in register
                      if m not in expect.visible and register[m]["employee_id"]})
    assert foreign
    client = flask_app.test_client()
    login(client, people["manager"])
    rows = csv_rows(client.get(
        f"/export/lines.csv?from={periods[0]}&to={periods[1]}&employee={foreign[0]}"))
    assert rows == []
    client2 = flask_app.test_client()
    login(client2, people["admin2"])
    t1_cc = sorted(Expect(raw, people["admin"]).parents())[0]
    rows = csv_rows(client2.get(
        f"/export/lines.csv?from={periods[0]}&to={periods[1]}&cost_centre={t1_cc}"))
    assert rows == []


# -- callbacks ------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_callbacks_build_kpis_charts_and_grids(profile, raw, people, portal, flask_app, periods):
    from selfcare.web.pages import overview as page

    expect = _expect(raw, people, profile)
    ctx = _as(flask_app, portal, people[profile])
    try:
        kpis = page.update_kpis(periods[0], periods[1], [])
        want = expect.kpis(*periods)
        spend = [c for c in kpis.children if getattr(c, "id", "") == "overview-kpi-spend"][0]
        from selfcare.web.components import money

        assert spend.children[1].children == money(want["amount_excl_vat"])
        kpis_vat = page.update_kpis(periods[0], periods[1], ["vat"])
        spend = [c for c in kpis_vat.children if getattr(c, "id", "") == "overview-kpi-spend"][0]
        assert spend.children[1].children == money(want["amount_excl_vat"] + want["vat"])

        graph = page.update_trend(periods[1], [])
        totals = {}
        for (p, _), (a, _) in expect.trend(periods[1]).items():
            totals[p] = totals.get(p, Decimal(0)) + a
        bars = graph.figure.data
        assert len(bars[0].x) == 12
        from selfcare.web.components import period_label

        for i, label in enumerate(bars[0].x):
            period = [p for p in totals if period_label(p) == label]
            net = sum(float(b.y[i]) for b in bars)
            assert abs(net - float(totals[period[0]] if period else 0)) < 0.01, label

        chart, rows, status, _, link, hidden = page.update_increases(periods[0], periods[1], [])
        want_inc = expect.increases(periods[1])
        assert [r["msisdn"] for r in rows] == [w["msisdn"] for w in want_inc]
        assert [r["increase"] for r in rows] == [float(round(w["increase"], 2))
                                                 for w in want_inc]
        assert link == f"/export/overview_increases.csv?from={periods[0]}&to={periods[1]}"
        assert hidden is (not want_inc)
        if want_inc:
            top = chart.figure.data[0]
            assert abs(top.x[-1] - float(round(want_inc[0]["increase"], 2))) < 0.006
        _, vat_rows, _, _, _, _ = page.update_increases(periods[0], periods[1], ["vat"])
        assert [r["increase"] for r in vat_rows] == [float(round(w["increase_incl_vat"], 2))
                                                     for w in want_inc]

        alert_rows, _, alert_link, _ = page.update_alerts(periods[0], periods[1], [])
        assert len(alert_rows) == len(expect.alerts(*periods))
        assert alert_link.startswith("/export/overview_alerts.csv?")

        line_rows, _, line_link = page.update_lines(periods[0], periods[1], [])
        want_lines = expect.lines(*periods)
        assert {r["msisdn"]: r["spend"] for r in line_rows} == {
            m: float(round(w["amount"], 2)) for m, w in want_lines.items()}
        assert line_link == f"/export/lines.csv?from={periods[0]}&to={periods[1]}"

        link = page.update_lines_itemised([{"msisdn": line_rows[0]["msisdn"]}])
        assert link.children.href == f"/itemised?msisdn={line_rows[0]['msisdn']}"
        assert page.update_lines_itemised([{"msisdn": "<script>"}]) is None
    finally:
        ctx.pop()


def test_callbacks_show_empty_states(people, portal, flask_app):
    from selfcare.web.pages import overview as page

    ctx = _as(flask_app, portal, people["admin"])
    try:
        assert "No usage in this period" in str(page.update_kpis("2030-01", "2030-01", []))
        assert "No bill periods" in str(page.update_kpis(None, None, []))
        _, rows, status, _, _, hidden = page.update_increases("2030-01", "2030-01", [])
        assert rows == [] and "state-empty" in str(status) and hidden
        rows, status, _ = page.update_lines("2030-01", "2030-01", [])
        # every register line is listed, with no spend in a month without bills
        assert rows and all(r["spend"] == 0 for r in rows)
    finally:
        ctx.pop()


def test_callback_refuses_the_analyst(people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import overview as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        with pytest.raises(Forbidden):
            page.update_kpis(periods[0], periods[1], [])
        with pytest.raises(Forbidden):
            page.update_lines(periods[0], periods[1], [])
    finally:
        ctx.pop()


def test_layout_runs_without_a_user(flask_app):
    from selfcare.web.pages import overview as page

    assert page.layout() is not None
