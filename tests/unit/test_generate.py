"""The demo-estate generator: contract, determinism, and reconciliation computed independently with
pandas on the written CSVs (the tariff reference `line_month_cost` is the only shared code)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from selfcare.contract import KINDS, as_of_of, kind_of
from selfcare.contract.tariff import Plan, line_month_cost, usage_buckets
from selfcare.sample.generate import default_start, generate

SMALL = dict(tenants=2, lines=160, months=4, start="2025-11")
PERIODS = ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("estate")
    generate(out, seed=7, progress=False, **SMALL)
    return out


def read(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if kind_of(p.name) and kind_of(p.name).name == kind)
    return pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files], ignore_index=True
    )


@pytest.fixture(scope="module")
def cdr(estate) -> pd.DataFrame:
    df = read(estate, "cdr")
    df["utc"] = pd.to_datetime(df["event_time"], format="ISO8601", utc=True)
    df["bill_period"] = df["utc"].dt.tz_convert("Africa/Johannesburg").dt.strftime("%Y-%m")
    df["charge_d"] = df["charge"].map(Decimal)
    for c in ("duration_s", "volume_kb"):
        df[c] = df[c].astype("int64")
    return df


@pytest.fixture(scope="module")
def billing(estate) -> pd.DataFrame:
    df = read(estate, "billing")
    df["amount_d"] = df["amount"].map(Decimal)
    return df


def test_file_names_follow_the_contract(estate):
    names = sorted(p.name for p in estate.iterdir())
    ref = [
        "accounts",
        "cost_centres",
        "employees",
        "line_services",
        "lines",
        "plans",
        "services",
        "tenants",
    ]
    expected = [f"{k}_2026-02-28.csv" for k in ref]
    expected += [f"cdr_{p}.csv" for p in PERIODS] + [f"billing_{p}.csv" for p in PERIODS]
    assert names == sorted(expected)
    assert all(as_of_of(f"{k}_2026-02-28.csv") == "2026-02-28" for k in ref)


AMOUNT = re.compile(r"^-?\d+\.\d{1,4}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def test_every_file_parses_against_the_contract(estate):
    for path in sorted(estate.iterdir()):
        kind = kind_of(path.name)
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert tuple(rows[0]) == kind.column_names, path.name
        assert len(rows) > 1, path.name
        for row in rows[1:]:
            assert len(row) == len(kind.columns), (path.name, row)
            for col, v in zip(kind.columns, row, strict=True):
                if col.required:
                    assert v != "", (path.name, col.name, row)
                if v == "":
                    continue
                if col.enum:
                    assert v in col.enum, (path.name, col.name, v)
                if col.type.startswith("DECIMAL"):
                    assert AMOUNT.match(v), (path.name, col.name, v)
                elif col.type in ("INTEGER", "BIGINT"):
                    assert re.fullmatch(r"-?\d+", v), (path.name, col.name, v)
                elif col.type == "DATE":
                    dt.date.fromisoformat(v)
                elif col.type == "TIMESTAMPTZ":
                    assert TS.match(v), v


def test_same_seed_is_byte_identical_and_another_seed_differs(estate, tmp_path):
    generate(tmp_path / "again", seed=7, progress=False, **SMALL)
    generate(tmp_path / "other", seed=8, progress=False, **SMALL)
    for p in estate.iterdir():
        assert (tmp_path / "again" / p.name).read_bytes() == p.read_bytes(), p.name
    assert (tmp_path / "other" / "cdr_2026-01.csv").read_bytes() != (
        estate / "cdr_2026-01.csv"
    ).read_bytes()


def test_gzip_output_is_deterministic_and_holds_the_same_rows(estate, tmp_path):
    a = generate(tmp_path / "a", seed=7, gzip=True, progress=False, **SMALL)
    generate(tmp_path / "b", seed=7, gzip=True, progress=False, **SMALL)
    assert "cdr_2026-01.csv.gz" in a["files"]
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    plain = (estate / "billing_2025-12.csv").read_bytes()
    assert gzip.decompress((tmp_path / "a" / "billing_2025-12.csv.gz").read_bytes()) == plain


def test_cdrs_sit_in_the_file_of_their_local_bill_period(estate, cdr):
    for p in PERIODS:
        got = pd.read_csv(estate / f"cdr_{p}.csv", dtype=str, keep_default_na=False)
        local = pd.to_datetime(got["event_time"], format="ISO8601", utc=True).dt.tz_convert(
            "Africa/Johannesburg"
        )
        assert (local.dt.strftime("%Y-%m") == p).all()
    utc_month = cdr["utc"].dt.strftime("%Y-%m")
    assert (utc_month != cdr["bill_period"]).sum() > 0  # local vs UTC month differs near the edge
    assert cdr["event_time"].str.endswith("Z").any()
    assert cdr["event_time"].str.endswith("+02:00").any()


def test_record_ids_are_unique(cdr):
    assert cdr["record_id"].is_unique


def test_usage_invoice_lines_equal_the_cdr_charges_per_line_month(cdr, billing):
    sums = cdr.groupby(["msisdn", "bill_period"])["charge_d"].sum()
    sums = sums[sums != 0]
    usage = billing[billing["charge_type"] == "USAGE"]
    billed = usage.groupby(["msisdn", "bill_period"])["amount_d"].sum()
    assert usage.groupby(["msisdn", "bill_period"]).size().max() == 1
    assert billed.sort_index().to_dict() == sums.sort_index().to_dict()


def test_cdr_charges_equal_the_tariff_model(estate, cdr):
    plans = {r["plan_code"]: Plan.from_row(r) for _, r in read(estate, "plans").iterrows()}
    lines = read(estate, "lines").set_index("msisdn")
    events = cdr.copy()
    events["roaming_country"] = events["roaming_country"]
    buckets = usage_buckets(events)
    charges = cdr.groupby(["msisdn", "bill_period"])["charge_d"].sum()
    checked = 0
    for _, u in buckets.iterrows():
        if u["msisdn"] not in lines.index:
            continue  # unknown line: its plan is not in the register
        plan = plans[lines.loc[u["msisdn"], "plan_code"]]
        expected = line_month_cost(plan, u) - plan.monthly_fee
        assert charges[(u["msisdn"], u["bill_period"])] == expected, u["msisdn"]
        checked += 1
    assert checked > 300


def test_subscription_is_the_plan_fee_for_every_month_the_line_existed(estate, billing):
    plans = read(estate, "plans").set_index("plan_code")
    lines = read(estate, "lines")
    subs = billing[billing["charge_type"] == "SUBSCRIPTION"]
    got = subs.groupby(["msisdn", "bill_period"])["amount_d"].agg(["sum", "size"])
    assert (got["size"] == 1).all()
    expected = {}
    for _, ln in lines.iterrows():
        for p in PERIODS:
            first = dt.date.fromisoformat(p + "-01")
            last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
            act = dt.date.fromisoformat(ln["activated_on"])
            canc = dt.date.fromisoformat(ln["cancelled_on"]) if ln["cancelled_on"] else None
            if act <= last and (canc is None or canc >= first):
                expected[(ln["msisdn"], p)] = Decimal(plans.loc[ln["plan_code"], "monthly_fee"])
    registered = got[got.index.get_level_values(0).isin(set(lines["msisdn"]))]
    assert registered["sum"].to_dict() == expected


def test_vat_is_fifteen_percent_rounded_half_up(billing):
    expected = (billing["amount_d"] * Decimal("0.15")).map(
        lambda v: v.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    )
    assert (billing["vat"].map(Decimal) == expected).all()


def test_invoices_carry_every_charge_type_and_account_level_lines(billing):
    assert set(billing["charge_type"]) >= {"SUBSCRIPTION", "USAGE", "VAS", "DISCOUNT", "ONCE_OFF"}
    assert (billing.loc[billing["charge_type"] == "DISCOUNT", "amount_d"] < 0).all()
    assert (
        billing.groupby("invoice_id")["line_no"]
        .apply(lambda s: sorted(map(int, s)) == list(range(1, len(s) + 1)))
        .all()
    )


def test_account_level_adjustments_have_no_msisdn(tmp_path):
    # Adjustments are rare per invoice: a larger estate is sure to have some.
    generate(tmp_path, tenants=2, lines=300, months=6, start="2025-01", seed=1, progress=False)
    billing = read(tmp_path, "billing")
    adj = billing[billing["charge_type"] == "ADJUSTMENT"]
    assert len(adj) > 0 and (adj["msisdn"] == "").all()
    assert (billing.loc[billing["charge_type"] != "ADJUSTMENT", "msisdn"] != "").all()


def test_unknown_lines_appear_in_cdr_and_billing_but_not_the_register(estate, cdr, billing):
    registered = set(read(estate, "lines")["msisdn"])
    unknown_cdr = set(cdr["msisdn"]) - registered
    unknown_bill = set(billing["msisdn"]) - registered - {""}
    assert len(unknown_cdr) >= 2 * 2  # a few per tenant
    assert unknown_cdr <= unknown_bill


def test_no_usage_after_cancellation_and_dormant_lines_exist(estate, cdr):
    lines = read(estate, "lines")
    cancelled = lines[lines["status"] == "CANCELLED"]
    assert len(cancelled) >= 2 and (lines["status"] == "SUSPENDED").sum() >= 2
    local_day = cdr["utc"].dt.tz_convert("Africa/Johannesburg").dt.date
    last_use = local_day.groupby(cdr["msisdn"]).max()
    for _, ln in cancelled.iterrows():
        if ln["msisdn"] in last_use.index:
            assert last_use[ln["msisdn"]] <= dt.date.fromisoformat(ln["cancelled_on"])
    active = lines[lines["status"] == "ACTIVE"]
    recent = set(cdr.loc[cdr["bill_period"] >= "2025-12", "msisdn"])
    assert len(set(active["msisdn"]) - recent) >= 2  # no usage in the last 3 months
    assert (lines["activated_on"] >= "2025-11-01").sum() >= 2  # activated mid-period
    assert (lines["employee_id"] == "").sum() >= 2  # pool lines
    assert lines[lines["employee_id"] != ""]["employee_id"].duplicated().any()  # data SIMs


def _depth(parent: dict[str, str], node: str) -> int:
    d = 1
    while parent.get(node):
        node = parent[node]
        d += 1
    return d


def test_trees_are_deep_and_consistent(estate):
    cc = read(estate, "cost_centres")
    emp = read(estate, "employees")
    acc = read(estate, "accounts")
    for t in read(estate, "tenants")["tenant_id"]:
        c = cc[cc["tenant_id"] == t]
        parents = dict(zip(c["cost_centre_id"], c["parent_cost_centre_id"], strict=True))
        assert set(parents.values()) - {""} <= set(parents)
        assert max(_depth(parents, n) for n in parents) >= 3
        e = emp[emp["tenant_id"] == t]
        managers = dict(zip(e["employee_id"], e["manager_employee_id"], strict=True))
        assert set(managers.values()) - {""} <= set(managers)
        assert max(_depth(managers, n) for n in managers) >= 4
        assert set(e["cost_centre_id"]) <= set(parents)
        a = acc[acc["tenant_id"] == t]
        assert (a["parent_account_id"] == "").sum() == 1
        assert 1 <= (a["parent_account_id"] != "").sum() <= 3
    assert emp["email"].is_unique
    assert cc["name"].str.contains(",").any()  # round-trips through CSV quoting


def test_called_numbers_are_zipf_like(cdr):
    calls = cdr[(cdr["service"] == "VOICE") & (cdr["direction"] == "MO")]
    for _, g in calls.groupby(calls["account_id"].str[:3]):
        counts = g["other_party"].value_counts()
        assert counts.head(50).sum() / counts.sum() > 0.5
        assert len(counts) > 100
    assert (calls["other_party"].str.match(r"^\d+$")).all()


def test_realistic_traffic_mix(cdr):
    assert set(cdr["destination_class"]) - {""} == {
        "ONNET", "OFFNET", "FIXED", "INTERNATIONAL", "PREMIUM", "TOLLFREE",
    }  # fmt: skip
    assert (cdr["direction"] == "MT").mean() > 0.2
    data = cdr[cdr["service"] == "DATA"]
    assert (data["other_party"] == "").all() and (data["destination_class"] == "").all()
    roam = cdr[cdr["roaming_country"] != ""]
    assert len(roam) > 0
    per_line = roam.groupby(["msisdn", "bill_period"])["charge_d"].sum()
    assert per_line.max() > Decimal("10000")  # the bill shock
    # Weekday rhythm and the December dip.
    local = cdr["utc"].dt.tz_convert("Africa/Johannesburg")
    assert (local.dt.day_of_week >= 5).mean() < 0.15
    per_month = cdr.groupby("bill_period").size()
    assert per_month["2025-12"] < 0.85 * per_month["2025-11"]


def test_plan_mix_leaves_real_savings(estate, cdr):
    plans = [Plan.from_row(r) for _, r in read(estate, "plans").iterrows()]
    lines = read(estate, "lines").set_index("msisdn")
    b = usage_buckets(cdr)
    b = b[b["msisdn"].isin(lines.index)]
    savers = 0
    for msisdn, g in b.groupby("msisdn"):
        cur = next(p for p in plans if p.plan_code == lines.loc[msisdn, "plan_code"])
        cost = {p.plan_code: sum(line_month_cost(p, u) for _, u in g.iterrows()) for p in plans}
        if min(cost.values()) < Decimal("0.8") * cost[cur.plan_code]:
            savers += 1
    assert savers >= 10
    assert set(read(estate, "plans")["payment"]) == {"PREPAID", "POSTPAID"}


def test_default_start_is_the_complete_months_before_today():
    assert default_start(12, dt.date(2026, 11, 25)) == "2025-11"
    assert default_start(3, dt.date(2026, 2, 1)) == "2025-11"


def test_summary_counts_rows_per_file(estate):
    for kind in ("cdr", "billing"):
        assert KINDS[kind].fact
    s = generate(estate.parent / "summary", seed=7, progress=False, **SMALL)
    assert s["cdr_rows"] == sum(v for k, v in s["files"].items() if k.startswith("cdr_"))
    for name, rows in s["files"].items():
        with open(estate / name, encoding="utf-8", newline="") as fh:
            assert sum(1 for _ in csv.reader(fh)) - 1 == rows
