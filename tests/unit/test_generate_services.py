"""The generator's service catalogue and each line's services: a realistic catalogue, a mix
realistic per line, and CDRs and invoices that agree with the services (roaming only with roaming,
international calls only with international dialling, no premium calls when barred).

Everything is checked with pandas on the written CSVs; nothing here calls the generator's helpers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from selfcare.contract import kind_of
from selfcare.sample.generate import generate

SMALL = dict(tenants=3, lines=420, months=4, start="2025-11")
AS_OF = "2026-02-28"


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("estate")
    generate(out, seed=5, progress=False, **SMALL)
    return out


def read(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if kind_of(p.name) and kind_of(p.name).name == kind)
    return pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files], ignore_index=True
    )


@pytest.fixture(scope="module")
def catalogue(estate) -> pd.DataFrame:
    return read(estate, "services")


@pytest.fixture(scope="module")
def lines(estate) -> pd.DataFrame:
    df = read(estate, "lines")
    plans = read(estate, "plans").set_index("plan_code")
    df["payment"] = df["plan_code"].map(plans["payment"])
    df["product_type"] = df["plan_code"].map(plans["product_type"])
    return df


@pytest.fixture(scope="module")
def line_services(estate, lines) -> pd.DataFrame:
    ls = read(estate, "line_services")
    return ls.merge(
        lines[["msisdn", "tenant_id", "payment", "activated_on", "cancelled_on", "cug_id"]],
        on="msisdn",
        how="left",
        suffixes=("", "_line"),
        validate="many_to_one",
    )


@pytest.fixture(scope="module")
def cdr(estate) -> pd.DataFrame:
    df = read(estate, "cdr")
    local = pd.to_datetime(df["event_time"], format="ISO8601", utc=True).dt.tz_convert(
        "Africa/Johannesburg"
    )
    df["local_date"] = local.dt.strftime("%Y-%m-%d")
    return df


def has(line_services: pd.DataFrame, code: str) -> set[str]:
    return set(line_services.loc[line_services["service_code"] == code, "msisdn"])


def test_catalogue_is_a_realistic_business_catalogue(catalogue):
    assert 15 <= len(catalogue) <= 25
    assert catalogue["service_code"].is_unique and catalogue["name"].is_unique
    assert set(catalogue["category"]) == {"FEATURE", "BAR", "ADDON"}
    assert set(catalogue["payment"]) == {"POSTPAID", "PREPAID", "ANY"}
    names = " | ".join(catalogue["name"]).lower()
    for words in ("international dialling", "roaming", "premium-rated", "voicemail",
                  "caller line identity", "international calls barred"):  # fmt: skip
        assert words in names, words
    # data add-ons of several sizes, at least one prepaid-only service
    addons = catalogue[catalogue["category"] == "ADDON"]
    sizes = addons["name"].str.extract(r"(\d+ [MG]B)")[0].dropna()
    assert sizes.nunique() >= 4
    assert (catalogue["payment"] == "PREPAID").sum() >= 2
    for col in ("monthly_fee", "once_off_fee"):
        fees = catalogue[col].map(float)
        assert (fees >= 0).all()
    # most network features and every bar are free; add-ons cost money
    assert (catalogue.loc[catalogue["category"] == "BAR", "monthly_fee"].map(float) == 0).all()
    assert (addons["monthly_fee"].map(float) + addons["once_off_fee"].map(float) > 0).all()


def test_every_line_service_is_a_registered_line_of_its_tenant_and_a_catalogue_service(
    line_services, catalogue
):
    assert len(line_services) > 0
    assert line_services["payment"].notna().all()  # the msisdn is in the register
    assert (line_services["tenant_id"] == line_services["tenant_id_line"]).all()
    assert set(line_services["service_code"]) <= set(catalogue["service_code"])
    assert not line_services.duplicated(["msisdn", "service_code"]).any()
    assert line_services["tenant_id"].nunique() == 3


def test_payment_bound_services_only_on_lines_of_that_payment(line_services, catalogue):
    pay = line_services["service_code"].map(catalogue.set_index("service_code")["payment"])
    prepaid_only = pay == "PREPAID"
    postpaid_only = pay == "POSTPAID"
    assert prepaid_only.sum() > 0 and postpaid_only.sum() > 0
    assert (line_services.loc[prepaid_only, "payment"] == "PREPAID").all()
    assert (line_services.loc[postpaid_only, "payment"] == "POSTPAID").all()


def test_activation_dates_lie_between_the_line_activation_and_the_snapshot(line_services):
    on = line_services["activated_on"].map(dt.date.fromisoformat)
    line_on = line_services["activated_on_line"].map(dt.date.fromisoformat)
    assert (on >= line_on).all()
    assert (on <= dt.date.fromisoformat(AS_OF)).all()
    cancelled = line_services[line_services["cancelled_on"] != ""]
    assert len(cancelled) > 0
    assert (
        cancelled["activated_on"].map(dt.date.fromisoformat)
        <= cancelled["cancelled_on"].map(dt.date.fromisoformat)
    ).all()
    # not every service came with the line: some were added later
    assert (on > line_on).mean() > 0.2


def test_mix_per_line_is_realistic(line_services, lines):
    phones = set(lines.loc[lines["cug_id"] != "", "msisdn"])  # an employee's own phone
    n = len(phones)
    share = {c: len(has(line_services, c) & phones) / n for c in line_services["service_code"]}
    assert share["VM"] > 0.75
    assert share["CLIP"] > 0.9
    assert 0.3 < share["IDD"] < 0.8
    assert share["BAR-PREM"] > 0.5
    assert 0.1 < share.get("ROAM", 0) + share.get("ROAM-PP", 0) < 0.5
    assert share.get("BAR-INTL", 0) > 0.1
    # contradictions never occur
    for a, b in (("IDD", "BAR-INTL"), ("ROAM", "BAR-ROAM"), ("ROAM-PP", "BAR-ROAM"),
                 ("ROAM", "ROAM-PP")):  # fmt: skip
        assert not has(line_services, a) & has(line_services, b), (a, b)
    # data SIMs (an employee's second line, outside the CUG) have no voice features
    data_sims = set(lines.loc[(lines["employee_id"] != "") & (lines["cug_id"] == ""), "msisdn"])
    assert data_sims and not data_sims & (has(line_services, "VM") | has(line_services, "IDD"))
    # data add-ons of more than one size are in use
    used = set(line_services["service_code"])
    assert len(used & {"DATA-1G", "DATA-5G", "DATA-10G"}) >= 2
    assert used & {"PP-DATA-500M", "PP-SOCIAL-1G", "ROAM-PP"}


def test_every_line_that_roams_in_the_cdrs_has_roaming(cdr, lines, line_services):
    registered = set(lines["msisdn"])
    roamed = cdr[(cdr["roaming_country"] != "") & cdr["msisdn"].isin(registered)]
    assert roamed["msisdn"].nunique() >= 5
    roaming = has(line_services, "ROAM") | has(line_services, "ROAM-PP")
    assert set(roamed["msisdn"]) <= roaming
    # and it had roaming before it travelled
    on = line_services[line_services["service_code"].isin(["ROAM", "ROAM-PP"])].set_index("msisdn")[
        "activated_on"
    ]
    assert (roamed["local_date"] >= roamed["msisdn"].map(on)).all()


def test_international_and_premium_calls_agree_with_the_services(cdr, lines, line_services):
    registered = cdr["msisdn"].isin(set(lines["msisdn"]))
    mo = cdr[registered & (cdr["direction"] == "MO")]
    intl = mo[mo["destination_class"] == "INTERNATIONAL"]
    assert intl["msisdn"].nunique() >= 20
    assert set(intl["msisdn"]) <= has(line_services, "IDD")
    on = line_services[line_services["service_code"] == "IDD"].set_index("msisdn")["activated_on"]
    assert (intl["local_date"] >= intl["msisdn"].map(on)).all()
    premium = mo[mo["destination_class"] == "PREMIUM"]
    assert len(premium) > 0
    assert not set(premium["msisdn"]) & has(line_services, "BAR-PREM")
    # calls from abroad still reach lines without international dialling
    mt_intl = cdr[registered & (cdr["direction"] == "MT")]
    mt_intl = mt_intl[mt_intl["destination_class"] == "INTERNATIONAL"]
    assert set(mt_intl["msisdn"]) - has(line_services, "IDD")


def test_invoiced_value_added_services_are_the_lines_services(
    estate, lines, line_services, catalogue
):
    bill = read(estate, "billing")
    # unknown lines (not in the register) are billed too, but have no services in the snapshot
    vas = bill[(bill["charge_type"] == "VAS") & bill["msisdn"].isin(set(lines["msisdn"]))]
    assert len(vas) > 0
    name_of = catalogue.set_index("service_code")["name"]
    held = set(zip(line_services["msisdn"], line_services["service_code"].map(name_of),
                   strict=True))  # fmt: skip
    assert set(zip(vas["msisdn"], vas["description"], strict=True)) <= held
    fee = catalogue.set_index("name")["monthly_fee"]
    assert (vas["amount"].map(float) == vas["description"].map(fee).map(float)).all()


def test_services_are_deterministic_by_seed(estate, tmp_path):
    generate(tmp_path / "again", seed=5, progress=False, **SMALL)
    generate(tmp_path / "other", seed=6, progress=False, **SMALL)
    for name in (f"services_{AS_OF}.csv", f"line_services_{AS_OF}.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (estate / name).read_bytes()
    other = f"line_services_{AS_OF}.csv"
    assert (tmp_path / "other" / other).read_bytes() != (estate / other).read_bytes()
