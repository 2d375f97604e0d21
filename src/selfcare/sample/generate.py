"""`selfcare generate`: a realistic, deterministic drop folder of operator exports (demo estate).

Writes every file kind of the input contract (selfcare.contract) for a few tenants of different
industries: reference snapshots as of the last day of the last month (the service catalogue and
each line's services among them), and one cdr/billing file per bill period. The CDRs obey the
lines' services (roaming, international dialling, premium barring). Every CDR is rated by the
tariff model (selfcare.contract.tariff) and every invoice's USAGE line is the sum of its
line-month's CDR charges, so the later analyses can be checked to the cent.

Speed matters (the demo is ~2.5 M CDRs): the estate (people, lines, plans) is built in Python, the
events of a month are drawn, rated, formatted and written with numpy/pyarrow, never per event.
Determinism: everything comes from one seeded numpy Generator per purpose; the same seed gives
byte-identical files.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import gzip as gzip_mod
import io
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from selfcare.contract import KINDS
from selfcare.contract import kind_of as _kind_of
from selfcare.contract.tariff import (
    DATA_HOME,
    NAT_VOICE,
    S_DATA,
    S_MMS,
    S_SMS,
    S_VOICE,
    SMS_HOME,
    Plan,
    PlanTable,
    classify_codes,
    rate_events,
    to4,
)

TIMEZONE = "Africa/Johannesburg"
TZ_OFFSET_S = 2 * 3600  # Johannesburg is UTC+2 all year (no DST since 1944)
DAY = 86400

# --- the operator's catalogue -------------------------------------------------------------------
# code, name, product type, payment, fee, voice min, SMS, data MB, voice nat, voice intl, SMS, MMS,
# data/MB, roaming voice/min, roaming data/MB. Per-second voice, ZAR excl. VAT.
# Shaped like a South African business catalogue: smartphones belong on hybrids (minutes plus a
# realistic data bundle), voice bundles suit light data users, and data-only plans are for data
# SIMs and routers: they allow voice and SMS only at dear pay-as-you-go rates. Prepaid plans have
# a low or no fee and higher rates.
PLAN_ROWS: tuple[tuple, ...] = (
    ("PP-FLEX", "Prepaid Business Flexi", "HYBRID", "PREPAID", "0.0000", 0, 0, 0,
     "1.7000", "4.9900", "0.6000", "0.9500", "0.9900", "19.9900", "150.0000"),
    ("PP-SMART", "Prepaid Smart (60 min + 1 GB)", "HYBRID", "PREPAID", "129.0000", 60, 60, 1024,
     "1.5000", "4.9900", "0.6000", "0.9500", "0.7900", "19.9900", "150.0000"),
    ("PP-DATA1G", "Prepaid Data 1 GB", "DATA", "PREPAID", "99.0000", 0, 0, 1024,
     "2.9900", "5.9900", "0.9900", "1.2000", "0.8900", "19.9900", "150.0000"),
    ("PP-DATA5G", "Prepaid Data 5 GB", "DATA", "PREPAID", "249.0000", 0, 0, 5120,
     "2.9900", "5.9900", "0.9900", "1.2000", "0.6900", "19.9900", "150.0000"),
    ("BV-100", "Business Voice 100", "VOICE", "POSTPAID", "149.0000", 100, 100, 250,
     "1.2900", "3.9900", "0.5000", "0.8000", "0.9900", "16.9900", "99.0000"),
    ("BV-250", "Business Voice 250", "VOICE", "POSTPAID", "259.0000", 250, 250, 500,
     "1.1900", "3.9900", "0.5000", "0.8000", "0.9900", "16.9900", "99.0000"),
    ("BV-600", "Business Voice 600", "VOICE", "POSTPAID", "449.0000", 600, 500, 1024,
     "0.9900", "3.4900", "0.4500", "0.8000", "0.8900", "14.9900", "99.0000"),
    ("BH-S", "Business Hybrid S (150 min + 5 GB)", "HYBRID", "POSTPAID", "299.0000", 150, 200,
     5120, "1.0900", "3.4900", "0.5000", "0.8000", "0.5900", "14.9900", "89.0000"),
    ("BH-M", "Business Hybrid M (400 min + 10 GB)", "HYBRID", "POSTPAID", "599.0000", 400, 500,
     10240, "0.9900", "3.4900", "0.4500", "0.8000", "0.4900", "14.9900", "79.0000"),
    ("BH-L", "Business Hybrid L (1000 min + 20 GB)", "HYBRID", "POSTPAID", "899.0000", 1000, 1000,
     20480, "0.8900", "2.9900", "0.4000", "0.8000", "0.3900", "12.9900", "69.0000"),
    ("BH-XL", "Business Hybrid XL (2000 min + 40 GB)", "HYBRID", "POSTPAID", "1299.0000", 2000,
     2000, 40960, "0.7900", "2.9900", "0.3500", "0.7500", "0.2900", "12.9900", "59.0000"),
    ("BD-5G", "Business Data 5 GB", "DATA", "POSTPAID", "249.0000", 0, 0, 5120,
     "2.9900", "5.9900", "0.9900", "1.2000", "0.4900", "16.9900", "89.0000"),
    ("BD-20G", "Business Data 20 GB", "DATA", "POSTPAID", "499.0000", 0, 0, 20480,
     "2.9900", "5.9900", "0.9900", "1.2000", "0.3900", "16.9900", "79.0000"),
    ("BD-50G", "Business Data 50 GB", "DATA", "POSTPAID", "899.0000", 0, 0, 51200,
     "2.9900", "5.9900", "0.9900", "1.2000", "0.2900", "16.9900", "69.0000"),
    ("BU-MAX", "Business Unlimited Max (5000 min + 60 GB)", "HYBRID", "POSTPAID", "1899.0000",
     5000, 5000, 61440, "0.7900", "2.4900", "0.3500", "0.7500", "0.2900", "11.9900", "49.0000"),
)  # fmt: skip

PLANS: tuple[Plan, ...] = tuple(
    Plan.from_row(dict(zip(KINDS["plans"].column_names, r, strict=True))) for r in PLAN_ROWS
)
PLAN_INDEX = {p.plan_code: i for i, p in enumerate(PLANS)}
_TABLE = PlanTable.of(PLANS)
# Plans for phones and plans for data SIMs (a wrongly sized plan stays within the line's group).
VOICE_PLANS = ("PP-FLEX", "PP-SMART", "BV-100", "BV-250", "BV-600", "BH-S", "BH-M", "BH-L",
               "BH-XL", "BU-MAX")  # fmt: skip
DATA_PLANS = ("PP-DATA1G", "PP-DATA5G", "BD-5G", "BD-20G", "BD-50G")
# The tariff analyser compares a line with every plan of its payment type, so "right-sized"
# means cheapest among these, not merely among the plans of the line's product type.
PAYMENT_PLANS = {
    pay: tuple(p.plan_code for p in PLANS if p.payment == pay) for pay in ("PREPAID", "POSTPAID")
}

# --- the service catalogue ------------------------------------------------------------------------
# code, name, category, payment (a plan's payment type or ANY), monthly fee, once-off fee; ZAR excl.
# VAT. Shaped like a South African operator's business catalogue: network features (most free),
# bars a company puts on its lines, and paid add-ons. The three value-added services the invoices
# carry (VAS) are here by the same names, so a line billed for one has it.
SERVICE_ROWS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("CLIP", "Caller line identity presentation", "FEATURE", "ANY", "0.0000", "0.0000"),
    ("CLIR", "Caller line identity restriction (number withheld)", "FEATURE", "POSTPAID",
     "5.0000", "0.0000"),
    ("VM", "Voicemail", "FEATURE", "ANY", "0.0000", "0.0000"),
    ("VM-VISUAL", "Visual voicemail", "FEATURE", "POSTPAID", "15.0000", "0.0000"),
    ("CFWD", "Call forwarding", "FEATURE", "ANY", "0.0000", "0.0000"),
    ("CONF", "Conference calling (6 parties)", "FEATURE", "POSTPAID", "25.0000", "0.0000"),
    ("IDD", "International dialling", "FEATURE", "ANY", "0.0000", "0.0000"),
    ("ROAM", "International roaming", "FEATURE", "POSTPAID", "0.0000", "0.0000"),
    ("ROAM-PP", "Prepaid roaming", "FEATURE", "PREPAID", "0.0000", "0.0000"),
    ("BAR-PREM", "Premium-rated services barred", "BAR", "ANY", "0.0000", "0.0000"),
    ("BAR-INTL", "International calls barred", "BAR", "ANY", "0.0000", "0.0000"),
    ("BAR-ROAM", "Roaming barred", "BAR", "ANY", "0.0000", "0.0000"),
    ("BAR-ADULT", "Adult content barred", "BAR", "ANY", "0.0000", "0.0000"),
    ("DATA-1G", "Data add-on 1 GB", "ADDON", "POSTPAID", "99.0000", "0.0000"),
    ("DATA-5G", "Data add-on 5 GB", "ADDON", "POSTPAID", "299.0000", "0.0000"),
    ("DATA-10G", "Data add-on 10 GB", "ADDON", "POSTPAID", "449.0000", "0.0000"),
    ("ROAM-DATA-1G", "Roaming data pass 1 GB", "ADDON", "POSTPAID", "0.0000", "399.0000"),
    ("INTL-100", "International minutes 100", "ADDON", "POSTPAID", "99.0000", "0.0000"),
    ("PP-DATA-500M", "Prepaid data top-up 500 MB a month", "ADDON", "PREPAID", "49.0000",
     "0.0000"),
    ("PP-SOCIAL-1G", "Prepaid social media bundle 1 GB", "ADDON", "PREPAID", "29.0000", "0.0000"),
    ("INSURE", "Device insurance", "ADDON", "ANY", "59.0000", "0.0000"),
    ("TUNE", "Caller tune, music", "ADDON", "ANY", "29.0000", "0.0000"),
    ("BACKUP-50G", "Cloud backup 50 GB", "ADDON", "ANY", "45.0000", "0.0000"),
)  # fmt: skip
SERVICE_ORDER = {r[0]: i for i, r in enumerate(SERVICE_ROWS)}
# The invoices' VAS amounts (Estate.vas) and the service each one is.
VAS_SERVICE = {590000: "INSURE", 290000: "TUNE", 450000: "BACKUP-50G"}
# Services that shape the generated usage or invoices (international calls, roaming, premium
# calls, VAS lines): they are on the line before its first usage of the period, so the CDRs and
# invoices agree with the snapshot in every month. Defaults come with the line itself.
_DEFAULT_SERVICES = ("CLIP", "VM", "BAR-PREM", "BAR-ADULT")
_SHAPING_SERVICES = ("IDD", "BAR-INTL", "ROAM", "ROAM-PP", "BAR-ROAM", "INSURE", "TUNE",
                     "BACKUP-50G")  # fmt: skip
# A line with roaming travels in this share of months (about 1.2 % of all lines a month).
TRIP_P = 0.04


# --- the companies --------------------------------------------------------------------------------
# name, industry, e-mail domain, divisions (each: name, departments)
COMPANIES: tuple[tuple[str, str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    ("Karoo Platinum Mining", "mining", "karooplatinum.co.za", (
        ("Operations", ("Shaft Operations", "Processing Plant", "Engineering, Maintenance")),
        ("Safety & Health", ("Mine Safety", "Occupational Health")),
        ("Finance", ("Financial Accounting", "Procurement")),
        ("Human Resources", ("Recruitment", "Employee Relations")),
        ("Information Technology", ("Infrastructure", "Service Desk")),
    )),
    ("Protea Retail Group", "retail", "protearetail.co.za", (
        ("Stores", ("Stores, Gauteng", "Stores, Western Cape", "Stores, KwaZulu-Natal")),
        ("Sales & Marketing", ("Sales, Gauteng", "Brand \"Protea Fresh\"", "E-commerce")),
        ("Supply Chain", ("Distribution Centre", "Buying")),
        ("Finance", ("Treasury", "Payroll")),
    )),
    ("Highveld Capital", "financial services", "highveldcapital.co.za", (
        ("Corporate Banking", ("Relationship Management", "Credit Risk")),
        ("Wealth Management", ("Private Clients", "Advisory, Cape Town")),
        ("Operations", ("Client Services", "Compliance")),
        ("Technology", ("Architecture", "Cybersecurity", "Development")),
    )),
    ("Baobab Logistics", "logistics", "baobablogistics.co.za", (
        ("Fleet", ("Long Haul", "Fleet Maintenance", "Dispatch")),
        ("Warehousing", ("Warehouse, Durban Port", "Warehouse, City Deep")),
        ("Commercial", ("Key Accounts", "Customs & Clearing")),
        ("Support Services", ("Finance", "People & Culture")),
    )),
    ("Umoya Renewable Energy", "energy", "umoyaenergy.co.za", (
        ("Projects", ("Wind Farms", "Solar PV", "Grid Connection")),
        ("Asset Management", ("Operations Centre", "Field Services")),
        ("Corporate", ("Legal", "Finance")),
    )),
    ("Fynbos Health", "healthcare", "fynboshealth.co.za", (
        ("Clinical", ("Nursing", "Pharmacy", "Theatre")),
        ("Hospital Operations", ("Facilities", "Patient Administration")),
        ("Corporate", ("Finance", "Human Resources")),
    )),
)  # fmt: skip

TERRITORIES = (
    ("Gauteng", 0.38), ("Western Cape", 0.2), ("KwaZulu-Natal", 0.14), ("Eastern Cape", 0.07),
    ("Mpumalanga", 0.06), ("Free State", 0.04), ("Limpopo", 0.04), ("North West", 0.05),
    ("Northern Cape", 0.02),
)  # fmt: skip

FIRST_NAMES = (
    "Thabo", "Sipho", "Lerato", "Nomvula", "Pieter", "Johan", "Anika", "Zanele", "Kagiso",
    "Ayanda", "Priya", "Rajesh", "Fatima", "Mohammed", "Sarah", "Michael", "Naledi", "Bongani",
    "Lindiwe", "Themba", "Karabo", "Refilwe", "Mpho", "Tshepo", "Busisiwe", "Jacques", "Elmarie",
    "Hendrik", "Annelie", "David", "Grace", "Nandi", "Sibusiso", "Palesa", "Kavitha", "Yusuf",
    "Chloe", "Liam", "Zinhle", "Andile", "Lwazi", "Dineo", "Riaan", "Marike", "Aisha", "Vusi",
    "Nokuthula", "Siyabonga", "Tumelo", "Keabetswe", "Werner", "Charlene", "Ruan", "Imraan",
)  # fmt: skip
SURNAMES = (
    "Nkosi", "Dlamini", "Mokoena", "Naidoo", "van der Merwe", "Botha", "Pillay", "Khumalo",
    "Mahlangu", "Ndlovu", "Smith", "Jacobs", "Mthembu", "Zulu", "Pretorius", "Govender",
    "Molefe", "Sithole", "du Plessis", "Venter", "Mabena", "Cele", "Ngcobo", "Hendricks",
    "Adams", "O'Connor", "Maluleke", "Baloyi", "Steyn", "Coetzee", "Chetty", "Moodley", "Petersen",
    "Mokwena", "Tshabalala", "Fourie", "Nel", "Kruger", "Williams", "Mabuza", "Shabalala",
    "Daniels",
    "Ismail", "Essop", "Modise", "Radebe", "de Villiers", "Joubert", "Marais", "Mashaba",
)  # fmt: skip

ROAMING = ("GB", "US", "DE", "AE", "CN", "NA", "BW", "MZ", "KE", "NL", "FR", "AU")
ROAMING_W = (0.16, 0.1, 0.08, 0.12, 0.05, 0.12, 0.12, 0.08, 0.06, 0.04, 0.04, 0.03)

OUR_PREFIXES = (82, 72, 76, 79)  # the operator's own ranges: calls to them are ONNET
OTHER_MOBILE = (83, 84, 81, 73, 74, 71, 61, 65)
FIXED_AREAS = (11, 10, 12, 21, 31, 41, 51, 13, 16)
INTL = ((44, 10), (1, 10), (49, 10), (263, 9), (267, 8), (254, 9), (86, 11), (971, 9), (61, 9))

SERVICES = np.array(["VOICE", "SMS", "MMS", "DATA"])
SVC_VOICE, SVC_SMS, SVC_MMS, SVC_DATA = 0, 1, 2, 3
DIRS = np.array(["MO", "MT"])
DESTS = np.array(["ONNET", "OFFNET", "FIXED", "INTERNATIONAL", "PREMIUM", "TOLLFREE"])
D_ONNET, D_OFFNET, D_FIXED, D_INTL, D_PREMIUM, D_TOLLFREE = range(6)  # = tariff.DESTINATIONS
_SVC_TO_TARIFF = np.array([S_VOICE, S_SMS, S_MMS, S_DATA])

# Expected events per line-month at intensity 1 (before season and trend): voice, SMS, MMS, data.
RATES_PRIMARY = (62.0, 22.0, 1.0, 64.0)
RATES_DATA_SIM = (0.0, 0.0, 0.0, 95.0)
RATES_POOL = (40.0, 18.0, 0.3, 25.0)
WEEKDAY_W = np.array([1.0, 1.0, 1.0, 1.0, 0.97, 0.28, 0.16])  # Monday..Sunday
MONTH_SEASON = {12: 0.7, 1: 0.9, 4: 0.96}  # December dip, slow January, Easter
TREND = (0.99, 0.995, 0.99, 1.03)  # per month since the start: data grows, voice declines
VOICE_MO, SMS_MO = 0.62, 0.55  # share of calls / messages the line makes (the rest it receives)
CALL_S = (70.0, 1.0)  # call duration: lognormal median (s) and sigma
SESSION_KB = (11.0 * 1024, 1.3)  # data session volume: lognormal median (KB) and sigma
# Plan mix: a share of lines is deliberately on the wrong plan, as in real estates where plans
# are chosen at contract time and usage drifts: MIS_SIZED on a clearly wrong size (heavy users on
# small plans, light users on big ones), SECOND_BEST on the runner-up (both within the line's
# group: phone or data SIM). The catalogue's steps are wide (R299 -> R599 -> R899), so a small
# share suffices: on the demo estate (3 tenants, 1 500 lines, seed 42, last 3 months, R20/5 %) the
# tariff analyser recommends a change for ~18-20 % of lines, saving ~11-13 % of spend.
MIS_SIZED, SECOND_BEST = 0.03, 0.11


# --- helpers --------------------------------------------------------------------------------------


# Direct reports of one supervisor inside a team (see build_estate).
SPAN_OF_CONTROL = 12


def _month_add(year: int, month: int, k: int) -> tuple[int, int]:
    m = year * 12 + (month - 1) + k
    return m // 12, m % 12 + 1


def default_start(months: int, today: dt.date | None = None) -> str:
    """The first of the `months` complete months before the current one (YYYY-MM)."""
    today = today or dt.date.today()
    y, m = _month_add(today.year, today.month, -months)
    return f"{y:04d}-{m:02d}"


def _epoch_day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def _date_of(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _dec_array(units4: np.ndarray) -> pa.Array:
    """int64 counts of 1e-4 ZAR -> decimal128(18,4) without a per-value Python round trip."""
    units4 = np.ascontiguousarray(units4, dtype=np.int64)
    lohi = np.empty((len(units4), 2), dtype=np.int64)
    lohi[:, 0] = units4
    lohi[:, 1] = units4 >> 63  # sign extension of the 128-bit little-endian value
    return pa.Array.from_buffers(pa.decimal128(18, 4), len(units4), [None, pa.py_buffer(lohi)])


def _strings(matrix: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Rows of a uint8 matrix (first `lengths[i]` bytes of row i) as an Arrow string array."""
    n, w = matrix.shape
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    keep = np.arange(w)[None, :] < lengths[:, None]
    data = np.ascontiguousarray(matrix[keep])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


_TRIPLETS = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints as a (n, width) uint8 matrix, width % 3 == 0
    (three digits per table look-up)."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = np.asarray(values, dtype=np.int64)
    for k in range(width // 3 - 1, -1, -1):
        out[:, 3 * k : 3 * k + 3] = _TRIPLETS[v % 1000]
        v = v // 1000
    return out


_TIME_TABLE: np.ndarray | None = None


def _time_table() -> np.ndarray:
    global _TIME_TABLE
    if _TIME_TABLE is None:
        s = np.arange(DAY, dtype=np.int64)
        hms = np.stack([s // 3600, (s // 60) % 60, s % 60], axis=1)
        t = np.full((DAY, 8), ord(":"), dtype=np.uint8)
        for k in range(3):
            t[:, 3 * k] = hms[:, k] // 10 + 48
            t[:, 3 * k + 1] = hms[:, k] % 10 + 48
        _TIME_TABLE = t
    return _TIME_TABLE


def format_event_times(utc_s: np.ndarray, zulu: np.ndarray) -> pa.Array:
    """ISO 8601 with an offset: `...Z` (UTC wall time) where `zulu`, else `...+02:00` (local)."""
    wall = np.where(zulu, utc_s, utc_s + TZ_OFFSET_S)
    days = wall // DAY
    sod = wall - days * DAY
    d0 = int(days.min()) if len(days) else 0
    span = (int(days.max()) - d0 + 1) if len(days) else 1
    dates = np.frombuffer(
        "".join(_date_of(d0 + i).isoformat() for i in range(span)).encode(), dtype=np.uint8
    ).reshape(span, 10)
    m = np.empty((len(wall), 25), dtype=np.uint8)
    m[:, :10] = dates[days - d0]
    m[:, 10] = ord("T")
    m[:, 11:19] = _time_table()[sod]
    m[:, 19:25] = np.frombuffer(b"+02:00", dtype=np.uint8)
    m[zulu, 19] = ord("Z")
    return _strings(m, np.where(zulu, 20, 25))


def _write_table(table: pa.Table, path: Path, quote_all_text: bool) -> None:
    """CSV via pyarrow's writer (RFC 4180). `quote_all_text=False` refuses structural characters
    rather than quoting: used for machine-made columns only (CDR)."""
    opts = pacsv.WriteOptions(quoting_style="needed" if quote_all_text else "none")
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, opts)
        # mtime=0 and no file name in the header: byte-identical output for a seed.
        with (
            open(path, "wb") as raw,
            gzip_mod.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=3, mtime=0) as gz,
        ):
            gz.write(buf.getvalue())
    else:
        pacsv.write_csv(table, path, opts)


def _write_month(cdr: pa.Table, cdr_path: Path, bill: pa.Table, bill_path: Path) -> None:
    _write_table(cdr, cdr_path, quote_all_text=False)
    _write_table(bill, bill_path, quote_all_text=True)


def _write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> int:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return len(rows)


# --- the estate -----------------------------------------------------------------------------------


@dataclass
class Tenant:
    tenant_id: str
    name: str
    industry: str
    domain: str
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # id, parent, name
    cost_centres: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, parent
    employees: list[tuple] = field(default_factory=list)


@dataclass
class Estate:
    tenants: list[Tenant]
    # One entry per line (registered and unknown), tenants contiguous.
    msisdn: np.ndarray
    tenant: np.ndarray
    account: np.ndarray  # index into account_ids
    account_ids: list[str]
    employee: list[str]
    plan: np.ndarray
    status: list[str]
    activated: np.ndarray  # epoch day
    cancelled: np.ndarray  # epoch day or -1
    use_from: np.ndarray  # first epoch day with usage
    use_to: np.ndarray  # first epoch day without usage (exclusive)
    kind: np.ndarray  # 0 primary, 1 data SIM, 2 pool, 3 unknown (not in the register)
    voice_int: np.ndarray
    data_int: np.ndarray
    cug: list[str]
    apns: list[str]
    vas: np.ndarray  # monthly VAS amount in 1e-4 ZAR (0: none)
    tenant_lines: list[tuple[int, int]]  # registered line index range per tenant
    contacts: list[dict]
    # Set by assign_services: each line's (service code, activation epoch day), and what of it
    # month_events obeys (international dialling, roaming, premium-rated services barred).
    services: list[list[tuple[str, int]]] = field(default_factory=list)
    idd: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    roams: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    bar_premium: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


# Month-to-month variation of a line's usage around its mean, as 3-point Gauss-Hermite nodes of
# a standard normal: plan choice minimises the expected cost, because out-of-bundle charges make
# the cost of an average month lower than the average cost of the months.
_GH_Z = np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)])
_GH_W = np.array([1 / 6, 2 / 3, 1 / 6])


def _pick_plan(candidates: Sequence[str], usage: dict) -> list[str]:
    """Candidates ordered by expected monthly cost for this usage (cheapest first); only guides
    the plan mix, so floats are fine here."""
    idx = np.array([PLAN_INDEX[c] for c in candidates])
    t = _TABLE
    # Monthly totals are compound Poisson: CV^2 = (1 + CV_size^2) / expected events.
    sv = np.sqrt(np.log1p((np.exp(CALL_S[1] ** 2)) / max(usage["calls"], 0.5)))
    sd = np.sqrt(np.log1p((np.exp(SESSION_KB[1] ** 2)) / max(usage["sessions"], 0.5)))
    mv = np.exp(sv * _GH_Z - sv * sv / 2)[:, None, None]  # voice/SMS multiplier, one axis
    md = np.exp(sd * _GH_Z - sd * sd / 2)[None, :, None]  # data multiplier, the other
    cost = (
        t.fee4[idx]
        + np.maximum(0, usage["nat_voice_s"] * mv - t.incl_voice_s[idx]) * t.voice_nat4[idx] / 60
        + usage["intl_voice_s"] * mv * t.voice_intl4[idx] / 60
        + np.maximum(0, usage["sms_home"] * mv - t.incl_sms[idx]) * t.sms4[idx]
        + np.maximum(0, usage["data_kb_home"] * md - t.incl_data_kb[idx]) * t.data4[idx] / 1024
    )
    expected = np.einsum("i,j,ijk->k", _GH_W, _GH_W, cost)
    return [candidates[int(i)] for i in np.argsort(expected, kind="stable")]


def _expected_usage(kind: int, vi: float, di: float, months: int) -> dict:
    """Mean monthly usage buckets of a line as month_events draws them, at the intensities of the
    last three months (what the tariff analyser looks at by default): same rates, trend, shares
    of MO and national traffic, call and session sizes. Roaming and premium are left out (rare)."""
    rv, rs, _, rd = (RATES_PRIMARY, RATES_DATA_SIM, RATES_POOL, RATES_POOL)[kind]
    ks = np.arange(max(0, months - 3), months)
    tv, ts, _, td = (float(np.mean(f**ks)) for f in TREND)
    call_s = CALL_S[0] * np.exp(CALL_S[1] ** 2 / 2)
    session_kb = SESSION_KB[0] * np.exp(SESSION_KB[1] ** 2 / 2)
    mo_calls = rv * vi * tv * VOICE_MO
    # Outgoing calls: 17 % to colleagues and 78.6 % to the contact book are national (ONNET,
    # OFFNET, FIXED); 3 % international; toll-free and premium are not in these buckets.
    return {
        "nat_voice_s": mo_calls * 0.956 * call_s,
        "intl_voice_s": mo_calls * 0.03 * call_s,
        "sms_home": rs * vi * ts * SMS_MO * 0.996,
        "data_kb_home": rd * di * td * session_kb,
        "calls": mo_calls,
        "sessions": rd * di * td,
    }


def _unique_numbers(rng: np.random.Generator, prefixes: Sequence[int], n: int) -> np.ndarray:
    """n distinct E.164 digit strings 27 PP NNNNNNN (as int64) from the given 2-digit prefixes."""
    if n == 0:
        return np.zeros(0, np.int64)
    flat = rng.choice(len(prefixes) * 10_000_000, size=n, replace=False)
    pre = np.asarray(prefixes, dtype=np.int64)[flat // 10_000_000]
    return 27_000_000_000 + pre * 10_000_000 + flat % 10_000_000


def build_estate(rng: np.random.Generator, tenants: int, lines: int, first_day: int, end_day: int,
                 months: int) -> Estate:  # fmt: skip
    """People, cost centres, accounts, lines and contact books of every tenant."""
    weights = np.array([1.0, 0.75, 0.55, 0.45, 0.35, 0.3])[np.arange(tenants) % 6]
    per = np.maximum(12, np.floor(lines * weights / weights.sum()).astype(int))
    per[0] += max(0, lines - int(per.sum()))
    n_unknown = 3
    total = int(per.sum()) + n_unknown * tenants
    # On-net contacts are drawn from a pool of our other subscribers: 22% of a contact book of
    # 1.1 x the tenant's lines must fit in it.
    pool = max(400, int(np.ceil(0.25 * per.max())))
    numbers = _unique_numbers(rng, OUR_PREFIXES, total + pool * tenants)
    line_numbers, onnet_pool = numbers[:total], numbers[total:]

    terr_names = [t for t, _ in TERRITORIES]
    terr_p = np.array([w for _, w in TERRITORIES])
    terr_p /= terr_p.sum()
    period_days = end_day - first_day
    fy, fm = _date_of(first_day).timetuple()[:2]
    last3 = _epoch_day(dt.date(*_month_add(fy, fm, max(0, months - 3)), 1))

    out_t: list[Tenant] = []
    cols: dict[str, list] = {k: [] for k in (
        "tenant", "account", "employee", "plan", "status", "activated", "cancelled", "use_from",
        "use_to", "kind", "vi", "di", "cug", "apns", "vas")}  # fmt: skip
    account_ids: list[str] = []
    tenant_lines = []
    contacts = []
    pos = 0
    for t in range(tenants):
        name, industry, domain, divisions = COMPANIES[t % len(COMPANIES)]
        if t >= len(COMPANIES):
            name = f"{name} {t // len(COMPANIES) + 1}"
            domain = f"t{t}.{domain}"
        tid = f"T{t + 1:02d}"
        ten = Tenant(tid, name, industry, domain)
        n_lines = int(per[t])
        n_pool = max(1, round(0.04 * n_lines))
        n_dsim = max(1, round(0.08 * n_lines))
        n_emp = n_lines - n_pool - n_dsim

        # Billing hierarchy: a root account with 1-3 children that carry the lines.
        root = f"{tid}-ACC-00"
        ten.accounts.append((root, "", f"{name} (group account)"))
        n_child = int(rng.integers(1, 4))
        child_idx = []
        for k in range(1, n_child + 1):
            aid = f"{tid}-ACC-{k:02d}"
            branch = ("Head office", "Regions", "Operations")[k - 1]
            ten.accounts.append((aid, root, f"{name} - {branch}"))
            child_idx.append(len(account_ids) + k)
        account_ids.extend(a for a, _, _ in ten.accounts)

        # Cost centres: company -> divisions -> departments -> teams (when large enough).
        n_div = int(np.clip(n_emp // 30, 2, len(divisions)))
        cc = ten.cost_centres
        cc.append((f"{tid}-CC000", name, ""))
        units = []  # (cc id, level, parent unit index)
        units.append((f"{tid}-CC000", 0, -1))
        for dname, depts in divisions[:n_div]:
            did = f"{tid}-CC{len(cc):03d}"
            cc.append((did, dname, f"{tid}-CC000"))
            units.append((did, 1, 0))
            dunit = len(units) - 1
            for dep in depts[: 2 if n_emp < 200 else len(depts)]:
                pid = f"{tid}-CC{len(cc):03d}"
                cc.append((pid, dep, did))
                units.append((pid, 2, dunit))
                punit = len(units) - 1
                if n_emp >= 150 and rng.random() < 0.7:
                    for tk in range(int(rng.integers(1, 3))):
                        tname = f"{dep} - Team {'ABC'[tk]}"
                        uid = f"{tid}-CC{len(cc):03d}"
                        cc.append((uid, tname, pid))
                        units.append((uid, 3, punit))

        # Employees: a leader per unit (chains CEO -> division -> department -> team -> staff),
        # everyone else in a leaf unit.
        leaders: list[int] = []
        emp_rows = []
        used_emails: set[str] = set()

        cc_names = {c: nm for c, nm, _ in cc}

        def person(cc_id: str, manager: str, tid=tid, domain=domain, used=used_emails,
                   rows=emp_rows, cc_names=cc_names) -> str:  # fmt: skip
            first = FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]
            last = SURNAMES[int(rng.integers(len(SURNAMES)))]
            base = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            email, k = f"{base}@{domain}", 1
            while email in used:
                k += 1
                email = f"{base}{k}@{domain}"
            used.add(email)
            eid = f"{tid}-E{len(rows) + 1:05d}"
            terr = terr_names[int(rng.choice(len(terr_names), p=terr_p))]
            for tn in terr_names:  # a regional unit's people live in that region
                if tn in cc_names[cc_id]:
                    terr = tn
            rows.append((eid, tid, f"{first} {last}", email, manager, cc_id, terr))
            return eid

        for uid, _level, parent in units:
            leaders.append(person(uid, "" if parent < 0 else emp_rows[leaders[parent]][0]))
            leaders[-1] = len(emp_rows) - 1
        leaf = [i for i, u in enumerate(units) if not any(p == i for _, _, p in units)]
        # In a leaf unit people report in a tree of at most SPAN_OF_CONTROL direct reports each,
        # filled breadth first from the unit's leader: a big unit has supervisors, as a real one
        # does, so reporting chains of every size exist (not one leader over thousands).
        members = {u: [leaders[u]] for u in leaf}  # row indexes, in the order they joined
        boss_at = dict.fromkeys(leaf, 0)  # index into members[u] of who takes the next report
        direct: dict[int, int] = {}
        while len(emp_rows) < n_emp:
            u = leaf[int(rng.integers(len(leaf)))]
            boss = members[u][boss_at[u]]
            person(units[u][0], emp_rows[boss][0])
            members[u].append(len(emp_rows) - 1)
            direct[boss] = direct.get(boss, 0) + 1
            if direct[boss] >= SPAN_OF_CONTROL:
                boss_at[u] += 1
        ten.employees = emp_rows
        out_t.append(ten)

        # Lines: one per employee, data SIMs for some, unassigned pool lines, 3 unknown numbers.
        emp_ids = [e[0] for e in emp_rows]
        kinds = [0] * len(emp_ids) + [1] * n_dsim + [2] * n_pool + [3] * n_unknown
        sim_owners = rng.choice(len(emp_ids), n_dsim, replace=False)
        owners = emp_ids + [emp_ids[int(i)] for i in sim_owners]
        owners += [""] * (n_pool + n_unknown)
        start_pos = pos
        # Every tenant gets at least one new joiner, cancelled, suspended and dormant line.
        forced = dict(zip(rng.choice(n_emp, 4, replace=False).tolist(), (0.05, 0.98, 0.95, 0.92),
                          strict=True))  # fmt: skip
        for j, (kind, owner) in enumerate(zip(kinds, owners, strict=True)):
            z = rng.standard_normal(2)
            vi = float(np.exp(0.85 * z[0] - 0.36))  # lognormal, mean ~1
            di = float(np.exp(0.85 * (0.6 * z[0] + 0.8 * z[1]) - 0.36))
            if kind == 2:
                vi, di = vi * 0.6, di * 0.5
            usage = _expected_usage(kind, vi, di, months)
            r = rng.random()
            # Payment type: a few light phones and data SIMs and most pool SIMs are prepaid.
            # Right-sized = the cheapest of every plan of that payment type, which is what the
            # tariff analyser compares with (so a light caller with much data may be right on a
            # data plan).
            prepaid = (
                (kind == 2 and r < 0.7)
                or (kind == 0 and r > 0.95 and vi + di < 1.2)
                or (kind == 1 and r > 0.92)
            )
            pay = "PREPAID" if prepaid else "POSTPAID"
            ranked = _pick_plan(PAYMENT_PLANS[pay], usage)
            plan = ranked[0]
            # A wrongly sized plan is still of the line's product: a phone on another voice or
            # hybrid plan, a data SIM on another data plan.
            fit = [c for c in ranked if (c in DATA_PLANS) == (kind == 1)] or ranked
            wrong = int(rng.integers(2, 4))  # drawn for every line: the mix then keeps the stream
            if kind in (0, 1) and r < MIS_SIZED:
                # Mis-sized: a clearly worse plan of the same payment type (the third or fourth
                # cheapest), e.g. a heavy user kept on a small plan or a light one on a big plan.
                plan = fit[min(wrong, len(fit) - 1)]
            elif kind in (0, 1) and r < MIS_SIZED + SECOND_BEST:
                plan = next((c for c in ranked[1:] if c in fit), ranked[0])
            if kind == 3:
                plan = "BH-M"

            status, cancelled = "ACTIVE", -1
            activated = first_day - int(rng.integers(60, 6 * 365))
            use_from, use_to = first_day, end_day
            s = forced.get(j, rng.random())
            if kind != 3 and months >= 2 and s < 0.09:  # new joiner: activated mid-period
                activated = first_day + int(rng.integers(20, max(21, period_days - 20)))
                use_from = activated
            if kind != 3 and s > 0.96 and months >= 2:
                status = "CANCELLED"
                cancelled = first_day + int(rng.integers(25, max(26, period_days - 5)))
                use_to = cancelled + 1
            elif kind != 3 and 0.93 < s <= 0.96:
                status = "SUSPENDED"
                use_to = max(first_day, end_day - int(rng.integers(20, 80)))
            elif kind in (0, 1) and 0.91 < s <= 0.93:
                use_to = max(first_day, last3)  # dormant for the last 3 months
            cols["tenant"].append(t)
            cols["account"].append(child_idx[int(rng.integers(len(child_idx)))])
            cols["employee"].append(owner)
            cols["plan"].append(PLAN_INDEX[plan])
            cols["status"].append(status)
            cols["activated"].append(activated)
            cols["cancelled"].append(cancelled)
            cols["use_from"].append(use_from)
            cols["use_to"].append(max(use_from, use_to))
            cols["kind"].append(kind)
            cols["vi"].append(vi)
            cols["di"].append(di)
            cols["cug"].append(f"CUG-{tid}" if kind == 0 else "")
            apns = "internet" if kind != 1 else f"corp.{domain.split('.')[0]}.za;internet"
            if kind == 0 and rng.random() < 0.15:
                apns = f"internet;corp.{domain.split('.')[0]}.za"
            cols["apns"].append(apns)
            cols["vas"].append(int(rng.choice([0, 0, 0, 0, 0, 0, 0, 590000, 290000, 450000])))
            pos += 1
        tenant_lines.append((start_pos, pos - n_unknown))

        # Contact book: clients, suppliers and switchboards, Zipf-weighted so a Top50 means
        # something; plus small pools of international, premium and toll-free numbers.
        k_main = max(150, int(1.1 * n_lines))
        cls = rng.choice([D_ONNET, D_OFFNET, D_FIXED], size=k_main, p=[0.2, 0.42, 0.38])
        num = np.empty(k_main, np.int64)
        on = cls == D_ONNET
        pick = rng.choice(len(onnet_pool), size=int(on.sum()), replace=False)
        num[on] = onnet_pool[pick]
        off = cls == D_OFFNET
        num[off] = _unique_numbers(rng, OTHER_MOBILE, int(off.sum()))
        fx = cls == D_FIXED
        num[fx] = (
            27_000_000_000
            + np.asarray(FIXED_AREAS)[rng.integers(0, len(FIXED_AREAS), int(fx.sum()))] * 10_000_000
            + rng.integers(2_000_000, 9_999_999, int(fx.sum()))
        )
        zipf = 1.0 / np.arange(1, k_main + 1) ** 1.05
        intl = []
        for _ in range(40):
            cc_, ln = INTL[int(rng.integers(len(INTL)))]
            intl.append(cc_ * 10**ln + int(rng.integers(10 ** (ln - 1), 10**ln)))
        contacts.append({
            "num": num, "cls": cls.astype(np.int8), "cdf": np.cumsum(zipf) / zipf.sum(),
            "intl": np.array(intl, np.int64),
            "premium_voice": 27_900_000_000 + rng.integers(100_000, 999_999, 8),
            "premium_sms": rng.integers(31_000, 49_999, 6),
            "tollfree": 27_800_000_000 + rng.integers(100_000, 999_999, 12),
        })  # fmt: skip

    return Estate(
        tenants=out_t,
        msisdn=line_numbers,
        tenant=np.array(cols["tenant"], np.int64),
        account=np.array(cols["account"], np.int64),
        account_ids=account_ids,
        employee=cols["employee"],
        plan=np.array(cols["plan"], np.int64),
        status=cols["status"],
        activated=np.array(cols["activated"], np.int64),
        cancelled=np.array(cols["cancelled"], np.int64),
        use_from=np.array(cols["use_from"], np.int64),
        use_to=np.array(cols["use_to"], np.int64),
        kind=np.array(cols["kind"], np.int64),
        voice_int=np.array(cols["vi"]),
        data_int=np.array(cols["di"]),
        cug=cols["cug"],
        apns=cols["apns"],
        vas=np.array(cols["vas"], np.int64),
        tenant_lines=tenant_lines,
        contacts=contacts,
    )


def assign_services(rng: np.random.Generator, est: Estate, first_day: int, last_day: int,
                    roamer: int | None = None) -> None:  # fmt: skip
    """Give every line (unknown ones too: their usage obeys the same network) its services.

    A business mix: phones get caller identity and voicemail, most have premium-rated services
    barred, many dial internationally (the others are often barred from it), travellers have
    roaming; data add-ons sized by the line's data use; prepaid lines get the prepaid variants
    (PREPAID-only services only on prepaid lines, POSTPAID-only only on postpaid ones); the
    invoices' VAS as their services. `roamer` (the bill-shock line) always has roaming.
    Activation dates lie between the line's activation and the snapshot date (its cancellation
    for a cancelled line, which keeps the services it had); see _SHAPING_SERVICES.
    """
    n = len(est.msisdn)
    est.idd = np.zeros(n, bool)
    est.roams = np.zeros(n, bool)
    est.bar_premium = np.zeros(n, bool)
    est.services = []
    for i in range(n):
        kind = int(est.kind[i])
        postpaid = PLANS[est.plan[i]].payment == "POSTPAID"
        phone = kind != 1  # data SIMs make no calls
        # A fixed number of draws per line: each line's services do not shift the next line's.
        u = rng.random(17)
        ud = rng.random(16)  # activation dates, one per service at most
        have: list[str] = []
        if phone:
            if u[0] < 0.97:
                have.append("CLIP")
            if u[1] < (0.5 if kind == 2 else 0.88):
                have.append("VM")
                if postpaid and u[2] < 0.12:
                    have.append("VM-VISUAL")
            if postpaid and u[3] < 0.03:
                have.append("CLIR")
            if u[4] < 0.18:
                have.append("CFWD")
            if postpaid and kind == 0 and u[5] < 0.05:
                have.append("CONF")
            idd_p = 0.15 if kind == 2 else (0.6 if postpaid else 0.3)
            if u[6] < idd_p:
                have.append("IDD")
                if postpaid and u[7] < 0.1:
                    have.append("INTL-100")
            elif u[8] < 0.6:
                have.append("BAR-INTL")
        roam_p = 0.0 if kind == 2 else (0.2 if kind == 1 else (0.35 if postpaid else 0.15))
        if u[9] < roam_p or i == roamer:
            have.append("ROAM" if postpaid else "ROAM-PP")
            if postpaid and u[10] < 0.2:
                have.append("ROAM-DATA-1G")
        elif u[11] < 0.3:
            have.append("BAR-ROAM")
        if u[12] < 0.7:
            have.append("BAR-PREM")
        if u[13] < 0.35:
            have.append("BAR-ADULT")
        di = float(est.data_int[i])
        if postpaid and u[14] < 0.16:
            have.append("DATA-1G" if di < 1.0 else ("DATA-5G" if di < 2.0 else "DATA-10G"))
        if not postpaid and u[15] < 0.3:
            have.append("PP-DATA-500M")
        if not postpaid and phone and u[16] < 0.2:
            have.append("PP-SOCIAL-1G")
        if est.vas[i]:
            have.append(VAS_SERVICE[int(est.vas[i])])

        line_on = int(est.activated[i])
        until = int(est.cancelled[i]) if est.cancelled[i] >= 0 else last_day
        shaping_until = max(line_on, min(first_day - 1, until))
        dated = []
        for j, code in enumerate(sorted(have, key=SERVICE_ORDER.__getitem__)):
            if code in _DEFAULT_SERVICES:
                day = line_on
            else:
                hi = shaping_until if code in _SHAPING_SERVICES else max(line_on, until)
                day = line_on + int(ud[j] * (hi - line_on + 1))
            dated.append((code, min(day, max(line_on, until))))
        est.services.append(dated)
        est.idd[i] = "IDD" in have
        est.roams[i] = "ROAM" in have or "ROAM-PP" in have
        est.bar_premium[i] = "BAR-PREM" in have


# --- usage of one month ---------------------------------------------------------------------------


def month_events(rng: np.random.Generator, est: Estate, k: int, d0: int, d1: int,
                 shock: tuple[int, int] | None) -> dict[str, np.ndarray]:  # fmt: skip
    """Every event of one local month [d0, d1) (epoch days), as arrays (one entry per event)."""
    n_lines = len(est.msisdn)
    lo = np.maximum(est.use_from, d0)
    hi = np.minimum(est.use_to, d1)
    frac = np.clip(hi - lo, 0, None) / (d1 - d0)
    month = _date_of(d0).month
    season = MONTH_SEASON.get(month, 1.0)
    base = np.array([RATES_PRIMARY, RATES_DATA_SIM, RATES_POOL, RATES_PRIMARY])[est.kind]
    trend = np.array([f**k for f in TREND])
    lam = base * trend[None, :] * season * frac[:, None]
    lam[:, :3] *= est.voice_int[:, None]
    lam[:, 3] *= est.data_int
    # Thinning below drops weekend events; scale up so the weekday/weekend mix keeps the mean.
    lam /= WEEKDAY_W.mean()
    counts = rng.poisson(lam)  # (lines, 4)
    line = np.repeat(np.repeat(np.arange(n_lines), 4), counts.ravel())
    svc = np.repeat(np.tile(np.arange(4), n_lines), counts.ravel())
    n = len(line)

    # Day: uniform over the line's active days, thinned by weekday; time of day: office hours
    # for most calls and messages, flatter for data; some at any hour (month-boundary events).
    span = np.maximum(hi - lo, 1)[line]
    day = lo[line] + (rng.random(n) * span).astype(np.int64)
    keep = rng.random(n) < WEEKDAY_W[(day + 3) % 7]  # epoch day 0 was a Thursday
    line, svc, day = line[keep], svc[keep], day[keep]
    n = len(line)
    office = rng.random(n) < np.where(svc == SVC_DATA, 0.55, 0.86)
    sod = np.where(
        office,
        np.clip(rng.normal(12.6 * 3600, 2.6 * 3600, n), 6.5 * 3600, 21.5 * 3600),
        rng.random(n) * DAY,
    ).astype(np.int64)
    local = day * DAY + sod

    # Roaming trips: ~1.2% of lines travel each month for 3-10 days.
    trip_from = np.full(n_lines, -1, np.int64)
    trip_to = np.full(n_lines, -1, np.int64)
    trip_cty = np.full(n_lines, -1, np.int64)
    # Only lines with roaming travel (the network refuses the others abroad).
    travellers = np.flatnonzero(
        (rng.random(n_lines) < TRIP_P) & est.roams & (est.kind != 2) & (hi > lo)
    )
    if shock is not None and shock[0] == k:
        travellers = np.union1d(travellers, [shock[1]])
    for i in travellers:
        length = int(rng.integers(3, 11))
        startd = int(rng.integers(lo[i], max(lo[i] + 1, hi[i] - 2)))
        trip_from[i], trip_to[i] = startd * DAY + 6 * 3600, (startd + length) * DAY
        trip_cty[i] = int(rng.choice(len(ROAMING), p=np.array(ROAMING_W) / sum(ROAMING_W)))
    if shock is not None and shock[0] == k:
        # The bill shock: a week in the US with video calls and hotspot, ~0.5 GB of roaming data.
        i = shock[1]
        trip_cty[i] = ROAMING.index("US")
        extra = 45
        line = np.concatenate([line, np.full(extra, i)])
        svc = np.concatenate([svc, np.full(extra, SVC_DATA)])
        # a trip may run past the month end; this month's file only holds this month's events
        until = min(int(trip_to[i]), int(hi[i]) * DAY)
        local = np.concatenate([local, rng.integers(trip_from[i], until, extra)])
        n = len(line)
    roaming_cty = np.where((local >= trip_from[line]) & (local < trip_to[line]), trip_cty[line], -1)

    # Direction, other party and destination class.
    direction = np.zeros(n, np.int8)
    u = rng.random(n)
    direction[(svc == SVC_VOICE) & (u >= VOICE_MO)] = 1
    direction[(svc == SVC_SMS) & (u >= SMS_MO)] = 1
    direction[(svc == SVC_MMS) & (u >= 0.8)] = 1
    ten = est.tenant[line]
    other = np.full(n, -1, np.int64)
    dest = np.full(n, -1, np.int8)
    talk = svc != SVC_DATA
    r = rng.random(n)
    mo = direction == 0
    # Toll-free, premium and international numbers only on outgoing calls and messages.
    intra = talk & (r < 0.17)
    to_tollfree = talk & mo & (r >= 0.17) & (r < 0.18) & (svc == SVC_VOICE)
    # A line barred from premium-rated services makes no such call or message, and only a line
    # with international dialling calls abroad (calls from abroad reach every line): those draws
    # go to the contact book instead.
    to_premium = talk & mo & (r >= 0.18) & (r < 0.184) & (svc != SVC_MMS) & ~est.bar_premium[line]
    to_intl = talk & (r >= 0.184) & (r < 0.214) & (~mo | est.idd[line])
    book = talk & ~(intra | to_tollfree | to_premium | to_intl)
    # Intra-tenant: any registered line of the same tenant (ONNET).
    tl = np.array(est.tenant_lines, np.int64)
    a, b = tl[ten, 0], tl[ten, 1]
    pick = a + (rng.random(n) * (b - a)).astype(np.int64)
    other[intra] = est.msisdn[pick[intra]]
    dest[intra] = D_ONNET
    ur = rng.random(n)
    for t, c in enumerate(est.contacts):
        mt = ten == t
        m = book & mt
        j = np.searchsorted(c["cdf"], ur[m])
        other[m], dest[m] = c["num"][j], c["cls"][j]
        m = to_intl & mt
        ni = len(c["intl"])  # a few international contacts take most of the calls
        other[m] = c["intl"][np.minimum((ur[m] ** 2.5 * ni).astype(int), ni - 1)]
        dest[m] = D_INTL
        m = to_tollfree & mt
        other[m] = c["tollfree"][(ur[m] * len(c["tollfree"])).astype(int)]
        dest[m] = D_TOLLFREE
        m = to_premium & mt & (svc == SVC_VOICE)
        other[m] = c["premium_voice"][(ur[m] * len(c["premium_voice"])).astype(int)]
        dest[m] = D_PREMIUM
        m = to_premium & mt & (svc != SVC_VOICE)
        other[m] = c["premium_sms"][(ur[m] * len(c["premium_sms"])).astype(int)]
        dest[m] = D_PREMIUM
    # Messages to landlines make no sense: those draws go to a colleague instead.
    m = book & (svc != SVC_VOICE) & (dest == D_FIXED)
    other[m], dest[m] = est.msisdn[pick[m]], D_ONNET
    intra |= m
    # A line never calls itself: such draws become a call to the next number in its tenant.
    self_call = intra & (other == est.msisdn[line])
    other[self_call] = est.msisdn[
        np.where(pick[self_call] + 1 < b[self_call], pick[self_call] + 1, a[self_call])
    ]

    # Durations and volumes.
    duration = np.zeros(n, np.int64)
    volume = np.zeros(n, np.int64)
    v = svc == SVC_VOICE
    duration[v] = np.clip(
        rng.lognormal(np.log(CALL_S[0]), CALL_S[1], int(v.sum())), 3, 7200
    ).astype(np.int64)
    d = svc == SVC_DATA
    duration[d] = np.clip(rng.lognormal(np.log(600), 1.1, int(d.sum())), 1, 86399).astype(np.int64)
    volume[d] = np.clip(
        rng.lognormal(np.log(SESSION_KB[0]), SESSION_KB[1], int(d.sum())), 1, 4_000_000
    ).astype(np.int64)
    # Abroad most people switch to Wi-Fi: a fortieth of the usual volume (the shock aside).
    volume[d & (roaming_cty >= 0)] = np.maximum(1, volume[d & (roaming_cty >= 0)] // 40)
    if shock is not None and shock[0] == k:
        volume[-45:] = rng.integers(9_000, 15_000, 45)  # ~12 MB a session: ~530 MB abroad
        duration[-45:] = rng.integers(600, 3600, 45)
    mm = svc == SVC_MMS
    volume[mm] = rng.integers(40, 600, int(mm.sum()))

    # Premium services charge their own price: R7.50 a started minute, or R1.50-R10 a message.
    premium4 = np.zeros(n, np.int64)
    pv = (dest == D_PREMIUM) & v
    premium4[pv] = -(-duration[pv] // 60) * 75_000
    ps = (dest == D_PREMIUM) & ~v
    premium4[ps] = np.array([15_000, 30_000, 50_000, 100_000])[rng.integers(0, 4, int(ps.sum()))]
    return {
        "line": line, "svc": svc, "local": local, "roaming": roaming_cty, "direction": direction,
        "other": other, "dest": dest, "duration": duration, "volume": volume, "premium4": premium4,
    }  # fmt: skip


# --- the generator --------------------------------------------------------------------------------


def _parse_start(start: str | None, months: int) -> tuple[int, int]:
    s = start or default_start(months)
    try:
        y, m = (int(x) for x in s.split("-"))
        dt.date(y, m, 1)
    except ValueError as e:
        raise ValueError(f"start must be YYYY-MM, not {s!r}") from e
    return y, m


def generate(
    out: str | os.PathLike[str],
    tenants: int = 3,
    lines: int = 1500,
    months: int = 12,
    start: str | None = None,
    seed: int = 42,
    gzip: bool = False,
    progress: bool | None = None,
    dirty: bool = False,
) -> dict:
    """Write a complete drop folder to `out`; returns a summary.

    Summary: {"files": {file name: data rows}, "cdr_rows", "billing_rows", "seconds",
    "cdr_rows_per_s", "first_period", "last_period", "as_of"}; the row counts are the clean ones.

    `dirty`: then append a small, seeded set of faulty rows to the fact files (duplicates,
    conflicts, rows to reject) and describe them in `.faults.json` (summary key "faults"), so a
    load shows its reject and duplicate handling; the rows loaded stay those of the clean estate.
    """
    if tenants < 1 or lines < 12 * tenants or months < 1:
        raise ValueError("need tenants >= 1, lines >= 12 per tenant and months >= 1")
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    y0, m0 = _parse_start(start, months)
    periods = [_month_add(y0, m0, k) for k in range(months)]
    bounds = [_epoch_day(dt.date(y, m, 1)) for y, m in periods]
    ly, lm = periods[-1]
    as_of = dt.date(ly, lm, calendar.monthrange(ly, lm)[1])
    bounds.append(_epoch_day(as_of) + 1)

    seeds = np.random.SeedSequence(seed).spawn(3)
    rng_estate = np.random.default_rng(seeds[0])
    rng_bill = np.random.default_rng(seeds[2])
    est = build_estate(rng_estate, tenants, lines, bounds[0], bounds[-1], months)
    table = PlanTable.of(PLANS)
    files: dict[str, int] = {}

    # Reference snapshots, as of the last day of the last month (csv module: names may hold
    # commas and quotes).
    sfx = f"_{as_of.isoformat()}.csv"
    files["tenants" + sfx] = _write_rows(
        out / ("tenants" + sfx), KINDS["tenants"].column_names,
        [(t.tenant_id, t.name, t.industry, TIMEZONE) for t in est.tenants],
    )  # fmt: skip
    files["accounts" + sfx] = _write_rows(
        out / ("accounts" + sfx), KINDS["accounts"].column_names,
        [(a, t.tenant_id, p, nm) for t in est.tenants for a, p, nm in t.accounts],
    )  # fmt: skip
    files["cost_centres" + sfx] = _write_rows(
        out / ("cost_centres" + sfx), KINDS["cost_centres"].column_names,
        [(c, t.tenant_id, nm, p) for t in est.tenants for c, nm, p in t.cost_centres],
    )  # fmt: skip
    files["employees" + sfx] = _write_rows(
        out / ("employees" + sfx), KINDS["employees"].column_names,
        [e for t in est.tenants for e in t.employees],
    )  # fmt: skip
    files["plans" + sfx] = _write_rows(
        out / ("plans" + sfx), KINDS["plans"].column_names, PLAN_ROWS
    )
    reg = np.flatnonzero(est.kind != 3)
    files["lines" + sfx] = _write_rows(
        out / ("lines" + sfx), KINDS["lines"].column_names,
        [(
            str(est.msisdn[i]), est.tenants[est.tenant[i]].tenant_id,
            est.account_ids[est.account[i]], est.employee[i], PLANS[est.plan[i]].plan_code,
            est.status[i], _date_of(est.activated[i]).isoformat(),
            _date_of(est.cancelled[i]).isoformat() if est.cancelled[i] >= 0 else "",
            est.cug[i], est.apns[i],
        ) for i in reg],
    )  # fmt: skip

    # The bill shock: one heavy line of the first tenant, in the second-last month.
    prim = np.flatnonzero((est.kind == 0) & (est.tenant == 0) & (est.use_to >= bounds[-1])
                          & (est.use_from <= bounds[0]))  # fmt: skip
    shock = None
    if len(prim):
        shock = (max(0, months - 2), int(prim[np.argmax(est.voice_int[prim])]))

    # The services of every line (its own stream: the estate above does not change), then the
    # catalogue and the registered lines' services as snapshots of the same date.
    assign_services(np.random.default_rng([seed, 3]), est, bounds[0], bounds[-1] - 1,
                    shock[1] if shock else None)  # fmt: skip
    files["services" + sfx] = _write_rows(
        out / ("services" + sfx), KINDS["services"].column_names, SERVICE_ROWS
    )
    files["line_services" + sfx] = _write_rows(
        out / ("line_services" + sfx), KINDS["line_services"].column_names,
        [(
            str(est.msisdn[i]), est.tenants[est.tenant[i]].tenant_id, code,
            _date_of(day).isoformat(),
        ) for i in reg for code, day in est.services[i]],
    )  # fmt: skip

    fact_sfx = ".csv.gz" if gzip else ".csv"
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=months, desc="generate", unit="month", file=sys.stderr)
    acct_arr = pa.array(est.account_ids)
    plan_codes = [p.plan_code for p in PLANS]
    bundle_dict = pa.array([f"{c}/{s}" for c in plan_codes for s in ("VOICE", "SMS", "DATA")])
    apn_first = pa.array(sorted({a.split(";")[0] for a in est.apns}))
    apn_idx = np.array([apn_first.to_pylist().index(a.split(";")[0]) for a in est.apns], np.int64)
    cdr_rows = billing_rows = 0
    writer = ThreadPoolExecutor(max_workers=1)
    pending: Future | None = None
    for k, (y, m) in enumerate(periods):
        period = f"{y:04d}-{m:02d}"
        d0, d1 = bounds[k], bounds[k + 1]
        rng_month = np.random.default_rng([seed, 1, k])
        ev = month_events(rng_month, est, k, d0, d1, shock)
        n = len(ev["line"])

        # File order: by time, then line; record ids follow it, so ties in time are ordered by
        # record_id within a line, as the rating rule requires.
        order = np.lexsort((ev["line"], ev["local"]))
        ev = {key: val[order] for key, val in ev.items()}
        cls = classify_codes(
            _SVC_TO_TARIFF[ev["svc"]], ev["direction"] == 0, ev["dest"], ev["roaming"] >= 0
        )
        by_line = np.argsort(ev["line"], kind="stable")
        rated = rate_events(
            ev["line"][by_line], est.plan[ev["line"][by_line]], cls[by_line],
            ev["duration"][by_line], ev["volume"][by_line], ev["premium4"][by_line], table,
        )  # fmt: skip
        charge4 = np.empty(n, np.int64)
        charge4[by_line] = rated.charge4
        in_bundle = np.empty(n, bool)
        in_bundle[by_line] = rated.in_bundle

        seq = np.arange(1, n + 1, dtype=np.int64)
        rid = np.empty((n, 16), np.uint8)
        rid[:, :7] = np.frombuffer(f"C{y:04d}{m:02d}".encode(), np.uint8)
        rid[:, 7:] = _digits(seq, 9)
        zulu = rng_month.random(n) < 0.5
        utc = ev["local"] - TZ_OFFSET_S
        bkind = np.select([cls == NAT_VOICE, cls == SMS_HOME, cls == DATA_HOME], [0, 1, 2], 0)
        bundle_ix = est.plan[ev["line"]] * 3 + bkind
        talk = ev["svc"] != SVC_DATA
        dests = pa.array(DESTS)
        cdr = pa.table({
            "record_id": _strings(rid, np.full(n, 16)),
            "account_id": acct_arr.take(pa.array(est.account[ev["line"]])),
            "msisdn": pa.array(est.msisdn[ev["line"]]),
            "event_time": format_event_times(utc, zulu),
            "service": pa.array(SERVICES).take(pa.array(ev["svc"])),
            "direction": pa.array(DIRS).take(pa.array(ev["direction"])),
            "other_party": pa.array(ev["other"], mask=ev["other"] < 0),
            "destination_class": dests.take(pa.array(ev["dest"], mask=ev["dest"] < 0)),
            "roaming_country": pa.array(ROAMING).take(
                pa.array(ev["roaming"], mask=ev["roaming"] < 0)),
            "duration_s": pa.array(ev["duration"]),
            "volume_kb": pa.array(ev["volume"]),
            "apn": apn_first.take(pa.array(apn_idx[ev["line"]], mask=talk)),
            "charge": _dec_array(charge4),
            "bundle_id": bundle_dict.take(pa.array(bundle_ix, mask=~in_bundle)),
        })  # fmt: skip
        assert cdr.column_names == list(KINDS["cdr"].column_names)
        name = f"cdr_{period}{fact_sfx}"
        files[name] = n
        cdr_rows += n

        usage4 = np.zeros(len(est.msisdn), np.int64)
        np.add.at(usage4, ev["line"], charge4)
        bill = _billing(rng_bill, est, period, d0, d1, usage4, ev["line"])
        name = f"billing_{period}{fact_sfx}"
        # Writing (CSV formatting, gzip) runs on the second core while the next month is drawn;
        # one month in flight at most, so memory stays at about two months of events.
        if pending is not None:
            pending.result()
        pending = writer.submit(
            _write_month, cdr, out / f"cdr_{period}{fact_sfx}", bill, out / name
        )
        files[name] = bill.num_rows
        billing_rows += bill.num_rows
        if bar is not None:
            bar.update(1)
            bar.set_postfix(cdr=f"{cdr_rows:,}")
    if pending is not None:
        pending.result()
    writer.shutdown()
    if bar is not None:
        bar.close()
    faults = _inject_faults(out, files, seed) if dirty else None
    seconds = time.perf_counter() - t_start
    summary = {
        "files": files,
        "cdr_rows": cdr_rows,
        "billing_rows": billing_rows,
        "seconds": round(seconds, 3),
        "cdr_rows_per_s": round(cdr_rows / seconds) if seconds > 0 else None,
        "first_period": f"{y0:04d}-{m0:02d}",
        "last_period": f"{ly:04d}-{lm:02d}",
        "as_of": as_of.isoformat(),
    }
    if faults is not None:
        summary["faults"] = faults
    return summary


def _billing(rng: np.random.Generator, est: Estate, period: str, d0: int, d1: int,
             usage4: np.ndarray, event_line: np.ndarray) -> pa.Table:  # fmt: skip
    """The invoices of one bill period: one per child account, lines ordered per msisdn."""
    # Billed: every line active or suspended at some point in the month, plus any with usage
    # (unknown lines included).
    subscribed = (est.activated < d1) & ((est.cancelled < 0) | (est.cancelled >= d0))
    billed = np.flatnonzero(subscribed | (usage4 != 0))
    rows: list[tuple[int, int, str, str, int]] = []  # account, line, type, description, amount4
    for i in billed:
        plan = PLANS[est.plan[i]]
        a = int(est.account[i])
        fee4 = to4(plan.monthly_fee)
        if subscribed[i]:
            rows.append((a, i, "SUBSCRIPTION", f"Monthly subscription: {plan.plan_name}", fee4))
        if usage4[i] != 0:
            rows.append((a, i, "USAGE", "Usage charges", int(usage4[i])))
        if subscribed[i] and est.vas[i]:
            label = {590000: "Device insurance", 290000: "Caller tune, music",
                     450000: "Cloud backup 50 GB"}[int(est.vas[i])]  # fmt: skip
            rows.append((a, i, "VAS", label, int(est.vas[i])))
        if subscribed[i] and fee4 >= 5_490_000:
            rows.append((a, i, "DISCOUNT", "Corporate discount 10% on subscription", -(fee4 // 10)))
        if subscribed[i]:
            r = rng.random()
            if r < 0.008:
                rows.append((a, i, "ONCE_OFF", "SIM swap", 990_000))
            elif r < 0.012:
                rows.append((a, i, "ONCE_OFF", "Device: Samsung Galaxy A55 5G", 79_990_000))
    accounts = sorted({r[0] for r in rows})
    for a in accounts:
        r = rng.random()
        if r < 0.12:
            amt = -int(rng.integers(50, 2000)) * 10_000
            rows.append((a, -1, "ADJUSTMENT", "Credit: billing dispute resolved", amt))
        elif r < 0.17:
            rows.append((a, -1, "ADJUSTMENT", "Late payment fee", 1_500_000))
    order = {"SUBSCRIPTION": 0, "USAGE": 1, "VAS": 2, "DISCOUNT": 3, "ONCE_OFF": 4, "ADJUSTMENT": 5}
    rows.sort(key=lambda r: (r[0], r[1] < 0, est.msisdn[r[1]] if r[1] >= 0 else 0, order[r[2]]))
    inv, line_no, acc, msisdn, ctype, desc, amt = [], [], [], [], [], [], []
    prev, no = None, 0
    compact = period.replace("-", "")
    for a, i, t, dsc, am in rows:
        no = no + 1 if a == prev else 1
        prev = a
        inv.append(f"INV-{est.account_ids[a]}-{compact}")
        line_no.append(no)
        acc.append(est.account_ids[a])
        msisdn.append(str(est.msisdn[i]) if i >= 0 else None)
        ctype.append(t)
        desc.append(dsc)
        amt.append(am)
    amt4 = np.array(amt, np.int64)
    vat4 = np.sign(amt4) * ((np.abs(amt4) * 15 + 50) // 100)  # 15%, half away from zero
    return pa.table({
        "invoice_id": pa.array(inv, pa.string()),
        "line_no": pa.array(line_no, pa.int32()),
        "account_id": pa.array(acc, pa.string()),
        "bill_period": pa.array([period] * len(inv), pa.string()),
        "msisdn": pa.array(msisdn, pa.string()),
        "charge_type": pa.array(ctype, pa.string()),
        "description": pa.array(desc, pa.string()),
        "amount": _dec_array(amt4),
        "vat": _dec_array(vat4),
    })  # fmt: skip


# --- faults (opt-in: generate(dirty=True)) --------------------------------------------------------

FAULTS_FILE = ".faults.json"  # a dot name: the loader skips it (any other non-CSV is refused)
# Expected outcome of each fault kind in the loader: loaded rows never change.
FAULT_OUTCOME = {
    "duplicate": "duplicate", "conflict": "conflict", "unknown_account": "rejected",
    "invalid_enum": "rejected", "malformed_amount": "rejected", "missing_offset": "rejected",
    "missing_required": "rejected", "wrong_field_count": "rejected",
}  # fmt: skip
_CDR_FAULTS = tuple(FAULT_OUTCOME)
_BILLING_FAULTS = tuple(k for k in FAULT_OUTCOME if k != "missing_offset")  # no timestamp


def _read_text(path: Path) -> str:
    if path.name.endswith(".gz"):
        with gzip_mod.open(path, "rt", encoding="utf-8", newline="") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


def _write_text(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        with (
            open(path, "wb") as raw,
            gzip_mod.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=3, mtime=0) as gz,
        ):
            gz.write(data)
    else:
        path.write_bytes(data)


def _fault_row(kind: str, fault: str, row: list[str], j: int, period: str) -> list[str]:
    """One faulty record made from a good `row` of a fact file (its fields in contract order)."""
    cols = KINDS[kind].column_names
    r = list(row)
    if fault == "duplicate":
        return r
    amount = "charge" if kind == "cdr" else "amount"
    if fault == "conflict":  # same key, another amount
        a = cols.index(amount)
        r[a] = str(Decimal(r[a]) + Decimal("1.2345"))
        return r
    # Every other fault gets a fresh key, so it can only be rejected for its own fault.
    compact = period.replace("-", "")
    if kind == "cdr":
        r[cols.index("record_id")] = f"F{compact}{j:09d}"
    else:
        r[cols.index("invoice_id")] = f"INV-FAULT-{compact}-{j:05d}"
        r[cols.index("line_no")] = "1"
    if fault == "unknown_account":
        r[cols.index("account_id")] = f"ACC-UNKNOWN-{j:05d}"
    elif fault == "invalid_enum":
        r[cols.index("service" if kind == "cdr" else "charge_type")] = (
            "FAX" if kind == "cdr" else "REFUND"
        )
    elif fault == "malformed_amount":
        r[cols.index(amount)] = ("12,50", "abc")[j % 2]
    elif fault == "missing_offset":
        t = r[cols.index("event_time")]
        r[cols.index("event_time")] = t[:19]  # YYYY-MM-DDTHH:MM:SS, offset dropped
    elif fault == "missing_required":
        r[cols.index("msisdn" if kind == "cdr" else "amount")] = ""
    elif fault == "wrong_field_count":
        r = r[:-1]
    return r


def _inject_faults(out: Path, files: dict[str, int], seed: int) -> dict:
    """Append a small, seeded set of faulty rows to every fact file; returns the manifest.

    Per CDR file ~0.01 % of its rows (at least one of each fault kind, duplicates the most
    common), per billing file one of each kind. Duplicates repeat a row exactly and conflicts
    repeat a key after the original, so the loaded rows are exactly the clean ones.
    """
    rng = np.random.default_rng([seed, 2])  # its own stream: the clean files do not change
    manifest: dict = {"seed": seed, "files": {}, "totals": {k: 0 for k in FAULT_OUTCOME}}
    serial = 0
    for name in sorted(files):
        kind = kind_of_name(name)
        if kind not in ("cdr", "billing"):
            continue
        path = out / name
        text = _read_text(path)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        n = len(lines) - 1  # data rows
        if n < 1:
            continue
        faults = _CDR_FAULTS if kind == "cdr" else _BILLING_FAULTS
        counts = dict.fromkeys(faults, 1)
        if kind == "cdr":
            extra = max(0, round(n * 1e-4) - len(faults))
            w = np.array([0.4, 0.1] + [0.5 / (len(faults) - 2)] * (len(faults) - 2))
            for f, k in zip(faults, rng.multinomial(extra, w / w.sum()), strict=True):
                counts[f] += int(k)
        total = sum(counts.values())
        src = np.sort(rng.choice(n, size=min(total, n), replace=total > n)) + 1
        rng.shuffle(src)
        period = re.search(r"(\d{4}-\d{2})", name).group(1)
        buf = io.StringIO()
        w_csv = csv.writer(buf, lineterminator="\n")
        injected = {}
        for j, f in enumerate((k for k in faults for _ in range(counts[k])), start=1):
            text_row = lines[int(src[j - 1])]
            serial += 1  # numbers the fresh keys and alternates the malformed amounts
            if f == "duplicate":  # the very same text, not a re-serialisation
                buf.write(text_row + "\n")
            else:
                w_csv.writerow(_fault_row(kind, f, next(csv.reader([text_row])), serial, period))
            injected[str(n + 1 + j)] = f  # file line number (the header is line 1)
        _write_text(path, text + buf.getvalue())
        manifest["files"][name] = {
            "kind": kind,
            "clean_rows": n,
            "injected": counts,
            "lines": injected,
            "expected": {
                "rows_read": n + total,
                "loaded": n,
                "rejected": sum(c for f, c in counts.items() if f != "duplicate"),
                "duplicates": counts["duplicate"],
                "conflicts": counts["conflict"],
            },
        }
        for f, c in counts.items():
            manifest["totals"][f] += c
    (out / FAULTS_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def kind_of_name(name: str) -> str | None:
    k = _kind_of(name)
    return k.name if k else None


def plan_by_code() -> dict[str, Plan]:
    return {p.plan_code: p for p in PLANS}
