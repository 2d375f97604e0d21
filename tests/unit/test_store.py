"""The portal's SQLite store: users, password hashing, sessions versions, API tokens, audit.

Checked against the raw database file and independent computations (hashlib, argon2's own hash
format), never against the store's own read functions alone.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import base64
import hashlib
import sqlite3
import stat

import pytest
from argon2 import PasswordHasher

from selfcare import store

PASSWORD = "correct horse battery staple"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "state" / "app.db"


def raw_rows(db, sql, params=()):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


def parse_argon2(encoded: str) -> dict[str, object]:
    # $argon2id$v=19$m=32768,t=3,p=1$<salt>$<hash>
    _, variant, version, params, salt, digest = encoded.split("$")
    fields = dict(kv.split("=") for kv in params.split(","))
    return {
        "variant": variant,
        "version": int(version.split("=")[1]),
        "m": int(fields["m"]),
        "t": int(fields["t"]),
        "p": int(fields["p"]),
        "salt_len": len(base64.b64decode(salt + "=" * (-len(salt) % 4))),
    }


def test_password_stored_only_as_argon2id_at_owasp_minimum_or_above(db):
    store.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    (row,) = raw_rows(db, "select * from users")
    assert PASSWORD not in " ".join(str(v) for v in row.values())
    params = parse_argon2(row["password_hash"])
    assert params["variant"] == "argon2id"
    assert params["version"] == 19
    assert params["m"] >= 19 * 1024  # KiB: 19 MiB
    assert params["t"] >= 2
    assert params["p"] == 1
    assert params["salt_len"] >= 16
    # the stored hash verifies with an independent argon2 verifier
    assert PasswordHasher().verify(row["password_hash"], PASSWORD)


def test_two_users_with_same_password_get_different_hashes(db):
    store.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    store.add_user(db, "b@t1.test", "admin", "T1", "E2", PASSWORD)
    hashes = {r["password_hash"] for r in raw_rows(db, "select password_hash from users")}
    assert len(hashes) == 2


def test_email_is_unique_case_insensitively(db):
    store.add_user(db, "Alice@T1.test", "finance", "T1", "E1", PASSWORD)
    with pytest.raises(store.StoreError, match="already exists"):
        store.add_user(db, "alice@t1.TEST", "admin", "T1", "E2", PASSWORD)
    assert [r["email"] for r in raw_rows(db, "select email from users")] == ["alice@t1.test"]
    assert store.authenticate(db, "ALICE@t1.test", PASSWORD) is not None


@pytest.mark.parametrize(
    ("role", "tenant"),
    [
        pytest.param("analyst", "T1", id="analyst-with-tenant"),
        pytest.param("admin", None, id="admin-without-tenant"),
        pytest.param("end_user", "", id="end-user-empty-tenant"),
        pytest.param("superuser", "T1", id="unknown-role"),
    ],
)
def test_invalid_role_tenant_combinations_are_refused(db, role, tenant):
    store.init_db(db)
    with pytest.raises(store.StoreError):
        store.add_user(db, "x@t1.test", role, tenant, None, PASSWORD)
    assert raw_rows(db, "select * from users") == []


def test_short_password_refused(db):
    with pytest.raises(store.StoreError, match="at least"):
        store.add_user(db, "x@t1.test", "admin", "T1", None, "short")


def test_authenticate_wrong_unknown_and_deactivated(db):
    uid = store.add_user(db, "a@t1.test", "manager", "T1", "E7", PASSWORD)
    user = store.authenticate(db, "a@t1.test", PASSWORD)
    assert (user.id, user.role, user.tenant_id, user.employee_id) == (uid, "manager", "T1", "E7")
    assert store.authenticate(db, "a@t1.test", PASSWORD + "!") is None
    assert store.authenticate(db, "nobody@t1.test", PASSWORD) is None
    assert store.authenticate(db, "not an email", PASSWORD) is None
    store.deactivate(db, "a@t1.test")
    assert store.authenticate(db, "a@t1.test", PASSWORD) is None


def test_session_version_moves_on_password_change_deactivation_and_logout(db):
    uid = store.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)

    def version():
        return raw_rows(db, "select session_version from users where id = ?", (uid,))[0][
            "session_version"
        ]

    v0 = version()
    assert store.load_session_user(db, f"{uid}:{v0}") is not None
    store.set_password(db, "a@t1.test", "another long password")
    assert version() == v0 + 1
    assert store.load_session_user(db, f"{uid}:{v0}") is None
    store.end_sessions(db, uid)
    assert version() == v0 + 2
    assert store.load_session_user(db, f"{uid}:{v0 + 2}") is not None
    store.deactivate(db, uid)
    assert store.load_session_user(db, f"{uid}:{version()}") is None
    for bad in ("", "1", "x:1", f"{uid}:", f"{uid}:{v0}:9"):
        assert store.load_session_user(db, bad) is None


def test_set_role_validates_and_moves_tenancy(db):
    store.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    store.set_role(db, "a@t1.test", "analyst")
    (row,) = raw_rows(db, "select role, tenant_id, employee_id from users")
    assert row == {"role": "analyst", "tenant_id": None, "employee_id": None}
    with pytest.raises(store.StoreError, match="needs a tenant"):
        store.set_role(db, "a@t1.test", "finance")
    store.set_role(db, "a@t1.test", "finance", tenant_id="T2")
    (row,) = raw_rows(db, "select role, tenant_id from users")
    assert row == {"role": "finance", "tenant_id": "T2"}
    with pytest.raises(store.StoreError, match="no such user"):
        store.set_role(db, "ghost@t1.test", "admin")


def test_token_is_stored_only_as_sha256(db):
    store.add_user(db, "a@t1.test", "finance", "T1", None, PASSWORD)
    token_id, secret = store.create_token(db, "a@t1.test", "nightly extract")
    assert len(secret) >= 43  # 32 random bytes, base64url
    (row,) = raw_rows(db, "select * from api_tokens")
    assert row["id"] == token_id
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    everything = " ".join(str(v) for v in row.values())
    assert secret not in everything
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < 12
    assert row["last_used_at"] is None and row["revoked_at"] is None


def test_token_verify_marks_use_and_revoke_ends_it(db):
    uid = store.add_user(db, "a@t1.test", "manager", "T1", "E4", PASSWORD)
    token_id, secret = store.create_token(db, uid, "bi")
    user = store.verify_token(db, secret)
    assert (user.id, user.role, user.via_token) == (uid, "manager", True)
    (row,) = raw_rows(db, "select last_used_at from api_tokens")
    assert row["last_used_at"] is not None
    assert store.verify_token(db, secret + "x") is None
    assert store.verify_token(db, "") is None
    store.revoke_token(db, "a@t1.test", token_id)
    assert store.verify_token(db, secret) is None
    assert store.list_tokens(db, uid)[0]["revoked_at"] is not None


def test_token_of_someone_else_cannot_be_revoked(db):
    store.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    store.add_user(db, "b@t1.test", "admin", "T1", None, PASSWORD)
    token_id, secret = store.create_token(db, "a@t1.test", "mine")
    with pytest.raises(store.StoreError, match="no such token"):
        store.revoke_token(db, "b@t1.test", token_id)
    assert store.verify_token(db, secret) is not None
    assert store.list_tokens(db, "b@t1.test") == []


def test_deactivated_owner_token_refused(db):
    store.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    _, secret = store.create_token(db, "a@t1.test", "mine")
    store.deactivate(db, "a@t1.test")
    assert store.verify_token(db, secret) is None
    with pytest.raises(store.StoreError, match="deactivated"):
        store.create_token(db, "a@t1.test", "another")


def test_audit_rows_for_user_management(db):
    store.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    store.set_role(db, "a@t1.test", "finance")
    store.set_password(db, "a@t1.test", "another long password")
    store.deactivate(db, "a@t1.test")
    store.audit(db, "login_failed", email="a@t1.test", ip="10.0.0.9")
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
    store.init_db(db)
    mode = stat.S_IMODE(db.stat().st_mode)
    assert mode & 0o077 == 0


def test_upsert_user_resets_password_and_sessions(db):
    uid = store.upsert_user(db, "demo@t1.test", "end_user", "T1", "E9", PASSWORD)
    assert store.upsert_user(db, "DEMO@t1.test", "manager", "T1", "E9", "new password 123") == uid
    assert store.authenticate(db, "demo@t1.test", PASSWORD) is None
    assert store.authenticate(db, "demo@t1.test", "new password 123").role == "manager"
    assert store.load_session_user(db, f"{uid}:1") is None


def test_list_users_shape_used_by_cli(db):
    store.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    store.add_user(db, "z@op.test", "analyst", None, None, PASSWORD)
    rows = store.list_users(db)
    assert [(r["email"], r["role"], r["tenant_id"], r["active"]) for r in rows] == [
        ("a@t1.test", "admin", "T1", True),
        ("z@op.test", "analyst", None, True),
    ]
    assert all("password_hash" not in r for r in rows)
