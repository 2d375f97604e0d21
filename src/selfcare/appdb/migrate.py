"""Alembic, run from code: the migrations live in this package, no alembic.ini at runtime.

`status(db)` is the cheap check done when the app starts (one read of `alembic_version`);
`upgrade(db)` applies the missing revisions (`selfcare db upgrade`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

if TYPE_CHECKING:
    from selfcare.appdb.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"

# The revisions in order. A test checks this against Alembic's own reading of versions/, so the
# start-up check needs no parsing of migration scripts.
REVISIONS: tuple[str, ...] = (
    "0001_initial", "0002_token_scope", "0003_orders", "0004_token_lifetimes", "0006_tickets",
)
HEAD = REVISIONS[-1]
# Tables release 0.1.0 created without migrations: their presence without alembic_version
# means "written by that release".
LEGACY_TABLES = frozenset({"users", "audit", "api_tokens"})

UPGRADE_HINT = "run `selfcare db upgrade` (back the database up first)"


class SchemaError(RuntimeError):
    """The database's schema does not match the code; one line says what to do."""


def _alembic_config(connection) -> object:  # noqa: ANN001
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def current(db: Database) -> str | None:
    """The revision the database is at (None: empty, or written before migrations)."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("select version_num from alembic_version")).first()
    return row[0] if row else None


def status(db: Database) -> str:
    """'empty', 'current', 'behind' (incl. 'legacy': 0.1.0 without migrations) or 'ahead'."""
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables:
            return "legacy" if tables & LEGACY_TABLES else "empty"
        row = conn.execute(text("select version_num from alembic_version")).first()
    revision = row[0] if row else None
    if revision == HEAD:
        return "current"
    if revision is None or revision in REVISIONS:
        return "behind"
    return "ahead"


# Alembic's `context` and `op` are module-level proxies, set for the duration of one run: two
# threads of one process migrating at once (the in-process worker and a request, or two
# databases in one test process) would swap each other's out ("KeyError: 'config'").
_ALEMBIC = threading.RLock()


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply the migrations up to `revision`; returns (revision before, revision after)."""
    from alembic import command

    with _ALEMBIC:
        before = current(db)
        with db.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
        return before, current(db)


def script_heads() -> tuple[str, ...]:
    """The head revisions as Alembic reads them from versions/ (for the consistency test)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(_alembic_config(None)).get_heads())


def script_revisions() -> tuple[str, ...]:
    """Every revision from base to head, as Alembic reads versions/."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config(None))
    return tuple(s.revision for s in reversed(list(scripts.walk_revisions())))


def ensure_current(db: Database) -> None:
    """Migrate an empty database to the head; refuse one that is behind or ahead."""
    state = status(db)
    if state == "current":
        return
    if state == "empty":
        with _ALEMBIC:  # another thread may have migrated it while we looked
            if status(db) == "empty":
                upgrade(db)
        return
    if state in ("behind", "legacy"):
        was = current(db) or "release 0.1.0, before migrations"
        raise SchemaError(
            f"the portal database is behind this version ({was}, code needs {HEAD}): "
            + UPGRADE_HINT
        )
    raise SchemaError(
        f"the portal database is at {current(db)}, newer than this version ({HEAD}): "
        "upgrade SelfCare"
    )
