"""The benchmark harness: it runs end to end at tiny scale (so it cannot rot), its pieces do what
they claim (exact drops, contract types, every portal question asked with the parameters its SQL
names), the baseline and pandas answers agree with the portal's, and its comparisons really tell
different answers apart. No timing is asserted anywhere.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench import compare, etl_bench, pandas_peer
from bench import questions as bq
from bench.run import BEGIN, END, main, parse_args
from selfcare import gate, queries
from selfcare.contract import KINDS

ROOT = Path(__file__).resolve().parents[2]
ETL_ROWS = (2000, 6000)


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


def test_every_summary_the_load_builds_has_a_baseline():
    from selfcare.etl import lake as lake_files

    assert list(compare.SUMMARIES) == list(lake_files.AGGREGATES)
    assert all(queries.load(build) for build in compare.SUMMARIES.values())


def test_summaries_are_detected_outside_comments():
    first = next(iter(compare.SUMMARIES))
    assert compare.uses_summaries(f"-- reads {first}\nselect 1 from fct_cdr") == ()
    sql = "select * from " + " join ".join(f"{t} using (msisdn)" for t in compare.SUMMARIES)
    assert set(compare.uses_summaries(sql)) == set(compare.SUMMARIES)
    assert compare.uses_summaries(f"select * from {first}_old") == ()


def test_summaries_read_through_model_views_are_detected():
    """A report reading a model view reads whatever that view reads (the baseline must run)."""
    for name in gate.MODEL_VIEWS:
        view = name.split(".", 1)[1]
        direct = compare.uses_summaries(queries.load(name))
        assert compare.uses_summaries(f"select * from {view} as v") == direct, view


def test_pandas_answer_check_tells_different_figures_apart():
    portal = pd.DataFrame({"bill_period": ["2026-01"], "cost_centre_id": ["CC1"], "lines": [3],
                           "amount_excl_vat": [Decimal("10.0000")], "vat": [Decimal("1.5")]})
    same = [{"bill_period": "2026-01", "cost_centre_id": "CC1", "lines": 3,
             "amount_excl_vat": 10.0, "vat": 1.5}]  # fmt: skip
    q = "reports.spend_by_cost_centre"
    assert pandas_peer.same_answer(q, portal, same) == (True, "")
    assert not pandas_peer.same_answer(q, portal, [same[0] | {"vat": 1.51}])[0]
    assert not pandas_peer.same_answer(q, portal, [same[0] | {"cost_centre_id": "CC2"}])[0]
    assert not pandas_peer.same_answer(q, portal, same * 2)[0]


# --- the ETL drops and the bare COPY ------------------------------------------------------------


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_drop_holds_exactly_n_cdrs_in_file_order_and_the_reference_files(tmp_path):
    estate = tmp_path / "estate"
    estate.mkdir()
    header = ",".join(KINDS["cdr"].column_names)
    jan = [f"C1-{i}" for i in range(3)]
    feb = [f"C2-{i}" for i in range(4)]
    _write(estate / "cdr_2026-01.csv", header, jan)
    _write(estate / "cdr_2026-02.csv", header, feb)
    for name in ("billing_2026-01.csv", "billing_2026-02.csv", "lines_2026-02-28.csv"):
        _write(estate / name, "h", ["x"])
    info = etl_bench.build_drop(estate, 5, tmp_path / "drop_5")
    drop = tmp_path / "drop_5"
    assert sorted(p.name for p in drop.iterdir()) == ["cdr_2026-01.csv", "lines_2026-02-28.csv"]
    assert (drop / "cdr_2026-01.csv").read_text().splitlines() == [header, *jan, *feb[:2]]
    assert info["periods"] == ["2026-01", "2026-02"]
    assert info["billing_files"] == ["billing_2026-01.csv", "billing_2026-02.csv"]
    assert not (drop / "drop_5.json").exists()  # the loader would refuse a stray file
    with pytest.raises(RuntimeError, match="holds only 7"):
        etl_bench.build_drop(estate, 8, tmp_path / "drop_8")


def test_bare_copy_writes_the_contract_types(tmp_path):
    csv = tmp_path / "cdr.csv"
    _write(csv, ",".join(KINDS["cdr"].column_names), [
        "R1,A1,2771,2026-01-05T10:00:00+02:00,VOICE,MO,2772,ONNET,,60,0,,1.2500,B1",
    ])  # fmt: skip
    out = tmp_path / "cdr.parquet"
    con = duckdb.connect()
    con.execute(etl_bench.duckdb_copy_sql(str(csv), str(out)))
    described = con.execute(f"describe select * from read_parquet('{out}')").fetchall()
    names = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
    assert [(r[0], r[1]) for r in described] == [
        (c.name, names.get(c.type, c.type)) for c in KINDS["cdr"].columns
    ]
    assert con.execute(f"select charge from '{out}'").fetchone()[0] == Decimal("1.25")


# --- the list of questions ----------------------------------------------------------------------


def _viewers() -> bq.Viewers:
    return bq.Viewers(
        tenant_id="T01", tenant_lines=10, manager_id="M", manager_lines=3, end_user_id="E",
        scopes={}, line="27700000001", cost_centre_id="CC1", number="27700000002",
    )  # fmt: skip


def _asked_by_the_portal() -> set[str]:
    """Every query name in a gate.run call or an export registration of the portal's source."""
    names = set()
    web = ROOT / "src" / "selfcare" / "web"
    for path in [*sorted((web / "pages").glob("*.py")), web / "app.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if re.fullmatch(r"(reports|analyst)\.[a-z_]+", node.value):
                    names.add(node.value)
    return names


def test_every_question_the_portal_asks_is_benchmarked():
    asked = {q.query for q in bq.questions(_viewers(), "2025-11", "2026-10")}
    missing = _asked_by_the_portal() - asked
    assert not missing, f"add these to bench.questions.questions(): {sorted(missing)}"


def test_questions_pass_exactly_the_parameters_their_sql_names():
    for q in bq.questions(_viewers(), "2025-11", "2026-10"):
        wanted = queries.parameters(queries.load(q.query)) - gate.SCOPE_PARAMS - gate.CHUNK_PARAMS
        assert set(q.params) == wanted, q.key


def test_questions_cover_both_periods_and_every_viewer():
    qs = bq.questions(_viewers(), "2025-11", "2026-10")
    assert {q.viewer for q in qs} == {"finance", "manager", "end_user", "analyst"}
    kpis = {q.period: q.params for q in qs
            if q.query == "reports.overview_kpis" and q.viewer == "finance"}  # fmt: skip
    assert kpis == {
        "1 month": {"period_from": "2026-10", "period_to": "2026-10"},
        "12 months": {"period_from": "2025-11", "period_to": "2026-10"},
    }
    assert len({q.key + json.dumps(q.params, default=str) for q in qs}) == len(qs)
    assert any(q.export for q in qs) and any(not q.export for q in qs)


# --- the harness end to end ---------------------------------------------------------------------


def _server_ready() -> bool:
    from bench import http_load

    return hasattr(http_load, "run_server_load")


def _browser_ready() -> bool:
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return False
    try:
        return hasattr(importlib.import_module("bench.browser"), "time_browser")
    except ImportError:
        return False


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[Path, dict, Path]:
    """The whole harness once at tiny scale: (work folder, results, rewritten docs copy)."""
    work = tmp_path_factory.mktemp("bench")
    docs = work / "performance.md"
    shutil.copy(ROOT / "docs" / "performance.md", docs)
    skip = [p for p, ready in (("server", _server_ready()), ("browser", _browser_ready()))
            if not ready]  # fmt: skip
    args = parse_args([
        "--work", str(work), "--results", str(work / "results"), "--docs", str(docs),
        "--lines", "60", "--months", "2", "--etl-rows", ",".join(map(str, ETL_ROWS)),
        "--repeat", "2", "--cold-repeat", "2", "--baseline-repeat", "1",
        "--server-seconds", "3", "--server-users", "2", "--browser-repeat", "1",
        *(["--skip", ",".join(skip)] if skip else []),
    ])  # fmt: skip
    assert main(args) == 0
    return work, json.loads((work / "results" / "latest.json").read_text()), docs


@pytest.mark.slow
@pytest.mark.subprocess
def test_bench_runs_every_part_and_every_answer_agrees(bench_run):
    work, result, _ = bench_run
    assert result["failures"] == []
    parts = result["parts"]
    assert {"etl", "big_lake", "questions", "pandas_peer"} <= set(parts)
    timings = parts["questions"]["timings"]
    assert {t["viewer"] for t in timings} == {"finance", "manager", "end_user", "analyst"}
    assert all(len(t["warm_s"]) == 2 and len(t["cold_s"]) == 2 for t in timings)
    compared = [t for t in timings if t["summaries"]]
    assert compared and all(t["equal"] is True and len(t["baseline_s"]) == 1 for t in compared)
    # pandas on the raw CSVs agrees with the portal on every question it answers
    assert parts["pandas_peer"]["rows"] and all(r["equal"] for r in parts["pandas_peer"]["rows"])
    assert {t["target"].split(":")[0] for t in result["targets"]} >= {
        f"ETL at {max(ETL_ROWS):,} rows"
    }
    assert (work / "results" / "latest.md").read_text().startswith("# Benchmark")
    stamp = result["started"].replace(":", "").replace("-", "")
    assert (work / "results" / f"{stamp}.json").is_file()


@pytest.mark.slow
@pytest.mark.subprocess
def test_etl_contestants_read_exactly_the_rows_of_the_drop(bench_run):
    work, result, _ = bench_run
    runs = result["parts"]["etl"]["runs"]
    assert Counter((r["contestant"], r["cdr_rows"]) for r in runs) == Counter(
        (c, n) for c in etl_bench.CONTESTANTS for n in ETL_ROWS
    )
    for n in ETL_ROWS:
        drop = work / "etl" / f"drop_{n}"
        (cdr,) = drop.glob("cdr_*.csv")
        assert len(pd.read_csv(cdr, dtype=str)) == n  # independent of the harness's counting
        for r in runs:
            if r["cdr_rows"] == n and r["contestant"] != "ours":
                assert r["rows_read"] == n
    # the kept 10 M-style lake holds exactly the largest drop's CDRs
    con = duckdb.connect()
    lake = Path(result["parts"]["etl"]["peer_lake"])
    from selfcare.etl import lake as lake_files

    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    assert con.execute("select count(*) from fct_cdr").fetchone()[0] == max(ETL_ROWS)


@pytest.mark.slow
@pytest.mark.subprocess
def test_manager_is_the_chain_closest_to_200_lines(bench_run):
    """Chains recomputed with pandas from the generated HR and line files of the big lake."""
    work, result, _ = bench_run
    v = result["parts"]["questions"]["viewers"]
    lake = Path(result["parts"]["big_lake"]["lake"])
    con = duckdb.connect()
    from selfcare.etl import lake as lake_files

    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    emp = con.execute("select * from dim_employee where tenant_id = $t", {"t": v["tenant_id"]}).df()
    lines = con.execute("select * from dim_line where tenant_id = $t", {"t": v["tenant_id"]}).df()
    per = lines.employee_id.value_counts()
    boss = dict(zip(emp.employee_id, emp.manager_employee_id, strict=True))

    def chain_lines(m: str) -> int:
        total = 0
        for e in emp.employee_id:
            x = e
            while x is not None and isinstance(x, str):
                if x == m:
                    total += int(per.get(e, 0))
                    break
                x = boss.get(x)
        return total

    managers = set(emp.manager_employee_id.dropna())
    best = min(abs(chain_lines(m) - bq.MANAGER_LINES) for m in managers)
    assert abs(chain_lines(v["manager_id"]) - bq.MANAGER_LINES) == best
    assert v["manager_lines"] == chain_lines(v["manager_id"])
    assert boss[v["end_user_id"]] == v["manager_id"] and per.get(v["end_user_id"], 0) >= 1


@pytest.mark.slow
@pytest.mark.subprocess
def test_docs_results_section_is_rewritten_and_the_prose_kept(bench_run):
    _, result, docs = bench_run
    before = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    after = docs.read_text(encoding="utf-8")
    assert before.split(BEGIN)[0] == after.split(BEGIN)[0]
    assert before.split(END)[1] == after.split(END)[1]
    section = after.split(BEGIN)[1].split(END)[0]
    assert f"Benchmark {result['started']}" in section and "--etl-rows" in section
    assert "| target | measured | limit | verdict |" in section


@pytest.mark.slow
@pytest.mark.subprocess
def test_baseline_computes_every_summary_from_raw_cdrs_alone(bench_run, tmp_path):
    """With the summary files gone, the baseline's views hold the same rows the load wrote."""
    from selfcare.etl import lake as lake_files

    _, result, _ = bench_run
    lake = tmp_path / "lake"
    shutil.copytree(result["parts"]["big_lake"]["lake"], lake)
    loaded = duckdb.connect()
    for statement in lake_files.reader_views(lake):
        loaded.execute(statement)
    expected = {t: loaded.execute(f"select * from {t}").df() for t in compare.SUMMARIES}
    con = compare.baseline_connection(lake)  # before the files go: views bind at creation
    for table in compare.SUMMARIES:
        shutil.rmtree(lake / "files" / table)
    try:
        for table, rows in expected.items():
            assert len(rows), table
            assert compare.same_rows(con.execute(f"select * from {table}").df(), rows) == (
                True, ""), table  # fmt: skip
    finally:
        con.close()
