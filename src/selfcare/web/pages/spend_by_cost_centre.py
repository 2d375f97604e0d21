"""Spend by cost centre: where the money goes along the company's cost-centre tree.

For admins and finance (the whole tenant's invoices, including account-level charges, unassigned
lines and numbers missing from the line register, each as its own row) and managers (their
reporting chain's lines only). A treemap of the tree (each cost centre's spend rolled up from the
ones below it), a table with spend, lines, spend per line and the change against the previous
periods of the same length, and a drill-down: pick a cost centre to see its employees and lines,
an employee to narrow the lines, a line to open its itemised records. The page's total is the
invoice total for the viewer's scope. Every table exports to CSV.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import dash
from dash import Input, Output, ctx, dcc, html

from selfcare import gate
from selfcare.roles import ADMIN, FINANCE, MANAGER
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import Filter, pattern, register_export
from selfcare.web.figures import overview as overview_fig
from selfcare.web.figures import spend_by_cost_centre as fig

ROLES = (ADMIN, FINANCE, MANAGER)
SLUG = "spend-by-cost-centre"

dash.register_page(
    __name__, path="/spend-by-cost-centre", name="Spend by cost centre", order=10, roles=ROLES
)

ID = pattern(r"[A-Za-z0-9_-]{1,40}", "an id (letters, digits, - or _)")
register_export("spend_by_cost_centre", "reports.spend_by_cost_centre", ROLES)
register_export("spend_by_cost_centre_tree", "reports.spend_by_cost_centre_tree", ROLES)
register_export(
    "spend_by_employee",
    "reports.spend_by_employee",
    ROLES,
    filters={"cost_centre": Filter("cost_centre_id", ID, None)},
)

TREE = f"{SLUG}-tree"
TOTAL = f"{SLUG}-total"
STATUS = f"{SLUG}-status"
GRID = f"{SLUG}-grid"
DOWNLOAD = f"{SLUG}-download"
TREE_DOWNLOAD = f"{SLUG}-tree-download"
SELECTED = f"{SLUG}-selected"
DRILL_TITLE = f"{SLUG}-drill-title"
EMPLOYEES_GRID = f"{SLUG}-employees-grid"
EMPLOYEES_STATUS = f"{SLUG}-employees-status"
EMPLOYEES_DOWNLOAD = f"{SLUG}-employees-download"
LINES_GRID = f"{SLUG}-lines-grid"
LINES_STATUS = f"{SLUG}-lines-status"
LINES_DOWNLOAD = f"{SLUG}-lines-download"
LINES_ITEMISED = f"{SLUG}-lines-itemised"

LINE_COLUMNS = overview_fig.line_columns()
SELECT_ONE = overview_fig.SELECT_ONE
FAILED = "This view could not be loaded. Try again later."
NO_PERIOD = "No bill periods are loaded yet."
ID_TEXT = re.compile(r"\A[A-Za-z0-9_-]{1,40}\Z", re.ASCII)

COLUMNS = [
    {"field": "cost_centre_name", "headerName": "Cost centre", "filter": "agTextColumnFilter",
     "minWidth": 180},
    {"field": "parent_name", "headerName": "Part of", "filter": "agTextColumnFilter"},
    {"field": "lines", "headerName": "Lines", "filter": "agNumberColumnFilter"},
    components.money_column("spend", "Spend (incl. cost centres below)"),
    components.money_column("spend_per_line", "Spend per line"),
    components.money_column("previous", "Previous period"),
    components.money_column("change", "Change"),
    {"field": "change_pct", "headerName": "Change %", "filter": "agNumberColumnFilter",
     "type": "rightAligned"},
    components.money_column("direct_spend", "Own spend"),
]
EMPLOYEE_COLUMNS = [
    {"field": "employee_name", "headerName": "Employee", "filter": "agTextColumnFilter"},
    {"field": "employee_id", "headerName": "Employee id", "filter": "agTextColumnFilter"},
    {"field": "cost_centre_name", "headerName": "Cost centre", "filter": "agTextColumnFilter"},
    {"field": "lines", "headerName": "Lines", "filter": "agNumberColumnFilter"},
    components.money_column("spend", "Spend"),
]


def layout(**kwargs):
    """Treemap, table and drill-down grids; every figure arrives by callback (no query here)."""
    return html.Div(
        [
            components.page_header(
                "Spend by cost centre",
                "Invoice spend along your cost-centre tree. Select a cost centre (in the table or "
                "the treemap) to see its employees and lines.",
            ),
            dcc.Store(id=SELECTED),  # the selected cost-centre id only, never data
            html.Div(id=STATUS),
            html.Div(id=TOTAL, className="kpi-row"),
            components.card("Cost-centre tree", dcc.Loading(dcc.Graph(
                id=TREE, config={"displaylogo": False}, figure={"data": [], "layout": {}}))),
            components.card(
                "Cost centres",
                components.data_grid(GRID, columnDefs=COLUMNS, height="420px",
                                     dashGridOptions=SELECT_ONE,
                                     getRowId="params.data.cost_centre_id"),
                html.Div([
                    html.A("Download CSV (per cost centre and month)", id=DOWNLOAD, href="",
                           className="download-link"),
                    html.A("Download this table", id=TREE_DOWNLOAD, href="",
                           className="download-link", style={"marginLeft": "16px"}),
                ]),
            ),
            components.card(
                "Drill-down",
                html.P("Select a cost centre above.", id=DRILL_TITLE, className="card-note"),
                html.H4("Employees"),
                html.Div(id=EMPLOYEES_STATUS),
                components.data_grid(EMPLOYEES_GRID, columnDefs=EMPLOYEE_COLUMNS,
                                     height="300px", page_size=10, dashGridOptions=SELECT_ONE),
                html.A("Download CSV", id=EMPLOYEES_DOWNLOAD, href="", className="download-link"),
                html.H4("Lines"),
                html.Div(id=LINES_STATUS),
                components.data_grid(LINES_GRID, columnDefs=LINE_COLUMNS, height="300px",
                                     page_size=10, dashGridOptions=SELECT_ONE,
                                     getRowId="params.data.msisdn"),
                html.Div(id=LINES_ITEMISED),
                html.A("Download CSV", id=LINES_DOWNLOAD, href="", className="download-link"),
            ),
        ]
    )


def href(report: str, **query) -> str:
    """The CSV export URL of a report for the current selection."""
    return f"/export/{report}.csv?" + urlencode({k: v for k, v in query.items() if v})


@protected_callback(
    Output(TREE, "figure"),
    Output(GRID, "rowData"),
    Output(TOTAL, "children"),
    Output(STATUS, "children"),
    Output(DOWNLOAD, "href"),
    Output(TREE_DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_tree(period_from, period_to, vat):
    blank = {"data": [], "layout": {}}
    if not (period_from and period_to and period_from <= period_to):
        return blank, [], None, components.empty_state(NO_PERIOD), "", ""
    period = {"from": period_from, "to": period_to}
    links = href("spend_by_cost_centre", **period), href("spend_by_cost_centre_tree", **period)
    try:
        df = gate.run("reports.spend_by_cost_centre_tree", gate.current_scope(),
                      period_from=period_from, period_to=period_to)
    except gate.GateError:
        return blank, [], None, components.error_state(FAILED), *links
    if df.empty:
        return blank, [], None, components.empty_state("No usage in this period."), *links
    incl = components.vat_on(vat)
    total = components.kpi_card(
        "Total spend" + (" (incl. VAT)" if incl else " (excl. VAT)"),
        components.money(fig.tree_total(df, incl)), id=f"{SLUG}-kpi-total",
    )
    return fig.tree_figure(df, incl), fig.tree_rows(df, incl), total, None, *links


@protected_callback(
    Output(SELECTED, "data"),
    Input(GRID, "selectedRows"),
    Input(TREE, "clickData"),
    prevent_initial_call=True,
    roles=ROLES,
)
def update_selected(rows, click):
    """The cost centre picked in the table or the treemap (whichever moved last)."""
    picked = None
    if ctx.triggered_id == TREE and click and click.get("points"):
        picked = click["points"][0].get("id")
    elif rows:
        picked = rows[0].get("cost_centre_id")
    if not isinstance(picked, str) or not ID_TEXT.match(picked) or picked == fig.ROOT:
        return None
    return picked


@protected_callback(
    Output(EMPLOYEES_GRID, "rowData"),
    Output(EMPLOYEES_STATUS, "children"),
    Output(EMPLOYEES_DOWNLOAD, "href"),
    Output(DRILL_TITLE, "children"),
    Input(SELECTED, "data"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_employees(cost_centre, period_from, period_to, vat):
    if not cost_centre or not (period_from and period_to and period_from <= period_to):
        return [], None, "", "Select a cost centre above."
    link = href("spend_by_employee", **{"from": period_from, "to": period_to,
                                        "cost_centre": cost_centre})
    title = f"Cost centre {cost_centre} and every cost centre below it."
    try:
        df = gate.run("reports.spend_by_employee", gate.current_scope(), period_from=period_from,
                      period_to=period_to, cost_centre_id=cost_centre)
    except gate.GateError:
        return [], components.error_state(FAILED), link, title
    if df.empty:
        return [], components.empty_state("No usage in this period."), link, title
    return fig.employee_rows(df, components.vat_on(vat)), None, link, title


@protected_callback(
    Output(LINES_GRID, "rowData"),
    Output(LINES_STATUS, "children"),
    Output(LINES_DOWNLOAD, "href"),
    Input(SELECTED, "data"),
    Input(EMPLOYEES_GRID, "selectedRows"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_lines(cost_centre, employees, period_from, period_to, vat):
    if not cost_centre or not (period_from and period_to and period_from <= period_to):
        return [], None, ""
    employee = (employees or [{}])[0].get("employee_id") or None
    if ctx.triggered_id == SELECTED or not (isinstance(employee, str) and ID_TEXT.match(employee)):
        employee = None  # a new cost centre starts unfiltered
    link = href("lines", **{"from": period_from, "to": period_to, "cost_centre": cost_centre,
                            "employee": employee})
    try:
        df = gate.run("reports.lines_spend", gate.current_scope(), period_from=period_from,
                      period_to=period_to, cost_centre_id=cost_centre, employee_id=employee)
    except gate.GateError:
        return [], components.error_state(FAILED), link
    if df.empty:
        return [], components.empty_state("No lines here."), link
    return overview_fig.lines_rows(df, components.vat_on(vat)), None, link


@protected_callback(
    Output(LINES_ITEMISED, "children"),
    Input(LINES_GRID, "selectedRows"),
    roles=ROLES,
)
def update_lines_itemised(rows):
    return overview_fig.itemised_link(rows)
