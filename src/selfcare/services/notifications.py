"""Notifications: the in-app rows (and their mails) that tell people about their orders.

The write side (a notification row and a mail_outbox row in the same transaction as each order
state change) is services/orders.py's and this module's first part; the read side below lists
the signed-in user's own notifications, counts the unread ones and marks them read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from selfcare.appdb import Database, database
from selfcare.appdb.models import NotificationRecord

DbLike = Database | str | os.PathLike[str]


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
