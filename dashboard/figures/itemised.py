"""Pure table and summary builders for the Itemised usage page.

Input frames come from `reports.itemised_page` and `reports.itemised_count` (amounts excl. VAT);
nothing here queries or knows the viewer.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

# CDR charges carry no invoice VAT column: incl. VAT is the standard 15 % (docs/architecture.md).
VAT_FACTOR = Decimal("1.15")
PAGE_SIZE = 100
SORTABLE = ("event_time", "msisdn", "service", "other_party", "duration_s", "volume_kb", "charge")


def with_vat(amount, incl_vat: bool) -> Decimal:
    value = Decimal(str(amount)) if amount is not None and not pd.isna(amount) else Decimal(0)
    return (value * VAT_FACTOR).quantize(Decimal("0.0001")) if incl_vat else value


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def itemised_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict]:
    """Grid rows for one page of records; charge rounded to 4 places (the contract's precision)."""
    return [
        {
            "record_id": str(r.record_id),
            "msisdn": str(r.msisdn),
            "event_time": str(r.event_time),
            "service": r.service,
            "direction": r.direction,
            "other_party": _text(r.other_party),
            "destination_class": _text(r.destination_class),
            "roaming_country": _text(r.roaming_country),
            "duration_s": int(r.duration_s),
            "volume_kb": int(r.volume_kb),
            "charge": float(with_vat(r.charge, incl_vat)),
            "bundle_id": _text(r.bundle_id),
            "bill_period": str(r.bill_period),
        }
        for r in df.itertuples(index=False)
    ]


def page_count(records: int) -> int:
    return max(1, -(-int(records) // PAGE_SIZE))


def summary_text(records: int, charge, page: int, incl_vat: bool = False) -> str:
    """The line above the grid: how many records, what they cost, which page."""
    total = with_vat(charge, incl_vat)
    vat = "incl." if incl_vat else "excl."
    first = page * PAGE_SIZE + 1 if records else 0
    last = min((page + 1) * PAGE_SIZE, records)
    return (
        f"{records:,} records, ZAR {total:,.2f} {vat} VAT. "
        f"Showing {first:,}–{last:,} (page {page + 1} of {page_count(records)})."
    )
