"""Shared pieces of the provisioning tests: a small catalogue, lines, and a clock to turn.

Imported by the test modules beside it (pytest puts this folder on sys.path).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from selfcare.orders.actions import Catalogue, LineFacts, PlanOffer, Service
from selfcare.provisioning.base import OrderLine

D = Decimal
CATALOGUE = Catalogue.of(
    services=[
        Service("ROAM", "Roaming", "FEATURE", "ANY", D("0"), D("0")),
        Service("IDD", "International dialling", "FEATURE", "POSTPAID", D("15.50"), D("0")),
        Service("PP_BUNDLE", "Prepaid bundle", "ADDON", "PREPAID", D("29.00"), D("0")),
        Service("VMAIL", "Voicemail", "FEATURE", "ANY", D("9.00"), D("0")),
    ],
    plans=[
        PlanOffer("BIZ_S", "POSTPAID", D("199.00")),
        PlanOffer("BIZ_L", "POSTPAID", D("449.50")),
        PlanOffer("PAYG", "PREPAID", D("0.00")),
    ],
)
POSTPAID = LineFacts("27820000001", "POSTPAID", "BIZ_S", "ACTIVE", frozenset({"VMAIL"}), "E1",
                     "8927000000000000006")
PREPAID = LineFacts("27820000002", "PREPAID", "PAYG", "ACTIVE", frozenset(), "E2")
SUSPENDED = LineFacts("27820000003", "POSTPAID", "BIZ_S", "SUSPENDED", frozenset(), "E3")
CANCELLED = LineFacts("27820000004", "POSTPAID", "BIZ_S", "CANCELLED", frozenset(), "E4")
REQUESTED_ON = date(2026, 12, 7)


class Clock:
    """A clock the test turns by hand (no sleeps)."""

    def __init__(self, start: datetime = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def order_line(key: str, action: str, params: dict, line: LineFacts | None,
               reference: str | None = None, msisdn: str | None = "from-line") -> OrderLine:
    if msisdn == "from-line":
        msisdn = line.msisdn if line else None
    return OrderLine(idempotency_key=key, reference=reference or key.split("/")[0],
                     action=action, params=params, requested_on=REQUESTED_ON, msisdn=msisdn,
                     line=line)
