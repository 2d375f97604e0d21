"""Notifications of orders: an in-app row and a mail_outbox row per recipient, written inside
the transaction of the state change they tell of (so neither is lost nor sent for a change that
rolled back). The mail sender (services.mail, w2) delivers mail_outbox rows later, with retries.

`compose(kind, order, recipient)` gives (in-app text, subject, body). It asks
`selfcare.services.mail.render(kind, **context)` when that exists (the mail texts live there),
else uses the plain texts below. Rows stay generic: recipient user id and e-mail, subject, body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from selfcare.appdb import MailOutboxRecord, NotificationRecord, OrderRecord, UserRecord
from selfcare.services.audit import now

# What each kind tells, and to whom (services/orders.py decides the recipients).
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


def _context(kind: str, order: OrderRecord, lines: list[str], comment: str | None) -> dict:
    shown = ", ".join(lines[:3]) + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")
    return {
        "kind": kind,
        "reference": order.reference,
        "order_id": order.id,
        "requester": order.requester_email,
        "action": order.action.replace("_", " "),
        "params": dict(order.params or {}),
        "reason": order.reason,
        "lines": shown or "a new line",
        "comment": comment or "",
        "monthly_change": str(order.monthly_change),
        "once_off_change": str(order.once_off_change),
    }


def compose(kind: str, order: OrderRecord, lines: list[str],
            comment: str | None = None) -> tuple[str, str, str]:
    """(in-app text, mail subject, mail body) for a notification of `kind` about `order`."""
    context = _context(kind, order, lines, comment)
    try:  # the mail texts (templates) belong to services.mail when it is there
        from selfcare.services import mail  # type: ignore[attr-defined]

        render = getattr(mail, "render", None)
    except ImportError:
        render = None
    text = KINDS[kind].format(**context)
    if render is not None:
        subject, body = render(kind, **context)
        return text, subject, body
    subject = f"[SelfCare] {text}"[:200]
    body = (
        f"{text}.\n\n"
        f"Order {order.reference}: {context['action']} on {context['lines']}\n"
        f"Reason given: {order.reason}\n"
        f"Monthly change: R {order.monthly_change}; once-off: R {order.once_off_change}\n"
    )
    return text, subject, body


def notify(session: Session, users: Iterable[UserRecord], kind: str, order: OrderRecord,
           lines: list[str], comment: str | None = None) -> int:
    """Add a notification and a mail to each (active) user, in the session's transaction."""
    count = 0
    seen: set[int] = set()
    at = now()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        text, subject, body = compose(kind, order, lines, comment)
        session.add(NotificationRecord(user_id=user.id, tenant_id=order.tenant_id, kind=kind,
                                       order_id=order.id, text=text, created_at=at))
        session.add(MailOutboxRecord(user_id=user.id, recipient=user.email, kind=kind,
                                     order_id=order.id, subject=subject, body=body,
                                     created_at=at, next_attempt_at=at))
        count += 1
    return count


def list_for(session: Session, user_id: int, unread_only: bool = False,
             limit: int = 50) -> list[dict[str, Any]]:
    """A user's notifications, newest first."""
    q = select(NotificationRecord).where(NotificationRecord.user_id == user_id)
    if unread_only:
        q = q.where(NotificationRecord.read_at.is_(None))
    rows = session.scalars(q.order_by(NotificationRecord.id.desc()).limit(limit)).all()
    return [{"id": r.id, "kind": r.kind, "order_id": r.order_id, "text": r.text,
             "created_at": r.created_at, "read_at": r.read_at} for r in rows]


def mark_read(session: Session, user_id: int, ids: Iterable[int] | None = None) -> int:
    """Mark a user's notifications read (all when `ids` is None); only their own."""
    q = (update(NotificationRecord)
         .where(NotificationRecord.user_id == user_id, NotificationRecord.read_at.is_(None)))
    if ids is not None:
        q = q.where(NotificationRecord.id.in_(list(ids)))
    return session.execute(q.values(read_at=now())).rowcount
