"""Users: the Administrator manages the portal users of their own tenant.

Lists the tenant's users (never another tenant's, never the operator's analysts, who are managed
with the CLI), adds a user with a generated initial password shown once, changes a user's profile
among the four tenant profiles, deactivates and reactivates users. Administrators only.

This page is a privilege boundary, so every callback re-derives everything from the session: the
tenant is the signed-in administrator's, a user id sent by the browser is re-read from the store
and must belong to that tenant, a role must be one of the tenant roles, and an employee id must be
an employee of the tenant (checked through the gate). Nothing happens without a real click on an
action button (a forged request without one changes nothing), an administrator cannot deactivate
or demote themselves, and every change is audited with the acting administrator. Deactivation and
profile changes take effect on the user's next request (the store bumps the session version and
users are reloaded per request).
"""

from __future__ import annotations

import secrets
from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask import request
from flask_login import current_user

from selfcare import gate, store
from selfcare.roles import ADMIN
from selfcare.web import components
from selfcare.web.auth import app_settings
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/users",
    name="Users",
    title="Users · SelfCare",
    order=80,
    roles=(ADMIN,),
)

EMAIL = "users-add-email"
ROLE = "users-add-role"
EMPLOYEE = "users-add-employee"
ADD = "users-add"
CREATED = "users-created"
TARGET = "users-target"
NEW_ROLE = "users-new-role"
SET_ROLE = "users-set-role"
DEACTIVATE = "users-deactivate"
REACTIVATE = "users-reactivate"
MESSAGE = "users-message"
GRID = "users-grid"

TENANT_ROLES = store.TENANT_ROLES
# Roles that see no data without an employee (their scope is built from the employee's lines).
NEEDS_EMPLOYEE = ("manager", "end_user")
ROLE_OPTIONS = [{"label": store.ROLE_NAMES[r], "value": r} for r in TENANT_ROLES]
PASSWORD_BYTES = 12  # token_urlsafe(12): 16 characters, 96 bits, above store.MIN_PASSWORD

COLUMNS = [
    {"field": "email", "headerName": "Email", "minWidth": 200},
    {"field": "profile", "headerName": "Profile"},
    {"field": "employee_id", "headerName": "Employee id"},
    {"field": "employee_name", "headerName": "Employee"},
    {"field": "status", "headerName": "Status"},
    {"field": "created", "headerName": "Created"},
]


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            components.page_header(
                "Users",
                "The portal users of your organisation. Operator staff are managed by the "
                "operator.",
            ),
            components.card(
                "Add a user",
                html.Div(
                    [
                        dcc.Input(
                            id=EMAIL,
                            type="email",
                            placeholder="Work email",
                            maxLength=254,
                            className="input",
                            style={"width": "280px"},
                        ),
                        dcc.Dropdown(
                            id=ROLE,
                            options=ROLE_OPTIONS,
                            value="end_user",
                            clearable=False,
                            className="dropdown",
                            style={"minWidth": "200px"},
                        ),
                        dcc.Dropdown(
                            id=EMPLOYEE,
                            options=[],
                            placeholder="Employee",
                            className="dropdown",
                            style={"minWidth": "260px"},
                        ),
                        html.Button("Add user", id=ADD, className="btn btn-primary"),
                    ],
                    className="form-row",
                ),
                html.Div(id=CREATED),
            ),
            components.card(
                "Change a user",
                html.Div(
                    [
                        dcc.Dropdown(
                            id=TARGET,
                            options=[],
                            placeholder="User",
                            className="dropdown",
                            style={"minWidth": "260px"},
                        ),
                        dcc.Dropdown(
                            id=NEW_ROLE,
                            options=ROLE_OPTIONS,
                            placeholder="New profile",
                            className="dropdown",
                            style={"minWidth": "200px"},
                        ),
                        html.Button("Change profile", id=SET_ROLE, className="btn btn-primary"),
                        html.Button("Deactivate", id=DEACTIVATE, className="btn btn-danger"),
                        html.Button("Reactivate", id=REACTIVATE, className="btn"),
                    ],
                    className="form-row",
                ),
                html.P(
                    "A deactivated user is signed out at once and cannot sign in; their API "
                    "tokens stop working. You cannot deactivate yourself or change your own "
                    "profile.",
                    className="muted",
                ),
            ),
            components.card(
                "Users of your organisation",
                html.Div(id=MESSAGE),
                components.data_grid(GRID, columnDefs=COLUMNS, height="420px"),
            ),
        ]
    )


# --- pure helpers -----------------------------------------------------------------------------


def _day(ts: str | None) -> str:
    return (ts or "").replace("T", " ")[:16]


def grid_rows(users: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """Grid rows for the tenant's users (already filtered to the tenant, analysts excluded)."""
    return [
        {
            "id": int(u["id"]),
            "email": u["email"],
            "profile": store.ROLE_NAMES.get(u["role"], u["role"]),
            "role": u["role"],
            "employee_id": u["employee_id"] or "",
            "employee_name": names.get(u["employee_id"] or "", ""),
            "status": "active" if u["active"] else "deactivated",
            "created": _day(u["created_at"]),
        }
        for u in users
    ]


def target_options(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "label": f"{u['email']} ({store.ROLE_NAMES.get(u['role'], u['role'])}"
            f"{'' if u['active'] else ', deactivated'})",
            "value": int(u["id"]),
        }
        for u in users
    ]


# --- server-side checks -----------------------------------------------------------------------


class Refused(Exception):
    """An action the page refuses; the message is shown to the administrator."""


def tenant_users(db: Any, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's portal users, newest first (a user just added shows at the top); analysts
    never (they have no tenant, and are the operator's)."""
    users = [u for u in store.list_users(db, tenant_id=tenant_id) if u["role"] in TENANT_ROLES]
    return sorted(users, key=lambda u: int(u["id"]), reverse=True)


def tenant_employees() -> dict[str, str]:
    """employee_id -> name for the signed-in administrator's tenant, through the gate."""
    df = gate.run("reports.users_employees", gate.current_scope())
    if df.empty:
        return {}
    return dict(zip(df.employee_id.astype(str), df.employee_name.astype(str), strict=True))


def own_user(db: Any, tenant_id: str, who: Any) -> store.User:
    """The user `who` (an id from the browser) if it belongs to the administrator's tenant."""
    try:
        user_id = int(str(who).strip())
    except (TypeError, ValueError):
        raise Refused("Choose a user of your organisation.") from None
    user = store.get_user(db, user_id) if user_id > 0 else None
    if user is None or user.tenant_id != tenant_id or user.role not in TENANT_ROLES:
        # The same answer for "no such user" and "another tenant's user": ids are not probed.
        raise Refused("No such user in your organisation.")
    return user


def tenant_role(role: Any) -> str:
    if not isinstance(role, str) or role not in TENANT_ROLES:
        raise Refused(
            "Choose one of the profiles: "
            + ", ".join(store.ROLE_NAMES[r] for r in TENANT_ROLES)
            + "."
        )
    return role


def _audit(db: Any, event: str, target: str, detail: str) -> None:
    store.audit(
        db,
        event,
        email=current_user.email,
        user_id=current_user.id,
        ip=request.remote_addr,
        detail=f"target={target} {detail}".strip(),
    )


def add_user(db: Any, tenant_id: str, email: Any, role: Any, employee: Any) -> tuple[str, str]:
    """Create a user in the administrator's tenant; returns (email, generated password)."""
    role = tenant_role(role)
    employee_id = str(employee).strip() if employee else ""
    if employee_id:
        try:
            known = tenant_employees()
        except gate.GateError:
            raise Refused("The employee list could not be checked. Try again later.") from None
        if employee_id not in known:
            raise Refused("No such employee in your organisation.")
    elif role in NEEDS_EMPLOYEE:
        raise Refused(
            f"The {store.ROLE_NAMES[role]} profile needs an employee: their lines define what "
            "they see."
        )
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    try:
        user_id = store.add_user(
            db,
            str(email or ""),
            role,
            tenant_id=tenant_id,
            employee_id=employee_id or None,
            password=password,
        )
    except store.StoreError as e:
        raise Refused(_store_message(e)) from None
    user = store.get_user(db, user_id)
    _audit(
        db,
        "admin_user_added",
        f"{user.email} (id {user_id})",
        f"role={role} employee={employee_id or '-'}",
    )
    return user.email, password


def change_role(db: Any, tenant_id: str, who: Any, role: Any) -> str:
    user = own_user(db, tenant_id, who)
    role = tenant_role(role)
    if user.id == current_user.id:
        raise Refused("You cannot change your own profile: ask another administrator.")
    if role in NEEDS_EMPLOYEE and not user.employee_id:
        raise Refused(
            f"{user.email} has no employee, so cannot have the {store.ROLE_NAMES[role]} profile."
        )
    if role == user.role:
        return f"{user.email} already has the {store.ROLE_NAMES[role]} profile."
    # tenant_id pins the tenant: a tenant profile never moves tenant from this page
    store.set_role(db, user.id, role, tenant_id=tenant_id)
    _audit(db, "admin_role_changed", f"{user.email} (id {user.id})", f"{user.role} -> {role}")
    return f"{user.email} now has the {store.ROLE_NAMES[role]} profile."


def set_active(db: Any, tenant_id: str, who: Any, active: bool) -> str:
    user = own_user(db, tenant_id, who)
    if user.id == current_user.id:
        raise Refused("You cannot deactivate or reactivate yourself.")
    if active == user.active:
        return f"{user.email} is already {'active' if active else 'deactivated'}."
    if active:
        store.activate(db, user.id)
        _audit(db, "admin_user_activated", f"{user.email} (id {user.id})", "")
        return f"{user.email} is active again."
    store.deactivate(db, user.id)
    _audit(db, "admin_user_deactivated", f"{user.email} (id {user.id})", "")
    return f"{user.email} is deactivated and signed out."


def _store_message(e: store.StoreError) -> str:
    text = str(e)
    # the store's messages are about our own input (email, duplicates, password): safe to show
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _clicked(button: str, clicks: Any) -> bool:
    """A real click on `button`: it fired this call and has a positive click count (a forged or
    initial call carries none)."""
    return (
        ctx.triggered_id == button
        and isinstance(clicks, int)
        and not isinstance(clicks, bool)
        and clicks > 0
    )


# --- the callback -----------------------------------------------------------------------------


@protected_callback(
    Output(GRID, "rowData"),
    Output(TARGET, "options"),
    Output(EMPLOYEE, "options"),
    Output(CREATED, "children"),
    Output(MESSAGE, "children"),
    Output(EMAIL, "value"),
    Input(ADD, "n_clicks"),
    Input(SET_ROLE, "n_clicks"),
    Input(DEACTIVATE, "n_clicks"),
    Input(REACTIVATE, "n_clicks"),
    State(EMAIL, "value"),
    State(ROLE, "value"),
    State(EMPLOYEE, "value"),
    State(TARGET, "value"),
    State(NEW_ROLE, "value"),
    roles=(ADMIN,),
)
def update_users(
    add_clicks: Any,
    role_clicks: Any,
    deactivate_clicks: Any,
    reactivate_clicks: Any,
    email: Any,
    role: Any,
    employee: Any,
    target: Any,
    new_role: Any,
) -> tuple[Any, ...]:
    db = app_settings().db
    tenant_id = current_user.tenant_id  # always the administrator's own tenant, never the browser's
    if not tenant_id:
        return (
            [],
            [],
            [],
            None,
            components.error_state("Your account has no organisation."),
            no_update,
        )
    created: Any = no_update
    message: Any = None
    email_value: Any = no_update
    try:
        if _clicked(ADD, add_clicks):
            new_email, password = add_user(db, tenant_id, email, role, employee)
            email_value = ""
            created = html.Div(
                [
                    html.P(
                        f"{new_email} was added. Copy this initial password now: it is shown "
                        "only once. Hand it over safely and have it changed soon (an operator "
                        "can set a new one with `selfcare users set-password`).",
                        className="alert alert-warn",
                    ),
                    html.Pre(password, className="code secret", id="users-password"),
                ]
            )
        elif _clicked(SET_ROLE, role_clicks):
            message = html.P(change_role(db, tenant_id, target, new_role), className="alert")
            created = None
        elif _clicked(DEACTIVATE, deactivate_clicks):
            message = html.P(set_active(db, tenant_id, target, False), className="alert")
            created = None
        elif _clicked(REACTIVATE, reactivate_clicks):
            message = html.P(set_active(db, tenant_id, target, True), className="alert")
            created = None
    except Refused as e:
        message = components.error_state(str(e))
    try:
        names = tenant_employees()
    except gate.GateError:
        names = {}
        message = message or components.error_state("Employee names could not be loaded.")
    users = tenant_users(db, tenant_id)
    employees = [
        {"label": f"{n} ({e})", "value": e}
        for e, n in sorted(names.items(), key=lambda x: (x[1], x[0]))
    ]
    return (
        grid_rows(users, names),
        target_options(users),
        employees,
        created,
        message,
        email_value,
    )
