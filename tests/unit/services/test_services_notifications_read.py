"""The read side of the notifications on SQLite and PostgreSQL: a user's own rows only (not
another user's, not another tenant's), newest first, the unread count, mark all read."""

from __future__ import annotations

from datetime import UTC, datetime

from selfcare.appdb import database
from selfcare.appdb.models import NotificationRecord
from selfcare.services import notifications, users
from tests.pg_support import raw_rows

PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only


def _seed(db):
    me = users.get_user(db, users.add_user(db, "admin@t1.test", "admin", "T1", None, PASSWORD))
    other = users.get_user(db, users.add_user(db, "fin@t1.test", "finance", "T1", None, PASSWORD))
    with database(db).transaction() as session:
        for who, tenant, text, hhmm in [
            (me, "T1", "older", "09:00"),
            (me, "T1", "newest", "11:00"),
            (me, "T1", "middle", "10:00"),
            (me, "T2", "other tenant, same user id", "12:00"),
            (other, "T1", "someone else's", "13:00"),
        ]:
            session.add(NotificationRecord(
                user_id=who.id, tenant_id=tenant, kind="approved", order_id=None, text=text,
                created_at=f"2026-12-07T{hhmm}:00+00:00",
            ))  # fmt: skip
    return me, other


def test_own_notifications_newest_first_and_mark_all_read(db):
    me, other = _seed(db)
    assert [n.text for n in notifications.list_notifications(db, me)] == [
        "newest", "middle", "older",
    ]  # fmt: skip
    assert notifications.unread_count(db, me) == 3
    assert notifications.unread_count(db, other) == 1
    assert notifications.mark_all_read(db, me, datetime(2026, 12, 7, 14, tzinfo=UTC)) == 3
    assert notifications.unread_count(db, me) == 0
    assert notifications.mark_all_read(db, me) == 0
    assert all(n.read for n in notifications.list_notifications(db, me))
    rows = raw_rows(db, "select text, read_at from notifications order by id")
    assert {r["text"]: r["read_at"] for r in rows} == {
        "older": "2026-12-07T14:00:00+00:00",
        "newest": "2026-12-07T14:00:00+00:00",
        "middle": "2026-12-07T14:00:00+00:00",
        "other tenant, same user id": None,
        "someone else's": None,
    }
    assert notifications.unread_count(db, other) == 1
