"""Portable SQL by rule: every query is written in DuckDB's dialect and runs on Spark SQL after
one transpilation with sqlglot (`to_spark`); `problems` is the lint that keeps it so.

The lint parses each file with sqlglot (never regexes) and rejects the constructs that do not
transpile faithfully, each with the portable form to write instead. The traps were measured on
this lake (tests/integration/test_spark_parity.py runs every file on both engines):

- QUALIFY: Spark has none; sqlglot rewrites it into a subquery that selects every column of the
  window too, so the outer SELECT * then returns duplicated or extra columns. Portable: compute
  the window in a CTE and filter it in the next one with WHERE.
- date_diff / datediff on timestamps: DuckDB counts unit boundaries crossed, Spark's
  timestampdiff counts whole units elapsed, so the same call differs by one near a boundary.
  Portable: date_diff only on DATEs for 'day'/'month' between month starts, or compare
  epoch seconds (an explicit subtraction of epoch values).
- read_parquet(...) or any file path in query text: the engine defines the tables (DuckDB from the
  manifest, Spark as temp views over the same files); a query names tables only.
- DECIMAL / DECIMAL division: the result scale differs (DuckDB gives DOUBLE for some, Spark a
  DECIMAL(38, 6)), so sums of ratios drift. Portable: cast one side to DOUBLE (a ratio) or
  multiply out the comparison (amount * n > k * total) and keep DECIMAL for money.
- UNION (deduplicating) inside a recursive CTE: Spark refuses it. Portable: UNION ALL with a
  depth bound, and DISTINCT where the CTE is read.
- `x::type` is fine (sqlglot reads it as CAST), but DuckDB-only functions that Spark lacks are
  rejected by sqlglot itself (unsupported_level=RAISE).
- `//` (integer division): sqlglot maps it to Spark's DIV, which is exact on integers but
  truncates toward zero while DuckDB floors; portable only on non-negative operands, so the lint
  accepts it and the parity tests hold it to that.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

READ = "duckdb"
WRITE = "spark"

# Functions that read files: the engine defines the tables, a query only names them.
_FILE_READERS = frozenset(
    {"read_parquet", "parquet_scan", "read_csv", "read_csv_auto", "read_json", "glob"}
)


@dataclass(frozen=True)
class Problem:
    query: str
    construct: str
    portable_form: str

    def __str__(self) -> str:
        return f"{self.query}: {self.construct} is not portable; {self.portable_form}"


class NotPortable(ValueError):
    """A query that would not give the same answer on Spark as on DuckDB."""


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read=READ)


def _is_decimal(node: exp.Expression) -> bool:
    """Whether an operand is evidently DECIMAL: a cast to DECIMAL or a decimal literal."""
    if isinstance(node, exp.Paren):
        return _is_decimal(node.this)
    if isinstance(node, exp.Cast):
        return node.to.is_type(exp.DataType.Type.DECIMAL)
    if isinstance(node, exp.Literal) and not node.is_string:
        return "." in node.this
    return False


def _on_timestamps(node: exp.Expression) -> bool:
    """Whether a date_diff's operands are (or may be) timestamps rather than DATEs."""
    for side in (node.this, node.expression):
        if isinstance(side, exp.Cast) and side.to.is_type(exp.DataType.Type.DATE):
            continue
        if isinstance(side, exp.Column) and side.name.endswith(("_date", "_on")):
            continue
        if isinstance(side, exp.Column) and side.name in {"from_date", "to_date"}:
            continue
        return True
    return False


def _refers_to_itself(cte: exp.CTE) -> bool:
    """Whether a CTE of a WITH RECURSIVE reads itself (the others are plain CTEs)."""
    return any(t.name == cte.alias_or_name for t in cte.this.find_all(exp.Table))


def problems(name: str, sql: str) -> list[Problem]:
    """What in this query would not run, or not give the same answer, on Spark."""
    try:
        tree = _parse(sql)
    except ParseError as e:
        return [Problem(name, "text sqlglot cannot parse", f"write plain SQL ({e})")]
    out: list[Problem] = []
    for node in tree.walk():
        if isinstance(node, exp.Qualify):
            out.append(
                Problem(
                    name,
                    "QUALIFY",
                    "compute the window in a CTE and filter it with WHERE in the next one",
                )
            )
        elif isinstance(node, exp.DateDiff | exp.TimestampDiff) and _on_timestamps(node):
            out.append(
                Problem(
                    name,
                    "date_diff on timestamps",
                    "diff DATEs (cast(x as date)) or subtract epoch seconds (epoch(a) - epoch(b))",
                )
            )
        elif isinstance(node, exp.ReadParquet | exp.ReadCSV) or (
            isinstance(node, exp.Anonymous | exp.Func)
            and (node.name or "").lower() in _FILE_READERS
        ):
            out.append(
                Problem(
                    name,
                    f"{node.sql(READ)[:40]} (a file read in query text)",
                    "name the lake's table; the engine defines it over the manifest's files",
                )
            )
        elif (
            isinstance(node, exp.Union)
            and node.args.get("distinct")
            and isinstance(node.parent, exp.CTE)
            and isinstance(node.parent.parent, exp.With)
            and node.parent.parent.args.get("recursive")
            and _refers_to_itself(node.parent)
        ):
            out.append(
                Problem(
                    name,
                    "UNION in a recursive CTE",
                    "use UNION ALL with a depth bound and DISTINCT where the CTE is read",
                )
            )
        elif isinstance(node, exp.Div) and _is_decimal(node.this) and _is_decimal(node.expression):
            out.append(
                Problem(
                    name,
                    "DECIMAL / DECIMAL",
                    "cast one side to DOUBLE for a ratio, or multiply the comparison out",
                )
            )
    try:
        sqlglot.transpile(sql, read=READ, write=WRITE, unsupported_level=ErrorLevel.RAISE)
    except (UnsupportedError, ParseError) as e:
        out.append(Problem(name, "a construct Spark SQL lacks", f"rewrite it ({e})"))
    return out


def _spark_forms(node: exp.Expression) -> exp.Expression:
    """Where sqlglot's Spark output names a function Spark lacks, the function it has: DuckDB's
    to_months(n) (an interval of n months) is Spark's make_ym_interval(0, n)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_months":
        return exp.Anonymous(
            this="MAKE_YM_INTERVAL", expressions=[exp.Literal.number(0), *node.expressions]
        )
    return node


@lru_cache(maxsize=512)
def to_spark(sql: str) -> str:
    """The query in Spark SQL, its `$name` parameters as Spark's named `:name` markers."""
    try:
        tree = _parse(sql).transform(_spark_forms)
        return tree.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE, comments=False)
    except (UnsupportedError, ParseError) as e:
        raise NotPortable(str(e)) from e


def spark_type(duckdb_type: str) -> str:
    """A lake column type (DuckDB's spelling, as in the manifest) in Spark SQL."""
    return exp.DataType.build(duckdb_type, dialect=READ).sql(dialect=WRITE)
