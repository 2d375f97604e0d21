"""Who may request an order and who may approve it: pure functions over plain facts.

The services build the facts from the database (the signed-in user, the HR feed's reporting
chain, the portal's accounts, the lines' owners, the order's cost) and ask these functions;
nothing here reads a session or a table, so every rule is tested on a hand-made org chart.

The rules (docs/operations.md):

- Nothing crosses a tenant: an actor of another tenant may do nothing with an order, and does
  not even learn it exists (`may_see` is false: the API answers 404).
- Requesting: an End User (and a Financial Manager, as any employee) for their own lines only;
  a Manager for lines whose owner is themselves or below them in the reporting chain; an
  Administrator for any line of the tenant, and without approval. A line with no known owner
  can only be ordered by an Administrator. Operator analysts never order.
- Approving (`required_approvals`): an order by anyone but an Administrator needs a `manager`
  approval: any Manager above the requester in the chain, or an Administrator. It waits for, and
  notifies, the nearest manager above the requester who has a portal account with the Manager
  profile (`notify_approver`; none: the tenant's Administrators are notified). When the order's
  monthly increase is above the tenant's threshold (default R 200.00 a month) it needs a second,
  `finance` approval, open once the manager step is done: any Financial Manager of the tenant, or
  an Administrator. An Administrator's approval fills every open step at once.
- Nobody approves their own order. Editing before approval clears the approvals given
  (`restart`), and the required steps are derived again from the edited order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from selfcare import roles
from selfcare.orders import OrderError

DEFAULT_FINANCE_THRESHOLD = Decimal("200.00")


class Step(StrEnum):
    MANAGER = "manager"
    FINANCE = "finance"


class NotAllowed(OrderError):
    """The actor may not do this (the API answers 403, or 404 when `may_see` is false)."""

    status = 403


@dataclass(frozen=True)
class Person:
    """A signed-in portal user as the policy sees them."""

    user_id: str
    tenant: str
    profile: str  # a code of selfcare.roles
    employee_id: str | None = None


@dataclass(frozen=True)
class Org:
    """One tenant's facts: the HR reporting chain and who has a portal account."""

    tenant: str
    # employee_id -> their manager's employee_id (None or absent at the top).
    managers: Mapping[str, str | None] = field(default_factory=dict)
    # employee_id -> the profile of that employee's portal account (absent: no account).
    accounts: Mapping[str, str] = field(default_factory=dict)
    finance_threshold: Decimal = DEFAULT_FINANCE_THRESHOLD

    def chain_above(self, employee_id: str | None) -> list[str]:
        """The employee's managers, nearest first (stops at a loop in a bad HR feed)."""
        out: list[str] = []
        seen = {employee_id}
        current = self.managers.get(employee_id) if employee_id else None
        while current and current not in seen:
            out.append(current)
            seen.add(current)
            current = self.managers.get(current)
        return out

    def is_below(self, employee_id: str | None, manager_id: str | None) -> bool:
        """True when `employee_id` is `manager_id` or anywhere below them."""
        if not employee_id or not manager_id:
            return False
        return employee_id == manager_id or manager_id in self.chain_above(employee_id)


@dataclass(frozen=True)
class OrderFacts:
    """What the policy needs to know about an order."""

    tenant: str
    requester: Person
    # The employee owning each line (for `new_line`: the employee it is for); None = unknown.
    line_owners: tuple[str | None, ...]
    monthly_increase: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Approval:
    step: Step
    user_id: str


def _same_tenant(actor: Person, tenant: str) -> bool:
    return actor.tenant == tenant and actor.profile in roles.TENANT_ROLES


def request_refusal(actor: Person, org: Org, line_owners: Iterable[str | None]) -> str | None:
    """Why `actor` may not order for these lines (None: they may)."""
    if not _same_tenant(actor, org.tenant):
        return "not a user of this tenant"
    if actor.profile == roles.ADMIN:
        return None
    owners = list(line_owners)
    if not owners:
        return "an order needs at least one line"
    if not actor.employee_id:
        return "your account is not linked to an employee"
    for owner in owners:
        if owner is None:
            return "a line without a known employee can only be ordered by an Administrator"
        if actor.profile == roles.MANAGER:
            if not org.is_below(owner, actor.employee_id):
                return "a Manager orders only for lines in their reporting chain"
        elif owner != actor.employee_id:
            return "you may order only for your own lines"
    return None


def may_request(actor: Person, org: Org, line_owners: Iterable[str | None]) -> bool:
    return request_refusal(actor, org, line_owners) is None


def check_request(actor: Person, org: Org, line_owners: Iterable[str | None]) -> None:
    reason = request_refusal(actor, org, line_owners)
    if reason:
        raise NotAllowed(reason)


def required_approvals(order: OrderFacts, org: Org) -> tuple[Step, ...]:
    """The approval steps an order needs, in order (empty: it goes straight to `approved`)."""
    if order.requester.profile == roles.ADMIN:
        return ()
    steps = [Step.MANAGER]
    if order.monthly_increase > org.finance_threshold:
        steps.append(Step.FINANCE)
    return tuple(steps)


def notify_approver(order: OrderFacts, org: Org) -> str | None:
    """The employee the order waits for: the nearest manager above the requester with a Manager
    account (None: nobody in the chain can, so the tenant's Administrators decide)."""
    for manager in org.chain_above(order.requester.employee_id):
        if org.accounts.get(manager) == roles.MANAGER:
            return manager
    return None


def open_steps(order: OrderFacts, org: Org, given: Iterable[Approval]) -> tuple[Step, ...]:
    """The steps still missing, in order."""
    done = {a.step for a in given}
    return tuple(s for s in required_approvals(order, org) if s not in done)


def _may_give(actor: Person, step: Step, order: OrderFacts, org: Org) -> bool:
    if actor.profile == roles.ADMIN:
        return True
    if step is Step.MANAGER:
        return actor.profile == roles.MANAGER and actor.employee_id is not None and (
            actor.employee_id in org.chain_above(order.requester.employee_id)
        )
    return actor.profile == roles.FINANCE


def approval_refusal(actor: Person, order: OrderFacts, org: Org,
                     given: Iterable[Approval] = ()) -> str | None:
    """Why `actor` may not approve (or reject) the order now (None: they may)."""
    given = list(given)
    if not _same_tenant(actor, order.tenant) or org.tenant != order.tenant:
        return "not a user of this tenant"
    if actor.user_id == order.requester.user_id:
        return "nobody approves their own order"
    steps = open_steps(order, org, given)
    if not steps:
        return "the order needs no further approval"
    if any(a.user_id == actor.user_id for a in given):
        return "you have already approved this order"
    # Steps are taken in order: the finance step opens once the manager step is done, except
    # for an Administrator, who may give every open step at once.
    if not _may_give(actor, steps[0], order, org):
        if steps[0] is Step.MANAGER and actor.profile == roles.FINANCE:
            return "the Financial Manager approves after the requester's manager"
        return f"you may not give the {steps[0].value} approval of this order"
    return None


def may_approve(actor: Person, order: OrderFacts, org: Org,
                given: Iterable[Approval] = ()) -> bool:
    return approval_refusal(actor, order, org, given) is None


def approve(actor: Person, order: OrderFacts, org: Org,
            given: Iterable[Approval] = ()) -> tuple[tuple[Approval, ...], bool]:
    """Record `actor`'s approval: the approvals now given, and whether the order is approved."""
    given = tuple(given)
    reason = approval_refusal(actor, order, org, given)
    if reason:
        raise NotAllowed(reason)
    steps = open_steps(order, org, given)
    fills = steps if actor.profile == roles.ADMIN else steps[:1]
    now = given + tuple(Approval(s, actor.user_id) for s in fills)
    return now, not open_steps(order, org, now)


def restart(given: Iterable[Approval]) -> tuple[Approval, ...]:
    """Editing an order before approval: every approval given so far no longer counts."""
    return ()


def may_see(actor: Person, order: OrderFacts, org: Org) -> bool:
    """Whether the order exists for `actor` (false: the API answers 404, never 403).

    The requester; the employee owning one of its lines (it shows on their line's page);
    Administrators and Financial Managers of the tenant (the Requests page shows them
    everything); a Manager whose chain holds the requester or any of the lines' owners (which
    includes every manager who may approve it).
    """
    if not _same_tenant(actor, order.tenant) or org.tenant != order.tenant:
        return False
    if actor.user_id == order.requester.user_id or actor.profile in roles.ALL_LINE_ROLES:
        return True
    if actor.employee_id and actor.employee_id in order.line_owners:
        return True
    if actor.profile == roles.MANAGER and actor.employee_id:
        people = [order.requester.employee_id, *order.line_owners]
        return any(org.is_below(p, actor.employee_id) for p in people)
    return False


def may_cancel(actor: Person, order: OrderFacts) -> bool:
    """Only the requester cancels (before submission: the lifecycle checks the state)."""
    return _same_tenant(actor, order.tenant) and actor.user_id == order.requester.user_id


def may_edit(actor: Person, order: OrderFacts) -> bool:
    """Only the requester edits (before approval: the lifecycle checks the state)."""
    return may_cancel(actor, order)
