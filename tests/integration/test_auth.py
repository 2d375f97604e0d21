"""Sign-in, sessions, throttling, cookies, the secret key and audit, through Flask's test client
on the real app (temp SQLite database, empty lake)."""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import sqlite3
import stat
from urllib.parse import urlsplit

import dash
import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in
from flask_login import login_user
from werkzeug.exceptions import Forbidden, Unauthorized

from selfcare.roles import ROLE_NAMES
from selfcare.services import users
from selfcare.web import auth
from selfcare.web.app import create_app

COOKIE = "selfcare_session"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return s


@pytest.fixture
def app(settings):
    return create_app(settings)


def audit_events(db, event=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        sql = "select * from audit" + (" where event = ?" if event else "") + " order by id"
        return [dict(r) for r in con.execute(sql, (event,) if event else ())]
    finally:
        con.close()


def limit_count(limit: str) -> int:
    return int(limit.split()[0])


# --- sign-in --------------------------------------------------------------------------------


def test_good_login_redirects_and_opens_data_routes(app, settings):
    c = app.test_client()
    assert c.get("/_dash-layout").status_code == 401
    resp = sign_in(c, ACCOUNTS["admin"])
    assert resp.status_code == 303
    assert c.get("/_dash-layout").status_code == 200
    (row,) = audit_events(settings.db, "login")
    assert row["email"] == "admin@t1.test" and row["ip"] == "127.0.0.1" and row["user_id"]


def test_wrong_password_and_unknown_user_get_the_same_answer(app, settings):
    c = app.test_client()
    wrong = sign_in(c, ACCOUNTS["admin"], password="not the password at all")
    unknown = c.post("/login", data={"email": "nobody@t1.test", "password": "whatever it is"})
    assert wrong.status_code == unknown.status_code == 401
    assert auth.FAILED_MESSAGE.encode() in wrong.data
    # same page apart from the echoed email
    assert wrong.data.replace(b"admin@t1.test", b"").replace(b"Admin@T1.test", b"") == (
        unknown.data.replace(b"nobody@t1.test", b"")
    )
    assert COOKIE not in " ".join(wrong.headers.getlist("Set-Cookie"))
    assert c.get("/_dash-layout").status_code == 401
    failed = audit_events(settings.db, "login_failed")
    assert [r["email"] for r in failed] == ["admin@t1.test", "nobody@t1.test"]


def test_login_form_escapes_the_echoed_email(app):
    c = app.test_client()
    resp = c.post("/login", data={"email": '"><script>alert(1)</script>', "password": "x" * 12})
    assert resp.status_code == 401
    assert b"<script>alert(1)" not in resp.data


def test_logout_is_audited_and_ends_the_session(app, settings):
    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    resp = c.post("/logout")  # issue 13: sign-out is a POST (GET no longer signs out)
    assert resp.status_code in (302, 303) and resp.headers["Location"].endswith("/login")
    assert c.get("/_dash-layout").status_code == 401
    assert [r["email"] for r in audit_events(settings.db, "logout")] == ["manager@t1.test"]


# --- sessions end for real ------------------------------------------------------------------


def _captured_cookie(app, account):
    c = app.test_client()
    sign_in(c, account)
    cookie = c.get_cookie(COOKIE)
    assert cookie is not None
    return c, cookie.value


def _replay(app, value):
    c = app.test_client()
    c.set_cookie(COOKIE, value)
    return c.get("/_dash-layout")


def test_cookie_captured_before_logout_is_refused_after_it(app):
    c, value = _captured_cookie(app, ACCOUNTS["admin"])
    assert _replay(app, value).status_code == 200
    c.post("/logout")  # issue 13: sign-out is a POST
    assert _replay(app, value).status_code == 401


def test_deactivated_user_is_refused_at_once(app, settings):
    c, _ = _captured_cookie(app, ACCOUNTS["end_user"])
    assert c.get("/_dash-layout").status_code == 200
    users.deactivate(settings.db, ACCOUNTS["end_user"].email)
    assert c.get("/_dash-layout").status_code == 401
    assert sign_in(app.test_client(), ACCOUNTS["end_user"]).status_code == 401


def test_password_change_invalidates_old_sessions(app, settings):
    c, value = _captured_cookie(app, ACCOUNTS["manager"])
    users.set_password(settings.db, ACCOUNTS["manager"].email, "a brand new passphrase")
    assert c.get("/_dash-layout").status_code == 401
    assert _replay(app, value).status_code == 401
    fresh = app.test_client()
    assert sign_in(fresh, ACCOUNTS["manager"], password="a brand new passphrase").status_code == 303


def tenant_only_page():
    pages = [p for p in dash.page_registry.values() if "analyst" not in (p.get("roles") or ())]
    assert pages, "expected at least one page closed to the analyst"
    return pages[0]["path"]


def nav_paths(client) -> list[str]:
    """The page paths in the navigation bar of the served layout."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            ident = node.get("id")
            if isinstance(ident, dict) and ident.get("type") == "app-nav":
                found.append(ident["path"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(client.get("/_dash-layout").json)
    return found


def test_navigation_shows_each_profile_only_its_pages(app):
    for name, account in ACCOUNTS.items():
        c = app.test_client()
        sign_in(c, account)
        expected = {
            p["path"]
            for p in dash.page_registry.values()
            if account.role in p.get("roles", ()) and not p.get("path_template")
        }
        assert set(nav_paths(c)) == expected, name
        body = c.get("/_dash-layout").get_data(as_text=True)
        assert account.email.lower() in body and ROLE_NAMES[account.role] in body


def test_role_change_applies_at_once(app, settings):
    c, _ = _captured_cookie(app, ACCOUNTS["admin"])
    path = tenant_only_page()
    assert c.get(path).status_code == 200
    assert path in nav_paths(c)
    users.set_role(settings.db, ACCOUNTS["admin"].email, "analyst")
    assert c.get(path).status_code == 403
    assert path not in nav_paths(c)


def test_user_with_an_unknown_role_sees_nothing(app, settings):
    c, _ = _captured_cookie(app, ACCOUNTS["admin"])
    con = sqlite3.connect(settings.db)
    with con:
        con.execute("update users set role = 'superuser'")
    con.close()
    assert c.get("/_dash-layout").status_code == 401
    assert c.get("/api-tokens").status_code == 302


# --- pages and callbacks ---------------------------------------------------------------------


def test_forbidden_page_typed_answers_403(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["analyst"])
    assert c.get(tenant_only_page()).status_code == 403
    assert c.get("/api-tokens").status_code == 200
    assert c.get("/no-such-page").status_code == 404


def test_root_redirects_to_the_profile_landing_page(app):
    for name in ("admin", "end_user", "analyst"):
        c = app.test_client()
        sign_in(c, ACCOUNTS[name])
        resp = c.get("/")
        assert resp.status_code == 302
        target = resp.headers["Location"]
        page = auth.page_for_path(target)
        assert page is not None and ACCOUNTS[name].role in page["roles"]
        expected = "/growth" if name == "analyst" else "/overview"
        if auth.page_for_path(expected):
            assert target == expected


def test_roles_required_rechecks_every_call(app, settings):
    calls = []

    @auth.roles_required("finance", "admin")
    def callback(x):
        calls.append(x)
        return x

    with app.test_request_context("/_dash-update-component", method="POST"):
        with pytest.raises(Unauthorized):
            callback(1)
    admin = users.find_user(settings.db, ACCOUNTS["admin"].email)
    manager = users.find_user(settings.db, ACCOUNTS["manager"].email)
    with app.test_request_context("/_dash-update-component", method="POST"):
        login_user(manager)
        with pytest.raises(Forbidden):
            callback(2)
    with app.test_request_context("/_dash-update-component", method="POST"):
        login_user(admin)
        assert callback(3) == 3
    assert calls == [3]
    with pytest.raises(ValueError):
        auth.roles_required("root")


# --- next= ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("//evil.com", id="protocol-relative"),
        pytest.param("https://evil.com", id="absolute"),
        pytest.param("/\\evil.com", id="backslash"),
        pytest.param("\\\\evil.com", id="double-backslash"),
        pytest.param("/\t/evil.com", id="tab"),
        pytest.param("http:/evil.com", id="scheme-no-slashes"),
        pytest.param("javascript:alert(1)", id="javascript"),
    ],
)
def test_next_never_leaves_the_app(app, target):
    c = app.test_client()
    resp = sign_in(c, ACCOUNTS["admin"], query_string={"next": target})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    parts = urlsplit(location)
    assert not parts.netloc and not parts.scheme
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location


def test_next_within_the_app_is_followed(app):
    c = app.test_client()
    resp = sign_in(c, ACCOUNTS["admin"], query_string={"next": "/api-tokens?x=1"})
    assert resp.headers["Location"] == "/api-tokens?x=1"


def test_anonymous_page_request_redirects_with_next(app):
    resp = app.test_client().get("/api-tokens?tab=2")
    assert resp.status_code == 302
    parts = urlsplit(resp.headers["Location"])
    assert parts.path == "/login" and "next=%2Fapi-tokens%3Ftab%3D2" in parts.query


# --- throttling -------------------------------------------------------------------------------


def test_throttling_per_account(app, settings):
    victim = ACCOUNTS["end_user"]
    n = limit_count(auth.ACCOUNT_LIMIT)
    for i in range(n):  # each failure from a different address: only the account counts
        addr = {"REMOTE_ADDR": f"10.1.0.{i + 1}"}
        resp = sign_in(app.test_client(), victim, f"wrong guess number {i}", environ_base=addr)
        assert resp.status_code == 401
    c = app.test_client()
    fresh = {"REMOTE_ADDR": "10.1.1.1"}
    blocked = sign_in(c, victim, environ_base=fresh)  # even the right password, fresh address
    assert blocked.status_code == 429
    assert auth.THROTTLED_MESSAGE.encode() in blocked.data
    assert c.get("/_dash-layout").status_code == 401
    # other accounts are unaffected
    assert sign_in(app.test_client(), ACCOUNTS["manager"], environ_base=fresh).status_code == 303
    throttled = audit_events(settings.db, "throttled")
    assert throttled and throttled[0]["email"] == victim.email


def test_throttling_per_address(app, settings):
    n = limit_count(auth.ADDRESS_LIMIT)
    attacker = {"REMOTE_ADDR": "192.0.2.66"}
    for i in range(n):  # a different (unknown) account every time: only the address counts
        resp = app.test_client().post(
            "/login",
            data={"email": f"guess{i}@t1.test", "password": "x" * 12},
            environ_base=attacker,
        )
        assert resp.status_code == 401
    assert sign_in(app.test_client(), ACCOUNTS["admin"], environ_base=attacker).status_code == 429
    other = {"REMOTE_ADDR": "192.0.2.67"}
    assert sign_in(app.test_client(), ACCOUNTS["admin"], environ_base=other).status_code == 303
    assert any(r["ip"] == "192.0.2.66" for r in audit_events(settings.db, "throttled"))


def test_successful_logins_are_not_counted(app):
    n = limit_count(auth.ACCOUNT_LIMIT)
    for _ in range(n + 2):
        c = app.test_client()
        assert sign_in(c, ACCOUNTS["admin"]).status_code == 303


# --- cookies and headers ----------------------------------------------------------------------


def test_session_cookie_flags(app):
    c = app.test_client()
    resp = sign_in(c, ACCOUNTS["admin"])
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    flags = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in header.lower().replace(" ", "")
    assert "secure" not in flags  # plain http in this configuration
    assert "remember_token" not in " ".join(resp.headers.getlist("Set-Cookie"))


def test_session_cookie_secure_with_https(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch, SELFCARE_HTTPS="1")
    add_accounts(s.db)
    app = create_app(s)
    c = app.test_client()
    resp = sign_in(c, ACCOUNTS["admin"], base_url="https://localhost")
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    assert "secure" in {p.strip().lower() for p in header.split(";")}
    assert "httponly" in header.lower()
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_security_headers_everywhere(app):
    c = app.test_client()
    for path in ("/login", "/healthz", "/_dash-layout"):
        h = c.get(path).headers
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "'sha256-" in script_src


def test_dash_index_inline_scripts_are_allowed_by_the_csp(app):
    import base64
    import hashlib
    import re

    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    resp = c.get("/api-tokens")
    # scripts inside conditional comments (<!--[if IE]>) never run in a current browser
    html = re.sub(r"<!--.*?-->", "", resp.get_data(as_text=True), flags=re.S)
    csp = resp.headers["Content-Security-Policy"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.S)
    executable = [body for attrs, body in inline if "application/json" not in attrs]
    assert executable
    for body in executable:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_errors_show_no_stack_trace(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    resp = c.post("/_dash-update-component", json={"garbage": True})
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body
    assert resp.is_json and "error" in resp.json


def test_healthz(app, settings):
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}  # issue 13: no lake version for anonymous callers
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    assert c.get("/healthz").json == {"status": "ok", "lake_version": 0}


# --- the secret key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("too-short-secret", id="short"),
        pytest.param("x" * 64, id="one-character"),
        pytest.param("changeme", id="default"),
    ],
)
def test_refuses_to_start_with_a_weak_explicit_secret_in_production(tmp_path, monkeypatch, secret):
    s = portal_settings(tmp_path, monkeypatch, SELFCARE_SECRET_KEY=secret)
    with pytest.raises(auth.ConfigError) as e:
        create_app(s)
    assert "\n" not in str(e.value) and "SELFCARE_SECRET_KEY" in str(e.value)


def test_cli_serve_refuses_weak_secret_with_one_line(tmp_path, monkeypatch, capsys):
    from selfcare.cli import main

    portal_settings(tmp_path, monkeypatch, SELFCARE_SECRET_KEY="short")
    assert main(["serve", "--port", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SELFCARE_SECRET_KEY" in err


def test_short_secret_allowed_in_development(tmp_path, monkeypatch):
    s = portal_settings(
        tmp_path, monkeypatch, SELFCARE_SECRET_KEY="dev", SELFCARE_ENV="development"
    )
    assert create_app(s).secret_key == "dev"


def test_generated_key_is_stored_privately_and_reused(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch, SELFCARE_SECRET_KEY=None)
    add_accounts(s.db)
    first = create_app(s)
    key_file = s.db.parent / auth.SECRET_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 32
    assert first.secret_key == key_file.read_text().strip()
    c, value = _captured_cookie(first, ACCOUNTS["admin"])
    second = create_app(s)  # a restart: same key, sessions survive
    assert second.secret_key == first.secret_key
    assert _replay(second, value).status_code == 200


def test_readable_generated_key_refused_in_production(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch, SELFCARE_SECRET_KEY=None)
    create_app(s)
    key_file = s.db.parent / auth.SECRET_FILE
    key_file.chmod(0o644)
    with pytest.raises(auth.ConfigError, match="chmod 600"):
        create_app(s)
