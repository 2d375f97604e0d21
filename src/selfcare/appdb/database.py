"""A handle on the portal's database: one engine and sessionmaker per URL per process.

`db.transaction()` yields a Session inside one transaction: committed when the block ends,
rolled back if it raises. SQLite (the embedded default) runs with WAL (the audit writes of one
request do not block another's reads), foreign keys on, a busy timeout, and its file is created
readable by its owner only (it holds the password hashes). PostgreSQL works through a
`postgresql+psycopg://` URL.

The schema is checked once per handle, cheaply (one read of `alembic_version`): an empty
database is migrated to the head revision; one behind the code (or written by release 0.1.0,
which had no migrations) is refused with the command that upgrades it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 30_000


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The URL of a SQLite file (absolute, so the cache key does not depend on the cwd)."""
    return URL.create("sqlite+pysqlite", database=str(Path(path).resolve())).render_as_string()


def resolve_url(target: str | os.PathLike[str]) -> str:
    """A database URL as given, or a filesystem path turned into a SQLite URL."""
    text = os.fspath(target)
    if "://" in text:
        return text
    return sqlite_url(text)


def _ensure_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) with mode 0600 before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con, _record) -> None:  # noqa: ANN001 (DBAPI objects)
        # We issue BEGIN ourselves (below): the driver's own transaction handling starts a
        # transaction only at the first write, so a read-then-write would not be one transaction.
        dbapi_con.isolation_level = None
        cur = dbapi_con.cursor()
        cur.execute("pragma journal_mode = wal")
        cur.execute("pragma foreign_keys = on")
        cur.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        # A transaction that will write takes the write lock up front (IMMEDIATE): taking it
        # later, after a read, fails at once with SQLITE_BUSY if another writer committed in
        # between, whatever the busy timeout. Read-only transactions stay DEFERRED (WAL: they
        # never wait for writers).
        write = not conn.get_execution_options().get("selfcare_readonly", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """The engine and sessions of one database URL. Get one with `database(url_or_path)`."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path: Path | None = None
        if self.is_sqlite:
            if not parsed.database or parsed.database == ":memory:":
                raise ValueError("the portal database must be a file, not an in-memory SQLite")
            self.path = Path(parsed.database)
            _ensure_private_file(self.path)
            self.engine = _sqlite_engine(parsed)
        else:
            self.engine = create_engine(parsed, pool_pre_ping=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(selfcare_readonly=True), expire_on_commit=False
        )
        self._ready: object = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    def _schema_key(self) -> object:
        # A test may delete and recreate a SQLite file at the same path: key by inode.
        if self.path is None:
            return True
        if not self.path.exists():
            _ensure_private_file(self.path)
        return self.path.stat().st_ino

    def ensure_schema(self) -> None:
        """Migrate an empty database; refuse one behind (or ahead of) the code. Once per file."""
        key = self._schema_key()
        if self._ready == key:
            return
        with self._lock:
            if self._ready == key:
                return
            if self._ready is not None:
                # The file was replaced: pooled connections still point at the old one.
                self.engine.dispose()
            from selfcare.appdb import migrate

            migrate.ensure_current(self)
            self._ready = key

    @contextlib.contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[Session]:
        """A Session in one transaction: committed on success, rolled back on error.

        `readonly=True` for transactions that only read (on SQLite they then take no write lock).
        """
        self.ensure_schema()
        with (self._read_sessions if readonly else self.sessions).begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


_handles: dict[str, Database] = {}
_handles_lock = threading.Lock()


def database(target: Database | str | os.PathLike[str]) -> Database:
    """The process's handle for a Database, URL or SQLite path (one engine per URL)."""
    if isinstance(target, Database):
        return target
    url = resolve_url(target)
    db = _handles.get(url)
    if db is None:
        with _handles_lock:
            db = _handles.get(url)
            if db is None:
                db = _handles[url] = Database(url)
    return db


def forget(target: Database | str | os.PathLike[str]) -> None:
    """Close and drop the cached handle of a URL (before a test drops its database)."""
    url = target.url if isinstance(target, Database) else resolve_url(target)
    with _handles_lock:
        db = _handles.pop(url, None)
    if db is not None:
        db.dispose()
