"""Cross-site state-changing requests are refused (issue 12 "Security of state-changing
requests", issue 13 "Login and logout are not cross-site"): POST /login, POST /logout, Dash's
callback endpoint, the tokens page's writes and the JSON API's writes with a session cookie
answer 403 when the browser says they come from another site; same-origin requests and
token-authenticated API calls go through. GET /logout signs nobody out."""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import sqlite3

import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.services import tokens
from selfcare.web.app import create_app
from selfcare.web.auth import csrf

OWN = "http://localhost"  # Flask's test client talks to http://localhost
EVIL = "https://evil.example"
CROSS_SITE = [
    pytest.param({"Origin": EVIL}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="opaque-origin"),
    pytest.param({"Origin": "http://localhost:8050"}, id="other-port"),
    pytest.param({"Origin": "https://localhost"}, id="other-scheme"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="fetch-same-site-subdomain"),
    pytest.param({"Referer": EVIL + "/page"}, id="foreign-referer"),
    pytest.param({"Origin": OWN, "Sec-Fetch-Site": "cross-site"}, id="origin-but-cross-fetch"),
]
SAME_SITE = [
    pytest.param({"Origin": OWN}, id="own-origin"),
    pytest.param({"Origin": "http://LOCALHOST:80"}, id="own-origin-default-port"),
    pytest.param({"Origin": OWN, "Sec-Fetch-Site": "same-origin"}, id="own-origin-fetch"),
    pytest.param({"Referer": OWN + "/login"}, id="own-referer"),
    pytest.param({}, id="no-browser-headers"),
]
PERIODS_CALL = {
    "output": "..app-period-from.options...app-period-from.value..."
    "app-period-to.options...app-period-to.value..",
    "outputs": [
        {"id": "app-period-from", "property": "options"},
        {"id": "app-period-from", "property": "value"},
        {"id": "app-period-to", "property": "options"},
        {"id": "app-period-to", "property": "value"},
    ],
    "inputs": [{"id": "app-shell", "property": "id", "value": "app-shell"}],
    "changedPropIds": [],
}
TOKEN_CREATE_CALL = {
    "output": "..api-tokens-table.children...api-tokens-created.children..."
    "api-tokens-message.children...api-tokens-name.value..",
    "outputs": [
        {"id": "api-tokens-table", "property": "children"},
        {"id": "api-tokens-created", "property": "children"},
        {"id": "api-tokens-message", "property": "children"},
        {"id": "api-tokens-name", "property": "value"},
    ],
    "inputs": [{"id": "api-tokens-create", "property": "n_clicks", "value": 1}, []],
    "state": [
        {"id": "api-tokens-name", "property": "value", "value": "planted"},
        {"id": "api-tokens-scope", "property": "value", "value": "write"},
        {"id": "api-tokens-lifetime", "property": "value", "value": 90},
    ],
    "changedPropIds": ["api-tokens-create.n_clicks"],
}


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return create_app(s)


def signed_in(app, account="manager"):
    c = app.test_client()
    assert sign_in(c, ACCOUNTS[account]).status_code == 303
    return c


def token_count(app) -> int:
    con = sqlite3.connect(app.config["SELFCARE_SETTINGS"].db)
    try:
        return con.execute("select count(*) from api_tokens").fetchone()[0]
    finally:
        con.close()


# --- the check itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost", "http://localhost:80"),
        ("https://Portal.Example:443/x?y", "https://portal.example:443"),
        ("http://portal:8050/", "http://portal:8050"),
        ("null", None),
        ("javascript:alert(1)", None),
        ("http://[::1", None),
        ("", None),
    ],
)
def test_origin_of_normalises_scheme_host_and_port(url, expected):
    assert csrf.origin_of(url) == expected


# --- sign-in and sign-out ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_login_is_refused_and_signs_nobody_in(app, headers):
    c = app.test_client()
    resp = sign_in(c, ACCOUNTS["admin"], headers=headers)
    assert resp.status_code == 403
    assert c.get_cookie("selfcare_session") is None
    assert c.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("headers", SAME_SITE)
def test_same_origin_login_works(app, headers):
    c = app.test_client()
    assert sign_in(c, ACCOUNTS["admin"], headers=headers).status_code == 303
    assert c.get("/_dash-layout").status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_logout_is_refused_and_the_session_lives_on(app, headers):
    c = signed_in(app)
    assert c.post("/logout", headers=headers).status_code == 403
    assert c.get("/_dash-layout").status_code == 200


def test_get_logout_signs_nobody_out_and_offers_the_button(app):
    c = signed_in(app)
    resp = c.get("/logout")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'method="post" action="/logout"' in page and ACCOUNTS["manager"].email in page
    assert c.get("/_dash-layout").status_code == 200  # still signed in
    out = c.post("/logout", headers={"Origin": OWN, "Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 303 and out.headers["Location"].endswith("/login")
    assert c.get("/_dash-layout").status_code == 401


def _nodes(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def test_the_shell_signs_out_with_a_post_form(app):
    c = signed_in(app)
    nodes = list(_nodes(c.get("/_dash-layout").json))
    forms = [n["props"] for n in nodes if n.get("type") == "Form"]
    assert [(f["method"], f["action"]) for f in forms] == [("POST", "/logout")]
    assert not [n for n in nodes if n.get("href") == "/logout"]  # no sign-out link any more


# --- Dash callbacks, the tokens page, the JSON API --------------------------------------------


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_dash_callback_is_refused(app, headers):
    c = signed_in(app)
    resp = c.post("/_dash-update-component", json=PERIODS_CALL, headers=headers)
    assert resp.status_code == 403
    same = c.post("/_dash-update-component", json=PERIODS_CALL, headers={"Origin": OWN})
    assert same.status_code == 200


def test_cross_site_token_creation_is_refused(app):
    c = signed_in(app)
    resp = c.post("/_dash-update-component", json=TOKEN_CREATE_CALL, headers={"Origin": EVIL})
    assert resp.status_code == 403 and token_count(app) == 0
    resp = c.post("/_dash-update-component", json=TOKEN_CREATE_CALL, headers={"Origin": OWN})
    assert resp.status_code == 200 and token_count(app) == 1


ORDER = {"action": "add_service", "msisdns": ["27820000001"], "params": {}, "reason": "x"}
API_WRITES = ["/api/v1/orders", "/api/v1/orders/1/approve", "/api/v1/orders/1/reject",
              "/api/v1/orders/1/cancel"]


@pytest.mark.parametrize("path", API_WRITES)
@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_api_write_with_a_cookie_is_refused_as_a_problem(app, path, headers):
    c = signed_in(app, "admin")
    resp = c.post(path, json=ORDER if path.endswith("orders") else {"reason": "r"},
                  headers=headers)
    assert resp.status_code == 403
    assert resp.mimetype == "application/problem+json"
    assert resp.json["status"] == 403 and resp.json["type"].endswith("/forbidden")


def test_token_authenticated_api_write_needs_no_origin(app):
    db = app.config["SELFCARE_SETTINGS"].db
    _, secret = tokens.create_token(db, ACCOUNTS["admin"].email, "script", scope="write")
    c = app.test_client()
    # a bad body: it got past the CSRF check and the scope check, to validation
    resp = c.post("/api/v1/orders", json={"msisdns": []},
                  headers={"Authorization": f"Bearer {secret}", "Origin": EVIL})
    assert resp.status_code == 400, resp.json
