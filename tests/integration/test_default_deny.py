"""Deny by default: every route the server has, requested anonymously, answers 401 (data) or a
redirect to the login page (pages); only the login page, /healthz and static bundles are public.

The walk goes over `server.url_map` itself, so a route added later (by Dash, a page or a
blueprint) is covered without touching this test.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import dash
import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.services import tokens
from selfcare.web.app import create_app

PUBLIC_ENDPOINTS = {
    "login",
    "healthz",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
    "_dash_assets.static",
    "/_favicon.ico",
}
SAMPLES = {
    "package_name": "dash",
    "fingerprinted_path": "dash-renderer/build/dash_renderer.v4_4_1m1.min.js",
    "path": "overview",
    "report": "top_numbers",
    "filename": "selfcare.css",
    # the JSON API's (issue 12)
    "msisdn": "27820000001",
    "order_id": "1",
    "reference": "TCK-000001",
    "name": "swagger-ui.css",
}
DATA_POSTS = ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies")
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


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return create_app(s)


def _url(rule) -> str:
    def sub(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        return SAMPLES[name]

    return re.sub(r"<([^>]+)>", sub, rule.rule)


def _requests(app):
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method, _url(rule)
    for page in dash.page_registry.values():
        yield None, "GET", page["path"]


def _assert_denied(resp, method: str, url: str) -> None:
    where = f"{method} {url}"
    if resp.status_code in (301, 302, 303, 307, 308):
        location = urlsplit(resp.headers["Location"])
        assert location.path == "/login", where
    else:
        assert resp.status_code in (401, 405), f"{where} answered {resp.status_code}"
        if resp.status_code == 401 and url.startswith("/api/"):
            # the JSON API answers RFC 9457 problem details (issue 12)
            assert resp.mimetype == "application/problem+json", where
            assert set(resp.json) == {"type", "title", "status", "detail"}, where
        elif resp.status_code == 401:
            assert resp.is_json and set(resp.json) == {"error"}, where


def test_every_route_is_denied_to_anonymous_requests(app):
    c = app.test_client()
    checked = 0
    for rule, method, url in _requests(app):
        resp = c.open(url, method=method, json={} if method == "POST" else None)
        if rule is not None and rule.endpoint in PUBLIC_ENDPOINTS:
            continue  # public by design: asserted below
        _assert_denied(resp, method, url)
        checked += 1
    assert checked >= 10


def test_dash_data_endpoints_answer_401_to_anonymous_posts(app):
    c = app.test_client()
    for path in DATA_POSTS:
        resp = c.post(path, json=PERIODS_CALL)
        assert resp.status_code in (401, 405), path
        if resp.status_code == 401:
            assert resp.json == {"error": "sign in required"}
    for path in ("/_dash-layout", "/_dash-dependencies", "/_reload-hash"):
        assert app.test_client().get(path).status_code == 401


def test_only_login_healthz_and_static_bundles_are_public(app):
    c = app.test_client()
    assert c.get("/login").status_code == 200
    assert c.get("/healthz").status_code == 200
    assert c.get("/assets/selfcare.css").status_code == 200
    assert c.get("/_favicon.ico").status_code == 200
    index = c.get("/login")  # a login page with no data, no Dash config
    assert b"_dash-config" not in index.data
    # a script bundle referenced by the app shell is served to anyone (it holds no data)
    sign_in(c, ACCOUNTS["admin"])
    html = c.get("/api-tokens").get_data(as_text=True)
    bundle = re.search(r'src="(/_dash-component-suites/[^"]+)"', html).group(1)
    assert app.test_client().get(bundle).status_code == 200


def test_bearer_tokens_are_refused_outside_exports(app):
    db = app.config["SELFCARE_SETTINGS"].db
    _, secret = tokens.create_token(db, ACCOUNTS["admin"].email, "ci")
    auth = {"Authorization": f"Bearer {secret}"}
    c = app.test_client()
    for path in ("/_dash-layout", "/_dash-dependencies", "/api/anything"):
        assert c.get(path, headers=auth).status_code == 401, path
    assert c.post("/_dash-update-component", json=PERIODS_CALL, headers=auth).status_code == 401
    resp = c.get("/api-tokens", headers=auth)
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"
    # and the token request never opened a session
    assert c.get_cookie("selfcare_session") is None


def test_signed_in_user_gets_the_data_endpoints(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    assert c.get("/_dash-layout").status_code == 200
    assert c.get("/_dash-dependencies").status_code == 200
    resp = c.post("/_dash-update-component", json=PERIODS_CALL)
    assert resp.status_code == 200
    # the empty lake: no periods, no default
    assert resp.json["response"]["app-period-from"] == {"options": [], "value": None}
