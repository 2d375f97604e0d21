"""The action catalogue: what an order can ask for, its parameters, and what it costs.

Each action is a subclass of `Action` registered with `@register`; later issues (shared
bundles, closed user groups, APNs, airtime, ...) add their own the same way, and the order model,
the policy and the adapters need no change. An action declares:

- its parameters, validated by `validate(params, catalogue)` into a clean dict; a refusal is one
  `InvalidParams` naming the field (`service_code: unknown service 'XYZ'`), the API's 400;
- `needs`: the line facts it reads (`LineFacts` fields), which the services load and the
  adapter carries to the operator;
- `change(params, line)`: the requested value kept apart from the value in effect when asked
  (the line keeps showing the value in effect until the operator confirms);
- `cost(params, line, catalogue)`: the monthly and once-off cost change it implies, from the
  catalogue, in Decimal rounded to the cent.

Money: service monthly_fee / once_off_fee and plan monthly_fee, as the operator's catalogue
gives them. Actions without a catalogue price (suspend, resume, SIM swap) change nothing: the
operator's charges for them, if any, arrive on the bill.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from selfcare.contract import LINE_STATUSES
from selfcare.orders import OrderError

CENT = Decimal("0.01")
SERVICE_CATEGORIES = ("FEATURE", "BAR", "ADDON")
SERVICE_PAYMENTS = ("POSTPAID", "PREPAID", "ANY")
ACTIVE, SUSPENDED, CANCELLED = LINE_STATUSES


def cents(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class InvalidParams(OrderError):
    """An action's parameters are wrong; the message names the field (the API's 400)."""

    status = 400

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class UnknownAction(InvalidParams):
    def __init__(self, code: str):
        super().__init__("action", f"unknown action {code!r}")


@dataclass(frozen=True)
class Service:
    """One row of the operator's service catalogue (kind `services`)."""

    code: str
    name: str
    category: str  # FEATURE | BAR | ADDON
    payment: str  # POSTPAID | PREPAID | ANY: the lines it may be put on
    monthly_fee: Decimal
    once_off_fee: Decimal

    def fits(self, payment: str) -> bool:
        return self.payment == "ANY" or self.payment == payment


@dataclass(frozen=True)
class PlanOffer:
    """A plan as orders see it (code, payment type, monthly fee); from `contract.tariff.Plan`."""

    code: str
    payment: str  # POSTPAID | PREPAID
    monthly_fee: Decimal

    @classmethod
    def from_plan(cls, plan) -> PlanOffer:
        return cls(plan.plan_code, plan.payment, plan.monthly_fee)


@dataclass(frozen=True)
class Catalogue:
    services: Mapping[str, Service] = field(default_factory=dict)
    plans: Mapping[str, PlanOffer] = field(default_factory=dict)

    @classmethod
    def of(cls, services=(), plans=()) -> Catalogue:
        return cls({s.code: s for s in services}, {p.code: p for p in plans})


@dataclass(frozen=True)
class LineFacts:
    """What is in effect on a line: the latest snapshot plus the orders completed after it."""

    msisdn: str
    payment: str  # POSTPAID | PREPAID
    plan_code: str
    status: str = ACTIVE  # ACTIVE | SUSPENDED | CANCELLED
    services: frozenset[str] = frozenset()
    employee_id: str | None = None
    iccid: str | None = None


@dataclass(frozen=True)
class CostChange:
    """Monthly and once-off cost change, to the cent (negative = a saving)."""

    monthly: Decimal = Decimal("0.00")
    once_off: Decimal = Decimal("0.00")

    def __post_init__(self):
        object.__setattr__(self, "monthly", cents(self.monthly))
        object.__setattr__(self, "once_off", cents(self.once_off))

    def __add__(self, other: CostChange) -> CostChange:
        return CostChange(self.monthly + other.monthly, self.once_off + other.once_off)

    @property
    def monthly_increase(self) -> Decimal:
        """What the finance threshold compares: the monthly change, never below zero."""
        return max(self.monthly, Decimal("0.00"))


@dataclass(frozen=True)
class Change:
    """The value asked for, kept apart from the value in effect when it was asked."""

    field: str  # plan_code | services | status | iccid | line
    in_effect: Any
    requested: Any


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # service_code | plan_code | employee_id | iccid
    description: str


_EMPLOYEE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_ICCID = re.compile(r"\A89[0-9]{17,18}\Z")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidParams(name, "is required")
    if not isinstance(value, str):
        raise InvalidParams(name, "must be a string")
    return value.strip()


def _check(kind: str, name: str, value: str, catalogue: Catalogue) -> str:
    if kind == "service_code":
        value = value.upper()
        if value not in catalogue.services:
            raise InvalidParams(name, f"unknown service {value!r}")
    elif kind == "plan_code":
        if value not in catalogue.plans:
            raise InvalidParams(name, f"unknown plan {value!r}")
    elif kind == "employee_id":
        if not _EMPLOYEE_ID.match(value):
            raise InvalidParams(name, f"not an employee id: {value!r}")
    elif kind == "iccid":
        value = value.replace(" ", "")
        if not _ICCID.match(value):
            raise InvalidParams(name, "an ICCID is 19 or 20 digits starting with 89")
        if not luhn_ok(value):
            raise InvalidParams(name, "the ICCID's check digit is wrong")
    else:  # pragma: no cover - a new Param kind must be handled here
        raise AssertionError(kind)
    return value


class Action:
    """One kind of change. Subclasses set the class attributes and override what differs."""

    code: ClassVar[str]
    label: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()
    needs: ClassVar[frozenset[str]] = frozenset()
    # False for actions that create a line (no msisdn yet).
    on_existing_line: ClassVar[bool] = True

    @classmethod
    def validate(cls, params: Mapping[str, Any] | None, catalogue: Catalogue) -> dict[str, str]:
        params = dict(params or {})
        known = {p.name for p in cls.params}
        for name in sorted(params):
            if name not in known:
                raise InvalidParams(name, f"not a parameter of {cls.code}")
        return {p.name: _check(p.kind, p.name, _text(params, p.name), catalogue)
                for p in cls.params}

    @classmethod
    def change(cls, params: Mapping[str, str], line: LineFacts | None) -> Change:
        raise NotImplementedError

    @classmethod
    def cost(cls, params: Mapping[str, str], line: LineFacts | None,
             catalogue: Catalogue) -> CostChange:
        return CostChange()

    @classmethod
    def effective_from(cls, completed_on: date) -> date:
        """The date the change takes effect, once the operator has completed it."""
        return completed_on


ACTIONS: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    if cls.code in ACTIONS:
        raise ValueError(f"action {cls.code!r} is registered twice")
    ACTIONS[cls.code] = cls
    return cls


def get(code: str) -> type[Action]:
    try:
        return ACTIONS[code]
    except KeyError:
        raise UnknownAction(code) from None


def order_cost(action: str, params: Mapping[str, str], lines: list[LineFacts | None],
               catalogue: Catalogue) -> CostChange:
    """The cost change of a (bulk) order: the sum over its lines."""
    spec = get(action)
    total = CostChange()
    for line in lines:
        total = total + spec.cost(params, line, catalogue)
    return total


def next_bill_period_start(day: date) -> date:
    """Bill periods are calendar months: the first day of the month after `day`."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _plan_fee(catalogue: Catalogue, code: str, name: str) -> Decimal:
    try:
        return catalogue.plans[code].monthly_fee
    except KeyError:
        raise InvalidParams(name, f"unknown plan {code!r}") from None


def _service(catalogue: Catalogue, code: str) -> Service:
    try:
        return catalogue.services[code]
    except KeyError:
        raise InvalidParams("service_code", f"unknown service {code!r}") from None


_SERVICE = Param("service_code", "service_code", "a code of the service catalogue")


def _need_line(line: LineFacts | None) -> LineFacts:
    if line is None:
        raise InvalidParams("msisdn", "this action needs an existing line")
    return line


@register
class AddService(Action):
    code = "add_service"
    label = "Add a service"
    params = (_SERVICE,)
    needs = frozenset({"payment", "services", "status"})

    @classmethod
    def change(cls, params, line):
        line = _need_line(line)
        return Change("services", tuple(sorted(line.services)),
                      tuple(sorted(line.services | {params["service_code"]})))

    @classmethod
    def cost(cls, params, line, catalogue):
        s = _service(catalogue, params["service_code"])
        return CostChange(s.monthly_fee, s.once_off_fee)


@register
class RemoveService(Action):
    code = "remove_service"
    label = "Remove a service"
    params = (_SERVICE,)
    needs = frozenset({"services", "status"})

    @classmethod
    def change(cls, params, line):
        line = _need_line(line)
        return Change("services", tuple(sorted(line.services)),
                      tuple(sorted(line.services - {params["service_code"]})))

    @classmethod
    def cost(cls, params, line, catalogue):
        return CostChange(-_service(catalogue, params["service_code"]).monthly_fee)


@register
class ChangePlan(Action):
    code = "change_plan"
    label = "Change the plan"
    params = (Param("plan_code", "plan_code", "the new plan, from the next bill period"),)
    needs = frozenset({"payment", "plan_code", "status"})

    @classmethod
    def change(cls, params, line):
        return Change("plan_code", _need_line(line).plan_code, params["plan_code"])

    @classmethod
    def cost(cls, params, line, catalogue):
        line = _need_line(line)
        return CostChange(_plan_fee(catalogue, params["plan_code"], "plan_code")
                          - _plan_fee(catalogue, line.plan_code, "line.plan_code"))

    @classmethod
    def effective_from(cls, completed_on):
        return next_bill_period_start(completed_on)


@register
class SuspendLine(Action):
    code = "suspend_line"
    label = "Suspend the line"
    needs = frozenset({"status"})

    @classmethod
    def change(cls, params, line):
        return Change("status", _need_line(line).status, SUSPENDED)


@register
class ResumeLine(Action):
    code = "resume_line"
    label = "Resume the line"
    needs = frozenset({"status"})

    @classmethod
    def change(cls, params, line):
        return Change("status", _need_line(line).status, ACTIVE)


@register
class CancelLine(Action):
    code = "cancel_line"
    label = "Cancel the line"
    needs = frozenset({"status", "plan_code", "services"})

    @classmethod
    def change(cls, params, line):
        return Change("status", _need_line(line).status, CANCELLED)

    @classmethod
    def cost(cls, params, line, catalogue):
        # The plan and every monthly service stop.
        line = _need_line(line)
        monthly = _plan_fee(catalogue, line.plan_code, "line.plan_code") + sum(
            (_service(catalogue, code).monthly_fee for code in line.services), Decimal(0)
        )
        return CostChange(-monthly)


@register
class NewLine(Action):
    code = "new_line"
    label = "New line"
    params = (
        Param("employee_id", "employee_id", "the employee the line is for"),
        Param("plan_code", "plan_code", "the plan of the new line"),
    )
    on_existing_line = False

    @classmethod
    def change(cls, params, line):
        return Change("line", None, {"employee_id": params["employee_id"],
                                     "plan_code": params["plan_code"]})

    @classmethod
    def cost(cls, params, line, catalogue):
        return CostChange(_plan_fee(catalogue, params["plan_code"], "plan_code"))


@register
class SimSwap(Action):
    code = "sim_swap"
    label = "Swap the SIM"
    params = (Param("iccid", "iccid", "the new SIM card's ICCID"),)
    needs = frozenset({"status", "iccid"})

    @classmethod
    def change(cls, params, line):
        return Change("iccid", _need_line(line).iccid, params["iccid"])

