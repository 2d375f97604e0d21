"""Support tickets: the pure domain (no database, no web), as `selfcare.orders` is for orders.

- `lifecycle`: the ticket states, the transitions between them (each naming the kinds of actor
  that take it), the reopen window and the service clock (pending time left out).
- `policy`: who sees a ticket and who works it, as functions over plain facts.

`selfcare.services.tickets` stores tickets and asks these.
"""

from __future__ import annotations


class TicketError(Exception):
    """Base of the ticket domain's refusals; `status` is the API's answer."""

    status = 400
