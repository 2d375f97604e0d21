"""Overview: the landing page of every tenant profile (admin, finance, manager, end user).

For the viewer's lines (the whole tenant for admin and finance, the reporting chain for a manager,
their own lines for an end user) and the selected bill periods: headline KPIs (spend and its
change against the previous periods of the same length, active lines, voice minutes, SMS, data),
a 12-month spend trend by charge type, the lines whose spend grew most in the last month, alerts
for unusual spend (roaming bill shock, spend spikes; the rules are stated on the page) and the
viewer's lines with their spend, each opening its itemised records. Every table exports to CSV.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, dcc, html

from selfcare import gate
from selfcare.roles import TENANT_ROLES
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import Filter, pattern, register_export
from selfcare.web.figures import overview as fig

ROLES = TENANT_ROLES
SLUG = "overview"

dash.register_page(__name__, path="/overview", name="Overview", order=0, roles=ROLES)

ID = pattern(r"[A-Za-z0-9_-]{1,40}", "an id (letters, digits, - or _)")
register_export("overview_increases", "reports.overview_increases", ROLES)
register_export("overview_alerts", "reports.overview_alerts", ROLES)
register_export(
    "lines",
    "reports.lines_spend",
    ROLES,
    filters={
        "cost_centre": Filter("cost_centre_id", ID, None),
        "employee": Filter("employee_id", ID, None),
    },
)

KPIS = f"{SLUG}-kpis"
TREND = f"{SLUG}-trend"
INCREASES_CHART = f"{SLUG}-increases-chart"
INCREASES_GRID = f"{SLUG}-increases-grid"
INCREASES_STATUS = f"{SLUG}-increases-status"
INCREASES_DOWNLOAD = f"{SLUG}-increases-download"
INCREASES_TITLE = f"{SLUG}-increases-title"
INCREASES_TABLE = f"{SLUG}-increases-table"
ALERTS_TABLE = f"{SLUG}-alerts-table"
ALERTS_GRID = f"{SLUG}-alerts-grid"
ALERTS_STATUS = f"{SLUG}-alerts-status"
ALERTS_DOWNLOAD = f"{SLUG}-alerts-download"
LINES_GRID = f"{SLUG}-lines-grid"
LINES_STATUS = f"{SLUG}-lines-status"
LINES_DOWNLOAD = f"{SLUG}-lines-download"
LINES_ITEMISED = f"{SLUG}-lines-itemised"

NO_PERIOD = "No bill periods are loaded yet."
NO_USAGE = "No usage in this period."
FAILED = "This view could not be loaded. Try again later."

ALERT_RULES = (
    "Roaming bill shock: a line's roaming charges in a month exceed R 1 000, or exceed 3× its "
    "average roaming charge over its earlier months with usage (months without roaming count as "
    "R 0; needs an earlier average above R 0). Spend spike: a line's billed spend in a month is "
    "more than 2× its average over its earlier billed months and at least R 500 above it. "
    "Amounts excl. VAT; earlier months are all earlier bill periods loaded, not only the selection."
)

INCREASE_COLUMNS = [
    {"field": "msisdn", "headerName": "Line", "filter": "agTextColumnFilter"},
    {"field": "employee_name", "headerName": "Employee", "filter": "agTextColumnFilter"},
    {"field": "cost_centre_name", "headerName": "Cost centre", "filter": "agTextColumnFilter"},
    components.money_column("previous", "Previous month"),
    components.money_column("current", "Last month"),
    components.money_column("increase", "Increase", sort="desc"),
]
ALERT_COLUMNS = [
    {"field": "bill_period", "headerName": "Bill period", "filter": "agTextColumnFilter"},
    {"field": "alert", "headerName": "Alert", "filter": "agTextColumnFilter"},
    {"field": "msisdn", "headerName": "Line", "filter": "agTextColumnFilter"},
    {"field": "employee_name", "headerName": "Employee", "filter": "agTextColumnFilter"},
    {"field": "cost_centre_name", "headerName": "Cost centre", "filter": "agTextColumnFilter"},
    components.money_column("amount", "Amount"),
    components.money_column("earlier_average", "Earlier average (excl. VAT)"),
    {"field": "reason", "headerName": "Rule", "filter": "agTextColumnFilter", "minWidth": 220},
]
LINE_COLUMNS = fig.line_columns()
SELECT_ONE = fig.SELECT_ONE


def layout(**kwargs):
    """KPIs, trend, increases, alerts and lines; every figure arrives by callback (no query)."""
    return html.Div(
        [
            components.page_header(
                "Overview", "Spend and usage of your lines in the selected bill periods."
            ),
            dcc.Loading(html.Div(id=KPIS)),
            components.card(
                "Spend trend: the last 12 months by charge type",
                dcc.Loading(html.Div(id=TREND)),
            ),
            components.card(
                "Largest month-on-month increases",
                html.P(id=INCREASES_TITLE, className="card-note"),
                html.Div(id=INCREASES_STATUS),
                dcc.Loading(html.Div(id=INCREASES_CHART)),
                html.Div(components.data_grid(INCREASES_GRID, columnDefs=INCREASE_COLUMNS,
                                              height="360px", page_size=10),
                         id=INCREASES_TABLE),
                html.A("Download CSV", id=INCREASES_DOWNLOAD, href="",
                       className="download-link"),
            ),
            components.card(
                "Alerts: unusual spend",
                html.P(ALERT_RULES, className="card-note"),
                html.Div(id=ALERTS_STATUS),
                html.Div(components.data_grid(ALERTS_GRID, columnDefs=ALERT_COLUMNS,
                                              height="320px", page_size=10),
                         id=ALERTS_TABLE),
                html.A("Download CSV", id=ALERTS_DOWNLOAD, href="", className="download-link"),
            ),
            components.card(
                "Lines",
                html.P("Select a line to open its itemised records.", className="card-note"),
                html.Div(id=LINES_STATUS),
                components.data_grid(LINES_GRID, columnDefs=LINE_COLUMNS, height="420px",
                                     dashGridOptions=SELECT_ONE,
                                     getRowId="params.data.msisdn"),
                html.Div(id=LINES_ITEMISED),
                html.A("Download CSV", id=LINES_DOWNLOAD, href="", className="download-link"),
            ),
        ]
    )


def href(report: str, **query) -> str:
    """The CSV export URL of a report for the current selection."""
    return f"/export/{report}.csv?" + urlencode({k: v for k, v in query.items() if v})


def _periods_ok(period_from, period_to) -> bool:
    return bool(period_from and period_to and period_from <= period_to)


@protected_callback(
    Output(KPIS, "children"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_kpis(period_from, period_to, vat):
    if not _periods_ok(period_from, period_to):
        return components.empty_state(NO_PERIOD)
    try:
        df = gate.run("reports.overview_kpis", gate.current_scope(),
                      period_from=period_from, period_to=period_to)
    except gate.GateError:
        return components.error_state(FAILED)
    if fig.no_activity(df):
        return components.empty_state(NO_USAGE)
    cards = fig.kpi_values(df, components.vat_on(vat))
    return components.kpi_row(
        [components.kpi_card(c["title"], c["value"], c["delta"], id=f"{SLUG}-kpi-{c['id']}")
         for c in cards]
    )


@protected_callback(
    Output(TREND, "children"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_trend(period_to, vat):
    if not period_to:
        return components.empty_state(NO_PERIOD)
    try:
        df = gate.run("reports.overview_trend", gate.current_scope(), period_to=period_to)
    except gate.GateError:
        return components.error_state(FAILED)
    if df.empty:
        return components.empty_state("No spend in these 12 months.")
    figure = fig.trend_figure(df, period_to, components.vat_on(vat))
    return dcc.Graph(figure=figure, config={"displaylogo": False})


@protected_callback(
    Output(INCREASES_CHART, "children"),
    Output(INCREASES_GRID, "rowData"),
    Output(INCREASES_STATUS, "children"),
    Output(INCREASES_TITLE, "children"),
    Output(INCREASES_DOWNLOAD, "href"),
    Output(INCREASES_TABLE, "hidden"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_increases(period_from, period_to, vat):
    if not _periods_ok(period_from, period_to):
        return None, [], components.empty_state(NO_PERIOD), "", "", True
    link = href("overview_increases", **{"from": period_from, "to": period_to})
    previous = fig.last_periods(period_to, 2)[0]
    title = (f"{components.period_label(period_to)} compared with "
             f"{components.period_label(previous)}, per line.")
    try:
        df = gate.run("reports.overview_increases", gate.current_scope(),
                      period_from=period_from, period_to=period_to)
    except gate.GateError:
        return None, [], components.error_state(FAILED), title, link, True
    if df.empty:
        return None, [], components.empty_state("No line's spend went up."), title, link, True
    incl = components.vat_on(vat)
    chart = dcc.Graph(figure=fig.increases_figure(df, incl), config={"displaylogo": False})
    return chart, fig.increases_rows(df, incl), None, title, link, False


@protected_callback(
    Output(ALERTS_GRID, "rowData"),
    Output(ALERTS_STATUS, "children"),
    Output(ALERTS_DOWNLOAD, "href"),
    Output(ALERTS_TABLE, "hidden"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_alerts(period_from, period_to, vat):
    if not _periods_ok(period_from, period_to):
        return [], components.empty_state(NO_PERIOD), "", True
    link = href("overview_alerts", **{"from": period_from, "to": period_to})
    try:
        df = gate.run("reports.overview_alerts", gate.current_scope(),
                      period_from=period_from, period_to=period_to)
    except gate.GateError:
        return [], components.error_state(FAILED), link, True
    if df.empty:
        return [], components.empty_state("No unusual spend in this period."), link, True
    return fig.alerts_rows(df, components.vat_on(vat)), None, link, False


@protected_callback(
    Output(LINES_GRID, "rowData"),
    Output(LINES_STATUS, "children"),
    Output(LINES_DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_lines(period_from, period_to, vat):
    if not _periods_ok(period_from, period_to):
        return [], components.empty_state(NO_PERIOD), ""
    link = href("lines", **{"from": period_from, "to": period_to})
    try:
        df = gate.run("reports.lines_spend", gate.current_scope(), period_from=period_from,
                      period_to=period_to, cost_centre_id=None, employee_id=None)
    except gate.GateError:
        return [], components.error_state(FAILED), link
    if df.empty:
        return [], components.empty_state("No lines in your view."), link
    return fig.lines_rows(df, components.vat_on(vat)), None, link


@protected_callback(
    Output(LINES_ITEMISED, "children"),
    Input(LINES_GRID, "selectedRows"),
    roles=ROLES,
)
def update_lines_itemised(rows):
    return fig.itemised_link(rows)
