"""Top 50 numbers dialled: figures, drill-down, exports and callbacks vs pandas on the raw CSVs.

The expected ranking is computed here from the generated export files (`raw`): scope from the HR
feed and line register, cost centre of the calling line from lines → employees, bill period from
the event time in the tenant's timezone (the `raw` helpers). Never from our own queries.
"""

from __future__ import annotations

import csv
import io
from contextvars import copy_context
from decimal import Decimal

import flask_login
import pandas as pd
import pytest

from selfcare import gate
from selfcare.services import users
from tests.conftest import login

VIEWERS = ["admin", "finance", "manager", "end_user", "admin2"]


# -- independent expectations -------------------------------------------------------------------


def _attribution(raw) -> dict[str, str]:
    """msisdn → cost centre of its employee ('UNASSIGNED' without a known employee)."""
    cc = dict(zip(raw.employees.employee_id, raw.employees.cost_centre_id, strict=True))
    return {m: cc.get(e, "UNASSIGNED") for m, e in zip(raw.lines.msisdn, raw.lines.employee_id,
                                                       strict=True)}


def _names(raw) -> dict[str, str]:
    names = dict(zip(raw.employees.employee_id, raw.employees.full_name, strict=True))
    return {m: names.get(e, "") for m, e in zip(raw.lines.msisdn, raw.lines.employee_id,
                                                strict=True)}


def _dialled(raw, people, profile, period_from, period_to, service="VOICE",
             destination_class=None, cost_centre=None) -> pd.DataFrame:
    """The viewer's MO events of the service with a number, in the periods and filters."""
    person = people[profile]
    c = raw.cdr_frame()
    c = c[c.tenant_id == person.tenant_id]
    if person.role not in ("admin", "finance"):
        c = c[c.msisdn.isin(raw.visible_lines(person.role, person.tenant_id, person.employee_id))]
    c = c[(c.bill_period >= period_from) & (c.bill_period <= period_to)]
    c = c[(c.direction == "MO") & (c.service == service) & (c.other_party != "")]
    if destination_class:
        c = c[c.destination_class == destination_class]
    if cost_centre:
        att = _attribution(raw)
        c = c[c.msisdn.map(lambda m: att.get(m, "UNKNOWN")) == cost_centre]
    return c


def expected_top(raw, people, profile, period_from, period_to, by="calls", **filters) -> list[dict]:
    c = _dialled(raw, people, profile, period_from, period_to, **filters)
    rows = []
    for number, g in c.groupby("other_party"):
        rows.append({
            "other_party": number,
            "destination_class": min(g.destination_class),
            "calls": len(g),
            "duration": int(g.duration.sum()),
            "cost": sum(g.charge_d, Decimal(0)),
            "lines": g.msisdn.nunique(),
        })
    measure = {"calls": lambda r: Decimal(r["calls"]), "minutes": lambda r: Decimal(r["duration"]),
               "cost": lambda r: r["cost"]}[by]
    total = sum((measure(r) for r in rows), Decimal(0))
    rows.sort(key=lambda r: (-measure(r), r["other_party"]))
    out = []
    for rank, r in enumerate(rows[:50], start=1):
        out.append({
            "rank": rank,
            "other_party": r["other_party"],
            "destination_class": r["destination_class"],
            "calls": r["calls"],
            "minutes": round(r["duration"] / 60, 4),
            "cost": r["cost"],
            "lines": r["lines"],
            "share": None if total == 0 else float(measure(r) / total),
        })
    return out


def expected_lines(raw, people, profile, period_from, period_to, number, **filters) -> list[dict]:
    c = _dialled(raw, people, profile, period_from, period_to, **filters)
    c = c[c.other_party == number]
    names = _names(raw)
    rows = [
        {"msisdn": m, "employee_name": names.get(m, ""), "calls": len(g),
         "minutes": round(int(g.duration.sum()) / 60, 4), "cost": sum(g.charge_d, Decimal(0))}
        for m, g in c.groupby("msisdn")
    ]
    rows.sort(key=lambda r: (-r["calls"], r["msisdn"]))
    return rows


# -- comparing ----------------------------------------------------------------------------------


def _dec(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def assert_top_equal(got: list[dict], want: list[dict]) -> None:
    assert [r["other_party"] for r in got] == [r["other_party"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert int(g["rank"]) == w["rank"]
        assert (g["destination_class"] or "") == w["destination_class"], g
        assert int(g["calls"]) == w["calls"], g
        assert abs(float(g["minutes"]) - w["minutes"]) < 1e-4, g
        assert _dec(g["cost"]) == w["cost"], g
        assert int(g["lines"]) == w["lines"], g
        if w["share"] is None:
            assert g["share"] in (None, "") or pd.isna(g["share"])
        else:
            assert abs(float(g["share"]) - w["share"]) < 1e-6, g


def assert_lines_equal(got: list[dict], want: list[dict]) -> None:
    assert [r["msisdn"] for r in got] == [r["msisdn"] for r in want]
    for g, w in zip(got, want, strict=True):
        name = g["employee_name"]
        assert (name if isinstance(name, str) else "") == w["employee_name"]
        assert int(g["calls"]) == w["calls"]
        assert abs(float(g["minutes"]) - w["minutes"]) < 1e-4
        assert _dec(g["cost"]) == w["cost"]


def _records(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:300]
    text = resp.data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def periods(raw):
    ps = sorted(raw.billing.bill_period.unique())
    return ps[0], ps[-1]


# -- the report ---------------------------------------------------------------------------------

CASES = [
    pytest.param(profile, by, service, id=f"{profile}-{by}-{service}")
    for profile in VIEWERS
    for by, service in (("calls", "VOICE"), ("minutes", "VOICE"), ("cost", "VOICE"),
                        ("calls", "SMS"))
]


@pytest.mark.parametrize(("profile", "by", "service"), CASES)
def test_top_numbers_match_the_raw_cdrs(profile, by, service, raw, people, scope_of, periods):
    want = expected_top(raw, people, profile, *periods, by=by, service=service)
    assert want, "the estate should have dialled numbers for every viewer"
    got = gate.run("reports.top_numbers", scope_of(profile), period_from=periods[0],
                   period_to=periods[1], service=service, by=by, destination_class=None,
                   cost_centre=None)
    assert_top_equal(_records(got), want)


def test_one_month_and_filters_match(raw, people, scope_of, periods):
    month = periods[1]
    att = _attribution(raw)
    t1_lines = raw.lines[raw.lines.tenant_id == people["admin"].tenant_id].msisdn
    cc = sorted({att[m] for m in t1_lines})[1]
    for dest, centre in (("OFFNET", None), (None, cc), ("FIXED", cc), (None, "UNASSIGNED")):
        want = expected_top(raw, people, "admin", month, month, by="cost",
                            destination_class=dest, cost_centre=centre)
        got = gate.run("reports.top_numbers", scope_of("admin"), period_from=month,
                       period_to=month, service="VOICE", by="cost", destination_class=dest,
                       cost_centre=centre)
        assert_top_equal(_records(got), want)
        if dest:
            assert set(got.destination_class) <= {dest}


def test_ranking_ties_break_by_number_ascending(raw, people, scope_of, periods):
    got = gate.run("reports.top_numbers", scope_of("admin"), period_from=periods[0],
                   period_to=periods[1], service="SMS", by="cost", destination_class=None,
                   cost_centre=None)
    # SMS in bundle cost nothing: many numbers tie on cost, so the tie-break decides the order
    ties = got.groupby("cost").other_party.apply(list)
    assert any(len(v) > 1 for v in ties), "expected ties on cost"
    for numbers in ties:
        assert numbers == sorted(numbers)


@pytest.mark.parametrize("profile", ["admin", "manager", "end_user"])
def test_drill_down_lists_only_visible_lines(profile, raw, people, scope_of, periods):
    person = people[profile]
    top = expected_top(raw, people, profile, *periods)
    number = top[0]["other_party"]
    got = gate.run("reports.top_numbers_lines", scope_of(profile), period_from=periods[0],
                   period_to=periods[1], number=number, service="VOICE", cost_centre=None)
    assert_lines_equal(_records(got), expected_lines(raw, people, profile, *periods, number))
    assert int(got.calls.sum()) == top[0]["calls"]
    if person.role not in ("admin", "finance"):
        visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
        assert set(got.msisdn) <= visible
        # the same number was called by lines outside this viewer's scope too: they stay hidden
        everyone = expected_lines(raw, people, "admin", *periods, number)
        assert len(everyone) > len(got)


def test_manager_never_sees_lines_outside_the_chain(raw, people, scope_of, periods):
    person = people["manager"]
    visible = raw.visible_lines("manager", person.tenant_id, person.employee_id)
    scope = scope_of("manager")
    top = gate.run("reports.top_numbers", scope, period_from=periods[0], period_to=periods[1],
                   service="VOICE", by="calls", destination_class=None, cost_centre=None)
    for number in top.other_party:
        lines = gate.run("reports.top_numbers_lines", scope, period_from=periods[0],
                         period_to=periods[1], number=number, service="VOICE", cost_centre=None)
        assert set(lines.msisdn) <= visible
    centres = gate.run("reports.top_numbers_cost_centres", scope)
    att = _attribution(raw)
    assert set(centres.cost_centre_id) == {att[m] for m in visible}


def test_tenant_two_admin_sees_no_tenant_one_number_or_line(raw, people, scope_of, periods):
    t1 = people["admin"].tenant_id
    t1_only = set(_dialled(raw, people, "admin", *periods).other_party) - set(
        _dialled(raw, people, "admin2", *periods).other_party)
    scope = scope_of("admin2")
    got = gate.run("reports.top_numbers", scope, period_from=periods[0], period_to=periods[1],
                   service="VOICE", by="calls", destination_class=None, cost_centre=None)
    assert not set(got.other_party) & t1_only
    for number in sorted(t1_only)[:3]:
        lines = gate.run("reports.top_numbers_lines", scope, period_from=periods[0],
                         period_to=periods[1], number=number, service="VOICE", cost_centre=None)
        assert lines.empty
    centres = gate.run("reports.top_numbers_cost_centres", scope)
    assert not any(c.startswith(t1) for c in centres.cost_centre_id)


def test_foreign_cost_centre_filter_returns_nothing(raw, people, scope_of, periods):
    person = people["end_user"]
    own = raw.visible_lines("end_user", person.tenant_id, person.employee_id)
    att = _attribution(raw)
    foreign = sorted({att[m] for m in raw.lines.msisdn} - {att[m] for m in own} - {"UNASSIGNED"})
    got = gate.run("reports.top_numbers", scope_of("end_user"), period_from=periods[0],
                   period_to=periods[1], service="VOICE", by="calls", destination_class=None,
                   cost_centre=foreign[0])
    assert got.empty


# -- exports --------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", VIEWERS)
def test_exports_match_the_raw_cdrs(profile, raw, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people[profile])
    url = (f"/export/top_numbers.csv?from={periods[0]}&to={periods[1]}"
           "&by=minutes&service=VOICE")
    rows = _csv(client.get(url))
    assert list(rows[0]) == ["rank", "other_party", "destination_class", "calls", "minutes",
                             "cost", "lines", "share"]
    want = expected_top(raw, people, profile, *periods, by="minutes")
    assert_top_equal(rows, want)

    number = want[0]["other_party"]
    rows = _csv(client.get(f"/export/top_numbers_lines.csv?from={periods[0]}&to={periods[1]}"
                           f"&number={number}"))
    assert list(rows[0]) == ["msisdn", "employee_name", "calls", "minutes", "cost"]
    assert_lines_equal(rows, expected_lines(raw, people, profile, *periods, number))


def test_export_filters_apply(raw, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["finance"])
    rows = _csv(client.get(f"/export/top_numbers.csv?from={periods[1]}&to={periods[1]}"
                           "&by=cost&service=VOICE&destination_class=INTERNATIONAL"))
    want = expected_top(raw, people, "finance", periods[1], periods[1], by="cost",
                        destination_class="INTERNATIONAL")
    assert_top_equal(rows, want)


def test_export_rejects_bad_filters(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["admin"])
    base = f"/export/top_numbers.csv?from={periods[0]}&to={periods[1]}"
    assert client.get(base + "&by=drop table").status_code == 400
    assert client.get(base + "&service=DATA").status_code == 400
    assert client.get(base + "&destination_class=MARS").status_code == 400
    lines = f"/export/top_numbers_lines.csv?from={periods[0]}&to={periods[1]}"
    assert client.get(lines + "&number=27' or 1=1").status_code == 400


def test_analyst_is_refused_page_and_exports(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["analyst"])
    assert client.get("/top-numbers").status_code == 403
    for report in ("top_numbers", "top_numbers_lines"):
        resp = client.get(f"/export/{report}.csv?from={periods[0]}&to={periods[1]}")
        assert resp.status_code == 403


def test_signed_out_gets_no_export(flask_app, periods):
    resp = flask_app.test_client().get(f"/export/top_numbers.csv?from={periods[0]}&to={periods[1]}")
    assert resp.status_code == 401


# -- callbacks ------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _run_triggered(func, prop_id: str, *args):
    """Call a callback with Dash's callback context saying which input fired."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return func(*args)

    return copy_context().run(run)


@pytest.mark.parametrize("profile", ["admin", "manager", "end_user"])
def test_callbacks_build_chart_grid_and_drill(profile, raw, people, portal, flask_app, periods):
    from selfcare.web.pages import top_numbers as page

    ctx = _as(flask_app, portal, people[profile])
    try:
        figure, rows, status, href = page.update_top_numbers(
            periods[0], periods[1], [], "VOICE", "cost", None, None)
        want = expected_top(raw, people, profile, *periods, by="cost")
        assert status is None
        assert [r["other_party"] for r in rows] == [w["other_party"] for w in want]
        assert list(figure.data[0].y) == [w["other_party"] for w in want]
        for bar, w in zip(figure.data[0].x, want, strict=True):
            assert abs(bar - float(round(w["cost"], 2))) < 0.006
        assert href.startswith(f"/export/top_numbers.csv?from={periods[0]}&to={periods[1]}")

        # incl. VAT: CDR-derived costs × 1.15
        _, vat_rows, _, _ = page.update_top_numbers(
            periods[0], periods[1], ["vat"], "VOICE", "cost", None, None)
        assert abs(vat_rows[0]["cost"] - float(round(want[0]["cost"] * Decimal("1.15"), 2))) \
            < 0.006

        number = want[0]["other_party"]
        title, line_rows, _, line_href = _run_triggered(
            page.update_lines, f"{page.GRID}.selectedRows", None, [{"other_party": number}],
            periods[0], periods[1], [], "VOICE", None)
        assert number in title
        expected = expected_lines(raw, people, profile, *periods, number)
        assert [r["msisdn"] for r in line_rows] == [e["msisdn"] for e in expected]
        assert f"number={number}" in line_href

        # a number sent back that is not digits never reaches a query
        _, none_rows, _, _ = _run_triggered(
            page.update_lines, f"{page.CHART}.clickData", {"points": [{"y": "27' or 1=1"}]},
            None, periods[0], periods[1], [], "VOICE", None)
        assert none_rows == []
    finally:
        ctx.pop()


def test_callback_empty_period_shows_empty_state(people, portal, flask_app):
    from selfcare.web.pages import top_numbers as page

    ctx = _as(flask_app, portal, people["admin"])
    try:
        _, rows, status, _ = page.update_top_numbers("2030-01", "2030-01", [], "VOICE", "calls",
                                                     None, None)
        assert rows == []
        assert "No usage in this period" in str(status)
    finally:
        ctx.pop()


def test_callback_refuses_the_analyst(people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import top_numbers as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        with pytest.raises(Forbidden):
            page.update_top_numbers(periods[0], periods[1], [], "VOICE", "calls", None, None)
    finally:
        ctx.pop()


def test_layout_runs_without_a_user(flask_app):
    from selfcare.web.pages import top_numbers as page

    assert page.layout() is not None
