"""Publish a load: rebuild the summaries of the touched (tenant, bill period) partitions, write the
ledger of the files read, make every new file durable, then replace `manifest.json` once, so a
reader sees the old lake or the new one."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from selfcare import queries
from selfcare.etl import lake as lk
from selfcare.etl.state import LoadState, _lit
from selfcare.etl.state import pause as _pause


class Publish(LoadState):
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
