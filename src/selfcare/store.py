"""The portal's own state in SQLite: users, the audit log and personal API tokens.

Plain functions over a database path, so the web app, the CLI (`selfcare users|tokens`) and tests
share one implementation. A connection per call (SQLite connections are cheap and not shareable
across threads); WAL so the audit writes of one request do not block another's reads.

Passwords are stored only as argon2id hashes above OWASP's minimum cost. API token secrets are
32 random bytes, stored only as their SHA-256 (a fast hash is right for a high-entropy secret; a
slow one is for guessable passwords). Every user carries a `session_version`: logging out, changing
the password or deactivating bumps it, and a session cookie carrying an older version is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from selfcare.roles import ROLE_NAMES, ROLES, TENANT_ROLES  # noqa: F401 (re-exported)

MIN_PASSWORD = 12
# argon2 hashes any length in one pass, but a megabyte "password" is a cheap way to burn CPU.
MAX_PASSWORD = 1024

# OWASP Password Storage Cheat Sheet: argon2id, m >= 19 MiB, t >= 2, p = 1. We sit above it
# (32 MiB, t = 3: about 55 ms on the 2-core target machine).
ARGON2_MEMORY_KIB = 32 * 1024
ARGON2_TIME_COST = 3
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    type=Type.ID,
)

TOKEN_PREFIX = "sc_"  # noqa: S105 (a marker in front of every token secret)
TOKEN_BYTES = 32

SCHEMA = """
create table if not exists users (
    id integer primary key,
    email text not null collate nocase unique,
    password_hash text not null,
    role text not null,
    tenant_id text,
    employee_id text,
    active integer not null default 1,
    session_version integer not null default 1,
    created_at text not null
);
create table if not exists audit (
    id integer primary key,
    ts text not null,
    event text not null,
    email text,
    user_id integer,
    ip text,
    detail text
);
create index if not exists audit_ts on audit (ts);
create table if not exists api_tokens (
    id integer primary key,
    user_id integer not null references users (id),
    name text not null,
    token_hash text not null unique,
    prefix text not null,
    created_at text not null,
    last_used_at text,
    revoked_at text
);
create index if not exists api_tokens_user on api_tokens (user_id);
"""


class StoreError(ValueError):
    """A request the store refuses: bad role/tenant combination, unknown user, weak password."""


@dataclass(frozen=True)
class User:
    """A signed-in (or token-authenticated) user, freshly read from SQLite.

    Has the attributes flask-login needs, without importing it (the CLI uses this module too).
    `get_id()` carries the session version, so an older session cookie no longer loads a user.
    """

    id: int
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    active: bool
    session_version: int
    via_token: bool = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- connections ------------------------------------------------------------------------------


def _ensure_file(db: Path) -> None:
    """Create the database file readable by its owner only: it holds the password hashes."""
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        fd = os.open(db, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


@lru_cache(maxsize=64)
def _initialised(db: str, inode: int) -> bool:
    """Create the schema once per file per process (keyed by inode: a test may recreate it)."""
    del inode
    con = sqlite3.connect(db, timeout=30)
    try:
        con.execute("pragma journal_mode = wal")
        con.executescript(SCHEMA)
        con.commit()
    finally:
        con.close()
    return True


@contextlib.contextmanager
def connect(db: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A connection in a transaction: committed on success, rolled back on error, then closed."""
    path = Path(db)
    _ensure_file(path)
    _initialised(str(path.resolve()), path.stat().st_ino)
    con = sqlite3.connect(path, timeout=30)
    con.row_factory = sqlite3.Row
    con.execute("pragma foreign_keys = on")
    try:
        with con:
            yield con
    finally:
        con.close()


def init_db(db: str | os.PathLike[str]) -> None:
    with connect(db):
        pass


# --- validation -------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise StoreError(f"not an email address: {email!r}")
    return email


def check_role(role: str, tenant_id: str | None) -> None:
    """The analyst sees aggregates across tenants and has no tenant; everyone else needs one."""
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "analyst" and tenant_id:
        raise StoreError("an analyst works across tenants and cannot belong to one")
    if role != "analyst" and not tenant_id:
        raise StoreError(f"a {role} user needs a tenant")


def check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise StoreError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise StoreError(f"a password may have at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    check_password(password)
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verifying unknown emails against a real hash of the same cost makes "no such user" take as
    # long as "wrong password", so response times do not reveal which emails exist.
    return _hasher.hash(secrets.token_urlsafe(24))


def _user(row: sqlite3.Row | None, via_token: bool = False) -> User | None:
    if row is None:
        return None
    return User(
        id=int(row["id"]),
        email=row["email"],
        role=row["role"],
        tenant_id=row["tenant_id"],
        employee_id=row["employee_id"],
        active=bool(row["active"]),
        session_version=int(row["session_version"]),
        via_token=via_token,
    )


def _user_row(con: sqlite3.Connection, who: str | int) -> sqlite3.Row:
    """A user by id (int or digits) or email; StoreError if there is none."""
    if isinstance(who, int) or (isinstance(who, str) and who.isdigit()):
        row = con.execute("select * from users where id = ?", (int(who),)).fetchone()
    else:
        row = con.execute(
            "select * from users where email = ?", (normalise_email(str(who)),)
        ).fetchone()
    if row is None:
        raise StoreError(f"no such user: {who}")
    return row


# --- users ------------------------------------------------------------------------------------


def add_user(
    db: str | os.PathLike[str],
    email: str,
    role: str,
    tenant_id: str | None = None,
    employee_id: str | None = None,
    password: str = "",
) -> int:
    """Create a user; returns its id. The email must be new (case-insensitively)."""
    email = normalise_email(email)
    tenant_id = tenant_id or None
    employee_id = employee_id or None
    check_role(role, tenant_id)
    if role == "analyst" and employee_id:
        raise StoreError("an analyst is not linked to a tenant's employee")
    password_hash = hash_password(password)
    with connect(db) as con:
        try:
            cur = con.execute(
                "insert into users (email, password_hash, role, tenant_id, employee_id, active,"
                " session_version, created_at) values (?, ?, ?, ?, ?, 1, 1, ?)",
                (email, password_hash, role, tenant_id, employee_id, now()),
            )
        except sqlite3.IntegrityError as e:
            raise StoreError(f"a user with email {email} already exists") from e
        user_id = int(cur.lastrowid)
        _audit(con, "user_added", email, user_id, None, f"role={role} tenant={tenant_id or '-'}")
    return user_id


def upsert_user(
    db: str | os.PathLike[str],
    email: str,
    role: str,
    tenant_id: str | None,
    employee_id: str | None,
    password: str,
) -> int:
    """Create the user or reset an existing one (role, tenant, employee, password; re-activated).

    Used by the demo, which hands out fresh passwords on every run; old sessions end.
    """
    email = normalise_email(email)
    tenant_id = tenant_id or None
    employee_id = employee_id or None
    check_role(role, tenant_id)
    password_hash = hash_password(password)
    with connect(db) as con:
        row = con.execute("select id from users where email = ?", (email,)).fetchone()
        if row is None:
            cur = con.execute(
                "insert into users (email, password_hash, role, tenant_id, employee_id, active,"
                " session_version, created_at) values (?, ?, ?, ?, ?, 1, 1, ?)",
                (email, password_hash, role, tenant_id, employee_id, now()),
            )
            user_id = int(cur.lastrowid)
            _audit(con, "user_added", email, user_id, None, f"role={role}")
        else:
            user_id = int(row["id"])
            con.execute(
                "update users set password_hash = ?, role = ?, tenant_id = ?, employee_id = ?,"
                " active = 1, session_version = session_version + 1 where id = ?",
                (password_hash, role, tenant_id, employee_id, user_id),
            )
            _audit(con, "user_reset", email, user_id, None, f"role={role}")
    return user_id


def get_user(db: str | os.PathLike[str], user_id: int) -> User | None:
    with connect(db) as con:
        return _user(con.execute("select * from users where id = ?", (int(user_id),)).fetchone())


def find_user(db: str | os.PathLike[str], email: str) -> User | None:
    try:
        email = normalise_email(email)
    except StoreError:
        return None
    with connect(db) as con:
        return _user(con.execute("select * from users where email = ?", (email,)).fetchone())


def list_users(db: str | os.PathLike[str], tenant_id: str | None = None) -> list[dict[str, Any]]:
    """Every user, or with `tenant_id` only that tenant's (an administrator's own users)."""
    sql = "select id, email, role, tenant_id, employee_id, active, created_at from users"
    with connect(db) as con:
        if tenant_id is None:
            rows = con.execute(sql + " order by id").fetchall()
        else:
            rows = con.execute(sql + " where tenant_id = ? order by id", (tenant_id,)).fetchall()
    return [dict(r) | {"active": bool(r["active"])} for r in rows]


def set_role(
    db: str | os.PathLike[str], email: str | int, role: str, tenant_id: str | None = None
) -> None:
    """Change a user's profile; it applies on their next request (users are reloaded per request).

    `tenant_id` is needed only when the new role changes tenancy (analyst <-> tenant profile):
    becoming an analyst clears tenant and employee; leaving it needs a tenant.
    """
    with connect(db) as con:
        row = _user_row(con, email)
        if role == "analyst":
            if tenant_id:
                raise StoreError("an analyst works across tenants and cannot belong to one")
            new_tenant, new_employee = None, None
        else:
            new_tenant = tenant_id or row["tenant_id"]
            new_employee = row["employee_id"] if new_tenant == row["tenant_id"] else None
        check_role(role, new_tenant)
        con.execute(
            "update users set role = ?, tenant_id = ?, employee_id = ? where id = ?",
            (role, new_tenant, new_employee, row["id"]),
        )
        _audit(con, "role_changed", row["email"], row["id"], None, f"{row['role']} -> {role}")


def deactivate(db: str | os.PathLike[str], email: str | int) -> None:
    """Deactivate: every session and token of the user stops working on the next request."""
    with connect(db) as con:
        row = _user_row(con, email)
        con.execute(
            "update users set active = 0, session_version = session_version + 1 where id = ?",
            (row["id"],),
        )
        _audit(con, "deactivated", row["email"], row["id"], None, None)


def activate(db: str | os.PathLike[str], email: str | int) -> None:
    with connect(db) as con:
        row = _user_row(con, email)
        con.execute("update users set active = 1 where id = ?", (row["id"],))
        _audit(con, "activated", row["email"], row["id"], None, None)


def set_password(db: str | os.PathLike[str], email: str | int, password: str) -> None:
    """Set a new password and end every existing session of the user."""
    password_hash = hash_password(password)
    with connect(db) as con:
        row = _user_row(con, email)
        con.execute(
            "update users set password_hash = ?, session_version = session_version + 1"
            " where id = ?",
            (password_hash, row["id"]),
        )
        _audit(con, "password_changed", row["email"], row["id"], None, None)


def end_sessions(db: str | os.PathLike[str], user_id: int) -> None:
    """Invalidate every session cookie the user holds (logout)."""
    with connect(db) as con:
        con.execute(
            "update users set session_version = session_version + 1 where id = ?", (user_id,)
        )


def load_session_user(db: str | os.PathLike[str], session_id: str) -> User | None:
    """The user behind a session's id ("<user id>:<session version>"), if still valid."""
    user_id, sep, version = str(session_id).partition(":")
    if not sep or not user_id.isdigit() or not version.isdigit():
        return None
    user = get_user(db, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    if user.role not in ROLES:
        return None
    return user


def authenticate(db: str | os.PathLike[str], email: str, password: str) -> User | None:
    """The active user with this email and password, or None; same work whether or not the
    email exists. Upgrades the stored hash when the cost parameters have been raised."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        password = ""
    try:
        email = normalise_email(email)
    except StoreError:
        email = ""
    with connect(db) as con:
        row = (
            con.execute("select * from users where email = ?", (email,)).fetchone()
            if (email)
            else None
        )
    stored = row["password_hash"] if row is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
        ok = row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row["active"]:
        return None
    if _hasher.check_needs_rehash(stored):
        with connect(db) as con:
            con.execute(
                "update users set password_hash = ? where id = ?",
                (_hasher.hash(password), row["id"]),
            )
    return _user(row)


# --- audit ------------------------------------------------------------------------------------


def _audit(
    con: sqlite3.Connection,
    event: str,
    email: str | None,
    user_id: int | None,
    ip: str | None,
    detail: str | None,
) -> None:
    con.execute(
        "insert into audit (ts, event, email, user_id, ip, detail) values (?, ?, ?, ?, ?, ?)",
        (now(), event, (email or "")[:254] or None, user_id, ip, (detail or "")[:500] or None),
    )


def audit(
    db: str | os.PathLike[str],
    event: str,
    email: str | None = None,
    user_id: int | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Append an audit row (login, login_failed, logout, throttled, token_*, ...)."""
    with connect(db) as con:
        _audit(con, event, email, user_id, ip, detail)


def list_audit(db: str | os.PathLike[str], limit: int = 1000) -> list[dict[str, Any]]:
    with connect(db) as con:
        rows = con.execute(
            "select ts, event, email, user_id, ip, detail from audit order by id desc limit ?",
            (limit,),
        ).fetchall()
    return [dict(r) for r in rows]


# --- API tokens -------------------------------------------------------------------------------


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(db: str | os.PathLike[str], user: str | int, name: str) -> tuple[int, str]:
    """A new read-only API token for the user; returns (token id, secret). The secret is shown
    once: only its SHA-256 is stored."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise StoreError("a token needs a name of 1 to 80 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with connect(db) as con:
        row = _user_row(con, user)
        if not row["active"]:
            raise StoreError(f"user {row['email']} is deactivated")
        cur = con.execute(
            "insert into api_tokens (user_id, name, token_hash, prefix, created_at)"
            " values (?, ?, ?, ?, ?)",
            (row["id"], name, token_hash(secret), secret[: len(TOKEN_PREFIX) + 6], now()),
        )
        token_id = int(cur.lastrowid)
        _audit(con, "token_created", row["email"], row["id"], None, f"token {token_id}: {name}")
    return token_id, secret


def list_tokens(db: str | os.PathLike[str], user: str | int) -> list[dict[str, Any]]:
    with connect(db) as con:
        row = _user_row(con, user)
        rows = con.execute(
            "select id, name, prefix, created_at, last_used_at, revoked_at from api_tokens"
            " where user_id = ? order by id",
            (row["id"],),
        ).fetchall()
    return [dict(r) for r in rows]


def revoke_token(db: str | os.PathLike[str], user: str | int, token_id: int) -> None:
    """Revoke one of the user's own tokens (a token of someone else is 'no such token')."""
    with connect(db) as con:
        row = _user_row(con, user)
        cur = con.execute(
            "update api_tokens set revoked_at = coalesce(revoked_at, ?)"
            " where id = ? and user_id = ?",
            (now(), int(token_id), row["id"]),
        )
        if cur.rowcount == 0:
            raise StoreError(f"no such token: {token_id}")
        _audit(con, "token_revoked", row["email"], row["id"], None, f"token {token_id}")


def verify_token(db: str | os.PathLike[str], secret: str) -> User | None:
    """The owner of a live token (not revoked, owner active), marking it used; else None."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with connect(db) as con:
        row = con.execute(
            "select t.id as token_id, t.revoked_at, u.* from api_tokens as t"
            " join users as u on u.id = t.user_id where t.token_hash = ?",
            (token_hash(secret),),
        ).fetchone()
        if row is None or row["revoked_at"] is not None or not row["active"]:
            return None
        if row["role"] not in ROLES:
            return None
        con.execute("update api_tokens set last_used_at = ? where id = ?", (now(), row["token_id"]))
    return _user(row, via_token=True)
