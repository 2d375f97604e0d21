"""The tokens service on SQLite and PostgreSQL: secrets stored only as SHA-256, use, revocation.
(Moved from test_store.py.)
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import hashlib

import pytest

from selfcare.services import ServiceError, tokens, users
from tests.pg_support import raw_rows

PASSWORD = "correct horse battery staple"


def test_token_is_stored_only_as_sha256(db):
    users.add_user(db, "a@t1.test", "finance", "T1", None, PASSWORD)
    token_id, secret = tokens.create_token(db, "a@t1.test", "nightly extract")
    assert len(secret) >= 43  # 32 random bytes, base64url
    (row,) = raw_rows(db, "select * from api_tokens")
    assert row["id"] == token_id
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    everything = " ".join(str(v) for v in row.values())
    assert secret not in everything
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < 12
    assert row["last_used_at"] is None and row["revoked_at"] is None


def test_token_verify_marks_use_and_revoke_ends_it(db):
    uid = users.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    token_id, secret = tokens.create_token(db, uid, "bi")
    user = tokens.verify_token(db, secret)
    assert (user.id, user.role, user.via_token) == (uid, "manager", True)
    (row,) = raw_rows(db, "select last_used_at from api_tokens")
    assert row["last_used_at"] is not None
    assert tokens.verify_token(db, secret + "x") is None
    assert tokens.verify_token(db, "") is None
    tokens.revoke_token(db, "a@t1.test", token_id)
    assert tokens.verify_token(db, secret) is None
    assert tokens.list_tokens(db, uid)[0]["revoked_at"] is not None


def test_token_of_someone_else_cannot_be_revoked(db):
    users.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    users.add_user(db, "b@t1.test", "admin", "T1", None, PASSWORD)
    token_id, secret = tokens.create_token(db, "a@t1.test", "mine")
    with pytest.raises(ServiceError, match="no such token"):
        tokens.revoke_token(db, "b@t1.test", token_id)
    assert tokens.verify_token(db, secret) is not None
    assert tokens.list_tokens(db, "b@t1.test") == []


def test_deactivated_owner_token_refused(db):
    users.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    _, secret = tokens.create_token(db, "a@t1.test", "mine")
    users.deactivate(db, "a@t1.test")
    assert tokens.verify_token(db, secret) is None
    with pytest.raises(ServiceError, match="deactivated"):
        tokens.create_token(db, "a@t1.test", "another")


def test_token_lives_its_lifetime_and_then_is_refused(db):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from selfcare.appdb import ApiTokenRecord, database

    uid = users.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    before = datetime.now(UTC)
    token_id, secret = tokens.create_token(db, uid, "bi")
    (listed,) = tokens.list_tokens(db, uid)
    expires = datetime.fromisoformat(listed["expires_at"])
    assert timedelta(days=90) - timedelta(seconds=5) <= expires - before <= timedelta(
        days=90, seconds=5)
    _, yearly = tokens.create_token(db, uid, "yearly", days=365)
    for days in (0, 366, -1, True, "30"):
        with pytest.raises(ServiceError, match="1 to 365 days"):
            tokens.create_token(db, uid, "bad", days=days)
    assert tokens.verify_token(db, secret) is not None
    past = (before - timedelta(seconds=1)).isoformat(timespec="seconds")
    with database(db).transaction() as session:
        session.execute(update(ApiTokenRecord).where(ApiTokenRecord.id == token_id)
                        .values(expires_at=past))
    assert tokens.verify_token(db, secret) is None  # expired: like an unknown token
    assert tokens.verify_token(db, yearly) is not None
