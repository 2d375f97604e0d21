"""The query benchmark: the portal's named queries through the real gate, side by side with a
baseline that answers the same question from the raw facts, in the same run.

Portal side: `dashboard.gate.run(name, scope, **params)` on the bench lake, the result cache cleared
before every timed run so each run does the work. Baseline side: exactly the same SQL text and the
same bound scope parameters, on a DuckDB connection whose summary tables (`agg_*`) are views that
compute the summary on the fly from all of `fct_cdr` with the load-time SQL
(`queries/lake/agg_*.sql`).
Both answers must hold the same rows; a difference is reported, never hidden.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pandas as pd

import queries
from dashboard import gate
from etl import lake as lake_files

# The summary tables and the load-time query that builds each (it reads `fct_cdr_affected`).
SUMMARIES = {
    "agg_cdr_line_month": "lake.agg_cdr_line_month",
    "agg_tariff_usage_line_month": "lake.agg_tariff_usage_line_month",
}
_COMMENT = queries._LINE_COMMENT  # the loader's own notion of a comment, so we agree on the text


@dataclass(frozen=True)
class Case:
    query: str
    viewer: str  # a key of Viewers.scopes
    params: dict[str, Any]
    what: str  # a short description of the parameters, for the table


@dataclass
class Timing:
    case: Case
    summaries: tuple[str, ...]  # the summary tables the query reads; () = raw facts only
    rows: int = 0
    portal_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    equal: bool | None = None  # None: no baseline (the query reads no summary)
    difference: str = ""
    error: str = ""  # the query could not run (on either side); no timings then


def uses_summaries(sql: str) -> tuple[str, ...]:
    """The summary tables a query reads, directly or through the gate's model views."""
    text = _COMMENT.sub("", sql)
    found = {t for t in SUMMARIES if re.search(rf"\b{t}\b", text)}
    for name in gate.MODEL_VIEWS:
        view = name.split(".", 1)[1]
        if re.search(rf"\b{view}\b", text):
            found.update(uses_summaries(queries.load(name)))
    return tuple(t for t in SUMMARIES if t in found)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (with 5 runs, p95 is the slowest run)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- the baseline engine -------------------------------------------------------------------------


def baseline_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """The lake's reader views and the gate's model views, with each summary table replaced by
    its on-the-fly computation over every row of fct_cdr."""
    con = duckdb.connect(":memory:")
    con.execute("set threads = 2")  # as the gate: a fair comparison on the same cores
    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    # The load-time SQL reads the partitions a load touched; here that is the whole fact table.
    con.execute("create or replace view fct_cdr_affected as select * from fct_cdr")
    for table, build in SUMMARIES.items():
        con.execute(f'create or replace view "{table}" as {queries.load(build)}')
    for name in gate.MODEL_VIEWS:
        con.execute(f'create or replace view "{name.split(".", 1)[1]}" as {queries.load(name)}')
    return con


def bind(sql: str, scope: gate.Scope, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters the gate binds for this scope (docs/architecture.md), plus the caller's."""
    wanted = queries.parameters(sql)
    values = {
        "scope_tenant_id": scope.tenant_id,
        "scope_all_lines": scope.all_lines,
        "scope_msisdns": list(scope.msisdns),
        "scope_min_lines": gate.MIN_SEGMENT_LINES,
    }
    bound = {k: v for k, v in values.items() if k in wanted}
    bound.update(params)
    return bound


# --- equal answers -------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "NULL"
    if isinstance(value, float):
        # Both sides sum the same integers, but a different plan may add doubles in another order.
        return "NULL" if math.isnan(value) else f"{value:.10g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> tuple[bool, str]:
    """Whether two results hold the same columns and the same multiset of rows."""
    if list(a.columns) != list(b.columns):
        return False, f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if len(a) != len(b):
        return False, f"{len(a)} rows vs {len(b)} rows"
    rows_a = Counter(tuple(_cell(v) for v in row) for row in a.itertuples(index=False))
    rows_b = Counter(tuple(_cell(v) for v in row) for row in b.itertuples(index=False))
    if rows_a != rows_b:
        only_a = next(iter(rows_a - rows_b), None)
        return False, f"first differing row: {only_a}"
    return True, ""


# --- the viewers and the cases -------------------------------------------------------------------


@dataclass
class Viewers:
    tenant_id: str
    tenant_lines: int
    scopes: dict[str, gate.Scope]
    itemised_line: dict[str, str]  # viewer → a line it sees, for the itemised page
    manager_id: str
    end_user_id: str


def _user(uid: int, role: str, tenant_id: str | None, employee_id: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        id=uid, role=role, tenant_id=tenant_id, employee_id=employee_id, is_authenticated=True
    )


def pick_viewers(lake: Path, con: duckdb.DuckDBPyConnection) -> Viewers:
    """An admin of the biggest tenant, a middle manager with a real reporting chain, one of that
    manager's reports as an end user, and the analyst; scopes derived by the gate itself."""
    tenant_id, tenant_lines = con.execute(
        "select tenant_id, count(*) from dim_line group by tenant_id order by 2 desc, 1 limit 1"
    ).fetchone()
    employees = con.execute(
        "select employee_id, manager_employee_id from dim_employee where tenant_id = $t",
        {"t": tenant_id},
    ).fetchall()
    lines_of = Counter(
        e
        for (e,) in con.execute(
            "select employee_id from dim_line where tenant_id = $t and employee_id is not null",
            {"t": tenant_id},
        ).fetchall()
    )
    reports: dict[str, list[str]] = {}
    for emp, boss in employees:
        if boss:
            reports.setdefault(boss, []).append(emp)

    def chain(emp: str) -> tuple[int, int]:  # (lines, levels below) of everyone under emp
        total, depth, level, seen = lines_of[emp], 0, [emp], {emp}
        while level:
            level = [r for e in level for r in reports.get(e, ()) if r not in seen]
            seen.update(level)
            total += sum(lines_of[r] for r in level)
            depth += 1 if level else 0
        return total, depth

    # A head of department: the largest chain of at least two levels that is not the whole
    # company (the CEO's scope is every line, which the admin already measures).
    sized = sorted(
        ((chain(m), m) for m in reports),
        key=lambda x: (x[0][0], x[1]),
        reverse=True,
    )
    cap = tenant_lines // 4
    candidates = [(n, m) for (n, depth), m in sized if depth >= 2 and n <= cap] or [
        (n, m) for (n, _), m in sized
    ]
    manager_id = candidates[0][1]
    end_user_id = sorted(r for r in reports[manager_id] if lines_of[r])[0]

    scopes = {
        "admin": gate.scope_for(_user(9001, "admin", tenant_id, None), lake),
        "manager": gate.scope_for(_user(9002, "manager", tenant_id, manager_id), lake),
        "end_user": gate.scope_for(_user(9003, "end_user", tenant_id, end_user_id), lake),
        "analyst": gate.scope_for(_user(9004, "analyst", None, None), lake),
    }
    own = scopes["end_user"].msisdns[0]
    return Viewers(
        tenant_id=str(tenant_id),
        tenant_lines=int(tenant_lines),
        scopes=scopes,
        # the end user's line is in the manager's chain and the admin's tenant: the same
        # question for all three
        itemised_line={"admin": own, "manager": own, "end_user": own},
        manager_id=manager_id,
        end_user_id=end_user_id,
    )


def cases(viewers: Viewers, first: str, last: str) -> list[Case]:
    """The portal's questions over the whole window (the worst case a viewer can ask for)."""
    window = {"period_from": first, "period_to": last}
    out: list[Case] = []
    tenant_viewers = ("admin", "manager", "end_user")
    for v in tenant_viewers:
        out.append(Case("reports.usage_monthly", v, window | {"service": None}, "all services"))
    for v in ("admin", "manager"):  # the page's roles: no end user
        out.append(Case("reports.spend_by_cost_centre", v, dict(window), ""))
    for v in tenant_viewers:
        out.append(Case("reports.overview_kpis", v, dict(window), ""))
    for v in tenant_viewers:
        out.append(
            Case(
                "reports.tariff_analysis",
                v,
                window
                | {
                    "months": 12,
                    "min_saving": Decimal("20"),
                    "min_pct": Decimal("5"),
                    "cost_centre": None,
                },
                "12 months, every plan",
            )
        )
    for v in tenant_viewers:
        out.append(
            Case(
                "reports.top_numbers",
                v,
                window
                | {
                    "service": "VOICE",
                    "by": "calls",
                    "destination_class": None,
                    "cost_centre": None,
                },
                "voice, by calls",
            )
        )
    for v in tenant_viewers:
        out.append(
            Case(
                "reports.itemised_page",
                v,
                {
                    "period_from": last,
                    "period_to": last,
                    "msisdn": viewers.itemised_line[v],
                    "service": None,
                    "number": None,
                    "date_from": None,
                    "date_to": None,
                    "sort": "event_time",
                    "descending": True,
                    "offset": 0,
                },
                "one line, last month, page 1",
            )
        )
    out.append(Case("analyst.growth_segments", "analyst", dict(window), "every tenant"))
    return out


# --- running -------------------------------------------------------------------------------------


def _timed(fn: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    t0 = time.perf_counter()
    df = fn()
    return time.perf_counter() - t0, df


def run_cases(
    lake: Path,
    viewers: Viewers,
    todo: list[Case],
    repeat: int,
    log: Callable[[str], None] = print,
) -> list[Timing]:
    """Time every case on both sides; the gate must already point at `lake` (SELFCARE_LAKE)."""
    assert gate.lake_path() == lake.resolve(), "SELFCARE_LAKE must name the bench lake"
    base = baseline_connection(lake)
    out = []
    try:
        for case in todo:
            scope = viewers.scopes[case.viewer]
            sql = queries.load(case.query)
            t = Timing(case, uses_summaries(sql))

            def portal(case: Case = case, scope: gate.Scope = scope) -> pd.DataFrame:
                gate.clear_caches()  # the result cache would otherwise answer every repeat
                return gate.run(case.query, scope, **case.params)

            bound = bind(sql, scope, case.params)

            def baseline(sql: str = sql, bound: dict[str, Any] = bound) -> pd.DataFrame:
                cur = base.cursor()
                try:
                    return cur.execute(sql, bound).df()
                finally:
                    cur.close()

            try:
                # One untimed run per side: file metadata and the OS cache warm for both alike.
                _, got = _timed(portal)
                t.rows = len(got)
                if t.summaries:
                    _, expected = _timed(baseline)
                    t.equal, t.difference = same_rows(got, expected)
                for _ in range(repeat):
                    # Interleaved, so a burst of load from elsewhere hits both sides alike.
                    t.portal_s.append(_timed(portal)[0])
                    if t.summaries:
                        t.baseline_s.append(_timed(baseline)[0])
            except (gate.GateError, duckdb.Error) as e:
                # One broken query must not hide the figures of the others; the run still fails.
                t.error = str(e).splitlines()[0]
                t.portal_s, t.baseline_s = [], []
                log(f"  {case.query:<30} {case.viewer:<8} ERROR: {t.error}")
                out.append(t)
                continue
            log(
                f"  {case.query:<30} {case.viewer:<8} {t.rows:>6} rows  portal "
                f"{median(t.portal_s) * 1000:8.1f} ms"
                + (f"  baseline {median(t.baseline_s) * 1000:8.1f} ms" if t.baseline_s else "")
                + ("" if t.equal in (True, None) else f"  DIFFERENT: {t.difference}")
            )
            out.append(t)
    finally:
        base.close()
    return out


def point_gate_at(lake: Path) -> None:
    """The gate reads SELFCARE_LAKE outside a Flask app; forget scopes/results of another lake."""
    os.environ["SELFCARE_LAKE"] = str(lake.resolve())
    gate.clear_caches()
