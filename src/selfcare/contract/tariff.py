"""The tariff model: what one line-month costs under a plan, and the rating of usage events.

The model (docs/tariff-model.md has worked examples) is evaluated in exact integers so that the
generator's per-event charges, the billed USAGE lines and the tariff analyser's per-plan costs agree
to the last 1e-4 ZAR:

* rates are taken in units of 1e-4 ZAR (``r4 = rate * 10000``, exact for 4-decimal rates);
* the exact usage cost times 15360 (= lcm(60, 1024)) times 10^4 is an integer ("scaled units"):
  voice seconds x r4 x 256, data KB x r4 x 15, each SMS/MMS r4 x 15360, premium charge4 x 15360;
* a line-month's usage cost is that total rounded half up to whole 1e-4 units
  (``(total + 7680) // 15360``); an event's charge is R(C_i) - R(C_{i-1}) over the cumulative exact
  cost in time order (ties by record_id), so the charges of a line-month sum to R(total).

Three entry points: ``line_month_cost`` (plain Python on usage buckets, the readable spec),
``rate_events`` (numpy, vectorised, used by the generator) and ``usage_buckets`` (reduces CDRs to
the buckets of table ``agg_tariff_usage_line_month``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

SCALE = 15360  # lcm(60 s per minute, 1024 KB per MB)
HALF = SCALE // 2
PER_SECOND = SCALE // 60  # 256: scaled units per second per r4
PER_KB = SCALE // 1024  # 15: scaled units per KB per r4
UNIT = Decimal("0.0001")


# Usage buckets, in the order of table agg_tariff_usage_line_month.
BUCKETS = (
    "nat_voice_s",
    "intl_voice_s",
    "sms_home",
    "mms_home",
    "data_kb_home",
    "roam_voice_s",
    "roam_data_kb",
    "roam_sms",
    "roam_mms",
    "premium_charge",
)

# Event classes for the vectorised rater: the bucket an event counts in (FREE: none).
FREE, NAT_VOICE, INTL_VOICE, SMS_HOME, MMS_HOME, DATA_HOME = 0, 1, 2, 3, 4, 5
ROAM_VOICE, ROAM_DATA, ROAM_SMS, ROAM_MMS, PREMIUM = 6, 7, 8, 9, 10
_CLASS_BUCKET = {
    NAT_VOICE: "nat_voice_s",
    INTL_VOICE: "intl_voice_s",
    SMS_HOME: "sms_home",
    MMS_HOME: "mms_home",
    DATA_HOME: "data_kb_home",
    ROAM_VOICE: "roam_voice_s",
    ROAM_DATA: "roam_data_kb",
    ROAM_SMS: "roam_sms",
    ROAM_MMS: "roam_mms",
    PREMIUM: "premium_charge",
}


def to4(amount: Decimal | str | int | float) -> int:
    """An amount with at most 4 decimals as an integer count of 1e-4 ZAR (exact; refuses more)."""
    d = Decimal(str(amount)) * 10000
    if d != d.to_integral_value():
        raise ValueError(f"amount {amount!r} has more than 4 decimal places")
    return int(d)


def from4(units: int) -> Decimal:
    return (Decimal(int(units)) * UNIT).quantize(UNIT)


def round_scaled(total: int) -> int:
    """Scaled units -> whole 1e-4 ZAR, half up (totals are never negative)."""
    return (total + HALF) // SCALE


@dataclass(frozen=True)
class Plan:
    """One row of the operator's tariff catalogue (kind `plans`)."""

    plan_code: str
    plan_name: str
    product_type: str
    payment: str
    monthly_fee: Decimal
    incl_voice_min: int
    incl_sms: int
    incl_data_mb: int
    rate_voice_national: Decimal
    rate_voice_international: Decimal
    rate_sms: Decimal
    rate_mms: Decimal
    rate_data_mb: Decimal
    rate_roaming_voice: Decimal
    rate_roaming_data_mb: Decimal

    @classmethod
    def from_row(cls, row: Mapping) -> Plan:
        """From a CSV/DataFrame row (strings or numbers)."""

        def dec(k: str) -> Decimal:
            return from4(to4(row[k]))

        return cls(
            plan_code=str(row["plan_code"]),
            plan_name=str(row["plan_name"]),
            product_type=str(row["product_type"]),
            payment=str(row["payment"]),
            monthly_fee=dec("monthly_fee"),
            incl_voice_min=int(row["incl_voice_min"]),
            incl_sms=int(row["incl_sms"]),
            incl_data_mb=int(row["incl_data_mb"]),
            rate_voice_national=dec("rate_voice_national"),
            rate_voice_international=dec("rate_voice_international"),
            rate_sms=dec("rate_sms"),
            rate_mms=dec("rate_mms"),
            rate_data_mb=dec("rate_data_mb"),
            rate_roaming_voice=dec("rate_roaming_voice"),
            rate_roaming_data_mb=dec("rate_roaming_data_mb"),
        )


def usage_cost_scaled(plan: Plan, usage: Mapping) -> int:
    """The exact usage cost of a line-month in scaled units (1e-4 ZAR / 15360).

    `usage` maps the BUCKETS to counts; premium_charge is an amount in ZAR (4 decimals).
    Missing buckets count as zero.
    """

    def u(k: str) -> int:
        return int(usage.get(k, 0) or 0)

    r = to4
    total = 0
    # National voice, SMS and data at home draw on the allowances first.
    total += max(0, u("nat_voice_s") - plan.incl_voice_min * 60) * r(plan.rate_voice_national) * 256
    total += u("intl_voice_s") * r(plan.rate_voice_international) * 256
    total += max(0, u("sms_home") - plan.incl_sms) * r(plan.rate_sms) * SCALE
    total += u("mms_home") * r(plan.rate_mms) * SCALE
    total += max(0, u("data_kb_home") - plan.incl_data_mb * 1024) * r(plan.rate_data_mb) * 15
    # Roaming never draws on the allowances.
    total += u("roam_voice_s") * r(plan.rate_roaming_voice) * 256
    total += u("roam_data_kb") * r(plan.rate_roaming_data_mb) * 15
    total += u("roam_sms") * r(plan.rate_sms) * SCALE
    total += u("roam_mms") * r(plan.rate_mms) * SCALE
    total += to4(usage.get("premium_charge", 0) or 0) * SCALE
    return total


def usage_cost(plan: Plan, usage: Mapping) -> Decimal:
    """The billed USAGE of a line-month under `plan`: the exact cost rounded half up to 1e-4 ZAR."""
    return from4(round_scaled(usage_cost_scaled(plan, usage)))


def line_month_cost(plan: Plan, usage: Mapping) -> Decimal:
    """Cost of one line-month under `plan` = monthly fee + usage cost (ZAR excl. VAT)."""
    return (plan.monthly_fee + usage_cost(plan, usage)).quantize(UNIT)


def vat(amount: Decimal) -> Decimal:
    """VAT at 15%, rounded half up (away from zero) to 4 places."""
    return (amount * Decimal("0.15")).quantize(UNIT, rounding=ROUND_HALF_UP)


# --- event classification and vectorised rating ------------------------------------------------


def classify(
    service: np.ndarray,
    direction: np.ndarray,
    destination_class: np.ndarray,
    roaming: np.ndarray,
) -> np.ndarray:
    """The bucket class (FREE, NAT_VOICE, ...) of each event, as int8.

    `service`, `direction`, `destination_class` are arrays of strings (destination '' or None for
    DATA); `roaming` is a boolean array (roaming_country not empty).
    """

    # Unknown strings get code -1 and so count nowhere (the loader rejects them anyway).
    def codes(values, names) -> np.ndarray:
        lookup = {n: i for i, n in enumerate(names)}
        return np.array([lookup.get(v, -1) for v in np.asarray(values, dtype=object)], np.int8)

    mo = np.asarray(direction, dtype=object) == "MO"
    return classify_codes(
        codes(service, SERVICE_CODES), mo, codes(destination_class, DESTINATIONS), roaming
    )


# Codes for classify_codes.
SERVICE_CODES = ("DATA", "MMS", "SMS", "VOICE")
S_DATA, S_MMS, S_SMS, S_VOICE = 0, 1, 2, 3
DESTINATIONS = ("ONNET", "OFFNET", "FIXED", "INTERNATIONAL", "PREMIUM", "TOLLFREE")
DEST_CODES = {d: i for i, d in enumerate(DESTINATIONS)}


def classify_codes(
    service: np.ndarray, mo: np.ndarray, dest: np.ndarray, roaming: np.ndarray
) -> np.ndarray:
    """classify() on codes: service S_*, mo boolean, dest index into DESTINATIONS (-1: none)."""
    service = np.asarray(service)
    dest = np.asarray(dest)
    mo = np.asarray(mo, dtype=bool)
    roaming = np.asarray(roaming, dtype=bool)
    home = ~roaming
    voice, sms, mms, data = (service == s for s in (S_VOICE, S_SMS, S_MMS, S_DATA))
    premium = dest == DEST_CODES["PREMIUM"]
    national = dest <= DEST_CODES["FIXED"]
    national &= dest >= 0
    out = np.zeros(len(service), dtype=np.int8)
    out[home & mo & voice & national] = NAT_VOICE
    out[home & mo & voice & (dest == DEST_CODES["INTERNATIONAL"])] = INTL_VOICE
    # TOLLFREE messages and calls at home cost nothing; every other MO message counts.
    msg_home = home & mo & ~premium & (dest != DEST_CODES["TOLLFREE"])
    out[msg_home & sms] = SMS_HOME
    out[msg_home & mms] = MMS_HOME
    out[home & data] = DATA_HOME
    out[roaming & voice & ~premium] = ROAM_VOICE  # MO and MT alike
    out[roaming & data] = ROAM_DATA
    out[roaming & mo & sms & ~premium] = ROAM_SMS
    out[roaming & mo & mms & ~premium] = ROAM_MMS
    out[premium] = PREMIUM
    return out


@dataclass(frozen=True)
class PlanTable:
    """The catalogue as int64 arrays indexed by plan index (rates in 1e-4 ZAR)."""

    codes: tuple[str, ...]
    fee4: np.ndarray
    incl_voice_s: np.ndarray
    incl_sms: np.ndarray
    incl_data_kb: np.ndarray
    voice_nat4: np.ndarray
    voice_intl4: np.ndarray
    sms4: np.ndarray
    mms4: np.ndarray
    data4: np.ndarray
    roam_voice4: np.ndarray
    roam_data4: np.ndarray

    @classmethod
    def of(cls, plans: Sequence[Plan]) -> PlanTable:
        def arr(f) -> np.ndarray:
            return np.array([f(p) for p in plans], dtype=np.int64)

        return cls(
            codes=tuple(p.plan_code for p in plans),
            fee4=arr(lambda p: to4(p.monthly_fee)),
            incl_voice_s=arr(lambda p: p.incl_voice_min * 60),
            incl_sms=arr(lambda p: p.incl_sms),
            incl_data_kb=arr(lambda p: p.incl_data_mb * 1024),
            voice_nat4=arr(lambda p: to4(p.rate_voice_national)),
            voice_intl4=arr(lambda p: to4(p.rate_voice_international)),
            sms4=arr(lambda p: to4(p.rate_sms)),
            mms4=arr(lambda p: to4(p.rate_mms)),
            data4=arr(lambda p: to4(p.rate_data_mb)),
            roam_voice4=arr(lambda p: to4(p.rate_roaming_voice)),
            roam_data4=arr(lambda p: to4(p.rate_roaming_data_mb)),
        )


def _group_cumsum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum restarting at each group start (`starts`: bool, True at a group's
    first row)."""
    c = np.cumsum(values)
    idx = np.flatnonzero(starts)
    base = np.zeros(len(values), dtype=np.int64)
    if len(idx):
        # The sum before each group's first row, carried over the group.
        before = c[idx] - values[idx]
        lens = np.diff(np.append(idx, len(values)))
        base = np.repeat(before, lens)
    return c - base


@dataclass(frozen=True)
class Rated:
    """Result of rate_events: per-event charge (1e-4 ZAR) and whether it drew on an allowance."""

    charge4: np.ndarray
    in_bundle: np.ndarray


def rate_events(
    group: np.ndarray,
    plan_idx: np.ndarray,
    event_class: np.ndarray,
    duration_s: np.ndarray,
    volume_kb: np.ndarray,
    premium4: np.ndarray,
    table: PlanTable,
) -> Rated:
    """Rate events in exact integers.

    The events must be sorted by line-month `group` (any int64 id), then event time, then
    record_id: allowances are used up in that order. `plan_idx` indexes `table` (constant within a
    group); `premium4` is the own charge of PREMIUM events in 1e-4 ZAR (ignored elsewhere).
    """
    group = np.asarray(group, dtype=np.int64)
    n = len(group)
    if n == 0:
        return Rated(np.zeros(0, np.int64), np.zeros(0, bool))
    cls = np.asarray(event_class)
    p = np.asarray(plan_idx, dtype=np.int64)
    dur = np.asarray(duration_s, dtype=np.int64)
    vol = np.asarray(volume_kb, dtype=np.int64)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = group[1:] != group[:-1]

    inc = np.zeros(n, dtype=np.int64)  # exact marginal cost, scaled units
    in_bundle = np.zeros(n, dtype=bool)

    def drawdown(mask: np.ndarray, qty: np.ndarray, allowance: np.ndarray, unit_cost: np.ndarray):
        # Chargeable quantity = growth of max(0, cumulative - allowance) over this event.
        q = np.where(mask, qty, 0)
        after = _group_cumsum(q, starts)
        before = after - q
        over = np.maximum(0, after - allowance) - np.maximum(0, before - allowance)
        inc[mask] = (over * unit_cost)[mask]
        in_bundle[mask] = (before < allowance)[mask] & (q[mask] > 0)

    drawdown(cls == NAT_VOICE, dur, table.incl_voice_s[p], table.voice_nat4[p] * PER_SECOND)
    drawdown(cls == SMS_HOME, np.ones(n, np.int64), table.incl_sms[p], table.sms4[p] * SCALE)
    drawdown(cls == DATA_HOME, vol, table.incl_data_kb[p], table.data4[p] * PER_KB)

    def flat(c: int, qty: np.ndarray, unit_cost: np.ndarray) -> None:
        m = cls == c
        inc[m] = qty[m] * unit_cost[m]

    flat(INTL_VOICE, dur, table.voice_intl4[p] * PER_SECOND)
    flat(MMS_HOME, np.ones(n, np.int64), table.mms4[p] * SCALE)
    flat(ROAM_VOICE, dur, table.roam_voice4[p] * PER_SECOND)
    flat(ROAM_DATA, vol, table.roam_data4[p] * PER_KB)
    flat(ROAM_SMS, np.ones(n, np.int64), table.sms4[p] * SCALE)
    flat(ROAM_MMS, np.ones(n, np.int64), table.mms4[p] * SCALE)
    flat(PREMIUM, np.asarray(premium4, dtype=np.int64), np.full(n, SCALE, np.int64))

    cum = _group_cumsum(inc, starts)
    charge4 = (cum + HALF) // SCALE - (cum - inc + HALF) // SCALE
    return Rated(charge4, in_bundle)


def usage_buckets(
    events: pd.DataFrame, by: Sequence[str] = ("msisdn", "bill_period")
) -> pd.DataFrame:
    """Reduce CDRs to the usage buckets of agg_tariff_usage_line_month, one row per `by` key.

    `events` needs service, direction, destination_class, roaming_country, duration_s, volume_kb and
    charge (charge is read for PREMIUM events only, as Decimal-able text or numbers).
    """
    by = list(by)
    roaming = events["roaming_country"].fillna("").astype(str).str.len().to_numpy() > 0
    cls = classify(
        events["service"].to_numpy(),
        events["direction"].to_numpy(),
        events["destination_class"].to_numpy(),
        roaming,
    )
    dur = pd.to_numeric(events["duration_s"]).fillna(0).astype("int64").to_numpy()
    vol = pd.to_numeric(events["volume_kb"]).fillna(0).astype("int64").to_numpy()
    prem4 = np.zeros(len(events), dtype=np.int64)
    pm = cls == PREMIUM
    if pm.any():
        prem4[pm] = [to4(c) for c in events["charge"].to_numpy()[pm]]
    qty = {
        NAT_VOICE: dur,
        INTL_VOICE: dur,
        SMS_HOME: np.ones(len(events), np.int64),
        MMS_HOME: np.ones(len(events), np.int64),
        DATA_HOME: vol,
        ROAM_VOICE: dur,
        ROAM_DATA: vol,
        ROAM_SMS: np.ones(len(events), np.int64),
        ROAM_MMS: np.ones(len(events), np.int64),
        PREMIUM: prem4,
    }
    frame = events[by].copy()
    for c, name in _CLASS_BUCKET.items():
        frame[name] = np.where(cls == c, qty[c], 0)
    out = frame.groupby(by, sort=True, as_index=False)[list(BUCKETS)].sum()
    out["premium_charge"] = [from4(v) for v in out["premium_charge"]]
    return out
