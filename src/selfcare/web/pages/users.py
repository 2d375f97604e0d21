"""Users: the Administrator manages the portal users of their own tenant.

Lists the tenant's users (never another tenant's, never the operator's analysts, who are managed
with the CLI), adds a user with a generated initial password shown once, changes a user's profile
among the four tenant profiles, deactivates and reactivates users. Administrators only.

This page is a privilege boundary, so every callback re-derives everything from the session: the
tenant is the signed-in administrator's, a user id sent by the browser is re-read from the
database and must belong to that tenant, a role must be one of the tenant roles, and an employee
id must be an employee of the tenant (checked through the gate). Nothing happens without a real
click on an action button (a forged request without one changes nothing), an administrator
cannot deactivate or demote themselves, and every change is audited with the acting
administrator. Deactivation and profile changes take effect on the user's next request (the
services bump the session version and users are reloaded per request).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask import request
from flask_login import current_user

from selfcare import gate
from selfcare.roles import ADMIN, ROLE_NAMES, TENANT_ROLES
from selfcare.services import ServiceError, users
from selfcare.web import components
from selfcare.web.auth import app_db
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

ROLE_OPTIONS = [{"label": ROLE_NAMES[r], "value": r} for r in TENANT_ROLES]

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
            "profile": ROLE_NAMES.get(u["role"], u["role"]),
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
            "label": f"{u['email']} ({ROLE_NAMES.get(u['role'], u['role'])}"
            f"{'' if u['active'] else ', deactivated'})",
            "value": int(u["id"]),
        }
        for u in users
    ]


# --- server-side checks -----------------------------------------------------------------------
# The rules (own tenant only, tenant profiles only, an employee for manager and end user, never
# oneself) are the services' (selfcare.services.users), shared with the CLI; the page adds what
# only it knows: the tenant's employees, read through the gate.


class Refused(Exception):
    """An action the page refuses; the message is shown to the administrator."""


def tenant_employees() -> dict[str, str]:
    """employee_id -> name for the signed-in administrator's tenant, through the gate."""
    df = gate.run("reports.users_employees", gate.current_scope())
    if df.empty:
        return {}
    return dict(zip(df.employee_id.astype(str), df.employee_name.astype(str), strict=True))


def _checked_employees() -> dict[str, str]:
    try:
        return tenant_employees()
    except gate.GateError:
        raise Refused("The employee list could not be checked. Try again later.") from None


def add_user(db: Any, email: Any, role: Any, employee: Any) -> tuple[str, str]:
    """Create a user in the administrator's tenant; returns (email, generated password)."""
    try:
        user, password = users.add_by_admin(
            db, current_user, email, role, employee, _checked_employees, ip=request.remote_addr
        )
    except ServiceError as e:
        raise Refused(e.sentence()) from None
    return user.email, password


def change_role(db: Any, who: Any, role: Any) -> str:
    try:
        return users.change_role_by_admin(db, current_user, who, role, ip=request.remote_addr)
    except ServiceError as e:
        raise Refused(e.sentence()) from None


def set_active(db: Any, who: Any, active: bool) -> str:
    try:
        return users.set_active_by_admin(db, current_user, who, active, ip=request.remote_addr)
    except ServiceError as e:
        raise Refused(e.sentence()) from None


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
    db = app_db()
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
            new_email, password = add_user(db, email, role, employee)
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
            message = html.P(change_role(db, target, new_role), className="alert")
            created = None
        elif _clicked(DEACTIVATE, deactivate_clicks):
            message = html.P(set_active(db, target, False), className="alert")
            created = None
        elif _clicked(REACTIVATE, reactivate_clicks):
            message = html.P(set_active(db, target, True), className="alert")
            created = None
    except Refused as e:
        message = components.error_state(str(e))
    try:
        names = tenant_employees()
    except gate.GateError:
        names = {}
        message = message or components.error_state("Employee names could not be loaded.")
    listed = users.tenant_users(db, current_user)
    employees = [
        {"label": f"{n} ({e})", "value": e}
        for e, n in sorted(names.items(), key=lambda x: (x[1], x[0]))
    ]
    return (
        grid_rows(listed, names),
        target_options(listed),
        employees,
        created,
        message,
        email_value,
    )
