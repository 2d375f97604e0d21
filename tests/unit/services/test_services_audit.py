"""The audit log and the database file on SQLite and PostgreSQL. (Moved from test_store.py.)"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from selfcare.services import audit, schema, users
from tests.pg_support import raw_rows

PASSWORD = "correct horse battery staple"


def test_audit_rows_for_user_management(db):
    users.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    users.set_role(db, "a@t1.test", "finance")
    users.set_password(db, "a@t1.test", "another long password")
    users.deactivate(db, "a@t1.test")
    audit.audit(db, "login_failed", email="a@t1.test", ip="10.0.0.9")
    events = [r["event"] for r in raw_rows(db, "select event from audit order by id")]
    assert events == [
        "user_added",
        "role_changed",
        "password_changed",
        "deactivated",
        "login_failed",
    ]
    (failed,) = raw_rows(db, "select * from audit where event = 'login_failed'")
    assert failed["ip"] == "10.0.0.9" and failed["ts"]


def test_database_file_is_private(db):
    if not isinstance(db, Path):
        pytest.skip("a SQLite file's mode; PostgreSQL keeps no file of ours")
    schema.ensure_ready(db)
    mode = stat.S_IMODE(db.stat().st_mode)
    assert mode & 0o077 == 0
