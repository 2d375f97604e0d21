"""Deny by default: which pages a profile may open, where it lands, and the before-request guard.

* public: the login page, `/healthz`, static bundles (`/_dash-component-suites/*`, `/assets/*`,
  the favicon). Everything else needs a signed-in user; anonymous data requests get 401 JSON,
  anonymous page requests a redirect to `/login?next=...`.
* a page answers 403 unless the user's role is in the `roles=` it registered with
  (`dash.register_page(..., roles=(...))`); a page without `roles` is open to nobody.
* API tokens are accepted on `/export/*` and `/api/v1/*` only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from flask import abort, redirect, request
from flask_login import current_user

from selfcare.roles import ANALYST
from selfcare.web.auth.context import (
    TOKEN_PREFIXES,
    is_data_path,
    is_public_path,
    json_error,
    safe_next,
)

LANDING = {ANALYST: "/growth"}  # everyone else lands on /overview
DEFAULT_LANDING = "/overview"
PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})  # Dash's index and catch-all routes


def pages_for(role: str) -> list[dict[str, Any]]:
    """The registered pages a role may open from the menu, in menu order. Pages with a path
    template (a line's page, an order's page) are reached by their links, not the menu."""
    pages = [
        p
        for p in dash.page_registry.values()
        if role in (p.get("roles") or ()) and not p.get("path_template")
    ]
    return sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0, p["path"]))


def landing_page(user: Any) -> str | None:
    """The first page a profile sees: the documented landing if registered for it, else its
    first page in menu order, else None (no pages at all)."""
    pages = pages_for(user.role)
    wanted = LANDING.get(user.role, DEFAULT_LANDING)
    if any(p["path"] == wanted for p in pages):
        return wanted
    return pages[0]["path"] if pages else None


def page_for_path(path: str) -> dict[str, Any] | None:
    """The registry entry serving a URL path (exact path or a path template), if any."""
    from dash._pages import _parse_path_variables  # Dash's own matcher for path templates

    path = path.rstrip("/") or "/"
    for page in dash.page_registry.values():
        if ((page.get("path") or "").rstrip("/") or "/") == path:
            return page
        template = page.get("path_template")
        if template and _parse_path_variables(path, template) is not None:
            return page
    return None


def guard() -> Any:
    """Deny by default: runs before every request the server handles."""
    path = request.path
    if is_public_path(path):
        return None
    user = current_user
    if not user or not user.is_authenticated:
        if is_data_path(path) or request.method not in ("GET", "HEAD"):
            return json_error(401, "sign in required")
        target = request.full_path.rstrip("?")
        query = urlencode({"next": target}) if safe_next(target) and path != "/logout" else ""
        return redirect("/login" + ("?" + query if query else ""))
    if getattr(user, "via_token", False) and not path.startswith(TOKEN_PREFIXES):
        return json_error(401, "API tokens are accepted on /export/ and /api/v1/ only")
    rule = request.url_rule
    if rule is None or rule.endpoint not in PAGE_ENDPOINTS:
        return None  # a Flask/Dash route: its own checks (exports, roles_required) apply
    if path == "/":
        target = landing_page(user)
        return redirect(target) if target else None
    page = page_for_path(path)
    if page is None:
        abort(404)
    if user.role not in (page.get("roles") or ()):
        abort(403)
    return None
