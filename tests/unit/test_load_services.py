"""The loader on the two operator reference kinds `services` and `line_services`: every row of the
generated files lands in its snapshot, the dims are the newest snapshot (the catalogue's newest
file; per tenant for line services), and faulty rows are rejected with the reason of their fault
or counted as duplicates.

Expected values come from the CSV text (pandas) and from how the faulty rows were made, never from
the loader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from selfcare.etl import lake as lk
from selfcare.etl.load import load
from selfcare.sample.generate import generate

SMALL = dict(tenants=2, lines=160, months=2, start="2026-01", seed=3)
AS_OF = "2026-02-28"
LATER = "2026-03-31"
LS_HEADER = "msisdn,tenant_id,service_code,activated_on"
SVC_HEADER = "service_code,name,category,payment,monthly_fee,once_off_fee"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("services")
    drop, lake = root / "drop", root / "lake"
    generate(drop, progress=False, **SMALL)
    report = load(drop, lake, progress=False)
    assert not report.refused, report.render()
    return {"root": root, "drop": drop, "lake": lake, "report": report}


def raw(base: dict, kind: str) -> pd.DataFrame:
    return pd.read_csv(base["drop"] / f"{kind}_{AS_OF}.csv", dtype=str, keep_default_na=False)


def query(lake: Path, sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        for stmt in lk.reader_views(lake):
            con.execute(stmt)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lake_copy(base: dict, name: str) -> Path:
    target = base["root"] / name
    shutil.copytree(base["lake"], target)
    return target


def load_files(base: dict, name: str, files: dict[str, str]):
    """Load `files` (name -> text) as a new drop into a copy of the base lake."""
    lake = lake_copy(base, f"lake-{name}")
    drop = base["root"] / f"drop-{name}"
    drop.mkdir()
    for fname, text in files.items():
        (drop / fname).write_text(text, encoding="utf-8")
    return lake, load(drop, lake, progress=False)


LS_SQL = (
    "select msisdn, tenant_id, service_code, strftime(activated_on, '%Y-%m-%d') from {t}{where}"
)
SVC_SQL = (
    "select service_code, name, category, payment, monthly_fee::varchar, once_off_fee::varchar "
    "from {t}{where}"
)


def tuples(df: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, df.itertuples(index=False, name=None)))


def test_every_generated_row_is_loaded_into_its_snapshot_and_dim(base):
    by_file = {f.file: f for f in base["report"].files}
    for kind, table, sql in (
        ("services", "service", SVC_SQL),
        ("line_services", "line_service", LS_SQL),
    ):
        want = tuples(raw(base, kind))
        f = by_file[f"{kind}_{AS_OF}.csv"]
        assert (f.status, f.rows_read, f.loaded, f.rejected, f.duplicates) == (
            "loaded", len(want), len(want), 0, 0,
        )  # fmt: skip
        for t in (f"snap_{table}", f"dim_{table}"):
            assert sorted(query(base["lake"], sql.format(t=t, where=""))) == want, t
    assert query(base["lake"], "select distinct as_of::varchar from snap_line_service") == [
        (AS_OF,)
    ]


def test_a_newer_snapshot_replaces_the_catalogue_and_only_its_tenants_line_services(base):
    services = raw(base, "services")
    ls = raw(base, "line_services")
    lines = raw(base, "lines")
    # The newer catalogue drops one service and adds one; the newer line services cover only T01:
    # half of its rows, plus the new service on one of its lines.
    newer_svc = pd.concat(
        [
            services[services["service_code"] != "CONF"],
            pd.DataFrame(
                [["ESIM", "eSIM profile", "FEATURE", "ANY", "0.0000", "99.0000"]],
                columns=services.columns,
            ),
        ]
    )
    t01 = ls[ls["tenant_id"] == "T01"]
    kept = t01.iloc[::2]
    a_line = lines.loc[lines["tenant_id"] == "T01", "msisdn"].iloc[0]
    added = pd.DataFrame([[a_line, "T01", "ESIM", "2026-03-15"]], columns=ls.columns)
    newer_ls = pd.concat([kept, added])
    lake, report = load_files(
        base,
        "newer",
        {
            f"services_{LATER}.csv": newer_svc.to_csv(index=False),
            f"line_services_{LATER}.csv": newer_ls.to_csv(index=False),
        },
    )
    assert all(f.status == "loaded" and f.rejected == 0 for f in report.files), report.render()
    assert sorted(query(lake, SVC_SQL.format(t="dim_service", where=""))) == tuples(newer_svc)
    dim = sorted(query(lake, LS_SQL.format(t="dim_line_service", where="")))
    assert dim == tuples(pd.concat([newer_ls, ls[ls["tenant_id"] == "T02"]]))
    # history keeps both snapshots
    counts = dict(
        query(lake, "select as_of::varchar, count(*) from snap_line_service group by all")
    )
    assert counts == {AS_OF: len(ls), LATER: len(newer_ls)}


def test_faulty_line_services_rows_are_rejected_with_their_reason(base):
    ls = raw(base, "line_services")
    lines = raw(base, "lines")
    services = raw(base, "services")
    t01 = lines[lines["tenant_id"] == "T01"]
    t02 = lines[lines["tenant_id"] == "T02"]
    held = set(zip(ls["msisdn"], ls["service_code"], strict=True))
    # a T01 line and a catalogue service it does not have yet (so the good row is new content)
    line, code = next(
        (m, c) for m in t01["msisdn"] for c in services["service_code"] if (m, c) not in held
    )
    other_tenant_line = t02["msisdn"].iloc[0]
    unknown_line = "27829999999"
    assert unknown_line not in set(lines["msisdn"])
    rows = [  # (text, expected outcome or reason prefix); line numbers start at 2
        (f"{line},T01,{code},2026-03-01", "loaded"),
        (f"{line},T01,NOPE,2026-03-01", "service_code: unknown service 'NOPE'"),
        (
            f"{other_tenant_line},T01,VM,2026-03-01",
            f"msisdn: unknown line '{other_tenant_line}' in tenant 'T01'",
        ),
        (f"{unknown_line},T01,VM,2026-03-01", f"msisdn: unknown line '{unknown_line}'"),
        (f"{line},T99,VM,2026-03-01", "tenant_id: unknown tenant 'T99'"),
        (f"{line},T01,{code},2026-03-01", "duplicate"),
        (
            f"{line},T01,{code},2026-03-02",
            f"conflict: msisdn + service_code '{line} {code}' repeats line 2 with different",
        ),
        (f"{line},T01,VM,2026-13-01", "activated_on: not a date (YYYY-MM-DD): '2026-13-01'"),
        (f"{line},T01,,2026-03-01", "service_code: required"),
        (f"{line},T01,VM", "wrong number of fields (3, expected 4)"),
    ]
    name = f"line_services_{LATER}.csv"
    text = LS_HEADER + "\n" + "".join(r + "\n" for r, _ in rows)
    lake, report = load_files(base, "faulty-ls", {name: text})
    check_outcomes(lake, report, name, rows)
    loaded = query(lake, LS_SQL.format(t="snap_line_service", where=f" where as_of = '{LATER}'"))
    assert loaded == [(line, "T01", code, "2026-03-01")]


def test_faulty_catalogue_rows_are_rejected_with_their_reason(base):
    rows = [
        ("ESIM,eSIM profile,FEATURE,ANY,0.0000,99.0000", "loaded"),
        ("PROMO1,Promotion,PROMO,ANY,0.0000,0.0000",
         "category: 'PROMO' not one of FEATURE, BAR, ADDON"),
        ("HYB1,Hybrid thing,ADDON,HYBRID,1.0000,0.0000",
         "payment: 'HYBRID' not one of POSTPAID, PREPAID, ANY"),
        ('FEE1,Bad fee,ADDON,ANY,"12,50",0.0000', "monthly_fee: not a decimal: '12,50'"),
        ("FEE2,Precise fee,ADDON,ANY,1.23456,0.0000", "monthly_fee: more than 4 decimal places"),
        ("NONAME,,FEATURE,ANY,0.0000,0.0000", "name: required"),
        ("ESIM,eSIM profile,FEATURE,ANY,0.0000,99.0000", "duplicate"),
        ("ESIM,eSIM profile,FEATURE,ANY,0.0000,49.0000",
         "conflict: service_code 'ESIM' repeats line 2 with different content"),
    ]  # fmt: skip
    name = f"services_{LATER}.csv"
    text = SVC_HEADER + "\n" + "".join(r + "\n" for r, _ in rows)
    lake, report = load_files(base, "faulty-svc", {name: text})
    check_outcomes(lake, report, name, rows)
    # the newest catalogue is now that one good row
    assert query(lake, "select service_code from dim_service") == [("ESIM",)]


def check_outcomes(lake: Path, report, name: str, rows: list[tuple[str, str]]) -> None:
    f = next(f for f in report.files if f.file == name)
    n_dup = sum(o == "duplicate" for _, o in rows)
    n_loaded = sum(o == "loaded" for _, o in rows)
    n_conflict = sum(o.startswith("conflict") for _, o in rows)
    assert (f.status, f.rows_read, f.loaded, f.duplicates, f.conflicts) == (
        "loaded", len(rows), n_loaded, n_dup, n_conflict,
    ), report.render()  # fmt: skip
    assert f.rejected == len(rows) - n_loaded - n_dup
    got = dict(query(lake, f"select line_no, reason from etl_rejects where file_name = '{name}'"))
    expected = {i + 2: o for i, (_, o) in enumerate(rows) if o not in ("loaded", "duplicate")}
    assert set(got) == set(expected)
    for line_no, reason in expected.items():
        assert got[line_no].startswith(reason), (line_no, got[line_no], reason)
