"""The full path: every row of a file explained.

Stage the file (typed columns, a reason per bad row, the raw text), check it against the lake
(unknown accounts or tenants, duplicates, conflicts by natural key), write the good rows and a
reject row (line number, reason, raw text) for every other. Every reference file takes this path,
and so does any fact file the fast path cannot prove clean.
"""

from __future__ import annotations

from pathlib import Path

from selfcare.contract import Kind
from selfcare.etl import lake as lk
from selfcare.etl.report import FileReport
from selfcare.etl.state import FACT_TABLE, LoadState, _ident, _lit
from selfcare.etl.validate import csv_field_sql as _csv_field
from selfcare.etl.validate import stage_select


def _line_no(ord_expr: str) -> str:
    """SQL for the line number of a good row: its ordinality + the header + the structural
    rejects (which WITH ORDINALITY does not count) before it."""
    return f"({ord_expr} + 1 + (select count(*) from gaps where gaps.g <= {ord_expr}))"


class FullPath(LoadState):
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
