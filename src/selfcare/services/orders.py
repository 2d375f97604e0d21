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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
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
    "allowed_actions",
    "approve",
    "cancel",
    "create_order",
    "discrepancies",
    "edit_order",
    "expire_due",
    "get_order",
    "get_threshold",
    "line_detail",
    "lines_for",
    "list_orders",
    "poll_open",
    "reject",
    "set_threshold",
    "submit_approved",
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


# --- the requester's and approvers' operations ----------------------------------------------


def create_order(db: DbLike, actor: Any, action: str, msisdns: list[str], params: dict,
                 reason: str) -> OrderView:
    """Place an order of `action` with `params` on `msisdns` (for new_line: an empty list).

    Validates the action's parameters against the catalogue (InvalidParams naming the field),
    checks the actor may order for these lines (policy.check_request: NotAllowed; a line outside
    the actor's tenant or unknown is LineNotFound), computes the cost change, the approval steps
    and whom it waits for; an Administrator's order starts `approved`. Notifies the approver
    (or the tenant's Administrators when nobody in the chain has a Manager account)."""
    raise NotImplementedError


def edit_order(db: DbLike, actor: Any, order_id: int, params: dict,
               reason: str | None) -> OrderView:
    """The requester changes a pending order's parameters (and reason): the approvals given so
    far no longer count (a new round), the steps and the cost are derived again, the expiry
    clock restarts. IllegalTransition once it is no longer pending approval."""
    raise NotImplementedError


def approve(db: DbLike, actor: Any, order_id: int, comment: str | None = None) -> OrderView:
    """Give the approval the actor may give (policy.approve). When it is the last one the order
    needs, its lines move to `approved` (the worker submits them) and the requester is told;
    otherwise the next step's approvers are notified. Two approvers at once: one succeeds, the
    other gets IllegalTransition (or NotAllowed when the step they could give is taken)."""
    raise NotImplementedError


def reject(db: DbLike, actor: Any, order_id: int, reason: str) -> OrderView:
    """Refuse a pending order (a reason is required: InvalidParams('reason')); same approvers
    as `approve`. The requester is told."""
    raise NotImplementedError


def cancel(db: DbLike, actor: Any, order_id: int) -> OrderView:
    """The requester withdraws the order before submission (pending or approved lines)."""
    raise NotImplementedError


def get_order(db: DbLike, actor: Any, order_id: int) -> OrderView:
    """One order with its lines, approvals and timeline (OrderNotFound outside visibility)."""
    raise NotImplementedError


def list_orders(db: DbLike, actor: Any, *, state: str | None = None, msisdn: str | None = None,
                action: str | None = None, since: str | None = None, until: str | None = None,
                awaiting_me: bool = False, mine: bool = False, cursor: str | None = None,
                limit: int = 50) -> tuple[list[OrderView], str | None]:
    """The orders the actor may see, newest first, with filters; `mine`: placed by the actor;
    `awaiting_me`: those the actor may approve now. `since`/`until`: ISO dates (inclusive) on
    the creation time. Returns (page, cursor of the next page or None). Timelines are empty in
    lists (get_order has them)."""
    raise NotImplementedError


def allowed_actions(db: DbLike, actor: Any, order: OrderView) -> list[str]:
    """What the actor may do with the order now: a subset of approve, reject, cancel, edit."""
    raise NotImplementedError


def get_threshold(db: DbLike, actor: Any) -> Decimal:
    """The tenant's finance threshold (monthly increase above which finance approves too;
    default R 200.00). Any user of the tenant may read it."""
    raise NotImplementedError


def set_threshold(db: DbLike, actor: Any, amount: Decimal) -> None:
    """Administrators only (NotAllowed); a negative or non-numeric amount is InvalidParams."""
    raise NotImplementedError


# --- lines -----------------------------------------------------------------------------------


def lines_for(db: DbLike, actor: Any, *, search: str | None = None, cursor: str | None = None,
              limit: int = 50) -> tuple[list[LineView], str | None]:
    """The lines the actor sees (their own, their chain's, or the tenant's), as in effect, with
    pending changes of open orders; `search` matches number, employee name or cost centre.
    Orders are not attached in lists (line_detail has them)."""
    raise NotImplementedError


def line_detail(db: DbLike, actor: Any, msisdn: str) -> LineView:
    """One line as in effect, with its open and past orders (LineNotFound outside scope)."""
    raise NotImplementedError


def discrepancies(db: DbLike, actor: Any) -> list[Discrepancy]:
    """Administrators (NotAllowed otherwise): completed orders a newer snapshot contradicts."""
    raise NotImplementedError


# --- the worker's side ----------------------------------------------------------------------


def expire_due(db: DbLike, now: datetime) -> int:
    """Expire every order pending approval for EXPIRY_DAYS since placed or last edited; returns
    how many orders expired."""
    raise NotImplementedError


def submit_approved(db: DbLike, adapter: Any, now: datetime, limit: int = 100) -> int:
    """Hand approved lines to the operator, exactly once per line: claim (one transaction),
    adapter.submit with the line's fixed idempotency key, record the ack (second transaction).
    A claim left by a crashed worker is taken again and resubmitted with the same key. Returns
    how many lines were acknowledged."""
    raise NotImplementedError


def poll_open(db: DbLike, adapter: Any, now: datetime) -> int:
    """Ask the operator about submitted and in-progress lines and apply what moved through the
    lifecycle; returns how many line transitions were taken."""
    raise NotImplementedError
