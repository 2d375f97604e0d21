"""The portal's tables: users, the audit log, personal API tokens and the login throttle's
attempts (SQLAlchemy 2 declarative).

Table and column names are those of release 0.1.0's SQLite store, so a database it wrote is
adopted as is (migration 0001). Timestamps stay ISO-8601 text in UTC, as that release wrote them.
Emails are stored lower-cased by the services; on SQLite the column also compares NOCASE, as
before.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, MetaData, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Names for constraints, so migrations on every backend can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

EMAIL_TYPE = Text().with_variant(Text(collation="NOCASE"), "sqlite")

TOKEN_SCOPES = ("read", "write")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRecord(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(EMAIL_TYPE, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(Text)
    employee_id: Mapped[str | None] = mapped_column(Text)
    active: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[str] = mapped_column(Text)


class AuditRecord(Base):
    __tablename__ = "audit"
    __table_args__ = (Index("audit_ts", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class ApiTokenRecord(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("api_tokens_user", "user_id"),
        CheckConstraint("scope in ('read', 'write')", name="scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    prefix: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(Text)
    last_used_at: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[str | None] = mapped_column(Text)
    # 0002: what the token may do; every token before it was read-only.
    scope: Mapped[str] = mapped_column(Text, default="read", server_default="read")
    # 0004: when the token stops working (ISO-8601 UTC, chosen at creation, at most a year on).
    expires_at: Mapped[str | None] = mapped_column(Text)


class LoginAttemptRecord(Base):
    """One sign-in attempt counted by the login throttle (0004): a key ("account:<email>" or
    "address:<ip>") and when, in seconds since the epoch. Rows older than the window are deleted
    as new attempts arrive; a successful sign-in deletes the row its attempt reserved."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    at: Mapped[float] = mapped_column(Float)
