"""Tokens with a life (issue 13), on SQLite and PostgreSQL: revoked in the same transaction as the
owner's password change, deactivation or profile change (with an audit row); last use recorded
at most once a minute; an Administrator lists and revokes only their own tenant's tokens.

Checked against the raw rows, read with the database's own driver.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from selfcare.services import NotFound, ServiceError, tokens, users
from tests.pg_support import raw_rows

PASSWORD = "correct horse battery staple"


def token_row(db, token_id):
    (row,) = raw_rows(db, "select * from api_tokens where id = ?", (token_id,))
    return row


def audit_events(db, email):
    rows = raw_rows(db, "select event, detail from audit where email = ? order by id", (email,))
    return [(r["event"], r["detail"]) for r in rows]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(lambda db, e: users.set_password(db, e, "a new passphrase for me"),
                     "password changed", id="password"),
        pytest.param(lambda db, e: users.deactivate(db, e), "account deactivated",
                     id="deactivated"),
        pytest.param(lambda db, e: users.set_role(db, e, "end_user"), "profile changed",
                     id="profile"),
    ],
)
def test_tokens_die_with_a_password_deactivation_or_profile_change(db, change, reason):
    users.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    users.add_user(db, "b@t1.test", "manager", "T1", "E5", PASSWORD)
    one, s1 = tokens.create_token(db, "a@t1.test", "one")
    two, s2 = tokens.create_token(db, "a@t1.test", "two")
    others, s3 = tokens.create_token(db, "b@t1.test", "someone else's")
    tokens.revoke_token(db, "a@t1.test", two)
    revoked_before = token_row(db, two)["revoked_at"]
    change(db, "a@t1.test")
    assert token_row(db, one)["revoked_at"] is not None
    assert token_row(db, two)["revoked_at"] == revoked_before  # already revoked: kept as it was
    assert token_row(db, others)["revoked_at"] is None
    users.activate(db, "a@t1.test")  # reactivation does not bring a token back
    assert tokens.verify_token(db, s1) is None and tokens.verify_token(db, s2) is None
    assert tokens.verify_token(db, s3) is not None
    revoked = [d for e, d in audit_events(db, "a@t1.test") if e == "tokens_revoked"]
    assert revoked == [f"1 token(s): {reason}"]


def test_the_same_profile_again_keeps_the_tokens(db):
    users.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    token_id, secret = tokens.create_token(db, "a@t1.test", "bi")
    users.set_role(db, "a@t1.test", "manager")
    assert token_row(db, token_id)["revoked_at"] is None
    assert "tokens_revoked" not in [e for e, _ in audit_events(db, "a@t1.test")]


def test_last_use_is_written_at_most_once_a_minute(db):
    users.add_user(db, "a@t1.test", "finance", "T1", None, PASSWORD)
    token_id, secret = tokens.create_token(db, "a@t1.test", "bi")
    assert token_row(db, token_id)["last_used_at"] is None
    before = datetime.now(UTC).replace(microsecond=0)
    assert tokens.verify_token(db, secret) is not None
    first = token_row(db, token_id)["last_used_at"]
    assert datetime.fromisoformat(first) >= before
    # Pretend that use was 30 s ago: a use now is within the minute, so nothing is written.
    recent = (datetime.fromisoformat(first) - timedelta(seconds=30)).isoformat()
    raw_set_last_used(db, token_id, recent)
    assert tokens.verify_token(db, secret) is not None
    assert token_row(db, token_id)["last_used_at"] == recent
    # Two minutes ago: the next use is recorded.
    old = (datetime.fromisoformat(first) - timedelta(minutes=2)).isoformat()
    raw_set_last_used(db, token_id, old)
    assert tokens.verify_token(db, secret) is not None
    assert datetime.fromisoformat(token_row(db, token_id)["last_used_at"]) >= before


def raw_set_last_used(db, token_id, value):
    from sqlalchemy import update

    from selfcare.appdb import ApiTokenRecord, database

    with database(db).transaction() as session:
        session.execute(
            update(ApiTokenRecord).where(ApiTokenRecord.id == token_id).values(last_used_at=value)
        )


def test_an_administrator_lists_and_revokes_only_their_tenants_tokens(db):
    admin = users.get_user(db, users.add_user(db, "boss@t1.test", "admin", "T1", None, PASSWORD))
    users.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    users.add_user(db, "x@t2.test", "admin", "T2", None, PASSWORD)
    users.add_user(db, "ana@operator.test", "analyst", None, None, PASSWORD)
    mine, secret = tokens.create_token(db, "a@t1.test", "team extract")
    own, _ = tokens.create_token(db, "boss@t1.test", "admin's own")
    foreign, foreign_secret = tokens.create_token(db, "x@t2.test", "other tenant")
    analyst, _ = tokens.create_token(db, "ana@operator.test", "operator")
    expected = {
        r["id"]: r["email"]
        for r in raw_rows(
            db,
            "select t.id, u.email from api_tokens t join users u on u.id = t.user_id"
            " where u.tenant_id = ?",
            ("T1",),
        )
    }
    listed = tokens.tenant_tokens(db, admin)
    assert {t["id"]: t["owner"] for t in listed} == expected == {
        mine: "a@t1.test", own: "boss@t1.test"}
    assert [t["id"] for t in listed] == sorted(expected, reverse=True)
    for token_id in (foreign, analyst, 10**9, "x", None):
        with pytest.raises(NotFound, match="No such token in your organisation"):
            tokens.revoke_by_admin(db, admin, token_id)
    assert token_row(db, foreign)["revoked_at"] is None
    assert tokens.verify_token(db, foreign_secret) is not None
    message = tokens.revoke_by_admin(db, admin, mine, ip="10.0.0.9")
    assert "revoked" in message and "a@t1.test" in message
    assert token_row(db, mine)["revoked_at"] is not None
    assert tokens.verify_token(db, secret) is None
    (row,) = raw_rows(db, "select * from audit where event = 'admin_token_revoked'")
    assert row["email"] == "boss@t1.test" and row["ip"] == "10.0.0.9"
    assert f"token {mine}" in row["detail"] and "a@t1.test" in row["detail"]
    assert "already revoked" in tokens.revoke_by_admin(db, admin, mine)


def test_only_an_administrator_sees_the_tenants_tokens(db):
    manager = users.get_user(db, users.add_user(db, "m@t1.test", "manager", "T1", "E4", PASSWORD))
    tokens.create_token(db, "m@t1.test", "mine")
    with pytest.raises(ServiceError, match="only an administrator"):
        tokens.tenant_tokens(db, manager)
    with pytest.raises(ServiceError, match="only an administrator"):
        tokens.revoke_by_admin(db, manager, 1)
