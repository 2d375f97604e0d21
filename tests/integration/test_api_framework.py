"""The JSON API's framework, without orders: problem details for every status it can answer
before a service is reached (400 naming the field, 401, 403 read-only token, 404, 405), token
scopes (page and CLI), the OpenAPI document and the locally served docs page."""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import json

import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.cli import main as cli_main
from selfcare.services import tokens
from selfcare.web.app import create_app

PROBLEM = "application/problem+json"
MEMBERS = {"type", "title", "status", "detail"}


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return create_app(s)


def db_of(app) -> str:
    return app.config["SELFCARE_SETTINGS"].db


def bearer(app, account="admin", scope="read") -> dict[str, str]:
    _, secret = tokens.create_token(db_of(app), ACCOUNTS[account].email, "t", scope=scope)
    return {"Authorization": f"Bearer {secret}"}


def assert_problem(resp, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.mimetype == PROBLEM
    body = resp.json
    assert MEMBERS <= set(body) and body["status"] == status
    assert body["type"].startswith("/api/v1/problems/") and body["title"] and body["detail"]
    if field is not None:
        assert body["field"] == field, body
    return body


GOOD = {"action": "add_service", "msisdns": ["27820000001"], "params": {"service_code": "ROAM"},
        "reason": "travel"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({k: v for k, v in GOOD.items() if k != "action"}, "action", id="no-action"),
        pytest.param({k: v for k, v in GOOD.items() if k != "reason"}, "reason", id="no-reason"),
        pytest.param({**GOOD, "reason": ""}, "reason", id="empty-reason"),
        pytest.param({**GOOD, "msisdns": []}, "msisdns", id="no-lines"),
        pytest.param({**GOOD, "msisdns": "27820000001"}, "msisdns", id="lines-not-a-list"),
        pytest.param({**GOOD, "msisdns": ["0820000001x"]}, "msisdns.0", id="bad-msisdn"),
        pytest.param({**GOOD, "msisdns": ["٢٧٨٢٠٠٠٠٠٠١"]}, "msisdns.0", id="unicode-digits"),
        pytest.param({**GOOD, "action": "Add Service"}, "action", id="bad-action-code"),
        pytest.param({**GOOD, "params": {"service_code": 5}}, "params", id="param-not-text"),
        pytest.param({**GOOD, "requester_id": 1}, "requester_id", id="unknown-field"),
        pytest.param({**GOOD, "actor": "admin@t1.test"}, "actor", id="actor-in-body"),
        pytest.param([GOOD], "body", id="not-an-object"),
    ],
)
def test_bad_order_bodies_are_400_naming_the_field(app, body, field):
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    got = assert_problem(c.post("/api/v1/orders", json=body), 400)
    assert got["field"].split(".")[0] == field.split(".")[0], got
    if "." in field:
        assert got["field"] == field


def test_malformed_json_is_a_400_not_a_500(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    resp = c.post("/api/v1/orders", data="{not json", content_type="application/json")
    assert_problem(resp, 400, "body")


def test_reject_needs_a_reason(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    assert_problem(c.post("/api/v1/orders/1/reject", json={}), 400, "reason")


@pytest.mark.parametrize(
    "query",
    ["state=done", "limit=0", "limit=100000", "awaiting_me=perhaps", "msisdn=abc", "colour=red"],
)
def test_bad_query_strings_are_400(app, query):
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    assert_problem(c.get("/api/v1/orders?" + query), 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/lines"), ("GET", "/api/v1/orders/1"), ("POST", "/api/v1/orders"),
     ("POST", "/api/v1/orders/1/approve"), ("GET", "/api/v1/openapi.json")],
)
def test_anonymous_is_401_problem(app, method, path):
    assert_problem(app.test_client().open(path, method=method, json={}), 401)


def test_unknown_api_paths_and_methods_are_problems(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    assert_problem(c.get("/api/v1/no-such-thing"), 404)
    assert_problem(c.get("/api/v1/orders/not-a-number"), 404)
    assert_problem(c.delete("/api/v1/orders"), 405)


@pytest.mark.parametrize(
    "path", ["/api/v1/orders", "/api/v1/orders/1/approve", "/api/v1/orders/1/reject",
             "/api/v1/orders/1/cancel"],
)
def test_a_read_token_cannot_write(app, path):
    resp = app.test_client().post(path, json=GOOD, headers=bearer(app, scope="read"))
    body = assert_problem(resp, 403)
    assert "read-only" in body["detail"]


def test_a_token_is_still_refused_outside_export_and_api(app):
    resp = app.test_client().get("/_dash-layout", headers=bearer(app, scope="write"))
    assert resp.status_code == 401


def test_a_write_token_passes_the_scope_check(app):
    resp = app.test_client().post("/api/v1/orders", json={}, headers=bearer(app, scope="write"))
    assert_problem(resp, 400)  # reached validation: the scope check let it through


def test_existing_tokens_stay_read_only(app):
    token_id, _ = tokens.create_token(db_of(app), ACCOUNTS["admin"].email, "old")
    (row,) = tokens.list_tokens(db_of(app), ACCOUNTS["admin"].email)
    assert row["id"] == token_id and row["scope"] == "read"


# --- OpenAPI and the docs page -----------------------------------------------------------------


def test_openapi_document_is_served_to_sessions_and_tokens(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["end_user"])
    doc = c.get("/api/v1/openapi.json")
    assert doc.status_code == 200 and doc.json["openapi"].startswith("3.")
    by_token = app.test_client().get("/api/v1/openapi.json", headers=bearer(app, "end_user"))
    assert by_token.status_code == 200 and by_token.json == doc.json
    paths = doc.json["paths"]
    for path, methods in {
        "/api/v1/lines": {"get"},
        "/api/v1/lines/{msisdn}": {"get"},
        "/api/v1/orders": {"get", "post"},
        "/api/v1/orders/{order_id}": {"get"},
        "/api/v1/orders/{order_id}/approve": {"post"},
        "/api/v1/orders/{order_id}/reject": {"post"},
        "/api/v1/orders/{order_id}/cancel": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    create = paths["/api/v1/orders"]["post"]
    assert "201" in create["responses"] and "400" in create["responses"]
    schemas = doc.json["components"]["schemas"]
    assert {"action", "msisdns", "reason"} <= set(schemas["OrderCreate"]["required"])
    assert schemas["Problem"]["properties"].keys() >= MEMBERS
    assert "409" in paths["/api/v1/orders/{order_id}/approve"]["post"]["responses"]


def test_docs_page_and_its_assets_are_served_locally(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    page = c.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "https://" not in html and "http://" not in html
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "selfcare-docs.js"):
        assert f"/api/v1/docs/assets/{asset}" in html
        resp = c.get(f"/api/v1/docs/assets/{asset}")
        assert resp.status_code == 200 and len(resp.data) > 100, asset
    assert "/api/v1/openapi.json" in c.get("/api/v1/docs/assets/selfcare-docs.js").get_data(
        as_text=True
    )
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert c.get("/api/v1/docs/assets/index.html").status_code == 404
    assert c.get("/api/v1/docs/assets/..%2F__init__.py").status_code == 404
    assert app.test_client().get("/api/v1/docs").status_code == 401


# --- choosing the scope: the page and the CLI --------------------------------------------------


def _create_call(name: str, scope: str | None):
    state = [{"id": "api-tokens-name", "property": "value", "value": name}]
    if scope is not None:
        state.append({"id": "api-tokens-scope", "property": "value", "value": scope})
    else:  # a browser always sends every State: an absent one is the page's default
        state.append({"id": "api-tokens-scope", "property": "value", "value": None})
    state.append({"id": "api-tokens-lifetime", "property": "value", "value": 90})
    return {
        "output": "..api-tokens-table.children...api-tokens-created.children..."
        "api-tokens-message.children...api-tokens-name.value..",
        "outputs": [
            {"id": "api-tokens-table", "property": "children"},
            {"id": "api-tokens-created", "property": "children"},
            {"id": "api-tokens-message", "property": "children"},
            {"id": "api-tokens-name", "property": "value"},
        ],
        "inputs": [{"id": "api-tokens-create", "property": "n_clicks", "value": 1}, []],
        "state": state,
        "changedPropIds": ["api-tokens-create.n_clicks"],
    }


@pytest.mark.parametrize(
    ("chosen", "stored"),
    [("write", "write"), ("read", "read"), ("admin", "read"), ("", "read")],
)
def test_the_tokens_page_creates_the_chosen_scope(app, chosen, stored):
    c = app.test_client()
    sign_in(c, ACCOUNTS["end_user"])
    resp = c.post("/_dash-update-component", json=_create_call("cron", chosen))
    assert resp.status_code == 200
    (row,) = tokens.list_tokens(db_of(app), ACCOUNTS["end_user"].email)
    assert row["scope"] == stored
    shown = json.dumps(resp.json)
    assert ("read and write" if stored == "write" else "read only") in shown


def test_the_tokens_page_offers_the_scope_choice(app):
    c = app.test_client()
    sign_in(c, ACCOUNTS["end_user"])
    layout = c.get("/_dash-layout")
    assert layout.status_code == 200
    from selfcare.web.pages import api_tokens

    text = json.dumps(api_tokens.layout().to_plotly_json(), default=str)
    assert "api-tokens-scope" in text and "Read and write" in text


@pytest.mark.parametrize(("flag", "scope"), [([], "read"), (["--write"], "write")])
def test_cli_tokens_create_takes_write(app, capsys, flag, scope):
    db = db_of(app)
    email = ACCOUNTS["manager"].email
    code = cli_main(["tokens", "--db", str(db), "create", "--email", email, "--name", "n", *flag])
    assert code == 0
    out = capsys.readouterr().out
    secret = out.split(": ", 1)[1].split()[0]
    user = tokens.verify_token(db, secret)
    assert user is not None and user.token_scope == scope
    cli_main(["tokens", "--db", str(db), "list", "--email", email])
    assert scope in capsys.readouterr().out


def test_too_many_writes_are_429_with_retry_after(app):
    from selfcare.web.api.register import WRITE_LIMIT

    limit = WRITE_LIMIT.count
    c = app.test_client()
    headers = bearer(app, "manager", scope="write")
    answers = [c.post("/api/v1/orders", json={}, headers=headers).status_code
               for _ in range(limit + 1)]
    assert answers[:limit] == [400] * limit
    body = assert_problem(c.post("/api/v1/orders", json={}, headers=headers), 429)
    assert "too many" in body["detail"]
    resp = c.post("/api/v1/orders", json={}, headers=headers)
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # reads are not counted, and another user is not throttled
    assert c.get("/api/v1/openapi.json", headers=headers).status_code == 200
    other = bearer(app, "admin", scope="write")
    assert c.post("/api/v1/orders", json={}, headers=other).status_code == 400
