"""The loader's fast path: one pass from CSV to the lake for a fact file that proves clean.

It must never change what is loaded. The checks here: a fast load and a full-path-only load of
the same drop (clean and dirty) leave the same rows in every table and the same counts; every row
`fast_ok` passes is one the full checks pass with the same typed values; and every kind of doubt
(a line break inside a field, a key repeated in the file or already in the lake, a row the full
checks must judge) sends the file down the full path.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import duckdb
import pytest

from selfcare.contract import KINDS
from selfcare.etl import lake as lk
from selfcare.etl.load import load
from selfcare.etl.validate import fast_ok, stage_select, typed_expr
from selfcare.sample.generate import generate

SMALL = {"tenants": 2, "lines": 60, "months": 2, "start": "2026-03", "seed": 11}
# Every table whose rows the load decides; the ledger and rejects are compared separately.
TABLES = ("fct_cdr", "fct_billing", "agg_cdr_line_month", "agg_tariff_usage_line_month")


def _contents(lake: Path, table: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        for stmt in lk.reader_views(lake):
            con.execute(stmt)
        cols = [c for c, _t in lk.TABLES[table] if c != "load_id"]
        sql = f"select {', '.join(cols)} from {table} order by all"
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _rejects(lake: Path) -> list[tuple]:
    con = duckdb.connect()
    try:
        for stmt in lk.reader_views(lake):
            con.execute(stmt)
        return con.execute(
            "select file_name, line_no, reason, raw from etl_rejects order by all"
        ).fetchall()
    finally:
        con.close()


def _counts(report) -> dict:
    return {
        f.file: (f.status, f.rows_read, f.loaded, f.rejected, f.duplicates, f.conflicts)
        for f in report.files
    }


@pytest.mark.parametrize("dirty", [False, True], ids=["clean", "dirty"])
def test_fast_and_full_paths_load_the_same(tmp_path, dirty):
    drop = tmp_path / "drop"
    generate(out=drop, progress=False, dirty=dirty, **SMALL)
    fast = load(drop, tmp_path / "fast", progress=False)
    full = load(drop, tmp_path / "full", progress=False, fast_path=False)
    assert _counts(fast) == _counts(full)
    for table in TABLES:
        assert _contents(tmp_path / "fast", table) == _contents(tmp_path / "full", table), table
    assert _rejects(tmp_path / "fast") == _rejects(tmp_path / "full")
    methods = {f.file: f.method for f in fast.files if f.kind in ("cdr", "billing")}
    assert {f.method for f in full.files if f.kind in ("cdr", "billing")} == {"full"}
    if not dirty:
        # a clean generated feed is read once per file
        assert set(methods.values()) == {"fast"}, methods
    else:
        # the dirty feed's faulty files are explained row by row
        faulty = {f.file for f in full.files if f.rejected or f.duplicates}
        assert faulty and all(methods[name] == "full" for name in faulty if name in methods)


# --- fast_ok never passes a row the full checks would judge differently ------------------------

GOOD = {
    "record_id": "R1",
    "account_id": "A1",
    "msisdn": "27820000001",
    "event_time": "2026-01-10T08:00:00+02:00",
    "service": "VOICE",
    "direction": "MO",
    "other_party": "27831234567",
    "destination_class": "OFFNET",
    "roaming_country": None,
    "duration_s": "120",
    "volume_kb": "0",
    "apn": None,
    "charge": "1.5000",
    "bundle_id": None,
}
# Values a partner might send, good, odd and bad; the full checks decide which is which.
VARIANTS = {
    "record_id": ["R1", " R1", "R1 ", "", "  "],
    "msisdn": ["27820000001", "2782 0000001", " 27820000001"],
    "event_time": [
        "2026-01-10T08:00:00+02:00",
        "2026-01-10T08:00:00Z",
        "2026-01-10T08:00:00z",
        "2026-01-10T08:00:00+0200",
        "2026-01-10T08:00:00+02",
        "2026-01-10T08:00:00",
        "2026-01-10 08:00:00+02:00",
        "2026-02-30T08:00:00Z",
        "2026-01-10T08:00:00.5+02:00",
        "2026-01-10T08:00:00-05:30",
        " 2026-01-10T08:00:00Z",
        "10/01/2026 08:00",
    ],
    "service": ["VOICE", "voice", " VOICE", "FAX", None],
    "destination_class": [None, "OFFNET", "offnet", "MOON"],
    "duration_s": [
        "120",
        "0",
        "+120",
        "0120",
        "-5",
        "1.5",
        "1e3",
        "0x10",
        " 120",
        "",
        "99999999999999999999",
    ],
    "volume_kb": ["0", "25974", "-0", "00"],
    "charge": [
        "1.5000",
        "0.0000",
        "-1.5000",
        "1.5",
        "1.50000",
        "1.23456",
        "1e2",
        ".5",
        "5.",
        "+1.5000",
        "abc",
        "99999999999999.9999",
        "999999999999999.0000",
        "-0.0000",
    ],
    "apn": [None, "internet", " internet", "internet "],
}


def _rows() -> list[dict]:
    out = []
    for col, values in VARIANTS.items():
        for v in values:
            out.append({**GOOD, col: v})
    # a few combinations of two odd values
    for (c1, v1), (c2, v2) in itertools.combinations(
        [("charge", "1.5"), ("duration_s", "+120"), ("event_time", "2026-01-10T08:00:00Z")], 2
    ):
        out.append({**GOOD, c1: v1, c2: v2})
    return out


def test_fast_ok_passes_only_rows_the_full_checks_pass_with_the_same_values():
    kind = KINDS["cdr"]
    rows = _rows()
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    cols = ", ".join(f'"{c}" varchar' for c in kind.column_names)
    con.execute(f"create table raw_rows (ordinality bigint, {cols})")
    con.executemany(
        f"insert into raw_rows values (?, {', '.join('?' for _ in kind.columns)})",
        [(i, *(r[c] for c in kind.column_names)) for i, r in enumerate(rows)],
    )
    full = {
        r[0]: r[1:]
        for r in con.execute(
            f"select ord, reason, {', '.join(kind.column_names)} "
            f"from ({stage_select(kind, 'raw_rows')})"
        ).fetchall()
    }
    typed = ", ".join(typed_expr(c, f'"{c.name}"') for c in kind.columns)
    fast = {
        r[0]: r[1:]
        for r in con.execute(
            f"select ordinality, {typed} from raw_rows where {fast_ok(kind)}"
        ).fetchall()
    }
    assert fast, "fast_ok passes nothing: the test would be vacuous"
    for i, values in fast.items():
        reason, *full_values = full[i]
        assert reason is None, (rows[i], reason)
        assert tuple(full_values) == values, rows[i]
    # and it is not vacuous the other way either: it leaves some good rows to the full checks
    doubted_but_good = [i for i, (reason, *_v) in full.items() if reason is None and i not in fast]
    assert doubted_but_good


# --- any doubt takes the full path ------------------------------------------------------------


def _reference(folder: Path) -> None:
    fixtures = Path(__file__).parents[2] / "fixtures" / "drop"
    for p in fixtures.iterdir():
        if not p.name.startswith(("cdr", "billing")):
            shutil.copy(p, folder / p.name)


HEADER = ",".join(KINDS["cdr"].column_names)


def _cdr(rid: str, charge: str = "1.5000") -> str:
    return (
        f"{rid},A1,27820000001,2026-01-10T08:00:00+02:00,VOICE,MO,27831234567,OFFNET,,120,0,,"
        f"{charge},"
    )


def _drop(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    _reference(folder)
    (folder / "cdr_x.csv").write_text(text, encoding="utf-8")
    return folder


def _method(report, file: str = "cdr_x.csv") -> str:
    return next(f.method for f in report.files if f.file == file)


def test_a_clean_file_is_read_once(tmp_path):
    drop = _drop(tmp_path, "d", HEADER + "\n" + "\n".join(_cdr(f"Z{i}") for i in range(5)) + "\n")
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert (f.method, f.rows_read, f.loaded) == ("fast", 5, 5)


def test_no_final_line_break_is_still_clean(tmp_path):
    drop = _drop(tmp_path, "d", HEADER + "\n" + "\n".join(_cdr(f"Z{i}") for i in range(3)))
    report = load(drop, tmp_path / "lake", progress=False)
    assert _method(report) == "fast"
    assert len(_contents(tmp_path / "lake", "fct_cdr")) == 3


def test_a_field_with_a_line_break_takes_the_full_path(tmp_path):
    # a quoted line break makes the line count differ from the record count
    row = _cdr("Z1").replace("27831234567", '"2783\n1234567"')
    drop = _drop(tmp_path, "d", HEADER + "\n" + row + "\n" + _cdr("Z2") + "\n")
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert f.method == "full" and f.rows_read == f.loaded + f.rejected + f.duplicates == 2


def test_a_row_to_judge_takes_the_full_path(tmp_path):
    drop = _drop(tmp_path, "d", HEADER + "\n" + _cdr("Z1") + "\n" + _cdr("Z2", "1.5") + "\n")
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    # '1.5' is a good amount, only not in the canonical form: loaded, by the full path
    assert (f.method, f.loaded, f.rejected) == ("full", 2, 0)


def test_a_bad_row_takes_the_full_path_and_is_rejected_with_its_reason(tmp_path):
    drop = _drop(tmp_path, "d", HEADER + "\n" + _cdr("Z1") + "\n" + _cdr("Z2", "abc") + "\n")
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert (f.method, f.loaded, f.rejected) == ("full", 1, 1)
    assert _rejects(tmp_path / "lake")[0][1:3] == (3, "charge: not a decimal: 'abc'")


def test_a_key_repeated_in_the_file_takes_the_full_path(tmp_path):
    drop = _drop(tmp_path, "d", HEADER + "\n" + _cdr("Z1") + "\n" + _cdr("Z1") + "\n")
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert (f.method, f.loaded, f.duplicates) == ("full", 1, 1)


def test_a_key_already_in_the_lake_takes_the_full_path(tmp_path):
    lake = tmp_path / "lake"
    first = _drop(tmp_path, "d1", HEADER + "\n" + _cdr("Z1") + "\n")
    assert _method(load(first, lake, progress=False)) == "fast"
    # same record again plus a new one, in a file with other bytes (so not skipped whole)
    second = _drop(tmp_path, "d2", HEADER + "\n" + _cdr("Z2") + "\n" + _cdr("Z1") + "\n")
    report = load(second, lake, progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert (f.method, f.loaded, f.duplicates) == ("full", 1, 1)
    assert [r[0] for r in _contents(lake, "fct_cdr")] == ["Z1", "Z2"]


def test_a_structural_reject_stays_on_the_fast_path_with_its_line(tmp_path):
    text = HEADER + "\n" + _cdr("Z1") + "\n" + "Z2,A1,too,few\n" + _cdr("Z3") + "\n"
    drop = _drop(tmp_path, "d", text)
    report = load(drop, tmp_path / "lake", progress=False)
    f = next(f for f in report.files if f.file == "cdr_x.csv")
    assert (f.method, f.rows_read, f.loaded, f.rejected) == ("fast", 3, 2, 1)
    (rej,) = _rejects(tmp_path / "lake")
    assert rej[1] == 3 and rej[2].startswith("wrong number of fields") and rej[3] == "Z2,A1,too,few"
