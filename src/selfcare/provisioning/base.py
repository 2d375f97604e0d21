"""The provisioning interface: how approved order lines reach the operator, and news comes back.

After harlequin's adapter shape: one small protocol, and each way of talking to an operator is a
separate implementation (`simulated`, `outbox`, a real operator API later); the worker never
knows which one it holds.

- `submit(lines)` hands order lines over and answers one `Acknowledgement` per line, in order.
  Each line carries an idempotency key (stable for the order line, for example
  `<order reference>/<msisdn>`): submitting the same key again, after a crash or a timeout,
  never creates a second operator order; it answers that order's reference and current state.
- `status(refs)` answers the operator's current state of each reference it knows, as
  `StatusUpdate`s (an unknown reference is left out). An update that matches the line's state
  is no news: the worker takes a transition only when the state moved.

The operator reports `accepted`, `in_progress`, `completed` (with the date the change takes
effect) or `failed` (with a reason). The worker maps them onto the order lifecycle: accepted ->
`submit`, in_progress -> `start`, completed -> `complete`, failed -> `fail`. An acknowledgement
may already say failed (the operator refused the line at once): the worker then takes `submit`
and `fail` together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from selfcare.orders.actions import LineFacts


class OperatorState(StrEnum):
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


# The lifecycle event each operator state stands for (selfcare.orders.lifecycle).
LIFECYCLE_EVENT: dict[OperatorState, str] = {
    OperatorState.ACCEPTED: "submit",
    OperatorState.IN_PROGRESS: "start",
    OperatorState.COMPLETED: "complete",
    OperatorState.FAILED: "fail",
}


class ProvisioningError(Exception):
    """The adapter could not talk to the operator at all (retry later; nothing was lost)."""


def idempotency_key(reference: str, msisdn: str | None, position: int = 0) -> str:
    """The key of an order line: stable for as long as the order exists, unique across orders
    (a new line has no number yet, so its position in the order stands in)."""
    return f"{reference}/{msisdn}" if msisdn else f"{reference}/new-{position}"


@dataclass(frozen=True)
class OrderLine:
    """One line of an approved order, as handed to the operator."""

    idempotency_key: str
    reference: str  # the portal's order reference
    action: str  # a code of selfcare.orders.actions
    params: Mapping[str, str]
    requested_on: date
    msisdn: str | None = None  # None for `new_line`
    line: LineFacts | None = None  # the facts the action needs (its `needs`)


@dataclass(frozen=True)
class Acknowledgement:
    idempotency_key: str
    operator_ref: str
    state: OperatorState
    reason: str | None = None
    effective_on: date | None = None


@dataclass(frozen=True)
class StatusUpdate:
    operator_ref: str
    state: OperatorState
    reason: str | None = None
    effective_on: date | None = None
    idempotency_key: str | None = None
    msisdn: str | None = None  # for `new_line`: the number the operator gave
    extra: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Adapter(Protocol):
    name: str

    def submit(self, lines: Sequence[OrderLine]) -> list[Acknowledgement]: ...

    def status(self, refs: Sequence[str]) -> list[StatusUpdate]: ...

    def close(self) -> None: ...
