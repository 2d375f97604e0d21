"""The tariff model on hand-worked examples (docs/tariff-model.md works the same cases)."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from selfcare.contract.tariff import (
    BUCKETS,
    Plan,
    PlanTable,
    classify,
    line_month_cost,
    rate_events,
    usage_buckets,
    usage_cost,
    vat,
)

POSTPAID = Plan(
    plan_code="POST",
    plan_name="Postpaid 100",
    product_type="HYBRID",
    payment="POSTPAID",
    monthly_fee=D("299.0000"),
    incl_voice_min=100,
    incl_sms=10,
    incl_data_mb=1024,
    rate_voice_national=D("1.0900"),
    rate_voice_international=D("3.4900"),
    rate_sms=D("0.5000"),
    rate_mms=D("0.8000"),
    rate_data_mb=D("0.5900"),
    rate_roaming_voice=D("14.9900"),
    rate_roaming_data_mb=D("89.0000"),
)
PREPAID = Plan(
    plan_code="PRE",
    plan_name="Prepaid",
    product_type="HYBRID",
    payment="PREPAID",
    monthly_fee=D("0.0000"),
    incl_voice_min=0,
    incl_sms=0,
    incl_data_mb=0,
    rate_voice_national=D("1.7000"),
    rate_voice_international=D("4.9900"),
    rate_sms=D("0.6000"),
    rate_mms=D("0.9500"),
    rate_data_mb=D("0.9900"),
    rate_roaming_voice=D("19.9900"),
    rate_roaming_data_mb=D("150.0000"),
)
# A rate chosen so that 3 seconds cost exactly half a 1e-4 unit more than 0.0507.
ODD = Plan(**{**POSTPAID.__dict__, "plan_code": "ODD", "rate_voice_international": D("1.0150")})


def events(*rows):
    """Events in time order: (service, direction, destination, roaming country, seconds, KB,
    charge)."""
    cols = ["service", "direction", "destination_class", "roaming_country", "duration_s"]
    cols += ["volume_kb", "charge"]
    df = pd.DataFrame(list(rows), columns=cols)
    df["msisdn"] = "27820000001"
    df["bill_period"] = "2026-01"
    return df


def rate(plan: Plan, df: pd.DataFrame) -> list[D]:
    """Per-event charges from the vectorised rater, as Decimals."""
    roaming = df["roaming_country"].fillna("").str.len().to_numpy() > 0
    cls = classify(df["service"], df["direction"], df["destination_class"], roaming)
    prem = np.array([int(D(str(c)) * 10000) for c in df["charge"]], dtype=np.int64)
    r = rate_events(
        np.zeros(len(df), np.int64),
        np.zeros(len(df), np.int64),
        cls,
        df["duration_s"].to_numpy(),
        df["volume_kb"].to_numpy(),
        prem,
        PlanTable.of([plan]),
    )
    return [D(int(c)) / 10000 for c in r.charge4]


def test_call_straddling_the_allowance_pays_only_the_seconds_beyond_it():
    df = events(
        ("VOICE", "MO", "OFFNET", None, 99 * 60, 0, 0),  # 99 of 100 minutes used
        ("VOICE", "MO", "ONNET", None, 120, 0, 0),  # 60 s in bundle, 60 s at R1.09/min
    )
    assert rate(POSTPAID, df) == [D("0"), D("1.09")]
    usage = usage_buckets(df).iloc[0]
    assert usage["nat_voice_s"] == 99 * 60 + 120
    assert line_month_cost(POSTPAID, usage) == D("300.0900")


def test_running_total_is_rounded_not_each_event():
    # 100 minutes used up, then two 7-second calls at R1.09/min:
    # 7 s = 0.12716.. -> 0.1272; 14 s = 0.25433.. -> 0.2543; the second charge is the difference.
    df = events(
        ("VOICE", "MO", "FIXED", None, 6000, 0, 0),
        ("VOICE", "MO", "FIXED", None, 7, 0, 0),
        ("VOICE", "MO", "FIXED", None, 7, 0, 0),
    )
    assert rate(POSTPAID, df) == [D("0"), D("0.1272"), D("0.1271")]
    assert usage_cost(POSTPAID, usage_buckets(df).iloc[0]) == D("0.2543")


def test_exact_half_rounds_up():
    # 3 s at R1.015/min = R0.05075 exactly -> R0.0508.
    df = events(("VOICE", "MO", "INTERNATIONAL", None, 3, 0, 0))
    assert rate(ODD, df) == [D("0.0508")]
    assert usage_cost(ODD, {"intl_voice_s": 3}) == D("0.0508")


def test_sms_and_data_allowance_boundaries():
    # 11 SMS on a 10-SMS plan: only the 11th costs R0.50.
    sms = events(*[("SMS", "MO", "OFFNET", None, 0, 0, 0)] * 11)
    assert rate(POSTPAID, sms) == [D("0")] * 10 + [D("0.5")]
    # 1,048,000 KB then 1,000 KB on 1,024 MB (1,048,576 KB): 424 KB over at R0.59/MB
    # = 0.244296875 -> 0.2443.
    data = events(
        ("DATA", "MO", None, None, 600, 1_048_000, 0), ("DATA", "MO", None, None, 60, 1_000, 0)
    )
    assert rate(POSTPAID, data) == [D("0"), D("0.2443")]
    assert usage_cost(POSTPAID, {"data_kb_home": 1_049_000}) == D("0.2443")


def test_roaming_never_draws_on_allowances_and_mt_roaming_voice_is_charged():
    df = events(
        ("VOICE", "MO", "OFFNET", "GB", 60, 0, 0),  # R14.99
        ("VOICE", "MT", "OFFNET", "GB", 30, 0, 0),  # received abroad: R7.495
        ("SMS", "MO", "OFFNET", "GB", 0, 0, 0),  # R0.50, not from the 10 SMS
        ("SMS", "MT", "OFFNET", "GB", 0, 0, 0),  # received: free
        ("DATA", "MO", None, "GB", 60, 512, 0),  # 0.5 MB at R89 = R44.50
        ("VOICE", "MO", "OFFNET", None, 60, 0, 0),  # at home: still in the full allowance
    )
    assert rate(POSTPAID, df) == [D("14.99"), D("7.495"), D("0.5"), D("0"), D("44.5"), D("0")]
    u = usage_buckets(df).iloc[0]
    assert (u["roam_voice_s"], u["roam_sms"], u["roam_data_kb"], u["nat_voice_s"]) == (
        90,
        1,
        512,
        60,
    )
    assert line_month_cost(POSTPAID, u) == D("299") + D("14.99") + D("7.495") + D("0.5") + D("44.5")


def test_premium_at_its_own_charge_tollfree_and_mt_at_home_free():
    df = events(
        ("SMS", "MO", "PREMIUM", None, 0, 0, "5.0000"),
        ("VOICE", "MO", "PREMIUM", None, 90, 0, "15.0000"),
        ("VOICE", "MO", "TOLLFREE", None, 600, 0, 0),
        ("VOICE", "MT", "OFFNET", None, 600, 0, 0),
        ("SMS", "MT", "ONNET", None, 0, 0, 0),
        ("VOICE", "MO", "TOLLFREE", "DE", 60, 0, 0),  # toll-free abroad is roaming voice
    )
    assert rate(POSTPAID, df) == [D("5"), D("15"), D("0"), D("0"), D("0"), D("14.99")]
    u = usage_buckets(df).iloc[0]
    assert u["premium_charge"] == D("20.0000")
    assert u["nat_voice_s"] == 0 and u["sms_home"] == 0  # premium counts nowhere else


def test_prepaid_has_no_fee_and_higher_rates():
    usage = {"nat_voice_s": 30 * 60, "sms_home": 4, "data_kb_home": 200 * 1024}
    # Prepaid: 30 min x 1.70 + 4 x 0.60 + 200 MB x 0.99 = 51 + 2.40 + 198 = 251.40
    assert line_month_cost(PREPAID, usage) == D("251.4000")
    # Postpaid: all inside the allowances -> the fee only.
    assert line_month_cost(POSTPAID, usage) == D("299.0000")


def test_vat_is_fifteen_percent_half_up():
    assert vat(D("10.0001")) == D("1.5000")  # 1.500015
    assert vat(D("0.0003")) == D("0.0000")  # 0.000045
    assert vat(D("0.0010")) == D("0.0002")  # 0.00015 -> half up
    assert vat(D("-0.0010")) == D("-0.0002")


def test_vectorised_rater_matches_the_reference_on_random_line_months():
    rng = np.random.default_rng(3)
    svc = ["VOICE", "SMS", "MMS", "DATA"]
    dests = ["ONNET", "OFFNET", "FIXED", "INTERNATIONAL", "TOLLFREE", "PREMIUM"]
    plans = [POSTPAID, PREPAID, ODD]
    for trial in range(30):
        n = int(rng.integers(1, 400))
        s = rng.choice(svc, n)
        rows = []
        for k in range(n):
            dest = None if s[k] == "DATA" else rng.choice(dests)
            rows.append(
                (
                    s[k],
                    "MO" if s[k] == "DATA" or rng.random() < 0.6 else "MT",
                    dest,
                    "US" if rng.random() < 0.05 else None,
                    int(rng.integers(1, 900)) if s[k] in ("VOICE", "DATA") else 0,
                    int(rng.integers(1, 30_000)) if s[k] == "DATA" else 0,
                    "2.5000" if dest == "PREMIUM" else "0",
                )
            )
        df = events(*rows)
        plan = plans[trial % 3]
        charges = rate(plan, df)
        u = usage_buckets(df).iloc[0]
        assert sum(charges) == line_month_cost(plan, u) - plan.monthly_fee
        assert all(c >= 0 for c in charges)


def test_usage_buckets_groups_per_line_month():
    df = pd.concat(
        [
            events(("VOICE", "MO", "ONNET", None, 10, 0, 0)),
            events(("VOICE", "MO", "ONNET", None, 20, 0, 0)).assign(bill_period="2026-02"),
            events(("MMS", "MO", "OFFNET", None, 0, 300, 0)).assign(msisdn="27820000002"),
        ]
    )
    out = usage_buckets(df)
    assert list(out.columns) == ["msisdn", "bill_period", *BUCKETS]
    assert out["nat_voice_s"].tolist() == [10, 20, 0]
    assert out["mms_home"].tolist() == [0, 0, 1]


def test_amounts_with_more_than_four_decimals_are_refused():
    with pytest.raises(ValueError):
        Plan.from_row({**{k: str(v) for k, v in POSTPAID.__dict__.items()}, "rate_sms": "0.50001"})
