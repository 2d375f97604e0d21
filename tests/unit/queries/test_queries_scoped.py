"""Every SQL file that reads personal or fact data binds the viewer's scope.

A static check over queries/: it cannot prove a query right (the access matrix test runs them),
but it fails the moment someone adds a report that forgets the scope.
"""

from __future__ import annotations

import re

import pytest

from selfcare import queries

# Tables holding lines, people, numbers or money: reading one needs the scope.
SCOPED_TABLE = re.compile(
    r"\b(from|join)\s+(fct_\w+|agg_\w+|v_\w+|dim_line|dim_employee|snap_\w+)\b", re.I
)
TENANT_TABLE = re.compile(r"\b(from|join)\s+(dim_cost_centre|dim_account|dim_tenant)\b", re.I)
LINE_GRAINED = re.compile(r"\b(from|join)\s+(fct_\w+|agg_\w+|v_\w+|dim_line|snap_line)\b", re.I)


def _sql(name: str) -> str:
    return re.sub(r"--[^\n]*", "", queries.load(name))


@pytest.mark.parametrize("name", queries.names("reports"))
def test_report_reads_facts_only_within_scope(name):
    sql = _sql(name)
    reads = len(SCOPED_TABLE.findall(sql)) + len(TENANT_TABLE.findall(sql))
    if reads == 0:
        return
    # each read of a tenant table is filtered by the tenant ...
    assert sql.count("$scope_tenant_id") >= reads, f"{name}: a table read without $scope_tenant_id"
    # ... and each read of line-grained data by the visible lines
    line_reads = len(LINE_GRAINED.findall(sql))
    assert sql.count("$scope_all_lines") >= line_reads, f"{name}: line data read without scope"
    assert sql.count("$scope_msisdns") >= line_reads, f"{name}: line data read without scope"


@pytest.mark.parametrize("name", queries.names("analyst"))
def test_analyst_query_is_aggregate_only(name):
    sql = _sql(name)
    assert "$scope_min_lines" in sql, f"{name}: analyst query without the minimum segment size"
    final = sql.lower().rsplit("final as", 1)[-1]
    for column in ("msisdn", "employee_id", "full_name", "email", "other_party", "record_id"):
        assert not re.search(rf"\bas\s+{column}\b", final), f"{name} outputs {column}"


def test_every_model_view_is_created_by_the_gate():
    from selfcare.gate import MODEL_VIEWS

    assert sorted(MODEL_VIEWS) == queries.names("model")


def test_only_the_engine_imports_duckdb_in_the_portal():
    """The gate, the web app and the CLI reach DuckDB only through selfcare.engine (the ETL's own
    load engine is the one exception, until issue 19)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "src" / "selfcare"
    importers = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if p.relative_to(root).parts[0] != "etl"
        and re.search(r"^\s*(import duckdb|from duckdb)", p.read_text(), re.M)
    )
    assert importers == ["engine/duckdb_engine.py"]


def test_parameters_are_bound_never_formatted():
    for name in queries.names():
        sql = queries.load(name)
        assert "{" not in re.sub(r"--[^\n]*", "", sql).replace("{'", ""), name
        assert "%s" not in sql, name
