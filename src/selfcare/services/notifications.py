"""Notifications of orders: who hears what, in the app and by mail.

Write side: `notify(session, users, kind, order, lines)` adds, for each active recipient, an in-app
notification row and a `mail_outbox` row (rendered by `services.mail.queue` from the templates in
`selfcare/mail/templates/`) inside the transaction of the state change they tell of, so neither
is lost nor sent for a change that rolled back. The worker sends the mails later, with retries.
The texts name things: the action's label, the employee's name from the HR feed, the service's
name from the catalogue, never only codes.

Read side: the signed-in user's own list, the unread count, and "mark all read".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from selfcare.appdb import Database, database
from selfcare.appdb.models import NotificationRecord, OrderRecord, UserRecord
from selfcare.services import mail
from selfcare.services.audit import now

log = logging.getLogger(__name__)

DbLike = Database | str | os.PathLike[str]

# What each kind says in the app (services/orders.py decides the recipients).
KINDS = {
    "awaiting_approval": "{reference}: {requester} asks for {action} on {lines}; waiting for your "
                         "approval",
    "approved": "{reference}: your request ({action} on {lines}) was approved",
    "rejected": "{reference}: your request ({action} on {lines}) was rejected: {comment}",
    "completed": "{reference}: your request ({action} on {lines}) is completed",
    "failed": "{reference}: your request ({action} on {lines}) failed: {comment}",
    "partially_completed": "{reference}: your request ({action} on {lines}) is completed on some "
                           "lines and failed on others",
    "expired": "{reference}: your request ({action} on {lines}) expired without a decision",
}

# The mail template of each kind (templates/<name>.txt); a part-done order is a completed mail
# that lists the lines not done.
MAIL_TEMPLATE = {
    "awaiting_approval": "approval_requested",
    "approved": "approved",
    "rejected": "rejected",
    "completed": "completed",
    "failed": "failed",
    "partially_completed": "completed",
    "expired": "expired",
}


def _money(value: Any) -> str:
    amount = Decimal(str(value or 0))
    return f"R {amount:,.2f}".replace(",", " ") if amount else ""


def _names(tenant_id: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(employee id -> full name, service code -> name, plan code -> name) for the texts."""
    from selfcare.services import estate  # the lake's facts; late so a bare DB still works

    try:
        est = estate.tenant_estate(tenant_id)
    except Exception:  # noqa: BLE001 - a name is a nicety; the state change must not fail on it
        log.warning("names for notifications unavailable for tenant %s", tenant_id, exc_info=True)
        return {}, {}, {}
    people = {e.employee_id: e.full_name for e in est.employees.values() if e.full_name}
    return people, dict(est.service_names), dict(est.plan_names)


def _action_label(code: str) -> str:
    from selfcare.orders.actions import ACTIONS

    cls = ACTIONS.get(code)
    return cls.label if cls is not None else code.replace("_", " ")


def _details(order: OrderRecord, services: dict[str, str], plans: dict[str, str]) -> str:
    parts = []
    for key, value in sorted((order.params or {}).items()):
        shown = services.get(str(value)) or plans.get(str(value)) or str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def _person(user: UserRecord | None, people: dict[str, str]) -> str:
    if user is None:
        return ""
    return people.get(user.employee_id or "", "") or user.email


def notify(session: Session, users: Iterable[UserRecord], kind: str, order: OrderRecord,
           lines: Sequence[str], comment: str | None = None, *,
           actor: Any = None, effective_on: str | None = None,
           failed_lines: Sequence[str] = ()) -> int:
    """Add a notification and a mail for each active user, in the session's transaction."""
    people, services, plans = _names(order.tenant_id)
    requester = session.get(UserRecord, order.requester_id)
    requester_name = _person(requester, people)
    actor_user = session.get(UserRecord, int(actor.id)) if getattr(actor, "id", None) else None
    action = _action_label(order.action)
    shown = ", ".join(lines[:3]) + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")
    text = KINDS.get(kind, "{reference}: {action} on {lines} is now " + kind).format(
        reference=order.reference, requester=requester_name or order.requester_email,
        action=action, lines=shown or "a new line", comment=comment or "")
    facts = {
        "reference": order.reference,
        "action_name": action,
        "details": _details(order, services, plans),
        "lines": list(lines),
        "requester_name": requester_name,
        "actor_name": _person(actor_user, people),
        "request_reason": order.reason,
        "reason": comment if kind == "rejected" else None,
        "comment": comment,
        "failure_reason": comment if kind in ("failed", "partially_completed") else None,
        "failed_lines": list(failed_lines),
        "effective_on": effective_on,
        "monthly_change": _money(order.monthly_change),
        "once_off_change": _money(order.once_off_change),
    }
    count = 0
    seen: set[int] = set()
    at = now()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        session.add(NotificationRecord(user_id=user.id, tenant_id=order.tenant_id, kind=kind,
                                       order_id=order.id, text=text, created_at=at))
        template = MAIL_TEMPLATE.get(kind)
        if template is not None:
            mail.queue(session, recipient=user.email, kind=template, user_id=user.id,
                       order_id=order.id,
                       facts={**facts, "recipient_name": _person(user, people)})
        count += 1
    return count


# --- read side: the signed-in user's list, count and "mark read" --------------------------------
# Every function acts on the actor's own rows only (user id AND tenant from the signed-in user,
# never from the browser): someone else's notification id is "no such notification".

LIST_LIMIT = 100


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    order_id: int | None
    text: str
    created_at: str
    read: bool


def _own(actor: Any) -> list[Any]:
    return [
        NotificationRecord.user_id == int(actor.id),
        # A row written for another tenant never shows, even under the same user id.
        NotificationRecord.tenant_id.is_(None)
        if actor.tenant_id is None
        else NotificationRecord.tenant_id == actor.tenant_id,
    ]


def list_notifications(
    db: DbLike, actor: Any, *, unread_only: bool = False, limit: int = LIST_LIMIT
) -> list[NotificationView]:
    """The actor's notifications, newest first."""
    where = _own(actor)
    if unread_only:
        where.append(NotificationRecord.read_at.is_(None))
    with database(db).transaction(readonly=True) as session:
        rows = session.scalars(
            select(NotificationRecord)
            .where(*where)
            .order_by(NotificationRecord.created_at.desc(), NotificationRecord.id.desc())
            .limit(max(1, min(int(limit), 1000)))
        ).all()
        return [
            NotificationView(
                id=int(r.id),
                kind=r.kind,
                order_id=None if r.order_id is None else int(r.order_id),
                text=r.text,
                created_at=r.created_at,
                read=r.read_at is not None,
            )
            for r in rows
        ]


def unread_count(db: DbLike, actor: Any) -> int:
    """How many of the actor's notifications are unread (the shell's top bar)."""
    with database(db).transaction(readonly=True) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(NotificationRecord)
                .where(*_own(actor), NotificationRecord.read_at.is_(None))
            )
            or 0
        )


def mark_all_read(db: DbLike, actor: Any, now: datetime | None = None) -> int:
    """Mark every unread notification of the actor read; returns how many changed."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    with database(db).transaction() as session:
        result = session.execute(
            update(NotificationRecord)
            .where(*_own(actor), NotificationRecord.read_at.is_(None))
            .values(read_at=stamp)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)


# --- tickets (issue 15) ---------------------------------------------------------------------------

TICKET_KINDS = {
    "ticket_comment": "{reference}: {actor} commented on \u201c{subject}\u201d",
    "ticket_state": "{reference}: \u201c{subject}\u201d is now {state}",
    "ticket_assigned": "{reference}: \u201c{subject}\u201d was assigned to you",
}


def notify_ticket(session: Session, users: Iterable[UserRecord], kind: str, ticket: Any, *,
                  actor: Any = None, comment: str | None = None) -> int:
    """An in-app notification of a ticket's news for each active user, in the session's
    transaction (the recipient's own tenant, so a Support agent's rows are theirs)."""
    text = TICKET_KINDS[kind].format(
        reference=ticket.reference, subject=ticket.subject[:80], state=ticket.state,
        actor=getattr(actor, "email", None) or "the portal")
    at = now()
    count = 0
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        session.add(NotificationRecord(user_id=user.id, tenant_id=user.tenant_id, kind=kind,
                                       ticket_id=ticket.id, text=text, created_at=at))
        count += 1
    return count
