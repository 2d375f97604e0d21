"""The order path as people walk it, against one dedicated running portal (`selfcare serve`,
waitress, the in-process worker, the `simulated` operator with a one-second delay, real SMTP to
an aiosmtpd server on loopback):

- an End User signs in, opens their line from the Lines page and requests roaming; their
  Manager gets the mail (naming the employee and the service, linking to the request), signs in,
  approves in the browser; the worker carries the order to the simulated operator and the End
  User sees roaming active on the line's page; a peer manager never sees the request;
- two approvers (an Administrator and the Manager, each with a write token) approve the same
  order at the same moment through the JSON API: one 200, one 409, and the line reaches the
  operator exactly once.

The shared e2e `server` cannot carry an SMTP server's address (it is started once per session,
before any test's SMTP server exists), so this module starts its own, once, over its own
portal database. Who is who is picked with pandas from the raw HR feed and line register.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import requests

from selfcare.services import tokens, users
from tests.smtp_support import SmtpServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# Generous: the operator's delay is one second, the worker's round half a second; on a loaded
# two-core machine everything may take many times longer, but never this long.
OVERALL = 180
PASSWORD = "journey horse battery staple"  # noqa: S105 - test users only


def latest(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if p.name.startswith(kind + "_"))
    return pd.read_csv(files[-1], dtype=str, keep_default_na=False)


@dataclass(frozen=True)
class Cast:
    tenant_id: str
    admin: str  # employee ids
    end_user: str
    end_user_name: str
    manager: str
    peer: str
    line: str  # the End User's postpaid line without roaming (nor a roaming bar)
    roaming: str  # the roaming service's code and name, from the operator's catalogue
    roaming_name: str
    race_line: str  # a line of the End User for the race's order


def pick_cast(raw) -> Cast:
    """From the HR feed and the latest line register, with pandas: an End User whose direct
    manager is not the root, with an active postpaid line lacking roaming; their manager; a peer
    manager (someone with reports who is not above the End User)."""
    emp = raw.employees
    tenant = sorted(raw.tenants.tenant_id)[0]
    emp = emp[emp.tenant_id == tenant]
    boss = dict(zip(emp.employee_id, emp.manager_employee_id, strict=True))
    root = emp[emp.manager_employee_id == ""].employee_id.iloc[0]
    has_reports = set(emp.manager_employee_id) - {""}
    lines = latest(raw.folder, "lines")
    lines = lines[(lines.tenant_id == tenant) & (lines.status == "ACTIVE")]
    plans = latest(raw.folder, "plans")
    payment = dict(zip(plans.plan_code, plans.payment, strict=True))
    services = latest(raw.folder, "line_services")
    catalogue = latest(raw.folder, "services")
    roam = catalogue[(catalogue.service_code == "ROAM")].iloc[0]
    assert roam.payment == "POSTPAID"
    roaming_any = set(services[services.service_code.isin(["ROAM", "ROAM-PP", "BAR-ROAM"])].msisdn)

    def chain(e: str) -> list[str]:
        out = []
        while boss.get(e):
            e = boss[e]
            out.append(e)
        return out

    candidates = lines[
        (lines.plan_code.map(payment) == "POSTPAID")
        & ~lines.msisdn.isin(roaming_any)
        & (lines.employee_id != "")
        & lines.employee_id.map(lambda e: boss.get(e, "") not in ("", root))
    ].sort_values("msisdn")
    for row in candidates.itertuples():
        above = chain(row.employee_id)
        peers = sorted(has_reports - set(above) - {row.employee_id, root})
        if not peers:
            continue
        own = sorted(lines[lines.employee_id == row.employee_id].msisdn)
        name = emp[emp.employee_id == row.employee_id].full_name.iloc[0]
        return Cast(
            tenant,
            root,
            row.employee_id,
            name,
            above[0],
            peers[0],
            row.msisdn,
            roam.service_code,
            roam["name"],
            own[-1],
        )
    pytest.fail("the generated estate has no End User fit for the journey")


EMAILS = {
    "admin": "admin@journey.test",
    "manager": "manager@journey.test",
    "end_user": "user@journey.test",
    "peer": "peer@journey.test",
}


@pytest.fixture(scope="module")
def cast(raw) -> Cast:
    return pick_cast(raw)


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Portal:
    base: str
    db: Path

    @property
    def operator_db(self) -> Path:
        return self.db.parent / "operator.sqlite"


@pytest.fixture(scope="module")
def journey(portal, cast, smtp, tmp_path_factory):
    """One `selfcare serve` for the module: its own database with four users, mail to `smtp`."""
    folder = tmp_path_factory.mktemp("journey")
    db = folder / "app.db"
    for role, employee in (
        ("admin", cast.admin),
        ("manager", cast.manager),
        ("end_user", cast.end_user),
        ("peer", cast.peer),
    ):
        users.add_user(
            db,
            email=EMAILS[role],
            role="manager" if role == "peer" else role,
            tenant_id=cast.tenant_id,
            employee_id=employee,
            password=PASSWORD,
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **portal,
        "SELFCARE_DB": str(db),
        "SELFCARE_SMTP_HOST": smtp.host,
        "SELFCARE_SMTP_PORT": str(smtp.port),
        "SELFCARE_MAIL_FROM": "SelfCare <selfcare@journey.test>",
        "SELFCARE_BASE_URL": base,
        "SELFCARE_PROVISIONING": "simulated",
        "SELFCARE_PROVISIONING_DELAY": "1",
        "SELFCARE_WORKER": "1",
        "SELFCARE_WORKER_INTERVAL": "0.5",
    }
    env.pop("SELFCARE_DATABASE_URL", None)
    log = folder / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "selfcare.cli", "serve", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield Portal(base, db)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def until(what: str, check, timeout: float = OVERALL):
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(0.25)


class Person:
    """A signed-in browser context of its own, recording console errors."""

    def __init__(self, browser, base: str, email: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = base
        self.page.goto(base + "/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str) -> None:
        self.page.goto(path if path.startswith("http") else self.base + path)
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        errors = [e for e in self.errors if "404" not in e]
        self.context.close()
        assert errors == [], errors


def choose(page, dropdown: str, text: str) -> None:
    """Pick the option of a dcc.Dropdown whose label contains `text` (typing to filter it)."""
    page.locator(f"#{dropdown}").click()
    search = page.locator("input.dash-dropdown-search:visible")
    search.wait_for()
    search.fill(text)
    page.locator(".dash-dropdown-option:visible", has_text=text).first.click()


def mails_to(smtp, address: str) -> list:
    return [m for m in smtp.messages if address in m.rcpt_tos]


def test_end_user_requests_roaming_manager_approves_by_mail_and_it_completes(
    browser, journey, cast, smtp
):
    # The End User finds their line on the Lines page and requests roaming on it.
    user = Person(browser, journey.base, EMAILS["end_user"])
    user.open("/lines")
    user.page.locator("a.line-link", has_text=cast.line).click()
    user.page.locator("#line-services-table, #line-services .state").first.wait_for()
    assert user.page.url.endswith(f"/lines/{cast.line}")
    choose(user.page, "line-action", "Add a service")
    choose(user.page, "line-service", cast.roaming_name)
    user.page.locator("#line-cost", has_text="Cost change").wait_for()
    user.page.fill("#line-reason", "Client visit in Nairobi next week")
    user.page.click("#line-submit")
    link = user.page.locator("#line-new-order")
    link.wait_for()
    reference = link.inner_text().strip()
    order_id = int(re.search(r"/requests/(\d+)$", link.get_attribute("href")).group(1))
    # the line shows roaming as being added while the request waits
    pending = user.page.locator("#line-services-table tr", has_text=cast.roaming_name)
    assert pending.locator("[data-state]").get_attribute("data-state") == "pending_add"

    # The Manager gets the mail: it names the employee and the service, and links the request.
    manager_mails = until(
        f"the approval mail of {reference}",
        lambda: [m for m in mails_to(smtp, EMAILS["manager"]) if reference in m.message["Subject"]],
    )
    assert len(manager_mails) == 1
    mail = manager_mails[0].message
    body = mail.get_content()
    assert cast.end_user_name in mail["Subject"] and cast.end_user_name in body
    assert cast.roaming_name in body
    url = f"{journey.base}/requests/{order_id}"
    assert url in body.split()

    # ... signs in, follows the link, approves.
    manager = Person(browser, journey.base, EMAILS["manager"])
    manager.open(url)
    manager.page.locator("h1", has_text=reference).wait_for()
    manager.page.fill("#request-comment", "Enjoy the trip")
    manager.page.click("#request-approve")
    manager.page.locator("#request-message [role=status]", has_text="Approved").wait_for()

    # The worker carries it to the simulated operator; the End User's line shows roaming active.
    def roaming_active() -> bool:
        user.open(f"/lines/{cast.line}")
        row = user.page.locator("#line-services-table tr", has_text=cast.roaming_name)
        row.first.wait_for()
        return row.locator("[data-state]").get_attribute("data-state") == "active"

    until("roaming active on the End User's line", roaming_active)
    user.open(f"/requests/{order_id}")
    header = user.page.locator(".page-subtitle").inner_text()
    assert "Completed" in header, header
    # the End User was told it completed
    until(
        "the completion mail",
        lambda: [
            m
            for m in mails_to(smtp, EMAILS["end_user"])
            if reference in m.message["Subject"] and "complet" in m.message["Subject"].lower()
        ],
    )

    # A peer manager never sees it: not on the Requests page, not at its address, no mail.
    peer = Person(browser, journey.base, EMAILS["peer"])
    peer.open("/requests")
    for tab in ("My requests", "Waiting for my approval"):
        peer.page.get_by_text(tab, exact=True).click()
        peer.page.locator("#requests-status, #requests-table").first.wait_for()
        peer.page.wait_for_load_state("networkidle")
        assert reference not in peer.page.locator("main, body").first.inner_text()
    peer.open(f"/requests/{order_id}")
    peer.page.locator("[role=alert]", has_text="No such request").wait_for()
    assert reference not in peer.page.inner_text("body")
    assert mails_to(smtp, EMAILS["peer"]) == []
    for person in (user, manager, peer):
        person.close()


def token_for(db: Path, email: str) -> dict:
    _, secret = tokens.create_token(db, email, "journey race", scope="write")
    return {"Authorization": f"Bearer {secret}"}


def test_two_approvers_at_the_same_moment_submit_the_line_once(journey, cast):
    requester = token_for(journey.db, EMAILS["end_user"])
    with_line = requests.get(
        f"{journey.base}/api/v1/lines/{cast.race_line}", headers=requester, timeout=60
    ).json()
    has_idd = any(s["code"] == "IDD" for s in with_line["services"])
    body = {
        "action": "remove_service" if has_idd else "add_service",
        "msisdns": [cast.race_line],
        "params": {"service_code": "IDD"},
        "reason": "race of two approvers",
    }
    placed = requests.post(
        f"{journey.base}/api/v1/orders", json=body, headers=requester, timeout=60
    )
    assert placed.status_code == 201, placed.text[:400]
    order = placed.json()
    assert order["state"] == "pending_approval"
    url = f"{journey.base}/api/v1/orders/{order['id']}/approve"
    approvers = [token_for(journey.db, EMAILS["admin"]), token_for(journey.db, EMAILS["manager"])]
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def go(headers):
        barrier.wait()
        answers.append(
            requests.post(url, json={"comment": "race"}, headers=headers, timeout=60).status_code
        )

    threads = [threading.Thread(target=go, args=(h,)) for h in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [200, 409]

    def finished():
        got = requests.get(
            f"{journey.base}/api/v1/orders/{order['id']}", headers=requester, timeout=60
        ).json()
        return got if got["state"] in ("completed", "failed") else None

    detail = until("the raced order to finish at the operator", finished)
    assert detail["state"] == "completed", detail
    con = sqlite3.connect(journey.db)
    try:
        events = [
            e
            for (e,) in con.execute(
                "select event from order_events where order_id = ? order by id", (order["id"],)
            )
        ]
        decisions = con.execute(
            "select count(*) from order_approvals where order_id = ?", (order["id"],)
        ).fetchone()[0]
    finally:
        con.close()
    assert events.count("approve") == 1 and decisions == 1
    assert events.count("submit") == 1
    op = sqlite3.connect(journey.operator_db)
    try:
        at_operator = op.execute(
            "select count(*) from operator_orders where reference = ?", (order["reference"],)
        ).fetchone()[0]
    finally:
        op.close()
    assert at_operator == 1
