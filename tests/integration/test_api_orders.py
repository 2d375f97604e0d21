"""The JSON API against the real services (SQLite, the small generated lake): lines as the raw
export files say, orders placed, approved, rejected and cancelled, and an access matrix over every
write endpoint and every profile, with the expected answer computed here from the raw HR and
line-register CSVs (never from the code under test)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

PROFILES = ["admin", "finance", "manager", "end_user", "analyst", "admin2"]
WRITES = ["approve", "reject", "cancel"]


def latest(folder: Path, kind: str) -> pd.DataFrame:
    """The newest snapshot of a reference file, read with pandas."""
    files = sorted(p for p in folder.iterdir() if p.name.startswith(kind + "_"))
    return pd.read_csv(files[-1], dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def clients(flask_app, people):
    out = {}
    for profile in PROFILES:
        c = flask_app.test_client()
        p = people[profile]
        resp = c.post("/login", data={"email": p.email, "password": p.password})
        assert resp.status_code == 303, profile
        out[profile] = c
    return out


@pytest.fixture(scope="module")
def estate_now(raw):
    lines = latest(raw.folder, "lines")
    services = latest(raw.folder, "line_services")
    return lines, services


@pytest.fixture(scope="module")
def own_lines(people, estate_now):
    """The end user's active lines, each with whether it has IDD (the order toggles it)."""
    lines, services = estate_now
    me = people["end_user"]
    mine = lines[(lines.employee_id == me.employee_id) & (lines.status == "ACTIVE")]
    assert len(mine), "the test estate gives the end user an active line"
    return list(mine.msisdn)


def toggle_idd(estate_now, msisdn: str) -> dict:
    _, services = estate_now
    has = ((services.msisdn == msisdn) & (services.service_code == "IDD")).any()
    return {
        "action": "remove_service" if has else "add_service",
        "msisdns": [msisdn],
        "params": {"service_code": "IDD"},
        "reason": "api test",
    }


def all_pages(client, path: str, key: str) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        resp = client.get(path + (f"?cursor={cursor}" if cursor else "?limit=200"))
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        items += resp.json[key]
        cursor = resp.json["next"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


# --- lines --------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["admin", "finance", "manager", "end_user", "admin2"])
def test_lines_are_the_viewers_lines(clients, raw, people, estate_now, profile):
    p = people[profile]
    visible = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    lines, _ = estate_now
    active = set(lines[(lines.status == "ACTIVE") & lines.msisdn.isin(visible)].msisdn)
    got = all_pages(clients[profile], "/api/v1/lines", "lines")
    msisdns = [line["msisdn"] for line in got]
    assert len(msisdns) == len(set(msisdns))  # no line twice across pages
    assert active <= set(msisdns) <= visible
    for line in got:
        assert {"msisdn", "employee_id", "plan_code", "status", "services"} <= set(line)
        assert all(s["state"] in ("active", "pending_add", "pending_remove")
                   for s in line["services"])


def test_a_lines_services_are_the_snapshots(clients, people, estate_now):
    lines, services = estate_now
    admin = people["admin"]
    # a line of the tenant nobody orders on in these tests: the admin's view of it
    pool = lines[(lines.tenant_id == admin.tenant_id) & (lines.status == "ACTIVE")
                 & (lines.employee_id != people["end_user"].employee_id)]
    msisdn = sorted(pool.msisdn)[0]
    resp = clients["admin"].get(f"/api/v1/lines/{msisdn}")
    assert resp.status_code == 200
    expected = set(services[services.msisdn == msisdn].service_code)
    got = {s["code"] for s in resp.json["services"] if s["state"] == "active"}
    assert got == expected
    assert resp.json["plan_code"] == lines[lines.msisdn == msisdn].plan_code.iloc[0]


@pytest.mark.parametrize("profile", ["end_user", "manager", "admin2"])
def test_a_line_out_of_scope_is_404(clients, raw, people, estate_now, profile):
    p = people[profile]
    lines, _ = estate_now
    visible = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    foreign = sorted(set(lines.msisdn) - visible)[0]
    resp = clients[profile].get(f"/api/v1/lines/{foreign}")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert clients[profile].get("/api/v1/lines/27999999999").status_code == 404


# --- one order's life ---------------------------------------------------------------------------


def place(clients, estate_now, own_lines, index: int = 0) -> dict:
    body = toggle_idd(estate_now, own_lines[index % len(own_lines)])
    resp = clients["end_user"].post("/api/v1/orders", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    out = resp.json
    assert {"id", "reference", "state", "lines"} <= set(out)
    assert out["state"] == "pending_approval"
    assert [(line["msisdn"], line["state"]) for line in out["lines"]] == [
        (body["msisdns"][0], "pending_approval")
    ]
    return out


def test_place_approve_and_a_second_approval_is_409(clients, estate_now, own_lines):
    order = place(clients, estate_now, own_lines)
    path = f"/api/v1/orders/{order['id']}"
    mine = clients["end_user"].get("/api/v1/orders?mine=true").json["orders"]
    assert order["id"] in [o["id"] for o in mine]
    waiting = clients["admin"].get("/api/v1/orders?awaiting_me=true").json["orders"]
    assert order["id"] in [o["id"] for o in waiting]
    ok = clients["admin"].post(path + "/approve", json={"comment": "fine"})
    assert ok.status_code == 200 and ok.json["state"] == "approved"
    again = clients["admin"].post(path + "/approve", json={})
    assert again.status_code == 409 and again.json["type"].endswith("/conflict")
    assert clients["admin"].post(path + "/reject", json={"reason": "late"}).status_code == 409
    detail = clients["end_user"].get(path).json
    assert [e["event"] for e in detail["timeline"]][:2] == ["create", "approve"]


def test_reject_and_cancel(clients, estate_now, own_lines):
    order = place(clients, estate_now, own_lines, 1)
    path = f"/api/v1/orders/{order['id']}"
    resp = clients["admin"].post(path + "/reject", json={"reason": "not this month"})
    assert resp.status_code == 200 and resp.json["state"] == "rejected"
    assert clients["end_user"].post(path + "/cancel").status_code == 409
    other = place(clients, estate_now, own_lines, 2)
    resp = clients["end_user"].post(f"/api/v1/orders/{other['id']}/cancel")
    assert resp.status_code == 200 and resp.json["state"] == "cancelled"


def test_an_order_id_out_of_scope_is_404_like_a_missing_one(clients, estate_now, own_lines):
    order = place(clients, estate_now, own_lines)
    for profile in ("admin2", "analyst"):
        resp = clients[profile].get(f"/api/v1/orders/{order['id']}")
        assert resp.status_code == 404, profile
    missing = clients["admin"].get("/api/v1/orders/99999999")
    foreign = clients["admin2"].get(f"/api/v1/orders/{order['id']}")
    assert missing.status_code == foreign.status_code == 404
    assert missing.json["detail"] == foreign.json["detail"]
    clients["end_user"].post(f"/api/v1/orders/{order['id']}/cancel")


def test_unknown_action_and_bad_params_name_the_field(clients, estate_now, own_lines):
    body = toggle_idd(estate_now, own_lines[0])
    resp = clients["end_user"].post("/api/v1/orders", json={**body, "action": "teleport"})
    assert resp.status_code == 400 and resp.json["field"] == "action"
    resp = clients["end_user"].post("/api/v1/orders", json={**body, "params": {}})
    assert resp.status_code == 400 and resp.json["field"] == "service_code"


# --- the access matrix --------------------------------------------------------------------------


def expected_create(raw, people, profile: str, msisdn: str) -> set[int]:
    p = people[profile]
    owner = people["end_user"].employee_id
    visible = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    if p.role == "admin" and msisdn in visible:
        return {201}
    if p.role == "end_user" and p.employee_id == owner:
        return {201}
    if p.role == "manager" and msisdn in visible:  # the line's owner is in the chain
        return {201}
    if p.role == "analyst":
        return {403, 404}
    return {403} if msisdn in visible else {404}


def expected_write(raw, people, profile: str, action: str, msisdn: str) -> set[int]:
    """For an order the end user placed on their own line (needs the manager step only)."""
    p = people[profile]
    requester = people["end_user"]
    same_tenant = p.tenant_id == requester.tenant_id
    chain = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    sees = same_tenant and (
        p.role in ("admin", "finance") or profile == "end_user"
        or (p.role == "manager" and msisdn in chain)
    )
    if not sees:
        return {404}
    if action == "cancel":
        return {200} if profile == "end_user" else {403}
    if profile == "end_user":
        return {403}  # nobody approves or rejects their own order
    if p.role == "admin" or (p.role == "manager" and msisdn in chain):
        return {200}
    return {403}  # finance: the manager step comes first


@pytest.mark.parametrize("profile", PROFILES)
def test_access_matrix_create(clients, raw, people, estate_now, own_lines, profile):
    body = toggle_idd(estate_now, own_lines[0])
    resp = clients[profile].post("/api/v1/orders", json=body)
    assert resp.status_code in expected_create(raw, people, profile, own_lines[0]), (
        profile, resp.status_code, resp.get_data(as_text=True)[:300])
    if resp.status_code == 201:
        oid = resp.json["id"]
        if resp.json["state"] == "pending_approval":
            assert clients[profile].post(f"/api/v1/orders/{oid}/cancel").status_code == 200


@pytest.mark.parametrize("action", WRITES)
@pytest.mark.parametrize("profile", PROFILES)
def test_access_matrix_decisions(clients, raw, people, estate_now, own_lines, profile, action):
    order = place(clients, estate_now, own_lines)
    body = {"reason": "matrix"} if action == "reject" else {}
    resp = clients[profile].post(f"/api/v1/orders/{order['id']}/{action}", json=body)
    expected = expected_write(raw, people, profile, action, own_lines[0])
    assert resp.status_code in expected, (profile, action, resp.get_data(as_text=True)[:300])
    if resp.status_code != 200:
        state = clients["end_user"].get(f"/api/v1/orders/{order['id']}").json["state"]
        assert state == "pending_approval"  # a refusal changed nothing
        clients["end_user"].post(f"/api/v1/orders/{order['id']}/cancel")
