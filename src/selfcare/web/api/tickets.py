"""The `/api/v1/tickets` endpoints: support tickets and billing disputes, each one call into
`selfcare.services.tickets` as the signed-in user (the session's or the token's owner).

A ticket outside the caller's sight is a 404 exactly as a missing one; a transition its state does
not allow is a 409; one the caller does not take (a raiser resolving) is a 403. Writes follow the
blueprint's rules (same-origin session or a token of scope `write`, the per-user write limit).
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE

from selfcare.services import tickets as ticket_service
from selfcare.tickets import TicketError
from selfcare.web.api import errors, schemas
from selfcare.web.api.v1 import _errors, actor, blp, plain
from selfcare.web.auth.context import app_db

blp.register_error_handler(TicketError, errors.order_error)

REFERENCE = "<string:reference>"


@blp.get("/tickets")
@blp.arguments(schemas.TicketsQuery, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, schemas.TicketsPage)
@_errors(400, 401)
def list_tickets(**query: Any) -> Any:
    """Tickets you may see, newest first (`mine=true`: those you raised)."""
    views, nxt = ticket_service.list_tickets(app_db(), actor(), **query)
    return {"tickets": plain(views), "next": nxt}


@blp.post("/tickets")
@blp.arguments(schemas.TicketCreate)
@blp.response(201, schemas.Ticket)
@_errors(400, 401, 403, 404, 429)
def raise_ticket(body: dict[str, Any]) -> Any:
    """Raise a ticket about lines, an invoice line (a billing query) or an order you may see."""
    return plain(ticket_service.raise_ticket(app_db(), actor(), **body))


@blp.get(f"/tickets/{REFERENCE}")
@blp.response(200, schemas.Ticket)
@_errors(401, 404)
def get_ticket(reference: str) -> Any:
    """One ticket with its thread and timeline."""
    return plain(ticket_service.get_ticket(app_db(), actor(), reference))


@blp.post(f"/tickets/{REFERENCE}/comments")
@blp.arguments(schemas.TicketComment)
@blp.response(201, schemas.Ticket)
@_errors(400, 401, 404, 409, 429)
def comment_ticket(body: dict[str, Any], reference: str) -> Any:
    """Add to the thread; the raiser's answer resumes a ticket waiting on them."""
    return plain(ticket_service.add_comment(app_db(), actor(), reference, body["body"]))


@blp.post(f"/tickets/{REFERENCE}/state")
@blp.arguments(schemas.TicketMove)
@blp.response(200, schemas.Ticket)
@_errors(400, 401, 403, 404, 409, 429)
def move_ticket(body: dict[str, Any], reference: str) -> Any:
    """Move the ticket to `state` (open, pending, resolved, closed; open again to reopen)."""
    return plain(
        ticket_service.move_to(
            app_db(), actor(), reference, body["state"], body.get("comment"),
            credited_amount=body.get("credited_amount"),
        )
    )  # fmt: skip


@blp.post(f"/tickets/{REFERENCE}/assignee")
@blp.arguments(schemas.TicketAssign)
@blp.response(200, schemas.Ticket)
@_errors(400, 401, 403, 404, 409, 429)
def assign_ticket(body: dict[str, Any], reference: str) -> Any:
    """Assign to a Support agent or an Administrator of the ticket's organisation (agents)."""
    return plain(ticket_service.assign(app_db(), actor(), reference, body["assignee_id"]))
