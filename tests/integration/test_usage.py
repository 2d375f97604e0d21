"""Usage month on month: queries, exports and callbacks vs pandas on the raw CDR files.

Expected figures come from the generated export files (`raw`): the viewer's lines from the HR feed
and line register, the bill period from the event time in the tenant's timezone, in-bundle = an
event charged zero. Never from our own queries.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import flask_login
import pandas as pd
import pytest

from selfcare import gate
from selfcare.services import users
from tests.conftest import login

VIEWERS = [
    pytest.param("admin", id="admin"),
    pytest.param("finance", id="finance"),
    pytest.param("manager", id="manager-chain"),
    pytest.param("end_user", id="end-user-own-lines"),
    pytest.param("admin2", id="admin-tenant-2"),
]
SERVICES = ("DATA", "MMS", "SMS", "VOICE")


@pytest.fixture(scope="module")
def periods(raw):
    return sorted(raw.billing.bill_period.unique())


def _cdrs(raw, people, profile, period_from, period_to) -> pd.DataFrame:
    person = people[profile]
    c = raw.cdr_frame()
    c = c[c.tenant_id == person.tenant_id]
    if person.role not in ("admin", "finance"):
        c = c[c.msisdn.isin(raw.visible_lines(person.role, person.tenant_id, person.employee_id))]
    return c[(c.bill_period >= period_from) & (c.bill_period <= period_to)]


def expected_monthly(raw, people, profile, period_from, period_to, service=None) -> list[dict]:
    c = _cdrs(raw, people, profile, period_from, period_to)
    if service:
        c = c[c.service == service]
    rows = []
    for (period, svc), g in sorted(c.groupby(["bill_period", "service"])):
        rows.append({
            "bill_period": period,
            "service": svc,
            "events": len(g),
            "minutes": g.duration.sum() / 60 if svc == "VOICE" else 0.0,
            "sms": len(g) if svc == "SMS" else 0,
            "mms": len(g) if svc == "MMS" else 0,
            "data_mb": g.volume.sum() / 1024 if svc == "DATA" else 0.0,
            "in_bundle_events": int((g.charge_d == 0).sum()),
            "out_of_bundle_charge": sum(g.charge_d, Decimal(0)),
            "roaming_charge": sum(g[g.roaming_country != ""].charge_d, Decimal(0)),
        })
    return rows


def expected_roaming(raw, people, profile, period_from, period_to) -> list[dict]:
    c = _cdrs(raw, people, profile, period_from, period_to)
    c = c[c.roaming_country != ""]
    rows = []
    for (period, country, svc), g in sorted(c.groupby(["bill_period", "roaming_country",
                                                        "service"])):
        rows.append({
            "bill_period": period,
            "roaming_country": country,
            "service": svc,
            "lines": g.msisdn.nunique(),
            "events": len(g),
            "minutes": g.duration.sum() / 60 if svc == "VOICE" else 0.0,
            "data_mb": g.volume.sum() / 1024 if svc == "DATA" else 0.0,
            "charge": sum(g.charge_d, Decimal(0)),
        })
    return rows


def _same(got_rows: list[dict], want_rows: list[dict]) -> None:
    """Row by row, every column: counts exact, amounts and volumes to 4 decimal places."""
    assert len(got_rows) == len(want_rows)
    for got, want in zip(got_rows, want_rows, strict=True):
        for key, value in want.items():
            g = got[key]
            if isinstance(value, Decimal):
                assert round(Decimal(str(g)), 4) == value, (key, got, want)
            elif isinstance(value, float):
                assert abs(float(g) - value) < 1e-4, (key, got, want)
            elif isinstance(value, int):
                assert int(float(g)) == value, (key, got, want)
            else:
                assert str(g) == str(value), (key, got, want)


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:300]
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


# -- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", VIEWERS)
def test_usage_monthly_matches_the_raw_cdrs(profile, raw, people, scope_of, periods):
    want = expected_monthly(raw, people, profile, periods[0], periods[-1])
    assert want, "every viewer should have usage in the small estate"
    got = gate.run("reports.usage_monthly", scope_of(profile), period_from=periods[0],
                   period_to=periods[-1], service=None)
    _same(got.to_dict("records"), want)


def test_usage_monthly_service_filter_and_sub_range(raw, people, scope_of, periods):
    want = expected_monthly(raw, people, "finance", periods[1], periods[2], service="DATA")
    got = gate.run("reports.usage_monthly", scope_of("finance"), period_from=periods[1],
                   period_to=periods[2], service="DATA")
    assert set(got.service) == {"DATA"}
    _same(got.to_dict("records"), want)


def test_in_bundle_and_out_of_bundle_split_is_complete(raw, people, scope_of, periods):
    # the special rows: charged and free events, and roaming, all present in the estate
    c = _cdrs(raw, people, "admin", periods[0], periods[-1])
    assert (c.charge_d == 0).any() and (c.charge_d > 0).any() and (c.roaming_country != "").any()
    got = gate.run("reports.usage_monthly", scope_of("admin"), period_from=periods[0],
                   period_to=periods[-1], service=None)
    assert int(got.events.sum()) == len(c)
    assert int(got.in_bundle_events.sum()) == int((c.charge_d == 0).sum())
    assert round(Decimal(str(got.out_of_bundle_charge.sum())), 4) == sum(c.charge_d, Decimal(0))


@pytest.mark.parametrize("profile", VIEWERS)
def test_usage_roaming_matches_the_raw_cdrs(profile, raw, people, scope_of, periods):
    want = expected_roaming(raw, people, profile, periods[0], periods[-1])
    got = gate.run("reports.usage_roaming", scope_of(profile), period_from=periods[0],
                   period_to=periods[-1])
    _same(got.to_dict("records"), want)


def test_roaming_is_present_for_the_admin(raw, people, periods):
    assert expected_roaming(raw, people, "admin", periods[0], periods[-1])


# -- scope --------------------------------------------------------------------------------------


def test_manager_and_end_user_see_only_their_lines(raw, people, scope_of, periods):
    admin = gate.run("reports.usage_monthly", scope_of("admin"), period_from=periods[0],
                     period_to=periods[-1], service=None)
    for profile in ("manager", "end_user"):
        got = gate.run("reports.usage_monthly", scope_of(profile), period_from=periods[0],
                       period_to=periods[-1], service=None)
        assert got.events.sum() < admin.events.sum()
        person = people[profile]
        visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
        c = raw.cdr_frame()
        c = c[(c.tenant_id == person.tenant_id) & c.msisdn.isin(visible)]
        assert int(got.events.sum()) == len(c)


def test_tenant_two_admin_never_sees_tenant_one(raw, people, scope_of, periods):
    got = gate.run("reports.usage_monthly", scope_of("admin2"), period_from=periods[0],
                   period_to=periods[-1], service=None)
    c = raw.cdr_frame()
    t2 = c[c.tenant_id == people["admin2"].tenant_id]
    assert int(got.events.sum()) == len(t2)
    assert len(t2) < len(c)


def test_analyst_may_not_run_usage_queries(scope_of, periods):
    with pytest.raises(gate.NotAllowed):
        gate.run("reports.usage_monthly", scope_of("analyst"), period_from=periods[0],
                 period_to=periods[-1], service=None)


# -- exports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", VIEWERS)
def test_exports_match_the_raw_cdrs(profile, raw, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people[profile])
    rows = _csv(client.get(f"/export/usage_monthly.csv?from={periods[0]}&to={periods[-1]}"))
    assert list(rows[0]) == ["bill_period", "service", "events", "minutes", "sms", "mms",
                             "data_mb", "in_bundle_events", "out_of_bundle_charge",
                             "roaming_charge"]
    _same(rows, expected_monthly(raw, people, profile, periods[0], periods[-1]))
    rows = _csv(client.get(f"/export/usage_roaming.csv?from={periods[0]}&to={periods[-1]}"))
    _same(rows, expected_roaming(raw, people, profile, periods[0], periods[-1]))


def test_export_service_filter_and_bad_values(raw, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["manager"])
    base = f"/export/usage_monthly.csv?from={periods[0]}&to={periods[-1]}"
    rows = _csv(client.get(base + "&service=VOICE"))
    _same(rows, expected_monthly(raw, people, "manager", periods[0], periods[-1], "VOICE"))
    assert client.get(base + "&service=FAX").status_code == 400
    assert client.get(base + "&msisdn=27820000000").status_code == 400


def test_analyst_is_refused_page_and_exports(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["analyst"])
    assert client.get("/usage").status_code == 403
    for name in ("usage_monthly", "usage_roaming"):
        assert client.get(f"/export/{name}.csv?from={periods[0]}&to={periods[-1]}")\
            .status_code == 403


def test_signed_out_gets_no_export(flask_app, periods):
    resp = flask_app.test_client().get(
        f"/export/usage_monthly.csv?from={periods[0]}&to={periods[-1]}")
    assert resp.status_code == 401


# -- callbacks ----------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _previous(period: str) -> str:
    y, m = (int(p) for p in period.split("-"))
    return f"{y - 1:04d}-12" if m == 1 else f"{y:04d}-{m - 1:02d}"


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user"])
def test_callbacks_build_kpis_charts_and_grid(profile, raw, people, portal, flask_app, periods):
    from selfcare.web.pages import usage as page

    ctx = _as(flask_app, portal, people[profile])
    try:
        kpis, volume, mom, bundle, rows, status, href = page.update_usage(
            periods[0], periods[-1], [], None)
        assert status is None
        assert href == f"/export/usage_monthly.csv?from={periods[0]}&to={periods[-1]}"
        want = expected_monthly(raw, people, profile, periods[0], periods[-1])
        by_key = {(w["bill_period"], w["service"]): w for w in want}
        assert len(rows) == len(want)
        unit_value = {
            "VOICE": lambda w: w["minutes"], "SMS": lambda w: float(w["sms"]),
            "MMS": lambda w: float(w["mms"]), "DATA": lambda w: w["data_mb"] / 1024,
        }
        for r in rows:
            w = by_key[(r["bill_period"], r["service"])]
            value = unit_value[r["service"]](w)
            assert abs(r["usage"] - value) < 1e-4
            assert r["events"] == w["events"]
            assert r["out_of_bundle_events"] == w["events"] - w["in_bundle_events"]
            assert abs(r["out_of_bundle_charge"] - float(w["out_of_bundle_charge"])) < 1e-4
            prev = by_key.get((_previous(r["bill_period"]), r["service"]))
            if prev is None or unit_value[r["service"]](prev) == 0:
                assert r["mom_pct"] is None
            else:
                want_mom = (value / unit_value[r["service"]](prev) - 1) * 100
                assert abs(r["mom_pct"] - want_mom) < 1e-3
        # the volume chart: one bar series per service, values = the usage per period
        voice = next(t for t in volume.data if t.name == "Voice minutes")
        voice_want = [w["minutes"] for w in want if w["service"] == "VOICE"]
        assert list(voice.y) == pytest.approx(voice_want, abs=1e-4)
        # in/out of bundle chart totals
        in_bundle = next(t for t in bundle.data if t.name.startswith("In bundle"))
        assert sum(in_bundle.y) == sum(w["in_bundle_events"] for w in want)
        assert "Out-of-bundle charge" in str(kpis)
        # incl. VAT: CDR-derived costs × 1.15
        _, _, _, _, vat_rows, _, _ = page.update_usage(periods[0], periods[-1], ["vat"], None)
        for r in vat_rows:
            w = by_key[(r["bill_period"], r["service"])]
            expected = (w["out_of_bundle_charge"] * Decimal("1.15")).quantize(Decimal("0.0001"))
            assert abs(r["out_of_bundle_charge"] - float(expected)) < 1e-4

        fig, roam_rows, roam_status, roam_href = page.update_roaming(periods[0], periods[-1], [])
        want_roam = expected_roaming(raw, people, profile, periods[0], periods[-1])
        if want_roam:
            assert roam_status is None
            _same(roam_rows, want_roam)
            total = sum(sum(t.y) for t in fig.data)
            assert abs(total - float(sum(w["charge"] for w in want_roam))) < 1e-3
        else:
            assert roam_rows == [] and "No roaming" in str(roam_status)
        assert roam_href.startswith("/export/usage_roaming.csv?from=")
    finally:
        ctx.pop()


def test_callback_one_month_still_shows_the_change_from_the_month_before(
        raw, people, portal, flask_app, periods):
    from selfcare.web.pages import usage as page

    month = periods[-1]
    ctx = _as(flask_app, portal, people["manager"])
    try:
        kpis, *_, rows, status, href = page.update_usage(month, month, [], None)
        assert status is None and {r["bill_period"] for r in rows} == {month}
        assert href == f"/export/usage_monthly.csv?from={month}&to={month}"
        want = {w["service"]: w for w in
                expected_monthly(raw, people, "manager", periods[-2], periods[-1])
                if w["bill_period"] == periods[-2]}
        now = {w["service"]: w for w in expected_monthly(raw, people, "manager", month, month)}
        for r in rows:
            key = {"VOICE": "minutes", "SMS": "sms", "MMS": "mms", "DATA": "data_mb"}[r["service"]]
            before, after = float(want[r["service"]][key]), float(now[r["service"]][key])
            assert abs(r["mom_pct"] - (after / before - 1) * 100) < 1e-3
        voice = now["VOICE"]["minutes"]
        assert f"{voice:,.1f} minutes".replace(",", " ") in str(kpis)
    finally:
        ctx.pop()


def test_callback_service_filter_goes_into_the_link(people, portal, flask_app, periods):
    from selfcare.web.pages import usage as page

    ctx = _as(flask_app, portal, people["finance"])
    try:
        *_, rows, _, href = page.update_usage(periods[0], periods[-1], [], "SMS")
        assert {r["service"] for r in rows} == {"SMS"}
        assert href.endswith("&service=SMS")
        # a value the browser made up is ignored, never passed to a query
        *_, rows, _, href = page.update_usage(periods[0], periods[-1], [], "'; drop")
        assert {r["service"] for r in rows} == set(SERVICES)
        assert "service" not in href
    finally:
        ctx.pop()


def test_callback_empty_period_shows_empty_state(people, portal, flask_app):
    from selfcare.web.pages import usage as page

    ctx = _as(flask_app, portal, people["admin"])
    try:
        *_, rows, status, _ = page.update_usage("2030-01", "2030-01", [], None)
        assert rows == []
        assert "No usage in this period" in str(status)
    finally:
        ctx.pop()


def test_callback_refuses_the_analyst(people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import usage as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        with pytest.raises(Forbidden):
            page.update_usage(periods[0], periods[-1], [], None)
        with pytest.raises(Forbidden):
            page.update_roaming(periods[0], periods[-1], [])
    finally:
        ctx.pop()


def test_layout_runs_without_a_user():
    from selfcare.web.pages import usage as page

    assert page.layout() is not None
