"""The simulated operator: completion after its delay (an injected clock, no sleeps), the
refusals a real network makes, and idempotent resubmission, also after re-opening its file."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from provisioning_support import (
    CANCELLED,
    CATALOGUE,
    POSTPAID,
    PREPAID,
    SUSPENDED,
    Clock,
    order_line,
)

from selfcare.provisioning import create_adapter
from selfcare.provisioning.base import Adapter
from selfcare.provisioning.simulated import NEW_NUMBER_PREFIX, SimulatedOperator

DELAY = 10  # seconds of simulated time


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sim(tmp_path, clock):
    s = SimulatedOperator(tmp_path / "operator.sqlite", CATALOGUE, delay=DELAY, clock=clock)
    yield s
    s.close()


def count_orders(path, key=None) -> int:
    with sqlite3.connect(path) as db:
        if key is None:
            return db.execute("select count(*) from operator_orders").fetchone()[0]
        return db.execute("select count(*) from operator_orders where idempotency_key = ?",
                          (key,)).fetchone()[0]


def test_is_an_adapter(sim):
    assert isinstance(sim, Adapter)


def test_an_order_moves_through_in_progress_to_completed_after_the_delay(sim, clock):
    [ack] = sim.submit([order_line("R1/27820000001", "add_service", {"service_code": "ROAM"},
                                   POSTPAID)])
    assert ack.state == "accepted" and ack.reason is None
    assert ack.operator_ref.startswith("SIM-")
    [u] = sim.status([ack.operator_ref])
    assert u.state == "accepted"
    clock.advance(DELAY / 2)
    [u] = sim.status([ack.operator_ref])
    assert u.state == "in_progress" and u.effective_on is None
    clock.advance(DELAY / 2 - 0.001)
    assert sim.status([ack.operator_ref])[0].state == "in_progress"
    clock.advance(0.001)
    [u] = sim.status([ack.operator_ref])
    assert u.state == "completed" and u.effective_on == date(2026, 12, 7)
    assert u.idempotency_key == "R1/27820000001" and u.msisdn == "27820000001"
    assert sim.line("27820000001").services == {"VMAIL", "ROAM"}
    # News stays the same once finished.
    clock.advance(3600)
    assert sim.status([ack.operator_ref])[0].state == "completed"


def test_a_late_poll_jumps_straight_to_completed(sim, clock):
    [ack] = sim.submit([order_line("R1/1", "suspend_line", {}, POSTPAID)])
    clock.advance(DELAY * 5)
    assert sim.status([ack.operator_ref])[0].state == "completed"
    assert sim.line(POSTPAID.msisdn).status == "SUSPENDED"


def test_a_plan_change_takes_effect_from_the_next_bill_period(sim, clock):
    [ack] = sim.submit([order_line("R2/1", "change_plan", {"plan_code": "BIZ_L"}, POSTPAID)])
    clock.advance(DELAY)
    [u] = sim.status([ack.operator_ref])
    assert u.state == "completed" and u.effective_on == date(2027, 1, 1)
    assert sim.line(POSTPAID.msisdn).plan_code == "BIZ_L"


def test_unknown_references_have_no_news(sim):
    assert sim.status(["SIM-99999999"]) == []


@pytest.mark.parametrize(
    ("action", "params", "line", "reason"),
    [
        pytest.param("add_service", {"service_code": "PP_BUNDLE"}, POSTPAID,
                     "service PP_BUNDLE is for prepaid lines only; line 27820000001 is postpaid",
                     id="prepaid-service-on-postpaid"),
        pytest.param("add_service", {"service_code": "IDD"}, PREPAID,
                     "service IDD is for postpaid lines only; line 27820000002 is prepaid",
                     id="postpaid-service-on-prepaid"),
        pytest.param("change_plan", {"plan_code": "PAYG"}, POSTPAID,
                     "plan PAYG is prepaid; line 27820000001 is postpaid", id="wrong-plan-type"),
        pytest.param("change_plan", {"plan_code": "BIZ_L"}, PREPAID,
                     "plan BIZ_L is postpaid; line 27820000002 is prepaid",
                     id="postpaid-plan-on-prepaid"),
        pytest.param("change_plan", {"plan_code": "BIZ_S"}, POSTPAID,
                     "line 27820000001 is already on plan BIZ_S", id="same-plan"),
        pytest.param("change_plan", {"plan_code": "GOLD"}, POSTPAID, "unknown plan 'GOLD'",
                     id="unknown-plan"),
        pytest.param("add_service", {"service_code": "VMAIL"}, POSTPAID,
                     "line 27820000001 already has VMAIL", id="already-has"),
        pytest.param("remove_service", {"service_code": "ROAM"}, POSTPAID,
                     "line 27820000001 does not have ROAM", id="does-not-have"),
        pytest.param("add_service", {"service_code": "NOPE"}, POSTPAID, "unknown service 'NOPE'",
                     id="unknown-service"),
        pytest.param("resume_line", {}, POSTPAID, "line 27820000001 is not suspended",
                     id="resume-active"),
        pytest.param("suspend_line", {}, SUSPENDED, "line 27820000003 is suspended",
                     id="suspend-suspended"),
        pytest.param("add_service", {"service_code": "ROAM"}, SUSPENDED,
                     "line 27820000003 is suspended", id="change-suspended"),
        pytest.param("resume_line", {}, CANCELLED, "line 27820000004 is cancelled",
                     id="resume-cancelled"),
        pytest.param("cancel_line", {}, CANCELLED, "line 27820000004 is cancelled",
                     id="cancel-cancelled"),
        pytest.param("sim_swap", {"iccid": "8927000000000000006"}, POSTPAID,
                     "SIM 8927000000000000006 is already in line 27820000001", id="same-sim"),
        pytest.param("teleport", {}, POSTPAID, "the operator does not offer 'teleport'",
                     id="unknown-action"),
    ],
)
def test_refuses_what_a_real_network_would(sim, clock, action, params, line, reason):
    [ack] = sim.submit([order_line("R9/1", action, params, line)])
    assert ack.state == "failed"
    assert ack.reason == reason
    clock.advance(DELAY)
    [u] = sim.status([ack.operator_ref])
    assert u.state == "failed" and u.reason == reason


def test_a_line_it_never_heard_of_is_refused(sim):
    [ack] = sim.submit([order_line("R9/2", "suspend_line", {}, None, msisdn="27829999999")])
    assert (ack.state, ack.reason) == ("failed", "line 27829999999 is not on this network")


def test_a_suspended_line_can_still_be_resumed_swapped_or_cancelled(sim, clock):
    acks = sim.submit([order_line("R3/1", "sim_swap", {"iccid": "89270000000000000011"},
                                  SUSPENDED)])
    clock.advance(DELAY)
    assert sim.status([acks[0].operator_ref])[0].state == "completed"
    [ack] = sim.submit([order_line("R3/2", "resume_line", {}, SUSPENDED)])
    assert ack.state == "accepted"
    clock.advance(DELAY)
    assert sim.status([ack.operator_ref])[0].state == "completed"
    assert sim.line(SUSPENDED.msisdn).status == "ACTIVE"
    assert sim.line(SUSPENDED.msisdn).iccid == "89270000000000000011"


def test_a_sim_in_use_on_another_line_is_refused(sim):
    sim.submit([order_line("R4/1", "suspend_line", {}, POSTPAID)])  # the network learns POSTPAID
    [ack] = sim.submit([order_line("R4/2", "sim_swap", {"iccid": POSTPAID.iccid}, PREPAID)])
    assert (ack.state, ack.reason) == ("failed",
                                       "SIM 8927000000000000006 is in use on another line")


def test_the_network_checks_again_at_completion(sim, clock):
    """Two orders for the same service, both accepted: the second finds it already there."""
    a, b = sim.submit([
        order_line("R5/1", "add_service", {"service_code": "ROAM"}, POSTPAID),
        order_line("R6/1", "add_service", {"service_code": "ROAM"}, POSTPAID),
    ])
    assert a.state == b.state == "accepted"
    clock.advance(DELAY)
    # Asked in the other order: the network still does them in the order they arrived.
    ub, ua = sim.status([b.operator_ref, a.operator_ref])
    assert ua.state == "completed"
    assert (ub.state, ub.reason) == ("failed", "line 27820000001 already has ROAM")


def test_its_own_record_rules_over_stale_facts(sim, clock):
    [ack] = sim.submit([order_line("R7/1", "add_service", {"service_code": "ROAM"}, POSTPAID)])
    clock.advance(DELAY)
    sim.status([ack.operator_ref])
    # The portal's facts still say no ROAM: the network knows better.
    [again] = sim.submit([order_line("R8/1", "add_service", {"service_code": "ROAM"}, POSTPAID)])
    assert (again.state, again.reason) == ("failed", "line 27820000001 already has ROAM")


def test_a_new_line_gets_a_number(sim, clock):
    [ack] = sim.submit([order_line("R10/new", "new_line",
                                   {"employee_id": "E7", "plan_code": "PAYG"}, None)])
    assert ack.state == "accepted"
    clock.advance(DELAY)
    [u] = sim.status([ack.operator_ref])
    assert u.state == "completed" and u.msisdn.startswith(NEW_NUMBER_PREFIX)
    assert len(u.msisdn) == len(NEW_NUMBER_PREFIX) + 7
    line = sim.line(u.msisdn)
    assert (line.payment, line.plan_code, line.employee_id) == ("PREPAID", "PAYG", "E7")


def test_resubmitting_a_key_never_creates_a_second_operator_order(sim, tmp_path):
    line = order_line("R11/27820000001", "add_service", {"service_code": "ROAM"}, POSTPAID)
    [first] = sim.submit([line])
    [second] = sim.submit([line])
    again = sim.submit([line, line])
    assert second == first and again == [first, first]
    assert count_orders(tmp_path / "operator.sqlite") == 1


def test_resubmission_after_a_crash_finds_the_first_order(tmp_path, clock):
    path = tmp_path / "operator.sqlite"
    line = order_line("R12/27820000001", "add_service", {"service_code": "ROAM"}, POSTPAID)
    first = SimulatedOperator(path, CATALOGUE, delay=DELAY, clock=clock)
    [ack] = first.submit([line])
    # The process dies without closing anything; a new one opens the same file.
    del first
    reopened = SimulatedOperator(path, CATALOGUE, delay=DELAY, clock=clock)
    [again] = reopened.submit([line])
    assert again == ack
    assert count_orders(path) == 1
    assert count_orders(path, "R12/27820000001") == 1
    clock.advance(DELAY)
    assert reopened.status([ack.operator_ref])[0].state == "completed"
    # A different key is a different order, with a new reference.
    [other] = reopened.submit([order_line("R13/27820000001", "remove_service",
                                          {"service_code": "ROAM"}, POSTPAID)])
    assert other.operator_ref != ack.operator_ref and other.state == "accepted"
    assert count_orders(path) == 2
    reopened.close()


def test_created_by_name(tmp_path, clock):
    sim = create_adapter("simulated", path=tmp_path / "op.sqlite", catalogue=CATALOGUE,
                         delay=0.01, clock=clock)
    assert isinstance(sim, SimulatedOperator) and sim.name == "simulated"
    [ack] = sim.submit([order_line("R14/1", "suspend_line", {}, POSTPAID)])
    clock.advance(0.01)
    assert sim.status([ack.operator_ref])[0].state == "completed"
    sim.close()
    with pytest.raises(ValueError, match="unknown provisioning adapter 'carrier-pigeon'"):
        create_adapter("carrier-pigeon")
    with pytest.raises(TypeError):
        create_adapter("simulated")


def test_two_workers_submitting_the_same_key_at_once_make_one_order(tmp_path, clock):
    import threading

    path = tmp_path / "operator.sqlite"
    ops = [SimulatedOperator(path, CATALOGUE, delay=DELAY, clock=clock) for _ in range(2)]
    line = order_line("R15/27820000001", "add_service", {"service_code": "ROAM"}, POSTPAID)
    refs, errors = [], []
    start = threading.Barrier(4)

    def work(op):
        try:
            start.wait()
            for _ in range(5):
                refs.append(op.submit([line])[0].operator_ref)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(ops[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(refs) == 20 and len(set(refs)) == 1
    assert count_orders(path) == 1
    for op in ops:
        op.close()


def test_with_the_real_clock_a_tiny_delay_completes(tmp_path):
    import time

    sim = SimulatedOperator(tmp_path / "op.sqlite", CATALOGUE, delay=0.05)
    [ack] = sim.submit([order_line("R16/1", "suspend_line", {}, POSTPAID)])
    time.sleep(0.06)
    assert sim.status([ack.operator_ref])[0].state == "completed"
    sim.close()


CHILD = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from provisioning_support import CATALOGUE, POSTPAID, order_line
from selfcare.provisioning.simulated import SimulatedOperator
sim = SimulatedOperator(sys.argv[1], CATALOGUE, delay=3600)
line = order_line("R17/27820000001", "add_service", {"service_code": "ROAM"}, POSTPAID)
print(sim.submit([line])[0].operator_ref, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_killed_after_submitting_leaves_one_order(tmp_path, clock):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "operator.sqlite"
    here = str(Path(__file__).parent)
    child = subprocess.run([sys.executable, "-c", CHILD, str(path), here],
                           capture_output=True, text=True, check=False, timeout=60)
    assert child.returncode == -9, child.stderr
    ref = child.stdout.strip()
    assert ref.startswith("SIM-")
    sim = SimulatedOperator(path, CATALOGUE, delay=DELAY, clock=clock)
    line = order_line("R17/27820000001", "add_service", {"service_code": "ROAM"}, POSTPAID)
    assert sim.submit([line])[0].operator_ref == ref
    assert count_orders(path) == 1
    sim.close()


def test_idempotency_keys_are_stable_and_distinct():
    from selfcare.provisioning.base import idempotency_key

    assert idempotency_key("ORD-1", "27820000001") == "ORD-1/27820000001"
    assert idempotency_key("ORD-1", None, 0) == "ORD-1/new-0"
    keys = {idempotency_key(r, m) for r in ("ORD-1", "ORD-2") for m in ("1", "2")}
    assert len(keys) == 4
