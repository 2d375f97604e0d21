"""The raw-scan baseline and the comparison of answers, for the question benchmark.

Baseline: exactly the portal's SQL text with the same bound scope parameters, on a DuckDB
connection (2 threads, like the gate) whose summary tables, every table of
`selfcare.etl.lake.AGGREGATES`,
are views computing the summary on the fly from all of `fct_cdr` with the load-time SQL
(`queries/lake/<table>.sql`), so the baseline answers each question by scanning the raw facts.
Answers are compared as multisets of rows; a difference is reported, never hidden.
"""

from __future__ import annotations

import math
import os
import re
import statistics
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from selfcare import gate, queries
from selfcare.etl import lake as lake_files

# Every summary the load builds and the load-time query that builds it (it reads
# `fct_cdr_affected`, and a later summary may read `<earlier summary>_affected`).
SUMMARIES = {table: f"lake.{table}" for table in lake_files.AGGREGATES}
_COMMENT = queries._LINE_COMMENT  # the loader's own notion of a comment, so we agree on the text


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
    for table, build in SUMMARIES.items():  # in the load's order: a summary may read an earlier one
        con.execute(f'create or replace view "{table}" as {queries.load(build)}')
        con.execute(f'create or replace view "{table}_affected" as select * from "{table}"')
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


def point_gate_at(lake: Path) -> None:
    """The gate reads SELFCARE_LAKE outside a Flask app; forget scopes/results of another lake."""
    os.environ["SELFCARE_LAKE"] = str(lake.resolve())
    gate.clear_caches()
