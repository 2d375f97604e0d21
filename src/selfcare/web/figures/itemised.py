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


def totals(counts: pd.DataFrame) -> tuple[int, Decimal]:
    """Records and their charge over all bill periods of `reports.itemised_count`."""
    if counts.empty:
        return 0, Decimal(0)
    return int(counts["records"].sum()), sum(
        (Decimal(str(c)) for c in counts["charge"] if not pd.isna(c)), Decimal(0)
    )


def scan_window(
    counts: pd.DataFrame, period_from: str, period_to: str, sort: str, descending: bool,
    offset: int,
) -> tuple[str, str]:  # fmt: skip
    """The bill periods `reports.itemised_page` must read for the page at `offset`, from the
    records each period holds (`reports.itemised_count`).

    Periods without a matching record are never read. Sorted by time (bill period first, then
    time: see the query), the page's records lie in the newest periods (the oldest when
    ascending) that together hold offset + PAGE_SIZE records. Any other sort can draw from every
    period with records."""
    held = counts[counts["records"] > 0].sort_values("bill_period")
    if held.empty:
        return period_from, period_to
    periods = [str(p) for p in held["bill_period"]]
    first, last = max(periods[0], period_from), min(periods[-1], period_to)
    if sort != "event_time":
        return first, last
    need = offset + PAGE_SIZE
    order = list(zip(periods, held["records"], strict=True))
    if descending:
        order.reverse()
    seen = 0
    for period, records in order:
        seen += int(records)
        if seen >= need:
            return (period, last) if descending else (first, period)
    return first, last


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
