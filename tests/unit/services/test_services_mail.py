"""The mail outbox on SQLite and PostgreSQL: queued in the caller's transaction, delivered
through a real SMTP server on loopback (aiosmtpd) or into the maildir, retried with backoff
after a failure, and sent once even with two senders at the same moment.

The rows are read back with the database's own driver (tests/pg_support.raw_rows), not through
the service.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import threading
from datetime import UTC, datetime, timedelta

import pytest

from selfcare.appdb import database
from selfcare.config import MailSettings
from selfcare.services import mail
from tests.pg_support import raw_rows

T0 = datetime(2026, 12, 7, 16, 0, 0, tzinfo=UTC)


def _queue(db, n=1, kind="approval_requested", start=0):
    with database(db).transaction() as session:
        for i in range(start, start + n):
            mail.queue(
                session,
                recipient=f"person{i}@example.test",
                kind=kind,
                facts={
                    "reference": f"ORD-{1000 + i}",
                    "action_name": "Add a service",
                    "details": "International roaming",
                    "lines": ["27820000001"],
                    "requester_name": "Sipho Dlamini",
                    "recipient_name": f"Person {i}",
                },
                order_id=None,
                now=T0,
                base_url="https://portal.example.test",
            )


def _rows(db):
    return raw_rows(
        db, "select id, recipient, attempts, sent_at, last_error, next_attempt_at "
        "from mail_outbox order by id"
    )  # fmt: skip


def _smtp(server, tmp_path):
    return MailSettings(
        maildir=tmp_path / "no-maildir",
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_timeout=5,
        mail_from="SelfCare <portal@example.test>",
    )


def test_due_mails_are_delivered_once(db, smtp_server, tmp_path):
    _queue(db, 3)
    settings = _smtp(smtp_server, tmp_path)
    assert mail.send_pending(db, settings, T0) == 3
    assert mail.send_pending(db, settings, T0 + timedelta(hours=2)) == 0
    got = smtp_server.messages
    assert sorted(m.rcpt_tos[0] for m in got) == [f"person{i}@example.test" for i in range(3)]
    first = next(m for m in got if m.rcpt_tos == ["person0@example.test"]).message
    assert first["Subject"].startswith("Waiting for your approval: ORD-1000")
    assert first["From"] == "SelfCare <portal@example.test>"
    assert "International roaming" in first.get_content()
    assert len({m.message["Message-ID"] for m in got}) == 3
    rows = _rows(db)
    assert [r["attempts"] for r in rows] == [1, 1, 1]
    assert all(r["sent_at"] and r["last_error"] is None for r in rows)
    assert not (tmp_path / "no-maildir").exists()


def test_a_mail_not_yet_due_waits(db, smtp_server, tmp_path):
    _queue(db, 1)
    assert mail.send_pending(db, _smtp(smtp_server, tmp_path), T0 - timedelta(seconds=1)) == 0
    assert smtp_server.messages == []
    assert _rows(db)[0]["attempts"] == 0


def test_without_a_host_mails_go_to_the_maildir(db, tmp_path):
    _queue(db, 2, kind="approved")
    where = tmp_path / "maildir"
    assert mail.send_pending(db, MailSettings(maildir=where), T0) == 2
    box = mailbox.Maildir(
        where,
        factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default),
        create=False,
    )
    got = sorted((m["To"], m["Subject"]) for m in box)
    assert got == [
        ("person0@example.test", "Approved: your request ORD-1000 · Add a service"),
        ("person1@example.test", "Approved: your request ORD-1001 · Add a service"),
    ]
    assert all(r["sent_at"] for r in _rows(db))


def test_server_down_then_up_sends_exactly_once_after_the_backoff(db, smtp_server, tmp_path):
    _queue(db, 1)
    settings = _smtp(smtp_server, tmp_path)
    smtp_server.stop()
    assert mail.send_pending(db, settings, T0) == 0
    [row] = _rows(db)
    assert row["attempts"] == 1 and row["sent_at"] is None
    assert "Connection" in row["last_error"]
    assert row["next_attempt_at"] == (T0 + timedelta(seconds=60)).isoformat()
    # the state change is not touched: the row stays, waiting; a second failure doubles the wait
    assert mail.send_pending(db, settings, T0 + timedelta(seconds=59)) == 0
    assert _rows(db)[0]["attempts"] == 1
    assert mail.send_pending(db, settings, T0 + timedelta(seconds=60)) == 0
    [row] = _rows(db)
    assert row["attempts"] == 2
    assert row["next_attempt_at"] == (T0 + timedelta(seconds=60 + 120)).isoformat()

    smtp_server.start()
    assert mail.send_pending(db, settings, T0 + timedelta(seconds=100)) == 0  # still waiting
    assert mail.send_pending(db, settings, T0 + timedelta(seconds=180)) == 1
    assert mail.send_pending(db, settings, T0 + timedelta(hours=5)) == 0
    assert len(smtp_server.messages) == 1
    [row] = _rows(db)
    assert row["attempts"] == 3 and row["sent_at"] and row["last_error"] is None


def test_a_refusal_is_recorded_and_retried(db, smtp_server, tmp_path):
    _queue(db, 1)
    settings = _smtp(smtp_server, tmp_path)
    smtp_server.refuse(1)
    assert mail.send_pending(db, settings, T0) == 0
    assert "451" in _rows(db)[0]["last_error"]
    assert mail.send_pending(db, settings, T0 + timedelta(minutes=1)) == 1
    assert len(smtp_server.messages) == 1


def test_one_bad_address_does_not_hold_up_the_others(db, smtp_server, tmp_path):
    _queue(db, 2)
    with database(db).transaction() as session:
        mail.queue(session, recipient="not an address\r\nBcc: x@evil.test", kind="failed",
                   facts={"reference": "ORD-9"}, now=T0, base_url="")
    assert mail.send_pending(db, _smtp(smtp_server, tmp_path), T0) == 2
    rows = _rows(db)
    assert [bool(r["sent_at"]) for r in rows] == [True, True, False]
    assert rows[2]["last_error"]
    assert all("evil" not in rcpt for m in smtp_server.messages for rcpt in m.rcpt_tos)


def test_two_senders_at_once_send_each_mail_once(db, smtp_server, tmp_path):
    n = 24
    _queue(db, n)
    settings = _smtp(smtp_server, tmp_path)
    database(db).ensure_schema()
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(mail.send_pending(db, settings, T0))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(results) == n
    ids = [m.message["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == n and len(set(ids)) == n
    assert [r["attempts"] for r in _rows(db)] == [1] * n


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (6, 32), (7, 60), (30, 60)],
)
def test_backoff_doubles_up_to_an_hour(attempts, minutes):
    assert mail.backoff(attempts) == timedelta(minutes=minutes)
