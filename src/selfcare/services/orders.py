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
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from selfcare import roles
from selfcare.appdb import (
    Database,
    OrderApprovalRecord,
    OrderEventRecord,
    OrderLineRecord,
    OrderRecord,
    TenantSettingsRecord,
    UserRecord,
    database,
)
from selfcare.orders import actions, lifecycle, policy
from selfcare.orders.actions import InvalidParams
from selfcare.orders.lifecycle import IllegalTransition, LineState, UnknownEvent, WrongActor
from selfcare.orders.policy import DEFAULT_FINANCE_THRESHOLD, NotAllowed
from selfcare.provisioning.base import (
    LIFECYCLE_EVENT,
    OperatorState,
    OrderLine,
    ProvisioningError,
    idempotency_key,
)
from selfcare.roles import ADMIN
from selfcare.services import estate as estates
from selfcare.services import notifications
from selfcare.services.audit import now, record
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
    "get_threshold",
    "set_threshold",
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


# --- helpers -----------------------------------------------------------------------------------

# A claim older than this is taken to be a crashed worker's: its line is submitted again, with the
# same idempotency key (the adapter answers the first submission's operator order).
CLAIM_TIMEOUT = timedelta(seconds=30)
# Order lines in these states are still open (shown as pending on the line).
OPEN_STATES = frozenset(s.value for s in LineState if s not in lifecycle.TERMINAL)
FINISHED_ORDER = frozenset({"completed", "failed", "partially_completed"})


def _iso(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _person(actor: Any) -> policy.Person:
    return policy.Person(str(actor.id), actor.tenant_id or "", str(actor.role or ""),
                         actor.employee_id or None)


def _tenant_of(actor: Any) -> str:
    """The actor's tenant, or NotAllowed for someone with none (the analyst)."""
    if actor is None or actor.role not in roles.TENANT_ROLES or not actor.tenant_id:
        raise NotAllowed("orders belong to a tenant's users")
    return actor.tenant_id


def _threshold_of(session: Session, tenant_id: str) -> Decimal:
    row = session.get(TenantSettingsRecord, tenant_id)
    return row.finance_threshold if row else policy.DEFAULT_FINANCE_THRESHOLD


def _tenant_users(session: Session, tenant_id: str) -> list[UserRecord]:
    return list(session.scalars(select(UserRecord).where(
        UserRecord.tenant_id == tenant_id, UserRecord.active == 1)).all())


def _org(session: Session, tenant_id: str, est: estates.Estate) -> policy.Org:
    accounts: dict[str, str] = {}
    for user in _tenant_users(session, tenant_id):
        if user.employee_id:
            # an employee with several accounts: the Manager one is what notify_approver seeks
            if accounts.get(user.employee_id) != roles.MANAGER:
                accounts[user.employee_id] = user.role
    return policy.Org(tenant_id, est.managers(), accounts, _threshold_of(session, tenant_id))


def _order_facts(order: OrderRecord, lines: Sequence[OrderLineRecord]) -> policy.OrderFacts:
    requester = policy.Person(str(order.requester_id), order.tenant_id, order.requester_role,
                              order.requester_employee_id)
    return policy.OrderFacts(order.tenant_id, requester,
                             tuple(line.employee_id for line in lines),
                             max(order.monthly_change, Decimal("0.00")))


def _lines_of(session: Session, order_id: int) -> list[OrderLineRecord]:
    return list(session.scalars(select(OrderLineRecord).where(
        OrderLineRecord.order_id == order_id).order_by(OrderLineRecord.position)).all())


def _given(session: Session, order: OrderRecord) -> list[policy.Approval]:
    rows = session.scalars(select(OrderApprovalRecord).where(
        OrderApprovalRecord.order_id == order.id, OrderApprovalRecord.round == order.round,
        OrderApprovalRecord.decision == "approved").order_by(OrderApprovalRecord.id)).all()
    return [policy.Approval(policy.Step(r.step), str(r.user_id)) for r in rows]


def _event(session: Session, order: OrderRecord, event: str, from_state: str | None,
           to_state: str | None, actor: Any = None, comment: str | None = None,
           line: OrderLineRecord | None = None, at: str | None = None) -> None:
    session.add(OrderEventRecord(
        order_id=order.id, line_id=line.id if line is not None else None, at=at or _iso(),
        actor_id=getattr(actor, "id", None), actor_email=getattr(actor, "email", None),
        event=event, from_state=from_state, to_state=to_state, comment=comment))


def _audit(session: Session, event: str, order: OrderRecord, before: str | None,
           after: str | None, actor: Any = None, detail: str = "") -> None:
    record(session, f"order_{event}", getattr(actor, "email", None) or "system",
           getattr(actor, "id", None),
           detail=f"{order.reference} {order.action} {before or '-'} -> {after or '-'}"
                  + (f" {detail}" if detail else ""))


def _msisdns(lines: Sequence[OrderLineRecord]) -> list[str]:
    return [line.msisdn or line.new_msisdn or "new line" for line in lines]


def _approvers_to_notify(session: Session, order: OrderRecord, org: policy.Org,
                         given: Sequence[policy.Approval]) -> list[UserRecord]:
    """Who hears that the order waits: the Manager account(s) of the employee it waits for for
    the manager step (the tenant's Administrators when there is none); the tenant's Financial
    Managers for the finance step."""
    facts = _order_facts(order, _lines_of(session, order.id))
    steps = policy.open_steps(facts, org, given)
    if not steps:
        return []
    users = _tenant_users(session, order.tenant_id)
    if steps[0] is policy.Step.MANAGER:
        wanted = [u for u in users if u.role == roles.MANAGER and order.waits_for_employee_id
                  and u.employee_id == order.waits_for_employee_id]
        if not wanted:
            wanted = [u for u in users if u.role == roles.ADMIN]
    else:
        wanted = [u for u in users if u.role == roles.FINANCE] or [
            u for u in users if u.role == roles.ADMIN]
    return [u for u in wanted if u.id != order.requester_id]


def _requester(session: Session, order: OrderRecord) -> list[UserRecord]:
    user = session.get(UserRecord, order.requester_id)
    return [user] if user is not None else []


def _locked(session: Session, order_id: Any) -> OrderRecord | None:
    """The order row, locked for this transaction (PostgreSQL: FOR UPDATE; SQLite holds the
    database's write lock already, BEGIN IMMEDIATE)."""
    try:
        oid = int(order_id)
    except (TypeError, ValueError):
        return None
    return session.scalars(select(OrderRecord).where(OrderRecord.id == oid)
                           .with_for_update()).first()


def _visible(session: Session, actor: Any, order_id: Any,
             lock: bool = False) -> tuple[OrderRecord, list[OrderLineRecord], policy.Org]:
    """The order if the actor may see it; OrderNotFound otherwise (missing, another tenant's,
    outside their visibility: the same answer)."""
    tenant = actor.tenant_id if actor is not None else None
    if lock:
        order = _locked(session, order_id)
    else:
        try:
            order = session.get(OrderRecord, int(order_id))
        except (TypeError, ValueError):
            order = None
    if order is None or not tenant or order.tenant_id != tenant \
            or actor.role not in roles.TENANT_ROLES:
        raise OrderNotFound(order_id)
    lines = _lines_of(session, order.id)
    org = _org(session, order.tenant_id, estates.tenant_estate(order.tenant_id))
    if not policy.may_see(_person(actor), _order_facts(order, lines), org):
        raise OrderNotFound(order_id)
    return order, lines, org


def _set_lines(session: Session, order: OrderRecord, event: str, at: str,
               only: Iterable[int] | None = None, extra_guard=None, **values: Any) -> int:  # noqa: ANN001
    """The guarded UPDATE of an order-wide event: every line in one of the event's source
    states moves to its target. Returns how many lines moved."""
    t = lifecycle.transition(event)
    q = update(OrderLineRecord).where(
        OrderLineRecord.order_id == order.id,
        OrderLineRecord.state.in_([s.value for s in t.sources]))
    if only is not None:
        q = q.where(OrderLineRecord.id.in_(list(only)))
    if extra_guard is not None:
        q = q.where(extra_guard)
    return session.execute(q.values(state=t.target.value, updated_at=at, **values)).rowcount


def _refresh_state(session: Session, order: OrderRecord, at: str, guard_state: str | None = None,
                   guard_round: int | None = None, **values: Any) -> str:
    """Derive the order's state from its lines and store it (guarded by the state read, when
    given: rowcount 0 means another transaction changed the order first)."""
    session.flush()
    states = [s for (s,) in session.execute(select(OrderLineRecord.state).where(
        OrderLineRecord.order_id == order.id))]
    new = lifecycle.order_state(states).value
    q = update(OrderRecord).where(OrderRecord.id == order.id)
    if guard_state is not None:
        q = q.where(OrderRecord.state == guard_state)
    if guard_round is not None:
        q = q.where(OrderRecord.round == guard_round)
    if session.execute(q.values(state=new, updated_at=at, **values)).rowcount != 1:
        raise IllegalTransition(LineState.PENDING_APPROVAL if guard_state is None else
                                _line_state(guard_state), "change")
    session.expire(order)
    return new


def _line_state(order_state: str) -> LineState:
    try:
        return LineState(order_state)
    except ValueError:
        return LineState.COMPLETED


def _in_effect_orders(
    session: Session, tenant_id: str, msisdns: Iterable[str] | None = None
) -> list[tuple[OrderRecord, OrderLineRecord]]:
    q = (select(OrderRecord, OrderLineRecord)
         .join(OrderLineRecord, OrderLineRecord.order_id == OrderRecord.id)
         .where(OrderRecord.tenant_id == tenant_id))
    if msisdns is not None:
        q = q.where(OrderLineRecord.msisdn.in_(list(msisdns)))
    return [(o, line) for o, line in session.execute(q.order_by(OrderLineRecord.id)).all()]


@dataclass
class _Effective:
    """A line as in effect: the snapshot with the orders completed after it applied."""

    snap: estates.SnapshotLine
    plan_code: str | None
    status: str | None
    services: set[str]
    pending: dict[str, Any]
    pending_services: dict[str, str]  # code -> pending_add | pending_remove
    open_ids: list[int]
    past_ids: list[int]

    def facts(self, catalogue: actions.Catalogue) -> actions.LineFacts:
        plan = catalogue.plans.get(self.plan_code or "")
        return actions.LineFacts(
            msisdn=self.snap.msisdn, payment=plan.payment if plan else (self.snap.payment or ""),
            plan_code=self.plan_code or "", status=self.status or actions.ACTIVE,
            services=frozenset(self.services), employee_id=self.snap.employee_id)


def _applies(line: OrderLineRecord, snapshot_as_of: str | None, today: str) -> bool:
    """A completed change counts on top of the snapshot when completed on or after its date and
    already in effect (a plan change takes effect from the next bill period)."""
    done = (line.completed_at or "")[:10]
    if snapshot_as_of and done < snapshot_as_of:
        return False
    return not line.effective_on or line.effective_on <= today


def _effective(session: Session, est: estates.Estate,
               msisdns: Iterable[str]) -> dict[str, _Effective]:
    wanted = [m for m in msisdns if m in est.lines]
    out = {m: _Effective(est.lines[m], est.lines[m].plan_code, est.lines[m].status,
                         set(est.lines[m].services), {}, {}, [], [])
           for m in wanted}
    today = datetime.now(UTC).date().isoformat()
    rows = _in_effect_orders(session, est.tenant_id, wanted) if wanted else []
    rows.sort(key=lambda ol: (ol[1].completed_at or "", ol[1].id))
    for order, line in rows:
        eff = out.get(line.msisdn or "")
        if eff is None:
            continue
        field_ = line.change_field
        if line.state in OPEN_STATES:
            eff.open_ids.append(order.id)
            if order.action in ("add_service", "remove_service"):
                code = (order.params or {}).get("service_code")
                eff.pending_services[code] = ("pending_add" if order.action == "add_service"
                                              else "pending_remove")
            else:
                eff.pending[field_] = line.requested
            continue
        eff.past_ids.append(order.id)
        if line.state != LineState.COMPLETED:
            continue
        if field_ == "services":
            if not _applies(line, eff.snap.services_as_of, today):
                continue
            code = (order.params or {}).get("service_code")
            if order.action == "add_service":
                eff.services.add(code)
            elif order.action == "remove_service":
                eff.services.discard(code)
        elif field_ in ("plan_code", "status"):
            if not _applies(line, eff.snap.as_of, today):
                if line.effective_on and line.effective_on > today:
                    eff.pending[field_] = line.requested  # scheduled: shown as pending
                continue
            setattr(eff, field_, line.requested)
    return out


def _visible_msisdns(actor: Any, est: estates.Estate, org: policy.Org) -> list[str]:
    """The lines the actor sees: as the gate's scope (own lines, the chain's, or all)."""
    if actor.role in roles.ALL_LINE_ROLES:
        return sorted(est.lines)
    if not actor.employee_id:
        return []
    if actor.role == roles.MANAGER:
        return sorted(m for m, line in est.lines.items()
                      if org.is_below(line.employee_id, actor.employee_id))
    if actor.role == roles.END_USER:
        return sorted(m for m, line in est.lines.items() if line.employee_id == actor.employee_id)
    return []


# --- views ---------------------------------------------------------------------------------------


def _view(session: Session, order: OrderRecord, lines: Sequence[OrderLineRecord],
          org: policy.Org | None, timeline: bool = False) -> OrderView:
    approvals = session.scalars(select(OrderApprovalRecord).where(
        OrderApprovalRecord.order_id == order.id, OrderApprovalRecord.round == order.round)
        .order_by(OrderApprovalRecord.id)).all()
    needs = tuple(s for s in (order.needs or "").split(",") if s)
    given = {a.step for a in approvals if a.decision == "approved"}
    open_steps = tuple(s for s in needs if s not in given) if order.state == "pending_approval" \
        else ()
    events: tuple[Event, ...] = ()
    if timeline:
        by_line = {line.id: line.msisdn for line in lines}
        events = tuple(
            Event(e.at, e.actor_email, e.event, e.from_state, e.to_state, e.comment,
                  by_line.get(e.line_id) if e.line_id else None)
            for e in session.scalars(select(OrderEventRecord).where(
                OrderEventRecord.order_id == order.id).order_by(OrderEventRecord.id)).all())
    return OrderView(
        id=order.id, reference=order.reference, tenant_id=order.tenant_id,
        requester_id=order.requester_id, requester_email=order.requester_email,
        action=order.action, params=dict(order.params or {}), reason=order.reason,
        monthly_change=order.monthly_change, once_off_change=order.once_off_change,
        state=order.state, needs=needs,
        approvals=tuple(OrderApprovalView(a.step, a.user_id, a.user_email, a.decision, a.comment,
                                          a.at, a.round) for a in approvals),
        lines=tuple(OrderLineView(line.msisdn or line.new_msisdn, line.state, line.operator_ref,
                                  line.effective_on, line.failure_reason, line.requested,
                                  line.in_effect, line.employee_id, line.change_field)
                    for line in lines),
        created_at=order.created_at, updated_at=order.updated_at, timeline=events,
        open_steps=open_steps, waits_for_employee_id=order.waits_for_employee_id,
        round=order.round)


def _reason(text: Any, name: str = "reason") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidParams(name, "is required")
    if len(text) > 2000:
        raise InvalidParams(name, "at most 2000 characters")
    return text.strip()


def _comment(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidParams("comment", "must be a string")
    if len(text) > 2000:
        raise InvalidParams("comment", "at most 2000 characters")
    return text.strip() or None


def _prepare(session: Session, actor: Any, est: estates.Estate, org: policy.Org, action: str,
             msisdns: Sequence[str], params: dict) -> tuple[type[actions.Action], dict, list,
                                                          list, actions.CostChange]:
    """Validate an order's action, parameters and lines for the actor: (spec, clean params,
    [(msisdn, owner, facts)], owners, cost)."""
    spec = actions.get(action)
    if not isinstance(params, dict | type(None)):
        raise InvalidParams("params", "must be an object")
    clean = spec.validate(params, est.catalogue)
    if not isinstance(msisdns, list | tuple) or not all(isinstance(m, str) for m in msisdns):
        raise InvalidParams("msisdns", "must be a list of numbers")
    numbers = list(dict.fromkeys(m.strip() for m in msisdns))
    entries: list[tuple[str | None, str | None, actions.LineFacts | None]] = []
    if spec.on_existing_line:
        if not numbers:
            raise InvalidParams("msisdns", "at least one line is required")
        if len(numbers) > 500:
            raise InvalidParams("msisdns", "at most 500 lines in one order")
        visible = set(_visible_msisdns(actor, est, org))
        for m in numbers:
            if m not in visible:
                raise LineNotFound(m)
        effective = _effective(session, est, numbers)
        for m in numbers:
            entries.append((m, est.lines[m].employee_id, effective[m].facts(est.catalogue)))
    else:
        if numbers:
            raise InvalidParams("msisdns", f"{action} is for a new line: give no numbers")
        if clean.get("employee_id") not in est.employees:
            raise InvalidParams("employee_id", "no such employee in this tenant")
        entries.append((None, clean["employee_id"], None))
    owners = [owner for _, owner, _ in entries]
    policy.check_request(_person(actor), org, owners)
    cost = actions.order_cost(action, clean, [f for _, _, f in entries], est.catalogue)
    return spec, clean, entries, owners, cost


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list | frozenset | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _facts_json(facts: actions.LineFacts | None) -> dict | None:
    if facts is None:
        return None
    return {"msisdn": facts.msisdn, "payment": facts.payment, "plan_code": facts.plan_code,
            "status": facts.status, "services": sorted(facts.services),
            "employee_id": facts.employee_id, "iccid": facts.iccid}


def _facts_of(data: dict | None) -> actions.LineFacts | None:
    if not data:
        return None
    return actions.LineFacts(data["msisdn"], data["payment"], data["plan_code"], data["status"],
                             frozenset(data.get("services") or ()), data.get("employee_id"),
                             data.get("iccid"))


# --- the requester's and approvers' operations ----------------------------------------------


def create_order(db: DbLike, actor: Any, action: str, msisdns: list[str], params: dict,
                 reason: str) -> OrderView:
    """Place an order of `action` with `params` on `msisdns` (for new_line: an empty list).

    Validates the action's parameters against the catalogue (InvalidParams naming the field),
    checks the actor may order for these lines (policy.check_request: NotAllowed; a line outside
    the actor's tenant or unknown is LineNotFound), computes the cost change, the approval steps
    and whom it waits for; an Administrator's order starts `approved`. Notifies the approver
    (or the tenant's Administrators when nobody in the chain has a Manager account)."""
    tenant = _tenant_of(actor)
    reason = _reason(reason)
    est = estates.tenant_estate(tenant)
    with database(db).transaction() as session:
        org = _org(session, tenant, est)
        spec, clean, entries, owners, cost = _prepare(session, actor, est, org, action,
                                                      msisdns or [], params)
        person = _person(actor)
        facts = policy.OrderFacts(tenant, person, tuple(owners), cost.monthly_increase)
        steps = policy.required_approvals(facts, org)
        state = lifecycle.initial_state(bool(steps)).value
        at = _iso()
        order = OrderRecord(
            reference=f"tmp-{uuid.uuid4().hex}", tenant_id=tenant, requester_id=actor.id,
            requester_email=actor.email, requester_employee_id=actor.employee_id or None,
            requester_role=actor.role, action=spec.code, params=clean, reason=reason,
            monthly_change=cost.monthly, once_off_change=cost.once_off,
            needs=",".join(s.value for s in steps),
            waits_for_employee_id=policy.notify_approver(facts, org) if steps else None,
            round=1, state=state, created_at=at, updated_at=at, restarted_at=at)
        session.add(order)
        session.flush()
        order.reference = f"ORD-{order.id:07d}"
        for position, (msisdn, owner, line_facts) in enumerate(entries):
            change = spec.change(clean, line_facts)
            session.add(OrderLineRecord(
                order_id=order.id, position=position, msisdn=msisdn, employee_id=owner,
                state=state, idempotency_key=idempotency_key(order.reference, msisdn, position),
                change_field=change.field, requested=_jsonable(change.requested),
                in_effect=_jsonable(change.in_effect), facts=_facts_json(line_facts),
                updated_at=at))
        session.flush()
        _event(session, order, "create", None, state, actor, reason, at=at)
        _audit(session, "create", order, None, state, actor,
               f"lines={','.join(m or 'new' for m, _, _ in entries)}")
        lines = _lines_of(session, order.id)
        if steps:
            notifications.notify(session, _approvers_to_notify(session, order, org, []),
                                 "awaiting_approval", order, _msisdns(lines))
        return _view(session, order, lines, org, timeline=True)


def edit_order(db: DbLike, actor: Any, order_id: int, params: dict,
               reason: str | None) -> OrderView:
    """The requester changes a pending order's parameters (and reason): the approvals given so
    far no longer count (a new round), the steps and the cost are derived again, the expiry
    clock restarts. IllegalTransition once it is no longer pending approval."""
    with database(db).transaction() as session:
        order, lines, org = _visible(session, actor, order_id, lock=True)
        person = _person(actor)
        if not policy.may_edit(person, _order_facts(order, lines)):
            raise NotAllowed("only the requester edits an order")
        lifecycle.apply(order.state if order.state in OPEN_STATES else lines[0].state, "edit",
                        lifecycle.Actor.REQUESTER)
        new_reason = _reason(reason) if reason is not None else order.reason
        est = estates.tenant_estate(order.tenant_id)
        msisdns = [line.msisdn for line in lines if line.msisdn]
        spec, clean, entries, owners, cost = _prepare(session, actor, est, org, order.action,
                                                      msisdns, params)
        facts = policy.OrderFacts(order.tenant_id, person, tuple(owners), cost.monthly_increase)
        steps = policy.required_approvals(facts, org)
        at = _iso()
        old_round = order.round
        for line, (_msisdn, _owner, line_facts) in zip(lines, entries, strict=True):
            change = spec.change(clean, line_facts)
            line.requested = _jsonable(change.requested)
            line.in_effect = _jsonable(change.in_effect)
            line.facts = _facts_json(line_facts)
            line.updated_at = at
        moved = session.execute(
            update(OrderRecord)
            .where(OrderRecord.id == order.id, OrderRecord.state == "pending_approval",
                   OrderRecord.round == old_round)
            .values(params=clean, reason=new_reason, monthly_change=cost.monthly,
                    once_off_change=cost.once_off, needs=",".join(s.value for s in steps),
                    waits_for_employee_id=policy.notify_approver(facts, org),
                    round=old_round + 1, restarted_at=at, updated_at=at)).rowcount
        if moved != 1:
            raise IllegalTransition(LineState.APPROVED, "edit")
        session.expire(order)
        _event(session, order, "edit", "pending_approval", "pending_approval", actor,
               new_reason, at=at)
        _audit(session, "edit", order, "pending_approval", "pending_approval", actor,
               f"round={old_round + 1} params={clean}")
        lines = _lines_of(session, order.id)
        notifications.notify(session, _approvers_to_notify(session, order, org, []),
                             "awaiting_approval", order, _msisdns(lines))
        return _view(session, order, lines, org, timeline=True)


def _decide_preconditions(session: Session, actor: Any, order_id: int, event: str):  # noqa: ANN202
    order, lines, org = _visible(session, actor, order_id, lock=True)
    person = _person(actor)
    if order.state != "pending_approval":
        # the lifecycle's refusal: approving a completed order is a conflict (409)
        raise IllegalTransition(_line_state(order.state), event)
    given = _given(session, order)
    facts = _order_facts(order, lines)
    refusal = policy.approval_refusal(person, facts, org, given)
    if refusal:
        raise NotAllowed(refusal)
    return order, lines, org, person, facts, given


def approve(db: DbLike, actor: Any, order_id: int, comment: str | None = None) -> OrderView:
    """Give the approval the actor may give (policy.approve). When it is the last one the order
    needs, its lines move to `approved` (the worker submits them) and the requester is told;
    otherwise the next step's approvers are notified. Two approvers at once: one succeeds, the
    other gets IllegalTransition (or NotAllowed when the step they could give is taken)."""
    comment = _comment(comment)
    try:
        with database(db).transaction() as session:
            order, lines, org, person, facts, given = _decide_preconditions(
                session, actor, order_id, "approve")
            now_given, done = policy.approve(person, facts, org, given)
            at = _iso()
            for a in now_given[len(given):]:
                session.add(OrderApprovalRecord(
                    order_id=order.id, round=order.round, step=a.step.value,
                    decision="approved", user_id=actor.id, user_email=actor.email,
                    comment=comment, at=at))
            session.flush()
            if done:
                lifecycle.apply(LineState.PENDING_APPROVAL, "approve", lifecycle.Actor.APPROVER)
                if _set_lines(session, order, "approve", at) != len(lines):
                    raise IllegalTransition(LineState.APPROVED, "approve")
                _refresh_state(session, order, at, guard_state="pending_approval",
                               guard_round=order.round)
                _event(session, order, "approve", "pending_approval", "approved", actor,
                       comment, at=at)
                _audit(session, "approve", order, "pending_approval", "approved", actor,
                       f"steps={','.join(a.step.value for a in now_given[len(given):])}")
                notifications.notify(session, _requester(session, order), "approved", order,
                                     _msisdns(lines), comment)
            else:
                # a step given, another still open: the order row is touched under its guard,
                # so a concurrent decision on the same round conflicts
                if session.execute(update(OrderRecord).where(
                        OrderRecord.id == order.id, OrderRecord.state == "pending_approval",
                        OrderRecord.round == order.round).values(updated_at=at)).rowcount != 1:
                    raise IllegalTransition(LineState.APPROVED, "approve")
                steps = ",".join(a.step.value for a in now_given[len(given):])
                _event(session, order, "approve", "pending_approval", "pending_approval",
                       actor, comment, at=at)
                _audit(session, "approve", order, "pending_approval", "pending_approval",
                       actor, f"steps={steps}")
                notifications.notify(session, _approvers_to_notify(session, order, org,
                                                                   now_given),
                                     "awaiting_approval", order, _msisdns(lines))
            session.expire(order)
            return _view(session, order, _lines_of(session, order.id), org, timeline=True)
    except IntegrityError:
        # another approver's decision of the same step committed first
        raise IllegalTransition(LineState.APPROVED, "approve") from None


def reject(db: DbLike, actor: Any, order_id: int, reason: str) -> OrderView:
    """Refuse a pending order (a reason is required: InvalidParams('reason')); same approvers
    as `approve`. The requester is told."""
    reason = _reason(reason)
    try:
        with database(db).transaction() as session:
            order, lines, org, person, facts, given = _decide_preconditions(
                session, actor, order_id, "reject")
            at = _iso()
            step = policy.open_steps(facts, org, given)[0]
            session.add(OrderApprovalRecord(
                order_id=order.id, round=order.round, step=step.value, decision="rejected",
                user_id=actor.id, user_email=actor.email, comment=reason, at=at))
            if _set_lines(session, order, "reject", at) != len(lines):
                raise IllegalTransition(LineState.REJECTED, "reject")
            _refresh_state(session, order, at, guard_state="pending_approval",
                           guard_round=order.round)
            _event(session, order, "reject", "pending_approval", "rejected", actor, reason,
                   at=at)
            _audit(session, "reject", order, "pending_approval", "rejected", actor)
            notifications.notify(session, _requester(session, order), "rejected", order,
                                 _msisdns(lines), reason)
            return _view(session, order, _lines_of(session, order.id), org, timeline=True)
    except IntegrityError:
        raise IllegalTransition(LineState.APPROVED, "reject") from None


def cancel(db: DbLike, actor: Any, order_id: int) -> OrderView:
    """The requester withdraws the order before submission (pending or approved lines)."""
    with database(db).transaction() as session:
        order, lines, org = _visible(session, actor, order_id, lock=True)
        if not policy.may_cancel(_person(actor), _order_facts(order, lines)):
            raise NotAllowed("only the requester cancels an order")
        before = order.state
        for line in lines:
            lifecycle.apply(line.state, "cancel", lifecycle.Actor.REQUESTER)
        at = _iso()
        # a line the worker has claimed is on its way to the operator: too late to cancel
        moved = _set_lines(session, order, "cancel", at,
                           extra_guard=OrderLineRecord.submitting_since.is_(None))
        if moved != len(lines):
            raise IllegalTransition(LineState.SUBMITTED, "cancel")
        _refresh_state(session, order, at, guard_state=before)
        _event(session, order, "cancel", before, "cancelled", actor, at=at)
        _audit(session, "cancel", order, before, "cancelled", actor)
        return _view(session, order, _lines_of(session, order.id), org, timeline=True)


def get_order(db: DbLike, actor: Any, order_id: int) -> OrderView:
    """One order with its lines, approvals and timeline (OrderNotFound outside visibility)."""
    with database(db).transaction(readonly=True) as session:
        order, lines, org = _visible(session, actor, order_id)
        return _view(session, order, lines, org, timeline=True)


def _cursor_id(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    try:
        value = int(str(cursor))
    except ValueError:
        raise InvalidParams("cursor", "not a cursor of this list") from None
    if value <= 0:
        raise InvalidParams("cursor", "not a cursor of this list")
    return value


def _day(text: str | None, name: str) -> str | None:
    if text in (None, ""):
        return None
    try:
        return date.fromisoformat(str(text)[:10]).isoformat()
    except ValueError:
        raise InvalidParams(name, "not a date (YYYY-MM-DD)") from None


def list_orders(db: DbLike, actor: Any, *, state: str | None = None, msisdn: str | None = None,
                action: str | None = None, since: str | None = None, until: str | None = None,
                awaiting_me: bool = False, mine: bool = False, cursor: str | None = None,
                limit: int = 50) -> tuple[list[OrderView], str | None]:
    """The orders the actor may see, newest first, with filters; `mine`: placed by the actor;
    `awaiting_me`: those the actor may approve now. `since`/`until`: ISO dates (inclusive) on
    the creation time. Returns (page, cursor of the next page or None). Timelines are empty in
    lists (get_order has them)."""
    tenant = _tenant_of(actor)
    limit = max(1, min(int(limit), 200))
    if state is not None and state not in {s.value for s in lifecycle.OrderState}:
        raise InvalidParams("state", f"unknown state {state!r}")
    if action is not None:
        actions.get(action)
    since_d, until_d = _day(since, "since"), _day(until, "until")
    after = _cursor_id(cursor)
    person = _person(actor)
    with database(db).transaction(readonly=True) as session:
        org = _org(session, tenant, estates.tenant_estate(tenant))
        q = select(OrderRecord).where(OrderRecord.tenant_id == tenant)
        if state:
            q = q.where(OrderRecord.state == state)
        if action:
            q = q.where(OrderRecord.action == action)
        if mine:
            q = q.where(OrderRecord.requester_id == actor.id)
        if awaiting_me:
            q = q.where(OrderRecord.state == "pending_approval")
        if since_d:
            q = q.where(OrderRecord.created_at >= since_d)
        if until_d:
            q = q.where(OrderRecord.created_at < (date.fromisoformat(until_d)
                                                  + timedelta(days=1)).isoformat())
        if msisdn:
            q = q.where(OrderRecord.id.in_(select(OrderLineRecord.order_id).where(or_(
                OrderLineRecord.msisdn == msisdn, OrderLineRecord.new_msisdn == msisdn))))
        page: list[OrderView] = []
        last: int | None = after
        more = False
        while True:
            batch_q = q
            if last is not None:
                batch_q = batch_q.where(OrderRecord.id < last)
            batch = session.scalars(batch_q.order_by(OrderRecord.id.desc()).limit(200)).all()
            if not batch:
                break
            for order in batch:
                last = order.id
                lines = _lines_of(session, order.id)
                facts = _order_facts(order, lines)
                if not policy.may_see(person, facts, org):
                    continue
                if awaiting_me and not policy.may_approve(person, facts, org,
                                                          _given(session, order)):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(_view(session, order, lines, org))
            if more or len(batch) < 200:
                break
        return page, (str(page[-1].id) if more and page else None)


def allowed_actions(db: DbLike, actor: Any, order: OrderView) -> list[str]:
    """What the actor may do with the order now: a subset of approve, reject, cancel, edit."""
    with database(db).transaction(readonly=True) as session:
        try:
            record_, lines, org = _visible(session, actor, order.id)
        except OrderNotFound:
            return []
        person = _person(actor)
        facts = _order_facts(record_, lines)
        out: list[str] = []
        if record_.state == "pending_approval" and policy.may_approve(
                person, facts, org, _given(session, record_)):
            out += ["approve", "reject"]
        if policy.may_cancel(person, facts) and all(
                line.state in {s.value for s in lifecycle.BEFORE_SUBMISSION}
                and line.submitting_since is None for line in lines):
            out.append("cancel")
        if policy.may_edit(person, facts) and record_.state == "pending_approval":
            out.append("edit")
        return out


def get_threshold(db: DbLike, actor: Any) -> Decimal:
    """The tenant's finance threshold (monthly increase above which finance approves too;
    default R 200.00). Any user of the tenant may read it."""
    tenant = _tenant_of(actor)
    with database(db).transaction(readonly=True) as session:
        return _threshold_of(session, tenant)


def set_threshold(db: DbLike, actor: Any, amount: Decimal) -> None:
    """Administrators only (NotAllowed); a negative or non-numeric amount is InvalidParams."""
    tenant = _tenant_of(actor)
    if actor.role != roles.ADMIN:
        raise NotAllowed("only an Administrator sets the approval thresholds")
    try:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, ValueError):
        raise InvalidParams("amount", "not an amount") from None
    if not value.is_finite() or value < 0 or value > Decimal("1000000000"):
        raise InvalidParams("amount", "an amount from 0 up")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidParams("amount", "at most 2 decimal places")
    with database(db).transaction() as session:
        row = session.get(TenantSettingsRecord, tenant, with_for_update=True)
        before = row.finance_threshold if row else policy.DEFAULT_FINANCE_THRESHOLD
        if row is None:
            session.add(TenantSettingsRecord(tenant_id=tenant, finance_threshold=value,
                                             updated_at=_iso(), updated_by=actor.id))
        else:
            row.finance_threshold, row.updated_at, row.updated_by = value, _iso(), actor.id
        record(session, "finance_threshold_set", actor.email, actor.id,
               detail=f"{tenant} {before} -> {value}")


# --- lines -----------------------------------------------------------------------------------


def _line_view(est: estates.Estate, eff: _Effective, open_orders=(), past_orders=()) -> LineView:  # noqa: ANN001
    snap = eff.snap
    services = []
    for code in sorted(eff.services | set(eff.pending_services)):
        state = eff.pending_services.get(code) or "active"
        if state == "pending_add" and code in eff.services:
            state = "active"
        if state == "pending_remove" and code not in eff.services:
            continue
        services.append(ServiceState(code, est.service_names.get(code, code), state))
    plan = est.catalogue.plans.get(eff.plan_code or "")
    return LineView(
        msisdn=snap.msisdn, employee_id=snap.employee_id, employee_name=snap.employee_name,
        cost_centre_id=snap.cost_centre_id, cost_centre_name=snap.cost_centre_name,
        account_id=snap.account_id, plan_code=eff.plan_code,
        plan_name=est.plan_names.get(eff.plan_code or "", snap.plan_name),
        payment=plan.payment if plan else snap.payment, status=eff.status,
        services=tuple(services), cug_id=snap.cug_id, apns=snap.apns,
        open_orders=tuple(open_orders), past_orders=tuple(past_orders), pending=dict(eff.pending))


def lines_for(db: DbLike, actor: Any, *, search: str | None = None, cursor: str | None = None,
              limit: int = 50) -> tuple[list[LineView], str | None]:
    """The lines the actor sees (their own, their chain's, or the tenant's), as in effect, with
    pending changes of open orders; `search` matches number, employee name or cost centre.
    Orders are not attached in lists (line_detail has them). The cursor is the last msisdn."""
    tenant = _tenant_of(actor)
    limit = max(1, min(int(limit), 500))
    est = estates.tenant_estate(tenant)
    with database(db).transaction(readonly=True) as session:
        org = _org(session, tenant, est)
        numbers = _visible_msisdns(actor, est, org)
        if search:
            needle = search.strip().lower()
            numbers = [m for m in numbers if needle in m
                       or needle in (est.lines[m].employee_name or "").lower()
                       or needle in (est.lines[m].cost_centre_name or "").lower()
                       or needle == (est.lines[m].cost_centre_id or "").lower()]
        if cursor:
            numbers = [m for m in numbers if m > cursor]
        page = numbers[:limit]
        effective = _effective(session, est, page)
        views = [_line_view(est, effective[m]) for m in page]
        return views, (page[-1] if len(numbers) > limit else None)


def line_detail(db: DbLike, actor: Any, msisdn: str) -> LineView:
    """One line as in effect, with its open and past orders (LineNotFound outside scope)."""
    tenant = _tenant_of(actor)
    est = estates.tenant_estate(tenant)
    with database(db).transaction(readonly=True) as session:
        org = _org(session, tenant, est)
        if not isinstance(msisdn, str) or msisdn not in set(_visible_msisdns(actor, est, org)):
            raise LineNotFound(msisdn)
        eff = _effective(session, est, [msisdn])[msisdn]
        person = _person(actor)

        def views(ids: list[int]) -> list[OrderView]:
            out = []
            for oid in sorted(set(ids), reverse=True):
                order = session.get(OrderRecord, oid)
                lines = _lines_of(session, oid)
                if policy.may_see(person, _order_facts(order, lines), org):
                    out.append(_view(session, order, lines, org))
            return out

        return _line_view(est, eff, views(eff.open_ids), views(eff.past_ids))


def discrepancies(db: DbLike, actor: Any) -> list[Discrepancy]:
    """Administrators (NotAllowed otherwise): completed orders a newer snapshot contradicts."""
    tenant = _tenant_of(actor)
    if actor.role != roles.ADMIN:
        raise NotAllowed("only an Administrator reviews discrepancies")
    with database(db).transaction(readonly=True) as session:
        rows = [(o, line) for o, line in _in_effect_orders(session, tenant)
                if line.state == LineState.COMPLETED and line.msisdn and line.completed_at]
    if not rows:
        return []
    first = min(line.completed_at[:10] for _, line in rows)
    lines_snaps = estates.line_snapshots(tenant, first)
    service_snaps = estates.service_snapshots(tenant, first)
    # the last completed order per line and thing changed decides what a snapshot should show
    latest: dict[tuple, tuple[OrderRecord, OrderLineRecord]] = {}
    for order, line in sorted(rows, key=lambda ol: (ol[1].completed_at, ol[1].id)):
        what = (order.params or {}).get("service_code") if line.change_field == "services" \
            else line.change_field
        latest[(line.msisdn, line.change_field, what)] = (order, line)
    out: list[Discrepancy] = []
    for (msisdn, field_, what), (order, line) in sorted(latest.items(),
                                                        key=lambda kv: kv[1][1].id):
        done = line.completed_at[:10]
        if field_ == "services":
            newer = sorted(d for d in service_snaps if d > done)
            if not newer:
                continue
            as_of = newer[-1]
            has = what in service_snaps[as_of].get(msisdn, frozenset())
            expected = order.action == "add_service"
            if has != expected:
                out.append(Discrepancy(order.id, order.reference, msisdn, order.action, field_,
                                       {what: expected}, {what: has}, line.completed_at, as_of))
        elif field_ in ("plan_code", "status"):
            newer = sorted(d for d in lines_snaps
                           if d > done and (not line.effective_on or d >= line.effective_on))
            if not newer:
                continue
            as_of = newer[-1]
            snap = lines_snaps[as_of].get(msisdn)
            got = snap.get(field_) if snap else None
            if got != line.requested:
                out.append(Discrepancy(order.id, order.reference, msisdn, order.action, field_,
                                       line.requested, got, line.completed_at, as_of))
    return out


# --- the worker's side ----------------------------------------------------------------------


def _finish_order(session: Session, order: OrderRecord, before: str, at: str) -> None:
    """After line transitions: store the order's state; tell the requester when it finished."""
    after = _refresh_state(session, order, at)
    if after != before and after in FINISHED_ORDER:
        lines = _lines_of(session, order.id)
        reasons = "; ".join(sorted({line.failure_reason for line in lines
                                    if line.failure_reason}))
        notifications.notify(session, _requester(session, order), after, order,
                             _msisdns(lines), reasons or None)


def expire_due(db: DbLike, now: datetime) -> int:
    """Expire every order pending approval for EXPIRY_DAYS since placed or last edited; returns
    how many orders expired."""
    cutoff = _iso(now - timedelta(days=lifecycle.EXPIRY_DAYS))
    handle = database(db)
    with handle.transaction(readonly=True) as session:
        due = [(o.id, o.round) for o in session.scalars(select(OrderRecord).where(
            OrderRecord.state == "pending_approval", OrderRecord.restarted_at <= cutoff)).all()]
    count = 0
    for order_id, round_ in due:
        with handle.transaction() as session:
            order = _locked(session, order_id)
            if order is None or order.state != "pending_approval" or order.round != round_ \
                    or not lifecycle.is_due_to_expire(order.state, _parse(order.restarted_at),
                                                      now):
                continue
            at = _iso(now)
            lines = _lines_of(session, order.id)
            if _set_lines(session, order, "expire", at) == 0:
                continue
            _refresh_state(session, order, at, guard_state="pending_approval",
                           guard_round=round_)
            _event(session, order, "expire", "pending_approval", "expired",
                   comment=f"no decision within {lifecycle.EXPIRY_DAYS} days", at=at)
            _audit(session, "expire", order, "pending_approval", "expired")
            notifications.notify(session, _requester(session, order), "expired", order,
                                 _msisdns(lines))
            count += 1
    return count


def _operator_line(order: OrderRecord, line: OrderLineRecord) -> OrderLine:
    return OrderLine(idempotency_key=line.idempotency_key, reference=order.reference,
                     action=order.action, params=dict(order.params or {}),
                     requested_on=_parse(order.created_at).date(), msisdn=line.msisdn,
                     line=_facts_of(line.facts))


def _operator_news(session: Session, order: OrderRecord, line: OrderLineRecord,
                   state: OperatorState, reason: str | None, effective_on: date | None,
                   at: str, new_msisdn: str | None = None) -> int:
    """Take the lifecycle events an operator state means for a line, from where it is; returns
    how many transitions were taken (0: no news, or another worker took them first)."""
    target_event = LIFECYCLE_EVENT[state]
    path = {"submit": [], "start": ["start"], "complete": ["complete"], "fail": ["fail"]}
    taken = 0
    for event in path[target_event]:
        current = LineState(line.state)
        if current in lifecycle.TERMINAL or event not in lifecycle.allowed_events(
                current, lifecycle.Actor.OPERATOR):
            continue
        target = lifecycle.apply(current, event, lifecycle.Actor.OPERATOR)
        values: dict[str, Any] = {"state": target.value, "updated_at": at}
        if event == "complete":
            values["completed_at"] = at
            values["effective_on"] = (effective_on or _parse(at).date()).isoformat()
            if new_msisdn and not line.msisdn:
                values["new_msisdn"] = new_msisdn
        if event == "fail":
            values["failure_reason"] = (reason or "the operator gave no reason")[:500]
            values["completed_at"] = at
        moved = session.execute(update(OrderLineRecord).where(
            OrderLineRecord.id == line.id, OrderLineRecord.state == current.value)
            .values(**values)).rowcount
        if moved != 1:
            return taken
        _event(session, order, event, current.value, target.value, line=line,
               comment=values.get("failure_reason"), at=at)
        _audit(session, event, order, current.value, target.value,
               detail=f"line={line.msisdn or line.idempotency_key}")
        session.expire(line)
        taken += 1
    return taken


def submit_approved(db: DbLike, adapter: Any, now: datetime, limit: int = 100, *,
                    claim_timeout: timedelta = CLAIM_TIMEOUT,
                    after_claim: Callable[[], None] | None = None,
                    after_submit: Callable[[], None] | None = None) -> int:
    """Hand approved lines to the operator, exactly once per line: claim (one transaction),
    adapter.submit with the line's fixed idempotency key, record the ack (second transaction).
    A claim left by a crashed worker (older than `claim_timeout`) is taken again and resubmitted
    with the same key. Returns how many lines were acknowledged. `after_claim`/`after_submit`
    are test hooks (the crash tests kill the worker there)."""
    handle = database(db)
    at = _iso(now)
    stale = _iso(now - claim_timeout)
    claimed: list[tuple[int, OrderLine]] = []
    with handle.transaction() as session:
        candidates = session.execute(
            select(OrderLineRecord, OrderRecord)
            .join(OrderRecord, OrderRecord.id == OrderLineRecord.order_id)
            .where(OrderLineRecord.state == LineState.APPROVED.value,
                   or_(OrderLineRecord.submitting_since.is_(None),
                       OrderLineRecord.submitting_since <= stale))
            .order_by(OrderLineRecord.id).limit(limit)).all()
        for line, order in candidates:
            moved = session.execute(update(OrderLineRecord).where(
                OrderLineRecord.id == line.id,
                OrderLineRecord.state == LineState.APPROVED.value,
                or_(OrderLineRecord.submitting_since.is_(None),
                    OrderLineRecord.submitting_since <= stale))
                .values(submitting_since=at,
                        submit_attempts=OrderLineRecord.submit_attempts + 1)).rowcount
            if moved == 1:
                claimed.append((line.id, _operator_line(order, line)))
    if not claimed:
        return 0
    if after_claim:
        after_claim()
    try:
        acks = adapter.submit([ol for _, ol in claimed])
    except ProvisioningError:
        return 0  # the claims stay; the same keys go again once they are stale
    if after_submit:
        after_submit()
    by_key = {ack.idempotency_key: ack for ack in acks}
    count = 0
    with handle.transaction() as session:
        for line_id, ol in claimed:
            ack = by_key.get(ol.idempotency_key)
            if ack is None:
                continue
            line = session.get(OrderLineRecord, line_id)
            order = _locked(session, line.order_id)
            before = order.state
            target = lifecycle.apply(line.state, "submit", lifecycle.Actor.SYSTEM)
            moved = session.execute(update(OrderLineRecord).where(
                OrderLineRecord.id == line_id, OrderLineRecord.state == LineState.APPROVED.value)
                .values(state=target.value, operator_ref=ack.operator_ref, submitted_at=at,
                        submitting_since=None, updated_at=at)).rowcount
            if moved != 1:
                continue
            _event(session, order, "submit", "approved", target.value, line=line,
                   comment=f"operator reference {ack.operator_ref}", at=at)
            _audit(session, "submit", order, "approved", target.value,
                   detail=f"line={line.msisdn or line.idempotency_key} ref={ack.operator_ref}")
            session.expire(line)
            _operator_news(session, order, line, ack.state, ack.reason, ack.effective_on, at)
            _finish_order(session, order, before, at)
            count += 1
    return count


def poll_open(db: DbLike, adapter: Any, now: datetime) -> int:
    """Ask the operator about submitted and in-progress lines and apply what moved through the
    lifecycle; returns how many line transitions were taken."""
    handle = database(db)
    with handle.transaction(readonly=True) as session:
        refs = [r for (r,) in session.execute(select(OrderLineRecord.operator_ref).where(
            OrderLineRecord.state.in_([LineState.SUBMITTED.value, LineState.IN_PROGRESS.value]),
            OrderLineRecord.operator_ref.is_not(None)).order_by(OrderLineRecord.id))]
    if not refs:
        return 0
    try:
        updates = adapter.status(refs)
    except ProvisioningError:
        return 0
    at = _iso(now)
    taken = 0
    for news in updates:
        with handle.transaction() as session:
            line = session.scalars(select(OrderLineRecord).where(
                OrderLineRecord.operator_ref == news.operator_ref)).first()
            if line is None or line.state not in (LineState.SUBMITTED.value,
                                                  LineState.IN_PROGRESS.value):
                continue
            order = _locked(session, line.order_id)
            before = order.state
            n = _operator_news(session, order, line, news.state, news.reason, news.effective_on,
                               at, news.msisdn)
            if n:
                _finish_order(session, order, before, at)
            taken += n
    return taken


# --- approval settings --------------------------------------------------------------------------


def _admin_of_tenant(actor: Any) -> str:
    if getattr(actor, "role", None) != ADMIN or not getattr(actor, "tenant_id", None):
        raise NotAllowed("only a tenant's Administrator sets its approval thresholds")
    return actor.tenant_id


def get_threshold(db: DbLike, actor: Any) -> Decimal:
    """The tenant's finance threshold (monthly increase above which Finance approves too)."""
    tenant_id = getattr(actor, "tenant_id", None)
    if not tenant_id:
        raise NotAllowed("no tenant")
    with database(db).transaction() as session:
        row = session.get(TenantSettingsRecord, tenant_id)
        return Decimal(row.finance_threshold) if row is not None else DEFAULT_FINANCE_THRESHOLD


def set_threshold(db: DbLike, actor: Any, amount: Decimal) -> None:
    """Set the tenant's finance threshold (Administrator only), with its audit row."""
    tenant_id = _admin_of_tenant(actor)
    try:
        amount = Decimal(amount).quantize(Decimal("0.01"))
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise InvalidParams("amount", "not an amount") from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidParams("amount", "must be zero or more")
    with database(db).transaction() as session:
        row = session.get(TenantSettingsRecord, tenant_id)
        before = row.finance_threshold if row is not None else DEFAULT_FINANCE_THRESHOLD
        if row is None:
            row = TenantSettingsRecord(tenant_id=tenant_id, finance_threshold=amount,
                                       updated_at=now(), updated_by=actor.id)
            session.add(row)
        else:
            row.finance_threshold, row.updated_at, row.updated_by = amount, now(), actor.id
        record(session, "threshold_set", actor.email, actor.id,
               detail=f"tenant={tenant_id} before={before} after={amount}")
