"""Sign-in, sessions, throttling, the default-deny guard and security headers for the portal.

Everything here runs on the Flask server under Dash, so it covers every route Dash adds
(`/_dash-layout`, `/_dash-dependencies`, `/_dash-update-component`, ...), the CSV exports and
anything added later. The rules:

* public: the login page, `/healthz`, static bundles (`/_dash-component-suites/*`, `/assets/*`,
  the favicon). Everything else needs a signed-in user; anonymous data requests get 401 JSON,
  anonymous page requests a redirect to `/login?next=...`.
* a page answers 403 unless the user's role is in the `roles=` it registered with
  (`dash.register_page(..., roles=(...))`); a page without `roles` is open to nobody.
* callbacks re-check with `@roles_required(...)` (the guard cannot see which page a callback
  belongs to); row scope is the gate's job.
* `/export/*` also accepts `Authorization: Bearer <token>` (a personal API token acting as its
  owner); no other route does.

Sessions are Flask's signed cookies holding "<user id>:<session version>"; the user is reloaded
from SQLite on every request and refused when inactive or when the version moved on (logout,
password change, deactivation). Failed logins are throttled per account and per address with
Flask-Limiter, counting only failures (`deduct_when`).
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import dash
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
)
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.exceptions import HTTPException

from selfcare import store
from selfcare.config import Settings

log = logging.getLogger(__name__)

ROLES = store.ROLES
TENANT_ROLES = store.TENANT_ROLES
LANDING = {"analyst": "/growth"}  # everyone else lands on /overview
DEFAULT_LANDING = "/overview"

# Failed sign-ins allowed before the account (whatever address tries it) or the address (whatever
# accounts it tries) is refused for a while. The address limit is higher because a whole office
# may share one public address.
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "30 per 15 minutes"

SESSION_LIFETIME = timedelta(hours=8)
MIN_SECRET = 32
SECRET_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
# Values people paste from examples; refused in production whatever their length.
WEAK_SECRETS = {
    "changeme",
    "change-me",
    "secret",
    "secret-key",
    "secretkey",
    "dev",
    "development",
    "default",
    "selfcare",
    "password",
    "test",
    "insecure",
}

PUBLIC_PATHS = frozenset({"/login", "/healthz", "/_favicon.ico", "/favicon.ico"})
PUBLIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
# Anonymous requests here get 401 JSON (a redirect would hand an HTML page to a script).
DATA_PREFIXES = ("/_", "/export/", "/api/")
TOKEN_PREFIXES = ("/export/",)
PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})  # Dash's index and catch-all routes

FAILED_MESSAGE = "The email or password is not correct."
THROTTLED_MESSAGE = "Too many sign-in attempts. Wait a few minutes and try again."


class ConfigError(RuntimeError):
    """The app must not start with this configuration (one line says why)."""


# --- the secret key ---------------------------------------------------------------------------


def _weak(key: str) -> bool:
    return (
        len(key) < MIN_SECRET
        or key.strip().lower() in WEAK_SECRETS
        or len(set(key)) < 4  # "xxxxxxxx..." is long but guessable
    )


def resolve_secret_key(settings: Settings) -> str:
    """SELFCARE_SECRET_KEY if set (and strong in production), else a key generated once and kept
    in a 0600 file beside the database. Never a key from the code."""
    key = settings.secret_key
    if key is not None:
        if _weak(key):
            if settings.production:
                raise ConfigError(
                    f"SELFCARE_SECRET_KEY is too weak: use at least {MIN_SECRET} random "
                    "characters (or unset it to use the generated key stored beside the database)"
                )
            log.warning("SELFCARE_SECRET_KEY is weak; acceptable only in development")
        return key
    path = Path(settings.db).parent / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        log.info("generated a session key in %s", path)
    if settings.production and path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} is readable by other users; run: chmod 600 {path}")
    stored = path.read_text().strip()
    if _weak(stored):
        raise ConfigError(f"{path} holds a weak key; delete it to generate a new one")
    return stored


# --- small helpers ----------------------------------------------------------------------------


def app_settings() -> Settings:
    return current_app.config["SELFCARE_SETTINGS"]


def _db() -> Path:
    return app_settings().db


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


def landing_page(user: Any) -> str | None:
    """The first page a profile sees: the documented landing if registered for it, else its
    first page in menu order, else None (no pages at all)."""
    pages = pages_for(user.role)
    wanted = LANDING.get(user.role, DEFAULT_LANDING)
    if any(p["path"] == wanted for p in pages):
        return wanted
    return pages[0]["path"] if pages else None


def pages_for(role: str) -> list[dict[str, Any]]:
    """The registered pages a role may open, in menu order."""
    pages = [p for p in dash.page_registry.values() if role in (p.get("roles") or ())]
    return sorted(pages, key=lambda p: (p.get("order") is None, p.get("order") or 0, p["path"]))


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


def _client_ip() -> str:
    return get_remote_address() or "-"


def _json_error(status: int, message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


# --- the role check for callbacks -------------------------------------------------------------


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Re-check the viewer's role on every call of a Dash callback (or any view).

    Place it under `@dash.callback(...)`. Not signed in → 401, signed in but another profile
    → 403, via `flask.abort`, so the callback body never runs for them.
    """
    allowed = frozenset(roles)
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user
            if user is None or not getattr(user, "is_authenticated", False):
                abort(401)
            if getattr(user, "via_token", False) or user.role not in allowed:
                abort(403)
            return func(*args, **kwargs)

        return wrapper

    return decorate


# --- the login page ---------------------------------------------------------------------------

LOGIN_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · SelfCare</title>
<link rel="stylesheet" href="/assets/selfcare.css">
</head>
<body class="login-body">
<main class="login-card">
  <div class="brand brand-large"><span class="brand-mark">S</span>SelfCare</div>
  <p class="login-lead">Mobile spend and usage for your company.</p>
  {% if message %}<div class="alert alert-error" role="alert">{{ message }}</div>{% endif %}
  <form method="post" action="/login{% if next %}?{{ next_query }}{% endif %}" class="login-form">
    <label for="email">Work email</label>
    <input id="email" name="email" type="email" autocomplete="username" required
           maxlength="254" value="{{ email }}" {% if not email %}autofocus{% endif %}>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password"
           required maxlength="1024" {% if email %}autofocus{% endif %}>
    <button type="submit" class="btn btn-primary btn-block">Sign in</button>
  </form>
  <p class="login-foot">Forgotten your password? Ask your company's portal administrator.</p>
</main>
</body>
</html>"""


def login_page(message: str = "", email: str = "", next_target: str | None = None) -> str:
    return render_template_string(
        LOGIN_HTML,
        message=message,
        email=email,
        next=next_target,
        next_query=urlencode({"next": next_target or ""}),
    )


def _throttled(limit: RequestLimit) -> Response:
    """Flask-Limiter's breach hook: audit it and answer with the login page, status 429."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    store.audit(_db(), "throttled", email=email or None, ip=_client_ip(), detail=str(limit.limit))
    nxt = safe_next(request.args.get("next"))
    return Response(login_page(THROTTLED_MESSAGE, email, nxt), status=429, mimetype="text/html")


def _account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _address_key() -> str:
    return "address:" + _client_ip()


def _failed(response: Response) -> bool:
    return response.status_code == 401


def login_view() -> Any:
    nxt = safe_next(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt or "/")
        return login_page(next_target=nxt)
    email = (request.form.get("email") or "")[:254]
    password = request.form.get("password") or ""
    db = _db()
    user = store.authenticate(db, email, password)
    if user is None:
        store.audit(db, "login_failed", email=email.strip().lower() or None, ip=_client_ip())
        return login_page(FAILED_MESSAGE, email, nxt), 401
    # A fresh session: nothing from before the login (session fixation) survives it.
    session.clear()
    login_user(user)
    session.permanent = True
    store.audit(db, "login", email=user.email, user_id=user.id, ip=_client_ip())
    return redirect(nxt or "/", code=303)


def logout_view() -> Any:
    user = current_user
    if user.is_authenticated:
        # Moving the session version on ends this session and every other copy of its cookie.
        store.end_sessions(_db(), user.id)
        store.audit(_db(), "logout", email=user.email, user_id=user.id, ip=_client_ip())
    logout_user()
    session.clear()
    return redirect("/login", code=303)


# --- the guard --------------------------------------------------------------------------------


def guard() -> Any:
    """Deny by default: runs before every request the server handles."""
    path = request.path
    if is_public_path(path):
        return None
    user = current_user
    if not user or not user.is_authenticated:
        if is_data_path(path) or request.method not in ("GET", "HEAD"):
            return _json_error(401, "sign in required")
        target = request.full_path.rstrip("?")
        query = urlencode({"next": target}) if safe_next(target) and path != "/logout" else ""
        return redirect("/login" + ("?" + query if query else ""))
    if getattr(user, "via_token", False) and not path.startswith(TOKEN_PREFIXES):
        return _json_error(401, "API tokens are accepted on /export/ only")
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


def _token_user(req: Any) -> Any:
    """flask-login's request loader: API tokens, on export routes only."""
    if not req.path.startswith(TOKEN_PREFIXES):
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    user = store.verify_token(_db(), secret.strip())
    if user is None:
        store.audit(_db(), "token_refused", ip=_client_ip(), detail=req.path[:200])
    return user


# --- headers and errors -----------------------------------------------------------------------


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


ERROR_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · SelfCare</title>
<link rel="stylesheet" href="/assets/selfcare.css"></head>
<body class="login-body"><main class="login-card">
<div class="brand brand-large"><span class="brand-mark">S</span>SelfCare</div>
<h1 class="error-title">{{ title }}</h1><p>{{ text }}</p>
<p><a class="btn btn-primary" href="/">Back to the portal</a></p>
</main></body></html>"""

ERROR_TEXT = {
    401: ("Sign in required", "Please sign in to continue."),
    403: ("Not available", "This page is not part of your profile."),
    404: ("Not found", "There is no such page."),
    405: ("Not allowed", "That method is not allowed here."),
    429: ("Too many requests", "Please wait a moment and try again."),
    500: ("Something went wrong", "The portal could not complete the request. Try again later."),
}


def install_error_handlers(server: Flask) -> None:
    """Plain messages for every error: never a stack trace, JSON for data routes."""

    def render(status: int) -> Any:
        title, text = ERROR_TEXT.get(status, ("Error", "The request could not be completed."))
        if is_data_path(request.path):
            return _json_error(status, text)
        return render_template_string(ERROR_HTML, title=title, text=text), status

    @server.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        if e.code is None or e.code < 400:
            return e
        if e.code == 429 and e.response is not None:
            return e.response  # the throttled login page
        return render(e.code)

    @server.errorhandler(Exception)
    def server_error(e: Exception) -> Any:
        log.exception("unhandled error on %s", request.path)
        return render(500)


# --- wiring -----------------------------------------------------------------------------------


def init_auth(server: Flask, settings: Settings) -> Limiter:
    """Install sessions, login/logout, throttling, the guard, headers' config on the server."""
    server.secret_key = resolve_secret_key(settings)
    server.config.update(
        SELFCARE_SETTINGS=settings,
        SESSION_COOKIE_NAME="selfcare_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # We never set a remember-me cookie; if one ever is, it is locked down and short-lived.
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.https,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(hours=8),
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
    )
    store.init_db(settings.db)

    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)
    manager.user_loader(lambda session_id: store.load_session_user(_db(), session_id))
    manager.request_loader(_token_user)

    limiter = Limiter(
        key_func=get_remote_address,
        app=server,
        storage_uri="memory://",  # one waitress process: in-memory counters are shared by all
        strategy="moving-window",
    )
    view = login_view
    for limit, key in ((ACCOUNT_LIMIT, _account_key), (ADDRESS_LIMIT, _address_key)):
        view = limiter.limit(
            limit,
            key_func=key,
            methods=["POST"],
            deduct_when=_failed,
            on_breach=_throttled,
            scope=f"login-{key.__name__.strip('_')}",
        )(view)
    server.add_url_rule("/login", "login", view, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", logout_view, methods=["GET"])
    server.before_request(guard)
    install_error_handlers(server)
    return limiter
