"""The login throttle: a moving window of sign-in attempts per key, in the portal's database.

Every attempt reserves a slot *before* the password is checked (`reserve`): in one write
transaction, the key's attempts older than the window are deleted, the rest counted, and a new
row added only if the count is below the limit. The check and the insert are one step, so no
number of concurrent attempts can get more than `limit` password checks through; a successful
sign-in gives its slot back (`release`), so only failures (and attempts still in flight) count.

The rows live in the portal's own database (table `login_attempts`), so the counters survive a
restart and are shared by every server process. Serialisation: SQLite's write transactions are
`BEGIN IMMEDIATE` (one writer at a time, database-wide); on PostgreSQL a transaction-scoped
advisory lock per key serialises the attempts on that key.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text

from selfcare.appdb import Database, LoginAttemptRecord, database

DbLike = Database | str | os.PathLike[str]


@dataclass(frozen=True)
class Limit:
    """At most `count` attempts per `seconds`, per key."""

    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count} per {self.seconds // 60} minutes"


def _lock_key(session, key: str) -> None:  # noqa: ANN001 (a SQLAlchemy Session)
    if session.get_bind().dialect.name == "postgresql":
        h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("select pg_advisory_xact_lock(:h)"), {"h": h})


def reserve(
    db: DbLike, keys: list[tuple[str, Limit]], at: float | None = None
) -> tuple[tuple[int, ...] | None, Limit | None, int]:
    """Reserve one attempt under every (key, limit) at once, or under none.

    Returns (the reserved rows' ids, for `release`; None; 0) when every key is under its limit,
    else (None; the limit breached; seconds until its oldest attempt leaves the window).
    """
    at = time.time() if at is None else at
    with database(db).transaction() as session:
        for key, _ in sorted(keys, key=lambda k: k[0]):
            _lock_key(session, key)
        for key, limit in keys:
            session.execute(
                delete(LoginAttemptRecord).where(
                    LoginAttemptRecord.key == key, LoginAttemptRecord.at <= at - limit.seconds
                )
            )
            count, oldest = session.execute(
                select(func.count(), func.min(LoginAttemptRecord.at)).where(
                    LoginAttemptRecord.key == key
                )
            ).one()
            if count >= limit.count:
                # The expired rows' deletion commits; nothing is reserved.
                return None, limit, max(1, int((oldest or at) + limit.seconds - at) + 1)
        rows = [LoginAttemptRecord(key=key, at=at) for key, _ in keys]
        session.add_all(rows)
        session.flush()
        return tuple(int(r.id) for r in rows), None, 0


def release(db: DbLike, reserved: tuple[int, ...]) -> None:
    """Give back the slots of one attempt (a successful sign-in does not count)."""
    with database(db).transaction() as session:
        session.execute(delete(LoginAttemptRecord).where(LoginAttemptRecord.id.in_(reserved)))


def clear(db: DbLike) -> None:
    """Forget every attempt (tests; an operator unlocking everyone)."""
    with database(db).transaction() as session:
        session.execute(delete(LoginAttemptRecord))
