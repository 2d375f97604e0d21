"""Sign-in, sessions, throttling, the default-deny guard and security headers for the portal.

Everything here runs on the Flask server under Dash, so it covers every route Dash adds
(`/_dash-layout`, `/_dash-dependencies`, `/_dash-update-component`, ...), the CSV exports and
anything added later. By concern:

* `secret`: the session signing key (SELFCARE_SECRET_KEY or a generated 0600 file)
* `login`: the login page and views, throttling of failures, the session and token loaders
* `guard`: default deny, which pages a profile may open, where it lands
* `csrf`: cross-site state-changing requests refused (Origin / Sec-Fetch-Site / Referer)
* `callbacks`: `roles_required`, the re-check every Dash callback carries (row scope is the
  gate's job)
* `headers`: CSP and the other security headers
* `errors`: plain error pages and JSON errors, never a stack trace
* `context`: what they share (settings, database, client address, kinds of path)

The login and error pages are templates (`selfcare/web/templates/`). The names other modules
imported from the single `auth` module are re-exported here.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_login import LoginManager

from selfcare.config import Settings
from selfcare.roles import ROLES, TENANT_ROLES
from selfcare.services import schema
from selfcare.web.auth import csrf
from selfcare.web.auth.callbacks import roles_required
from selfcare.web.auth.context import (
    DATA_PREFIXES,
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    TOKEN_PREFIXES,
    app_db,
    app_settings,
    is_data_path,
    is_public_path,
    safe_next,
)
from selfcare.web.auth.errors import ERROR_TEXT, install_error_handlers
from selfcare.web.auth.guard import (
    DEFAULT_LANDING,
    LANDING,
    PAGE_ENDPOINTS,
    guard,
    landing_page,
    page_for_path,
    pages_for,
)
from selfcare.web.auth.headers import content_security_policy, install_headers
from selfcare.web.auth.login import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    FAILED_MESSAGE,
    THROTTLED_MESSAGE,
    install_login,
    login_page,
    login_view,
    logout_page,
    logout_view,
    session_user,
    token_user,
)
from selfcare.web.auth.secret import (
    MIN_SECRET,
    SECRET_FILE,
    WEAK_SECRETS,
    ConfigError,
    resolve_secret_key,
)

SESSION_LIFETIME = timedelta(hours=8)

__all__ = [
    "ACCOUNT_LIMIT",
    "ADDRESS_LIMIT",
    "DATA_PREFIXES",
    "DEFAULT_LANDING",
    "ERROR_TEXT",
    "FAILED_MESSAGE",
    "LANDING",
    "MIN_SECRET",
    "PAGE_ENDPOINTS",
    "PUBLIC_PATHS",
    "PUBLIC_PREFIXES",
    "ROLES",
    "SECRET_FILE",
    "SESSION_LIFETIME",
    "TENANT_ROLES",
    "THROTTLED_MESSAGE",
    "TOKEN_PREFIXES",
    "WEAK_SECRETS",
    "ConfigError",
    "app_db",
    "app_settings",
    "content_security_policy",
    "csrf",
    "guard",
    "init_auth",
    "install_error_handlers",
    "install_headers",
    "is_data_path",
    "is_public_path",
    "landing_page",
    "login_page",
    "login_view",
    "logout_page",
    "logout_view",
    "page_for_path",
    "pages_for",
    "resolve_secret_key",
    "roles_required",
    "safe_next",
]


def init_auth(server: Flask, settings: Settings) -> None:
    """Install sessions, login/logout, throttling, the guard and error pages on the server.

    Also readies the portal database: an empty one is migrated; one behind the code is refused
    (SchemaError naming `selfcare db upgrade`), before anything is served.
    """
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
    schema.ensure_ready(settings.database)

    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)
    manager.user_loader(session_user)
    manager.request_loader(token_user)

    install_login(server)  # throttled in the portal's database (services.throttle)
    # Signing out changes state: POST only (the shell's button); GET shows a page with that button.
    server.add_url_rule("/logout", "logout", logout_view, methods=["POST"])
    server.add_url_rule("/logout", "logout_page", logout_page, methods=["GET"])
    # Before the guard: a cross-site POST is refused whoever it claims to be (login CSRF too).
    server.before_request(csrf.protect)
    server.before_request(guard)
    install_error_handlers(server)
