"""The portal's tables: users, the audit log, personal API tokens, the login throttle's
attempts, orders with their lines, approvals, timeline, notifications and mails, and support
tickets with their lines, thread and timeline (SQLAlchemy 2 declarative).

Table and column names are those of release 0.1.0's SQLite store, so a database it wrote is
adopted as is (migration 0001). Timestamps stay ISO-8601 text in UTC, as that release wrote them.
Emails are stored lower-cased by the services; on SQLite the column also compares NOCASE, as
before.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Names for constraints, so migrations on every backend can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMAIL_TYPE = Text().with_variant(Text(collation="NOCASE"), "sqlite")

TOKEN_SCOPES = ("read", "write")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRecord(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(EMAIL_TYPE, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(Text)
    employee_id: Mapped[str | None] = mapped_column(Text)
    active: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[str] = mapped_column(Text)


class AuditRecord(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("audit_ts", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class ApiTokenRecord(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("api_tokens_user", "user_id"),
        CheckConstraint("scope in ('read', 'write')", name="scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    prefix: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(Text)
    last_used_at: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[str | None] = mapped_column(Text)
    # 0002: what the token may do; every token before it was read-only.
    scope: Mapped[str] = mapped_column(Text, default="read", server_default="read")
    # 0004: when the token stops working (ISO-8601 UTC, chosen at creation, at most a year on).
    expires_at: Mapped[str | None] = mapped_column(Text)


# --- orders (issue 12, migration 0003) ---------------------------------------------------------


class Money(TypeDecorator):
    """An exact amount in rand, to the cent: stored as its decimal text ("-12.50") on every
    backend, so SQLite (which has no decimal type) keeps it exact; read back as a Decimal."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return None if value is None else Decimal(value)


class OrderRecord(Base):
    """One order: an action with parameters on one or more lines, requested by a portal user.

    `state` is the overall state (lifecycle.order_state of its lines), kept up to date by every
    transition for filtering; the per-line truth is order_lines.state. `round` counts approval
    rounds: an edit before approval starts a new one (approvals of older rounds no longer
    count). `restarted_at` is when the order was placed or last edited (the expiry clock).
    """

    __tablename__ = "orders"
    __table_args__ = (
        Index("orders_tenant_state", "tenant_id", "state"),
        Index("orders_requester", "requester_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(Text, unique=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    requester_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    requester_email: Mapped[str] = mapped_column(Text)
    requester_employee_id: Mapped[str | None] = mapped_column(Text)
    requester_role: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    params: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    monthly_change: Mapped[Decimal] = mapped_column(Money)
    once_off_change: Mapped[Decimal] = mapped_column(Money)
    # The approval steps this order needs (policy.required_approvals), comma-separated.
    needs: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The employee the order waits for (policy.notify_approver; None: the Administrators).
    waits_for_employee_id: Mapped[str | None] = mapped_column(Text)
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    state: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(Text)
    restarted_at: Mapped[str] = mapped_column(Text)


class OrderLineRecord(Base):
    """One line of an order, with its own state (one line can fail while the others complete).

    `idempotency_key` is fixed when the order is created and never changes: the worker submits
    with it, and a resubmission after a crash carries the same key. `submitting_since` is the
    worker's claim (set in the transaction before `adapter.submit`, cleared with the ack).
    `requested` and `in_effect` are the action's Change (value asked for, value in effect when
    asked); `facts` the LineFacts the action needs, as they were when the order was placed.
    """

    __tablename__ = "order_lines"
    __table_args__ = (
        Index("order_lines_order", "order_id"),
        Index("order_lines_msisdn", "msisdn"),
        Index("order_lines_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders.id"))
    position: Mapped[int] = mapped_column(Integer)
    msisdn: Mapped[str | None] = mapped_column(Text)
    employee_id: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text, unique=True)
    change_field: Mapped[str] = mapped_column(Text)
    requested: Mapped[Any] = mapped_column(JSON, nullable=True)
    in_effect: Mapped[Any] = mapped_column(JSON, nullable=True)
    facts: Mapped[dict | None] = mapped_column(JSON)
    operator_ref: Mapped[str | None] = mapped_column(Text)
    submitting_since: Mapped[str | None] = mapped_column(Text)
    submit_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    submitted_at: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[str | None] = mapped_column(Text)
    effective_on: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # For new_line: the number the operator gave.
    new_msisdn: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(Text)


class OrderApprovalRecord(Base):
    """A decision on an order: an approval of one step, or a rejection, in one approval round."""

    __tablename__ = "order_approvals"
    __table_args__ = (
        Index("order_approvals_order", "order_id"),
        UniqueConstraint("order_id", "round", "step", name="uq_order_approvals_step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders.id"))
    round: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(Text)  # manager | finance | reject
    decision: Mapped[str] = mapped_column(Text)  # approved | rejected
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    user_email: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[str] = mapped_column(Text)


class OrderEventRecord(Base):
    """The order's timeline: who did what, when, with which comment (line_id: a line's own)."""

    __tablename__ = "order_events"
    __table_args__ = (Index("order_events_order", "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders.id"))
    line_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("order_lines.id"))
    at: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(Text)  # None: the system or the operator
    event: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)


class TenantSettingsRecord(Base):
    """A tenant's approval settings (no row: the defaults)."""

    __tablename__ = "tenant_settings"

    tenant_id: Mapped[str] = mapped_column(Text, primary_key=True)
    finance_threshold: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(Integer)


class NotificationRecord(Base):
    """An in-app notification for one user (waiting for your approval, approved, ...)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("notifications_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    tenant_id: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders.id"))
    # The ticket it tells of (0006; no foreign key: added to an existing table by batch).
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(Text)
    read_at: Mapped[str | None] = mapped_column(Text)


class MailOutboxRecord(Base):
    """A mail to send, written in the transaction of the state change it tells of; the sender
    (services.mail) delivers it, retrying with backoff: a mail failure never loses the change."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("mail_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    recipient: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders.id"))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)


class LoginAttemptRecord(Base):
    """One sign-in attempt counted by the login throttle (0004): a key ("account:<email>" or
    "address:<ip>") and when, in seconds since the epoch. Rows older than the window are deleted
    as new attempts arrive; a successful sign-in deletes the row its attempt reserved."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)


# --- tickets (issue 15, migration 0006) -------------------------------------------------------


class TicketRecord(Base):
    """A support ticket or billing query raised by a tenant's user.

    `reference` is TCK-<id> (unique across tenants, so the support agent's /tickets/<reference>
    names one ticket). A billing query names one invoice line (`invoice_id` + `line_no`); what the
    lake said of it when raised is kept (`invoice_*`), so the support agent, who reads no usage
    data, sees the charge the ticket names and nothing else. The service clock: `pending_since`
    while waiting on the customer; `pending_seconds` and `resolved_seconds` (time resolved before
    a reopen) are left out of the measured response and resolution times.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("tickets_tenant_state", "tenant_id", "state"),
        Index("tickets_raiser", "raiser_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(Text, unique=True)
    tenant_id: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    raiser_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    raiser_email: Mapped[str] = mapped_column(Text)
    raiser_role: Mapped[str] = mapped_column(Text)
    raiser_employee_id: Mapped[str | None] = mapped_column(Text)
    invoice_id: Mapped[str | None] = mapped_column(Text)
    line_no: Mapped[int | None] = mapped_column(Integer)
    invoice_msisdn: Mapped[str | None] = mapped_column(Text)
    invoice_period: Mapped[str | None] = mapped_column(Text)
    invoice_description: Mapped[str | None] = mapped_column(Text)
    invoice_amount: Mapped[Decimal | None] = mapped_column(Money)
    disputed_amount: Mapped[Decimal | None] = mapped_column(Money)
    credited_amount: Mapped[Decimal | None] = mapped_column(Money)
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders.id"))
    state: Mapped[str] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id"))
    created_at: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(Text)
    first_response_at: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[str | None] = mapped_column(Text)
    pending_since: Mapped[str | None] = mapped_column(Text)
    pending_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolved_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopened_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TicketLineRecord(Base):
    """A line a ticket concerns (within the raiser's scope when raised), with its owner then."""

    __tablename__ = "ticket_lines"
    __table_args__ = (
        Index("ticket_lines_msisdn", "msisdn"),
        UniqueConstraint("ticket_id", "msisdn", name="uq_ticket_lines_msisdn"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"))
    msisdn: Mapped[str] = mapped_column(Text)
    employee_id: Mapped[str | None] = mapped_column(Text)


class TicketCommentRecord(Base):
    """One message of a ticket's thread, stored as typed (rendered as text, never HTML)."""

    __tablename__ = "ticket_comments"
    __table_args__ = (Index("ticket_comments_ticket", "ticket_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"))
    author_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    author_email: Mapped[str] = mapped_column(Text)
    author_role: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)


class TicketEventRecord(Base):
    """The ticket's timeline: raise, assign, each transition, with who and when."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ticket_events_ticket", "ticket_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, ForeignKey("tickets.id"))
    at: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(Text)  # None: the system (auto-close)
    event: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(Text)
    to_state: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
