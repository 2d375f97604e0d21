"""Personal API tokens for the CSV export API (`Authorization: Bearer <secret>` on /export/*).

A token acts only as its owner (re-read on every use; a deactivated owner's tokens stop
working). Secrets are 32 random bytes, stored only as their SHA-256 (a fast hash is right for a
high-entropy secret; a slow one is for guessable passwords). Every token has a scope: `read`,
the only kind handed out today (the export API is read-only), or `write` for later workflows.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from selfcare.appdb import ApiTokenRecord, Database, UserRecord, database
from selfcare.appdb.models import TOKEN_SCOPES
from selfcare.roles import ROLES
from selfcare.services.audit import now, record
from selfcare.services.errors import NotFound, ServiceError
from selfcare.services.users import User, to_user, user_row

DbLike = Database | str | os.PathLike[str]

TOKEN_PREFIX = "sc_"  # noqa: S105 (a marker in front of every token secret)
TOKEN_BYTES = 32
# A token stops working after its lifetime (chosen at creation, at most a year): a secret that
# leaked into a script or a log does not stay valid for ever. Migration 0004 gave older tokens
# the default, counted from the upgrade.
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365
READ, WRITE = TOKEN_SCOPES


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(db: DbLike, user: str | int, name: str, scope: str = READ,
                 days: int = DEFAULT_LIFETIME_DAYS) -> tuple[int, str]:
    """A new API token for the user (read-only unless `scope="write"`), valid for `days` (1 to
    365); returns (token id, secret). The secret is shown once: only its SHA-256 is stored."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LIFETIME_DAYS:
        raise ServiceError(f"a token lives 1 to {MAX_LIFETIME_DAYS} days")
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ServiceError("a token needs a name of 1 to 80 characters")
    if scope not in TOKEN_SCOPES:
        raise ServiceError(f"unknown token scope {scope!r}; one of {', '.join(TOKEN_SCOPES)}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with database(db).transaction() as session:
        owner = user_row(session, user)
        if not owner.active:
            raise ServiceError(f"user {owner.email} is deactivated")
        row = ApiTokenRecord(
            user_id=owner.id,
            name=name,
            token_hash=token_hash(secret),
            prefix=secret[: len(TOKEN_PREFIX) + 6],
            created_at=now(),
            scope=scope,
            expires_at=(datetime.now(UTC) + timedelta(days=days)).isoformat(timespec="seconds"),
        )
        session.add(row)
        session.flush()
        detail = f"token {row.id}: {name}" + ("" if scope == READ else f" scope={scope}")
        record(session, "token_created", owner.email, owner.id, None, detail)
        return int(row.id), secret


def list_tokens(db: DbLike, user: str | int) -> list[dict[str, Any]]:
    with database(db).transaction(readonly=True) as session:
        owner = user_row(session, user)
        rows = session.scalars(
            select(ApiTokenRecord)
            .where(ApiTokenRecord.user_id == owner.id)
            .order_by(ApiTokenRecord.id)
        )
        return [
            {
                "id": int(t.id),
                "name": t.name,
                "prefix": t.prefix,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
                "scope": t.scope,
                "expires_at": t.expires_at,
            }
            for t in rows
        ]


def revoke_token(db: DbLike, user: str | int, token_id: int) -> None:
    """Revoke one of the user's own tokens (a token of someone else is 'no such token')."""
    with database(db).transaction() as session:
        owner = user_row(session, user)
        token = session.get(ApiTokenRecord, int(token_id))
        if token is None or token.user_id != owner.id:
            raise NotFound(f"no such token: {token_id}")
        token.revoked_at = token.revoked_at or now()
        record(session, "token_revoked", owner.email, owner.id, None, f"token {token_id}")


def verify_token(db: DbLike, secret: str) -> User | None:
    """The owner of a live token (not revoked, owner active), marking it used; else None."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with database(db).transaction() as session:
        found = session.execute(
            select(ApiTokenRecord, UserRecord)
            .join(UserRecord, UserRecord.id == ApiTokenRecord.user_id)
            .where(ApiTokenRecord.token_hash == token_hash(secret))
        ).first()
        if found is None:
            return None
        token, owner = found
        if token.revoked_at is not None or not owner.active or owner.role not in ROLES:
            return None
        if token.expires_at is not None and token.expires_at <= now():
            return None  # expired: the same answer as an unknown token
        session.execute(
            update(ApiTokenRecord)
            .where(ApiTokenRecord.id == token.id)
            .values(last_used_at=now())
        )
        return to_user(owner, via_token=True, scope=token.scope)
