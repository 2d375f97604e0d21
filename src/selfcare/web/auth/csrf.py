"""Cross-site request forgery: a state-changing request that rides the session cookie must come
from the portal's own pages.

Every request with a method other than GET, HEAD or OPTIONS (the sign-in form, sign-out, Dash's
`/_dash-update-component`, the JSON API, any form added later) is refused with 403 when the
browser says it comes from another site:

* `Sec-Fetch-Site` (sent by every current browser on every request) must be `same-origin` (or
  `none`: the user typed or bookmarked it, which another site cannot cause);
* `Origin` (sent by browsers on every POST, same-origin included) must be the server's own
  origin, `scheme://host[:port]` as the request reached the app (behind a proxy: as ProxyFix
  restored it from `X-Forwarded-*`); the opaque `null` a sandboxed frame or a cross-site redirect
  sends is refused;
* otherwise `Referer`, when present, must be on the server's own origin.

A request with none of the three did not come from a browser, so it cannot carry a victim's
cookie without their script (curl and test clients send none). The session cookie is also
`SameSite=Lax`, so a cross-site POST does not carry it in the first place; the check holds even
where the browser does not honour that (older browsers, `same-site` subdomains).

Requests authenticated by an API token (`Authorization: Bearer`, loaded as a `via_token` user)
need no check: a browser never adds that header by itself, and a cross-site script cannot without
a CORS preflight, which the portal never answers.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Request, render_template, request
from flask_login import current_user

from selfcare.web.auth.context import is_data_path, json_error

log = logging.getLogger("selfcare.web.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
REFUSED = "cross-site request refused"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def origin_of(url: str) -> str | None:
    """`scheme://host:port` of an absolute http(s) URL (default port made explicit), else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return f"{scheme}://{parts.hostname.lower()}:{port or _DEFAULT_PORTS[scheme]}"


def cross_site_reason(req: Request) -> str | None:
    """Why the request looks cross-site (a short text for the log), or None when it does not."""
    own = origin_of(req.host_url)
    fetch_site = req.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.strip().lower() not in TRUSTED_FETCH_SITES:
        return f"Sec-Fetch-Site {fetch_site[:40]!r}"
    origin = req.headers.get("Origin")
    if origin is not None:
        if origin_of(origin) != own:  # "null" and anything unparsable are never our origin
            return f"Origin {origin[:100]!r}"
        return None
    referer = req.headers.get("Referer")
    if referer is not None and origin_of(referer) != own:
        return f"Referer from {origin_of(referer) or 'elsewhere'}"
    return None


def protect() -> Any:
    """The before-request hook: refuse a cross-site state-changing request (403)."""
    if request.method in SAFE_METHODS:
        return None
    user = current_user
    if user and getattr(user, "is_authenticated", False) and getattr(user, "via_token", False):
        return None
    reason = cross_site_reason(request)
    if reason is None:
        return None
    log.warning("refused %s %s: %s", request.method, request.path[:200], reason)
    if is_data_path(request.path):
        return json_error(403, REFUSED)
    text = "This form was sent from another site. Open the portal and try again."
    return render_template("error.html", title="Request refused", text=text), 403
