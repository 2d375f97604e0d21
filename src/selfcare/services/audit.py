"""The audit log: sign-ins, failures, throttling, user and token management.

`record()` adds a row inside the caller's transaction (so an operation and its audit row commit
together); `audit()` is the stand-alone form for events with no other write (login_failed, ...).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from selfcare.appdb import AuditRecord, Database, database

DbLike = Database | str | os.PathLike[str]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record(
    session: Session,
    event: str,
    email: str | None = None,
    user_id: int | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Add an audit row to the session's transaction."""
    session.add(
        AuditRecord(
            ts=now(),
            event=event,
            email=(email or "")[:254] or None,
            user_id=user_id,
            ip=ip,
            detail=(detail or "")[:500] or None,
        )
    )


def audit(
    db: DbLike,
    event: str,
    email: str | None = None,
    user_id: int | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Append an audit row (login, login_failed, logout, throttled, token_*, ...)."""
    with database(db).transaction() as session:
        record(session, event, email, user_id, ip, detail)


def list_audit(db: DbLike, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest audit rows first."""
    with database(db).transaction(readonly=True) as session:
        rows = session.scalars(
            select(AuditRecord).order_by(AuditRecord.id.desc()).limit(int(limit))
        ).all()
        return [
            {
                "ts": r.ts,
                "event": r.event,
                "email": r.email,
                "user_id": r.user_id,
                "ip": r.ip,
                "detail": r.detail,
            }
            for r in rows
        ]
