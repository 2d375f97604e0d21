"""What every part of the sign-in machinery asks of a request: the app's settings, its database,
the client's address, which kind of path it is, a JSON error."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, jsonify, request

from selfcare.config import Settings
from selfcare.web.api.problems import is_api_path, problem

PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
# Anonymous requests here get 401 JSON (a redirect would hand an HTML page to a script).
DATA_PREFIXES = ("/_", "/export/", "/api/")
# API tokens authenticate here only (read scope: GET; write scope: the API's writes too).
TOKEN_PREFIXES = ("/export/", "/api/v1/")


def app_settings() -> Settings:
    return current_app.config["SELFCARE_SETTINGS"]


def app_db() -> str:
    """The portal database's URL (SQLite at SELFCARE_DB or SELFCARE_DATABASE_URL)."""
    return app_settings().database


def is_data_path(path: str) -> bool:
    return path.startswith(DATA_PREFIXES)


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def safe_next(target: str | None) -> str | None:
    """A `next=` target only if it stays inside the app: a plain absolute path, no scheme, no
    host, no `//` or backslash tricks (browsers read `/\\evil.com` as `//evil.com`)."""
    if not target or len(target) > 2000:
        return None
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if parts.path in ("/login", "/logout"):
        return None
    return target


def client_ip() -> str:
    """The client's address (behind a proxy, ProxyFix has set it from X-Forwarded-For)."""
    return request.remote_addr or "-"


def json_error(status: int, message: str) -> Response:
    if is_api_path(request.path):
        return problem(status, message)  # the JSON API answers RFC 9457 problem details
    resp = jsonify(error=message)
    resp.status_code = status
    return resp
