"""The two usage summaries the load writes list the same line-months, those of the raw CDR files.

reports.overview_alerts and analyst.growth_segments take "the months in which a line had usage"
from agg_tariff_usage_line_month (one row per tenant, bill period and msisdn) instead of regrouping
agg_cdr_line_month's service-level rows; that is only right while both summaries hold exactly the
line-months of fct_cdr. Expected sets come from the CDR files (pandas), not from the lake.
"""

from __future__ import annotations

import duckdb

from selfcare.etl import lake as lake_files

KEYS = ("tenant_id", "bill_period", "msisdn")


def _rows(lake, sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_usage_summaries_hold_the_line_months_of_the_cdr_files(lake, raw):
    c = raw.cdr_frame()
    expected = set(c[list(KEYS)].drop_duplicates().itertuples(index=False, name=None))
    assert expected  # the estate has usage, so the comparison below can fail

    tariff_rows = _rows(
        lake, "select tenant_id, bill_period, msisdn from agg_tariff_usage_line_month"
    )
    usage_rows = _rows(
        lake, "select distinct tenant_id, bill_period, msisdn from agg_cdr_line_month"
    )

    assert set(tariff_rows) == expected
    assert set(usage_rows) == expected
    # one row per line-month: the queries count these rows as months without regrouping them
    assert len(tariff_rows) == len(expected)
