"""Security headers on every response: CSP (Dash's inline scripts by hash), framing, caching."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, request

from selfcare.web.auth.context import is_public_path


def content_security_policy(script_hashes: list[str]) -> str:
    # Plotly and Dash components set inline style attributes, so styles need 'unsafe-inline';
    # scripts do not: Dash's inline scripts are allowed by hash only.
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def install_headers(server: Flask, csp: Callable[[], str]) -> None:
    https = server.config["SELFCARE_SETTINGS"].https

    @server.after_request
    def security_headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", csp())
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if https:
            h["Strict-Transport-Security"] = "max-age=31536000"
        if not is_public_path(request.path) or request.path == "/login":
            # Personal data: never kept by a shared cache or the browser's back-forward cache.
            h["Cache-Control"] = "no-store"
        return response
