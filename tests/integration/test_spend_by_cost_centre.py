"""Spend by cost centre: the tree, the table, the drill-down and the exports vs pandas on the raw
CSVs, for every profile that may see the page; the page's total against the invoice total; its
callbacks; and the scope it must never leave.

Expected values come from `spend_support.Expect` (pandas + Decimal on the export files).
"""

from __future__ import annotations

from decimal import Decimal

import flask_login
import pytest

from selfcare import gate
from selfcare.services import users
from tests.conftest import login
from tests.integration.spend_support import D0, Expect, csv_rows, q, txt

VIEWERS = ["admin", "finance", "manager", "admin2"]
CASES = [pytest.param(p, id=p) for p in VIEWERS]
SPECIAL = {"ACCOUNT_LEVEL", "UNASSIGNED", "UNKNOWN"}


@pytest.fixture(scope="module")
def periods(raw):
    ps = sorted(raw.billing.bill_period.unique())
    return ps[-4], ps[-2]


def _expect(raw, people, profile) -> Expect:
    return Expect(raw, people[profile])


def _invoice_total(raw, people, profile, period_from, period_to) -> tuple[Decimal, Decimal]:
    """The invoice total for the profile's scope, straight off the billing CSVs."""
    b = _expect(raw, people, profile).billing()
    b = b[(b.bill_period >= period_from) & (b.bill_period <= period_to)]
    return sum(b.amount_d, D0), sum(b.vat_d, D0)


# -- the queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", CASES)
def test_monthly_rows_match_and_add_up_to_the_invoices(profile, raw, people, scope_of, periods):
    want = _expect(raw, people, profile).by_cost_centre(*periods)
    df = gate.run("reports.spend_by_cost_centre", scope_of(profile), period_from=periods[0],
                  period_to=periods[1])
    got = {(r.bill_period, r.cost_centre_id): r for r in df.itertuples(index=False)}
    assert set(got) == set(want)
    for key, w in want.items():
        assert int(got[key].lines) == w["lines"], key
        assert q(got[key].amount_excl_vat) == q(w["amount"]), key
        assert q(got[key].vat) == q(w["vat"]), key
        assert q(got[key].amount_incl_vat) == q(w["amount"] + w["vat"]), key
    amount, vat = _invoice_total(raw, people, profile, *periods)
    assert q(sum((Decimal(str(v)) for v in df.amount_excl_vat), D0)) == q(amount)
    assert q(sum((Decimal(str(v)) for v in df.vat), D0)) == q(vat)


def test_special_rows_are_never_left_out(raw, people, scope_of, periods):
    """Tenant 1 has unassigned and unknown lines, tenant 2 account-level charges (the estate);
    each shows as its own row for an admin, none for a manager."""
    ps = sorted(raw.billing.bill_period.unique())
    seen = set()
    for profile in ("admin", "admin2"):
        df = gate.run("reports.spend_by_cost_centre", scope_of(profile), period_from=ps[0],
                      period_to=ps[-1])
        seen |= set(df.cost_centre_id) & SPECIAL
        names = dict(zip(df.cost_centre_id, df.cost_centre_name, strict=True))
        for cc, name in (("ACCOUNT_LEVEL", "Account level"), ("UNASSIGNED", "Unassigned lines"),
                         ("UNKNOWN", "Unknown lines")):
            if cc in names:
                assert names[cc] == name
    assert seen == SPECIAL
    df = gate.run("reports.spend_by_cost_centre", scope_of("manager"), period_from=ps[0],
                  period_to=ps[-1])
    assert not set(df.cost_centre_id) & SPECIAL


@pytest.mark.parametrize("profile", CASES)
def test_tree_rolls_spend_up_the_cost_centre_parents(profile, raw, people, scope_of, periods):
    expect = _expect(raw, people, profile)
    want = expect.tree(*periods)
    df = gate.run("reports.spend_by_cost_centre_tree", scope_of(profile), period_from=periods[0],
                  period_to=periods[1])
    got = {r.cost_centre_id: r for r in df.itertuples(index=False)}
    assert set(got) == set(want)
    parents = expect.parents()
    for cc, w in want.items():
        r = got[cc]
        assert q(r.amount_excl_vat) == q(w["amount"]), cc
        assert q(r.amount_incl_vat) == q(w["amount"] + w["vat"]), cc
        assert int(r.lines) == w["lines"], cc
        assert q(r.previous_amount_excl_vat) == q(w["previous_amount"]), cc
        assert q(r.change_excl_vat) == q(w["amount"] - w["previous_amount"]), cc
        assert q(r.direct_amount_excl_vat) == q(w["direct_amount"]), cc
        if w["lines"]:
            assert q(r.spend_per_line_excl_vat) == q(w["amount"] / w["lines"]), cc
        assert txt(r.parent_cost_centre_id) == (parents.get(cc) or ""), cc
    # the page's total (the sum of direct spend) is the invoice total
    from selfcare.web.figures import spend_by_cost_centre as fig

    amount, vat = _invoice_total(raw, people, profile, *periods)
    assert q(fig.tree_total(df)) == q(amount)
    assert q(fig.tree_total(df, incl_vat=True)) == q(amount + vat)


@pytest.mark.parametrize("profile", CASES)
def test_drill_down_employees_and_lines(profile, raw, people, scope_of, periods):
    expect = _expect(raw, people, profile)
    tree = expect.tree(*periods)
    scope = scope_of(profile)
    checked = 0
    for cc in sorted(tree):
        want = expect.employees(*periods, cc)
        df = gate.run("reports.spend_by_employee", scope, period_from=periods[0],
                      period_to=periods[1], cost_centre_id=cc)
        got: dict[str, list] = {}
        for r in df.itertuples(index=False):
            e = got.setdefault(txt(r.employee_id), [0, D0, D0])
            e[0] += int(r.lines)
            e[1] += Decimal(str(r.amount_excl_vat))
            e[2] += Decimal(str(r.vat))
        assert {e: (v[0], q(v[1]), q(v[2])) for e, v in got.items()} == {
            e: (w["lines"], q(w["amount"]), q(w["vat"])) for e, w in want.items()}, cc
        lines = gate.run("reports.lines_spend", scope, period_from=periods[0],
                         period_to=periods[1], cost_centre_id=cc, employee_id=None)
        want_lines = expect.lines(*periods, cost_centre=cc)
        assert {m: q(a) for m, a in zip(lines.msisdn, lines.amount_excl_vat, strict=True)} == {
            m: q(w["amount"]) for m, w in want_lines.items()}, cc
        checked += 1
    assert checked >= 3


# -- exports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", CASES)
def test_exports_match_the_raw_files(profile, raw, people, flask_app, periods):
    expect = _expect(raw, people, profile)
    client = flask_app.test_client()
    login(client, people[profile])
    query = f"from={periods[0]}&to={periods[1]}"

    rows = csv_rows(client.get(f"/export/spend_by_cost_centre.csv?{query}"))
    assert list(rows[0]) == ["bill_period", "cost_centre_id", "cost_centre_name", "lines",
                             "amount_excl_vat", "vat", "amount_incl_vat"]
    want = expect.by_cost_centre(*periods)
    assert {(r["bill_period"], r["cost_centre_id"]): (int(r["lines"]), q(r["amount_excl_vat"]),
                                                      q(r["vat"]), q(r["amount_incl_vat"]))
            for r in rows} == {k: (w["lines"], q(w["amount"]), q(w["vat"]),
                                   q(w["amount"] + w["vat"])) for k, w in want.items()}
    amount, vat = _invoice_total(raw, people, profile, *periods)
    assert q(sum((Decimal(r["amount_incl_vat"]) for r in rows), D0)) == q(amount + vat)

    rows = csv_rows(client.get(f"/export/spend_by_cost_centre_tree.csv?{query}"))
    tree = expect.tree(*periods)
    assert {r["cost_centre_id"]: q(r["amount_excl_vat"]) for r in rows} == {
        cc: q(w["amount"]) for cc, w in tree.items()}

    cc = sorted(c for c in tree if c not in SPECIAL)[-1]
    rows = csv_rows(client.get(f"/export/spend_by_employee.csv?{query}&cost_centre={cc}"))
    want_emp = expect.employees(*periods, cc)
    assert q(sum((Decimal(r["amount_excl_vat"]) for r in rows), D0)) == q(
        sum((w["amount"] for w in want_emp.values()), D0))
    assert {r["employee_id"] for r in rows} == set(want_emp)


def test_exports_refuse_bad_filters(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["admin"])
    base = f"/export/spend_by_employee.csv?from={periods[0]}&to={periods[1]}"
    assert client.get(base + "&cost_centre=a'b").status_code == 400
    assert client.get(base + "&bogus=1").status_code == 400
    assert client.get(f"/export/spend_by_cost_centre.csv?from={periods[1]}&to={periods[0]}")\
        .status_code == 400


# -- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["analyst", "end_user"])
def test_profiles_outside_the_page_are_refused(profile, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people[profile])
    assert client.get("/spend-by-cost-centre").status_code == 403
    for report in ("spend_by_cost_centre", "spend_by_cost_centre_tree", "spend_by_employee"):
        resp = client.get(f"/export/{report}.csv?from={periods[0]}&to={periods[1]}")
        assert resp.status_code == 403, report


def test_manager_sees_only_the_chain(raw, people, scope_of, periods):
    expect = _expect(raw, people, "manager")
    scope = scope_of("manager")
    ps = sorted(raw.billing.bill_period.unique())
    df = gate.run("reports.spend_by_cost_centre_tree", scope, period_from=ps[0],
                  period_to=ps[-1])
    assert not set(df.cost_centre_id) & SPECIAL
    seen = set()
    for cc in df.cost_centre_id:
        lines = gate.run("reports.lines_spend", scope, period_from=ps[0], period_to=ps[-1],
                         cost_centre_id=cc, employee_id=None)
        seen |= set(lines.msisdn)
    assert seen and seen <= expect.visible
    # the manager's total is the invoice total of the chain's lines only
    admin_total = _invoice_total(raw, people, "admin", ps[0], ps[-1])[0]
    manager_total = _invoice_total(raw, people, "manager", ps[0], ps[-1])[0]
    from selfcare.web.figures import spend_by_cost_centre as fig

    assert q(fig.tree_total(df)) == q(manager_total) != q(admin_total)


def test_tenant_two_admin_sees_no_tenant_one_data(raw, people, scope_of, periods):
    t1_cc = set(Expect(raw, people["admin"]).parents())
    scope = scope_of("admin2")
    df = gate.run("reports.spend_by_cost_centre_tree", scope, period_from=periods[0],
                  period_to=periods[1])
    assert len(df) and not (set(df.cost_centre_id) & t1_cc)
    for cc in sorted(t1_cc)[:3]:
        assert gate.run("reports.spend_by_employee", scope, period_from=periods[0],
                        period_to=periods[1], cost_centre_id=cc).empty


# -- callbacks ------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _run_triggered(func, prop_id: str, *args):
    """Call a callback with Dash's callback context saying which input fired."""
    from contextvars import copy_context

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return func(*args)

    return copy_context().run(run)


@pytest.mark.parametrize("profile", ["admin", "finance", "manager"])
def test_callbacks_build_tree_table_and_drill(profile, raw, people, portal, flask_app, periods):
    from selfcare.web.components import money
    from selfcare.web.pages import spend_by_cost_centre as page

    expect = _expect(raw, people, profile)
    tree = expect.tree(*periods)
    amount, vat = _invoice_total(raw, people, profile, *periods)
    ctx = _as(flask_app, portal, people[profile])
    try:
        figure, rows, total, status, link, tree_link = page.update_tree(*periods, [])
        assert status is None
        assert total.children[1].children == money(amount)
        assert {r["cost_centre_id"]: r["spend"] for r in rows} == {
            cc: float(round(w["amount"], 2)) for cc, w in tree.items()}
        assert link == f"/export/spend_by_cost_centre.csv?from={periods[0]}&to={periods[1]}"
        assert tree_link.startswith("/export/spend_by_cost_centre_tree.csv?")
        treemap = figure.data[0]
        assert set(treemap.ids) == set(tree) | {"__all__"}
        hover = dict(zip(treemap.ids, (c[0] for c in treemap.customdata), strict=True))
        for cc, w in tree.items():
            assert abs(hover[cc] - float(w["amount"])) < 1e-6, cc
        assert abs(hover["__all__"] - float(amount)) < 1e-6

        _, _, total_vat, _, _, _ = page.update_tree(*periods, ["vat"])
        assert total_vat.children[1].children == money(amount + vat)

        cc = max((c for c in tree if c not in SPECIAL), key=lambda c: tree[c]["amount"])
        picked = _run_triggered(page.update_selected, f"{page.GRID}.selectedRows",
                                [{"cost_centre_id": cc}], None)
        assert picked == cc
        assert _run_triggered(page.update_selected, f"{page.TREE}.clickData", None,
                              {"points": [{"id": "x' or 1=1"}]}) is None

        emp_rows, _, emp_link, title = page.update_employees(cc, *periods, [])
        want_emp = expect.employees(*periods, cc)
        assert {r["employee_id"]: r["spend"] for r in emp_rows} == {
            e: float(round(w["amount"], 2)) for e, w in want_emp.items()}
        assert f"cost_centre={cc}" in emp_link and cc in title

        line_rows, _, line_link = _run_triggered(page.update_lines, f"{page.SELECTED}.data",
                                                 cc, None, *periods, [])
        assert {r["msisdn"] for r in line_rows} == set(expect.lines(*periods, cost_centre=cc))
        employee = sorted(e for e in want_emp if e)[0]
        line_rows, _, line_link = _run_triggered(
            page.update_lines, f"{page.EMPLOYEES_GRID}.selectedRows", cc,
            [{"employee_id": employee}], *periods, [])
        assert {r["msisdn"] for r in line_rows} == set(
            expect.lines(*periods, cost_centre=cc, employee=employee))
        assert f"employee={employee}" in line_link

        link = page.update_lines_itemised([{"msisdn": line_rows[0]["msisdn"]}])
        assert link.children.href == f"/itemised?msisdn={line_rows[0]['msisdn']}"
    finally:
        ctx.pop()


def test_callbacks_show_empty_states(people, portal, flask_app):
    from selfcare.web.pages import spend_by_cost_centre as page

    ctx = _as(flask_app, portal, people["admin"])
    try:
        _, rows, _, status, _, _ = page.update_tree("2030-01", "2030-01", [])
        assert rows == [] and "No usage in this period" in str(status)
        _, rows, _, status, _, _ = page.update_tree(None, None, [])
        assert rows == [] and "state-empty" in str(status)
    finally:
        ctx.pop()


@pytest.mark.parametrize("profile", ["end_user", "analyst"])
def test_callback_refuses_other_profiles(profile, people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import spend_by_cost_centre as page

    ctx = _as(flask_app, portal, people[profile])
    try:
        with pytest.raises(Forbidden):
            page.update_tree(*periods, [])
        with pytest.raises(Forbidden):
            page.update_employees("T01-CC001", *periods, [])
    finally:
        ctx.pop()


def test_layout_runs_without_a_user(flask_app):
    from selfcare.web.pages import spend_by_cost_centre as page

    assert page.layout() is not None
