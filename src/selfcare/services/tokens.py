"""Personal API tokens for the CSV export API (`Authorization: Bearer <secret>` on /export/*).

A token acts only as its owner (re-read on every use; a deactivated owner's tokens stop
working). Secrets are 32 random bytes, stored only as their SHA-256 (a fast hash is right for a
high-entropy secret; a slow one is for guessable passwords). Every token has a scope: `read`,
the only kind handed out today (the export API is read-only), or `write` for later workflows.

A token has a life: it expires (chosen at creation, at most a year), and it is revoked, in the
same transaction, when its owner's password changes, the owner is deactivated or their profile
changes (`selfcare.services.users`). Its last use is recorded at most once a minute per token, so
a busy script does not turn every API call into a database write. An Administrator lists and
revokes the tokens of their own tenant's users (`tenant_tokens`, `revoke_by_admin`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from selfcare.appdb import ApiTokenRecord, Database, UserRecord, database
from selfcare.appdb.models import TOKEN_SCOPES
from selfcare.roles import ROLES, TENANT_ROLES
from selfcare.services.audit import now, record
from selfcare.services.errors import NotFound, ServiceError
from selfcare.services.users import User, require_admin, to_user, user_row

DbLike = Database | str | os.PathLike[str]

TOKEN_PREFIX = "sc_"  # noqa: S105 (a marker in front of every token secret)
TOKEN_BYTES = 32
# A token stops working after its lifetime (chosen at creation, at most a year): a secret that
# leaked into a script or a log does not stay valid for ever. Migration 0004 gave older tokens
# the default, counted from the upgrade.
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365
# The lifetimes the API tokens page offers (the CLI takes any 1 to MAX_LIFETIME_DAYS).
LIFETIME_CHOICES = (30, 90, 180, 365)
# `last_used_at` is written at most this often per token: a minute is precise enough to tell
# whether a token is still in use, and keeps a script's every call from being a write.
LAST_USED_PRECISION = timedelta(minutes=1)
READ, WRITE = TOKEN_SCOPES


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    db: DbLike, user: str | int, name: str, scope: str = READ, days: int = DEFAULT_LIFETIME_DAYS
) -> tuple[int, str]:
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
        return [_listed(t) for t in rows]


def _listed(t: ApiTokenRecord) -> dict[str, Any]:
    return {
        "id": int(t.id),
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
        "revoked_at": t.revoked_at,
        "scope": t.scope,
        "expires_at": t.expires_at,
    }


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
    """The owner of a live token (not revoked, not expired, owner active), marking it used
    (at most once per LAST_USED_PRECISION); else None."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with database(db).transaction(readonly=True) as session:
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
        user = to_user(owner, via_token=True, scope=token.scope)
        token_id, last_used = int(token.id), token.last_used_at
    stamp = now()
    since = (datetime.now(UTC) - LAST_USED_PRECISION).isoformat(timespec="seconds")
    if last_used is None or last_used <= since:
        # Guarded by the value just read's age, so concurrent calls write it once between them.
        with database(db).transaction() as session:
            session.execute(
                update(ApiTokenRecord)
                .where(ApiTokenRecord.id == token_id)
                .where(
                    or_(ApiTokenRecord.last_used_at.is_(None), ApiTokenRecord.last_used_at <= since)
                )
                .values(last_used_at=stamp)
            )
    return user


# --- the administrator's view of their tenant's tokens ------------------------------------------


def tenant_tokens(db: DbLike, actor: Any) -> list[dict[str, Any]]:
    """Every token of the administrator's tenant's users (never another tenant's, never an
    analyst's), newest first, each with its owner's email."""
    tenant_id = require_admin(actor)
    with database(db).transaction(readonly=True) as session:
        rows = session.execute(
            select(ApiTokenRecord, UserRecord.email)
            .join(UserRecord, UserRecord.id == ApiTokenRecord.user_id)
            .where(UserRecord.tenant_id == tenant_id, UserRecord.role.in_(TENANT_ROLES))
            .order_by(ApiTokenRecord.id.desc())
        ).all()
        return [{**_listed(t), "owner": email} for t, email in rows]


def revoke_by_admin(db: DbLike, actor: Any, token_id: Any, ip: str | None = None) -> str:
    """An administrator revokes a token of one of their tenant's users; a token of another
    tenant (or none) is NotFound, the same answer, so token ids cannot be probed. Returns the
    message for the page."""
    tenant_id = require_admin(actor)
    try:
        wanted = int(str(token_id).strip())
    except (TypeError, ValueError):
        raise NotFound("No such token in your organisation.") from None
    with database(db).transaction() as session:
        found = session.execute(
            select(ApiTokenRecord, UserRecord)
            .join(UserRecord, UserRecord.id == ApiTokenRecord.user_id)
            .where(ApiTokenRecord.id == wanted)
        ).first()
        if found is None or found[1].tenant_id != tenant_id or found[1].role not in TENANT_ROLES:
            raise NotFound("No such token in your organisation.")
        token, owner = found
        if token.revoked_at is not None:
            return f"The token {token.name!r} of {owner.email} was already revoked."
        token.revoked_at = now()
        record(session, "token_revoked", owner.email, owner.id, ip, f"token {token.id}")
        record(
            session,
            "admin_token_revoked",
            actor.email,
            actor.id,
            ip,
            f"target={owner.email} (id {owner.id}) token {token.id}",
        )
        return f"The token {token.name!r} of {owner.email} is revoked."
