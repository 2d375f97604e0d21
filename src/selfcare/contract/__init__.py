"""The input contract: file kinds, their columns in order, types and allowed values.

One source of truth for the generator (what it writes), the loader (what it accepts) and
docs/data-contract.md (what partners read). A file's kind is the prefix of its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AMOUNT = "DECIMAL(18,4)"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "VARCHAR"  # DuckDB type the loader casts to
    required: bool = True  # an empty value is a reject reason
    enum: tuple[str, ...] | None = None
    # A value that must name a row of another reference kind (see Ref); None: no such rule.
    ref: Ref | None = None


@dataclass(frozen=True)
class Ref:
    """A column's value must be the `column` of some snapshot row of reference kind `kind`.

    `same_tenant`: the row must also be of the same tenant (the referring kind's tenant_id), e.g.
    a line's service names a line of that tenant's line register. `noun` words the reason:
    `service_code: unknown service 'X'`.
    """

    kind: str
    column: str
    noun: str
    same_tenant: bool = False


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key: a repeat is a duplicate (same content) or a conflict
    fact: bool  # facts accumulate; reference files are per-tenant snapshots

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(
    name: str, type: str = "VARCHAR", required: bool = True, enum=None, ref: Ref | None = None
) -> Column:
    return Column(name, type, required, tuple(enum) if enum else None, ref)


SERVICES = ("VOICE", "SMS", "MMS", "DATA")
DIRECTIONS = ("MO", "MT")
DESTINATION_CLASSES = ("ONNET", "OFFNET", "FIXED", "INTERNATIONAL", "PREMIUM", "TOLLFREE")
CHARGE_TYPES = ("SUBSCRIPTION", "USAGE", "ONCE_OFF", "DISCOUNT", "VAS", "ADJUSTMENT")
PRODUCT_TYPES = ("VOICE", "DATA", "HYBRID")
PAYMENTS = ("POSTPAID", "PREPAID")
LINE_STATUSES = ("ACTIVE", "SUSPENDED", "CANCELLED")
SERVICE_CATEGORIES = ("FEATURE", "BAR", "ADDON")
# The payment types a service may be put on: a plan's payment type, or ANY for both.
SERVICE_PAYMENTS = ("POSTPAID", "PREPAID", "ANY")
VAT_RATE = "0.15"

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "tenants",
            (_c("tenant_id"), _c("name"), _c("industry"), _c("timezone")),
            key=("tenant_id",),
            fact=False,
        ),
        Kind(
            "accounts",
            (
                _c("account_id"),
                _c("tenant_id"),
                _c("parent_account_id", required=False),
                _c("name"),
            ),
            key=("account_id",),
            fact=False,
        ),
        Kind(
            "cost_centres",
            (
                _c("cost_centre_id"),
                _c("tenant_id"),
                _c("name"),
                _c("parent_cost_centre_id", required=False),
            ),
            key=("cost_centre_id",),
            fact=False,
        ),
        Kind(
            "employees",
            (
                _c("employee_id"),
                _c("tenant_id"),
                _c("full_name"),
                _c("email"),
                _c("manager_employee_id", required=False),
                _c("cost_centre_id"),
                _c("territory"),
            ),
            key=("employee_id",),
            fact=False,
        ),
        Kind(
            "plans",
            (
                _c("plan_code"),
                _c("plan_name"),
                _c("product_type", enum=PRODUCT_TYPES),
                _c("payment", enum=PAYMENTS),
                _c("monthly_fee", AMOUNT),
                _c("incl_voice_min", "INTEGER"),
                _c("incl_sms", "INTEGER"),
                _c("incl_data_mb", "INTEGER"),
                _c("rate_voice_national", AMOUNT),
                _c("rate_voice_international", AMOUNT),
                _c("rate_sms", AMOUNT),
                _c("rate_mms", AMOUNT),
                _c("rate_data_mb", AMOUNT),
                _c("rate_roaming_voice", AMOUNT),
                _c("rate_roaming_data_mb", AMOUNT),
            ),
            key=("plan_code",),
            fact=False,
        ),
        Kind(
            "services",
            (
                _c("service_code"),
                _c("name"),
                _c("category", enum=SERVICE_CATEGORIES),
                _c("payment", enum=SERVICE_PAYMENTS),
                _c("monthly_fee", AMOUNT),
                _c("once_off_fee", AMOUNT),
            ),
            key=("service_code",),
            fact=False,
        ),
        Kind(
            "lines",
            (
                _c("msisdn"),
                _c("tenant_id"),
                _c("account_id"),
                _c("employee_id", required=False),
                _c("plan_code"),
                _c("status", enum=LINE_STATUSES),
                _c("activated_on", "DATE"),
                _c("cancelled_on", "DATE", required=False),
                _c("cug_id", required=False),
                _c("apns", required=False),
            ),
            key=("msisdn",),
            fact=False,
        ),
        Kind(
            "line_services",
            (
                _c("msisdn", ref=Ref("lines", "msisdn", "line", same_tenant=True)),
                _c("tenant_id"),
                _c("service_code", ref=Ref("services", "service_code", "service")),
                _c("activated_on", "DATE"),
            ),
            key=("msisdn", "service_code"),
            fact=False,
        ),
        Kind(
            "cdr",
            (
                _c("record_id"),
                _c("account_id"),
                _c("msisdn"),
                _c("event_time", "TIMESTAMPTZ"),
                _c("service", enum=SERVICES),
                _c("direction", enum=DIRECTIONS),
                _c("other_party", required=False),
                _c("destination_class", required=False, enum=DESTINATION_CLASSES),
                _c("roaming_country", required=False),
                _c("duration_s", "BIGINT"),
                _c("volume_kb", "BIGINT"),
                _c("apn", required=False),
                _c("charge", AMOUNT),
                _c("bundle_id", required=False),
            ),
            key=("record_id",),
            fact=True,
        ),
        Kind(
            "billing",
            (
                _c("invoice_id"),
                _c("line_no", "INTEGER"),
                _c("account_id"),
                _c("bill_period"),
                _c("msisdn", required=False),
                _c("charge_type", enum=CHARGE_TYPES),
                _c("description", required=False),
                _c("amount", AMOUNT),
                _c("vat", AMOUNT),
            ),
            key=("invoice_id", "line_no"),
            fact=True,
        ),
    )
}

# `cdr_2026-01.csv.gz`, `employees_2026-03-01.csv`: the kind is the longest known prefix.
_AS_OF = re.compile(r"_(\d{4}-\d{2}-\d{2})(?:\D|$)")
_SUFFIXES = (".csv.gz", ".csv")


def kind_of(file_name: str) -> Kind | None:
    """The file's kind from its name's prefix, or None when no kind matches or it is not CSV."""
    lower = file_name.lower()
    if not lower.endswith(_SUFFIXES):
        return None
    for name in sorted(KINDS, key=len, reverse=True):
        if lower.startswith(name):
            rest = lower[len(name) :]
            if rest[:1] in ("", "_", "-", ".") or rest.startswith(_SUFFIXES):
                return KINDS[name]
    return None


def as_of_of(file_name: str) -> str | None:
    """The snapshot date in the name (`_YYYY-MM-DD`), else None (then the load date)."""
    m = _AS_OF.search(file_name)
    return m.group(1) if m else None
