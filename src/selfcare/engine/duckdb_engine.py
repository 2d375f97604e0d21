"""The DuckDB engine: the portal's read-only view of the lake (the only module importing duckdb
on the portal's side).

An in-memory DuckDB whose views point at the Parquet files of the published manifest, with file
access limited to exactly those files and the configuration locked, so even a query bug cannot
read other files. One connection per process and lake version; a cursor per call (a DuckDB
connection is not shareable across threads).

Read-only, twice (issue 13: `COPY ... TO '<lake>/x.csv'` used to succeed): DuckDB's
`allowed_paths` names the published files alone (no directory), so no statement can create a
file, a temporary file or a folder under the lake (or anywhere); and a cursor runs only SELECT
statements, because `allowed_paths` does let `COPY ... TO '<a published file>' (use_tmp_file
false)` overwrite a file it may read.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from selfcare import queries
from selfcare.engine.base import Cursor, Engine, EngineError, ReadOnly
from selfcare.etl import lake as lake_files

# The only statement type a portal cursor runs (WITH ... SELECT, UNION, VALUES parse as SELECT).
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT})


class DuckDBCursor(Cursor):
    def __init__(self, version: int, cur: duckdb.DuckDBPyConnection) -> None:
        self.version = version
        self._cur = cur

    def _read_only(self, sql: str) -> str:
        """`sql` if it is exactly one SELECT statement, else ReadOnly (nothing runs)."""
        try:
            statements = self._cur.extract_statements(sql)
        except duckdb.Error as e:
            raise EngineError(str(e)) from e
        kinds = [s.type for s in statements]
        if len(kinds) != 1 or kinds[0] not in READ_STATEMENTS:
            names = ", ".join(k.name for k in kinds) or "none"
            raise ReadOnly(f"the portal's engine runs one query at a time and only reads ({names})")
        return sql

    def has_tables(self) -> bool:
        try:
            # fetchall, not fetchone: an unfinished result keeps the cursor busy for the next query
            rows = self._cur.execute(
                "select count(*) from duckdb_views() where not internal"
            ).fetchall()
        except duckdb.Error as e:
            raise EngineError(str(e)) from e
        return bool(rows[0][0])

    def frame(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        try:
            return self._cur.execute(self._read_only(sql), dict(params)).df()
        except duckdb.Error as e:
            raise EngineError(str(e)) from e

    def batches(
        self, sql: str, params: Mapping[str, Any], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        try:
            reader = self._cur.sql(self._read_only(sql), params=dict(params)).to_arrow_reader(
                batch_rows
            )
            try:
                yield from reader
            finally:
                reader.close()
        except duckdb.Error as e:
            raise EngineError(str(e)) from e
        except pa.ArrowException as e:  # an interrupt while Arrow reads the result
            raise EngineError(str(e)) from e

    def columns(self, sql: str, params: Mapping[str, Any]) -> list[str]:
        try:
            self._read_only(sql)
            rel = self._cur.execute(f"select * from ({sql}) limit 0", dict(params))
            return [d[0] for d in rel.description]
        except duckdb.Error as e:
            raise EngineError(str(e)) from e

    def interrupt(self) -> None:
        self._cur.interrupt()

    def close(self) -> None:
        self._cur.close()


class DuckDBEngine(Engine):
    """Read-only DuckDB over the lake's published manifest.

    `memory_limit`: the engine's working memory per process; beyond it, sorts, joins and
    aggregates spill to a temporary folder rather than grow.
    """

    name = "duckdb"

    def __init__(
        self, memory_limit: str, model_views: Sequence[str] = (), threads: int = 2
    ) -> None:
        super().__init__(model_views)
        self.memory_limit = memory_limit
        self.threads = threads
        self._lock = threading.Lock()
        self._connections: dict[tuple[int, str], tuple[int, duckdb.DuckDBPyConnection]] = {}

    def cursor(self, lake: Path) -> DuckDBCursor:
        version, con = self._connection(lake)
        try:
            return DuckDBCursor(version, con.cursor())
        except duckdb.Error as e:
            raise EngineError(str(e)) from e

    def _connection(self, lake: Path) -> tuple[int, duckdb.DuckDBPyConnection]:
        """The process's connection for the lake's published version, created lazily.

        Keyed by PID because a connection made before a fork (gunicorn --preload) hangs in the
        child. A new manifest version gets a new connection; queries already running keep the old
        one.
        """
        manifest = lake_files.read_manifest(lake)
        version = int(manifest["version"]) if manifest else 0
        key = (os.getpid(), str(lake))
        with self._lock:
            cached = self._connections.get(key)
            if cached and cached[0] == version:
                return cached
            try:
                con = self._open(lake, manifest)
            except duckdb.Error as e:
                raise EngineError(str(e)) from e
            self._connections[key] = (version, con)
            return version, con

    def _open(self, lake: Path, manifest: dict[str, Any] | None) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        # Exactly the published files, never the lake's folder: an allowed directory lets any
        # statement create files in it (COPY ... TO '<lake>/x.csv').
        files = sorted(lake_files.manifest_paths(lake, manifest))
        con.execute("set allowed_paths = $paths", {"paths": files})
        # the spill folder must be set while the engine may still name a path
        spill = tempfile.mkdtemp(prefix="selfcare-engine-")
        atexit.register(shutil.rmtree, spill, True)
        con.execute("set temp_directory = $d", {"d": spill})
        con.execute("set memory_limit = $m", {"m": self.memory_limit})
        con.execute("set enable_progress_bar = false")
        con.execute("set enable_external_access = false")
        con.execute(f"set threads = {int(self.threads)}")
        # Keep the Parquet footers (schema, row-group zone maps) of the lake's files in memory:
        # without it every query re-reads the footer of every file its views name (a 100 M-row
        # lake has hundreds), which cost more than the row groups a summary query then reads.
        # The files are immutable (a load writes new ones and a new manifest, which gets a new
        # connection), so the cache never serves stale metadata.
        con.execute("set parquet_metadata_cache = true")
        con.execute("set lock_configuration = true")
        for statement in lake_files.reader_views(lake, manifest):
            con.execute(statement)
        if manifest:
            # Model views (queries/model/*.sql, in dependency order) give every report the same
            # attribution; they are unscoped, and reports bind the scope on top.
            for name in self.model_views:
                view = name.split(".", 1)[1]
                con.execute(f'create or replace view "{view}" as {queries.load(name)}')
        return con
