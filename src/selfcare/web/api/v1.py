"""The `/api/v1` endpoints: lines and orders, each one call into `selfcare.services`.

The acting user is always `current_user` (the session's user or the API token's owner), never
anything the request says; the services derive scope and permission from it, so an order or line
out of the caller's scope is a 404 exactly as a missing one. Writes need a session (protected
against cross-site requests by `auth.csrf`) or a token of scope `write`; a read token gets 403.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import abort, request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.exceptions import HTTPException

from selfcare.orders import OrderError
from selfcare.services import ServiceError
from selfcare.services import orders as order_service
from selfcare.web.api import errors, schemas
from selfcare.web.auth.context import app_db

blp = Blueprint(
    "api-v1",
    __name__,
    url_prefix="/api/v1",
    description="Lines and orders of the signed-in user's scope.",
)

WRITE_SCOPE = "write"
ERRORS = (400, 401, 403, 404, 409, 429)


blp.register_error_handler(HTTPException, errors.http_error)
blp.register_error_handler(OrderError, errors.order_error)
blp.register_error_handler(ServiceError, errors.service_error)


def actor() -> Any:
    """The acting user: flask-login's user object (the services' `User`), never a proxy."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


@blp.before_request
def require_write() -> None:
    """A read-only token may not change anything (a session may: CSRF is checked before).
    Checked before the body is read, so a read token learns nothing from validation."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    user = current_user
    if getattr(user, "via_token", False) and getattr(user, "token_scope", None) != WRITE_SCOPE:
        abort(403, description="this API token is read-only; create a token with write scope")


def plain(value: Any) -> Any:
    """A service view (frozen dataclasses, Decimals, dates, enums) as JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def order_out(view: Any) -> dict[str, Any]:
    out = plain(view)
    out["allowed_actions"] = list(order_service.allowed_actions(app_db(), actor(), view))
    return out


def _errors(*codes: int) -> Any:
    def decorate(func: Any) -> Any:
        for code in codes:
            func = blp.alt_response(code, schema=schemas.Problem, description=_TEXT[code])(func)
        return func

    return decorate


_TEXT = {
    400: "Bad input; `field` names it",
    401: "Not signed in and no valid API token",
    403: "Not allowed (a read-only token writing, a refused transition, a cross-site request)",
    404: "No such order or line in your scope",
    409: "The order is not in a state that allows this (e.g. approving a completed order)",
    429: "Too many requests; see Retry-After",
}


# --- lines --------------------------------------------------------------------------------------


@blp.get("/lines")
@blp.arguments(schemas.LinesQuery, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, schemas.LinesPage)
@_errors(400, 401)
def list_lines(cursor: str | None, limit: int, search: str | None) -> Any:
    """The lines you may see, a page at a time (`next` is the cursor of the following page)."""
    lines, nxt = order_service.lines_for(
        app_db(), actor(), search=search, cursor=cursor, limit=limit
    )
    return {"lines": plain(lines), "next": nxt}


@blp.get("/lines/<string:msisdn>")
@blp.response(200, schemas.LineDetail)
@_errors(401, 404)
def get_line(msisdn: str) -> Any:
    """One line: plan, status, services (active, pending_add, pending_remove)."""
    return plain(order_service.line_detail(app_db(), actor(), msisdn))


# --- orders -------------------------------------------------------------------------------------


@blp.post("/orders")
@blp.arguments(schemas.OrderCreate)
@blp.response(201, schemas.Order)
@_errors(400, 401, 403, 404, 429)
def create_order(body: dict[str, Any]) -> Any:
    """Request a change on one or more lines; it waits for approval unless you may order
    directly (Administrator)."""
    view = order_service.create_order(
        app_db(), actor(), body["action"], list(body["msisdns"]), dict(body["params"]),
        body["reason"],
    )
    return order_out(view)


@blp.get("/orders")
@blp.arguments(schemas.OrdersQuery, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, schemas.OrdersPage)
@_errors(400, 401)
def list_orders(**query: Any) -> Any:
    """Orders you may see, newest first; `awaiting_me=true` gives those waiting for you."""
    views, nxt = order_service.list_orders(app_db(), actor(), **query)
    return {"orders": [order_out(v) for v in views], "next": nxt}


@blp.get("/orders/<int:order_id>")
@blp.response(200, schemas.Order)
@_errors(401, 404)
def get_order(order_id: int) -> Any:
    """One order with its lines, approvals and timeline."""
    return order_out(order_service.get_order(app_db(), actor(), order_id))


@blp.post("/orders/<int:order_id>/approve")
@blp.arguments(schemas.Approve, required=False)
@blp.response(200, schemas.Order)
@_errors(400, 401, 403, 404, 409, 429)
def approve_order(body: dict[str, Any], order_id: int) -> Any:
    """Approve an order waiting for you (never your own)."""
    return order_out(
        order_service.approve(app_db(), actor(), order_id, comment=body.get("comment"))
    )


@blp.post("/orders/<int:order_id>/reject")
@blp.arguments(schemas.Reject)
@blp.response(200, schemas.Order)
@_errors(400, 401, 403, 404, 409, 429)
def reject_order(body: dict[str, Any], order_id: int) -> Any:
    """Reject an order waiting for you, with a reason."""
    return order_out(order_service.reject(app_db(), actor(), order_id, body["reason"]))


@blp.post("/orders/<int:order_id>/cancel")
@blp.response(200, schemas.Order)
@_errors(401, 403, 404, 409, 429)
def cancel_order(order_id: int) -> Any:
    """Cancel your own order before it reaches the operator."""
    return order_out(order_service.cancel(app_db(), actor(), order_id))
