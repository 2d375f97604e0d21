"""The fast path of a fact file: one streaming pass from the CSV to the lake's Parquet, kept only
when it is proved complete (otherwise the file goes down the full path)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from selfcare.contract import Kind
from selfcare.etl import lake as lk
from selfcare.etl.report import FileReport
from selfcare.etl.state import FACT_TABLE, LoadState, _ident, _lit, _lit_list
from selfcare.etl.validate import fast_ok, typed_expr

_PARTITION_OF = re.compile(r"/tenant_id=([^/]+)/bill_period=([^/]+)/")


class FastPath(LoadState):
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
