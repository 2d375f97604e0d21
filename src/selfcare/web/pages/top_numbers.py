"""Top 50 numbers dialled: the numbers the viewer's lines call (or text) most in the period.

For admins and finance (the whole tenant), managers (their reporting chain's lines) and end users
(their own lines). Ranked by calls, minutes or cost, filterable by service, destination class and
the calling line's cost centre; a bar chart, a grid, and a drill-down listing which of the viewer's
lines called a number (click a bar or a row). Both tables export to CSV.
"""

from __future__ import annotations

import re

import dash
from dash import Input, Output, State, ctx, dcc, html

from selfcare import gate
from selfcare.contract import DESTINATION_CLASSES
from selfcare.roles import TENANT_ROLES
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import ANY_TEXT, DIGITS, Filter, choice, export_href, register_export
from selfcare.web.figures import top_numbers as fig

ROLES = TENANT_ROLES
SLUG = "top-numbers"

dash.register_page(
    __name__, path="/top-numbers", name="Top 50 numbers", order=40, roles=ROLES
)

register_export(
    "top_numbers",
    "reports.top_numbers",
    ROLES,
    filters={
        "by": Filter("by", choice("calls", "minutes", "cost"), "calls"),
        "service": Filter("service", choice("VOICE", "SMS"), "VOICE"),
        "destination_class": Filter("destination_class", choice(*DESTINATION_CLASSES), None),
        "cost_centre": Filter("cost_centre", ANY_TEXT, None),
    },
)
register_export(
    "top_numbers_lines",
    "reports.top_numbers_lines",
    ROLES,
    filters={
        "number": Filter("number", DIGITS, None),
        "service": Filter("service", choice("VOICE", "SMS"), "VOICE"),
        "cost_centre": Filter("cost_centre", ANY_TEXT, None),
    },
)

SERVICE = f"{SLUG}-service"
BY = f"{SLUG}-by"
CLASS = f"{SLUG}-class"
COST_CENTRE = f"{SLUG}-cost-centre"
CHART = f"{SLUG}-chart"
GRID = f"{SLUG}-grid"
STATUS = f"{SLUG}-status"
DOWNLOAD = f"{SLUG}-download"
LINES_TITLE = f"{SLUG}-lines-title"
LINES_GRID = f"{SLUG}-lines-grid"
LINES_STATUS = f"{SLUG}-lines-status"
LINES_DOWNLOAD = f"{SLUG}-lines-download"

NUMBER = re.compile(r"\A[0-9]{1,20}\Z", re.ASCII)

COLUMNS = [
    {"field": "rank", "headerName": "#", "maxWidth": 80, "filter": "agNumberColumnFilter"},
    {"field": "other_party", "headerName": "Number", "filter": "agTextColumnFilter"},
    {"field": "destination_class", "headerName": "Destination", "filter": "agTextColumnFilter"},
    {"field": "calls", "headerName": "Calls", "filter": "agNumberColumnFilter"},
    {"field": "minutes", "headerName": "Minutes", "filter": "agNumberColumnFilter",
     "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    components.money_column("cost", "Cost (ZAR)"),
    {"field": "lines", "headerName": "Lines", "filter": "agNumberColumnFilter"},
    {"field": "share", "headerName": "Share %", "filter": "agNumberColumnFilter",
     "valueFormatter": {"function": "params.value == null ? '' : d3.format('.2f')(params.value)"}},
]
LINE_COLUMNS = [
    {"field": "msisdn", "headerName": "Line", "filter": "agTextColumnFilter"},
    {"field": "employee_name", "headerName": "Employee", "filter": "agTextColumnFilter"},
    {"field": "calls", "headerName": "Calls", "filter": "agNumberColumnFilter"},
    {"field": "minutes", "headerName": "Minutes", "filter": "agNumberColumnFilter",
     "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    components.money_column("cost", "Cost (ZAR)"),
]


def layout(**kwargs):
    """Controls, chart and grids; every figure arrives by callback (no query here)."""
    return html.Div(
        [
            components.page_header(
                "Top 50 numbers dialled",
                "The numbers your lines call most; pick one to see which lines called it.",
            ),
            html.Div(
                [
                    html.Label("Service"),
                    dcc.RadioItems(
                        id=SERVICE,
                        options=[{"label": "Calls", "value": "VOICE"},
                                 {"label": "SMS", "value": "SMS"}],
                        value="VOICE",
                        inline=True,
                    ),
                    html.Label("Rank by"),
                    dcc.RadioItems(
                        id=BY,
                        options=[{"label": v, "value": k} for k, v in
                                 (("calls", "Calls"), ("minutes", "Minutes"), ("cost", "Cost"))],
                        value="calls",
                        inline=True,
                    ),
                    dcc.Dropdown(
                        id=CLASS,
                        options=[{"label": c.title(), "value": c} for c in DESTINATION_CLASSES],
                        placeholder="All destination classes",
                        clearable=True,
                        style={"minWidth": "220px"},
                    ),
                    dcc.Dropdown(
                        id=COST_CENTRE,
                        options=[],
                        placeholder="All cost centres",
                        clearable=True,
                        style={"minWidth": "260px"},
                    ),
                ],
                className="filters",
                style={"display": "flex", "gap": "12px", "alignItems": "center",
                       "flexWrap": "wrap"},
            ),
            html.Div(id=STATUS),
            dcc.Loading(dcc.Graph(id=CHART, config={"displaylogo": False})),
            html.A("Download CSV", id=DOWNLOAD, href="", className="download-link"),
            components.data_grid(
                GRID,
                columnDefs=COLUMNS,
                page_size=50,
                dashGridOptions={
                    "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                     "enableClickSelection": True},
                },
            ),
            html.H3("Which lines called this number", id=LINES_TITLE),
            html.Div(id=LINES_STATUS),
            components.data_grid(LINES_GRID, columnDefs=LINE_COLUMNS, height="360px"),
            html.A("Download CSV", id=LINES_DOWNLOAD, href="", className="download-link"),
        ]
    )


def _params(period_from, period_to, service, by, dest_class, cost_centre) -> dict:
    return {
        "period_from": period_from,
        "period_to": period_to,
        "service": service if service in ("VOICE", "SMS") else "VOICE",
        "by": by if by in fig.MEASURES else "calls",
        "destination_class": dest_class if dest_class in DESTINATION_CLASSES else None,
        "cost_centre": cost_centre or None,
    }


@protected_callback(
    Output(COST_CENTRE, "options"),
    Input(components.PERIOD_FROM, "value"),
    roles=ROLES,
)
def update_cost_centres(_period_from):
    try:
        df = gate.run("reports.top_numbers_cost_centres", gate.current_scope())
    except gate.GateError:
        return []
    return [{"label": r.cost_centre_name, "value": r.cost_centre_id}
            for r in df.itertuples(index=False)]


@protected_callback(
    Output(CHART, "figure"),
    Output(GRID, "rowData"),
    Output(STATUS, "children"),
    Output(DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(SERVICE, "value"),
    Input(BY, "value"),
    Input(CLASS, "value"),
    Input(COST_CENTRE, "value"),
    roles=ROLES,
)
def update_top_numbers(period_from, period_to, vat, service, by, dest_class, cost_centre):
    if not period_from or not period_to:
        return components.empty_figure(), [], components.empty_state("Choose a period."), ""
    params = _params(period_from, period_to, service, by, dest_class, cost_centre)
    href = export_href("top_numbers", {
        "from": period_from, "to": period_to, "by": params["by"], "service": params["service"],
        "destination_class": params["destination_class"], "cost_centre": params["cost_centre"],
    })
    try:
        df = gate.run("reports.top_numbers", gate.current_scope(), **params)
    except gate.GateError:
        return (components.empty_figure(), [],
                components.error_state("The numbers could not be loaded; try again later."), href)
    if df.empty:
        return (components.empty_figure(), [],
                components.empty_state("No usage in this period"), href)
    incl = components.vat_on(vat)
    return (fig.top_numbers_figure(df, params["by"], incl), fig.top_numbers_rows(df, incl),
            None, href)


def _picked_number(click_data, selected_rows) -> str | None:
    """The number picked on the chart (a bar) or in the grid (a selected row)."""
    if ctx.triggered_id == CHART and click_data and click_data.get("points"):
        value = str(click_data["points"][0].get("y", ""))
    elif selected_rows:
        value = str(selected_rows[0].get("other_party", ""))
    else:
        return None
    # the number is sent back by the browser: only digits reach a query, and it is bound anyway
    return value if NUMBER.match(value) else None


@protected_callback(
    Output(LINES_TITLE, "children"),
    Output(LINES_GRID, "rowData"),
    Output(LINES_STATUS, "children"),
    Output(LINES_DOWNLOAD, "href"),
    Input(CHART, "clickData"),
    Input(GRID, "selectedRows"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(SERVICE, "value"),
    State(COST_CENTRE, "value"),
    roles=ROLES,
)
def update_lines(click_data, selected_rows, period_from, period_to, vat, service, cost_centre):
    number = _picked_number(click_data, selected_rows)
    title = "Which lines called this number"
    if not number or not period_from or not period_to:
        return title, [], components.empty_state("Pick a number in the chart or the table."), ""
    params = {
        "period_from": period_from,
        "period_to": period_to,
        "number": number,
        "service": service if service in ("VOICE", "SMS") else "VOICE",
        "cost_centre": cost_centre or None,
    }
    href = export_href("top_numbers_lines", {
        "from": period_from, "to": period_to, "number": number, "service": params["service"],
        "cost_centre": params["cost_centre"],
    })
    title = f"Which lines called {number}"
    try:
        df = gate.run("reports.top_numbers_lines", gate.current_scope(), **params)
    except gate.GateError:
        return title, [], components.error_state("The lines could not be loaded."), href
    if df.empty:
        return title, [], components.empty_state("No usage in this period"), href
    return title, fig.lines_rows(df, components.vat_on(vat)), None, href
