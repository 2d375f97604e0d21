"""The tickets' JSON API against the real services (SQLite, the small generated lake): a billing
query raised on the End User's own invoice line carries that line's amount as the raw billing CSV
says; who may see it (the raiser, the tenant's Administrator, the operator's Support agent; not
another tenant, not the analyst); the transitions a Support agent takes and the ones refused (403
for the wrong actor, 409 from the wrong state, 400 for a credit above the disputed amount)."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.slow

PROFILES = ["admin", "end_user", "analyst", "admin2", "support"]


@pytest.fixture(scope="module")
def clients(flask_app, people):
    out = {}
    for profile in PROFILES:
        c = flask_app.test_client()
        p = people[profile]
        resp = c.post("/login", data={"email": p.email, "password": p.password})
        assert resp.status_code == 303, profile
        out[profile] = c
    return out


@pytest.fixture(scope="module")
def own_bill(raw, people):
    me = people["end_user"]
    mine = raw.visible_lines(me.role, me.tenant_id, me.employee_id)
    bills = raw.billing_frame()
    rows = bills[bills.msisdn.isin(mine) & (bills.amount_d > 0)]
    assert len(rows), "the test estate bills the end user's line"
    return rows.sort_values(["invoice_id", "line_no"]).iloc[0]


@pytest.fixture(scope="module")
def foreign_bill(raw, people):
    me = people["end_user"]
    mine = raw.visible_lines(me.role, me.tenant_id, me.employee_id)
    bills = raw.billing_frame()
    rows = bills[
        (bills.tenant_id == me.tenant_id) & ~bills.msisdn.isin(mine) & (bills.msisdn != "")
    ]
    return rows.sort_values(["invoice_id", "line_no"]).iloc[0]


def raise_query(client, bill, **extra):
    body = {
        "category": "billing_query",
        "subject": "Charged twice for roaming",
        "description": "This line shows a charge I do not recognise.",
        "invoice_id": bill.invoice_id,
        "line_no": int(bill.line_no),
        **extra,
    }
    return client.post("/api/v1/tickets", json=body)


def test_a_billing_query_carries_the_invoice_lines_amount(clients, own_bill):
    resp = raise_query(clients["end_user"], own_bill)
    assert resp.status_code == 201, resp.get_data(as_text=True)[:400]
    t = resp.json
    assert t["reference"].startswith("TCK-") and t["state"] == "new"
    assert Decimal(t["invoice_amount"]) == own_bill.amount_d
    assert Decimal(t["disputed_amount"]) == own_bill.amount_d  # the whole line by default
    assert t["invoice_msisdn"] == own_bill.msisdn
    assert t["invoice_id"] == own_bill.invoice_id and t["line_no"] == int(own_bill.line_no)


def test_an_invoice_line_outside_the_raisers_scope_is_not_found(clients, foreign_bill):
    resp = raise_query(clients["end_user"], foreign_bill)
    assert resp.status_code == 404
    assert resp.json["status"] == 404 and "amount" not in resp.get_data(as_text=True)


def test_who_sees_a_ticket(clients, own_bill):
    ref = raise_query(clients["end_user"], own_bill).json["reference"]
    for profile, status in [("end_user", 200), ("admin", 200), ("support", 200),
                            ("admin2", 404), ("analyst", 404)]:  # fmt: skip
        resp = clients[profile].get(f"/api/v1/tickets/{ref}")
        assert resp.status_code == status, profile
    listed = {t["reference"] for t in clients["admin2"].get("/api/v1/tickets").json["tickets"]}
    assert ref not in listed
    listed = {t["reference"] for t in clients["support"].get("/api/v1/tickets").json["tickets"]}
    assert ref in listed


def test_the_support_agent_works_the_ticket_through_its_states(clients, own_bill):
    eu, agent = clients["end_user"], clients["support"]
    ref = raise_query(eu, own_bill).json["reference"]
    path = f"/api/v1/tickets/{ref}"
    # the raiser does not resolve their own query
    assert eu.post(path + "/state", json={"state": "resolved"}).status_code == 403
    resp = agent.post(path + "/state", json={"state": "open"})
    assert resp.status_code == 200 and resp.json["state"] == "open"
    resp = agent.post(path + "/comments", json={"body": "Which day was the call?"})
    assert resp.status_code == 201 and resp.json["first_response_at"] is not None
    # a credit above what is disputed is refused, naming the field
    too_much = f"{own_bill.amount_d + Decimal('1.00'):.2f}"
    resp = agent.post(path + "/state", json={"state": "resolved", "credited_amount": too_much})
    assert resp.status_code == 400
    credit = f"{own_bill.amount_d:.2f}"
    resp = agent.post(path + "/state", json={"state": "resolved", "credited_amount": credit})
    assert resp.status_code == 200 and resp.json["state"] == "resolved"
    assert Decimal(resp.json["credited_amount"]) == own_bill.amount_d
    assert resp.json["resolution_seconds"] is not None
    # resolving twice: the state no longer allows it
    resp = agent.post(path + "/state", json={"state": "resolved", "credited_amount": credit})
    assert resp.status_code == 409
    # the raiser reopens within the window
    resp = eu.post(path + "/state", json={"state": "open", "comment": "Still wrong"})
    assert resp.status_code == 200 and resp.json["state"] == "open"
    assert resp.json["reopened_count"] == 1


def test_bad_ticket_input_names_the_field(clients, own_bill):
    eu = clients["end_user"]
    resp = eu.post("/api/v1/tickets", json={"category": "complaint", "subject": "x",
                                            "description": "y"})  # fmt: skip
    assert resp.status_code == 400 and resp.json["field"] == "category"
    resp = raise_query(eu, own_bill, disputed_amount="12.345")
    assert resp.status_code == 400 and resp.json["field"] == "disputed_amount"
    resp = eu.post("/api/v1/tickets", json={"category": "fault", "subject": "x",
                                            "description": "y", "mood": "angry"})  # fmt: skip
    assert resp.status_code == 400 and resp.json["field"] == "mood"
    assert eu.get("/api/v1/tickets/TCK-999999").status_code == 404
