"""Signing in and out: the login page (templates/login.html), throttling of failed attempts, the
session and API-token user loaders.

Sessions are Flask's signed cookies holding "<user id>:<session version>"; the user is reloaded
from the database on every request and refused when inactive or when the version moved on
(logout, password change, deactivation). Failed logins are throttled per account and per address
by `selfcare.services.throttle` (a moving window in the portal's database, reserved atomically
before the password is checked, so concurrency cannot get more than the limit through and every
server process shares the counters).

Methods are explicit: `/login` is GET (and so HEAD, which Werkzeug answers like GET) and POST.
Only POST checks a password; any other method renders the page and never signs anyone in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, render_template, request, session
from flask_login import current_user, login_user, logout_user

from selfcare.services import audit, throttle, tokens, users
from selfcare.web.auth.context import TOKEN_PREFIXES, app_db, client_ip, safe_next

# Failed sign-ins allowed before the account (whatever address tries it) or the address (whatever
# accounts it tries) is refused for a while. The address limit is higher because a whole office
# may share one public address.
ACCOUNT_LIMIT = "5 per 15 minutes"
ADDRESS_LIMIT = "30 per 15 minutes"
# The only methods /login answers; the only one that checks a password is POST.
LOGIN_METHODS = ("GET", "POST")

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


def parse_limit(limit: str) -> throttle.Limit:
    """ "5 per 15 minutes" -> Limit(5, 900)."""
    count, _, window = limit.split(" ", 2)
    n, unit = window.split(" ")
    seconds = {"second": 1, "minute": 60, "hour": 3600}[unit.rstrip("s")]
    return throttle.Limit(int(count), int(n) * seconds)


def throttled(email: str, limit: throttle.Limit, retry_after: int) -> Response:
    """A refused attempt: audited, answered with the login page, status 429 and Retry-After."""
    audit.audit(app_db(), "throttled", email=email or None, ip=client_ip(), detail=str(limit))
    nxt = safe_next(request.args.get("next"))
    resp = Response(login_page(THROTTLED_MESSAGE, email, nxt), status=429, mimetype="text/html")
    resp.headers["Retry-After"] = str(int(retry_after))
    return resp


def account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def address_key() -> str:
    return "address:" + client_ip()


def login_view() -> Any:
    nxt = safe_next(request.args.get("next") or request.form.get("next"))
    if request.method != "POST":
        # GET and HEAD (Werkzeug answers HEAD with the GET view): never a sign-in, whatever body.
        if current_user.is_authenticated:
            return redirect(nxt or "/")
        return login_page(next_target=nxt)
    email = (request.form.get("email") or "")[:254]
    password = request.form.get("password") or ""
    db = app_db()
    keys = [
        (account_key(), parse_limit(ACCOUNT_LIMIT)),
        (address_key(), parse_limit(ADDRESS_LIMIT)),
    ]
    reserved, breached, retry_after = throttle.reserve(db, keys)
    if reserved is None or breached is not None:
        return throttled(email.strip().lower(), breached or keys[0][1], retry_after)
    user = users.authenticate(db, email, password)
    if user is None:
        audit.audit(db, "login_failed", email=email.strip().lower() or None, ip=client_ip())
        return login_page(FAILED_MESSAGE, email, nxt), 401
    throttle.release(db, reserved)  # only failures count
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


def install_login(server: Flask) -> None:
    """The /login route, with its methods spelled out."""
    server.add_url_rule("/login", "login", login_view, methods=list(LOGIN_METHODS))


def logout_view() -> Any:
    """POST /logout (the shell's sign-out button; cross-site POSTs are refused by `csrf`)."""
    user = current_user
    if request.method == "HEAD":
        return redirect("/login", code=303)  # HEAD is a GET that changes nothing: no sign-out
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
