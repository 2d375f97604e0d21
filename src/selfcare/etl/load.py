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
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from selfcare import queries
from selfcare.contract import Kind, as_of_of, kind_of
from selfcare.etl import lake as lk
from selfcare.etl.validate import (
    DELIM,
    QUOTE,
    Refused,
    fast_ok,
    inspect_file,
    stage_select,
    typed_expr,
)
from selfcare.etl.validate import csv_field_sql as _csv_field

# Reference files before facts: a CDR needs its account's tenant and the tenant's timezone; a
# line's services need the service catalogue and the line register.
KIND_ORDER = (
    "tenants",
    "accounts",
    "cost_centres",
    "employees",
    "plans",
    "services",
    "lines",
    "line_services",
    "cdr",
    "billing",
)
FACT_TABLE = {"cdr": "fct_cdr", "billing": "fct_billing"}
PAUSE_AT = "SELFCARE_TEST_PAUSE_AT"  # test hook, see _pause
PAUSE_SECONDS = "SELFCARE_TEST_PAUSE_SECONDS"
_PARTITION = re.compile(r"/(tenant_id=[^/]+/)?(bill_period|as_of)=([^/]+)/")
_PARTITION_OF = re.compile(r"/tenant_id=([^/]+)/bill_period=([^/]+)/")


class LoadError(RuntimeError):
    """The load as a whole cannot run (no such folder, lake busy)."""


@dataclass
class FileReport:
    file: str
    kind: str | None
    status: str  # loaded | skipped | refused
    message: str = ""
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0  # conflicts included
    duplicates: int = 0
    conflicts: int = 0
    as_of: str | None = None
    sha256: str | None = None
    method: str = ""  # fast (one pass, proved clean) | full (every row explained) | "" (not read)


@dataclass
class LoadReport:
    lake: str
    load_id: str
    files: list[FileReport] = field(default_factory=list)
    version: int = 0
    published: bool = False
    seconds: float = 0.0
    aggregate_partitions: int = 0

    @property
    def refused(self) -> bool:
        return any(f.status == "refused" for f in self.files)

    @property
    def totals(self) -> dict[str, int]:
        t = {
            k: 0
            for k in (
                "files",
                "loaded_files",
                "skipped_files",
                "refused_files",
                "rows_read",
                "loaded",
                "rejected",
                "duplicates",
                "conflicts",
            )
        }
        for f in self.files:
            t["files"] += 1
            t[f"{f.status}_files"] += 1
            for k in ("rows_read", "loaded", "rejected", "duplicates", "conflicts"):
                t[k] += getattr(f, k)
        return t

    def render(self, max_files: int = 30) -> str:
        """A one-screen summary: a row per file (the first `max_files`), refusals, totals."""
        t = self.totals
        state = (
            f"published lake version {self.version}"
            if self.published
            else f"nothing to publish, lake version {self.version} unchanged"
        )
        out = [f"load {self.load_id} into {self.lake}: {state} ({self.seconds:.1f} s)"]
        head = (
            f"{'file':<34} {'status':<8} {'read':>10} {'loaded':>10} {'rejected':>9} "
            f"{'dup':>7} {'confl':>6}  pass"
        )
        out.append(head)
        for f in self.files[:max_files]:
            out.append(
                f"{f.file[:34]:<34} {f.status:<8} {f.rows_read:>10,} {f.loaded:>10,} "
                f"{f.rejected:>9,} {f.duplicates:>7,} {f.conflicts:>6,}  {f.method}"
            )
        if len(self.files) > max_files:
            out.append(f"... and {len(self.files) - max_files} more files")
        for f in self.files:
            if f.status == "refused":
                out.append(f"REFUSED {f.message}")
        out.append(
            f"{t['files']} files: {t['loaded_files']} loaded, {t['skipped_files']} skipped "
            f"(already loaded), {t['refused_files']} refused; rows read {t['rows_read']:,} = "
            f"loaded {t['loaded']:,} + rejected {t['rejected']:,} + duplicates "
            f"{t['duplicates']:,} (conflicts {t['conflicts']:,} among the rejected)"
        )
        if t["rejected"]:
            out.append(f"rejected rows: select * from etl_rejects where load_id = '{self.load_id}'")
        return "\n".join(out)


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


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name + '"'


def _lit_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_lit(i) for i in items) + "]"


def _line_no(ord_expr: str) -> str:
    """SQL for the line number of a good row: its ordinality + the header + the structural
    rejects (which WITH ORDINALITY does not count) before it."""
    return f"({ord_expr} + 1 + (select count(*) from gaps where gaps.g <= {ord_expr}))"


def _pause(point: str, work: Path, n: int = 0) -> None:
    """Test hook: sleep at a named point so a test can SIGKILL the load there.

    SELFCARE_TEST_PAUSE_AT=before_publish, or after_file (every file) or after_file:<n> (after
    the n-th file, from 0); a marker file in the work folder says the load is sleeping.
    """
    want = os.environ.get(PAUSE_AT, "")
    if want not in (point, f"{point}:{n}"):
        return
    (work / f"paused-{point}-{n}").touch()
    time.sleep(float(os.environ.get(PAUSE_SECONDS, "60")))


class _Loader:
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
            for n, (path, kind) in enumerate(self._plan()):
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

    def _plan(self) -> list[tuple[Path, Kind | None]]:
        entries = [p for p in self.drop.iterdir() if p.is_file() and not p.name.startswith(".")]

        def order(p: Path) -> tuple:
            k = kind_of(p.name)
            rank = KIND_ORDER.index(k.name) if k else -1  # refusals first: they cost nothing
            return (rank, as_of_of(p.name) or self.today, p.name)

        return [(p, kind_of(p.name)) for p in sorted(entries, key=order)]

    # --- one file -------------------------------------------------------------------------------

    def _one_file(self, path: Path, kind: Kind | None) -> FileReport:
        name = path.name
        if kind is None:
            lower = name.lower()
            why = (
                "unknown kind: the name must start with one of " + ", ".join(KIND_ORDER)
                if lower.endswith((".csv", ".csv.gz"))
                else "not an export file (.csv or .csv.gz)"
            )
            return FileReport(name, None, "refused", f"{name}: {why}")
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

    def _read_csv(self, path: Path, kind: Kind, rejects: str, ordinality: bool = True) -> str:
        cols = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in kind.column_names) + "}"
        return (
            f"read_csv({_lit(str(path))}, columns = {cols}, header = true, auto_detect = false, "
            f"delim = {_lit(DELIM)}, quote = {_lit(QUOTE)}, escape = {_lit(QUOTE)}, "
            f"store_rejects = true, rejects_table = {_lit(rejects)}, "
            f"rejects_scan = {_lit(rejects + '_scan')}, rejects_limit = 0)"
            + (" with ordinality" if ordinality else "")
        )

    def _stage(self, path: Path, kind: Kind, rep: FileReport) -> None:
        """Read the file into `stage` (typed columns, reason, raw) and `srej` (rows the
        CSV reader itself rejected: wrong number of fields, bad quoting)."""
        c = self.con
        rej = f"rej_{self.seq}"
        c.execute(f"create table stage as {stage_select(kind, self._read_csv(path, kind, rej))}")
        self._structural_rejects(kind, rej)
        # Line number of a good row: ordinality + header + the structural rejects before it.
        c.execute(
            "create or replace temp table gaps as "
            "select line_no - row_number() over (order by line_no) as g from srej"
        )
        rep.rows_read = (
            c.execute("select count(*) from stage").fetchone()[0]
            + c.execute("select count(*) from srej").fetchone()[0]
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

    def _classify(self, kind: Kind, existing: str) -> None:
        """Mark repeats of a key in `cls` (ord, status, first_ord) for the good rows of `cur`.

        `existing` is a SELECT of rows already in the lake that this file's keys are compared to.
        Only keys seen twice are examined row by row, so the common case costs two hash passes.
        """
        c = self.con
        key = ", ".join(_ident(k) for k in kind.key)
        on = " and ".join(f"a.{_ident(k)} = b.{_ident(k)}" for k in kind.key)
        c.execute(
            f"create or replace temp table hits as select distinct {key} from ({existing}) as a "
            f"semi join (select {key} from cur where reason is null) as b on {on}"
        )
        c.execute(
            f"create or replace temp table multi as select {key} from cur where reason is null "
            f"group by {key} having count(*) > 1"
        )
        ak = ", ".join("a." + _ident(k) for k in kind.key)
        content = "row(" + ", ".join("a." + _ident(x) for x in kind.column_names) + ")"
        c.execute(
            f"""create table cls as
            with special as (
                select a.ord, {ak}, {content} as content
                from cur as a
                semi join (select * from hits union select * from multi) as b on {on}
                where a.reason is null
            ),
            lake as (
                select {ak}, {content} as content
                from ({existing}) as a semi join hits as b on {on}
            ),
            w as (
                select a.ord, a.content, b.content as lake_content,
                       b.{_ident(kind.key[0])} is not null as in_lake,
                       row_number() over (partition by {ak} order by a.ord) as rn,
                       first_value(a.content) over (partition by {ak} order by a.ord)
                           as first_content,
                       first_value(a.ord) over (partition by {ak} order by a.ord) as first_ord
                from special as a left join lake as b on {on}
            )
            select ord,
                   case when in_lake and content is not distinct from lake_content then 'duplicate'
                        when in_lake then 'conflict_lake'
                        when rn = 1 then 'loaded'
                        when content is not distinct from first_content then 'duplicate'
                        else 'conflict_file' end as status,
                   first_ord
            from w"""
        )

    def _late_raw(self, path: Path, kind: Kind) -> None:
        """Table `late_raw` (ord, raw): the raw text of rows rejected after staging (unknown
        account or tenant, conflicts), re-read from the file; such rows are rare."""
        c = self.con
        c.execute(
            "create or replace temp table late as "
            "select ord from cur where reason is not null and raw is null "
            "union select ord from cls where status like 'conflict%'"
        )
        c.execute("create or replace temp table late_raw (ord bigint, raw varchar)")
        if not c.execute("select count(*) from late").fetchone()[0]:
            return
        raw_cols = " || ',' || ".join(_csv_field(_ident(n)) for n in kind.column_names)
        src = self._read_csv(path, kind, f"rej_{self.seq}_again")
        c.execute(
            f"insert into late_raw select ordinality, {raw_cols} from {src} "
            "where ordinality in (select ord from late)"
        )

    def _write_rejects(self, kind: Kind, rep: FileReport) -> None:
        c = self.con
        keyname = " + ".join(kind.key)
        keyval = " || ' ' || ".join(f"cur.{_ident(k)}::varchar" for k in kind.key)
        lake_msg = (
            f"'conflict: {keyname} ''' || {keyval} || "
            "''' is already in the lake with different content'"
        )
        file_msg = (
            f"'conflict: {keyname} ''' || {keyval} || ''' repeats line ' || "
            f"{_line_no('cls.first_ord')} || ' with different content'"
        )
        sql = f"""
            select {_lit(self.load_id)} as load_id, {_lit(rep.file)} as file_name,
                   {_lit(kind.name)} as kind, line_no::bigint as line_no, reason, raw
            from (
                select line_no, reason, raw from srej
                union all
                select {_line_no("cur.ord")} as line_no, cur.reason,
                       coalesce(cur.raw, late_raw.raw) as raw
                from cur left join late_raw on late_raw.ord = cur.ord
                where cur.reason is not null
                union all
                select {_line_no("cls.ord")} as line_no,
                       case when cls.status = 'conflict_lake' then {lake_msg}
                            else {file_msg} end as reason,
                       late_raw.raw
                from cls
                join cur on cur.ord = cls.ord
                left join late_raw on late_raw.ord = cls.ord
                where cls.status like 'conflict%'
            )"""
        n = c.execute(f"select count(*) from ({sql})").fetchone()[0]
        if n:
            out = self._out_dir()
            c.execute(
                f"copy ({sql} order by line_no) to {_lit(str(out / 'rejects.parquet'))} "
                "(format parquet)"
            )
            self._adopt(out, "etl_rejects")

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

    # --- facts ----------------------------------------------------------------------------------

    def _fast_fact(self, path: Path, kind: Kind, rep: FileReport, records: int) -> bool:
        """The fast path of a fact file: one streaming pass from the CSV to the lake's partitioned
        Parquet, keeping only rows that `fast_ok` passes and whose account is known. The result
        stands only when it is proved complete: rows written + lines the CSV reader rejected =
        the file's records, and no key repeats in the file or is already in the lake. Otherwise
        its output is dropped and False sends the file down the full path (`_stage`,
        `_load_fact`), which explains every row. A clean file is read once and written once.
        """
        c = self.con
        table = FACT_TABLE[kind.name]
        rej = f"rej_{self.seq}_fast"
        # Each value is cast once, in the inner query (`v_<column>`); the filter and the output
        # read the cast.
        casts = [c for c in kind.columns if c.type != "VARCHAR"]
        typed = {c.name: f"s.v_{c.name}" for c in casts}
        inner = ", ".join(f"{typed_expr(c, f'r.{_ident(c.name)}')} as v_{c.name}" for c in casts)
        if kind.name == "cdr":
            period = f"strftime(timezone(s.timezone, {typed['event_time']}), '%Y-%m')"
        else:
            period = "s.bill_period"
        cols = []
        for n, _t in lk.TABLES[table]:
            if n == "load_id":
                cols.append(f"{_lit(self.load_id)} as load_id")
            elif n == "tenant_id":
                cols.append("s.tenant_id")
            elif n == "bill_period":
                cols.append(f"{period} as bill_period")
            else:
                cols.append(f"{typed.get(n, f's.{_ident(n)}')} as {_ident(n)}")
        out = self._out_dir()
        written = c.execute(
            f"""copy (
                with acct as (
                    select account_id, arg_max(tenant_id, as_of) as tenant_id
                    from snap_account group by account_id
                ),
                tz as (select tenant_id, any_value(timezone) as timezone from dim_tenant
                       group by tenant_id)
                select {", ".join(cols)}
                from (
                    select r.*, {inner}, a.tenant_id, t.timezone
                    from {self._read_csv(path, kind, rej, ordinality=False)} as r
                    join acct as a on a.account_id = r.account_id
                    join tz as t on t.tenant_id = a.tenant_id
                ) as s
                where {fast_ok(kind, "s", typed)}
            ) to {_lit(str(out))} (format parquet, partition_by (tenant_id, bill_period))"""
        ).fetchone()[0]
        self._structural_rejects(kind, rej)
        structural = c.execute("select count(*) from srej").fetchone()[0]
        files = sorted(str(p) for p in out.rglob("*.parquet"))
        clean = written + structural == records
        if clean and files:
            # Keys are compared by their 64-bit hash: a collision only costs the full path, and
            # a hash table of integers is a fraction of one of strings.
            h = "hash(" + ", ".join(_ident(k) for k in kind.key) + ")"
            new = f"read_parquet({_lit_list(files)}, hive_partitioning = false)"
            clean = not c.execute(
                f"select 1 from {new} group by {h} having count(*) > 1 limit 1"
            ).fetchall()
            if clean and self.m["tables"][table]["files"]:
                clean = not c.execute(
                    f"select 1 from (select {h} as h from {table}) as a "
                    f"semi join (select {h} as h from {new}) as b on a.h = b.h limit 1"
                ).fetchall()
        if not clean:
            shutil.rmtree(out, ignore_errors=True)
            return False
        rep.rows_read = written + structural
        rep.loaded = written
        rep.rejected = structural
        self._write_structural_rejects(kind, rep)
        for f in self._adopt(out, table):
            m = _PARTITION_OF.search(f)
            if kind.name == "cdr" and m:
                self.affected.add((m.group(1), m.group(2)))
        return True

    def _write_structural_rejects(self, kind: Kind, rep: FileReport) -> None:
        """The fast path's rejects: only lines the CSV reader refused (`srej`)."""
        if not self.con.execute("select count(*) from srej").fetchone()[0]:
            return
        out = self._out_dir()
        self.con.execute(
            f"copy (select {_lit(self.load_id)} as load_id, {_lit(rep.file)} as file_name, "
            f"{_lit(kind.name)} as kind, line_no::bigint as line_no, reason, raw from srej "
            f"order by line_no) to {_lit(str(out / 'rejects.parquet'))} (format parquet)"
        )
        self._adopt(out, "etl_rejects")

    def _load_fact(self, kind: Kind, rep: FileReport) -> None:
        c = self.con
        table = FACT_TABLE[kind.name]
        if kind.name == "cdr":
            period, exclude = "strftime(timezone(t.timezone, s.event_time), '%Y-%m')", "reason"
        else:
            period, exclude = "s.bill_period", "reason, bill_period"
        # An account's tenant comes from its newest snapshot; the tenant's zone sets the period.
        c.execute(
            f"""create table cur as
            with acct as (
                select account_id, arg_max(tenant_id, as_of) as tenant_id
                from snap_account group by account_id
            ),
            tz as (select tenant_id, any_value(timezone) as timezone from dim_tenant
                   group by tenant_id)
            select s.* exclude ({exclude}), a.tenant_id,
                   case when t.timezone is not null then {period} end as bill_period,
                   coalesce(s.reason,
                       case when a.tenant_id is null then 'account_id: unknown account '''
                            || s.account_id || '''' end,
                       case when t.timezone is null then 'account_id: the tenant '''
                            || a.tenant_id || ''' of account ''' || s.account_id
                            || ''' is not in the tenants snapshot' end) as reason
            from stage as s
            left join acct as a on a.account_id = s.account_id
            left join tz as t on t.tenant_id = a.tenant_id"""
        )
        self._classify(kind, f"select * from {table}")
        self._late_raw(self.drop / rep.file, kind)
        cols = ", ".join(
            _lit(self.load_id) + " as load_id" if n == "load_id" else _ident(n)
            for n, _t in lk.TABLES[table]
        )
        good = (
            "from cur where reason is null and ord not in "
            "(select ord from cls where status <> 'loaded')"
        )
        out = self._out_dir()
        order = ", order_by (msisdn, event_time)" if kind.name == "cdr" else ""
        c.execute(
            f"copy (select {cols} {good}) to {_lit(str(out))} "
            f"(format parquet, partition_by (tenant_id, bill_period){order})"
        )
        self._adopt(out, table)
        if kind.name == "cdr":
            self.affected.update(
                c.execute(f"select distinct tenant_id, bill_period {good}").fetchall()
            )
        self._count(kind, rep)

    def _count(self, kind: Kind, rep: FileReport) -> None:
        c = self.con
        invalid = c.execute("select count(*) from cur where reason is not null").fetchone()[0]
        structural = c.execute("select count(*) from srej").fetchone()[0]
        dup, conf_n = c.execute(
            "select count(*) filter (where status = 'duplicate'), "
            "count(*) filter (where status like 'conflict%') from cls"
        ).fetchone()
        total = c.execute("select count(*) from cur").fetchone()[0]
        rep.duplicates = dup
        rep.conflicts = conf_n
        rep.rejected = invalid + structural + conf_n
        rep.loaded = total - invalid - dup - conf_n
        self._write_rejects(kind, rep)

    # --- reference snapshots --------------------------------------------------------------------

    def _load_reference(self, kind: Kind, rep: FileReport) -> None:
        c = self.con
        suffix = lk.REF_TABLE_OF_KIND[kind.name]
        snap = f"snap_{suffix}"
        has_tenant = "tenant_id" in kind.column_names
        tenant_check = ""
        if has_tenant and kind.name != "tenants":
            tenant_check = (
                ", case when s.tenant_id not in (select tenant_id from snap_tenant) "
                "then 'tenant_id: unknown tenant ''' || s.tenant_id || '''' end"
            )
        c.execute(
            f"create table cur as select s.* exclude (reason), "
            f"coalesce(s.reason{tenant_check}) as reason from stage as s"
        )
        self._classify(kind, f"select * from {snap} where as_of = {_lit(rep.as_of)}::date")
        self._late_raw(self.drop / rep.file, kind)
        cols = []
        for n, _t in lk.TABLES[snap]:
            if n == "as_of":
                cols.append(f"{_lit(rep.as_of)} as as_of")
            elif n == "apns":
                cols.append(
                    "list_filter(string_split(coalesce(apns, ''), ';'), lambda x: x <> '') as apns"
                )
            else:
                cols.append(_ident(n))
        out = self._out_dir()
        parts = "tenant_id, as_of" if has_tenant else "as_of"
        c.execute(
            f"copy (select {', '.join(cols)} from cur where reason is null and ord not in "
            f"(select ord from cls where status <> 'loaded')) to {_lit(str(out))} "
            f"(format parquet, partition_by ({parts}))"
        )
        self._adopt(out, snap)
        self._set_dim(suffix)
        self._count(kind, rep)

    def _set_dim(self, suffix: str) -> None:
        """dim_<x> = the snap_<x> files of each tenant's newest as_of (plans: the newest)."""
        files = self.m["tables"][f"snap_{suffix}"]["files"]
        newest: dict[str, str] = {}
        parsed = []
        for f in files:
            t = re.search(r"/tenant_id=([^/]+)/", f)
            a = re.search(r"/as_of=([^/]+)/", f)
            tenant = t.group(1) if t else ""
            as_of = a.group(1) if a else ""
            parsed.append((f, tenant, as_of))
            newest[tenant] = max(newest.get(tenant, ""), as_of)
        self.m["tables"][f"dim_{suffix}"]["files"] = [
            f for f, tenant, as_of in parsed if as_of == newest[tenant]
        ]

    # --- summaries, ledger, publish -------------------------------------------------------------

    def _rebuild_aggregates(self) -> None:
        """Recompute the summaries of every (tenant, bill period) this load added CDRs to."""
        c = self.con
        affected = {f"tenant_id={t}/bill_period={p}" for t, p in self.affected}

        def in_affected(f: str) -> bool:
            m = re.search(r"/(tenant_id=[^/]+/bill_period=[^/]+)/", f)
            return bool(m) and m.group(1) in affected

        sub = {
            "version": 0,
            "tables": {
                "fct_cdr_affected": {
                    "columns": self.m["tables"]["fct_cdr"]["columns"],
                    "files": [f for f in self.m["tables"]["fct_cdr"]["files"] if in_affected(f)],
                }
            },
        }
        for stmt in lk.reader_views(self.lake, sub):
            c.execute(stmt)
        # A summary's SQL may end in ORDER BY so that its files are sorted for zone maps; the
        # write keeps that order only while insertion order is preserved.
        c.execute("set preserve_insertion_order = true")
        for table in lk.AGGREGATES:
            sql = _lake_sql(table)
            out = self._out_dir()
            c.execute(
                f"copy ({sql}) to {_lit(str(out))} "
                "(format parquet, partition_by (tenant_id, bill_period))"
            )
            entry = self.m["tables"][table]
            entry["files"] = [f for f in entry["files"] if not in_affected(f)]
            added = self._adopt(out, table)
            # A later summary may build on this one: `<table>_affected` is its new partitions.
            view = {"columns": entry["columns"], "files": added}
            for stmt in lk.reader_views(
                self.lake, {"version": 0, "tables": {f"{table}_affected": view}}
            ):
                c.execute(stmt)
        c.execute("set preserve_insertion_order = false")
        self.report.aggregate_partitions = len(affected)

    def _write_ledger(self) -> None:
        c = self.con
        c.execute(
            "create or replace temp table ledger (file_name varchar, sha256 varchar, kind varchar, "
            "as_of date, rows_read bigint, rows_loaded bigint, rows_rejected bigint, "
            "rows_duplicate bigint, rows_conflict bigint, status varchar, message varchar, "
            "load_id varchar, loaded_at timestamptz)"
        )
        rows = [
            (
                f.file,
                f.sha256,
                f.kind,
                f.as_of,
                f.rows_read,
                f.loaded,
                f.rejected,
                f.duplicates,
                f.conflicts,
                f.status,
                f.message,
                self.load_id,
                self.now,
            )
            for f in self.report.files
            if f.status != "skipped"
        ]
        c.executemany("insert into ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        out = self._out_dir()
        c.execute(f"copy ledger to {_lit(str(out / 'ledger.parquet'))} (format parquet)")
        self._adopt(out, "etl_files")

    def _publish(self) -> None:
        # Files reach the disk before the manifest that names them (a crash after the publish
        # must not leave a manifest pointing at lost data).
        dirs = set()
        for rel in self.new_files:
            lk.fsync_path(self.lake / rel)
            dirs.add((self.lake / rel).parent)
        for d in dirs:
            lk.fsync_path(d)
        _pause("before_publish", self.work)
        self.m["version"] = int(self.m.get("version") or 0) + 1
        self.m["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.m["load_id"] = self.load_id
        lk.write_manifest(self.lake, self.m)
        self.report.version = self.m["version"]
        self.report.published = True


def _lake_sql(name: str) -> str:
    return queries.load(f"lake.{name}")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def loaded_counts(files: Iterable[FileReport]) -> dict[str, Any]:
    """Per-file counts as plain dicts (for JSON output and tests)."""
    return {
        f.file: {
            k: getattr(f, k)
            for k in ("status", "rows_read", "loaded", "rejected", "duplicates", "conflicts")
        }
        for f in files
    }
