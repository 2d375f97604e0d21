"""The order-line lifecycle: every transition and every refusal, against a table written out here
independently of the module's own."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from selfcare.orders import lifecycle as lc

STATES = ["pending_approval", "approved", "submitted", "in_progress", "completed", "failed",
          "rejected", "cancelled", "expired"]
ACTORS = ["requester", "approver", "system", "operator"]

# Who takes each event (written from the issue: approvers decide, the requester edits and
# cancels, the worker submits and expires, the operator reports).
WHO = {
    "approve": "approver",
    "reject": "approver",
    "edit": "requester",
    "cancel": "requester",
    "expire": "system",
    "submit": "system",
    "start": "operator",
    "complete": "operator",
    "fail": "operator",
}
# (state, event) -> state after; every pair not listed is illegal.
MOVES = {
    ("pending_approval", "approve"): "approved",
    ("pending_approval", "reject"): "rejected",
    ("pending_approval", "edit"): "pending_approval",
    ("pending_approval", "cancel"): "cancelled",
    ("approved", "cancel"): "cancelled",
    ("pending_approval", "expire"): "expired",
    ("approved", "submit"): "submitted",
    ("submitted", "start"): "in_progress",
    ("submitted", "complete"): "completed",
    ("in_progress", "complete"): "completed",
    ("submitted", "fail"): "failed",
    ("in_progress", "fail"): "failed",
}


def test_the_table_has_exactly_the_expected_events():
    assert set(lc.EVENTS) == set(WHO)
    assert {t.event: {a.value for a in t.actors} for t in lc.TRANSITIONS} == {
        e: {a} for e, a in WHO.items()
    }


@pytest.mark.parametrize(
    ("state", "event", "actor"),
    [pytest.param(s, e, a, id=f"{s}-{e}-{a}")
     for s, e, a in itertools.product(STATES, WHO, ACTORS)],
)
def test_every_transition_and_refusal(state, event, actor):
    if actor != WHO[event]:
        with pytest.raises(lc.WrongActor):
            lc.apply(state, event, actor)
    elif (state, event) in MOVES:
        assert lc.apply(state, event, actor) == MOVES[(state, event)]
    else:
        with pytest.raises(lc.IllegalTransition) as info:
            lc.apply(state, event, actor)
        assert info.value.status == 409
        assert state in str(info.value) and event in str(info.value)


def test_approving_a_completed_line_is_a_conflict():
    with pytest.raises(lc.IllegalTransition, match="cannot approve an order line that is"):
        lc.apply("completed", "approve", "approver")


def test_unknown_event_is_bad_input():
    with pytest.raises(lc.UnknownEvent) as info:
        lc.apply("approved", "teleport", "system")
    assert info.value.status == 400


def test_sources_are_the_guard_of_each_event():
    for event in WHO:
        assert {s.value for s in lc.sources(event)} == {s for (s, e) in MOVES if e == event}


def test_terminal_states_allow_nothing():
    for state in ("completed", "failed", "rejected", "cancelled", "expired"):
        assert lc.allowed_events(state) == ()


def test_allowed_events_per_actor():
    assert set(lc.allowed_events("pending_approval", "approver")) == {"approve", "reject"}
    assert set(lc.allowed_events("pending_approval", "requester")) == {"edit", "cancel"}
    assert set(lc.allowed_events("approved", "requester")) == {"cancel"}
    assert lc.allowed_events("submitted", "requester") == ()
    assert set(lc.allowed_events("in_progress")) == {"complete", "fail"}


def test_initial_state():
    assert lc.initial_state(needs_approval=True) == "pending_approval"
    assert lc.initial_state(needs_approval=False) == "approved"


def test_expiry_after_fourteen_days_only_while_pending():
    placed = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    almost = placed + timedelta(days=13, hours=23)
    assert not lc.is_due_to_expire("pending_approval", placed, almost)
    assert lc.is_due_to_expire("pending_approval", placed, placed + timedelta(days=14))
    assert not lc.is_due_to_expire("approved", placed, placed + timedelta(days=30))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(["pending_approval"] * 3, "pending_approval", id="all-pending"),
        pytest.param(["approved", "approved"], "approved", id="all-approved"),
        pytest.param(["submitted", "submitted"], "submitted", id="all-submitted"),
        pytest.param(["submitted", "in_progress"], "in_progress", id="one-started"),
        pytest.param(["submitted", "completed"], "in_progress", id="one-done-one-waiting"),
        pytest.param(["failed", "in_progress"], "in_progress", id="one-failed-one-working"),
        pytest.param(["approved", "submitted"], "approved", id="submission-half-way"),
        pytest.param(["completed", "completed"], "completed", id="all-completed"),
        pytest.param(["failed", "failed"], "failed", id="all-failed"),
        pytest.param(["completed", "failed", "completed"], "partially_completed", id="mixed"),
        pytest.param(["rejected", "rejected"], "rejected", id="rejected"),
        pytest.param(["cancelled"], "cancelled", id="cancelled"),
        pytest.param(["expired", "expired"], "expired", id="expired"),
        pytest.param(["cancelled", "completed"], "completed", id="cancelled-line-set-aside"),
        pytest.param(["cancelled", "rejected"], "rejected", id="rejected-wins"),
        pytest.param(["cancelled", "expired"], "expired", id="expired-over-cancelled"),
    ],
)
def test_order_state_from_line_states(lines, expected):
    assert lc.order_state(lines) == expected


def test_an_order_has_lines():
    with pytest.raises(ValueError):
        lc.order_state([])
