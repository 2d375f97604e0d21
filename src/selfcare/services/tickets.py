"""Support tickets and billing disputes: every operation one transaction with its audit row, its
ticket_events row and its notification and mail_outbox rows, as for orders (services/orders.py).

A state change is a guarded UPDATE (`... WHERE id = :id AND state = :expected`): an UPDATE that
changes nothing means another request moved the ticket first, and the caller gets
`IllegalTransition` (409), so each transition happens at most once whatever the concurrency.

Visibility (`selfcare.tickets.policy.may_see`): a ticket the actor may not see, of another
tenant, or missing is `TicketNotFound` (404) alike. What the raiser names (lines, an invoice
line, an order) must be within their own scope when raised: lines through the estate facts as
orders check them, the invoice line through the gate under the raiser's scope (query
`reports.invoice_lines`), an order through the order services. What the lake said of the invoice
line is kept on the ticket, so the Support agent (who reads no usage data) sees the charge the
ticket names and nothing else.

Times are passed in (`now=`) by tests and the worker; pages and the API use the clock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from selfcare import gate, roles
from selfcare.appdb import (
    Database,
    TicketCommentRecord,
    TicketEventRecord,
    TicketLineRecord,
    TicketRecord,
    UserRecord,
    database,
)
from selfcare.orders import policy as order_policy
from selfcare.services import estate as estates
from selfcare.services import notifications
from selfcare.services import orders as order_service
from selfcare.services.audit import record
from selfcare.services.errors import Forbidden, NotFound, ServiceError
from selfcare.tickets import lifecycle, policy
from selfcare.tickets.lifecycle import (
    Actor,
    IllegalTransition,
    TicketState,
    UnknownEvent,
    WrongActor,
)

DbLike = Database | str | os.PathLike[str]

__all__ = [
    "CommentView",
    "DisputeMonth",
    "IllegalTransition",
    "InvalidTicket",
    "InvoiceLineNotFound",
    "TicketEventView",
    "TicketNotFound",
    "TicketView",
    "UnknownEvent",
    "WrongActor",
    "add_comment",
    "assign",
    "assignees",
    "close_due",
    "dispute_totals",
    "get_ticket",
    "invoice_lines",
    "list_tickets",
    "move_to",
    "raise_ticket",
    "transition",
]

MAX_SUBJECT = 200
MAX_TEXT = 5000
MAX_LINES = 20
ALL_PERIODS = ("0000-01", "9999-12")


# --- errors -----------------------------------------------------------------------------------


class TicketNotFound(NotFound):
    """Missing, of another tenant, or not visible to the actor: the same answer (404)."""

    status = 404

    def __init__(self, reference: Any = None):
        self.reference = reference
        super().__init__("no such ticket")


class InvoiceLineNotFound(NotFound):
    """No such invoice line among the charges the raiser may see (404)."""

    status = 404

    def __init__(self) -> None:
        super().__init__("no such invoice line")


class InvalidTicket(ServiceError):
    """Bad input, naming the field (400)."""

    status = 400

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class TicketNotAllowed(Forbidden):
    status = 403


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommentView:
    author_email: str
    author_role: str  # a profile code
    at: str
    body: str  # as typed: pages render it as text, never HTML
    by_raiser: bool


@dataclass(frozen=True)
class TicketEventView:
    at: str
    actor_email: str | None  # None: the system
    event: str
    from_state: str | None
    to_state: str | None
    comment: str | None


@dataclass(frozen=True)
class TicketView:
    id: int
    reference: str
    tenant_id: str
    category: str
    priority: str
    subject: str
    description: str
    state: str
    raiser_id: int
    raiser_email: str
    assignee_id: int | None
    assignee_email: str | None
    lines: tuple[str, ...]
    invoice_id: str | None
    line_no: int | None
    invoice_msisdn: str | None
    invoice_period: str | None
    invoice_description: str | None
    invoice_amount: Decimal | None
    disputed_amount: Decimal | None
    credited_amount: Decimal | None
    order_id: int | None
    created_at: str
    updated_at: str
    first_response_at: str | None
    resolved_at: str | None
    closed_at: str | None
    reopened_count: int
    reopen_until: str | None  # while resolved: the last moment the raiser may reopen
    first_response_seconds: int | None
    resolution_seconds: int | None
    working_seconds: int
    comments: tuple[CommentView, ...] = ()
    timeline: tuple[TicketEventView, ...] = ()
    # what the viewer may do now: transition events, and whether they may comment or assign
    actions: tuple[str, ...] = ()
    may_comment: bool = False
    may_assign: bool = False


@dataclass(frozen=True)
class DisputeMonth:
    """Billing queries raised in one month: how many, how many still open, amounts."""

    month: str  # YYYY-MM of raising
    count: int
    open_count: int
    disputed: Decimal
    credited: Decimal
    oldest_open_days: int | None  # the age of the oldest open one


# --- helpers ----------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _person(actor: Any) -> order_policy.Person:
    return order_policy.Person(
        str(actor.id), actor.tenant_id or "", str(actor.role or ""), actor.employee_id or None
    )


def _facts(t: TicketRecord) -> policy.TicketFacts:
    raiser = order_policy.Person(str(t.raiser_id), t.tenant_id, t.raiser_role, t.raiser_employee_id)
    return policy.TicketFacts(t.tenant_id, raiser, t.category)


def _org(tenant_id: str) -> order_policy.Org:
    return order_policy.Org(tenant_id, estates.tenant_estate(tenant_id).managers())


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTicket(name, "is required")
    if len(value) > limit:
        raise InvalidTicket(name, f"at most {limit} characters")
    return value.strip()


def _amount(value: Any, name: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidTicket(name, "not an amount") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1000000000"):
        raise InvalidTicket(name, "an amount from 0 up")
    if amount != amount.quantize(Decimal("0.01")):
        raise InvalidTicket(name, "at most 2 decimal places")
    return amount


def _lookup(session: Session, key: Any, lock: bool = False) -> TicketRecord | None:
    """A ticket by its reference (TCK-000123) or id."""
    q = select(TicketRecord)
    if isinstance(key, int) and not isinstance(key, bool):
        q = q.where(TicketRecord.id == key)
    elif isinstance(key, str) and key.isdigit() and len(key) < 13:
        q = q.where(TicketRecord.id == int(key))
    elif isinstance(key, str) and len(key) <= 20:
        q = q.where(TicketRecord.reference == key.strip().upper())
    else:
        return None
    if lock:
        q = q.with_for_update()
    return session.scalars(q).first()


def _visible(
    session: Session, actor: Any, key: Any, lock: bool = False, org: order_policy.Org | None = None
) -> TicketRecord:
    if actor is None or actor.role not in roles.ROLES:
        raise TicketNotFound(key)
    ticket = _lookup(session, key, lock)
    if ticket is None:
        raise TicketNotFound(key)
    person = _person(actor)
    if actor.role != roles.SUPPORT and (actor.tenant_id != ticket.tenant_id):
        raise TicketNotFound(key)
    needs_org = person.profile not in (roles.SUPPORT, roles.ADMIN)
    if needs_org and org is None:
        org = _org(ticket.tenant_id)
    if not policy.may_see(person, _facts(ticket), org):
        raise TicketNotFound(key)
    return ticket


def _kinds(actor: Any, ticket: TicketRecord) -> frozenset[Actor]:
    return policy.actor_kinds(_person(actor), _facts(ticket))


def _event(
    session: Session,
    ticket: TicketRecord,
    event: str,
    before: str | None,
    after: str | None,
    actor: Any,
    at: str,
    comment: str | None = None,
) -> None:
    session.add(
        TicketEventRecord(
            ticket_id=ticket.id,
            at=at,
            actor_id=getattr(actor, "id", None),
            actor_email=getattr(actor, "email", None),
            event=event,
            from_state=before,
            to_state=after,
            comment=comment,
        )
    )
    record(
        session,
        f"ticket_{event}",
        getattr(actor, "email", None) or "system",
        getattr(actor, "id", None),
        detail=f"{ticket.reference} {ticket.category} {before or '-'} -> {after or '-'}",
    )


def _users(session: Session, ids: Iterable[int | None], skip: Any = None) -> list[UserRecord]:
    skip_id = getattr(skip, "id", None)
    out = []
    for uid in dict.fromkeys(i for i in ids if i is not None):
        if uid == skip_id:
            continue
        user = session.get(UserRecord, uid)
        if user is not None:
            out.append(user)
    return out


def _lines(session: Session, ticket_id: int) -> list[str]:
    return [
        m
        for (m,) in session.execute(
            select(TicketLineRecord.msisdn)
            .where(TicketLineRecord.ticket_id == ticket_id)
            .order_by(TicketLineRecord.id)
        )
    ]


def _view(
    session: Session, ticket: TicketRecord, actor: Any, now: datetime, full: bool = False
) -> TicketView:
    clock = lifecycle.clock(
        _parse(ticket.created_at),
        _parse(ticket.first_response_at),
        _parse(ticket.resolved_at) if ticket.state in ("resolved", "closed") else None,
        ticket.pending_seconds,
        ticket.resolved_seconds,
        _parse(ticket.pending_since),
        now,
    )
    assignee = session.get(UserRecord, ticket.assignee_id) if ticket.assignee_id else None
    kinds = _kinds(actor, ticket)
    actions = lifecycle.allowed_events(ticket.state, kinds)
    resolved_at = _parse(ticket.resolved_at)
    if "reopen" in actions and not lifecycle.may_reopen(resolved_at, now):
        actions = tuple(a for a in actions if a != "reopen")
    if Actor.AGENT not in kinds:
        # the raiser resumes a pending ticket by answering, not by a button
        actions = tuple(a for a in actions if a != "resume")
    comments: tuple[CommentView, ...] = ()
    timeline: tuple[TicketEventView, ...] = ()
    if full:
        comments = tuple(
            CommentView(
                c.author_email, c.author_role, c.at, c.body, c.author_id == ticket.raiser_id
            )
            for c in session.scalars(
                select(TicketCommentRecord)
                .where(TicketCommentRecord.ticket_id == ticket.id)
                .order_by(TicketCommentRecord.id)
            )
        )
        timeline = tuple(
            TicketEventView(e.at, e.actor_email, e.event, e.from_state, e.to_state, e.comment)
            for e in session.scalars(
                select(TicketEventRecord)
                .where(TicketEventRecord.ticket_id == ticket.id)
                .order_by(TicketEventRecord.id)
            )
        )
    return TicketView(
        id=ticket.id,
        reference=ticket.reference,
        tenant_id=ticket.tenant_id,
        category=ticket.category,
        priority=ticket.priority,
        subject=ticket.subject,
        description=ticket.description,
        state=ticket.state,
        raiser_id=ticket.raiser_id,
        raiser_email=ticket.raiser_email,
        assignee_id=ticket.assignee_id,
        assignee_email=assignee.email if assignee else None,
        lines=tuple(_lines(session, ticket.id)),
        invoice_id=ticket.invoice_id,
        line_no=ticket.line_no,
        invoice_msisdn=ticket.invoice_msisdn,
        invoice_period=ticket.invoice_period,
        invoice_description=ticket.invoice_description,
        invoice_amount=ticket.invoice_amount,
        disputed_amount=ticket.disputed_amount,
        credited_amount=ticket.credited_amount,
        order_id=ticket.order_id,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at if ticket.state in ("resolved", "closed") else None,
        closed_at=ticket.closed_at,
        reopened_count=ticket.reopened_count,
        reopen_until=_iso(lifecycle.reopen_until(resolved_at))
        if ticket.state == "resolved" and resolved_at
        else None,
        first_response_seconds=clock.first_response_seconds,
        resolution_seconds=clock.resolution_seconds,
        working_seconds=clock.working_seconds,
        comments=comments,
        timeline=timeline,
        actions=actions,
        may_comment=ticket.state != "closed",
        may_assign=Actor.AGENT in kinds and ticket.state != "closed",
    )


# --- the lake's side: invoice lines the viewer may name ---------------------------------------


def invoice_lines(
    actor: Any,
    *,
    msisdn: str | None = None,
    invoice_id: str | None = None,
    line_no: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The invoice lines the actor may dispute (their scope through the gate), newest first:
    dicts of invoice_id, line_no, bill_period, msisdn, charge_type, description, amount, vat."""
    if actor is None or actor.role not in roles.TENANT_ROLES or not actor.tenant_id:
        return []
    scope = gate.scope_for(actor)
    df = gate.run(
        "reports.invoice_lines",
        scope,
        msisdn=msisdn,
        invoice_id=invoice_id,
        line_no=line_no,
        period_from=ALL_PERIODS[0],
        period_to=ALL_PERIODS[1],
        limit=max(1, min(int(limit), 1000)),
    )
    out = []
    for row in df.to_dict("records"):
        out.append(
            {
                "invoice_id": str(row["invoice_id"]),
                "line_no": int(row["line_no"]),
                "bill_period": str(row["bill_period"]),
                "msisdn": None
                if row["msisdn"] in (None, "") or row["msisdn"] != row["msisdn"]
                else str(row["msisdn"]),
                "charge_type": str(row["charge_type"]),
                "description": str(row["description"]),
                "amount": Decimal(str(row["amount"])),
                "vat": Decimal(str(row["vat"])),
            }
        )
    return out


# --- operations -------------------------------------------------------------------------------


def raise_ticket(
    db: DbLike,
    actor: Any,
    *,
    category: str,
    subject: str,
    description: str,
    priority: str = "normal",
    msisdns: Sequence[str] = (),
    invoice_id: str | None = None,
    line_no: int | None = None,
    disputed_amount: Any = None,
    order_id: int | None = None,
    now: datetime | None = None,
) -> TicketView:
    """Raise a ticket about what the actor may see. A billing query names one invoice line
    (InvalidTicket otherwise); the amount disputed defaults to the line's amount and may not
    exceed it. Lines outside the actor's scope: LineNotFound; an invoice line they may not see:
    InvoiceLineNotFound; an order they may not see: OrderNotFound (all 404)."""
    now = _now(now)
    person = _person(actor)
    if not policy.may_raise(person):
        raise TicketNotAllowed("tickets are raised by a company's users")
    if category not in policy.CATEGORIES:
        raise InvalidTicket("category", f"one of {', '.join(policy.CATEGORIES)}")
    if priority not in policy.PRIORITIES:
        raise InvalidTicket("priority", f"one of {', '.join(policy.PRIORITIES)}")
    subject = _text(subject, "subject", MAX_SUBJECT)
    description = _text(description, "description", MAX_TEXT)
    if not isinstance(msisdns, list | tuple) or not all(isinstance(m, str) for m in msisdns):
        raise InvalidTicket("msisdns", "must be a list of numbers")
    numbers = list(dict.fromkeys(m.strip() for m in msisdns if m.strip()))
    if len(numbers) > MAX_LINES:
        raise InvalidTicket("msisdns", f"at most {MAX_LINES} lines in one ticket")
    tenant = actor.tenant_id
    est = estates.tenant_estate(tenant)
    org = order_policy.Org(tenant, est.managers())
    if numbers:
        # the lines the actor sees, exactly as an order's lines are checked
        visible = set(order_service._visible_msisdns(actor, est, org))  # noqa: SLF001
        for m in numbers:
            if m not in visible:
                raise order_service.LineNotFound(m)
    invoice: dict[str, Any] | None = None
    if (invoice_id in (None, "")) != (line_no in (None, "")):
        raise InvalidTicket(
            "line_no" if line_no in (None, "") else "invoice_id",
            "an invoice line needs both invoice_id and line_no",
        )
    if invoice_id not in (None, ""):
        if not isinstance(invoice_id, str) or len(invoice_id) > 64:
            raise InvalidTicket("invoice_id", "not an invoice number")
        try:
            number = int(line_no)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidTicket("line_no", "not a line number") from None
        found = invoice_lines(actor, invoice_id=invoice_id, line_no=number, limit=1)
        if not found:
            raise InvoiceLineNotFound()
        invoice = found[0]
        if invoice["msisdn"] and invoice["msisdn"] not in numbers:
            numbers.append(invoice["msisdn"])
    if category == policy.BILLING_QUERY and invoice is None:
        raise InvalidTicket("invoice_id", "a billing query names the invoice line it disputes")
    disputed = _amount(disputed_amount, "disputed_amount")
    if invoice is not None and category == policy.BILLING_QUERY:
        charged = invoice["amount"]
        if disputed is None:
            disputed = max(charged, Decimal("0.00"))
        if disputed <= 0:
            raise InvalidTicket("disputed_amount", "dispute an amount above zero")
        if charged > 0 and disputed > charged:
            raise InvalidTicket("disputed_amount", "at most the charge itself")
    elif disputed is not None:
        raise InvalidTicket("disputed_amount", "only a billing query disputes an amount")
    if order_id not in (None, ""):
        try:
            oid = int(order_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidTicket("order_id", "not an order number") from None
        order_service.get_order(db, actor, oid)  # OrderNotFound outside the actor's sight
        order_id = oid
    else:
        order_id = None
    at = _iso(now)
    with database(db).transaction() as session:
        ticket = TicketRecord(
            reference=f"tmp-{uuid.uuid4().hex}",
            tenant_id=tenant,
            category=category,
            priority=priority,
            subject=subject,
            description=description,
            raiser_id=actor.id,
            raiser_email=actor.email,
            raiser_role=actor.role,
            raiser_employee_id=actor.employee_id or None,
            invoice_id=invoice["invoice_id"] if invoice else None,
            line_no=invoice["line_no"] if invoice else None,
            invoice_msisdn=invoice["msisdn"] if invoice else None,
            invoice_period=invoice["bill_period"] if invoice else None,
            invoice_description=invoice["description"] if invoice else None,
            invoice_amount=invoice["amount"] if invoice else None,
            disputed_amount=disputed,
            order_id=order_id,
            state=TicketState.NEW.value,
            created_at=at,
            updated_at=at,
            pending_seconds=0,
            resolved_seconds=0,
            reopened_count=0,
        )
        session.add(ticket)
        session.flush()
        ticket.reference = f"TCK-{ticket.id:06d}"
        for m in numbers:
            line = est.lines.get(m)
            session.add(
                TicketLineRecord(
                    ticket_id=ticket.id, msisdn=m, employee_id=line.employee_id if line else None
                )
            )
        _event(session, ticket, "raise", None, ticket.state, actor, at)
        session.flush()
        return _view(session, ticket, actor, now, full=True)


def get_ticket(db: DbLike, actor: Any, key: Any, now: datetime | None = None) -> TicketView:
    """One ticket with its thread and timeline (TicketNotFound outside the actor's sight)."""
    with database(db).transaction(readonly=True) as session:
        ticket = _visible(session, actor, key)
        return _view(session, ticket, actor, _now(now), full=True)


def list_tickets(
    db: DbLike,
    actor: Any,
    *,
    state: str | None = None,
    category: str | None = None,
    mine: bool = False,
    assigned_to_me: bool = False,
    msisdn: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> tuple[list[TicketView], str | None]:
    """The tickets the actor may see, newest first, with filters; `mine`: raised by the actor.
    Returns (page, cursor of the next page or None). Threads are empty in lists."""
    if actor is None or actor.role not in roles.ROLES or actor.role == roles.ANALYST:
        return [], None
    if state is not None and state not in lifecycle.STATES:
        raise InvalidTicket("state", f"unknown state {state!r}")
    if category is not None and category not in policy.CATEGORIES:
        raise InvalidTicket("category", f"unknown category {category!r}")
    try:
        after = int(cursor) if cursor not in (None, "") else None
    except ValueError:
        raise InvalidTicket("cursor", "not a cursor of this list") from None
    limit = max(1, min(int(limit), 200))
    now = _now(now)
    person = _person(actor)
    with database(db).transaction(readonly=True) as session:
        q = select(TicketRecord)
        if actor.role != roles.SUPPORT:
            if not actor.tenant_id:
                return [], None
            q = q.where(TicketRecord.tenant_id == actor.tenant_id)
        if state:
            q = q.where(TicketRecord.state == state)
        if category:
            q = q.where(TicketRecord.category == category)
        if mine:
            q = q.where(TicketRecord.raiser_id == actor.id)
        if assigned_to_me:
            q = q.where(TicketRecord.assignee_id == actor.id)
        if msisdn:
            q = q.where(
                TicketRecord.id.in_(
                    select(TicketLineRecord.ticket_id).where(TicketLineRecord.msisdn == msisdn)
                )
            )
        if after is not None:
            q = q.where(TicketRecord.id < after)
        orgs: dict[str, order_policy.Org] = {}
        page: list[TicketView] = []
        more = False
        for ticket in session.scalars(q.order_by(TicketRecord.id.desc())):
            org = None
            if person.profile not in (roles.SUPPORT, roles.ADMIN):
                org = orgs.get(ticket.tenant_id) or orgs.setdefault(
                    ticket.tenant_id, _org(ticket.tenant_id)
                )
            if not policy.may_see(person, _facts(ticket), org):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(_view(session, ticket, actor, now))
        return page, (str(page[-1].id) if more and page else None)


def _notify(
    session: Session,
    ticket: TicketRecord,
    kind: str,
    actor: Any,
    comment: str | None = None,
    recipients: Iterable[int | None] | None = None,
) -> None:
    ids = recipients if recipients is not None else (ticket.raiser_id, ticket.assignee_id)
    notifications.notify_ticket(
        session, _users(session, ids, skip=actor), kind, ticket, actor=actor, comment=comment
    )


def add_comment(
    db: DbLike, actor: Any, key: Any, body: str, now: datetime | None = None
) -> TicketView:
    """Add to the thread (whoever sees the ticket; not once closed: IllegalTransition). An
    agent's first comment is the first response; the raiser's answer resumes a pending ticket.
    The raiser and the assignee are told (not the author)."""
    body = _text(body, "body", MAX_TEXT)
    now = _now(now)
    at = _iso(now)
    with database(db).transaction() as session:
        ticket = _visible(session, actor, key, lock=True)
        if ticket.state == TicketState.CLOSED:
            raise IllegalTransition(ticket.state, "comment on")
        kinds = _kinds(actor, ticket)
        session.add(
            TicketCommentRecord(
                ticket_id=ticket.id,
                author_id=actor.id,
                author_email=actor.email,
                author_role=actor.role,
                at=at,
                body=body,
            )
        )
        values: dict[str, Any] = {"updated_at": at}
        if Actor.AGENT in kinds and Actor.RAISER not in kinds and not ticket.first_response_at:
            values["first_response_at"] = at
        before = ticket.state
        if Actor.RAISER in kinds and before == TicketState.PENDING:
            values.update(_leave_pending(ticket, now))
            values["state"] = TicketState.OPEN.value
        moved = session.execute(
            update(TicketRecord)
            .where(TicketRecord.id == ticket.id, TicketRecord.state == before)
            .values(**values)
        ).rowcount
        if moved != 1:
            raise IllegalTransition(before, "comment on")
        _event(session, ticket, "comment", before, values.get("state", before), actor, at)
        if values.get("state"):
            _event(
                session, ticket, "resume", before, values["state"], actor, at, "the raiser answered"
            )
        session.expire(ticket)
        _notify(session, ticket, "ticket_comment", actor, body)
        return _view(session, ticket, actor, now, full=True)


def _leave_pending(ticket: TicketRecord, now: datetime) -> dict[str, Any]:
    since = _parse(ticket.pending_since)
    extra = max(0, int((now - since).total_seconds())) if since else 0
    return {"pending_since": None, "pending_seconds": ticket.pending_seconds + extra}


def transition(
    db: DbLike,
    actor: Any,
    key: Any,
    event: str,
    comment: str | None = None,
    *,
    credited_amount: Any = None,
    now: datetime | None = None,
) -> TicketView:
    """Take `event` (open, pend, resume, resolve, reopen, close) as the actor; WrongActor (403)
    when they do not take it, IllegalTransition (409) from a state it does not leave (or a
    reopen after the window). `credited_amount`: on resolving a billing query, the credit the
    operator gave (at most the amount disputed). A comment goes into the thread."""
    lifecycle.transition(event)
    credit = _amount(credited_amount, "credited_amount")
    note = None if comment in (None, "") else _text(comment, "comment", MAX_TEXT)
    now = _now(now)
    at = _iso(now)
    with database(db).transaction() as session:
        ticket = _visible(session, actor, key, lock=True)
        before = ticket.state
        kinds = _kinds(actor, ticket)
        if event == "resume" and Actor.AGENT not in kinds:
            raise WrongActor(event)
        target = lifecycle.apply(before, event, kinds).value
        values: dict[str, Any] = {"state": target, "updated_at": at}
        if before == TicketState.PENDING:
            values.update(_leave_pending(ticket, now))
        if event == "pend":
            values["pending_since"] = at
        if (
            event in lifecycle.RESPONSES
            and Actor.AGENT in kinds
            and Actor.RAISER not in kinds
            and not ticket.first_response_at
        ):
            values["first_response_at"] = at
        if credit is not None:
            if event != "resolve" or ticket.category != policy.BILLING_QUERY:
                raise InvalidTicket("credited_amount", "only resolving a billing query credits")
            if ticket.disputed_amount is not None and credit > ticket.disputed_amount:
                raise InvalidTicket("credited_amount", "at most the amount disputed")
            values["credited_amount"] = credit
        if event == "resolve":
            values["resolved_at"] = at
        if event == "reopen":
            resolved_at = _parse(ticket.resolved_at)
            if not lifecycle.may_reopen(resolved_at, now):
                raise IllegalTransition(
                    before,
                    event,
                    f"a ticket can be reopened only within "
                    f"{lifecycle.REOPEN_DAYS} days of its resolution",
                )
            values["resolved_seconds"] = ticket.resolved_seconds + max(
                0, int((now - resolved_at).total_seconds())
            )
            values["reopened_count"] = ticket.reopened_count + 1
        if event == "close":
            values["closed_at"] = at
        moved = session.execute(
            update(TicketRecord)
            .where(TicketRecord.id == ticket.id, TicketRecord.state == before)
            .values(**values)
        ).rowcount
        if moved != 1:
            raise IllegalTransition(before, event)
        if note:
            session.add(
                TicketCommentRecord(
                    ticket_id=ticket.id,
                    author_id=actor.id,
                    author_email=actor.email,
                    author_role=actor.role,
                    at=at,
                    body=note,
                )
            )
        _event(
            session,
            ticket,
            event,
            before,
            target,
            actor,
            at,
            note if credit is None else f"credited R {credit:.2f}" + (f": {note}" if note else ""),
        )
        session.expire(ticket)
        _notify(session, ticket, "ticket_state", actor, note)
        return _view(session, ticket, actor, now, full=True)


def move_to(
    db: DbLike,
    actor: Any,
    key: Any,
    state: str,
    comment: str | None = None,
    *,
    credited_amount: Any = None,
    now: datetime | None = None,
) -> TicketView:
    """The API's `{"state": ...}`: the transition from the ticket's current state to `state`."""
    if state not in lifecycle.STATES:
        raise UnknownEvent(state)
    with database(db).transaction(readonly=True) as session:
        current = _visible(session, actor, key).state
    event = lifecycle.event_for(current, state)
    return transition(db, actor, key, event, comment, credited_amount=credited_amount, now=now)


def assignees(db: DbLike, actor: Any, key: Any) -> list[tuple[int, str]]:
    """Who the actor may assign the ticket to: the Support agents and the tenant's
    Administrators (id, email); empty when the actor does not work the ticket."""
    with database(db).transaction(readonly=True) as session:
        ticket = _visible(session, actor, key)
        if Actor.AGENT not in _kinds(actor, ticket):
            return []
        rows = session.scalars(
            select(UserRecord).where(UserRecord.active == 1).order_by(UserRecord.email)
        ).all()
        return [
            (u.id, u.email)
            for u in rows
            if policy.may_be_assigned(u.role, u.tenant_id, _facts(ticket))
        ]


def assign(
    db: DbLike, actor: Any, key: Any, assignee_id: int | None, now: datetime | None = None
) -> TicketView:
    """An agent (Support agent, or the tenant's Administrator) assigns the ticket to a Support
    agent or an Administrator of its tenant (None: unassign). The new assignee is told."""
    now = _now(now)
    at = _iso(now)
    with database(db).transaction() as session:
        ticket = _visible(session, actor, key, lock=True)
        if Actor.AGENT not in _kinds(actor, ticket):
            raise TicketNotAllowed("only a Support agent or an Administrator assigns tickets")
        if ticket.state == TicketState.CLOSED:
            raise IllegalTransition(ticket.state, "assign")
        user = None
        if assignee_id is not None:
            try:
                user = session.get(UserRecord, int(assignee_id))
            except (TypeError, ValueError):
                user = None
            if (
                user is None
                or not user.active
                or not policy.may_be_assigned(user.role, user.tenant_id, _facts(ticket))
            ):
                raise InvalidTicket(
                    "assignee", "a Support agent or an Administrator of the ticket's company"
                )
        before = ticket.state
        moved = session.execute(
            update(TicketRecord)
            .where(TicketRecord.id == ticket.id, TicketRecord.state == before)
            .values(assignee_id=user.id if user else None, updated_at=at)
        ).rowcount
        if moved != 1:
            raise IllegalTransition(before, "assign")
        _event(
            session,
            ticket,
            "assign",
            before,
            before,
            actor,
            at,
            user.email if user else "unassigned",
        )
        session.expire(ticket)
        if user is not None:
            _notify(session, ticket, "ticket_assigned", actor, recipients=[user.id])
        return _view(session, ticket, actor, now, full=True)


def close_due(db: DbLike, now: datetime) -> int:
    """The worker's step: close every ticket resolved REOPEN_DAYS ago or more; returns how many
    closed (each at most once: the guarded UPDATE)."""
    now = _now(now)
    cutoff = _iso(now - (lifecycle.reopen_until(now) - now))
    handle = database(db)
    with handle.transaction(readonly=True) as session:
        due = [
            t.id
            for t in session.scalars(
                select(TicketRecord).where(
                    TicketRecord.state == TicketState.RESOLVED.value,
                    TicketRecord.resolved_at <= cutoff,
                )
            )
        ]
    count = 0
    at = _iso(now)
    for ticket_id in due:
        with handle.transaction() as session:
            ticket = _lookup(session, ticket_id, lock=True)
            if ticket is None or not lifecycle.is_due_to_close(
                ticket.state, _parse(ticket.resolved_at), now
            ):
                continue
            lifecycle.apply(ticket.state, "close", [Actor.SYSTEM])
            moved = session.execute(
                update(TicketRecord)
                .where(
                    TicketRecord.id == ticket.id, TicketRecord.state == TicketState.RESOLVED.value
                )
                .values(state=TicketState.CLOSED.value, closed_at=at, updated_at=at)
            ).rowcount
            if moved != 1:
                continue
            _event(
                session,
                ticket,
                "close",
                "resolved",
                "closed",
                None,
                at,
                f"closed {lifecycle.REOPEN_DAYS} days after its resolution",
            )
            session.expire(ticket)
            _notify(session, ticket, "ticket_state", None, recipients=[ticket.raiser_id])
            count += 1
    return count


def dispute_totals(db: DbLike, actor: Any, now: datetime | None = None) -> list[DisputeMonth]:
    """Administrators and Financial Managers (TicketNotAllowed otherwise): the tenant's billing
    queries per month raised, with the amounts disputed and credited, newest month first."""
    if actor is None or actor.role not in roles.ALL_LINE_ROLES or not actor.tenant_id:
        raise TicketNotAllowed("disputes are for Administrators and Financial Managers")
    now = _now(now)
    months: dict[str, dict[str, Any]] = {}
    with database(db).transaction(readonly=True) as session:
        for t in session.scalars(
            select(TicketRecord).where(
                TicketRecord.tenant_id == actor.tenant_id,
                TicketRecord.category == policy.BILLING_QUERY,
            )
        ):
            m = months.setdefault(
                t.created_at[:7],
                {
                    "count": 0,
                    "open": 0,
                    "disputed": Decimal("0.00"),
                    "credited": Decimal("0.00"),
                    "oldest": None,
                },
            )
            m["count"] += 1
            m["disputed"] += t.disputed_amount or Decimal("0.00")
            m["credited"] += t.credited_amount or Decimal("0.00")
            if t.state not in ("resolved", "closed"):
                m["open"] += 1
                age = (now - _parse(t.created_at)).days
                m["oldest"] = age if m["oldest"] is None else max(m["oldest"], age)
    return [
        DisputeMonth(k, v["count"], v["open"], v["disputed"], v["credited"], v["oldest"])
        for k, v in sorted(months.items(), reverse=True)
    ]
