"""Methods are explicit: a walk over every route of the real app with every HTTP method.

A handler may change state or check a password only on a method it declared; HEAD is GET (and
so must change nothing). Regression for the penetration test's `HEAD /login` with a form body,
which checked the password, signed in and was never throttled.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import re
import sqlite3

import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.web.app import create_app

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
SAMPLE = {"path": "overview", "report": "spend_by_cost_centre", "filename": "x.js"}


@pytest.fixture
def settings(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return s


@pytest.fixture
def app(settings):
    return create_app(settings)


def state(db) -> tuple:
    """Everything a handler could change: audit rows, users' sessions, attempts, tokens."""
    con = sqlite3.connect(db)
    try:
        return (
            con.execute("select count(*), max(id) from audit").fetchone(),
            tuple(con.execute("select id, session_version, active, role from users order by id")),
            con.execute("select count(*) from login_attempts").fetchone(),
            tuple(con.execute("select id, revoked_at from api_tokens order by id")),
        )
    finally:
        con.close()


def concrete(rule) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLE.get(m.group(1), "x"), rule.rule)


def undeclared(rule, app) -> list[str]:
    """The methods a route must not act on: HEAD always (it is a GET), and any that no rule of
    the same path declares (GET /logout shows a page, POST /logout signs out: two rules)."""
    declared = {m for r in app.url_map.iter_rules() if r.rule == rule.rule
                for m in (r.methods or ())} - {"HEAD", "OPTIONS"}
    return [m for m in METHODS if m == "HEAD" or m not in declared]


def test_every_route_declares_only_read_or_post(app):
    for rule in app.url_map.iter_rules():
        assert rule.methods, rule.rule
        assert set(rule.methods) <= {"GET", "HEAD", "OPTIONS", "POST"}, rule.rule


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_no_handler_acts_on_a_method_it_did_not_declare(app, settings, signed_in):
    admin = ACCOUNTS["admin"]
    body = {"email": admin.email, "password": admin.password, "next": "/overview"}
    checked = 0
    for rule in app.url_map.iter_rules():
        path = concrete(rule)
        for method in undeclared(rule, app):
            client = app.test_client()
            if signed_in:
                assert sign_in(client, ACCOUNTS["manager"]).status_code == 303
            before = state(settings.db)
            resp = client.open(path, method=method, data=body)
            assert resp.status_code < 500, (method, path)
            assert state(settings.db) == before, (method, path)
            cookies = " ".join(resp.headers.getlist("Set-Cookie"))
            if not signed_in:
                assert "selfcare_session=" not in cookies, (method, path)
                assert client.get("/_dash-layout").status_code == 401, (method, path)
            checked += 1
    assert checked > 30


def test_head_login_with_the_right_password_never_signs_in(app, settings):
    admin = ACCOUNTS["admin"]
    c = app.test_client()
    resp = c.head("/login", data={"email": admin.email, "password": admin.password})
    assert resp.status_code == 200
    assert "selfcare_session=" not in " ".join(resp.headers.getlist("Set-Cookie"))
    assert c.get("/_dash-layout").status_code == 401


def test_head_login_is_not_a_way_round_the_throttle(app, settings):
    victim = ACCOUNTS["end_user"]
    for i in range(5):
        assert sign_in(app.test_client(), victim, f"wrong guess {i}").status_code == 401
    assert sign_in(app.test_client(), victim).status_code == 429
    c = app.test_client()
    c.head("/login", data={"email": victim.email, "password": victim.password})
    assert c.get("/_dash-layout").status_code == 401
