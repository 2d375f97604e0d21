"""Who sees a ticket and who works it: pure functions over plain facts (docs/operations.md).

- Any tenant profile raises tickets about what it may see (the services check the lines and the
  invoice line against the raiser's scope).
- A ticket exists for (`may_see`): its raiser; everyone above the raiser in the HR reporting
  chain; the tenant's Administrators; the tenant's Financial Managers for billing queries; and
  the Support agents of the operator, across tenants. Nobody of another tenant.
- Working a ticket (assigning, changing its state as an agent): Support agents and the tenant's
  Administrators. The raiser reopens (within the lifecycle's window), closes after resolution,
  and resumes a pending ticket by answering. Whoever sees a ticket may comment on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from selfcare import roles
from selfcare.orders.policy import Org, Person
from selfcare.tickets.lifecycle import Actor

BILLING_QUERY = "billing_query"
CATEGORIES: dict[str, str] = {
    BILLING_QUERY: "Billing query",
    "fault": "Fault",
    "service": "Service",
    "device": "Device",
    "other": "Other",
}
PRIORITIES: dict[str, str] = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}


@dataclass(frozen=True)
class TicketFacts:
    tenant: str
    raiser: Person
    category: str


def may_raise(actor: Person) -> bool:
    return actor.profile in roles.TENANT_ROLES and bool(actor.tenant)


def is_agent(actor: Person, ticket: TicketFacts) -> bool:
    if actor.profile == roles.SUPPORT:
        return True
    return actor.profile == roles.ADMIN and actor.tenant == ticket.tenant


def may_see(actor: Person, ticket: TicketFacts, org: Org | None) -> bool:
    if actor.profile == roles.SUPPORT:
        return True
    if actor.profile not in roles.TENANT_ROLES or actor.tenant != ticket.tenant:
        return False
    if actor.user_id == ticket.raiser.user_id or actor.profile == roles.ADMIN:
        return True
    if actor.profile == roles.FINANCE and ticket.category == BILLING_QUERY:
        return True
    if actor.employee_id and org is not None and org.tenant == ticket.tenant:
        return actor.employee_id in org.chain_above(ticket.raiser.employee_id)
    return False


def actor_kinds(actor: Person, ticket: TicketFacts) -> frozenset[Actor]:
    """The kinds of actor `actor` is for this ticket (an Administrator's own ticket: both)."""
    kinds = set()
    if actor.user_id == ticket.raiser.user_id and actor.tenant == ticket.tenant:
        kinds.add(Actor.RAISER)
    if is_agent(actor, ticket):
        kinds.add(Actor.AGENT)
    return frozenset(kinds)


def may_be_assigned(profile: str, tenant: str | None, ticket: TicketFacts) -> bool:
    """Who a ticket may be assigned to: a Support agent, or an Administrator of its tenant."""
    return profile == roles.SUPPORT or (profile == roles.ADMIN and tenant == ticket.tenant)
