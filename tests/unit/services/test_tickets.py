"""Ticket services on both backends: each transition and refusal, visibility per profile (the
reporting chain from the raw HR CSVs via pandas), the service clock with pending time left out
(explicit timestamps, no sleeping), and billing queries checked against the raw billing CSVs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from selfcare.services import estate, tickets, users
from selfcare.services.orders import LineNotFound
from selfcare.services.tickets import IllegalTransition, TicketNotFound, WrongActor

PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(db, lake, raw, monkeypatch):
    monkeypatch.setenv("SELFCARE_LAKE", str(lake))
    estate.clear_cache()
    emp = raw.employees[raw.employees.tenant_id == "T01"]
    boss = dict(zip(emp.employee_id, emp.manager_employee_id, strict=True))
    lines = raw.lines[(raw.lines.tenant_id == "T01") & (raw.lines.employee_id != "")]
    line = next(
        r for r in lines.itertuples() if boss.get(r.employee_id) and boss.get(boss[r.employee_id])
    )
    eu = line.employee_id
    chain, e = [], eu
    while boss.get(e):
        e = boss[e]
        chain.append(e)
    outside = sorted(set(emp.manager_employee_id) - set(chain) - {"", eu})[0]
    other_line = next(r.msisdn for r in lines.itertuples() if r.employee_id != eu)
    bills = raw.billing_frame()
    own_bill = bills[(bills.msisdn == line.msisdn) & (bills.amount_d > 0)].iloc[0]
    foreign_bill = bills[(bills.msisdn == other_line)].iloc[0]

    def mk(email, role, tenant="T01", employee=None):
        return users.get_user(db, users.add_user(db, email, role, tenant, employee, PASSWORD))

    return {
        "db": db,
        "msisdn": line.msisdn,
        "other": other_line,
        "bill": own_bill,
        "foreign_bill": foreign_bill,
        "eu": mk("eu@t1.test", "end_user", employee=eu),
        "boss": mk("boss@t1.test", "manager", employee=chain[1]),  # two levels up
        "outsider": mk("out@t1.test", "manager", employee=outside),
        "admin": mk("admin@t1.test", "admin"),
        "finance": mk(
            "fin@t1.test", "finance", employee=sorted(set(emp.employee_id) - set(chain) - {eu})[0]
        ),
        "foreign": mk("admin@t2.test", "admin", tenant="T02"),
        "support": mk("agent@operator.test", "support", tenant=None),
    }


def _fault(w, at=T0):
    return tickets.raise_ticket(
        w["db"],
        w["eu"],
        category="fault",
        subject="No signal",
        description="Since Monday",
        msisdns=[w["msisdn"]],
        now=at,
    )


def test_visibility_follows_the_reporting_chain_and_profiles(world):
    w = world
    t = _fault(w)
    assert t.reference == f"TCK-{t.id:06d}" and t.state == "new" and t.lines == (w["msisdn"],)
    for who in ("eu", "boss", "admin", "support"):
        assert tickets.get_ticket(w["db"], w[who], t.reference).id == t.id, who
    for who in ("outsider", "finance", "foreign"):  # finance sees billing queries only
        with pytest.raises(TicketNotFound):
            tickets.get_ticket(w["db"], w[who], t.reference)
        assert tickets.list_tickets(w["db"], w[who])[0] == [], who
    assert [v.id for v in tickets.list_tickets(w["db"], w["boss"])[0]] == [t.id]
    with pytest.raises(LineNotFound):
        tickets.raise_ticket(
            w["db"], w["eu"], category="fault", subject="x", description="y", msisdns=[w["other"]]
        )
    with pytest.raises(tickets.TicketNotAllowed):
        tickets.raise_ticket(w["db"], w["support"], category="fault", subject="x", description="y")


def test_every_transition_and_refusal_with_the_clock(world):
    w = world
    t = _fault(w)
    db, eu, agent = w["db"], w["eu"], w["support"]
    with pytest.raises(WrongActor):
        tickets.transition(db, eu, t.id, "resolve", now=T0)
    with pytest.raises(IllegalTransition):
        tickets.transition(db, agent, t.id, "reopen" if False else "close", now=T0)
    h = timedelta(hours=1)
    v = tickets.transition(db, agent, t.id, "open", now=T0 + h)
    assert v.state == "open" and v.first_response_seconds is None  # opening is no response
    v = tickets.add_comment(db, agent, t.id, "Which area?", now=T0 + 2 * h)
    assert v.first_response_seconds == 2 * 3600
    v = tickets.transition(db, agent, t.id, "pend", now=T0 + 3 * h)
    assert v.state == "pending"
    # the raiser's answer five hours later resumes it; those hours are off the clock
    v = tickets.add_comment(db, eu, t.id, "Cape Town <b>CBD</b>", now=T0 + 8 * h)
    assert v.state == "open" and v.comments[-1].body == "Cape Town <b>CBD</b>"
    v = tickets.transition(db, agent, t.id, "resolve", "Mast fixed", now=T0 + 10 * h)
    assert v.state == "resolved" and v.resolution_seconds == 5 * 3600
    with pytest.raises(IllegalTransition):
        tickets.transition(db, agent, t.id, "resolve", now=T0 + 10 * h)  # at most once
    with pytest.raises(WrongActor):
        tickets.transition(db, agent, t.id, "reopen", now=T0 + 11 * h)
    v = tickets.transition(db, eu, t.id, "reopen", now=T0 + 12 * h)
    assert v.state == "open" and v.reopened_count == 1
    v = tickets.transition(db, agent, t.id, "resolve", now=T0 + 13 * h)
    # 10 h to raise-to-resolution, less 5 h pending and 2 h resolved before the reopen, + 1 h
    assert v.resolution_seconds == 6 * 3600
    late = T0 + 13 * h + timedelta(days=14)
    with pytest.raises(IllegalTransition):
        tickets.transition(db, eu, t.id, "reopen", now=late)
    assert tickets.close_due(db, late - timedelta(minutes=1)) == 0
    assert tickets.close_due(db, late) == 1
    assert tickets.close_due(db, late) == 0
    v = tickets.get_ticket(db, eu, t.id, now=late)
    assert v.state == "closed" and v.actions == ()
    with pytest.raises(IllegalTransition):
        tickets.add_comment(db, eu, t.id, "one more", now=late)
    events = [e.event for e in v.timeline]
    assert events[0] == "raise" and events[-1] == "close" and events.count("resolve") == 2


def test_billing_query_disputes_a_visible_invoice_line_and_records_the_credit(world):
    w = world
    db, eu, bill = w["db"], w["eu"], w["bill"]
    with pytest.raises(tickets.InvalidTicket, match="invoice"):
        tickets.raise_ticket(db, eu, category="billing_query", subject="x", description="y")
    with pytest.raises(tickets.InvoiceLineNotFound):  # a colleague's charge
        tickets.raise_ticket(
            db,
            eu,
            category="billing_query",
            subject="x",
            description="y",
            invoice_id=w["foreign_bill"].invoice_id,
            line_no=int(w["foreign_bill"].line_no),
        )
    charged = bill.amount_d.quantize(Decimal("0.01"))
    with pytest.raises(tickets.InvalidTicket, match="at most"):
        tickets.raise_ticket(
            db,
            eu,
            category="billing_query",
            subject="x",
            description="y",
            invoice_id=bill.invoice_id,
            line_no=int(bill.line_no),
            disputed_amount=charged + 1,
        )
    t = tickets.raise_ticket(
        db,
        eu,
        category="billing_query",
        subject="Double charge",
        description="Charged twice",
        invoice_id=bill.invoice_id,
        line_no=int(bill.line_no),
        now=T0,
    )
    assert t.invoice_amount == charged and t.disputed_amount == charged
    assert t.invoice_period == bill.bill_period and w["msisdn"] in t.lines
    # the Financial Manager sees billing queries; the agent credits at most what is disputed
    assert tickets.get_ticket(db, w["finance"], t.reference).id == t.id
    with pytest.raises(tickets.InvalidTicket, match="credited"):
        tickets.transition(db, w["support"], t.id, "resolve", credited_amount=charged + 1)
    v = tickets.transition(
        db,
        w["support"],
        t.id,
        "resolve",
        "Credited",
        credited_amount=Decimal("1.00"),
        now=T0 + timedelta(hours=1),
    )
    assert v.credited_amount == Decimal("1.00")
    (month,) = tickets.dispute_totals(db, w["finance"], now=T0)
    assert (month.month, month.count, month.open_count, month.disputed, month.credited) == (
        "2026-11",
        1,
        0,
        charged,
        Decimal("1.00"),
    )
    with pytest.raises(tickets.TicketNotAllowed):
        tickets.dispute_totals(db, eu)
