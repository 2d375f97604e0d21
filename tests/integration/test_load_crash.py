"""A load killed with SIGKILL at any point leaves the published lake intact and readable, and the
next load completes with exact counts. Real subprocesses, real files; the only hook is an
environment variable that makes the loader sleep at a named point (selfcare.etl.load._pause).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from selfcare.contract import KINDS
from selfcare.etl import lake as lk
from selfcare.etl.load import PAUSE_AT, PAUSE_SECONDS, load

pytestmark = pytest.mark.subprocess  # loads run (and are killed) in subprocesses

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "drop"
CDR_HEADER = ",".join(KINDS["cdr"].column_names)
EMP_HEADER = ",".join(KINDS["employees"].column_names)


def start_load(drop: Path, lake: Path, **env: str) -> subprocess.Popen:
    code = (
        "from selfcare.etl.load import load; "
        f"r = load({str(drop)!r}, {str(lake)!r}, progress=False); print(r.render())"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"load ended before {path.name}: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def state(lake: Path) -> dict:
    """What a reader sees: the version and per-table row counts and charge sums."""
    manifest = lk.read_manifest(lake)
    con = duckdb.connect()
    try:
        for stmt in lk.reader_views(lake, manifest):
            con.execute(stmt)
        out = {"version": lk.current_version(lake)}
        if manifest:
            for t in sorted(manifest["tables"]):
                out[t] = con.execute(f"select count(*) from {t}").fetchone()[0]
            out["cdr_charge"] = con.execute("select sum(charge) from fct_cdr").fetchone()[0]
            out["employees"] = con.execute(
                "select list(employee_id order by employee_id) from dim_employee"
            ).fetchone()[0]
        return out
    finally:
        con.close()


def second_drop(folder: Path) -> Path:
    folder.mkdir()
    rows = [
        f"F{i},A1,27820000001,2026-02-0{i}T08:00:00+02:00,SMS,MO,2783,ONNET,,0,0,,0.5000,"
        for i in range(1, 4)
    ]
    # R1 again, identical: a duplicate
    r1 = (FIXTURES / "cdr_2026-01.csv").read_text().splitlines()[1]
    (folder / "cdr_2026-02.csv").write_text("\n".join([CDR_HEADER, *rows, r1]) + "\n")
    (folder / "billing_2026-02.csv").write_text(
        (FIXTURES / "billing_2026-01.csv")
        .read_text()
        .replace("INV", "FEB")
        .replace("2026-01", "2026-02")
    )
    (folder / "employees_2026-02-01.csv").write_text(
        f"{EMP_HEADER}\nE1,T1,Thandi Nkosi,thandi@acme.example,,CC1,Gauteng\n"
        "E4,T1,Sipho Dlamini,sipho@acme.example,E1,CC2,Limpopo\n"
    )
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(
    "point, marker",
    [
        pytest.param("after_file:0", "paused-after_file-0", id="after-first-file"),
        pytest.param("after_file:1", "paused-after_file-1", id="after-second-file"),
        pytest.param("before_publish", "paused-before_publish-0", id="before-publish"),
    ],
)
def test_a_killed_load_leaves_the_old_lake_serving_and_the_next_load_completes(
    tmp_path, point, marker
):
    lake = tmp_path / "lake"
    load(FIXTURES, lake, progress=False)
    before = state(lake)
    v1_files = lk.manifest_files(lk.read_manifest(lake))
    drop = second_drop(tmp_path / "feb")

    proc = start_load(drop, lake, **{PAUSE_AT: point, PAUSE_SECONDS: "120"})
    wait_for(lake / "work" / marker, proc)
    # the paused load has written files already, yet a reader still sees version 1 exactly
    written = {p for p in (lake / "files").rglob("*.parquet")}
    assert state(lake) == before
    kill(proc)
    assert state(lake) == before
    assert {p for p in (lake / "files").rglob("*.parquet")} >= written

    report = load(drop, lake, progress=False)
    files = {f.file: f for f in report.files}
    assert not report.refused
    assert (files["cdr_2026-02.csv"].loaded, files["cdr_2026-02.csv"].duplicates) == (3, 1)
    assert files["billing_2026-02.csv"].loaded == 4
    after = state(lake)
    assert after["version"] == before["version"] + 1
    assert after["fct_cdr"] == before["fct_cdr"] + 3
    assert after["fct_billing"] == before["fct_billing"] + 4
    assert after["cdr_charge"] == before["cdr_charge"] + Decimal("1.5")
    assert after["employees"] == ["E1", "E4", "E9"]
    assert after["etl_files"] == before["etl_files"] + 3
    # no debris of the killed load: every file on disk is published now or was in version 1
    on_disk = {p.relative_to(lake).as_posix() for p in (lake / "files").rglob("*") if p.is_file()}
    assert on_disk <= lk.manifest_files(lk.read_manifest(lake)) | v1_files


def _csv_total(folder: Path, kind: str) -> tuple[int, Decimal]:
    n, total = 0, Decimal(0)
    column = {"cdr": "charge", "billing": "amount"}[kind]
    for p in sorted(folder.glob(f"{kind}_*.csv")):
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        n += len(df)
        total += sum((Decimal(v) for v in df[column]), Decimal(0))
    return n, total


@pytest.mark.slow
def test_loads_killed_at_random_moments_then_completed_give_exact_totals(tmp_path):
    from selfcare.sample.generate import generate

    estate = tmp_path / "estate"
    generate(out=estate, tenants=2, lines=120, months=4, start="2026-01", seed=11, progress=False)
    lake = tmp_path / "lake"
    for delay in (0.3, 0.9, 1.6):
        proc = start_load(estate, lake)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            # a reader polling during the load sees a consistent lake: the facts it can see are
            # exactly those the published ledger says were loaded
            s = state(lake)
            if s["version"]:
                con = duckdb.connect()
                for stmt in lk.reader_views(lake):
                    con.execute(stmt)
                (ledger,) = con.execute(
                    "select coalesce(sum(rows_loaded), 0) from etl_files where kind = 'cdr'"
                ).fetchone()
                (facts,) = con.execute("select count(*) from fct_cdr").fetchone()
                con.close()
                assert facts == ledger
            time.sleep(0.05)
        if proc.poll() is None:
            kill(proc)
        else:
            proc.communicate()
    report = load(estate, lake, progress=False)
    assert not report.refused
    for f in report.files:
        assert f.rows_read == f.loaded + f.rejected + f.duplicates
    n_cdr, charge = _csv_total(estate, "cdr")
    n_bill, amount = _csv_total(estate, "billing")
    con = duckdb.connect()
    for stmt in lk.reader_views(lake):
        con.execute(stmt)
    assert con.execute("select count(*), sum(charge) from fct_cdr").fetchone() == (n_cdr, charge)
    assert con.execute("select count(*), sum(amount) from fct_billing").fetchone() == (
        n_bill,
        amount,
    )
    assert con.execute("select sum(events), sum(charge) from agg_cdr_line_month").fetchone() == (
        n_cdr,
        charge,
    )
    assert con.execute("select sum(usage_charge) from agg_tariff_usage_line_month").fetchone() == (
        charge,
    )
    # every file was loaded exactly once across the killed and completed runs
    ledger = con.execute(
        "select file_name, sha256 from etl_files where status = 'loaded'"
    ).fetchall()
    con.close()
    assert sorted(ledger) == sorted(
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in estate.iterdir()
    )


def test_the_cli_exits_non_zero_when_a_file_is_refused(tmp_path):
    drop = tmp_path / "drop"
    shutil.copytree(FIXTURES, drop)
    (drop / "cdr_bad.csv").write_text(CDR_HEADER.replace(",charge", "") + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "selfcare.cli", "load", str(drop), "--lake", str(tmp_path / "lake")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "REFUSED cdr_bad.csv: header: missing column(s) charge" in proc.stdout
