"""The portal database's schema, as the app and the CLI need it: ready it at start-up (migrate
an empty database, refuse one behind the code), upgrade it, tell where it stands."""

from __future__ import annotations

import os

from selfcare.appdb import HEAD, Database, SchemaError, database, forget, migrate

DbLike = Database | str | os.PathLike[str]

__all__ = ["HEAD", "SchemaError", "close", "current", "ensure_ready", "status", "upgrade"]


def ensure_ready(db: DbLike) -> None:
    """Migrate an empty database to the head; raise SchemaError (one line naming
    `selfcare db upgrade`) for one behind or ahead of the code. Cheap when current."""
    database(db).ensure_schema()


def upgrade(db: DbLike) -> tuple[str | None, str | None]:
    """Apply every missing migration; returns (revision before, revision after)."""
    return migrate.upgrade(database(db))


def current(db: DbLike) -> str | None:
    return migrate.current(database(db))


def status(db: DbLike) -> str:
    """'empty', 'current', 'behind', 'legacy' (release 0.1.0, before migrations) or 'ahead'."""
    return migrate.status(database(db))


def describe(db: DbLike) -> str:
    """Where the database stands, for `selfcare db current`, hiding any password."""
    handle = database(db)
    return f"{handle!r}: {status(handle)} at {current(handle) or '-'} (code: {HEAD})"


def close(db: DbLike) -> None:
    """Close this process's connections to the database (before deleting a SQLite file)."""
    forget(db)
