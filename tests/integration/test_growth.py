"""Growth analysis: queries, exports (with forecast rows) and callbacks vs pandas on the raw files.

Expected series come from the generated export files (`raw`): invoice lines and CDRs attributed
here through the line register, the HR feed, the cost centres and the plan catalogue; the
analyst's view grouped over every tenant by industry and product type with small segments
removed. The forecast method is checked on hand-worked series in tests/unit/web/test_forecast.py;
here it is applied to these independent series.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

import flask_login
import pandas as pd
import pytest

from selfcare import gate
from selfcare.services import users
from selfcare.web import forecast as fc
from tests.conftest import login

TENANT_VIEWERS = [
    pytest.param("admin", id="admin"),
    pytest.param("finance", id="finance"),
    pytest.param("admin2", id="admin-tenant-2"),
]
PERSONAL = ("msisdn", "employee_id", "employee_name", "full_name", "email", "other_party",
            "tenant_id", "tenant_name", "name", "account_id")
VAT = Decimal("1.15")


@pytest.fixture(scope="module")
def periods(raw):
    return sorted(raw.billing.bill_period.unique())


def _month_no(p: str) -> int:
    return int(p[:4]) * 12 + int(p[5:])


# -- independent expectations -------------------------------------------------------------------


def _segments_of_line(raw, tenant_id: str) -> dict[str, dict[str, tuple[str, str]]]:
    """msisdn → {dimension: (segment_id, segment)} for the tenant's registered lines."""
    emp = raw.employees[raw.employees.tenant_id == tenant_id].set_index("employee_id")
    cc_names = dict(zip(raw.cost_centres.cost_centre_id, raw.cost_centres.name, strict=True))
    product = dict(zip(raw.plans.plan_code, raw.plans.product_type, strict=True))
    out = {}
    for r in raw.lines[raw.lines.tenant_id == tenant_id].itertuples(index=False):
        pt = product.get(r.plan_code, "Unknown plan")
        if r.employee_id in emp.index:
            e = emp.loc[r.employee_id]
            cc = (e.cost_centre_id, cc_names[e.cost_centre_id])
            territory = e.territory
        else:
            cc = ("UNASSIGNED", "Unassigned lines")
            territory = "Unassigned lines"
        out[r.msisdn] = {"product_type": (pt, pt), "cost_centre": cc,
                         "territory": (territory, territory)}
    return out


ACCOUNT_LEVEL = {"product_type": ("Account level", "Account level"),
                 "cost_centre": ("ACCOUNT_LEVEL", "Account level"),
                 "territory": ("Account level", "Account level")}
UNKNOWN = {"product_type": ("Unknown lines", "Unknown lines"),
           "cost_centre": ("UNKNOWN", "Unknown lines"),
           "territory": ("Unknown lines", "Unknown lines")}


def _growth(cur, prev) -> float | None:
    return None if prev is None or prev == 0 else (float(cur) / float(prev) - 1) * 100


def _with_growth(series: dict) -> dict:
    """{(dim, seg_id, period): row} → rows with mom/yoy from the month before / a year before."""
    out = {}
    for (dim, seg, period), r in series.items():
        m = _month_no(period)
        prev = next((v for (d, s, p), v in series.items()
                     if d == dim and s == seg and _month_no(p) == m - 1), None)
        last_year = next((v for (d, s, p), v in series.items()
                          if d == dim and s == seg and _month_no(p) == m - 12), None)
        out[(dim, seg, period)] = {
            **r,
            "mom_pct": _growth(r["spend"], prev and prev["spend"]),
            "yoy_pct": _growth(r["spend"], last_year and last_year["spend"]),
            "usage_mom_pct": _growth(r["usage_value"], prev and prev["usage_value"]),
            "usage_yoy_pct": _growth(r["usage_value"], last_year and last_year["usage_value"]),
        }
    return out


def _add(series, key, segment, spend=Decimal(0), incl=Decimal(0), usage=0.0, unit="events"):
    row = series.setdefault(key, {"segment": segment, "spend": Decimal(0),
                                  "spend_incl_vat": Decimal(0), "usage_value": 0.0,
                                  "usage_unit": unit})
    row["spend"] += spend
    row["spend_incl_vat"] += incl
    row["usage_value"] += usage


def expected_tenant(raw, people, profile, period_from, period_to) -> dict:
    tenant = people[profile].tenant_id
    seg = _segments_of_line(raw, tenant)
    b = raw.billing_frame()
    b = b[(b.tenant_id == tenant) & (b.bill_period <= period_to)]
    c = raw.cdr_frame()
    c = c[(c.tenant_id == tenant) & (c.bill_period <= period_to)]
    series: dict = {}
    for r in b.itertuples(index=False):
        segments = ACCOUNT_LEVEL if r.msisdn == "" else seg.get(r.msisdn, UNKNOWN)
        incl = r.amount_d + r.vat_d
        _add(series, ("total", "ALL", r.bill_period), "Total", r.amount_d, incl)
        for dim, (sid, name) in segments.items():
            _add(series, (dim, sid, r.bill_period), name, r.amount_d, incl)
    service_charge: dict = {}
    for r in c.itertuples(index=False):
        segments = seg.get(r.msisdn, UNKNOWN)
        _add(series, ("total", "ALL", r.bill_period), "Total", usage=1.0)
        for dim, (sid, name) in segments.items():
            _add(series, (dim, sid, r.bill_period), name, usage=1.0)
        unit, amount = {"VOICE": ("minutes", r.duration / 60), "DATA": ("MB", r.volume / 1024)}\
            .get(r.service, ("messages", 1.0))
        _add(series, ("service", r.service, r.bill_period), r.service, r.charge_d, usage=amount,
             unit=unit)
        service_charge[(r.service, r.bill_period)] = \
            service_charge.get((r.service, r.bill_period), Decimal(0)) + r.charge_d
    for (svc, period), total in service_charge.items():
        # money rounds half up to 1e-4 ZAR, as in the tariff model
        series[("service", svc, period)]["spend_incl_vat"] = (total * VAT).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP)
    rows = _with_growth(series)
    return {k: v for k, v in rows.items() if period_from <= k[2] <= period_to}


def expected_analyst(raw, period_from, period_to) -> dict:
    industry = dict(zip(raw.tenants.tenant_id, raw.tenants.industry, strict=True))
    product = dict(zip(raw.plans.plan_code, raw.plans.product_type, strict=True))
    plan_of = {(t, m): p for t, m, p in zip(raw.lines.tenant_id, raw.lines.msisdn,
                                            raw.lines.plan_code, strict=True)}

    def pt(tenant, msisdn):
        if msisdn == "":
            return "Account level"
        if (tenant, msisdn) not in plan_of:
            return "Unknown lines"
        return product.get(plan_of[(tenant, msisdn)], "Unknown plan")

    b = raw.billing_frame()
    b = b[b.bill_period <= period_to]
    c = raw.cdr_frame()
    c = c[c.bill_period <= period_to]
    series: dict = {}
    lines: dict = {}
    for r in b.itertuples(index=False):
        for dim, s in (("total", "Total"), ("industry", industry[r.tenant_id]),
                       ("product_type", pt(r.tenant_id, r.msisdn))):
            key = (dim, "ALL" if dim == "total" else s, r.bill_period)
            _add(series, key, s, r.amount_d, r.amount_d + r.vat_d)
            if r.msisdn:
                lines.setdefault(key, set()).add((r.tenant_id, r.msisdn))
    for r in c.itertuples(index=False):
        for dim, s in (("total", "Total"), ("industry", industry[r.tenant_id]),
                       ("product_type", pt(r.tenant_id, r.msisdn))):
            key = (dim, "ALL" if dim == "total" else s, r.bill_period)
            _add(series, key, s, usage=1.0)
            lines.setdefault(key, set()).add((r.tenant_id, r.msisdn))
    kept = {k: {**v, "lines": len(lines.get(k, ()))} for k, v in series.items()
            if len(lines.get(k, ())) >= gate.MIN_SEGMENT_LINES}
    rows = _with_growth(kept)
    return {k: v for k, v in rows.items() if period_from <= k[2] <= period_to}


def _close(got, want, places=4) -> bool:
    if want is None:
        return got is None or got != got  # None or NaN
    return got is not None and got == got and abs(float(got) - float(want)) < 10 ** -places


def _compare(df: pd.DataFrame, want: dict) -> None:
    got = {(r["dimension"], r["segment_id"], r["bill_period"]): r for r in df.to_dict("records")}
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g["segment"] == w["segment"], key
        assert round(Decimal(str(g["spend"])), 4) == w["spend"], (key, g, w)
        assert round(Decimal(str(g["spend_incl_vat"])), 4) == w["spend_incl_vat"], (key, g, w)
        assert _close(g["usage_value"], w["usage_value"]), (key, g, w)
        assert g["usage_unit"] == w["usage_unit"], key
        for col in ("mom_pct", "yoy_pct", "usage_mom_pct", "usage_yoy_pct"):
            assert _close(g[col], w[col], 6), (key, col, g[col], w[col])
        if "lines" in w:
            assert int(g["lines"]) == w["lines"], key


# -- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", TENANT_VIEWERS)
def test_growth_segments_match_the_raw_files(profile, raw, people, scope_of, periods):
    want = expected_tenant(raw, people, profile, periods[0], periods[-1])
    got = gate.run("reports.growth_segments", scope_of(profile), period_from=periods[0],
                   period_to=periods[-1])
    _compare(got, want)
    # the special segments the estate has are there and kept apart (the small estate has its
    # one account-level credit note in tenant 2)
    segments = set(got[got.dimension == "cost_centre"].segment_id)
    special = {"admin": {"UNKNOWN", "UNASSIGNED"}, "finance": {"UNKNOWN", "UNASSIGNED"},
               "admin2": {"ACCOUNT_LEVEL"}}[profile]
    assert special <= segments


def test_growth_looks_back_before_the_range(raw, people, scope_of, periods):
    # a one-month range still has a month-on-month change (from the month before it)
    want = expected_tenant(raw, people, "finance", periods[2], periods[2])
    got = gate.run("reports.growth_segments", scope_of("finance"), period_from=periods[2],
                   period_to=periods[2])
    _compare(got, want)
    assert got.mom_pct.notna().any()
    # fewer than 13 months of data: year on year is n/a everywhere
    assert got.yoy_pct.isna().all() and got.usage_yoy_pct.isna().all()


def test_analyst_growth_matches_all_tenants_without_small_segments(raw, scope_of, periods):
    want = expected_analyst(raw, periods[0], periods[-1])
    got = gate.run("analyst.growth_segments", scope_of("analyst"), period_from=periods[0],
                   period_to=periods[-1])
    _compare(got, want)
    assert set(got.dimension) == {"total", "industry", "product_type"}
    # account-level charges carry no line: that segment is always suppressed
    assert "Account level" not in set(got.segment)


def test_analyst_never_sees_a_line_person_or_tenant(raw, scope_of, periods):
    got = gate.run("analyst.growth_segments", scope_of("analyst"), period_from=periods[0],
                   period_to=periods[-1])
    assert not [c for c in got.columns if c in PERSONAL]
    text = set(got.select_dtypes(exclude="number").astype(str).stack())
    forbidden = (set(raw.lines.msisdn) | set(raw.tenants.name) | set(raw.tenants.tenant_id)
                 | set(raw.employees.full_name) | set(raw.employees.employee_id))
    assert not text & forbidden
    assert (got.lines >= gate.MIN_SEGMENT_LINES).all()


def test_tenant_profiles_cannot_run_the_analyst_query(scope_of, periods):
    for profile in ("admin", "finance"):
        with pytest.raises(gate.NotAllowed):
            gate.run("analyst.growth_segments", scope_of(profile), period_from=periods[0],
                     period_to=periods[-1])
    with pytest.raises(gate.NotAllowed):
        gate.run("reports.growth_segments", scope_of("analyst"), period_from=periods[0],
                 period_to=periods[-1])


def test_tenant_two_admin_never_sees_tenant_one(raw, people, scope_of, periods):
    got = gate.run("reports.growth_segments", scope_of("admin2"), period_from=periods[0],
                   period_to=periods[-1])
    t1 = people["admin"].tenant_id
    t1_cc = set(raw.cost_centres[raw.cost_centres.tenant_id == t1].cost_centre_id)
    assert not set(got.segment_id) & t1_cc
    b = raw.billing_frame()
    t2_total = sum(b[b.tenant_id == people["admin2"].tenant_id].amount_d, Decimal(0))
    total = got[got.dimension == "total"].spend.sum()
    assert round(Decimal(str(total)), 4) == t2_total


# -- exports ------------------------------------------------------------------------------------


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:300]
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


def _num(text: str) -> float | None:
    return None if text == "" else float(text)


def _check_export(rows, want, periods, history=None) -> None:
    """`want`: the expected rows of the range asked for; `history`: every period up to its end
    (the forecast is fitted on the whole history)."""
    history = want if history is None else history
    actual = [r for r in rows if r["kind"] == "actual"]
    assert len(actual) == len(want)
    by_name = {(k[0], w["segment"], k[2]): w for k, w in want.items()}
    for r in actual:
        w = by_name[(r["dimension"], r["segment"], r["bill_period"])]
        assert Decimal(r["spend"]) == w["spend"]
        assert _close(_num(r["usage_value"]), w["usage_value"])
        for col in ("mom_pct", "yoy_pct"):
            assert _close(_num(r[col]), w[col], 6)
    # three forecast rows per segment, from the segment's own series (missing months = 0)
    span = [p for p in periods]
    following = fc.next_periods(span[-1])
    forecast = [r for r in rows if r["kind"] == "forecast"]
    segments = {(k[0], k[1], w["segment"]) for k, w in want.items()}
    assert len(forecast) == 3 * len(segments)
    for dim, sid, name in segments:
        values = [float(history[(dim, sid, p)]["spend"]) if (dim, sid, p) in history else 0.0
                  for p in span]
        expected = fc.forecast(values).values
        got = [r for r in forecast if r["dimension"] == dim and r["segment"] == name]
        assert [r["bill_period"] for r in got] == following
        for r, e in zip(got, expected, strict=True):
            assert abs(float(r["spend"]) - e) < 1e-4
            assert r["mom_pct"] == "" and r["yoy_pct"] == ""
    # the hold-out test of the total: fitted without the last three months
    total = [float(history[("total", "ALL", p)]["spend"]) for p in span]
    holdout = [r for r in rows if r["kind"] == "holdout"]
    bt = fc.backtest(total)
    assert [r["bill_period"] for r in holdout] == span[-3:]
    for r, e in zip(holdout, bt.forecast, strict=True):
        assert abs(float(r["spend"]) - e) < 1e-4


@pytest.mark.parametrize("profile", TENANT_VIEWERS)
def test_export_matches_the_raw_files_with_forecast_rows(profile, raw, people, flask_app,
                                                          periods):
    client = flask_app.test_client()
    login(client, people[profile])
    rows = _csv(client.get(f"/export/growth.csv?from={periods[0]}&to={periods[-1]}"))
    assert list(rows[0]) == ["dimension", "segment", "bill_period", "kind", "spend",
                             "usage_value", "usage_unit", "mom_pct", "yoy_pct", "usage_mom_pct",
                             "usage_yoy_pct"]
    _check_export(rows, expected_tenant(raw, people, profile, periods[0], periods[-1]), periods)


def test_export_of_a_sub_range_forecasts_from_the_whole_history(raw, people, flask_app,
                                                                periods):
    client = flask_app.test_client()
    login(client, people["finance"])
    rows = _csv(client.get(f"/export/growth.csv?from={periods[-2]}&to={periods[-1]}"))
    assert {r["bill_period"] for r in rows if r["kind"] == "actual"} == set(periods[-2:])
    _check_export(rows, expected_tenant(raw, people, "finance", periods[-2], periods[-1]),
                  periods, expected_tenant(raw, people, "finance", periods[0], periods[-1]))


def test_analyst_export_is_aggregate_only(raw, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["analyst"])
    rows = _csv(client.get(f"/export/growth.csv?from={periods[0]}&to={periods[-1]}"))
    _check_export(rows, expected_analyst(raw, periods[0], periods[-1]), periods)
    assert not set(rows[0]) & set(PERSONAL)
    forbidden = set(raw.lines.msisdn) | set(raw.tenants.name) | set(raw.tenants.tenant_id)
    assert not {v for r in rows for v in r.values()} & forbidden


@pytest.mark.parametrize("profile", ["manager", "end_user"])
def test_other_profiles_are_refused_page_and_export(profile, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people[profile])
    assert client.get("/growth").status_code == 403
    assert client.get(f"/export/growth.csv?from={periods[0]}&to={periods[-1]}").status_code \
        == 403


def test_export_rejects_unknown_filters(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["admin"])
    base = f"/export/growth.csv?from={periods[0]}&to={periods[-1]}"
    assert client.get(base + "&msisdn=27820000000").status_code == 400
    assert client.get(f"/export/growth.csv?from={periods[-1]}&to={periods[0]}").status_code \
        == 400


# -- callbacks ----------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _expected_ranking(want: dict, dimension: str, last: str) -> list[str]:
    rows = [w | {"id": k[1]} for k, w in want.items() if k[0] == dimension and k[2] == last]
    with_growth = sorted((r for r in rows if r["mom_pct"] is not None),
                         key=lambda r: (-r["mom_pct"], -r["spend"], r["segment"]))
    without = sorted((r for r in rows if r["mom_pct"] is None),
                     key=lambda r: (-r["spend"], r["segment"]))
    return [r["segment"] for r in with_growth + without]


@pytest.mark.parametrize(
    "profile,dimension",
    [
        pytest.param("admin", "cost_centre", id="admin-cost-centre"),
        pytest.param("finance", "product_type", id="finance-product-type"),
        pytest.param("finance", "service", id="finance-service"),
        pytest.param("admin", "territory", id="admin-territory"),
        pytest.param("analyst", "industry", id="analyst-industry"),
        pytest.param("analyst", "product_type", id="analyst-product-type"),
    ],
)
def test_callbacks_rank_segments_and_forecast(profile, dimension, raw, people, portal, flask_app,
                                              periods):
    from selfcare.web.pages import growth as page

    ctx = _as(flask_app, portal, people[profile])
    try:
        options, value = page.update_dimensions(periods[0])
        assert dimension in [o["value"] for o in options]
        kpis, rank_fig, trend_fig, fc_fig, backtest, rows, status, href = page.update_growth(
            periods[0], periods[-1], [], dimension)
        assert status is None
        assert href == f"/export/growth.csv?from={periods[0]}&to={periods[-1]}"
        want = (expected_analyst(raw, periods[0], periods[-1]) if profile == "analyst"
                else expected_tenant(raw, people, profile, periods[0], periods[-1]))
        last = periods[-1]
        assert [r["segment"] for r in rows] == _expected_ranking(want, dimension, last)
        for r in rows:
            w = next(v for k, v in want.items()
                     if k[0] == dimension and k[2] == last and v["segment"] == r["segment"])
            assert abs(r["spend"] - float(w["spend"])) < 1e-4
            assert _close(r["mom_pct"], w["mom_pct"], 6)
            assert r["yoy_pct"] is None  # fewer than 13 months
        # the ranking chart shows the segments with a defined growth, fastest first
        shown = [r["segment"] for r in rows if r["mom_pct"] is not None]
        assert list(rank_fig.data[0].y) == shown
        # the trend chart: one line per segment, values = its monthly spend
        assert len(trend_fig.data) == len({k[1] for k in want if k[0] == dimension})
        # the forecast: total spend over the periods, the method on that series
        total = [float(want[("total", "ALL", p)]["spend"]) for p in periods]
        actual_trace, forecast_trace = fc_fig.data[0], fc_fig.data[1]
        assert list(actual_trace.y) == pytest.approx(total, abs=1e-4)
        assert list(forecast_trace.y)[1:] == pytest.approx(fc.forecast(total).values, abs=1e-6)
        assert list(forecast_trace.x)[1:] == fc.next_periods(periods[-1])
        bt = fc.backtest(total)
        assert f"MAPE {bt.mape:.1f} %" in str(backtest)
        assert f"{bt.mape:.1f} %" in str(kpis)
        assert "n/a" in str(kpis)  # year on year without 13 months
        # incl. VAT: the invoices' own VAT (and 15 % on CDR charges for the service dimension)
        *_, vat_rows, _, _ = page.update_growth(periods[0], periods[-1], ["vat"], dimension)
        for r in vat_rows:
            w = next(v for k, v in want.items()
                     if k[0] == dimension and k[2] == last and v["segment"] == r["segment"])
            assert abs(r["spend"] - float(w["spend_incl_vat"])) < 1e-4
    finally:
        ctx.pop()


def test_callback_for_one_month_ranks_it_and_forecasts_from_all_months(
        raw, people, portal, flask_app, periods):
    from selfcare.web.pages import growth as page

    month = periods[-1]
    ctx = _as(flask_app, portal, people["admin"])
    try:
        kpis, _, trend_fig, fc_fig, backtest, rows, status, _ = page.update_growth(
            month, month, [], "product_type")
        assert status is None
        want = expected_tenant(raw, people, "admin", month, month)
        assert [r["segment"] for r in rows] == _expected_ranking(want, "product_type", month)
        assert all(r["mom_pct"] is not None for r in rows if r["segment"] != "Unknown plan")
        total = [float(expected_tenant(raw, people, "admin", periods[0], month)
                       [("total", "ALL", p)]["spend"]) for p in periods]
        assert list(fc_fig.data[0].y) == pytest.approx(total, abs=1e-4)
        assert list(fc_fig.data[1].y)[1:] == pytest.approx(fc.forecast(total).values, abs=1e-6)
        assert "MAPE" in str(backtest)
        spend = want[("total", "ALL", month)]["spend"]
        assert components_money(spend) in str(kpis)
    finally:
        ctx.pop()


def components_money(amount) -> str:
    from selfcare.web import components

    return components.money(amount)


def test_callback_offers_only_the_profiles_dimensions(people, portal, flask_app, periods):
    from selfcare.web.pages import growth as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        options, _ = page.update_dimensions(periods[0])
        assert [o["value"] for o in options] == ["industry", "product_type"]
        # a tenant dimension sent by a browser falls back to the analyst's own
        *_, rows, status, _ = page.update_growth(periods[0], periods[-1], [], "cost_centre")
        assert status is None and rows
    finally:
        ctx.pop()


def test_callback_empty_period_shows_empty_state(people, portal, flask_app):
    from selfcare.web.pages import growth as page

    ctx = _as(flask_app, portal, people["admin"])
    try:
        *_, rows, status, _ = page.update_growth("2030-01", "2030-01", [], "product_type")
        assert rows == []
        assert "No spend or usage in this period" in str(status)
    finally:
        ctx.pop()


@pytest.mark.parametrize("profile", ["manager", "end_user"])
def test_callback_refuses_other_profiles(profile, people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import growth as page

    ctx = _as(flask_app, portal, people[profile])
    try:
        with pytest.raises(Forbidden):
            page.update_growth(periods[0], periods[-1], [], "product_type")
    finally:
        ctx.pop()


def test_layout_runs_without_a_user():
    from selfcare.web.pages import growth as page

    assert page.layout() is not None
