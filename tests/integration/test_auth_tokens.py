"""Personal API tokens: created on the API tokens page (secret shown once), accepted on
/export/* only, acting as their owner, refused after revocation, stored only as a hash."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.services import audit, tokens, users
from selfcare.web.app import create_app


class page:  # noqa: N801 - the page's component ids, as the browser sends them
    NAME = "api-tokens-name"
    CREATE = "api-tokens-create"
    CREATED = "api-tokens-created"
    TABLE = "api-tokens-table"
    REVOKE = "api-tokens-revoke"
    MESSAGE = "api-tokens-message"


OUTPUTS = [
    {"id": page.TABLE, "property": "children"},
    {"id": page.CREATED, "property": "children"},
    {"id": page.MESSAGE, "property": "children"},
    {"id": page.NAME, "property": "value"},
]
# Dash names a multi-output callback "..a.prop...b.prop.." (outputs joined by "...")
OUTPUT = ".." + "...".join(f"{o['id']}.{o['property']}" for o in OUTPUTS) + ".."


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return create_app(s)


def call(
    client,
    create_clicks=None,
    name=None,
    revoke: dict[int, int] | None = None,
    trigger: str | None = None,
    lifetime=90,
):
    body = {
        "output": OUTPUT,
        "outputs": OUTPUTS,
        "inputs": [
            {"id": page.CREATE, "property": "n_clicks", "value": create_clicks},
            [
                {"id": {"index": i, "type": page.REVOKE}, "property": "n_clicks", "value": n}
                for i, n in (revoke or {}).items()
            ],
        ],
        # the page's scope choice (issue 12), sent by the browser like every State
        "state": [
            {"id": page.NAME, "property": "value", "value": name},
            {"id": "api-tokens-scope", "property": "value", "value": "read"},
            {"id": "api-tokens-lifetime", "property": "value", "value": lifetime},
        ],
        "changedPropIds": [trigger] if trigger else [],
    }
    return client.post("/_dash-update-component", json=body)


def revoke_trigger(token_id: int) -> str:
    return json.dumps({"index": token_id, "type": page.REVOKE}, separators=(",", ":")) + ".n_clicks"


def token_rows(db):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("select * from api_tokens order by id")]
    finally:
        con.close()


def shown_secret(resp) -> str:
    """The secret in the element the page shows it in (id api-tokens-secret)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("id") == "api-tokens-secret":
                found.append(node["children"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(resp.json)
    assert len(found) == 1
    return found[0]


def test_token_lifecycle_through_the_page_and_the_export_route(app):
    db = app.config["SELFCARE_SETTINGS"].db
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    created = call(c, 1, "monthly extract", trigger=f"{page.CREATE}.n_clicks")
    assert created.status_code == 200
    secret = shown_secret(created)
    (row,) = token_rows(db)
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(row)

    # shown once: listing again never returns it
    listed = call(c).get_data(as_text=True)
    assert "monthly extract" in listed and secret not in listed and row["prefix"] in listed

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    resp = api.get("/export/no_such_report.csv", headers=bearer)
    assert resp.status_code != 401 and resp.status_code == 404
    assert token_rows(db)[0]["last_used_at"] is not None
    assert api.get_cookie("selfcare_session") is None  # a token never opens a session
    assert api.get("/export/no_such_report.csv").status_code == 401  # no token, no entry

    revoked = call(c, 1, None, revoke={row["id"]: 1}, trigger=revoke_trigger(row["id"]))
    assert revoked.status_code == 200 and "revoked" in revoked.get_data(as_text=True)
    assert token_rows(db)[0]["revoked_at"] is not None
    assert api.get("/export/no_such_report.csv", headers=bearer).status_code == 401


def test_token_acts_only_as_its_owner_and_dies_with_them(app):
    db = app.config["SELFCARE_SETTINGS"].db
    _, secret = tokens.create_token(db, ACCOUNTS["end_user"].email, "mine")
    bearer = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()
    assert api.get("/export/no_such_report.csv", headers=bearer).status_code == 404
    users.deactivate(db, ACCOUNTS["end_user"].email)
    assert api.get("/export/no_such_report.csv", headers=bearer).status_code == 401
    refused = [r for r in audit.list_audit(db) if r["event"] == "token_refused"]
    assert refused


def test_someone_elses_token_cannot_be_revoked_from_the_page(app):
    db = app.config["SELFCARE_SETTINGS"].db
    token_id, secret = tokens.create_token(db, ACCOUNTS["admin"].email, "admin's")
    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    resp = call(c, None, None, revoke={token_id: 1}, trigger=revoke_trigger(token_id))
    assert resp.status_code == 200 and "No such token" in resp.get_data(as_text=True)
    assert token_rows(db)[0]["revoked_at"] is None
    assert tokens.verify_token(db, secret) is not None
    # and the manager's list never shows the admin's token
    assert "admin's" not in call(c).get_data(as_text=True)


def test_token_page_callbacks_need_a_session(app):
    resp = call(app.test_client(), 1, "x", trigger=f"{page.CREATE}.n_clicks")
    assert resp.status_code == 401
    assert token_rows(app.config["SELFCARE_SETTINGS"].db) == []


def test_malformed_authorization_headers_are_refused(app):
    api = app.test_client()
    for header in ("Bearer", "Bearer ", "Basic abc", "bearer sc_nope", "Token sc_x"):
        resp = api.get("/export/no_such_report.csv", headers={"Authorization": header})
        assert resp.status_code == 401, header


@pytest.mark.parametrize("days", [30, 180, 365])
def test_lifetime_chosen_on_the_page(app, days):
    from datetime import UTC, datetime, timedelta

    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    before = datetime.now(UTC).replace(microsecond=0)
    resp = call(c, 1, "with a life", trigger=f"{page.CREATE}.n_clicks", lifetime=days)
    assert resp.status_code == 200
    (row,) = token_rows(app.config["SELFCARE_SETTINGS"].db)
    delta = datetime.fromisoformat(row["expires_at"]) - before
    assert timedelta(days=days) <= delta <= timedelta(days=days, minutes=5)


def test_a_forged_lifetime_gets_the_default(app):
    from datetime import UTC, datetime, timedelta

    c = app.test_client()
    sign_in(c, ACCOUNTS["manager"])
    before = datetime.now(UTC).replace(microsecond=0)
    resp = call(c, 1, "forged", trigger=f"{page.CREATE}.n_clicks", lifetime=100000)
    assert resp.status_code == 200
    (row,) = token_rows(app.config["SELFCARE_SETTINGS"].db)
    delta = datetime.fromisoformat(row["expires_at"]) - before
    assert timedelta(days=90) <= delta <= timedelta(days=90, minutes=5)


# --- the Administrator's view of the organisation's tokens --------------------------------------

ORG_OUTPUTS = [
    {"id": "api-tokens-org-table", "property": "children"},
    {"id": "api-tokens-org-message", "property": "children"},
]
ORG_OUTPUT = ".." + "...".join(f"{o['id']}.{o['property']}" for o in ORG_OUTPUTS) + ".."


def org_call(client, revoke: dict[int, int] | None = None):
    trigger = None
    if revoke:
        (token_id,) = revoke
        trigger = (
            json.dumps({"index": token_id, "type": "api-tokens-org-revoke"}, separators=(",", ":"))
            + ".n_clicks"
        )
    body = {
        "output": ORG_OUTPUT,
        "outputs": ORG_OUTPUTS,
        "inputs": [
            [
                {"id": {"index": i, "type": "api-tokens-org-revoke"}, "property": "n_clicks",
                 "value": n}
                for i, n in (revoke or {}).items()
            ],
            {"id": page.TABLE, "property": "children", "value": None},
        ],
        "changedPropIds": [trigger] if trigger else [],
    }  # fmt: skip
    return client.post("/_dash-update-component", json=body)


def _other_tenant_token(db):
    users.add_user(db, "someone@t2.test", "end_user", "T2", "E900", password=STRANGER_PASSWORD)
    return tokens.create_token(db, "someone@t2.test", "other organisation's")


STRANGER_PASSWORD = "quartz-meadow-lantern-91"  # noqa: S105 - a test account's password


def test_admin_lists_and_revokes_the_organisations_tokens(app):
    db = app.config["SELFCARE_SETTINGS"].db
    mine_id, mine = tokens.create_token(db, ACCOUNTS["manager"].email, "manager's extract")
    _, theirs = _other_tenant_token(db)
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    listed = org_call(c).get_data(as_text=True)
    assert "manager's extract" in listed and ACCOUNTS["manager"].email in listed
    assert "other organisation's" not in listed and "someone@t2.test" not in listed
    resp = org_call(c, revoke={mine_id: 1})
    assert resp.status_code == 200 and "is revoked" in resp.get_data(as_text=True)
    assert tokens.verify_token(db, mine) is None  # the manager's token stops working at once
    assert tokens.verify_token(db, theirs) is not None
    events = [r["event"] for r in audit.list_audit(db)]
    assert "admin_token_revoked" in events


def test_admin_cannot_revoke_another_organisations_token(app):
    db = app.config["SELFCARE_SETTINGS"].db
    theirs_id, theirs = _other_tenant_token(db)
    c = app.test_client()
    sign_in(c, ACCOUNTS["admin"])
    resp = org_call(c, revoke={theirs_id: 1})
    assert resp.status_code == 200 and "No such token" in resp.get_data(as_text=True)
    assert tokens.verify_token(db, theirs) is not None


@pytest.mark.parametrize("who", ["manager", "end_user"])
def test_only_an_admin_reaches_the_organisations_tokens(app, who):
    db = app.config["SELFCARE_SETTINGS"].db
    admin_id, admin_secret = tokens.create_token(db, ACCOUNTS["admin"].email, "admin's")
    c = app.test_client()
    sign_in(c, ACCOUNTS[who])
    for resp in (org_call(c), org_call(c, revoke={admin_id: 1})):
        assert resp.status_code in (403, 404)
        assert "admin's" not in resp.get_data(as_text=True)
    assert tokens.verify_token(db, admin_secret) is not None
