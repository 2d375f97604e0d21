"""generate(dirty=True): the faulty rows it appends are counted and rejected by the loader as its
`.faults.json` says, and what gets loaded is exactly the clean estate of the same seed (checked
with pandas on the clean CSVs, not with the loader's own figures)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from selfcare.contract import KINDS, kind_of
from selfcare.etl import lake as lk
from selfcare.etl.load import load
from selfcare.sample.generate import FAULTS_FILE, generate

SMALL = dict(tenants=2, lines=160, months=3, start="2025-11", seed=11)
# The reason the loader must give for each fault kind (prefix of etl_rejects.reason).
REASON = {
    ("cdr", "conflict"): "conflict: record_id '",
    ("cdr", "unknown_account"): "account_id: unknown account '",
    ("cdr", "invalid_enum"): "service: 'FAX' not one of",
    ("cdr", "malformed_amount"): "charge: not a decimal: '",
    ("cdr", "missing_offset"): "event_time: missing UTC offset: '",
    ("cdr", "missing_required"): "msisdn: required",
    ("cdr", "wrong_field_count"): "wrong number of fields (13, expected 14)",
    ("billing", "conflict"): "conflict: invoice_id + line_no '",
    ("billing", "unknown_account"): "account_id: unknown account '",
    ("billing", "invalid_enum"): "charge_type: 'REFUND' not one of",
    ("billing", "malformed_amount"): "amount: not a decimal: '",
    ("billing", "missing_required"): "amount: required",
    ("billing", "wrong_field_count"): "wrong number of fields (8, expected 9)",
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("dirty")
    clean, dirty, lake = base / "clean", base / "dirty", base / "lake"
    generate(clean, progress=False, **SMALL)
    summary = generate(dirty, progress=False, dirty=True, **SMALL)
    report = load(dirty, lake, progress=False)
    return {"clean": clean, "dirty": dirty, "lake": lake, "summary": summary, "report": report}


@pytest.fixture(scope="module")
def manifest(folders) -> dict:
    return json.loads((folders["dirty"] / FAULTS_FILE).read_text())


@pytest.fixture(scope="module")
def con(folders):
    c = duckdb.connect(":memory:")
    for statement in lk.reader_views(folders["lake"]):
        c.execute(statement)
    yield c
    c.close()


def data_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def test_dirty_files_are_the_clean_files_plus_appended_rows(folders, manifest):
    clean, dirty = folders["clean"], folders["dirty"]
    assert sorted(p.name for p in dirty.iterdir()) == sorted(
        [p.name for p in clean.iterdir()] + [FAULTS_FILE]
    )
    fact_files = [p.name for p in clean.iterdir() if kind_of(p.name).fact]
    assert sorted(manifest["files"]) == sorted(fact_files)
    for p in clean.iterdir():
        before, after = p.read_bytes(), (dirty / p.name).read_bytes()
        assert after.startswith(before), p.name
        if not kind_of(p.name).fact:
            assert after == before, p.name
            continue
        entry = manifest["files"][p.name]
        added = after[len(before) :].decode().splitlines()
        assert entry["clean_rows"] == len(data_lines(p))
        assert len(added) == sum(entry["injected"].values()) > 0
        # Every fault kind is present in every fact file (no timestamp in billing).
        kinds = set(entry["injected"])
        expected = set(k for _, k in REASON) | {"duplicate"}
        if entry["kind"] == "billing":
            expected -= {"missing_offset"}
        assert kinds == expected and min(entry["injected"].values()) >= 1


def test_duplicates_repeat_a_clean_row_and_conflicts_a_clean_key(folders, manifest):
    for name, entry in manifest["files"].items():
        kind = KINDS[entry["kind"]]
        key = [kind.column_names.index(k) for k in kind.key]
        clean = data_lines(folders["clean"] / name)
        clean_keys = {tuple(r[i] for i in key): r for r in csv.reader(clean)}
        lines = (folders["dirty"] / name).read_text().splitlines()
        for line_no, fault in entry["lines"].items():
            text = lines[int(line_no) - 1]
            row = next(csv.reader([text]))
            if fault == "duplicate":
                assert text in clean
            elif fault == "conflict":
                original = clean_keys[tuple(row[i] for i in key)]
                assert row != original


def test_load_counts_match_the_manifest(folders, manifest):
    by_file = {f.file: f for f in folders["report"].files}
    assert all(f.status == "loaded" for f in by_file.values())
    for name, entry in manifest["files"].items():
        f, inj = by_file[name], entry["injected"]
        n_clean = len(data_lines(folders["clean"] / name))
        assert f.rows_read == n_clean + sum(inj.values())
        assert f.loaded == n_clean
        assert f.duplicates == inj["duplicate"]
        assert f.conflicts == inj["conflict"]
        assert f.rejected == sum(inj.values()) - inj["duplicate"]
        assert f.rows_read == f.loaded + f.rejected + f.duplicates
    t = folders["report"].totals
    assert t["rows_read"] == t["loaded"] + t["rejected"] + t["duplicates"]
    assert t["duplicates"] == manifest["totals"]["duplicate"] > 0
    assert folders["summary"]["faults"] == manifest


def test_each_reject_has_the_reason_of_its_fault(con, manifest):
    got = {
        (f, int(n)): r
        for f, n, r in con.execute("select file_name, line_no, reason from etl_rejects").fetchall()
    }
    expected = {
        (name, int(line_no)): (entry["kind"], fault)
        for name, entry in manifest["files"].items()
        for line_no, fault in entry["lines"].items()
        if fault != "duplicate"
    }
    assert set(got) == set(expected)
    for where, (kind, fault) in expected.items():
        assert got[where].startswith(REASON[(kind, fault)]), (where, fault, got[where])
    # both spellings of a malformed amount occur
    amounts = {r for r in got.values() if "not a decimal" in r}
    assert any("'12,50'" in r for r in amounts) and any("'abc'" in r for r in amounts)


def test_loaded_facts_equal_the_clean_estate(folders, con):
    def read(kind: str) -> pd.DataFrame:
        files = sorted(p for p in folders["clean"].iterdir() if kind_of(p.name).name == kind)
        return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in files])

    bill = read("billing")
    bill["amount"] = bill["amount"].map(Decimal)
    want = bill.groupby("bill_period")["amount"].sum().to_dict()
    got = dict(
        con.execute("select bill_period, sum(amount) from fct_billing group by all").fetchall()
    )
    assert got == want
    assert con.execute("select count(*) from fct_billing").fetchone()[0] == len(bill)

    cdr = read("cdr")
    ids, total = con.execute("select list(record_id), sum(charge) from fct_cdr").fetchone()
    assert sorted(ids) == sorted(cdr["record_id"])
    assert total == sum(cdr["charge"].map(Decimal))


def test_dirty_output_is_deterministic(folders, tmp_path):
    again = tmp_path / "again"
    generate(again, progress=False, dirty=True, **SMALL)
    for p in folders["dirty"].iterdir():
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name


def test_gzip_dirty_files_hold_the_same_rows(folders, tmp_path):
    import gzip

    gz = tmp_path / "gz"
    generate(gz, progress=False, dirty=True, gzip=True, **SMALL)
    for name in json.loads((gz / FAULTS_FILE).read_text())["files"]:
        plain = (folders["dirty"] / name.removesuffix(".gz")).read_text()
        assert gzip.decompress((gz / name).read_bytes()).decode() == plain
