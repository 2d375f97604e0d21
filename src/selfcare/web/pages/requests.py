"""Requests: the orders of the viewer, in three lists.

"My requests" (orders the viewer placed), "Waiting for my approval" (orders the viewer may
approve now) and, for Administrators and Financial Managers, "All in the company". Filters by
state, line, action and creation date. Each row links to the order's page. For every tenant
profile; what each list holds is the services' answer for the signed-in user (an order the viewer
may not see never reaches this page), paged with the services' cursor.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html
from flask_login import current_user

from selfcare.orders.lifecycle import OrderState
from selfcare.roles import ALL_LINE_ROLES, END_USER, TENANT_ROLES
from selfcare.services import orders as order_service
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/requests",
    name="Requests",
    title="Requests · SelfCare",
    order=110,
    roles=TENANT_ROLES,
)

TABS = "requests-tabs"
STATE = "requests-state"
LINE = "requests-line"
ACTION = "requests-action"
SINCE = "requests-since"
UNTIL = "requests-until"
TABLE = "requests-table"
STATUS = "requests-status"
PAGER = "requests-pager"
PREV = "requests-prev"
NEXT = "requests-next"
PAGE_LABEL = "requests-page-label"

MINE, AWAITING, ALL = "mine", "awaiting", "all"
PAGE_SIZE = 25
HEADERS = ("Order", "Created", "Requested by", "Action", "Lines", "State", "Monthly", "Once-off")
# the order states are the domain's (orders.lifecycle), not a copy kept here
ORDER_STATES = tuple(s.value for s in OrderState)
ISO_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MSISDN = re.compile(r"\A[0-9]{6,20}\Z")


def tabs_for(role: str) -> list[tuple[str, str]]:
    tabs = [(MINE, "My requests"), (AWAITING, "Waiting for my approval")]
    if role in ALL_LINE_ROLES:
        tabs.append((ALL, "All in the company"))
    return tabs


def layout(**_: Any) -> html.Div:
    role = getattr(current_user, "role", END_USER) if current_user else END_USER
    tabs = tabs_for(role)
    first = MINE if role == END_USER else AWAITING
    return html.Div(
        [
            components.page_header(
                "Requests",
                "Changes to lines: what you asked for, what waits for your decision"
                + (", and everything in your company." if role in ALL_LINE_ROLES else "."),
            ),
            dcc.Tabs(
                id=TABS,
                value=first,
                children=[dcc.Tab(label=label, value=value) for value, label in tabs],
            ),
            components.card(
                None,
                html.Div(
                    [
                        dcc.Dropdown(
                            id=STATE,
                            options=[
                                {"label": components.state_name(s), "value": s}
                                for s in ORDER_STATES
                            ],
                            placeholder="Any state",
                            className="dropdown",
                            style={"minWidth": "200px"},
                        ),
                        dcc.Input(
                            id=LINE,
                            type="search",
                            placeholder="Line number",
                            maxLength=20,
                            debounce=True,
                            className="input",
                            style={"minWidth": "160px"},
                        ),
                        dcc.Dropdown(
                            id=ACTION,
                            options=[
                                {"label": name, "value": code}
                                for code, name in components.ACTION_NAMES.items()
                            ],
                            placeholder="Any action",
                            className="dropdown",
                            style={"minWidth": "200px"},
                        ),
                        html.Label("From", htmlFor=SINCE),
                        dcc.Input(id=SINCE, type="date", debounce=True, className="input",
                                  style={"minWidth": "150px"}),
                        html.Label("to", htmlFor=UNTIL),
                        dcc.Input(id=UNTIL, type="date", debounce=True, className="input",
                                  style={"minWidth": "150px"}),
                    ],
                    className="form-row",
                ),
                html.Div(id=STATUS),
                html.Div(id=TABLE),
                html.Div(
                    [
                        html.Button("Previous", id=PREV, className="btn btn-small",
                                    disabled=True),
                        html.Span(id=PAGE_LABEL, className="muted"),
                        html.Button("Next", id=NEXT, className="btn btn-small", disabled=True),
                    ],
                    className="form-row",
                ),
                dcc.Store(id=PAGER, data={}),
            ),
        ]
    )


# --- pure helpers -----------------------------------------------------------------------------


def clean_date(value: Any) -> str | None:
    """A YYYY-MM-DD date that exists, else None (no filter)."""
    if not isinstance(value, str) or not ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def filters(tab: Any, role: str, state: Any, line: Any, action: Any, since: Any,
            until: Any) -> tuple[dict[str, Any], str | None]:
    """The services' list_orders keywords from the page's controls, and a note for the viewer
    when a control holds something that cannot be a filter (ignored, never passed on)."""
    note = None
    tab = tab if tab in dict(tabs_for(role)) else MINE
    kw: dict[str, Any] = {"mine": tab == MINE, "awaiting_me": tab == AWAITING}
    if isinstance(state, str) and state in ORDER_STATES:
        kw["state"] = state
    if isinstance(action, str) and action in components.ACTION_NAMES:
        kw["action"] = action
    if isinstance(line, str) and line.strip():
        digits = line.strip().replace(" ", "")
        if MSISDN.match(digits):
            kw["msisdn"] = digits
        else:
            note = "A line number is digits only (6 to 20); the line filter is ignored."
    kw["since"], kw["until"] = clean_date(since), clean_date(until)
    if kw["since"] and kw["until"] and kw["since"] > kw["until"]:
        kw["since"], kw["until"] = kw["until"], kw["since"]
    return kw, note


def _lines_text(order: Any) -> str:
    numbers = [line.msisdn or "new line" for line in order.lines]
    return ", ".join(numbers[:3]) + (f" and {len(numbers) - 3} more" if len(numbers) > 3 else "")


def order_href(order_id: int) -> str:
    return f"/requests/{int(order_id)}"


def order_rows(orders: list[Any]) -> list[list[Any]]:
    return [
        [
            dcc.Link(o.reference, href=order_href(o.id), className="order-link"),
            components.when(o.created_at),
            o.requester_email,
            components.action_name(o.action),
            _lines_text(o),
            components.state_badge(o.state),
            components.money_change(o.monthly_change),
            components.money_change(o.once_off_change),
        ]
        for o in orders
    ]


def next_pager(pager: Any, trigger: Any, key: str) -> dict[str, Any]:
    """Back to page 1 when the filters changed; else one page on or back (cursors are the
    services' opaque strings, checked again by them)."""
    fresh = {"key": key, "cursors": [None], "page": 0, "next": None}
    if not isinstance(pager, dict) or pager.get("key") != key:
        return fresh
    cursors, page = pager.get("cursors"), pager.get("page")
    if not isinstance(cursors, list) or not isinstance(page, int) or not 0 <= page < len(cursors):
        return fresh
    if trigger == NEXT and isinstance(pager.get("next"), str):
        cursors, page = [*cursors[: page + 1], pager["next"]], page + 1
    elif trigger == PREV and page > 0:
        page -= 1
    elif trigger not in (NEXT, PREV):
        return fresh
    return {"key": key, "cursors": cursors, "page": page, "next": None}


EMPTY = {
    MINE: "You have not requested anything yet. Open a line to request a change.",
    AWAITING: "Nothing waits for your approval.",
    ALL: "No requests in your company yet.",
}


# --- the callback -----------------------------------------------------------------------------


@protected_callback(
    Output(TABLE, "children"),
    Output(STATUS, "children"),
    Output(PAGER, "data"),
    Output(PREV, "disabled"),
    Output(NEXT, "disabled"),
    Output(PAGE_LABEL, "children"),
    Input(TABS, "value"),
    Input(STATE, "value"),
    Input(LINE, "value"),
    Input(ACTION, "value"),
    Input(SINCE, "value"),
    Input(UNTIL, "value"),
    Input(NEXT, "n_clicks"),
    Input(PREV, "n_clicks"),
    State(PAGER, "data"),
    roles=TENANT_ROLES,
)
def update_requests(tab: Any, state: Any, line: Any, action: Any, since: Any, until: Any,
                    _next: Any, _prev: Any, pager: Any) -> tuple[Any, ...]:
    kw, note = filters(tab, current_user.role, state, line, action, since, until)
    key = repr(sorted(kw.items()))
    pg = next_pager(pager, ctx.triggered_id, key)
    try:
        orders, following = order_service.list_orders(
            app_db(), current_user, cursor=pg["cursors"][pg["page"]], limit=PAGE_SIZE, **kw
        )
    except order_service.InvalidParams:
        pg = {"key": key, "cursors": [None], "page": 0, "next": None}
        orders, following = order_service.list_orders(
            app_db(), current_user, cursor=None, limit=PAGE_SIZE, **kw
        )
    pg["next"] = following
    label = f"Page {pg['page'] + 1}"
    status = html.P(note, className="alert alert-warn") if note else None
    if not orders:
        which = MINE if kw["mine"] else AWAITING if kw["awaiting_me"] else ALL
        filtered = any(kw.get(k) for k in ("state", "msisdn", "action", "since", "until"))
        text = "No request matches these filters." if filtered else EMPTY[which]
        return None, [status, components.empty_state(text)], pg, pg["page"] == 0, True, label
    table = components.simple_table(HEADERS, order_rows(orders))
    return table, status, pg, pg["page"] == 0, following is None, label

