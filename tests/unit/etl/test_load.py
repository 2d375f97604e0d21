"""The loader (selfcare.etl.load) on small hand-made drop folders: parsing of every kind, the reject
reasons, refused files, idempotency, snapshots, time zones, exact amounts and the summaries.

Expected values come from the CSV text itself (pandas or hand-worked), never from the loader.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from selfcare.contract import KINDS
from selfcare.etl import lake as lk
from selfcare.etl.load import LoadError, load

FIXTURES = Path(__file__).parents[2] / "fixtures" / "drop"
REFERENCE = [
    p.name for p in sorted(FIXTURES.iterdir()) if not p.name.startswith(("cdr", "billing"))
]
CDR_HEADER = ",".join(KINDS["cdr"].column_names)
GOOD_CDR = "Z1,A1,27820000001,2026-01-10T08:00:00+02:00,VOICE,MO,27831234567,OFFNET,,120,0,,1.5000,"


def make_drop(folder: Path, files: dict[str, str | bytes], reference: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if reference:
        for name in REFERENCE:
            shutil.copy(FIXTURES / name, folder / name)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for stmt in lk.reader_views(lake):
        con.execute(stmt)
    return con


def rows(lake: Path, sql: str, params=None) -> list[tuple]:
    con = connect(lake)
    try:
        return con.execute(sql, params or {}).fetchall()
    finally:
        con.close()


def csv_rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def assert_balanced(report) -> None:
    for f in report.files:
        assert f.rows_read == f.loaded + f.rejected + f.duplicates, f
        assert f.conflicts <= f.rejected


def by_file(report) -> dict:
    return {f.file: f for f in report.files}


@pytest.fixture()
def base_lake(tmp_path) -> Path:
    lake = tmp_path / "lake"
    report = load(FIXTURES, lake, progress=False)
    assert not report.refused, report.render()
    assert_balanced(report)
    return lake


# --- parsing of every kind -------------------------------------------------------------------


def _norm(col, value):
    """A value from the CSV text or the lake, in a comparable form."""
    if value is None or value == "":
        return None
    t = col.type
    if t.startswith("DECIMAL"):
        return Decimal(str(value))
    if t in ("INTEGER", "BIGINT"):
        return int(value)
    if t == "DATE":
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if t == "TIMESTAMPTZ":
        return pd.Timestamp(value).tz_convert("UTC")
    return str(value).strip()


KIND_TABLE = {
    "tenants": "dim_tenant", "accounts": "dim_account", "cost_centres": "dim_cost_centre",
    "employees": "dim_employee", "plans": "dim_plan", "lines": "dim_line",
    "cdr": "fct_cdr", "billing": "fct_billing",
}  # fmt: skip


@pytest.mark.parametrize("kind", list(KIND_TABLE))
def test_every_kind_loads_exactly_as_in_the_csv(base_lake, kind):
    k = KINDS[kind]
    (path,) = [p for p in FIXTURES.iterdir() if p.name.startswith(kind + "_")]
    expected = csv_rows(path)
    cols = [c for c in k.columns if c.name != "apns"]
    key = k.key
    got = rows(
        base_lake,
        f"select {', '.join(c.name for c in cols)} from {KIND_TABLE[kind]} "
        f"order by {', '.join(key)}",
    )
    expected = expected.sort_values(
        list(key), key=lambda s: s.map(lambda v: int(v) if v.isdigit() else v)
    )
    want = [tuple(_norm(c, r[c.name]) for c in cols) for _, r in expected.iterrows()]
    assert [tuple(_norm(c, v) for c, v in zip(cols, r, strict=True)) for r in got] == want
    if kind == "lines":
        apns = dict(rows(base_lake, "select msisdn, apns from dim_line"))
        for _, r in expected.iterrows():
            assert apns[r["msisdn"]] == [a for a in r["apns"].split(";") if a]


def test_unknown_line_is_loaded_and_attributed_to_its_accounts_tenant(base_lake):
    assert rows(base_lake, "select tenant_id, msisdn from fct_cdr where record_id = 'R5'") == [
        ("T1", "27820000077")
    ]
    assert rows(base_lake, "select count(*) from dim_line where msisdn = '27820000077'") == [(0,)]


def test_bill_period_is_the_month_in_the_tenants_timezone(base_lake):
    got = dict(rows(base_lake, "select record_id, bill_period from fct_cdr"))
    # 2026-01-31T23:30:00Z is 01:30 on 1 February in Johannesburg (UTC+2) ...
    assert got["R2"] == "2026-02"
    # ... 23:30 on 31 January in London (UTC+0 in winter) ...
    assert got["R6"] == "2026-01"
    # ... and 21:30Z is 23:30 on 31 January in Johannesburg.
    assert got["R3"] == "2026-01"
    assert rows(base_lake, "select event_time from fct_cdr where record_id = 'R1'") == [
        (dt.datetime(2026, 1, 10, 6, 0, tzinfo=dt.UTC),)
    ]


def test_amounts_are_exact_decimals(tmp_path):
    body = "\n".join(
        f"D{i},A1,27820000001,2026-01-10T08:00:00+02:00,SMS,MO,2783,ONNET,,0,0,,0.1,"
        for i in range(10)
    )
    drop = make_drop(tmp_path / "drop", {"cdr_tenths.csv": f"{CDR_HEADER}\n{body}\n"})
    load(drop, tmp_path / "lake", progress=False)
    ((total, typ),) = rows(
        tmp_path / "lake", "select sum(charge), any_value(typeof(charge)) from fct_cdr"
    )
    assert total == Decimal("1.0000") and str(total) == "1.0000"
    assert typ == "DECIMAL(18,4)"


def test_manifest_lists_every_table_even_when_empty(tmp_path):
    drop = make_drop(tmp_path / "drop", {}, reference=False)
    shutil.copy(FIXTURES / "tenants_2026-01-01.csv", drop)
    load(drop, tmp_path / "lake", progress=False)
    manifest = json.loads((tmp_path / "lake" / "manifest.json").read_text())
    assert set(manifest["tables"]) == set(lk.TABLES)
    for name, cols in lk.TABLES.items():
        assert manifest["tables"][name]["columns"] == [list(c) for c in cols]
        assert rows(tmp_path / "lake", f"select count(*) from {name}")[0][0] >= 0
    assert rows(tmp_path / "lake", "select count(*) from fct_cdr") == [(0,)]
    assert rows(tmp_path / "lake", "select count(*) from dim_tenant") == [(2,)]


# --- rejected rows ---------------------------------------------------------------------------

ROW = GOOD_CDR.split(",")


def cdr_row(**changes) -> str:
    names = KINDS["cdr"].column_names
    vals = dict(zip(names, ROW, strict=True))
    vals.update(changes)
    return ",".join(vals[n] for n in names)


BAD_ROWS = [
    pytest.param("cdr_x.csv", cdr_row(charge="abc"), "charge: not a decimal: 'abc'", id="decimal"),
    pytest.param(
        "cdr_x.csv",
        cdr_row(charge="1.23456"),
        "charge: more than 4 decimal places: '1.23456'",
        id="decimal-places",
    ),
    pytest.param(
        "cdr_x.csv",
        cdr_row(service="FAX"),
        "service: 'FAX' not one of VOICE, SMS, MMS, DATA",
        id="enum",
    ),
    pytest.param(
        "cdr_x.csv",
        cdr_row(event_time="2026-01-10T08:00:00"),
        "event_time: missing UTC offset: '2026-01-10T08:00:00'",
        id="no-offset",
    ),
    pytest.param(
        "cdr_x.csv",
        cdr_row(event_time="2026-02-30T08:00:00Z"),
        "event_time: not a timestamp: '2026-02-30T08:00:00Z'",
        id="bad-timestamp",
    ),
    pytest.param(
        "cdr_x.csv",
        cdr_row(account_id="A999"),
        "account_id: unknown account 'A999'",
        id="unknown-account",
    ),
    pytest.param("cdr_x.csv", cdr_row(msisdn=""), "msisdn: required", id="required"),
    pytest.param(
        "cdr_x.csv", cdr_row(duration_s="1.5"), "duration_s: not an integer: '1.5'", id="integer"
    ),
    pytest.param("cdr_x.csv", cdr_row(volume_kb="-4"), "volume_kb: negative: '-4'", id="negative"),
    pytest.param(
        "cdr_x.csv",
        cdr_row() + ",extra",
        "wrong number of fields (15, expected 14)",
        id="too-many-fields",
    ),
    pytest.param(
        "cdr_x.csv",
        "Z1,A1,27820000001",
        "wrong number of fields (3, expected 14)",
        id="too-few-fields",
    ),
    pytest.param(
        "cdr_x.csv",
        cdr_row(other_party='"12"34'),
        "bad quoting: unterminated or misplaced quote",
        id="bad-quote",
    ),
    pytest.param(
        "billing_x.csv",
        "I1,1,A1,2026-13,,ADJUSTMENT,x,1,0.15",
        "bill_period: not a YYYY-MM period: '2026-13'",
        id="bill-period",
    ),
    pytest.param(
        "billing_x.csv",
        "I1,one,A1,2026-01,,ADJUSTMENT,x,1,0.15",
        "line_no: not an integer: 'one'",
        id="line-no",
    ),
    pytest.param(
        "lines_x_2026-02-01.csv",
        "2782,T1,A1,,P1,ACTIVE,2026-01-32,,,",
        "activated_on: not a date (YYYY-MM-DD): '2026-01-32'",
        id="date",
    ),
    pytest.param(
        "lines_x_2026-02-01.csv",
        "2782,T1,A1,,P1,GONE,2026-01-03,,,",
        "status: 'GONE' not one of ACTIVE, SUSPENDED, CANCELLED",
        id="line-status",
    ),
    pytest.param(
        "accounts_x_2026-02-01.csv",
        "A7,T9,,Nobody",
        "tenant_id: unknown tenant 'T9'",
        id="unknown-tenant",
    ),
    pytest.param(
        "tenants_x_2026-02-01.csv",
        "T3,Gamma,logistics,Mars/Olympus",
        "timezone: unknown time zone: 'Mars/Olympus'",
        id="timezone",
    ),
    pytest.param(
        "plans_x_2026-02-01.csv",
        "P9,Tiny,VOICE,POSTPAID,abc,1,1,1,1,1,1,1,1,1,1",
        "monthly_fee: not a decimal: 'abc'",
        id="plan-fee",
    ),
]


@pytest.mark.parametrize(("name", "row", "reason"), BAD_ROWS)
def test_a_bad_row_is_rejected_with_a_specific_reason(tmp_path, name, row, reason):
    kind = next(k for k in KINDS.values() if name.startswith(k.name))
    header = ",".join(kind.column_names)
    good = {
        "cdr": GOOD_CDR,
        "billing": "I2,1,A1,2026-01,,ADJUSTMENT,ok,1,0.15",
        "lines": "2783,T1,A1,,P1,ACTIVE,2026-01-03,,,",
        "accounts": "A8,T1,,Somebody",
        "tenants": "T4,Delta,finance,Africa/Johannesburg",
        "plans": "P8,Fine,VOICE,POSTPAID,1,1,1,1,1,1,1,1,1,1,1",
    }[kind.name]
    # the bad row sits between two good ones: line numbers and counting are checked around it
    text = f"{header}\n{good}\n{row}\n{good.replace('Z1', 'Z2').replace('I2,1', 'I2,2')}\n"
    drop = make_drop(tmp_path / "drop", {name: text})
    report = load(drop, tmp_path / "lake", progress=False)
    assert_balanced(report)
    f = by_file(report)[name]
    assert f.status == "loaded"
    assert f.rows_read == 3
    assert f.rejected == 1
    assert rows(
        tmp_path / "lake",
        "select line_no, reason, raw, kind from etl_rejects where file_name = $f",
        {"f": name},
    ) == [(3, reason, row, kind.name)]


def test_line_numbers_count_records_and_raw_keeps_multiline_fields(tmp_path):
    multiline = cdr_row(record_id="M1", other_party='"two\nlines"')
    too_long = cdr_row(record_id="M2") + ",x"
    bad = cdr_row(record_id="M3", charge="x")
    text = f"{CDR_HEADER}\n{multiline}\n{too_long}\n{bad}\n"
    drop = make_drop(tmp_path / "drop", {"cdr_m.csv": text})
    report = load(drop, tmp_path / "lake", progress=False)
    assert by_file(report)["cdr_m.csv"].loaded == 1
    got = rows(tmp_path / "lake", "select line_no, reason from etl_rejects order by line_no")
    # line 1 is the header; a record with an embedded line break counts as one line
    assert got == [
        (3, "wrong number of fields (15, expected 14)"),
        (4, "charge: not a decimal: 'x'"),
    ]


# --- refused files ---------------------------------------------------------------------------


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode())


REFUSALS = [
    pytest.param(
        "cdr_a.csv",
        CDR_HEADER.replace(",charge", "") + "\n",
        "missing column(s) charge",
        id="missing-column",
    ),
    pytest.param(
        "cdr_a.csv", CDR_HEADER + ",foo\n", "unexpected column(s) 'foo'", id="unexpected-column"
    ),
    pytest.param(
        "cdr_a.csv",
        CDR_HEADER.replace(",", ";") + "\n" + GOOD_CDR.replace(",", ";"),
        "wrong delimiter",
        id="delimiter",
    ),
    pytest.param(
        "cdr_a.csv",
        (CDR_HEADER + "\n" + GOOD_CDR.replace("VOICE", "VO\xefCE") + "\n").encode("latin-1"),
        "not UTF-8",
        id="latin-1",
    ),
    pytest.param("cdr_a.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file", id="binary"),
    pytest.param("cdr_a.csv.gz", b"this is not gzip", "bad gzip", id="bad-gzip"),
    pytest.param(
        "cdr_a.csv.gz",
        _gz(CDR_HEADER + "\n" + GOOD_CDR + "\n")[:-12],
        "bad gzip",
        id="truncated-gzip",
    ),
    pytest.param("invoices_2026-01.csv", CDR_HEADER + "\n", "unknown kind", id="unknown-kind"),
    pytest.param("cdr_a.txt", "hello", "not an export file", id="not-csv"),
    pytest.param("cdr_a.csv", "", "empty file", id="empty"),
    pytest.param(
        "cdr_a.csv",
        ",".join(reversed(KINDS["cdr"].column_names)) + "\n",
        "columns out of order",
        id="order",
    ),
]


@pytest.mark.parametrize(("name", "content", "fault"), REFUSALS)
def test_a_structurally_bad_file_is_refused_whole_and_the_rest_loads(
    tmp_path, name, content, fault
):
    drop = make_drop(
        tmp_path / "drop", {name: content, "cdr_good.csv": f"{CDR_HEADER}\n{GOOD_CDR}\n"}
    )
    report = load(drop, tmp_path / "lake", progress=False)
    assert report.refused
    f = by_file(report)[name]
    assert f.status == "refused"
    assert f.message.startswith(name + ": ") and fault in f.message
    assert "\n" not in f.message
    assert f.rows_read == f.loaded == 0
    assert by_file(report)["cdr_good.csv"].loaded == 1
    assert rows(tmp_path / "lake", "select record_id from fct_cdr where record_id = 'Z1'") == [
        ("Z1",)
    ]
    assert rows(
        tmp_path / "lake", "select status, message from etl_files where file_name = $f", {"f": name}
    ) == [("refused", f.message)]
    assert f"REFUSED {f.message}" in report.render()


def test_a_bom_and_gzip_are_accepted(tmp_path):
    text = "\ufeff" + CDR_HEADER + "\r\n" + GOOD_CDR + "\r\n"
    drop = make_drop(tmp_path / "drop", {"cdr_bom.csv.gz": _gz(text)})
    report = load(drop, tmp_path / "lake", progress=False)
    assert by_file(report)["cdr_bom.csv.gz"].loaded == 1
    assert rows(tmp_path / "lake", "select record_id, charge, bundle_id from fct_cdr") == [
        ("Z1", Decimal("1.5000"), None)
    ]


# --- idempotency -----------------------------------------------------------------------------


def test_loading_the_same_files_again_changes_nothing(base_lake):
    before = (base_lake / "manifest.json").read_bytes()
    report = load(FIXTURES, base_lake, progress=False)
    assert {f.status for f in report.files} == {"skipped"}
    assert not report.published and not report.refused
    assert (base_lake / "manifest.json").read_bytes() == before
    assert "already loaded" in report.files[0].message


def test_same_rows_in_a_new_file_are_duplicates(base_lake, tmp_path):
    drop = make_drop(tmp_path / "again", {}, reference=False)
    text = (FIXTURES / "cdr_2026-01.csv").read_text()
    # the same events, written differently: the +02:00 form of R2's UTC time and 0.99 for 0.9900
    text = text.replace(
        "2026-01-31T23:30:00Z,VOICE,MO,27831234567,OFFNET,,60,0,,0.9900",
        "2026-02-01T01:30:00+02:00,VOICE,MO,27831234567,OFFNET,,60,0,,0.99",
    )
    (drop / "cdr_resent.csv").write_text(text)
    shutil.copy(FIXTURES / "billing_2026-01.csv", drop / "billing_resent.csv")
    report = load(drop, base_lake, progress=False)
    assert_balanced(report)
    for f in report.files:
        assert (f.loaded, f.duplicates, f.rejected) == (0, f.rows_read, 0), f
    assert rows(base_lake, "select count(*) from fct_cdr") == [(9,)]
    assert rows(base_lake, "select count(*) from fct_billing") == [(4,)]


def test_changed_content_under_a_known_key_is_a_conflict(base_lake, tmp_path):
    drop = make_drop(tmp_path / "changed", {}, reference=False)
    (drop / "cdr_fix.csv").write_text(
        f"{CDR_HEADER}\n"
        "R1,A1,27820000001,2026-01-10T08:00:00+02:00,VOICE,MO,27831234567,OFFNET,,121,0,,0.0000,B100\n"
        f"{GOOD_CDR}\n"
        f"{GOOD_CDR}\n"
        f"{GOOD_CDR.replace('1.5000', '2.5000')}\n"
    )
    report = load(drop, base_lake, progress=False)
    assert_balanced(report)
    f = by_file(report)["cdr_fix.csv"]
    assert (f.rows_read, f.loaded, f.duplicates, f.rejected, f.conflicts) == (4, 1, 1, 2, 2)
    assert rows(base_lake, "select line_no, reason from etl_rejects order by line_no") == [
        (2, "conflict: record_id 'R1' is already in the lake with different content"),
        (5, "conflict: record_id 'Z1' repeats line 3 with different content"),
    ]
    # the lake keeps what it had
    assert rows(base_lake, "select duration_s from fct_cdr where record_id = 'R1'") == [(120,)]
    assert rows(base_lake, "select charge from fct_cdr where record_id = 'Z1'") == [
        (Decimal("1.5"),)
    ]


def test_the_ledger_records_every_loaded_file_with_its_fingerprint(base_lake):
    import hashlib

    got = dict(rows(base_lake, "select file_name, sha256 from etl_files where status = 'loaded'"))
    want = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in FIXTURES.iterdir()}
    assert got == want


# --- reference snapshots ---------------------------------------------------------------------

EMP_HEADER = ",".join(KINDS["employees"].column_names)


def test_a_newer_snapshot_replaces_the_current_one_of_its_tenants_only(base_lake, tmp_path):
    drop = make_drop(
        tmp_path / "feb",
        {
            "employees_2026-02-01.csv": f"{EMP_HEADER}\n"
            "E1,T1,Thandi Nkosi,thandi@acme.example,,CC1,Gauteng\n"
            "E3,T1,New Person,new@acme.example,E1,CC2,Limpopo\n",
            "plans_2026-02-01.csv": (FIXTURES / "plans_2026-01-01.csv").read_text().splitlines()[0]
            + "\nP3,Only plan,VOICE,PREPAID,0,0,0,0,1.7,5,0.6,0.9,0.99,30,150\n",
        },
        reference=False,
    )
    report = load(drop, base_lake, progress=False)
    assert not report.refused
    assert rows(
        base_lake, "select tenant_id, employee_id, as_of from dim_employee order by 1, 2"
    ) == [
        ("T1", "E1", dt.date(2026, 2, 1)),
        ("T1", "E3", dt.date(2026, 2, 1)),
        ("T2", "E9", dt.date(2026, 1, 1)),
    ]
    assert rows(base_lake, "select plan_code from dim_plan") == [("P3",)]
    assert rows(
        base_lake,
        "select as_of, count(*) from snap_employee where tenant_id = 'T1' group by 1 order by 1",
    ) == [(dt.date(2026, 1, 1), 2), (dt.date(2026, 2, 1), 2)]
    # an older snapshot arriving late goes into the history only
    old = make_drop(
        tmp_path / "dec",
        {
            "employees_2025-12-01.csv": f"{EMP_HEADER}\n"
            "E0,T1,Old Timer,old@acme.example,,CC1,Gauteng\n",
        },
        reference=False,
    )
    load(old, base_lake, progress=False)
    assert rows(base_lake, "select count(*) from dim_employee where employee_id = 'E0'") == [(0,)]
    assert rows(base_lake, "select as_of from snap_employee where employee_id = 'E0'") == [
        (dt.date(2025, 12, 1),)
    ]


def test_a_reference_file_without_a_date_takes_the_load_date(tmp_path):
    drop = make_drop(tmp_path / "d", {}, reference=False)
    shutil.copy(FIXTURES / "tenants_2026-01-01.csv", drop / "tenants.csv")
    load(drop, tmp_path / "lake", progress=False)
    got = rows(tmp_path / "lake", "select distinct as_of from dim_tenant")
    assert got == [(dt.datetime.now(dt.UTC).date(),)]


# --- summaries -------------------------------------------------------------------------------


def test_summaries_match_a_pandas_reduction_of_the_csv(base_lake):
    cdr = csv_rows(FIXTURES / "cdr_2026-01.csv")
    tz = {"A1": "Africa/Johannesburg", "A2": "Africa/Johannesburg", "B1": "Europe/London"}
    cdr["bill_period"] = [
        pd.Timestamp(t).tz_convert(tz[a]).strftime("%Y-%m")
        for t, a in zip(cdr["event_time"], cdr["account_id"], strict=True)
    ]
    for c in ("duration_s", "volume_kb"):
        cdr[c] = cdr[c].astype(int)
    cdr["charge"] = cdr["charge"].map(Decimal)
    roaming = cdr["roaming_country"] != ""
    mo = cdr["direction"] == "MO"
    dest = cdr["destination_class"]
    exp = {}
    for (msisdn, period), g in cdr.groupby(["msisdn", "bill_period"]):
        r, m, d = roaming[g.index], mo[g.index], dest[g.index]
        s = g["service"]
        exp[(msisdn, period)] = (
            int(g.duration_s[~r & m & (s == "VOICE") & d.isin(["ONNET", "OFFNET", "FIXED"])].sum()),
            int(g.duration_s[~r & m & (s == "VOICE") & (d == "INTERNATIONAL")].sum()),
            int((~r & m & (s == "SMS") & ~d.isin(["PREMIUM", "TOLLFREE"])).sum()),
            int(g.volume_kb[~r & (s == "DATA")].sum()),
            int(g.duration_s[r & (s == "VOICE") & (d != "PREMIUM")].sum()),
            int(g.volume_kb[r & (s == "DATA")].sum()),
            sum(g.charge[d == "PREMIUM"], Decimal(0)),
            sum(g.charge, Decimal(0)),
        )
    got = rows(
        base_lake,
        """select msisdn, bill_period, nat_voice_s, intl_voice_s, sms_home,
        data_kb_home, roam_voice_s, roam_data_kb, premium_charge, usage_charge
        from agg_tariff_usage_line_month""",
    )
    assert {(r[0], r[1]): tuple(r[2:]) for r in got} == exp
    agg = rows(
        base_lake, "select sum(events), sum(charge), sum(in_bundle_events) from agg_cdr_line_month"
    )
    assert agg == [(len(cdr), sum(cdr.charge, Decimal(0)), int((cdr.charge == 0).sum()))]
    groups = cdr.groupby(["msisdn", "bill_period", "service", "direction", "roaming_country"])
    got = rows(
        base_lake,
        "select msisdn, bill_period, service, direction, roaming_country, events, "
        "duration_s, volume_kb, charge from agg_cdr_line_month",
    )
    assert {r[:5]: r[5:] for r in got} == {
        k: (len(g), int(g.duration_s.sum()), int(g.volume_kb.sum()), sum(g.charge, Decimal(0)))
        for k, g in groups
    }


def test_new_cdrs_rebuild_only_their_partitions_summaries(base_lake, tmp_path):
    before = set(
        json.loads((base_lake / "manifest.json").read_text())["tables"]["agg_cdr_line_month"][
            "files"
        ]
    )
    drop = make_drop(
        tmp_path / "more", {"cdr_more.csv": f"{CDR_HEADER}\n{GOOD_CDR}\n"}, reference=False
    )
    load(drop, base_lake, progress=False)
    after = set(
        json.loads((base_lake / "manifest.json").read_text())["tables"]["agg_cdr_line_month"][
            "files"
        ]
    )
    replaced = before - after
    assert len(replaced) == 1 and "tenant_id=T1/bill_period=2026-01/" in replaced.pop()
    assert rows(base_lake, "select sum(events) from agg_cdr_line_month") == [(10,)]
    assert rows(
        base_lake,
        "select usage_charge from agg_tariff_usage_line_month "
        "where msisdn = '27820000001' and bill_period = '2026-01'",
    ) == [
        (
            Decimal("0")
            + Decimal("0.5")
            + Decimal("5")
            + Decimal("41.6667")
            + Decimal("47.5")
            + Decimal("1.5"),
        )
    ]


# --- the lake as a whole ---------------------------------------------------------------------


def test_debris_of_an_interrupted_load_is_removed(base_lake, tmp_path):
    stray = (
        base_lake / "files" / "fct_cdr" / "tenant_id=T1" / "bill_period=2026-01" / "dead.parquet"
    )
    stray.write_bytes(b"PAR1 half written")
    (base_lake / "work").mkdir()
    (base_lake / "work" / "load.duckdb").write_bytes(b"x")
    drop = make_drop(
        tmp_path / "more", {"cdr_more.csv": f"{CDR_HEADER}\n{GOOD_CDR}\n"}, reference=False
    )
    load(drop, base_lake, progress=False)
    assert not stray.exists() and not (base_lake / "work").exists()
    listed = lk.manifest_files(lk.read_manifest(base_lake))
    on_disk = {
        p.relative_to(base_lake).as_posix() for p in (base_lake / "files").rglob("*") if p.is_file()
    }
    assert listed <= on_disk
    assert rows(base_lake, "select count(*) from fct_cdr") == [(10,)]


def test_a_second_load_cannot_run_while_the_lake_is_locked(base_lake):
    with lk.exclusive_lock(base_lake), pytest.raises(LoadError, match="another load"):
        load(FIXTURES, base_lake, progress=False)


def test_a_missing_drop_folder_is_an_error(tmp_path):
    with pytest.raises(LoadError, match="no such folder"):
        load(tmp_path / "nope", tmp_path / "lake", progress=False)


def test_render_fits_one_screen_and_states_the_counts(tmp_path):
    drop = make_drop(tmp_path / "d", {"cdr_x.csv": f"{CDR_HEADER}\n{cdr_row(charge='abc')}\n"})
    report = load(drop, tmp_path / "lake", progress=False)
    text = report.render()
    assert len(text.splitlines()) < 40
    assert "rows read 17 = loaded 16 + rejected 1 + duplicates 0" in text
    assert report.totals["rejected"] == 1
