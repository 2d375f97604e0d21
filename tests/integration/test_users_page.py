"""The Users page: an administrator manages the portal users of their own tenant only.

Requests go through Dash's real callback endpoint with the Flask test client, signed in through
the login form. What the grid must show is read straight from the SQLite file and the raw
employee CSV, not through the page's code. The session's shared users (the `portal` fixture) are
never changed: every mutation acts on throw-away users made here.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from selfcare.roles import ROLE_NAMES
from selfcare.services import users
from tests.conftest import Person, login, random_password

GRID, TARGET, EMPLOYEE = "users-grid", "users-target", "users-add-employee"
CREATED, MESSAGE, EMAIL = "users-created", "users-message", "users-add-email"
ADD, SET_ROLE = "users-add", "users-set-role"
DEACTIVATE, REACTIVATE = "users-deactivate", "users-reactivate"
OUTPUTS = [
    {"id": GRID, "property": "rowData"},
    {"id": TARGET, "property": "options"},
    {"id": EMPLOYEE, "property": "options"},
    {"id": CREATED, "property": "children"},
    {"id": MESSAGE, "property": "children"},
    {"id": EMAIL, "property": "value"},
]
OUTPUT = ".." + "...".join(f"{o['id']}.{o['property']}" for o in OUTPUTS) + ".."
BUTTONS = (ADD, SET_ROLE, DEACTIVATE, REACTIVATE)
STATES = (
    ("users-add-email", "email"),
    ("users-add-role", "role"),
    ("users-add-employee", "employee"),
    ("users-target", "target"),
    ("users-new-role", "new_role"),
)


def call(client, click: str | None = None, clicks: int | None = 1, **state):
    """Post the page's callback as the browser would after a click on `click` (None: page load)."""
    body = {
        "output": OUTPUT,
        "outputs": OUTPUTS,
        "inputs": [
            {"id": b, "property": "n_clicks", "value": clicks if b == click else None}
            for b in BUTTONS
        ],
        "state": [{"id": cid, "property": "value", "value": state.get(key)} for cid, key in STATES],
        "changedPropIds": [f"{click}.n_clicks"] if click else [],
    }
    return client.post("/_dash-update-component", json=body)


def answer(resp) -> dict:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    # one property per component: {component id: that property's new value}
    return {k: next(iter(v.values())) for k, v in resp.get_json()["response"].items()}


def text_of(component) -> str:
    """All strings in a rendered component tree (what the browser would show)."""
    if component is None:
        return ""
    if isinstance(component, str):
        return component
    if isinstance(component, list):
        return " ".join(text_of(c) for c in component)
    if isinstance(component, dict):
        return text_of(component.get("props", {}).get("children"))
    return str(component)


def db_rows(db) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("select * from users order by id").fetchall()
    finally:
        con.close()


def audit_rows(db, event: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute("select * from audit where event = ? order by id", (event,)).fetchall()
    finally:
        con.close()


@pytest.fixture
def db(portal):
    return portal["SELFCARE_DB"]


@pytest.fixture
def as_admin(flask_app, people):
    def make(profile: str = "admin"):
        c = flask_app.test_client()
        login(c, people[profile])
        return c

    return make


@pytest.fixture
def employees(raw, people):
    """Employee ids of tenant 1 (the admin's) and tenant 2, from the raw CSV."""
    e = raw.employees
    t1, t2 = people["admin"].tenant_id, people["admin2"].tenant_id
    return {
        "t1": sorted(e[e.tenant_id == t1].employee_id),
        "t2": sorted(e[e.tenant_id == t2].employee_id),
        "names": dict(zip(e.employee_id, e.full_name, strict=True)),
    }


@pytest.fixture
def throwaway(db, people, employees):
    """Factory: a new user of tenant 1 (or 2) with a known password; never a shared user."""

    def make(role: str = "end_user", tenant: str = "t1") -> Person:
        tenant_id = people["admin" if tenant == "t1" else "admin2"].tenant_id
        p = Person(
            f"tmp-{uuid.uuid4().hex[:10]}@{tenant}.test",
            role,
            tenant_id,
            employees[tenant][3],
            random_password(),
        )
        users.add_user(db, p.email, role, tenant_id, p.employee_id, p.password)
        return p

    return make


def user_id(db, email: str) -> int:
    return users.find_user(db, email).id


# --- what the administrator sees ---------------------------------------------------------------


@pytest.mark.parametrize("profile", ["admin", "admin2"])
def test_admin_sees_exactly_their_tenants_users(profile, as_admin, db, people, employees):
    tenant = people[profile].tenant_id
    out = answer(call(as_admin(profile)))
    rows = out[GRID]
    # newest first
    want = [r for r in db_rows(db) if r["tenant_id"] == tenant and r["role"] != "analyst"][::-1]
    assert [r["email"] for r in rows] == [r["email"] for r in want]
    assert people[profile].email in {r["email"] for r in rows}
    others = {r["email"] for r in db_rows(db)} - {r["email"] for r in want}
    assert others and not others & {r["email"] for r in rows}
    assert "analyst@operator.test" not in str(out)
    for row, w in zip(rows, want, strict=True):
        assert row["employee_id"] == (w["employee_id"] or "")
        assert row["employee_name"] == employees["names"].get(w["employee_id"], "")
        assert row["status"] == ("active" if w["active"] else "deactivated")
        assert row["profile"] == ROLE_NAMES[w["role"]]
    assert {o["value"] for o in out[TARGET]} == {r["id"] for r in want}
    own = "t1" if profile == "admin" else "t2"
    assert sorted(o["value"] for o in out[EMPLOYEE]) == employees[own]


# --- adding ------------------------------------------------------------------------------------


def test_add_user_shows_a_working_password_once_and_audits(as_admin, db, people, employees):
    client = as_admin()
    email = f"new-{uuid.uuid4().hex[:8]}@t1.test"
    emp = employees["t1"][5]
    out = answer(call(client, ADD, email=email, role="finance", employee=emp))
    created = [r for r in db_rows(db) if r["email"] == email]
    assert len(created) == 1
    row = created[0]
    assert (row["role"], row["tenant_id"], row["employee_id"], row["active"]) == (
        "finance",
        people["admin"].tenant_id,
        emp,
        1,
    )
    shown = text_of(out[CREATED])
    password = [
        c["props"]["children"] for c in out[CREATED]["props"]["children"] if c["type"] == "Pre"
    ][0]
    assert len(password) >= users.MIN_PASSWORD and password in shown
    assert users.authenticate(db, email, password) is not None
    assert password not in str(db_rows(db)) and password not in str(
        audit_rows(db, "admin_user_added")
    )
    assert email in {r["email"] for r in out[GRID]}
    assert out[EMAIL] == ""
    audit = [a for a in audit_rows(db, "admin_user_added") if email in (a["detail"] or "")]
    assert len(audit) == 1
    assert audit[0]["email"] == people["admin"].email
    assert audit[0]["user_id"] == user_id(db, people["admin"].email)
    # the next load of the page does not show the password again
    again = answer(call(client))
    assert password not in str(again)


@pytest.mark.parametrize(
    ("role", "employee", "error"),
    [
        pytest.param("analyst", None, "Choose one of the profiles", id="forged-analyst"),
        pytest.param("superuser", None, "Choose one of the profiles", id="forged-role"),
        pytest.param("end_user", "t2", "No such employee", id="foreign-employee"),
        pytest.param("end_user", "E-NOPE", "No such employee", id="unknown-employee"),
        pytest.param("manager", None, "profile needs an employee", id="manager-without-employee"),
    ],
)
def test_add_user_refuses_bad_input(role, employee, error, as_admin, db, employees):
    if employee == "t2":
        employee = employees["t2"][0]
    email = f"bad-{uuid.uuid4().hex[:8]}@t1.test"
    before = len(db_rows(db))
    out = answer(call(as_admin(), ADD, email=email, role=role, employee=employee))
    assert error in text_of(out[MESSAGE])
    assert users.find_user(db, email) is None
    assert len(db_rows(db)) == before
    assert CREATED not in out  # no password shown


@pytest.mark.parametrize("owner", ["admin2", "finance", "analyst"])
def test_add_user_with_existing_email_is_refused_without_saying_where(owner, as_admin, db, people):
    """No cross-tenant oracle (issue 13): an email of another tenant (admin2), of the
    administrator's own organisation or of the operator gets the one answer an address that is
    not an email gets too, which names no tenant and does not say that the address exists."""
    before = db_rows(db)
    existing = people[owner].email.upper()  # emails are compared case-insensitively
    out = answer(call(as_admin(), ADD, email=existing, role="finance"))
    nonsense = answer(call(as_admin(), ADD, email="not an address", role="finance"))
    shown = text_of(out[MESSAGE])
    assert shown == text_of(nonsense[MESSAGE]) and shown.endswith(users.EMAIL_REFUSED)
    assert "exist" not in shown and people["admin2"].tenant_id not in shown
    assert CREATED not in out
    assert [dict(r) for r in db_rows(db)] == [dict(r) for r in before]
    refused = [a for a in audit_rows(db, "admin_user_add_refused")
               if people[owner].email in a["detail"]]
    assert refused and refused[-1]["email"] == people["admin"].email


# --- changing, deactivating, reactivating ------------------------------------------------------


def test_role_change_applies_on_the_next_request_and_is_audited(
    as_admin, db, people, flask_app, throwaway
):
    victim = throwaway("admin")
    theirs = flask_app.test_client()
    login(theirs, victim)
    assert theirs.get("/users").status_code == 200
    out = answer(call(as_admin(), SET_ROLE, target=user_id(db, victim.email), new_role="finance"))
    assert "now has the Financial Manager profile" in text_of(out[MESSAGE])
    assert users.find_user(db, victim.email).role == "finance"
    # the demoted admin's existing session loses the page and its callback at once
    assert theirs.get("/users").status_code == 403
    assert call(theirs).status_code == 403
    assert theirs.get("/growth").status_code == 200  # still signed in, as finance
    audit = [a for a in audit_rows(db, "admin_role_changed") if victim.email in a["detail"]]
    assert len(audit) == 1 and "admin -> finance" in audit[0]["detail"]
    assert audit[0]["email"] == people["admin"].email


def test_deactivate_ends_sessions_and_reactivate_restores(
    as_admin, db, people, flask_app, throwaway
):
    victim = throwaway("finance")
    theirs = flask_app.test_client()
    login(theirs, victim)
    assert theirs.get("/growth").status_code == 200
    admin = as_admin()
    vid = user_id(db, victim.email)
    out = answer(call(admin, DEACTIVATE, target=vid))
    assert "deactivated" in text_of(out[MESSAGE])
    assert not users.find_user(db, victim.email).active
    row = next(r for r in out[GRID] if r["email"] == victim.email)
    assert row["status"] == "deactivated"
    # the running session is gone (session version moved on) and the password no longer works
    resp = theirs.get("/growth")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert users.authenticate(db, victim.email, victim.password) is None

    out = answer(call(admin, REACTIVATE, clicks=2, target=vid))
    assert "active again" in text_of(out[MESSAGE])
    assert users.authenticate(db, victim.email, victim.password) is not None
    # the old cookie stays dead: reactivation does not revive ended sessions
    assert theirs.get("/growth").status_code == 302
    for event in ("admin_user_deactivated", "admin_user_activated"):
        audit = [a for a in audit_rows(db, event) if victim.email in a["detail"]]
        assert len(audit) == 1, event
        assert audit[0]["email"] == people["admin"].email


# --- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [SET_ROLE, DEACTIVATE])
@pytest.mark.parametrize("form", ["id", "email"])
def test_admin_of_another_tenant_cannot_touch_a_user(action, form, as_admin, db, throwaway):
    victim = throwaway("finance", tenant="t1")
    target = user_id(db, victim.email) if form == "id" else victim.email
    before = dict(next(r for r in db_rows(db) if r["email"] == victim.email))
    out = answer(call(as_admin("admin2"), action, target=target, new_role="end_user"))
    assert "No such user in your organisation" in text_of(out[MESSAGE]) or (
        form == "email" and "Choose a user" in text_of(out[MESSAGE])
    )
    assert victim.email not in str(out)
    assert dict(next(r for r in db_rows(db) if r["email"] == victim.email)) == before


def test_reactivating_a_foreign_user_is_refused(as_admin, db, throwaway):
    victim = throwaway("end_user", tenant="t2")
    users.deactivate(db, victim.email)
    out = answer(call(as_admin("admin"), REACTIVATE, target=user_id(db, victim.email)))
    assert "No such user in your organisation" in text_of(out[MESSAGE])
    assert not users.find_user(db, victim.email).active


def test_analysts_are_not_managed_here(as_admin, db, people):
    analyst = user_id(db, people["analyst"].email)
    before = [dict(r) for r in db_rows(db)]
    for action in (SET_ROLE, DEACTIVATE):
        out = answer(call(as_admin(), action, target=analyst, new_role="admin"))
        assert "No such user in your organisation" in text_of(out[MESSAGE])
    assert [dict(r) for r in db_rows(db)] == before


def test_forged_role_analyst_is_refused(as_admin, db, throwaway):
    victim = throwaway("end_user")
    out = answer(call(as_admin(), SET_ROLE, target=user_id(db, victim.email), new_role="analyst"))
    assert "Choose one of the profiles" in text_of(out[MESSAGE])
    user = users.find_user(db, victim.email)
    assert (user.role, user.tenant_id) == ("end_user", victim.tenant_id)


@pytest.mark.parametrize(
    ("action", "new_role"),
    [(DEACTIVATE, None), (SET_ROLE, "end_user"), (SET_ROLE, "finance")],
)
def test_admin_cannot_deactivate_or_demote_themselves(action, new_role, as_admin, db, people):
    me = people["admin"]
    before = dict(next(r for r in db_rows(db) if r["email"] == me.email))
    out = answer(call(as_admin(), action, target=user_id(db, me.email), new_role=new_role))
    message = text_of(out[MESSAGE])
    assert "yourself" in message or "your own profile" in message
    assert dict(next(r for r in db_rows(db) if r["email"] == me.email)) == before


@pytest.mark.parametrize("clicks", [None, 0, True, "1"])
def test_no_change_without_a_real_click(clicks, as_admin, db, throwaway):
    """A forged call (no click count, the wrong type) or the page's initial call changes
    nothing, whatever target it names."""
    victim = throwaway("finance")
    before = [dict(r) for r in db_rows(db)]
    client = as_admin()
    for action in (SET_ROLE, DEACTIVATE):
        call(client, action, clicks=clicks, target=user_id(db, victim.email), new_role="end_user")
    email = f"noclick-{uuid.uuid4().hex[:8]}@t1.test"
    call(client, ADD, clicks=clicks, email=email, role="admin")
    assert [dict(r) for r in db_rows(db)] == before


@pytest.mark.parametrize("profile", ["finance", "manager", "end_user", "analyst"])
def test_other_profiles_get_403(profile, flask_app, people, db, throwaway):
    victim = throwaway("finance")
    before = [dict(r) for r in db_rows(db)]
    c = flask_app.test_client()
    login(c, people[profile])
    assert c.get("/users").status_code == 403
    assert call(c).status_code == 403
    assert call(c, DEACTIVATE, target=user_id(db, victim.email)).status_code == 403
    email = f"forbidden-{uuid.uuid4().hex[:8]}@t1.test"
    assert call(c, ADD, email=email, role="admin").status_code == 403
    assert [dict(r) for r in db_rows(db)] == before


def test_anonymous_gets_401(flask_app):
    c = flask_app.test_client()
    assert call(c).status_code == 401
    assert c.get("/users").status_code == 302
