"""Mount the JSON API on the portal's Flask server: flask-smorest's `Api` (OpenAPI 3 generated
from the schemas, served at `/api/v1/openapi.json`), the `/api/v1` blueprint, its errors as
problem details, and the browsable docs page.

flask-smorest would install its own handler for every HTTP error of the whole app; the portal's
handlers (`auth.errors`: HTML pages, JSON on data routes, problem details under `/api/`) stay in
charge instead, and the blueprint's own handlers turn the services' refusals and webargs'
validation errors into problem details (`api.errors`).
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, request
from flask_login import current_user
from flask_smorest import Api

from selfcare.services import throttle
from selfcare.web.api import docs, schemas, tickets  # noqa: F401 - registers /api/v1/tickets
from selfcare.web.api.problems import problem
from selfcare.web.api.v1 import blp
from selfcare.web.auth.context import app_db, client_ip

log = logging.getLogger(__name__)

API_CONFIG = {
    "API_TITLE": "SelfCare API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # no UI of flask-smorest's (it loads its scripts from a CDN): `docs` serves one locally
}
SPEC_OPTIONS = {
    "info": {
        "description": "Lines and orders of the caller's scope. Authenticate with the session "
        "cookie (writes: same-origin only) or `Authorization: Bearer <token>` (a token of scope "
        "`write` for POST). Errors are RFC 9457 problem details.",
    },
    "components": {
        "securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "selfcare_session"},
        }
    },
    "security": [{"token": []}, {"session": []}],
}


# Writes per user (session or token owner) per minute: far above what a person or a sensible
# script does, low enough that a runaway loop cannot flood the approvers with orders.
WRITE_LIMIT = throttle.Limit(120, 60)


def writer_key() -> str:
    user = current_user
    if user and getattr(user, "is_authenticated", False):
        return f"api-writer:{user.id}"
    return f"api-address:{client_ip()}"


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def throttled(limit: throttle.Limit, retry_after: int) -> Response:
    resp = problem(429, f"too many writes ({limit.count} per {limit.seconds} seconds); "
                        "try again later")
    resp.headers["Retry-After"] = str(max(1, int(retry_after)))
    return resp


def limit_writes() -> Response | None:
    """Count every write under the writer's key in the portal database's moving window (the
    login throttle's table), so the limit holds across processes; over it: 429 + Retry-After."""
    if request.method not in WRITE_METHODS:
        return None
    reserved, breached, retry_after = throttle.reserve(
        app_db(), [(writer_key(), WRITE_LIMIT)], at=time.time()
    )
    if reserved is None or breached is not None:
        return throttled(breached or WRITE_LIMIT, retry_after)
    return None


blp.before_request(limit_writes)


class PortalApi(Api):
    """flask-smorest's Api without its app-wide error handler (see the module docstring)."""

    ERROR_SCHEMA = schemas.Problem

    def _register_error_handlers(self) -> None:
        return None


def init_api(server: Flask) -> PortalApi:
    """Register `/api/v1`, its OpenAPI document and docs page on the server."""
    for key, value in API_CONFIG.items():
        server.config.setdefault(key, value)
    server.config.setdefault("API_SPEC_OPTIONS", SPEC_OPTIONS)
    api = PortalApi(server)
    api.register_blueprint(blp)
    server.register_blueprint(docs.bp)
    return api
