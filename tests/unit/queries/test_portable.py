"""Portable SQL by rule: every query file passes the lint (queries/portable.py), and the lint
rejects each known trap with the portable form to use instead. The answers themselves are
compared on both engines in tests/integration/test_spark_parity.py."""

from __future__ import annotations

import pytest

from selfcare import queries
from selfcare.queries import portable


@pytest.mark.parametrize("name", queries.names())
def test_every_query_file_is_portable(name):
    sql = queries.load(name)
    assert [str(p) for p in portable.problems(name, sql)] == []
    spark = portable.to_spark(sql)
    # the scope stays a bound parameter on Spark too: named markers, never values in the text
    for param in queries.parameters(sql):
        assert f":{param}" in spark, f"{name}: ${param} is not a Spark parameter marker"
    assert "$" not in spark.replace("'$'", "")


TRAPS = {
    "QUALIFY": (
        "select msisdn, row_number() over (partition by tenant_id order by msisdn) as n "
        "from dim_line qualify n = 1",
        "WHERE in the next one",
    ),
    "date_diff on timestamps": (
        "select date_diff('minute', event_time, event_time + interval 1 hour) from fct_cdr",
        "epoch seconds",
    ),
    "a file read in query text": ("select * from read_parquet('x.parquet')", "name the lake's"),
    "DECIMAL / DECIMAL": (
        "select cast(amount as decimal(18, 4)) / cast(vat as decimal(18, 4)) from fct_billing",
        "DOUBLE",
    ),
    "UNION in a recursive CTE": (
        "with recursive t as (select 1 as n union select n + 1 from t where n < 3) select * from t",
        "UNION ALL",
    ),
}


@pytest.mark.parametrize("construct", sorted(TRAPS))
def test_each_trap_is_rejected_with_its_portable_form(construct):
    sql, hint = TRAPS[construct]
    found = portable.problems("trap", sql)
    assert any(construct in p.construct and hint in p.portable_form for p in found), found


def test_portable_forms_pass():
    ok = [
        "with w as (select msisdn, row_number() over (order by msisdn) as n from dim_line) "
        "select msisdn from w where n = 1",
        "select date_diff('month', cast('2026-01-01' as date), cast('2026-03-01' as date))",
        "select cast(amount as double) / cast(vat as double) from fct_billing",
        "with recursive t as (select 1 as n union all select n + 1 from t where n < 3) "
        "select distinct n from t",
    ]
    for sql in ok:
        assert portable.problems("ok", sql) == [], sql


def test_duckdb_only_forms_get_spark_functions():
    spark = portable.to_spark("select cast($p || '-01' as date) - to_months(2) as d")
    assert "MAKE_YM_INTERVAL(0, 2)" in spark and ":p" in spark
    assert portable.spark_type("TIMESTAMPTZ") == "TIMESTAMP"
    assert portable.spark_type("VARCHAR[]") == "ARRAY<STRING>"
