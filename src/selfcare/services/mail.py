"""The mail outbox: notification mails are queued in the state change's transaction and sent later.

`queue(session, ...)` renders a notification kind's template (`selfcare.mail`) and adds a
`mail_outbox` row to the caller's transaction, so the order's state change and its mail commit
together or not at all. `send_pending(db, settings, now)` (the worker calls it) delivers the due
rows through SMTP, or into the maildir when no SMTP host is set.

Why a row is never lost and a mail is sent once:

- A row is **claimed** with a guarded UPDATE before it is sent: `attempts + 1` and
  `next_attempt_at` pushed a lease ahead, `WHERE id = :id AND sent_at IS NULL AND attempts =
  :seen AND next_attempt_at = :seen`. Two workers reading the same due row: one UPDATE changes it,
  the other changes nothing and skips it (on PostgreSQL the second waits for the first's row lock
  and then sees the new values; on SQLite writers are serialised). The claim commits before the
  SMTP conversation, so no transaction is held open while a server is slow.
- **Delivered**: `sent_at` is set in a second transaction, guarded by the same attempt number.
- **Not delivered** (server down, refusal, bad address): the row stays, with `last_error` and
  `next_attempt_at = now + backoff` (1, 2, 4 ... minutes, at most an hour); it is never dropped.
- A worker **killed** between the SMTP server's "250 accepted" and the `sent_at` commit leaves the
  claim; after the lease (`CLAIM_SECONDS`) the row is due again and re-sent. That window is the one
  case of a second copy, and the copy carries the same Message-ID, so mail clients that dedupe on
  it show one mail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from selfcare import mail as mail_texts
from selfcare.appdb import Database, database
from selfcare.appdb.models import MailOutboxRecord
from selfcare.config import MailSettings, Settings, load_mail_settings

log = logging.getLogger(__name__)

DbLike = Database | str | os.PathLike[str]

# How long a claim keeps other workers off a row: well above one SMTP conversation (the SMTP
# timeout is 30 s per operation).
CLAIM_SECONDS = 300
BACKOFF_FIRST_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
BATCH = 50


def stamp(moment: datetime) -> str:
    """The outbox's timestamps: ISO-8601 UTC to the second, as the rest of the database (so
    text comparison is time order)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4, 8 ... minutes, at most an hour."""
    seconds = BACKOFF_FIRST_SECONDS * 2 ** max(0, min(attempts - 1, 16))
    return timedelta(seconds=min(seconds, BACKOFF_MAX_SECONDS))


def _mail_settings(settings: Settings | MailSettings | None) -> MailSettings:
    if isinstance(settings, MailSettings):
        return settings
    return load_mail_settings(settings)


# --- queueing (in the caller's transaction) -----------------------------------------------------


def queue(
    session: Session,
    *,
    recipient: str,
    kind: str,
    facts: Mapping[str, Any],
    user_id: int | None = None,
    order_id: int | None = None,
    now: datetime | None = None,
    base_url: str | None = None,
) -> MailOutboxRecord:
    """Render the `kind` mail with `facts` and add it to the session's transaction, due now.

    `facts` are what the template shows (templates in `selfcare/mail/templates/`): `reference`,
    `action_name`, `details`, `lines`, `requester_name`, `recipient_name`, `actor_name`,
    `reason`, `comment`, `failure_reason`, `effective_on`, `monthly_change`, ... (names, not codes).
    The link to the order page is built from `order_id` and SELFCARE_BASE_URL.
    """
    moment = stamp(now or datetime.now(UTC))
    if base_url is None:
        base_url = load_mail_settings().base_url
    rendered = mail_texts.render(kind, {"order_id": order_id, **facts}, base_url=base_url)
    row = MailOutboxRecord(
        user_id=user_id,
        recipient=recipient,
        kind=kind,
        order_id=order_id,
        subject=rendered.subject,
        body=rendered.body,
        created_at=moment,
        attempts=0,
        next_attempt_at=moment,
    )
    session.add(row)
    return row


# --- sending (the worker) -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    id: int
    attempt: int
    recipient: str
    subject: str
    body: str
    created_at: str


def _due(db: Database, now: str, limit: int) -> list[tuple[int, int, str]]:
    with db.transaction(readonly=True) as session:
        rows = session.execute(
            select(MailOutboxRecord.id, MailOutboxRecord.attempts, MailOutboxRecord.next_attempt_at)
            .where(MailOutboxRecord.sent_at.is_(None), MailOutboxRecord.next_attempt_at <= now)
            .order_by(MailOutboxRecord.next_attempt_at, MailOutboxRecord.id)
            .limit(limit)
        ).all()
    return [(int(r[0]), int(r[1] or 0), str(r[2])) for r in rows]


def _claim(db: Database, row_id: int, attempts: int, due_at: str, now: datetime) -> _Claim | None:
    """Take the row for this worker (guarded UPDATE); None when another worker has it."""
    with db.transaction() as session:
        result = session.execute(
            update(MailOutboxRecord)
            .where(
                MailOutboxRecord.id == row_id,
                MailOutboxRecord.sent_at.is_(None),
                MailOutboxRecord.attempts == attempts,
                MailOutboxRecord.next_attempt_at == due_at,
            )
            .values(
                attempts=attempts + 1,
                next_attempt_at=stamp(now + timedelta(seconds=CLAIM_SECONDS)),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        row = session.execute(
            select(
                MailOutboxRecord.recipient,
                MailOutboxRecord.subject,
                MailOutboxRecord.body,
                MailOutboxRecord.created_at,
            ).where(MailOutboxRecord.id == row_id)
        ).one()
    return _Claim(row_id, attempts + 1, row[0], row[1], row[2], row[3])


def _finish(db: Database, claim: _Claim, values: dict[str, Any]) -> bool:
    with db.transaction() as session:
        result = session.execute(
            update(MailOutboxRecord)
            .where(
                MailOutboxRecord.id == claim.id,
                MailOutboxRecord.sent_at.is_(None),
                MailOutboxRecord.attempts == claim.attempt,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def message_id(row_id: int, created_at: str, mail_from: str) -> str:
    """A stable Message-ID per outbox row: a re-send after a crash carries the same one."""
    domain = mail_from.rsplit("@", 1)[-1].strip(" >") or "selfcare.invalid"
    when = "".join(ch for ch in created_at if ch.isdigit())
    return f"<selfcare-outbox-{row_id}.{when}@{domain}>"


def send_pending(
    db: DbLike,
    settings: Settings | MailSettings | None = None,
    now: datetime | None = None,
    *,
    limit: int = BATCH,
) -> int:
    """Deliver the mails that are due; returns how many were delivered by this call.

    A failure is recorded on its row (attempts, last_error, the next attempt after a backoff)
    and never raised: the state change that queued the mail is committed already.
    """
    handle = database(db)
    mail = _mail_settings(settings)
    moment = now or datetime.now(UTC)
    sent = 0
    for row_id, attempts, due_at in _due(handle, stamp(moment), limit):
        claim = _claim(handle, row_id, attempts, due_at, moment)
        if claim is None:
            continue  # another worker took it
        try:
            msg = mail_texts.build_message(
                mail_texts.Rendered(claim.subject, claim.body),
                to=claim.recipient,
                sender=mail.mail_from,
                message_id=message_id(claim.id, claim.created_at, mail.mail_from),
            )
            mail_texts.deliver(msg, mail)
        except (mail_texts.DeliveryError, ValueError) as e:
            # ValueError: a recipient or header the email package refuses (a malformed address)
            wait = backoff(claim.attempt)
            log.warning(
                "mail %s to %s not delivered (attempt %s, next in %s): %s",
                claim.id, claim.recipient, claim.attempt, wait, e,
            )  # fmt: skip
            _finish(
                handle,
                claim,
                {"last_error": str(e)[:500], "next_attempt_at": stamp(moment + wait)},
            )
            continue
        if _finish(handle, claim, {"sent_at": stamp(datetime.now(UTC)), "last_error": None}):
            sent += 1
        else:  # pragma: no cover - only when the lease ran out during one delivery
            log.warning("mail %s was delivered after its claim expired", claim.id)
    return sent


def outbox_counts(db: DbLike) -> dict[str, int]:
    """How the outbox stands: `sent`, `pending` (never tried or waiting), `failing` (tried and
    not delivered yet)."""
    with database(db).transaction(readonly=True) as session:
        rows = session.execute(
            select(
                MailOutboxRecord.sent_at.is_not(None),
                MailOutboxRecord.attempts > 0,
                func.count(),
            ).group_by(MailOutboxRecord.sent_at.is_not(None), MailOutboxRecord.attempts > 0)
        ).all()
    counts = {"sent": 0, "pending": 0, "failing": 0}
    for is_sent, tried, n in rows:
        key = "sent" if is_sent else ("failing" if tried else "pending")
        counts[key] += int(n)
    return counts
