"""Order services on both backends: the issue's transitions and refusals, two approvers at once,
and the worker's submission through the simulated operator. Who is whose manager comes from the
raw HR CSVs (pandas), never from the code under test."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from selfcare.orders.lifecycle import IllegalTransition
from selfcare.provisioning import create_adapter
from selfcare.services import estate, orders, users
from selfcare.services.orders import LineNotFound, NotAllowed, OrderNotFound

PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only


@pytest.fixture
def world(db, lake, raw, monkeypatch):
    monkeypatch.setenv("SELFCARE_LAKE", str(lake))
    estate.clear_cache()
    emp = raw.employees
    lines = raw.lines[(raw.lines.tenant_id == "T01") & (raw.lines.status == "ACTIVE")]
    t1 = emp[emp.tenant_id == "T01"]
    boss = dict(zip(t1.employee_id, t1.manager_employee_id, strict=True))
    # an end user whose manager has a manager too; a peer manager outside that chain
    line = next(r for r in lines.itertuples() if r.employee_id and boss.get(r.employee_id)
                and boss.get(boss[r.employee_id]))
    eu, mgr = line.employee_id, boss[line.employee_id]
    chain, e = set(), eu
    while boss.get(e):
        e = boss[e]
        chain.add(e)
    managers = set(t1.manager_employee_id) - {""}
    peer = sorted(m for m in managers if m not in chain and m != eu)[0]
    other_line = next(r.msisdn for r in lines.itertuples() if r.employee_id != eu)
    ls = raw.line_services
    has = set(ls[ls.msisdn == line.msisdn].service_code)
    sv = raw.services
    plans = raw.plans.set_index("plan_code")
    payment = plans.loc[line.plan_code, "payment"]
    code = sorted(c for c, p, fee in zip(sv.service_code, sv.payment, sv.monthly_fee, strict=True)
                  if c not in has and p in ("ANY", payment) and float(fee) <= 100)[0]

    def mk(email, role, tenant="T01", employee=None):
        return users.get_user(db, users.add_user(db, email, role, tenant, employee, PASSWORD))

    return {
        "db": db, "msisdn": line.msisdn, "other": other_line, "code": code,
        "eu": mk("eu@t1.test", "end_user", employee=eu),
        "mgr": mk("mgr@t1.test", "manager", employee=mgr),
        "peer": mk("peer@t1.test", "manager", employee=peer),
        "admin": mk("admin@t1.test", "admin"),
        "admin2": mk("admin2@t1.test", "admin"),
        "finance": mk("fin@t1.test", "finance", employee=None),
        "foreign": mk("admin@t2.test", "admin", tenant="T02"),
    }


def _order(w, who="eu", reason="travel"):
    return orders.create_order(w["db"], w[who], "add_service", [w["msisdn"]],
                               {"service_code": w["code"]}, reason)


def test_end_user_orders_own_line_only_and_waits_for_nearest_manager(world):
    w = world
    with pytest.raises(LineNotFound):
        orders.create_order(w["db"], w["eu"], "add_service", [w["other"]],
                            {"service_code": w["code"]}, "not mine")
    o = _order(w)
    assert o.state == "pending_approval" and o.needs == ("manager",)
    assert o.waits_for_employee_id == w["mgr"].employee_id
    assert orders.allowed_actions(w["db"], w["mgr"], o) == ["approve", "reject"]
    assert orders.allowed_actions(w["db"], w["peer"], o) == []
    with pytest.raises(OrderNotFound):
        orders.get_order(w["db"], w["peer"], o.id)
    with pytest.raises(OrderNotFound):
        orders.get_order(w["db"], w["foreign"], o.id)
    with pytest.raises(NotAllowed):
        orders.approve(w["db"], w["eu"], o.id)  # nobody approves their own
    awaiting, _ = orders.list_orders(w["db"], w["mgr"], awaiting_me=True)
    assert [v.id for v in awaiting] == [o.id]


def test_admin_orders_directly_and_finance_second_approval_above_threshold(world):
    w = world
    direct = _order(w, "admin")
    assert direct.state == "approved" and direct.needs == ()
    from decimal import Decimal

    orders.set_threshold(w["db"], w["admin"], Decimal("0.00"))
    o = _order(w)
    if o.monthly_change > 0:
        assert o.needs == ("manager", "finance")
        with pytest.raises(NotAllowed):
            orders.approve(w["db"], w["finance"], o.id)  # after the manager
        assert orders.approve(w["db"], w["mgr"], o.id).state == "pending_approval"
        assert orders.approve(w["db"], w["finance"], o.id).state == "approved"
    with pytest.raises(NotAllowed):
        orders.set_threshold(w["db"], w["mgr"], Decimal("10"))


def test_reject_cancel_edit_restart_and_expiry(world):
    w = world
    o = _order(w)
    with pytest.raises(Exception, match="reason"):
        orders.reject(w["db"], w["mgr"], o.id, "")
    assert orders.reject(w["db"], w["mgr"], o.id, "no budget").state == "rejected"
    with pytest.raises(IllegalTransition):
        orders.approve(w["db"], w["mgr"], o.id)
    o2 = _order(w)
    with pytest.raises(NotAllowed):
        orders.cancel(w["db"], w["mgr"], o2.id)
    assert orders.cancel(w["db"], w["eu"], o2.id).state == "cancelled"
    o3 = _order(w)
    edited = orders.edit_order(w["db"], w["eu"], o3.id, {"service_code": w["code"]}, "edited")
    assert edited.round == 2 and edited.approvals == () and edited.reason == "edited"
    later = datetime.now(UTC) + timedelta(days=14, minutes=1)
    assert orders.expire_due(w["db"], later) == 1
    assert orders.get_order(w["db"], w["eu"], o3.id).state == "expired"


def test_two_approvers_at_once_one_wins_and_the_line_is_submitted_once(world, tmp_path):
    w = world
    o = _order(w)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def go(who):
        barrier.wait()
        try:
            orders.approve(w["db"], w[who], o.id)
            results.append("ok")
        except IllegalTransition:
            results.append("409")

    threads = [threading.Thread(target=go, args=(who,)) for who in ("mgr", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["409", "ok"]
    adapter = create_adapter("simulated", path=tmp_path / "op.sqlite",
                             catalogue=estate.catalogue(), delay=0)
    now = datetime.now(UTC)
    assert orders.submit_approved(w["db"], adapter, now) == 1
    assert orders.submit_approved(w["db"], adapter, now) == 0
    assert orders.poll_open(w["db"], adapter, now + timedelta(seconds=1)) == 1
    done = orders.get_order(w["db"], w["eu"], o.id)
    assert done.state == "completed" and done.lines[0].operator_ref.startswith("SIM-")
    count = adapter._db.execute("select count(*) from operator_orders").fetchone()[0]
    assert count == 1
    line = orders.line_detail(w["db"], w["eu"], w["msisdn"])
    assert {s.code: s.state for s in line.services}[w["code"]] == "active"
    adapter.close()
