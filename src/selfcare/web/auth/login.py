"""Signing in and out: the login page (templates/login.html), throttling of failed attempts, the
session and API-token user loaders.

Sessions are Flask's signed cookies holding "<user id>:<session version>"; the user is reloaded
from the database on every request and refused when inactive or when the version moved on
(logout, password change, deactivation). Failed logins are throttled per account and per address
with Flask-Limiter, counting only failures (`deduct_when`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, render_template, request, session
from flask_limiter import RequestLimit
from flask_login import current_user, login_user, logout_user

from selfcare.services import audit, tokens, users
from selfcare.web.auth.context import TOKEN_PREFIXES, app_db, client_ip, safe_next

# Failed sign-ins allowed before the account (whatever address tries it) or the address (whatever
# accounts it tries) is refused for a while. The address limit is higher because a whole office
# may share one public address.
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "30 per 15 minutes"

FAILED_MESSAGE = "The email or password is not correct."
THROTTLED_MESSAGE = "Too many sign-in attempts. Wait a few minutes and try again."


def login_page(message: str = "", email: str = "", next_target: str | None = None) -> str:
    return render_template(
        "login.html",
        message=message,
        email=email,
        next=next_target,
        next_query=urlencode({"next": next_target or ""}),
    )


def throttled(limit: RequestLimit) -> Response:
    """Flask-Limiter's breach hook: audit it and answer with the login page, status 429."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    audit.audit(app_db(), "throttled", email=email or None, ip=client_ip(), detail=str(limit.limit))
    nxt = safe_next(request.args.get("next"))
    return Response(login_page(THROTTLED_MESSAGE, email, nxt), status=429, mimetype="text/html")


def account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def address_key() -> str:
    return "address:" + client_ip()


def failed(response: Response) -> bool:
    return response.status_code == 401


def login_view() -> Any:
    nxt = safe_next(request.args.get("next") or request.form.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt or "/")
        return login_page(next_target=nxt)
    email = (request.form.get("email") or "")[:254]
    password = request.form.get("password") or ""
    db = app_db()
    user = users.authenticate(db, email, password)
    if user is None:
        audit.audit(db, "login_failed", email=email.strip().lower() or None, ip=client_ip())
        return login_page(FAILED_MESSAGE, email, nxt), 401
    # A fresh session: nothing from before the login (session fixation) survives it.
    session.clear()
    login_user(user)
    session.permanent = True
    audit.audit(db, "login", email=user.email, user_id=user.id, ip=client_ip())
    return redirect(nxt or "/", code=303)


def logout_page() -> Any:
    """GET /logout signs nobody out (a link or an image from another site could): it shows the
    sign-out button, which POSTs from this origin."""
    if not current_user.is_authenticated:
        return redirect("/login")
    return render_template("logout.html", email=current_user.email)


def logout_view() -> Any:
    """POST /logout (the shell's sign-out button; cross-site POSTs are refused by `csrf`)."""
    user = current_user
    if user.is_authenticated:
        # Moving the session version on ends this session and every other copy of its cookie.
        users.sign_out(app_db(), user.id, ip=client_ip())
    logout_user()
    session.clear()
    return redirect("/login", code=303)


def session_user(session_id: str) -> Any:
    """flask-login's user loader: the session cookie's user, if its version is still current."""
    return users.load_session_user(app_db(), session_id)


def token_user(req: Any) -> Any:
    """flask-login's request loader: API tokens, on the export routes and the JSON API only."""
    if not req.path.startswith(TOKEN_PREFIXES):
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    user = tokens.verify_token(app_db(), secret.strip())
    if user is None:
        audit.audit(app_db(), "token_refused", ip=client_ip(), detail=req.path[:200])
    return user
