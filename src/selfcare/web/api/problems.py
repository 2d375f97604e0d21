"""Errors of the JSON API as RFC 9457 problem details (`application/problem+json`).

Every error under `/api/` answers `{"type", "title", "status", "detail"}`, plus `field` (the
offending input, dotted for nested fields) on a 400. `type` is a stable URI reference per kind of
problem under `/api/v1/problems/` (relative, so it names the portal that answered); clients
should branch on it or on `status`, never on `detail`, which is for people.

This module imports nothing of the portal, so the sign-in machinery can answer its own refusals
(401, 403 cross-site) on API paths in the same shape.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json

MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/"
TYPE_BASE = "/api/v1/problems/"

# status → (type slug, title): one title per status, as RFC 9457 advises
KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Sign in required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the current state"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("bad-request", "Bad request"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "Service unavailable"),
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def problem_body(status: int, detail: str, field: str | None = None, **extra: Any) -> dict:
    slug, title = KINDS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return body


def problem(status: int, detail: str, field: str | None = None, **extra: Any) -> Response:
    """A problem-details response (`headers` such as Retry-After may be added by the caller)."""
    resp = Response(
        json.dumps(problem_body(status, detail, field, **extra)),
        status=status,
        mimetype=MEDIA_TYPE,
    )
    return resp
