"""The Users page in a real browser: the tenant-1 administrator sees their tenant's users, adds a
throw-away user through the form (the generated password is shown once and works), deactivates
it, and a Financial Manager is refused the page. One screenshot.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from selfcare.services import users

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _users(db: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("select * from users order by id").fetchall()
    finally:
        con.close()


def _choose(page, dropdown: str, text: str) -> None:
    """Pick the option of a dcc.Dropdown whose label contains `text` (typing to filter it)."""
    page.locator(f"#{dropdown}").click()
    # Dash 4's dropdown opens a popover with its own search box; wait for it before typing
    search = page.locator("input.dash-dropdown-search:visible")
    search.wait_for()
    search.fill(text)
    page.locator(".dash-dropdown-option:visible", has_text=text).first.click()


def test_admin_manages_users_in_the_browser(signed_in, portal, people, raw):
    db = portal["SELFCARE_DB"]
    admin = people["admin"]
    s = signed_in("admin")
    s.open("/users")
    page = s.page
    grid = page.locator("#users-grid .ag-center-cols-container")
    grid.locator(".ag-row[row-index='0']").wait_for()
    shown = set(grid.locator("[col-id='email']").all_inner_texts())
    mine = {r["email"] for r in _users(db) if r["tenant_id"] == admin.tenant_id}
    theirs = {r["email"] for r in _users(db)} - mine
    assert shown and shown <= mine and not shown & theirs
    # the pager counts exactly the tenant's users (other tests of the session may add some)
    pager = page.locator("#users-grid .ag-paging-row-summary-panel").inner_text()
    assert pager.split()[-1] == str(len(mine)), pager

    # add a throw-away end user linked to an employee of the tenant
    emp = raw.employees[raw.employees.tenant_id == admin.tenant_id].iloc[4]
    email = f"browser-{uuid.uuid4().hex[:8]}@t1.test"
    page.fill("#users-add-email", email)
    _choose(page, "users-add-employee", emp.employee_id)
    page.click("#users-add")
    secret = page.locator("#users-password")
    secret.wait_for()
    password = secret.inner_text().strip()
    created = users.find_user(db, email)
    assert created is not None
    assert (created.role, created.tenant_id, created.employee_id) == (
        "end_user",
        admin.tenant_id,
        emp.employee_id,
    )
    assert users.authenticate(db, email, password) is not None
    # newest first: the new user is the first row
    row = grid.locator(".ag-row[row-index='0']", has_text=email)
    row.wait_for()
    assert row.locator("[col-id='employee_name']").inner_text().strip() == emp.full_name

    # deactivate it
    _choose(page, "users-target", email)
    page.click("#users-deactivate")
    page.locator("#users-message", has_text="deactivated").wait_for()
    assert not users.find_user(db, email).active
    assert row.locator("[col-id='status']").inner_text().strip() == "deactivated"
    s.screenshot("users-admin")

    other = signed_in("finance")
    resp = other.page.goto(other.base + "/users")
    assert resp is not None and resp.status == 403
