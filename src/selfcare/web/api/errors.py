"""The API's error handlers (registered on the `/api/v1` blueprint): the services' and the
domain's refusals, webargs' validation errors and every HTTP error as problem details.

* `InvalidParams`, `UnknownEvent`, a refused request body → 400 naming the field
* `NotAllowed`, `WrongActor`, `Forbidden` → 403; `OrderNotFound`, `LineNotFound` → 404 (the
  services answer the same for missing and out of scope); `IllegalTransition` → 409
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import HTTPException

from selfcare.orders import OrderError
from selfcare.services import Forbidden, NotFound, ServiceError
from selfcare.web.api.problems import problem

LOCATIONS = ("json", "query", "form", "view_args", "querystring")


def first_field(messages: Any, prefix: str = "") -> tuple[str, str]:
    """The first offending field of a marshmallow/webargs error dict, dotted, and its message."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = str(key)
            if name in LOCATIONS and not prefix:
                return first_field(value)
            if name == "_schema":
                name = "body"
            return first_field(value, f"{prefix}.{name}" if prefix else name)
    if isinstance(messages, list | tuple) and messages:
        if all(isinstance(m, str) for m in messages):
            return prefix or "body", "; ".join(messages)
        return first_field(messages[0], prefix)
    return prefix or "body", str(messages) if messages else "invalid"


def http_error(e: HTTPException) -> Any:
    code = e.code or 500
    if code == 422:  # webargs' "unprocessable": to a client it is bad input like any other
        code = 400
    data = getattr(e, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if code == 400 and messages:
        field, message = first_field(messages)
        if message.startswith("Unknown field"):
            message = "unknown field"
        return problem(400, f"{field}: {message}", field=field)
    if code == 429:
        resp = problem(429, "too many requests; try again later")
        if e.response is not None and e.response.headers.get("Retry-After"):
            resp.headers["Retry-After"] = e.response.headers["Retry-After"]
        return resp
    detail = e.description if code < 500 else "the request could not be completed"
    return problem(code, detail or e.name)


def order_error(e: OrderError) -> Any:
    status = int(getattr(e, "status", 400))
    field = getattr(e, "field", None)
    if status == 400:
        return problem(400, str(e), field=field or "body")
    return problem(status, str(e))


def service_error(e: ServiceError) -> Any:
    status = getattr(e, "status", None)
    if status is None:
        status = 404 if isinstance(e, NotFound) else 403 if isinstance(e, Forbidden) else 400
    if status == 404:
        return problem(404, str(e) or "not found")
    if status == 400:
        return problem(400, str(e), field=getattr(e, "field", None) or "body")
    return problem(int(status), str(e))
