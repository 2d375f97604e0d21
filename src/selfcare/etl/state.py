"""The working state of one load, shared by its stages (plan, fast path, full path, reference
snapshots, publish): the DuckDB connection on the lake's work folder, the working manifest (the
published one plus this load's files), and the steps every stage uses: read a CSV with its
rejects captured, write into a fresh output folder, adopt the written files into the lake.

The ETL uses DuckDB as its load engine directly (an import-contract exception; issue 19 moves it
behind `selfcare.engine` with the Spark work).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from selfcare import config
from selfcare.contract import Kind
from selfcare.etl import lake as lk
from selfcare.etl.report import LoadReport
from selfcare.etl.validate import DELIM, QUOTE

FACT_TABLE = {"cdr": "fct_cdr", "billing": "fct_billing"}


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name + '"'


def _lit_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(i) for i in items) + "]"


def pause(point: str, work: Path, n: int = 0) -> None:
    """Test hook: sleep at a named point so a test can SIGKILL the load there.

    SELFCARE_TEST_PAUSE_AT=before_publish, or after_file (every file) or after_file:<n> (after
    the n-th file, from 0); a marker file in the work folder says the load is sleeping.
    """
    want = config.pause_point()
    if want not in (point, f"{point}:{n}"):
        return
    (work / f"paused-{point}-{n}").touch()
    time.sleep(config.pause_seconds())


class LoadState:
    """One load's state and shared steps; the stages are mixins over it (see load._Loader)."""

    con: duckdb.DuckDBPyConnection  # opened by run(), on the work folder
    m: dict[str, Any]  # the working manifest
    loaded_sha: dict[str, str]  # sha256 → file name of every file loaded so far

    def __init__(
        self, drop: Path, lake: Path, progress: bool, memory_limit: str, fast_path: bool = True
    ):
        now = datetime.now(UTC)
        self.fast_path = fast_path
        self.drop = drop
        self.lake = lake
        self.progress = progress
        self.memory_limit = memory_limit
        self.now = now
        self.today = now.date().isoformat()
        self.load_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        self.report = LoadReport(str(lake), self.load_id)
        self.work = lake / lk.WORK_DIR
        self.seq = 0
        self.new_files: list[str] = []
        self.affected: set[tuple[str, str]] = set()

    def _refresh_views(self, tables: Iterable[str] | None = None) -> None:
        """Views over the working state (published + this load's files) for checks and joins.

        Only the named tables are redefined: binding a view reads the footers of its files, and
        the fact tables hold many.
        """
        m = self.m
        if tables is not None:
            m = {"version": 0, "tables": {t: self.m["tables"][t] for t in tables}}
        for stmt in lk.reader_views(self.lake, m):
            self.con.execute(stmt)

    def _read_csv(self, path: Path, kind: Kind, rejects: str, ordinality: bool = True) -> str:
        cols = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in kind.column_names) + "}"
        return (
            f"read_csv({_lit(str(path))}, columns = {cols}, header = true, auto_detect = false, "
            f"delim = {_lit(DELIM)}, quote = {_lit(QUOTE)}, escape = {_lit(QUOTE)}, "
            f"store_rejects = true, rejects_table = {_lit(rejects)}, "
            f"rejects_scan = {_lit(rejects + '_scan')}, rejects_limit = 0)"
            + (" with ordinality" if ordinality else "")
        )

    def _structural_rejects(self, kind: Kind, rej: str) -> None:
        """Table `srej` (line_no, reason, raw): the lines the CSV reader itself rejected into
        its rejects table `rej` (wrong number of fields, bad quoting)."""
        n = len(kind.columns)
        # A line can carry several errors (one per extra field): one reason per line.
        self.con.execute(
            f"""create or replace table srej as
            select line as line_no,
              case when bool_or(error_type = 'MISSING COLUMNS')
                   then 'wrong number of fields (' || min(try_cast(regexp_extract(error_message,
                        'Found: ([0-9]+)', 1) as integer)) || ', expected {n})'
                   when bool_or(error_type = 'TOO MANY COLUMNS')
                   then 'wrong number of fields (' || max(try_cast(regexp_extract(error_message,
                        'Found: ([0-9]+)', 1) as integer)) || ', expected {n})'
                   when bool_or(error_type = 'UNQUOTED VALUE')
                   then 'bad quoting: unterminated or misplaced quote'
                   when bool_or(error_type = 'LINE SIZE OVER MAXIMUM') then 'line too long'
                   else lower(any_value(error_type)) || ': ' || any_value(error_message) end
                as reason,
              rtrim(any_value(csv_line), chr(13) || chr(10)) as raw
            from {rej} group by line"""
        )

    def _out_dir(self) -> Path:
        self.seq_out = getattr(self, "seq_out", 0) + 1
        out = self.work / "out" / str(self.seq_out)
        out.mkdir(parents=True)
        return out

    def _adopt(self, out: Path, table: str) -> list[str]:
        """Move the Parquet files written under `out` into files/<table>/ (same partition
        folders) with this load's names, and add them to the working manifest."""
        added = []
        for dirpath, _dirs, names in sorted(os.walk(out)):
            for name in sorted(names):
                if not name.endswith(".parquet"):
                    continue
                rel = Path(dirpath).relative_to(out)
                self.seq += 1
                target_rel = Path(lk.FILES_DIR, table, rel, f"{self.load_id}-{self.seq}.parquet")
                target = self.lake / target_rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(Path(dirpath) / name, target)
                added.append(target_rel.as_posix())
        self.m["tables"][table]["files"].extend(added)
        self.new_files.extend(added)
        shutil.rmtree(out, ignore_errors=True)
        return added
