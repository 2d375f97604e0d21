"""The numbers-dialled summaries the load writes (agg_cdr_number_month, agg_cdr_line_number_month)
hold exactly what pandas computes from the raw CDR files: every (tenant, month, [line,] service,
number, destination class) with its calls, seconds and cost, and nothing else."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from selfcare.etl import lake as lake_files

NUMBER_KEYS = ["tenant_id", "bill_period", "service", "other_party", "destination_class"]
LINE_KEYS = ["tenant_id", "bill_period", "msisdn", "service", "other_party", "destination_class"]


def _summary(lake, table: str) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        # amounts as text: Decimal comparison, no float rounding
        return con.execute(f"select * replace (cast(cost as varchar) as cost) from {table}").df()
    finally:
        con.close()


def _expected(raw, keys: list[str]) -> pd.DataFrame:
    c = raw.cdr_frame()
    dialled = c[(c.direction == "MO") & (c.other_party != "")].copy()
    # an empty destination class in the CSV is NULL in the lake
    dialled["destination_class"] = dialled.destination_class.replace("", None)
    grouped = dialled.groupby(keys, dropna=False).agg(
        calls=("record_id", "size"),
        duration_s=("duration", "sum"),
        cost=("charge_d", "sum"),
    )
    return grouped.reset_index()


def _compare(got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    assert len(want) > 100  # the estate dials enough numbers for the comparison to mean something
    got = got.copy()
    got["cost"] = got.cost.map(Decimal)
    for frame in (got, want):
        frame["destination_class"] = frame.destination_class.fillna("<null>")
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    assert len(got) == len(want)
    for col in keys:
        assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    assert got.calls.astype(int).tolist() == want.calls.astype(int).tolist()
    assert got.duration_s.astype(int).tolist() == want.duration_s.astype(int).tolist()
    assert got.cost.tolist() == want.cost.tolist()


def test_number_month_summary_matches_the_raw_cdrs(lake, raw):
    _compare(_summary(lake, "agg_cdr_number_month"), _expected(raw, NUMBER_KEYS), NUMBER_KEYS)


def test_line_number_month_summary_matches_the_raw_cdrs(lake, raw):
    _compare(_summary(lake, "agg_cdr_line_number_month"), _expected(raw, LINE_KEYS), LINE_KEYS)


@pytest.mark.parametrize("table", ["agg_cdr_number_month", "agg_cdr_line_number_month"])
def test_number_summaries_hold_only_outgoing_calls_to_a_number(lake, raw, table):
    got = _summary(lake, table)
    assert got.other_party.notna().all() and (got.other_party != "").all()
    c = raw.cdr_frame()
    mo = c[(c.direction == "MO") & (c.other_party != "")]
    # every dialled event is counted once: MT events and events without a number are left out
    assert int(got.calls.sum()) == len(mo) < len(c)
