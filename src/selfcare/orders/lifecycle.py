"""The lifecycle of an order line, as data: states, and transitions that each name who takes them.

An order has one state per line, so one line can fail while the others complete:

    pending_approval --approve--> approved --submit--> submitted --start--> in_progress
          |   ^                      |                     |                   |
          |   '--edit (restarts      |                     '--complete/fail----+--> completed
          |       approvals)         |                                              | failed
          +--reject--> rejected      |
          +--cancel--> cancelled <---'   (by the requester, before submission)
          '--expire--> expired           (no decision within EXPIRY_DAYS)

An order placed by an Administrator needs no approval and starts in `approved`
(`initial_state`). Approval, rejection, cancellation and expiry concern the whole order (every
line takes the same event); from submission on, lines move on their own.

The transitions are a table, not a state-machine library's class: the state is a column that the
services change with a guarded `UPDATE ... WHERE state IN (sources)`, so what they need is, per
event, the source states, the target and the actor kinds that may take it: exactly this table.

`order_state` derives an order's overall state from its lines' states (see its docstring).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from selfcare.orders import OrderError

# An order waiting for a decision longer than this expires (the worker takes `expire`).
EXPIRY_DAYS = 14


class LineState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class OrderState(StrEnum):
    """An order's overall state: a line state, or `partially_completed` (some lines completed,
    the others failed)."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIALLY_COMPLETED = "partially_completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Actor(StrEnum):
    """Who takes a transition (a kind of actor; which person may is `policy`'s question)."""

    REQUESTER = "requester"  # the person who placed the order
    APPROVER = "approver"  # a person `policy.may_approve` allows
    SYSTEM = "system"  # the portal's worker (submission, expiry)
    OPERATOR = "operator"  # the network, through the provisioning adapter


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[LineState]
    target: LineState
    actors: frozenset[Actor]
    description: str


def _t(event: str, sources: Iterable[LineState], target: LineState, actors, description: str):
    return Transition(event, frozenset(sources), target, frozenset(actors), description)


S = LineState
TRANSITIONS: tuple[Transition, ...] = (
    _t("approve", [S.PENDING_APPROVAL], S.APPROVED, [Actor.APPROVER],
       "the last approval the order needs was given"),
    _t("reject", [S.PENDING_APPROVAL], S.REJECTED, [Actor.APPROVER],
       "an approver refused the order (a reason is required)"),
    _t("edit", [S.PENDING_APPROVAL], S.PENDING_APPROVAL, [Actor.REQUESTER],
       "the requester changed the order before approval: its approvals start again"),
    _t("cancel", [S.PENDING_APPROVAL, S.APPROVED], S.CANCELLED, [Actor.REQUESTER],
       "the requester withdrew the order before it was submitted"),
    _t("expire", [S.PENDING_APPROVAL], S.EXPIRED, [Actor.SYSTEM],
       f"no decision within {EXPIRY_DAYS} days"),
    _t("submit", [S.APPROVED], S.SUBMITTED, [Actor.SYSTEM],
       "the worker handed the line to the operator, who acknowledged it"),
    _t("start", [S.SUBMITTED], S.IN_PROGRESS, [Actor.OPERATOR],
       "the operator reports work on the line"),
    _t("complete", [S.SUBMITTED, S.IN_PROGRESS], S.COMPLETED, [Actor.OPERATOR],
       "the operator reports the change done, with the date it takes effect"),
    _t("fail", [S.SUBMITTED, S.IN_PROGRESS], S.FAILED, [Actor.OPERATOR],
       "the operator refused or could not do the change, with a reason"),
)
del S

EVENTS: dict[str, Transition] = {t.event: t for t in TRANSITIONS}
TERMINAL: frozenset[LineState] = frozenset(
    {LineState.COMPLETED, LineState.FAILED, LineState.REJECTED, LineState.CANCELLED,
     LineState.EXPIRED}
)
# The states in which the order has not yet reached the operator (the requester may cancel).
BEFORE_SUBMISSION: frozenset[LineState] = frozenset(
    {LineState.PENDING_APPROVAL, LineState.APPROVED}
)


class IllegalTransition(OrderError):
    """The event cannot happen in the line's current state (the API answers 409 Conflict)."""

    status = 409

    def __init__(self, state: LineState | str, event: str):
        self.state = LineState(state)
        self.event = event
        super().__init__(f"cannot {event} an order line that is {self.state.value}")


class UnknownEvent(OrderError):
    """No such event (a programming error or bad input: the API answers 400)."""

    status = 400

    def __init__(self, event: str):
        self.event = event
        super().__init__(f"event: unknown order event {event!r}")


class WrongActor(OrderError):
    """The event exists here but this kind of actor does not take it (the API answers 403)."""

    status = 403

    def __init__(self, event: str, actor: Actor | str):
        self.event = event
        self.actor = actor
        super().__init__(f"a {actor} cannot {event} an order line")


def transition(event: str) -> Transition:
    try:
        return EVENTS[event]
    except KeyError:
        raise UnknownEvent(event) from None


def sources(event: str) -> frozenset[LineState]:
    """The states from which `event` may happen: the guard of the services' UPDATE."""
    return transition(event).sources


def apply(state: LineState | str, event: str, actor: Actor | str) -> LineState:
    """The state after `event` taken by `actor` from `state`; raises if it is not allowed.

    The actor is checked before the state so that a wrong-actor attempt never leaks whether
    the line is in a state where the event would be legal.
    """
    t = transition(event)
    actor = Actor(actor)
    if actor not in t.actors:
        raise WrongActor(event, actor)
    state = LineState(state)
    if state not in t.sources:
        raise IllegalTransition(state, event)
    return t.target


def allowed_events(state: LineState | str, actor: Actor | str | None = None) -> tuple[str, ...]:
    """The events that may happen from `state` (only those `actor` takes, if given)."""
    state = LineState(state)
    return tuple(
        t.event
        for t in TRANSITIONS
        if state in t.sources and (actor is None or Actor(actor) in t.actors)
    )


def initial_state(needs_approval: bool) -> LineState:
    """Where a new order's lines start: waiting for approval, or approved (Administrator)."""
    return LineState.PENDING_APPROVAL if needs_approval else LineState.APPROVED


def is_due_to_expire(state: LineState | str, last_restart: datetime, now: datetime) -> bool:
    """True when a pending order has waited EXPIRY_DAYS since it was placed or last edited."""
    return LineState(state) is LineState.PENDING_APPROVAL and now - last_restart >= timedelta(
        days=EXPIRY_DAYS
    )


# How far a line has come, for deriving the order's state from its open lines.
_PROGRESS = {
    LineState.PENDING_APPROVAL: 0,
    LineState.APPROVED: 1,
    LineState.SUBMITTED: 2,
    LineState.IN_PROGRESS: 3,
}
_REACHED_OPERATOR = frozenset({LineState.COMPLETED, LineState.FAILED})


def order_state(line_states: Iterable[LineState | str]) -> OrderState:
    """An order's overall state, derived from its lines' states:

    1. While any line is open (not terminal), the order is as far as its least advanced open
       line (pending_approval < approved < submitted < in_progress), except that once any line
       has moved past `submitted` (in progress or finished) the order is `in_progress`.
    2. When every line is finished: lines that never reached the operator (rejected, cancelled,
       expired) are set aside if any line did; then all completed -> `completed`, all failed ->
       `failed`, both -> `partially_completed`.
    3. If no line reached the operator: `rejected` if any line was rejected, else `expired` if
       any expired, else `cancelled`.
    """
    states = [LineState(s) for s in line_states]
    if not states:
        raise ValueError("an order has at least one line")
    open_ = [s for s in states if s not in TERMINAL]
    if open_:
        least = min(open_, key=_PROGRESS.__getitem__)
        moved_on = any(s not in _PROGRESS or _PROGRESS[s] > _PROGRESS[LineState.SUBMITTED]
                       for s in states)
        if _PROGRESS[least] == _PROGRESS[LineState.SUBMITTED] and moved_on:
            return OrderState.IN_PROGRESS
        return OrderState(least.value)
    reached = {s for s in states if s in _REACHED_OPERATOR}
    if reached == {LineState.COMPLETED}:
        return OrderState.COMPLETED
    if reached == {LineState.FAILED}:
        return OrderState.FAILED
    if reached:
        return OrderState.PARTIALLY_COMPLETED
    for s in (LineState.REJECTED, LineState.EXPIRED, LineState.CANCELLED):
        if s in states:
            return OrderState(s.value)
    raise AssertionError("unreachable: every terminal state is handled")  # pragma: no cover
