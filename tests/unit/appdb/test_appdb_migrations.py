"""The portal database's migrations: a file written by release 0.1.0 is adopted without losing a
row, a fresh database (SQLite and PostgreSQL) gets exactly the models' schema, and a database
behind the code is refused with the command that upgrades it.

Rows are read with sqlite3 / psycopg directly, never through the services.
"""

# ruff: noqa: S105, S106 (fixture credentials)
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from selfcare.appdb import HEAD, Base, SchemaError, database, migrate, status, upgrade
from selfcare.services import audit, schema, tokens, users
from tests.pg_support import raw_rows

LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "appdb" / "app-0.1.0.db"
# Printed by tests/fixtures/appdb/make_legacy_db.py when the fixture was made: admin's live token.
LEGACY_SECRET = "sc_nfPAkqYRv-dqO6Dzf7FppqhCZd5mluH4K3ivmQ-9bew"
LEGACY_PASSWORD = "legacy password 0.1.0"
TABLES = ("users", "audit", "api_tokens")


@pytest.fixture
def legacy(tmp_path) -> Path:
    path = tmp_path / "app.db"
    shutil.copyfile(LEGACY, path)
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def empty(request, tmp_path):
    """An empty database on either backend (a SQLite path, or a PostgreSQL URL)."""
    if request.param == "sqlite":
        return tmp_path / "fresh" / "app.db"
    return request.getfixturevalue("pg_empty_url")


def sqlite_rows(path: Path, table: str) -> list[dict]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"select * from {table} order by id")]
    finally:
        con.close()

# columns added by later revisions (0002 scope, 0004 expires_at)
NEW_COLUMNS = ("scope", "expires_at")


def test_revision_list_matches_the_scripts():
    # the start-up check compares with REVISIONS/HEAD instead of parsing the scripts each time
    assert migrate.script_revisions() == migrate.REVISIONS
    assert migrate.script_heads() == (HEAD,)


def test_legacy_file_is_refused_until_upgraded(legacy):
    before = {t: sqlite_rows(legacy, t) for t in TABLES}
    assert status(database(legacy)) == "legacy"
    with pytest.raises(SchemaError, match="selfcare db upgrade"):
        users.list_users(legacy)
    with pytest.raises(SchemaError, match="selfcare db upgrade"):
        schema.ensure_ready(legacy)
    # refusing changed nothing
    assert {t: sqlite_rows(legacy, t) for t in TABLES} == before


def test_upgrade_of_a_0_1_0_file_keeps_every_row(legacy):
    before = {t: sqlite_rows(legacy, t) for t in TABLES}
    assert [len(before[t]) for t in TABLES] == [6, 15, 3]  # what make_legacy_db.py wrote
    assert upgrade(database(legacy)) == (None, HEAD)
    assert status(database(legacy)) == "current"
    after = {t: sqlite_rows(legacy, t) for t in TABLES}
    assert after["users"] == before["users"]
    assert after["audit"] == before["audit"]
    # tokens: every row and column kept, plus the new scope, read for all of them
    kept = [{k: v for k, v in r.items() if k not in NEW_COLUMNS} for r in after["api_tokens"]]
    assert kept == before["api_tokens"]
    assert {r["scope"] for r in after["api_tokens"]} == {"read"}
    con = sqlite3.connect(legacy)
    try:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert con.execute("pragma foreign_key_check").fetchall() == []
    finally:
        con.close()


def test_upgraded_legacy_file_works_for_its_users_and_tokens(legacy):
    upgrade(database(legacy))
    admin = users.authenticate(legacy, "admin@t1.test", LEGACY_PASSWORD)
    assert admin is not None and (admin.role, admin.tenant_id) == ("admin", "T1")
    assert users.authenticate(legacy, "gone@t2.test", LEGACY_PASSWORD) is None  # deactivated
    (row,) = [r for r in sqlite_rows(legacy, "api_tokens") if r["user_id"] == admin.id]
    assert row["token_hash"] == hashlib.sha256(LEGACY_SECRET.encode()).hexdigest()
    owner = tokens.verify_token(legacy, LEGACY_SECRET)
    assert owner is not None and owner.id == admin.id and owner.token_scope == "read"
    revoked = [r for r in sqlite_rows(legacy, "api_tokens") if r["revoked_at"]]
    assert len(revoked) == 1
    # new rows continue the old ids
    new_id = users.add_user(legacy, "new@t1.test", "finance", "T1", None, "a long new password")
    assert new_id == max(r["id"] for r in sqlite_rows(legacy, "users"))
    assert new_id == 7


def test_scope_is_checked_by_the_database(legacy):
    upgrade(database(legacy))
    con = sqlite3.connect(legacy)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(
                "insert into api_tokens (user_id, name, token_hash, prefix, created_at, scope)"
                " values (1, 'x', 'h', 'sc_', '2026', 'admin')"
            )
    finally:
        con.close()
    token_id, _ = tokens.create_token(legacy, "admin@t1.test", "writer", scope="write")
    (row,) = [r for r in sqlite_rows(legacy, "api_tokens") if r["id"] == token_id]
    assert row["scope"] == "write"
    with pytest.raises(Exception, match="unknown token scope"):
        tokens.create_token(legacy, "admin@t1.test", "bad", scope="admin")


def test_empty_database_is_migrated_on_first_use_to_the_models_schema(empty):
    db = database(empty)
    assert status(db) == "empty"
    schema.ensure_ready(empty)
    assert status(db) == "current" and schema.current(empty) == HEAD
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_revision_0002_gives_existing_tokens_the_read_scope(empty):
    db = database(empty)
    upgrade(db, "0001_initial")
    assert status(db) == "behind"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "insert into users (id, email, password_hash, role, tenant_id, active,"
                " session_version, created_at) values (1, 'a@t1.test', 'h', 'admin', 'T1', 1, 1,"
                " '2026-01-01T00:00:00+00:00')"
            )
        )
        conn.execute(
            text(
                "insert into api_tokens (id, user_id, name, token_hash, prefix, created_at)"
                " values (5, 1, 'old', 'abc', 'sc_abc', '2026-01-01T00:00:00+00:00')"
            )
        )
    with pytest.raises(SchemaError, match="behind .*selfcare db upgrade"):
        schema.ensure_ready(empty)
    assert upgrade(db) == ("0001_initial", HEAD)
    rows = raw_rows(empty, "select * from api_tokens")
    assert [(r["id"], r["name"], r["token_hash"], r["scope"]) for r in rows] == [
        (5, "old", "abc", "read")
    ]


def test_database_ahead_of_the_code_is_refused(empty):
    db = database(empty)
    upgrade(db)
    with db.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999_future'"))
    assert status(db) == "ahead"
    fresh = type(db)(db.url)  # a new handle: the check is cached per handle
    with pytest.raises(SchemaError, match="newer than this version"):
        fresh.ensure_schema()
    fresh.dispose()


def test_concurrent_writers_wait_instead_of_failing(tmp_path):
    """SQLite: reads-then-writes from many threads (token use, audit) all succeed."""
    db = tmp_path / "app.db"
    users.add_user(db, "a@t1.test", "admin", "T1", None, "a long enough password")
    _, secret = tokens.create_token(db, "a@t1.test", "load")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(10):
                assert tokens.verify_token(db, secret) is not None
                audit.audit(db, "login", email=f"t{i}@t1.test")
        except BaseException as e:  # noqa: BLE001 (collected and asserted below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    logins = [r for r in sqlite_rows(db, "audit") if r["event"] == "login"]
    assert len(logins) == 80


def test_revision_0006_keeps_notifications_and_adds_the_ticket_tables(empty):
    db = database(empty)
    upgrade(db, "0004_token_lifetimes")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "insert into users (id, email, password_hash, role, tenant_id, active,"
                " session_version, created_at) values (1, 'a@t1.test', 'h', 'admin', 'T1', 1, 1,"
                " '2026-01-01T00:00:00+00:00')"
            )
        )
        conn.execute(
            text(
                "insert into notifications (id, user_id, tenant_id, kind, text, created_at)"
                " values (3, 1, 'T1', 'approved', 'ORD-1 approved', '2026-01-02T00:00:00+00:00')"
            )
        )
    assert upgrade(db, "0006_tickets") == ("0004_token_lifetimes", "0006_tickets")
    rows = raw_rows(empty, "select * from notifications")
    assert [(r["id"], r["text"], r["ticket_id"]) for r in rows] == [(3, "ORD-1 approved", None)]
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "insert into tickets (id, reference, tenant_id, category, priority, subject,"
                " description, raiser_id, raiser_email, raiser_role, state, created_at,"
                " updated_at) values (1, 'TCK-000001', 'T1', 'fault', 'normal', 's', 'd', 1,"
                " 'a@t1.test', 'admin', 'new', '2026-01-03T00:00:00+00:00',"
                " '2026-01-03T00:00:00+00:00')"
            )
        )
    (ticket,) = raw_rows(empty, "select * from tickets")
    # the clock's counters start at zero without the services setting them
    counters = (ticket["pending_seconds"], ticket["resolved_seconds"], ticket["reopened_count"])
    assert counters == (0, 0, 0)
    with db.engine.begin() as conn:
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            with conn.begin_nested():
                conn.execute(
                    text(
                        "insert into tickets (id, reference, tenant_id, category, priority,"
                        " subject, description, raiser_id, raiser_email, raiser_role, state,"
                        " created_at, updated_at) values (2, 'TCK-000001', 'T2', 'fault',"
                        " 'normal', 's', 'd', 1, 'a@t1.test', 'admin', 'new', 'x', 'x')"
                    )
                )
