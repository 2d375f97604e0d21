"""The JSON API's write paths against the running portal (`selfcare serve`, waitress): a hostile
client sends foreign order ids, foreign msisdns, another tenant's approvals and replayed
approvals; two approvers approve the same order at the same moment. Nothing may change an order
it should not, and a race has exactly one winner.

Who may see which line is computed with pandas from the raw export files (conftest's `raw`)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
import requests

from selfcare.services import users

pytestmark = pytest.mark.slow
TIMEOUT = 60


def latest(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if p.name.startswith(kind + "_"))
    return pd.read_csv(files[-1], dtype=str, keep_default_na=False)


def sign_in(base: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    resp = s.post(base + "/login", data={"email": email, "password": password},
                  allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code == 303, (email, resp.status_code)
    return s


@pytest.fixture(scope="module")
def estate_now(raw):
    return latest(raw.folder, "lines"), latest(raw.folder, "line_services")


@pytest.fixture(scope="module")
def own_line(people, estate_now):
    lines, _ = estate_now
    me = people["end_user"]
    mine = lines[(lines.employee_id == me.employee_id) & (lines.status == "ACTIVE")]
    return sorted(mine.msisdn)[0]


@pytest.fixture(scope="module")
def second_admin(portal, people):
    """A second Administrator of the first tenant: the other approver of the race."""
    p = people["admin"]
    email = "admin-b@t1.test"
    users.add_user(portal["SELFCARE_DB"], email=email, role="admin", tenant_id=p.tenant_id,
                   employee_id=None, password=p.password)
    return email, p.password


def order_body(estate_now, msisdn: str) -> dict:
    _, services = estate_now
    has = ((services.msisdn == msisdn) & (services.service_code == "IDD")).any()
    return {"action": "remove_service" if has else "add_service", "msisdns": [msisdn],
            "params": {"service_code": "IDD"}, "reason": "e2e"}


def place(server, people, estate_now, own_line) -> tuple[requests.Session, dict]:
    p = people["end_user"]
    s = sign_in(server, p.email, p.password)
    resp = s.post(server + "/api/v1/orders", json=order_body(estate_now, own_line),
                  timeout=TIMEOUT)
    assert resp.status_code == 201, resp.text[:400]
    return s, resp.json()


def state_of(session, server, order_id) -> str:
    return session.get(f"{server}/api/v1/orders/{order_id}", timeout=TIMEOUT).json()["state"]


def test_two_approvers_at_the_same_moment_one_wins(server, people, estate_now, own_line,
                                                   second_admin):
    requester, order = place(server, people, estate_now, own_line)
    a = sign_in(server, people["admin"].email, people["admin"].password)
    b = sign_in(server, *second_admin)
    url = f"{server}/api/v1/orders/{order['id']}/approve"
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def go(session):
        barrier.wait()
        answers.append(session.post(url, json={"comment": "race"}, timeout=TIMEOUT).status_code)

    threads = [threading.Thread(target=go, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]
    detail = requester.get(f"{server}/api/v1/orders/{order['id']}", timeout=TIMEOUT).json()
    assert detail["state"] != "pending_approval"
    events = [e["event"] for e in detail["timeline"]]
    assert events.count("approve") == 1
    assert events.count("submit") <= 1  # submitted at most once (the worker may not have run)


def test_another_tenants_admin_can_neither_see_nor_decide(server, people, estate_now, own_line):
    requester, order = place(server, people, estate_now, own_line)
    other = sign_in(server, people["admin2"].email, people["admin2"].password)
    base = f"{server}/api/v1/orders/{order['id']}"
    assert other.get(base, timeout=TIMEOUT).status_code == 404
    for action, body in (("approve", {}), ("reject", {"reason": "x"}), ("cancel", None)):
        resp = other.post(f"{base}/{action}", json=body, timeout=TIMEOUT)
        assert resp.status_code == 404, (action, resp.status_code)
        assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert state_of(requester, server, order["id"]) == "pending_approval"
    listed = other.get(f"{server}/api/v1/orders", timeout=TIMEOUT).json()["orders"]
    assert order["id"] not in [o["id"] for o in listed]
    requester.post(f"{base}/cancel", timeout=TIMEOUT)


def test_foreign_and_peer_msisdns_are_refused_and_order_nothing(server, raw, people, estate_now):
    lines, _ = estate_now
    p = people["end_user"]
    s = sign_in(server, p.email, p.password)
    before = s.get(f"{server}/api/v1/orders?mine=true&limit=200", timeout=TIMEOUT).json()
    visible = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    foreign_tenant = sorted(lines[lines.tenant_id != p.tenant_id].msisdn)[0]
    peer = sorted(lines[(lines.tenant_id == p.tenant_id) & ~lines.msisdn.isin(visible)].msisdn)[0]
    for msisdn in (foreign_tenant, peer):
        body = order_body(estate_now, msisdn)
        resp = s.post(f"{server}/api/v1/orders", json=body, timeout=TIMEOUT)
        assert resp.status_code in (403, 404), (msisdn, resp.status_code)
        # mixed with an own line: the whole order is refused, not the foreign part dropped
        own = sorted(visible & set(lines[lines.status == "ACTIVE"].msisdn))[0]
        body["msisdns"] = [own, msisdn]
        assert s.post(f"{server}/api/v1/orders", json=body, timeout=TIMEOUT).status_code in (
            403, 404)
        assert s.get(f"{server}/api/v1/lines/{msisdn}", timeout=TIMEOUT).status_code == 404
    after = s.get(f"{server}/api/v1/orders?mine=true&limit=200", timeout=TIMEOUT).json()
    assert [o["id"] for o in after["orders"]] == [o["id"] for o in before["orders"]]


def test_a_body_cannot_choose_who_acts(server, people, estate_now, own_line):
    p = people["end_user"]
    s = sign_in(server, p.email, p.password)
    body = {**order_body(estate_now, own_line), "requester_email": people["admin"].email}
    resp = s.post(f"{server}/api/v1/orders", json=body, timeout=TIMEOUT)
    assert resp.status_code == 400 and resp.json()["field"] == "requester_email"


def test_replayed_approvals_change_nothing(server, people, estate_now, own_line):
    requester, order = place(server, people, estate_now, own_line)
    admin = sign_in(server, people["admin"].email, people["admin"].password)
    url = f"{server}/api/v1/orders/{order['id']}/approve"
    assert admin.post(url, json={"comment": "once"}, timeout=TIMEOUT).status_code == 200
    for _ in range(3):
        assert admin.post(url, json={"comment": "once"}, timeout=TIMEOUT).status_code == 409
    detail = requester.get(f"{server}/api/v1/orders/{order['id']}", timeout=TIMEOUT).json()
    assert [e["event"] for e in detail["timeline"]].count("approve") == 1
    # the cookie captured before sign-out replays nothing
    cookie = admin.cookies.get("selfcare_session")
    assert admin.post(server + "/logout", allow_redirects=False, timeout=TIMEOUT).status_code == 303
    replay = requests.post(url, json={}, cookies={"selfcare_session": cookie}, timeout=TIMEOUT)
    assert replay.status_code == 401
    # and a cross-site replay with a live cookie is refused before it reaches the order
    again = sign_in(server, people["admin"].email, people["admin"].password)
    forged = again.post(url, json={}, headers={"Origin": "https://evil.example"}, timeout=TIMEOUT)
    assert forged.status_code == 403


def test_cross_site_posts_against_the_running_server(server, people):
    evil = {"Origin": "https://evil.example"}
    p = people["manager"]
    resp = requests.post(server + "/login", data={"email": p.email, "password": p.password},
                         headers=evil, allow_redirects=False, timeout=TIMEOUT)
    assert resp.status_code == 403 and "selfcare_session" not in resp.cookies
    s = sign_in(server, p.email, p.password)
    assert s.post(server + "/logout", headers=evil, timeout=TIMEOUT).status_code == 403
    assert s.post(server + "/_dash-update-component", json={}, headers=evil,
                  timeout=TIMEOUT).status_code == 403
    assert s.get(server + "/logout", timeout=TIMEOUT).status_code == 200  # a page, no sign-out
    assert s.get(server + "/_dash-layout", timeout=TIMEOUT).status_code == 200
