"""Orders: the pure domain of every change to the estate (no database, no web).

- `lifecycle`: the states of an order line and of an order, and the transitions between them,
  each naming who may take it; an illegal one raises `IllegalTransition` (the API's 409).
- `actions`: the catalogue of actions (add a service, change a plan, ...), their parameters,
  the line facts they need and the cost change they imply.
- `policy`: who may request an order and who may approve it, as functions over plain facts.

The services layer stores orders and calls these; every entry point (pages, API, CLI, worker)
goes through the services, so none can skip a rule.
"""

from __future__ import annotations


class OrderError(Exception):
    """Base of the domain's refusals; each subclass says which answer the API gives."""
