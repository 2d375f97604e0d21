"""The users service on SQLite and PostgreSQL: password hashing, uniqueness, profiles, session
versions.

Checked against the raw database and independent computations (argon2's own hash format and
verifier), never against the services' own read functions alone. (Moved from test_store.py.)
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import base64

import pytest
from argon2 import PasswordHasher

from selfcare.services import ServiceError, schema, users
from tests.pg_support import raw_rows

PASSWORD = "correct horse battery staple"


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
    users.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
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
    users.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    users.add_user(db, "b@t1.test", "admin", "T1", "E2", PASSWORD)
    hashes = {r["password_hash"] for r in raw_rows(db, "select password_hash from users")}
    assert len(hashes) == 2


def test_email_is_unique_case_insensitively(db):
    users.add_user(db, "Alice@T1.test", "finance", "T1", "E1", PASSWORD)
    with pytest.raises(ServiceError, match="already exists"):
        users.add_user(db, "alice@t1.TEST", "admin", "T1", "E2", PASSWORD)
    assert [r["email"] for r in raw_rows(db, "select email from users")] == ["alice@t1.test"]
    assert users.authenticate(db, "ALICE@t1.test", PASSWORD) is not None


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
    schema.ensure_ready(db)
    with pytest.raises(ServiceError):
        users.add_user(db, "x@t1.test", role, tenant, None, PASSWORD)
    assert raw_rows(db, "select * from users") == []


def test_short_password_refused(db):
    with pytest.raises(ServiceError, match="at least"):
        users.add_user(db, "x@t1.test", "admin", "T1", None, "short")


def test_authenticate_wrong_unknown_and_deactivated(db):
    uid = users.add_user(db, "a@t1.test", "manager", "T1", "E7", PASSWORD)
    user = users.authenticate(db, "a@t1.test", PASSWORD)
    assert (user.id, user.role, user.tenant_id, user.employee_id) == (uid, "manager", "T1", "E7")
    assert users.authenticate(db, "a@t1.test", PASSWORD + "!") is None
    assert users.authenticate(db, "nobody@t1.test", PASSWORD) is None
    assert users.authenticate(db, "not an email", PASSWORD) is None
    users.deactivate(db, "a@t1.test")
    assert users.authenticate(db, "a@t1.test", PASSWORD) is None


def test_session_version_moves_on_password_change_deactivation_and_logout(db):
    uid = users.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)

    def version():
        return raw_rows(db, "select session_version from users where id = ?", (uid,))[0][
            "session_version"
        ]

    v0 = version()
    assert users.load_session_user(db, f"{uid}:{v0}") is not None
    users.set_password(db, "a@t1.test", "another long password")
    assert version() == v0 + 1
    assert users.load_session_user(db, f"{uid}:{v0}") is None
    users.end_sessions(db, uid)
    assert version() == v0 + 2
    assert users.load_session_user(db, f"{uid}:{v0 + 2}") is not None
    users.deactivate(db, uid)
    assert users.load_session_user(db, f"{uid}:{version()}") is None
    for bad in ("", "1", "x:1", f"{uid}:", f"{uid}:{v0}:9"):
        assert users.load_session_user(db, bad) is None


def test_set_role_validates_and_moves_tenancy(db):
    users.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    users.set_role(db, "a@t1.test", "analyst")
    (row,) = raw_rows(db, "select role, tenant_id, employee_id from users")
    assert row == {"role": "analyst", "tenant_id": None, "employee_id": None}
    with pytest.raises(ServiceError, match="needs a tenant"):
        users.set_role(db, "a@t1.test", "finance")
    users.set_role(db, "a@t1.test", "finance", tenant_id="T2")
    (row,) = raw_rows(db, "select role, tenant_id from users")
    assert row == {"role": "finance", "tenant_id": "T2"}
    with pytest.raises(ServiceError, match="no such user"):
        users.set_role(db, "ghost@t1.test", "admin")


def test_upsert_user_resets_password_and_sessions(db):
    uid = users.upsert_user(db, "demo@t1.test", "end_user", "T1", "E9", PASSWORD)
    assert users.upsert_user(db, "DEMO@t1.test", "manager", "T1", "E9", "new password 123") == uid
    assert users.authenticate(db, "demo@t1.test", PASSWORD) is None
    assert users.authenticate(db, "demo@t1.test", "new password 123").role == "manager"
    assert users.load_session_user(db, f"{uid}:1") is None


def test_list_users_shape_used_by_cli(db):
    users.add_user(db, "a@t1.test", "admin", "T1", "E1", PASSWORD)
    users.add_user(db, "z@op.test", "analyst", None, None, PASSWORD)
    rows = users.list_users(db)
    assert [(r["email"], r["role"], r["tenant_id"], r["active"]) for r in rows] == [
        ("a@t1.test", "admin", "T1", True),
        ("z@op.test", "analyst", None, True),
    ]
    assert all("password_hash" not in r for r in rows)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("x@t1.test", "aaaaaaaaaaaa", id="repeated-12"),
        pytest.param("x@t1.test", "password1234", id="common"),
        pytest.param("x@t1.test", "qwertyuiop12", id="keyboard-walk"),
    ],
)
def test_guessable_password_refused_with_zxcvbns_advice(db, email, password):
    """Issue 13: any 12 characters used to do. zxcvbn (the library itself, not our wrapper) is the
    independent judge here: the refusal carries its warning and first suggestion."""
    from zxcvbn import zxcvbn

    judged = zxcvbn(password, user_inputs=[email, email.split("@")[0], "ana", "silva"])
    assert judged["score"] < users.MIN_PASSWORD_SCORE
    with pytest.raises(ServiceError, match="too easy to guess") as refused:
        users.add_user(db, email, "admin", "T1", None, password)
    hints = [judged["feedback"]["warning"], *judged["feedback"]["suggestions"]]
    assert any(h and h.rstrip(".") in str(refused.value) for h in hints)
    assert users.find_user(db, email) is None


def test_strong_passwords_and_the_length_limits(db):
    uid = users.add_user(db, "a@t1.test", "admin", "T1", None, PASSWORD)
    long_one = "Zebra-" + "x7Kq!" * 203  # 1021 characters: judged by its first 72
    users.set_password(db, uid, long_one)
    assert users.authenticate(db, "a@t1.test", long_one) is not None
    with pytest.raises(ServiceError, match="at most 1024"):
        users.set_password(db, uid, long_one + "abcd")
    with pytest.raises(ServiceError, match="too easy to guess"):
        users.set_password(db, uid, "a@t1.test" + "123")  # the user's own email
    assert users.authenticate(db, "a@t1.test", long_one) is not None  # unchanged by refusals
