"""The benchmark harness: it runs end to end on a tiny estate, the baseline (summaries computed
from raw CDRs) and the portal (summaries from the lake) return the same rows, and its comparison
of results really tells different answers apart. No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import queries
from bench import compare
from bench.run import half_drop, main
from dashboard import gate

TINY = {"lines": 60, "months": 2}


def _namespace(work: Path, **extra) -> argparse.Namespace:
    return argparse.Namespace(
        lines=TINY["lines"], months=TINY["months"], repeat=1, work=str(work),
        results=str(work / "results"), **extra,
    )  # fmt: skip


def _raw(drop: Path, kind: str) -> pd.DataFrame:
    files = sorted(drop.glob(f"{kind}_*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files])


# --- the comparison of results, on hand-made frames -------------------------------------------


def test_same_rows_ignores_row_order_and_decimal_scale():
    a = pd.DataFrame({"k": ["x", "y"], "v": [Decimal("1.50"), Decimal("2")]})
    b = pd.DataFrame({"k": ["y", "x"], "v": [Decimal("2.0000"), Decimal("1.5")]})
    assert compare.same_rows(a, b) == (True, "")


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(pd.DataFrame({"k": ["x", "y"], "v": [1.0, 2.5]}), id="one-value"),
        pytest.param(pd.DataFrame({"k": ["x"], "v": [1.0]}), id="missing-row"),
        pytest.param(pd.DataFrame({"k": ["x", "x"], "v": [1.0, 1.0]}), id="duplicated-row"),
        pytest.param(pd.DataFrame({"key": ["x", "y"], "v": [1.0, 2.0]}), id="column-name"),
        pytest.param(pd.DataFrame({"k": ["x", None], "v": [1.0, 2.0]}), id="null-vs-value"),
    ],
)
def test_same_rows_tells_different_answers_apart(other):
    base = pd.DataFrame({"k": ["x", "y"], "v": [1.0, 2.0]})
    equal, why = compare.same_rows(base, other)
    assert not equal and why


def test_percentiles_are_nearest_rank():
    assert compare.percentile(list(range(1, 21)), 95) == 19
    assert compare.percentile([0.3, 0.1, 0.2, 0.5, 0.4], 95) == 0.5  # 5 runs: the slowest
    assert compare.median([0.3, 0.1, 0.2]) == 0.2


def test_summaries_are_detected_outside_comments():
    assert compare.uses_summaries("-- reads agg_cdr_line_month\nselect 1 from fct_cdr") == ()
    sql = "select * from agg_tariff_usage_line_month join agg_cdr_line_month using (msisdn)"
    assert set(compare.uses_summaries(sql)) == set(compare.SUMMARIES)


def test_summaries_read_through_model_views_are_detected():
    """A report reading a model view reads whatever that view reads (the baseline must run)."""
    for name in gate.MODEL_VIEWS:
        view = name.split(".", 1)[1]
        direct = compare.uses_summaries(queries.load(name))
        assert compare.uses_summaries(f"select * from {view} as v") == direct, view
    assert compare.uses_summaries("select * from agg_cdr_line_month_old") == ()


def test_half_drop_keeps_reference_files_and_the_first_months(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    names = ["tenants_2026-03-31.csv", "lines_2026-03-31.csv"] + [
        f"{k}_2026-0{m}.csv" for k in ("cdr", "billing") for m in (1, 2, 3, 4)
    ]
    for n in names:
        (drop / n).write_text(n)
    half, kept = half_drop(drop, tmp_path / "half")
    assert kept == ["2026-01", "2026-02"]
    assert sorted(p.name for p in half.iterdir()) == sorted(
        ["tenants_2026-03-31.csv", "lines_2026-03-31.csv"]
        + [f"{k}_2026-0{m}.csv" for k in ("cdr", "billing") for m in (1, 2)]
    )
    assert (half / "cdr_2026-01.csv").read_text() == "cdr_2026-01.csv"


# --- the harness end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[Path, dict]:
    """The harness run once on a tiny estate, without the HTTP part: (work folder, results)."""
    work = tmp_path_factory.mktemp("bench")
    assert main(_namespace(work, skip_http=True)) == 0
    return work, json.loads((work / "results" / "latest.json").read_text())


@pytest.mark.slow
def test_bench_runs_and_baseline_equals_portal(bench_run):
    work, result = bench_run
    assert (work / "results" / "latest.md").read_text().startswith("# Benchmark")
    timings = result["queries"]["timings"]
    compared = [t for t in timings if t["summaries"]]
    # every query that reads a summary was answered by both sides, with the same rows
    assert {t["query"] for t in compared} >= {
        "reports.usage_monthly", "reports.overview_kpis", "reports.tariff_analysis",
        "analyst.growth_segments",
    }  # fmt: skip
    assert all(t["equal"] is True for t in compared), [t["difference"] for t in compared]
    assert all(len(t["portal_s"]) == 1 and len(t["baseline_s"]) == 1 for t in compared)
    assert {t["viewer"] for t in timings} == {"admin", "manager", "end_user", "analyst"}


@pytest.mark.slow
def test_reported_figures_match_the_raw_files(bench_run):
    """Row counts in the results agree with the export files (pandas, not our queries)."""
    work, result = bench_run
    drop = work / "drop"
    cdr, billing = _raw(drop, "cdr"), _raw(drop, "billing")
    data_rows = sum(len(pd.read_csv(f, dtype=str)) for f in drop.glob("*.csv"))
    full = result["loads"][1]
    assert (full["rows"], full["cdr_rows"]) == (data_rows, len(cdr))
    assert result["generation"]["cdr_rows"] == len(cdr)
    assert result["generation"]["billing_rows"] == len(billing)

    # usage_monthly for the admin: one row per bill period (Johannesburg time, UTC+2) and service
    # of the admin's tenant
    accounts = _raw(drop, "accounts")
    tenant_of = dict(zip(accounts.account_id, accounts.tenant_id, strict=True))
    cdr["tenant_id"] = cdr.account_id.map(tenant_of)
    local = pd.to_datetime(cdr.event_time, utc=True, format="ISO8601").dt.tz_convert(
        "Africa/Johannesburg"
    )
    cdr["bill_period"] = local.dt.strftime("%Y-%m")
    mine = cdr[cdr.tenant_id == result["queries"]["tenant_id"]]
    usage = next(
        t for t in result["queries"]["timings"]
        if t["query"] == "reports.usage_monthly" and t["viewer"] == "admin"
    )  # fmt: skip
    assert usage["rows"] == len(mine.groupby(["bill_period", "service"]))


@pytest.mark.slow
def test_baseline_reads_no_summary_file(bench_run, tmp_path):
    """With the summary files gone, the baseline still answers, from the raw CDRs alone."""
    work, _ = bench_run
    lake = tmp_path / "lake"
    shutil.copytree(work / "lake", lake)
    con = compare.baseline_connection(lake)
    try:
        for table in compare.SUMMARIES:
            shutil.rmtree(lake / "files" / table)
        cdr = _raw(work / "drop", "cdr")
        assert con.execute("select sum(events) from agg_cdr_line_month").fetchone()[0] == len(cdr)
        # one tariff row per line and bill period (Johannesburg time, UTC+2) with a CDR
        n = con.execute("select count(*) from agg_tariff_usage_line_month").fetchone()[0]
        local = pd.to_datetime(cdr.event_time, utc=True, format="ISO8601").dt.tz_convert(
            "Africa/Johannesburg"
        )
        periods = cdr.assign(period=local.dt.strftime("%Y-%m"))
        assert n == len(periods.groupby(["account_id", "msisdn", "period"]))
    finally:
        con.close()


@pytest.mark.slow
def test_http_load_against_the_real_server(tmp_path):
    work = tmp_path / "bench"
    assert main(_namespace(work, http_clients=2, http_requests=9)) == 0
    h = json.loads((work / "results" / "latest.json").read_text())["http"]
    assert (h["requests"], h["ok"], h["errors"]) == (9, 9, 0)
    assert all(len(ep["latencies"]) == 3 and ep["bytes"] > 0 for ep in h["endpoints"])
