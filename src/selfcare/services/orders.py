"""Orders: every change to the estate, with its approvals, as one transaction per operation.

The rules live in the pure domain (`selfcare.orders`: lifecycle, actions, policy); this module
stores orders and asks the domain. Every operation is ONE transaction holding the state change,
its audit row(s), its order_events row(s) and its notification and mail_outbox rows. A state
change is a guarded UPDATE (`... WHERE id = :id AND state IN (:sources)`); an UPDATE that
changes nothing means another request got there first: the order is read again and the caller
gets `IllegalTransition` (409). So each transition happens at most once, whatever the
concurrency.

Visibility: an order the actor may not see (`policy.may_see`), of another tenant, or missing,
is `OrderNotFound` (404) alike. Refusals of a visible order are `NotAllowed` (403); bad input
is `InvalidParams` (400, naming the field).

Worker side: `expire_due`, `submit_approved` (exactly once per line, also across a crash: a
claim with the line's fixed idempotency key in one transaction, `adapter.submit`, the ack in a
second transaction), `poll_open` (operator news through the lifecycle).

Status: only the views and errors are here so far; the operations are not implemented yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from selfcare.appdb import Database
from selfcare.orders.actions import InvalidParams
from selfcare.orders.lifecycle import IllegalTransition, UnknownEvent, WrongActor
from selfcare.orders.policy import NotAllowed
from selfcare.services.errors import NotFound

DbLike = Database | str | os.PathLike[str]

__all__ = [
    "Discrepancy",
    "Event",
    "IllegalTransition",
    "InvalidParams",
    "LineNotFound",
    "LineView",
    "NotAllowed",
    "OrderApprovalView",
    "OrderLineView",
    "OrderNotFound",
    "OrderView",
    "ServiceState",
    "UnknownEvent",
    "WrongActor",
]


# --- errors -----------------------------------------------------------------------------------


class OrderNotFound(NotFound):
    """No such order for this actor: missing, of another tenant, or not visible (the API's 404).

    The same answer in every case, so an id says nothing about orders one may not see."""

    status = 404

    def __init__(self, order_id: int | str | None = None):
        self.order_id = order_id
        super().__init__("no such order")


class LineNotFound(NotFound):
    """No such line for this actor (missing, another tenant's, or outside their scope: 404)."""

    status = 404

    def __init__(self, msisdn: str | None = None):
        self.msisdn = msisdn
        super().__init__("no such line")


# --- views (plain data: dataclasses.asdict gives JSON-able dicts, Decimals aside) ------------


@dataclass(frozen=True)
class Event:
    """One entry of an order's timeline."""

    at: str  # ISO-8601 UTC
    actor_email: str | None  # None: the system (worker) or the operator
    event: str  # create, edit, approve, reject, cancel, expire, submit, start, complete, fail
    from_state: str | None
    to_state: str | None
    comment: str | None = None
    msisdn: str | None = None  # for a line's own event (operator news)


@dataclass(frozen=True)
class OrderApprovalView:
    step: str  # manager | finance
    user_id: int
    user_email: str
    decision: str  # approved | rejected
    comment: str | None
    at: str
    round: int


@dataclass(frozen=True)
class OrderLineView:
    msisdn: str | None  # None for a new_line not yet completed
    state: str  # a lifecycle.LineState value
    operator_ref: str | None
    effective_on: str | None  # ISO date the change takes effect (completed lines)
    failure_reason: str | None
    requested: Any  # the value asked for (action.change(...).requested)
    in_effect: Any  # the value in effect when it was asked
    employee_id: str | None = None
    field: str | None = None  # what the change is about: plan_code | services | status | ...


@dataclass(frozen=True)
class OrderView:
    id: int
    reference: str
    tenant_id: str
    requester_id: int
    requester_email: str
    action: str
    params: dict[str, str]
    reason: str
    monthly_change: Decimal
    once_off_change: Decimal
    state: str  # a lifecycle.OrderState value
    needs: tuple[str, ...]  # the approval steps the order needs (policy.Step values)
    approvals: tuple[OrderApprovalView, ...]  # the decisions of the current round
    lines: tuple[OrderLineView, ...]
    created_at: str
    updated_at: str
    timeline: tuple[Event, ...] = ()
    open_steps: tuple[str, ...] = ()  # the steps still missing
    waits_for_employee_id: str | None = None  # whom it waits for (None: the Administrators)
    round: int = 1


@dataclass(frozen=True)
class ServiceState:
    code: str
    name: str
    state: str  # active | pending_add | pending_remove


@dataclass(frozen=True)
class LineView:
    msisdn: str
    employee_id: str | None
    employee_name: str | None
    cost_centre_id: str | None
    cost_centre_name: str | None
    account_id: str | None
    plan_code: str | None
    plan_name: str | None
    payment: str | None
    status: str | None
    services: tuple[ServiceState, ...]
    cug_id: str | None
    apns: tuple[str, ...]
    open_orders: tuple[OrderView, ...] = ()
    past_orders: tuple[OrderView, ...] = ()
    pending: dict[str, Any] = field(default_factory=dict)  # field -> requested, open orders


@dataclass(frozen=True)
class Discrepancy:
    """A completed order a newer operator snapshot does not reflect."""

    order_id: int
    reference: str
    msisdn: str
    action: str
    field: str
    expected: Any  # what the completed order set
    snapshot: Any  # what the newer snapshot says
    completed_at: str | None
    snapshot_as_of: str
