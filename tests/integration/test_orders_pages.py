"""The Lines, line, Requests, order and approval settings pages, through Dash's real callback
endpoint with the Flask test client, signed in through the login form.

Who sees which line is computed here from the raw CSVs (`raw.visible_lines`), never through the
services; orders are placed by clicking the line page's form and then looked for on the
Requests page and the order page as each profile sees them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import dash
import pytest

from tests.conftest import login

TENANT_PROFILES = ["admin", "finance", "manager", "end_user"]


# --- calling callbacks as the browser does -------------------------------------------------------


def post(client, outputs, inputs=(), state=(), changed=()):
    """POST /_dash-update-component: outputs [(id, prop)], inputs/state [(id, prop, value)]."""
    outs = [{"id": i, "property": p} for i, p in outputs]
    name = (
        f"{outputs[0][0]}.{outputs[0][1]}"
        if len(outputs) == 1
        else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
    )
    body = {
        "output": name,
        "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": list(changed),
    }
    return client.post("/_dash-update-component", json=body)


def answer(resp) -> dict:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:400]
    return {k: next(iter(v.values())) for k, v in resp.get_json()["response"].items()}


def text_of(node) -> str:
    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return " ".join(text_of(c) for c in node)
    if isinstance(node, dict):
        return text_of(node.get("props", {}).get("children"))
    return ""


def links(node) -> list[str]:
    """Every href in a rendered component tree."""
    found: list[str] = []

    def walk(n):
        if isinstance(n, dict):
            props = n.get("props", {})
            if isinstance(props.get("href"), str):
                found.append(props["href"])
            walk(props.get("children"))
        elif isinstance(n, list):
            for c in n:
                walk(c)

    walk(node)
    return found


@pytest.fixture
def as_(flask_app, people):
    def make(profile: str):
        c = flask_app.test_client()
        login(c, people[profile])
        return c

    return make


LINES_OUT = [("lines-table", "children"), ("lines-status", "children"), ("lines-pager", "data"),
             ("lines-prev", "disabled"), ("lines-next", "disabled"),
             ("lines-page-label", "children")]


def lines_call(client, search=None, pager=None, click=None, clicks=1):
    inputs = [("lines-search", "value", search),
              ("lines-next", "n_clicks", clicks if click == "lines-next" else None),
              ("lines-prev", "n_clicks", clicks if click == "lines-prev" else None)]
    return post(client, LINES_OUT, inputs, [("lines-pager", "data", pager)],
                [f"{click}.n_clicks"] if click else [])


def all_listed_lines(client, search=None) -> list[str]:
    """Every line number the Lines page lists, following Next until it is disabled."""
    out = answer(lines_call(client, search))
    seen: list[str] = []
    for _ in range(100):
        seen += [h.removeprefix("/lines/") for h in links(out.get("lines-table"))]
        if out["lines-next"]:
            return seen
        out = answer(lines_call(client, search, out["lines-pager"], "lines-next"))
    raise AssertionError("the pager never ended")


LINE_OUT = [("line-header", "children"), ("line-facts", "children"),
            ("line-services", "children"), ("line-orders", "children"),
            ("line-form", "hidden"), ("line-action", "options")]


def line_call(client, msisdn):
    return post(client, LINE_OUT, [("line-key", "data", msisdn), ("line-refresh", "data", 0)])


SUBMIT_OUT = [("line-result", "children"), ("line-refresh", "data"), ("line-reason", "value")]


def submit(client, msisdn, action, reason="needed for a trip", service=None, plan=None,
           iccid=None, clicks=1):
    state = [("line-key", "data", msisdn), ("line-action", "value", action),
             ("line-service", "value", service), ("line-plan", "value", plan),
             ("line-iccid", "value", iccid), ("line-reason", "value", reason),
             ("line-refresh", "data", 0)]
    return post(client, SUBMIT_OUT, [("line-submit", "n_clicks", clicks)], state,
                ["line-submit.n_clicks"])


REQUESTS_OUT = [("requests-table", "children"), ("requests-status", "children"),
                ("requests-pager", "data"), ("requests-prev", "disabled"),
                ("requests-next", "disabled"), ("requests-page-label", "children")]


def requests_call(client, tab, state=None, line=None, action=None, since=None, until=None):
    inputs = [("requests-tabs", "value", tab), ("requests-state", "value", state),
              ("requests-line", "value", line), ("requests-action", "value", action),
              ("requests-since", "value", since), ("requests-until", "value", until),
              ("requests-next", "n_clicks", None), ("requests-prev", "n_clicks", None)]
    return post(client, REQUESTS_OUT, inputs, [("requests-pager", "data", None)])


REQUEST_OUT = [("request-header", "children"), ("request-summary", "children"),
               ("request-lines", "children"), ("request-approvals", "children"),
               ("request-timeline", "children"), ("request-message", "children"),
               ("request-decide", "hidden"), ("request-approve", "hidden"),
               ("request-reject", "hidden"), ("request-cancel", "hidden"),
               ("request-comment-box", "hidden"), ("request-comment", "value")]


def request_call(client, key, click=None, comment=None, clicks=1):
    inputs = [("request-key", "data", str(key))] + [
        (b, "n_clicks", clicks if b == click else None)
        for b in ("request-approve", "request-reject", "request-cancel")
    ]
    return post(client, REQUEST_OUT, inputs, [("request-comment", "value", comment)],
                [f"{click}.n_clicks"] if click else [])


THRESHOLD_OUT = [("approval-settings-current", "children"),
                 ("approval-settings-amount", "value"), ("approval-settings-message", "children")]


def threshold_call(client, value, clicks=1):
    return post(client, THRESHOLD_OUT, [("approval-settings-save", "n_clicks", clicks)],
                [("approval-settings-amount", "value", value)],
                ["approval-settings-save.n_clicks"] if clicks else [])


# --- the menu and who may open what ------------------------------------------------------------


def nav_paths(client) -> set[str]:
    found: set[str] = set()

    def walk(n):
        if isinstance(n, dict):
            ident = n.get("id")
            if isinstance(ident, dict) and ident.get("type") == "app-nav":
                found.add(ident["path"])
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(client.get("/_dash-layout").json)
    return found


@pytest.mark.parametrize("profile", TENANT_PROFILES)
def test_menu_has_lines_and_requests_and_settings_for_admin_only(profile, as_):
    c = as_(profile)
    nav = nav_paths(c)
    assert {"/lines", "/requests"} <= nav
    assert ("/approval-settings" in nav) == (profile == "admin")
    # a line's or an order's page is reached by its links, never the menu
    assert not any("<" in p or p.endswith("/none") for p in nav)
    for path in ("/lines", "/requests", "/lines/27000000000", "/requests/1"):
        assert c.get(path).status_code == 200, path
    assert c.get("/approval-settings").status_code == (200 if profile == "admin" else 403)


def test_menu_order_puts_the_new_pages_after_the_existing_ones():
    order = {p["path"]: p.get("order") for p in dash.page_registry.values()}
    before = max(v for k, v in order.items()
                 if k not in ("/lines", "/requests", "/approval-settings")
                 and not k.endswith("/none"))
    assert before < order["/lines"] < order["/requests"] < order["/approval-settings"]


def test_analyst_gets_none_of_the_pages_or_callbacks(as_):
    c = as_("analyst")
    for path in ("/lines", "/requests", "/lines/27000000000", "/requests/1",
                 "/approval-settings"):
        assert c.get(path).status_code == 403, path
    assert lines_call(c).status_code == 403
    assert line_call(c, "27000000000").status_code == 403
    assert request_call(c, 1).status_code == 403
    assert requests_call(c, "mine").status_code == 403


@pytest.mark.parametrize("profile", ["finance", "manager", "end_user"])
def test_only_the_administrator_reaches_the_threshold_callback(profile, as_):
    assert threshold_call(as_(profile), "1").status_code == 403


def test_anonymous_callbacks_answer_401(flask_app):
    c = flask_app.test_client()
    assert lines_call(c).status_code == 401
    assert submit(c, "27000000000", "suspend_line").status_code == 401
    assert request_call(c, 1, "request-approve").status_code == 401


@pytest.mark.parametrize("key", ["abc", "1 or 1=1", "", "-1", "9" * 30])
def test_a_malformed_order_id_is_not_found(key, as_):
    out = answer(request_call(as_("admin"), key))
    assert "No such request" in text_of(out["request-summary"])
    assert out["request-decide"] is True


@pytest.mark.parametrize("key", ["abc", "2782' or '1'='1", "", "12"])
def test_a_malformed_number_is_not_found(key, as_):
    out = answer(line_call(as_("admin"), key))
    assert "No such line" in text_of(out["line-facts"])
    assert out["line-form"] is True and out["line-action"] == []


# --- the tariff analyser's "Change plan" -------------------------------------------------------


def test_recommendations_link_to_the_prefilled_plan_change(as_, raw):
    from selfcare.web.pages import tariffs

    last = sorted(raw.billing.bill_period)[-1]
    out = answer(post(
        as_("admin"),
        [(tariffs.KPIS, "children"), (tariffs.CC_CHART, "figure"), (tariffs.RISK_CHART, "figure"),
         (tariffs.GRID, "rowData"), (tariffs.STATUS, "children"), (tariffs.DOWNLOAD, "href"),
         (tariffs.OPTIONS_DOWNLOAD, "href")],
        [("app-period-from", "value", last), ("app-period-to", "value", last),
         ("app-vat", "value", []), (tariffs.MONTHS, "value", 3),
         (tariffs.MIN_SAVING, "value", 0), (tariffs.MIN_PCT, "value", 0),
         (tariffs.COST_CENTRE, "value", None)],
    ))
    rows = out[tariffs.GRID]
    recommended = [r for r in rows if r["recommended"] == "Yes"]
    assert recommended, "expected at least one recommendation with zero thresholds"
    for r in rows:
        if r["recommended"] == "Yes" and r["best_plan"] != r["current_plan"]:
            assert r["change_plan"] == (
                f"[Change plan](/lines/{r['msisdn']}?action=change_plan&plan={r['best_plan']})")
        else:
            assert r["change_plan"] == ""
    assert any(c.get("field") == "change_plan" and c.get("cellRenderer") == "markdown"
               for c in tariffs.COLUMNS)


def test_the_line_page_prefills_the_plan_change_from_the_url(as_):
    from selfcare.web.pages import line

    layout = line.layout(msisdn="27820000000", action="change_plan", plan="BH-L")
    stores = {c.id: c.data for c in layout.children if getattr(c, "id", None) in
              (line.KEY, line.PREFILL)}
    assert stores == {line.KEY: "27820000000",
                      line.PREFILL: {"action": "change_plan", "plan": "BH-L"}}
    # junk in the query string never becomes a value
    junk = line.layout(msisdn="x", action="<script>", plan="a b")
    assert next(c.data for c in junk.children if getattr(c, "id", None) == line.PREFILL) == {
        "action": None, "plan": None}
    c = as_("end_user")
    options = [{"label": "Change the plan", "value": "change_plan"},
               {"label": "Suspend the line", "value": "suspend_line"}]
    out = answer(post(c, [(line.ACTION, "value"), (line.PLAN, "value")],
                      [(line.ACTION, "options", options)],
                      [(line.PREFILL, "data", {"action": "change_plan", "plan": "BH-L"}),
                       (line.ACTION, "value", None)]))
    assert out == {line.ACTION: "change_plan", line.PLAN: "BH-L"}
    # an action the line does not offer is not prefilled
    resp = post(c, [(line.ACTION, "value"), (line.PLAN, "value")],
                [(line.ACTION, "options", options[1:])],
                [(line.PREFILL, "data", {"action": "change_plan", "plan": "BH-L"}),
                 (line.ACTION, "value", None)])
    assert resp.status_code == 204 or answer(resp) == {}


# --- threshold input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [("200", Decimal("200.00")), ("350.5", Decimal("350.50")), ("R 1 250.00", Decimal("1250.00")),
     ("0", Decimal("0.00")), (150, Decimal("150.00"))],
)
def test_threshold_amounts_people_type(text, want):
    from selfcare.web.pages.approval_settings import parse_amount

    assert parse_amount(text) == want


@pytest.mark.parametrize("text", ["", "  ", "-5", "abc", "1e3", "12.345", "2000000", "NaN",
                                  "١٢٣", None, True])
def test_threshold_refuses_what_is_not_an_amount(text):
    from selfcare.web.pages.approval_settings import Invalid, parse_amount

    with pytest.raises(Invalid):
        parse_amount(text)


# --- with the services: scope, orders, approvals, the threshold ---------------------------------


@pytest.mark.parametrize("profile", [*TENANT_PROFILES, "admin2"])
def test_each_profile_lists_exactly_its_lines(profile, as_, raw, people):
    p = people[profile]
    want = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    got = all_listed_lines(as_(profile))
    assert len(got) == len(set(got))
    assert set(got) == want


def test_search_by_number_employee_and_cost_centre(as_, raw, people):
    p = people["admin"]
    lines = raw.lines[raw.lines.tenant_id == p.tenant_id]
    one = lines[lines.employee_id != ""].iloc[0]
    c = as_("admin")
    assert all_listed_lines(c, one.msisdn) == [one.msisdn]
    emp = raw.employees.set_index("employee_id").loc[one.employee_id]
    by_name = set(all_listed_lines(c, emp.full_name))
    assert set(lines[lines.employee_id == one.employee_id].msisdn) <= by_name
    cc = raw.cost_centres.set_index("cost_centre_id").loc[emp.cost_centre_id]
    by_cc = set(all_listed_lines(c, cc["name"]))
    staff = raw.employees[raw.employees.cost_centre_id == emp.cost_centre_id].employee_id
    assert set(lines[lines.employee_id.isin(staff)].msisdn) <= by_cc


@pytest.mark.parametrize("profile", ["manager", "end_user", "admin2"])
def test_a_line_outside_scope_is_not_found(profile, as_, raw, people):
    p = people[profile]
    mine = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    outside = sorted(set(raw.lines.msisdn) - mine)[0]
    c = as_(profile)
    out = answer(line_call(c, outside))
    assert "No such line" in text_of(out["line-facts"])
    assert out["line-form"] is True
    # and an order cannot be placed on it from the form either
    out = answer(submit(c, outside, "suspend_line"))
    assert "No such line" in text_of(out["line-result"]) or "may not" in text_of(
        out["line-result"])


def _own_active_line(raw, person) -> str:
    lines = raw.lines[(raw.lines.employee_id == person.employee_id)
                      & (raw.lines.status == "ACTIVE")]
    return sorted(lines.msisdn)[0]


def _placed_id(out) -> int:
    hrefs = [h for h in links(out["line-result"]) if h.startswith("/requests/")]
    assert hrefs, text_of(out["line-result"])
    return int(hrefs[0].rsplit("/", 1)[1])


def test_an_order_from_the_line_page_shows_in_requests_and_waits_for_the_manager(as_, raw,
                                                                                  people):
    user = people["end_user"]
    msisdn = _own_active_line(raw, user)
    c = as_("end_user")
    shown = answer(line_call(c, msisdn))
    assert shown["line-form"] is False
    assert "suspend_line" in {o["value"] for o in shown["line-action"]}
    reason = f"lost phone {uuid.uuid4().hex[:6]}"
    out = answer(submit(c, msisdn, "suspend_line", reason=reason))
    order_id = _placed_id(out)
    assert "waits for approval" in text_of(out["line-result"])
    assert out["line-reason"] == ""

    mine = answer(requests_call(c, "mine"))
    assert f"/requests/{order_id}" in links(mine["requests-table"])
    assert "Waiting for approval" in text_of(mine["requests-table"])
    filtered = answer(requests_call(c, "mine", state="completed"))
    assert f"/requests/{order_id}" not in links(filtered["requests-table"])

    page = answer(request_call(c, order_id))
    assert reason in text_of(page["request-summary"])
    assert msisdn in text_of(page["request-lines"])
    assert page["request-approve"] is True and page["request-reject"] is True
    assert page["request-cancel"] is False  # the requester may withdraw it
    # the line's page lists it as open
    assert f"/requests/{order_id}" in links(answer(line_call(c, msisdn))["line-orders"])

    # their manager (the chain above the end user) sees it waiting and may decide
    mgr = as_("manager")
    emp = raw.employees.set_index("employee_id")
    chain, e = [], user.employee_id
    while emp.loc[e].manager_employee_id:
        e = emp.loc[e].manager_employee_id
        chain.append(e)
    if people["manager"].employee_id in chain:
        waiting = answer(requests_call(mgr, "awaiting"))
        assert f"/requests/{order_id}" in links(waiting["requests-table"])
        decide = answer(request_call(mgr, order_id))
        assert decide["request-approve"] is False and decide["request-reject"] is False
        # a reject without a reason is refused and changes nothing
        refused = answer(request_call(mgr, order_id, "request-reject", comment="  "))
        assert "reason" in text_of(refused["request-message"]).lower()
        assert "Waiting for approval" in text_of(refused["request-summary"])
        approved = answer(request_call(mgr, order_id, "request-approve", comment="ok, go"))
        assert "Approved" in text_of(approved["request-message"])
        assert approved["request-approve"] is True
        assert "ok, go" in text_of(approved["request-timeline"])


@pytest.mark.parametrize("profile", ["finance", "admin2"])
def test_no_decision_buttons_for_someone_who_may_not_approve(profile, as_, raw, people):
    c = as_("end_user")
    msisdn = _own_active_line(raw, people["end_user"])
    order_id = _placed_id(answer(submit(c, msisdn, "suspend_line", reason="not for finance")))
    other = as_(profile)
    out = answer(request_call(other, order_id))
    if profile == "admin2":
        assert "No such request" in text_of(out["request-summary"])
    assert out["request-approve"] is True and out["request-reject"] is True
    # a forged click changes nothing
    forged = answer(request_call(other, order_id, "request-approve"))
    assert "Approved." not in text_of(forged["request-message"])
    assert "Waiting for approval" in text_of(answer(request_call(c, order_id))["request-summary"])
    # and the requester cannot approve their own order
    own = answer(request_call(c, order_id, "request-approve"))
    assert "Approved." not in text_of(own["request-message"])
    answer(request_call(c, order_id, "request-cancel"))


def test_threshold_is_validated_saved_and_shown(as_):
    c = as_("admin")
    first = answer(threshold_call(c, None, clicks=None))
    assert "R 200.00" in text_of(first["approval-settings-current"]) or first[
        "approval-settings-amount"]
    bad = answer(threshold_call(c, "-5"))
    assert "plain amount" in text_of(bad["approval-settings-message"])
    assert "approval-settings-amount" not in bad  # what was typed stays for correction
    ok = answer(threshold_call(c, "R 350.50"))
    assert "Saved: R 350.50" in text_of(ok["approval-settings-message"])
    assert ok["approval-settings-amount"] == "350.50"
    again = answer(threshold_call(c, None, clicks=None))
    assert "R 350.50" in text_of(again["approval-settings-current"])
    # another tenant's administrator still has their own (default) threshold
    other = answer(threshold_call(as_("admin2"), None, clicks=None))
    assert "R 350.50" not in text_of(other["approval-settings-current"])
    answer(threshold_call(c, "200"))
