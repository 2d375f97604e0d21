"""Lines: the viewer's lines, searchable, each linking to its own page.

For every tenant profile: Administrators and Financial Managers see every line of their company,
Managers their reporting chain's, End Users their own (the services decide; this page never
filters). Search by number, employee name or cost centre; a page of lines at a time (number,
employee, cost centre, plan, status, how many services, open orders), paged with the services'
cursor. For the Administrator, also the discrepancies: completed orders that a newer operator
snapshot contradicts (the operator confirmed a change it did not make).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html
from flask_login import current_user

from selfcare.roles import ADMIN, TENANT_ROLES
from selfcare.services import orders as order_service
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/lines",
    name="Lines",
    title="Lines · SelfCare",
    order=100,
    roles=TENANT_ROLES,
)

SEARCH = "lines-search"
TABLE = "lines-table"
STATUS = "lines-status"
PAGER = "lines-pager"
PREV = "lines-prev"
NEXT = "lines-next"
PAGE_LABEL = "lines-page-label"
DISCREPANCIES = "lines-discrepancies"
DISCREPANCIES_LOAD = "lines-discrepancies-load"

PAGE_SIZE = 25
MAX_SEARCH = 80
HEADERS = ("Number", "Employee", "Cost centre", "Plan", "Status", "Services", "Open orders")


def layout(**_: Any) -> html.Div:
    children: list[Any] = [
        components.page_header(
            "Lines",
            "The mobile lines you can see. Open a line to see its services and orders, or to "
            "request a change.",
        ),
        components.card(
            None,
            html.Div(
                [
                    html.Label("Search", htmlFor=SEARCH),
                    dcc.Input(
                        id=SEARCH,
                        type="search",
                        placeholder="Number, employee or cost centre",
                        maxLength=MAX_SEARCH,
                        debounce=True,
                        className="input",
                    ),
                ],
                className="form-row",
            ),
            html.Div(id=STATUS),
            html.Div(id=TABLE),
            html.Div(
                [
                    html.Button("Previous", id=PREV, className="btn btn-small", disabled=True),
                    html.Span(id=PAGE_LABEL, className="muted"),
                    html.Button("Next", id=NEXT, className="btn btn-small", disabled=True),
                ],
                className="form-row",
            ),
            dcc.Store(id=PAGER, data={"search": "", "cursors": [None], "page": 0, "next": None}),
        ),
    ]
    if _is_admin():
        children.append(
            components.card(
                "Discrepancies: completed orders the operator's newest snapshot contradicts",
                dcc.Store(id=DISCREPANCIES_LOAD, data=True),
                html.Div(id=DISCREPANCIES),
            )
        )
    return html.Div(children)


def _is_admin() -> bool:
    user = current_user
    return bool(user and getattr(user, "is_authenticated", False) and user.role == ADMIN)


# --- pure helpers -----------------------------------------------------------------------------


def clean_search(value: Any) -> str:
    """What was typed, trimmed and bounded; anything but text is no search."""
    return value.strip()[:MAX_SEARCH] if isinstance(value, str) else ""


def _count(value: Any) -> int:
    """A count that a view gives as a number or as the list itself."""
    if isinstance(value, int | float):
        return int(value)
    try:
        return len(value)
    except TypeError:
        return 0


def line_href(msisdn: str) -> str:
    return f"/lines/{msisdn}"


def line_rows(lines: list[Any]) -> list[list[Any]]:
    """Table cells for a page of `LineView`s."""
    return [
        [
            dcc.Link(line.msisdn, href=line_href(line.msisdn), className="line-link"),
            line.employee_name or "Unassigned",
            line.cost_centre_name or "–",
            line.plan_name or line.plan_code,
            components.state_badge(str(line.status).lower()) if line.status else "–",
            _count(line.services),
            _count(line.open_orders),
        ]
        for line in lines
    ]


def next_pager(pager: Any, trigger: Any, search: str) -> dict[str, Any]:
    """The pager after a search (back to page 1), a Next or a Previous click. Cursors are the
    services' own opaque strings; the services check them again."""
    fresh = {"search": search, "cursors": [None], "page": 0, "next": None}
    if not isinstance(pager, dict) or pager.get("search") != search or trigger == SEARCH:
        return fresh
    cursors = pager.get("cursors")
    page = pager.get("page")
    if not isinstance(cursors, list) or not isinstance(page, int) or not 0 <= page < len(cursors):
        return fresh
    if trigger == NEXT and isinstance(pager.get("next"), str):
        cursors = [*cursors[: page + 1], pager["next"]]
        page += 1
    elif trigger == PREV and page > 0:
        page -= 1
    return {"search": search, "cursors": cursors, "page": page, "next": None}


# --- callbacks --------------------------------------------------------------------------------


@protected_callback(
    Output(TABLE, "children"),
    Output(STATUS, "children"),
    Output(PAGER, "data"),
    Output(PREV, "disabled"),
    Output(NEXT, "disabled"),
    Output(PAGE_LABEL, "children"),
    Input(SEARCH, "value"),
    Input(NEXT, "n_clicks"),
    Input(PREV, "n_clicks"),
    State(PAGER, "data"),
    roles=TENANT_ROLES,
)
def update_lines(search: Any, _next: Any, _prev: Any, pager: Any) -> tuple[Any, ...]:
    text = clean_search(search)
    state = next_pager(pager, ctx.triggered_id, text)
    cursor = state["cursors"][state["page"]]
    try:
        lines, following = order_service.lines_for(
            app_db(), current_user, search=text or None, cursor=cursor, limit=PAGE_SIZE
        )
    except order_service.InvalidParams:
        # a stale or forged cursor: start again from the first page
        state = {"search": text, "cursors": [None], "page": 0, "next": None}
        lines, following = order_service.lines_for(
            app_db(), current_user, search=text or None, cursor=None, limit=PAGE_SIZE
        )
    state["next"] = following
    label = f"Page {state['page'] + 1}"
    if not lines:
        empty = "No line matches this search." if text else "You have no lines to show."
        return None, components.empty_state(empty), state, state["page"] == 0, True, label
    table = components.simple_table(HEADERS, line_rows(lines))
    return table, None, state, state["page"] == 0, following is None, label


@protected_callback(
    Output(DISCREPANCIES, "children"),
    Input(DISCREPANCIES_LOAD, "data"),
    roles=(ADMIN,),
)
def update_discrepancies(_: Any) -> Any:
    found = order_service.discrepancies(app_db(), current_user)
    if not found:
        return components.empty_state(
            "None: every completed order is reflected in the operator's newest snapshot."
        )
    return components.simple_table(
        ("Order", "Line", "Field", "Order set", "Completed", "Snapshot says"),
        discrepancy_rows(found),
    )


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value)) or "none"
    return "–" if value is None else str(value)


def discrepancy_rows(found: list[Any]) -> list[list[Any]]:
    rows = []
    for d in found:
        rows.append(
            [
                dcc.Link(str(d.reference), href=f"/requests/{d.order_id}"),
                dcc.Link(d.msisdn, href=line_href(d.msisdn)),
                str(d.field).replace("_", " "),
                _shown(d.expected),
                components.when(d.completed_at),
                f"{_shown(d.snapshot)} (snapshot of {d.snapshot_as_of})",
            ]
        )
    return rows

