"""`selfcare load`: load every export file of a drop folder into the Parquet lake.

One load: take the lake's lock, remove the debris of an interrupted load, then per file (reference
files first, then facts): refuse it whole for a structural fault, skip it when its sha256 was
loaded before, else read it with DuckDB (pinned dialect, bounded memory, spilling to the lake's
work folder), check every row, and write the good rows as hive-partitioned Parquet under `files/`.
Every row read is loaded, rejected (to `etl_rejects`, with line number, reason and raw text) or a
duplicate. The summaries of the touched (tenant, bill period) partitions are rebuilt, and the whole
result is published by replacing `manifest.json` once, so a reader sees the old lake or the new
one, and a load killed at any point leaves the old one serving.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

from selfcare.config import PAUSE_AT, PAUSE_SECONDS  # noqa: F401 (re-exported: the test hook)
from selfcare.contract import Kind, as_of_of
from selfcare.etl import lake as lk
from selfcare.etl.fast import FastPath
from selfcare.etl.plan import KIND_ORDER, plan, unknown_kind  # noqa: F401 (KIND_ORDER: re-exported)
from selfcare.etl.publish import Publish
from selfcare.etl.report import FileReport, LoadReport
from selfcare.etl.snapshots import Snapshots
from selfcare.etl.state import FACT_TABLE, _lit
from selfcare.etl.state import pause as _pause
from selfcare.etl.validate import Refused, inspect_file


class LoadError(RuntimeError):
    """The load as a whole cannot run (no such folder, lake busy)."""


def load(
    drop_dir: str | os.PathLike[str],
    lake: str | os.PathLike[str],
    *,
    progress: bool | None = None,
    memory_limit: str = "1GB",
    fast_path: bool = True,
) -> LoadReport:
    """Load every export file in `drop_dir` into `lake` and publish the result atomically.

    `progress`: a bar per file on stderr; None = only when stderr is a terminal.
    `fast_path`: try the one-pass path for fact files first (False: the full path only; the
    result is the same, which the tests check).
    Raises LoadError when the folder is missing or another load holds the lake.
    """
    drop = Path(drop_dir)
    if not drop.is_dir():
        raise LoadError(f"no such folder: {drop}")
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        with lk.exclusive_lock(lake):
            return _Loader(drop, Path(lake), bool(progress), memory_limit, fast_path).run()
    except lk.LakeBusy as e:
        raise LoadError(str(e)) from None


class _Loader(FastPath, Snapshots, Publish):
    """One load: the stages (fast path, full path, reference snapshots, publish) over one state.

    Its parts live by stage in plan, fast, full, snapshots and publish; this class runs them.
    """

    # --- the load as a whole ------------------------------------------------------------------

    def run(self) -> LoadReport:
        started = time.monotonic()
        published = lk.read_manifest(self.lake)
        lk.remove_debris(self.lake, published)
        (self.lake / lk.FILES_DIR).mkdir(parents=True, exist_ok=True)
        (self.work / "tmp").mkdir(parents=True, exist_ok=True)
        self.m = lk.complete_tables(copy.deepcopy(published) if published else lk.empty_manifest())
        self.report.version = int(self.m["version"])
        self.con = duckdb.connect(str(self.work / "load.duckdb"))
        try:
            self._configure()
            self._refresh_views()
            self.loaded_sha = {
                r[0]: r[1]
                for r in self.con.execute(
                    "select sha256, file_name from etl_files where status = 'loaded'"
                ).fetchall()
            }
            for n, (path, kind) in enumerate(plan(self.drop, self.today)):
                self.report.files.append(self._one_file(path, kind))
                _pause("after_file", self.work, n)
            if self.affected:
                self._rebuild_aggregates()
            if any(f.status != "skipped" for f in self.report.files):
                self._write_ledger()
                self._publish()
        finally:
            self.con.close()
        shutil.rmtree(self.work, ignore_errors=True)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _configure(self) -> None:
        c = self.con
        c.execute(f"set memory_limit = {_lit(self.memory_limit)}")
        c.execute(f"set temp_directory = {_lit(str(self.work / 'tmp'))}")
        c.execute("set TimeZone = 'UTC'")
        # Row order within a file is not needed (line numbers come from WITH ORDINALITY), and
        # keeping it costs memory.
        c.execute("set preserve_insertion_order = false")
        # A partitioned write buffers each open partition up to this many rows before it writes
        # a row group; DuckDB's default (524,288) held ~3 GB for a drop spanning 36 partitions.
        c.execute("set partitioned_write_flush_threshold = 100000")

    # --- one file -------------------------------------------------------------------------------

    def _one_file(self, path: Path, kind: Kind | None) -> FileReport:
        name = path.name
        if kind is None:
            return FileReport(name, None, "refused", f"{name}: {unknown_kind(name)}")
        rep = FileReport(name, kind.name, "loaded")
        if not kind.fact:
            rep.as_of = as_of_of(name) or self.today
        bar = self._bar(name)
        try:
            try:
                info = inspect_file(path, kind)
            except Refused as e:
                rep.status, rep.message = "refused", f"{name}: {e}"
                return rep
            rep.sha256 = info.sha256
            if info.sha256 in self.loaded_sha:
                rep.status = "skipped"
                rep.message = (
                    f"{name}: already loaded (same content as {self.loaded_sha[info.sha256]})"
                )
                return rep
            bar.update(1)
            self.seq += 1
            try:
                # A fact file that proves clean in one pass is done; any doubt takes the full path.
                done = (
                    self.fast_path and kind.fact and self._fast_fact(path, kind, rep, info.records)
                )
                rep.method = "fast" if done else "full"
                if not done:
                    self._stage(path, kind, rep)
            except (duckdb.InvalidInputException, duckdb.ConversionException) as e:
                # the CSV reader gave up on the file (e.g. a quote it cannot resolve); an I/O
                # error such as a full disk is not the file's fault and stops the whole load
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                rep.status = "refused"
                rep.message = f"{name}: cannot be parsed as CSV ({first})"
                rep.rows_read = 0
                return rep
            bar.update(1)
            if done:
                pass
            elif kind.fact:
                self._load_fact(kind, rep)
            else:
                self._load_reference(kind, rep)
            bar.update(2)
            self.loaded_sha[info.sha256] = name
            rep.message = f"{name}: loaded"
            if kind.fact:
                self._refresh_views([FACT_TABLE[kind.name]])
            else:
                suffix = lk.REF_TABLE_OF_KIND[kind.name]
                self._refresh_views([f"snap_{suffix}", f"dim_{suffix}"])
            return rep
        finally:
            bar.close()
            self.con.execute("drop table if exists stage")
            self.con.execute("drop table if exists cur")
            self.con.execute("drop table if exists srej")
            self.con.execute("drop table if exists cls")

    def _bar(self, name: str):
        if not self.progress:
            return _NoBar()
        from tqdm import tqdm

        return tqdm(total=4, desc=name[:40], unit="step", leave=False, file=sys.stderr)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
