"""Tariff analyser: would the viewer's lines be cheaper on another plan?

For admins and finance (every line of the tenant), managers (their reporting chain's lines) and end
users (their own lines). For each line, its average monthly bill (subscription + usage) over the
last N bill periods ending at the selected "to" period, and what exactly the same usage would have
cost on every catalogue plan of the same payment type (the tariff model, docs/tariff-model.md):
the cheapest plan, the average saving and its risk band (months in which it would have won, the
smallest and largest monthly saving), and a recommendation when the saving clears both thresholds
in most months. Also: potential saving per cost centre, lines with no usage in three months flagged
as possibly redundant, the average spend per line over time, and a drill-down from a line to its
month-by-month cost on each plan. Every table exports to CSV.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode

import dash
from dash import Input, Output, dcc, html

from selfcare import gate
from selfcare.roles import TENANT_ROLES
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import ANY_TEXT, DIGITS, Filter, export_href, integer, register_export
from selfcare.web.figures import tariffs as fig

ROLES = TENANT_ROLES
SLUG = "tariffs"
DEFAULT_MONTHS = 3
DEFAULT_MIN_SAVING = Decimal("20")
DEFAULT_MIN_PCT = Decimal("5")

dash.register_page(__name__, path="/tariffs", name="Tariff analyser", order=60, roles=ROLES)


PLAIN_NUMBER = re.compile(r"\A[0-9]{1,7}(\.[0-9]{1,4})?\Z", re.ASCII)


def amount(lo: Decimal, hi: Decimal):
    """A query-string converter: a plain decimal number (digits, at most 4 decimals, no sign or
    exponent) between lo and hi."""

    def convert(value: str) -> Decimal:
        if not PLAIN_NUMBER.fullmatch(value) or not lo <= Decimal(value) <= hi:
            raise ValueError(f"must be a number between {lo} and {hi} with at most 4 decimals")
        return Decimal(value)

    return convert


MONTHS_FILTER = Filter("months", integer(1, 12), DEFAULT_MONTHS)
MSISDN_FILTER = Filter("msisdn", DIGITS, None)
register_export(
    "tariff_analysis",
    "reports.tariff_analysis",
    ROLES,
    filters={
        "months": MONTHS_FILTER,
        "min_saving": Filter("min_saving", amount(Decimal(0), Decimal(1_000_000)),
                             DEFAULT_MIN_SAVING),
        "min_pct": Filter("min_pct", amount(Decimal(0), Decimal(100)), DEFAULT_MIN_PCT),
        "cost_centre": Filter("cost_centre", ANY_TEXT, None),
    },
)
register_export(
    "tariff_options",
    "reports.tariff_options",
    ROLES,
    filters={"months": MONTHS_FILTER, "msisdn": MSISDN_FILTER},
)
register_export(
    "tariff_line_months",
    "reports.tariff_line_months",
    ROLES,
    filters={"months": MONTHS_FILTER, "msisdn": MSISDN_FILTER},
)

MONTHS = f"{SLUG}-months"
MIN_SAVING = f"{SLUG}-min-saving"
MIN_PCT = f"{SLUG}-min-pct"
COST_CENTRE = f"{SLUG}-cost-centre"
STATUS = f"{SLUG}-status"
KPIS = f"{SLUG}-kpis"
CC_CHART = f"{SLUG}-cost-centre-chart"
RISK_CHART = f"{SLUG}-risk-chart"
GRID = f"{SLUG}-grid"
DOWNLOAD = f"{SLUG}-download"
OPTIONS_DOWNLOAD = f"{SLUG}-options-download"
TREND_CHART = f"{SLUG}-trend-chart"
TREND_STATUS = f"{SLUG}-trend-status"
LINE_TITLE = f"{SLUG}-line-title"
LINE_STATUS = f"{SLUG}-line-status"
LINE_CHART = f"{SLUG}-line-chart"
LINE_OPTIONS_GRID = f"{SLUG}-line-options-grid"
LINE_OPTIONS_DOWNLOAD = f"{SLUG}-line-options-download"
LINE_MONTHS_GRID = f"{SLUG}-line-months-grid"
LINE_MONTHS_DOWNLOAD = f"{SLUG}-line-months-download"


def _text(field: str, header: str, **extra) -> dict:
    return {"field": field, "headerName": header, "filter": "agTextColumnFilter", **extra}


def _number(field: str, header: str, **extra) -> dict:
    return {"field": field, "headerName": header, "filter": "agNumberColumnFilter",
            "type": "rightAligned", **extra}


COLUMNS = [
    _text("msisdn", "Line", minWidth=130),
    _text("employee_name", "Employee"),
    _text("cost_centre_name", "Cost centre"),
    _text("current_plan", "Current plan"),
    _number("months", "Months", maxWidth=100),
    components.money_column("avg_cost_current", "Avg cost now"),
    _text("best_plan", "Cheapest plan"),
    components.money_column("avg_cost_best", "Avg cost cheapest"),
    components.money_column("avg_saving", "Avg saving"),
    _number("saving_pct", "Saving %", maxWidth=110,
            valueFormatter={"function": "params.value == null ? '' : "
                                        "d3.format('.1f')(params.value)"}),
    _number("months_better", "Months cheaper", maxWidth=130),
    components.money_column("min_saving", "Min monthly saving"),
    components.money_column("max_saving", "Max monthly saving"),
    _text("recommended", "Recommended", maxWidth=140),
    _text("possibly_redundant", "No usage 3 months", maxWidth=160),
    # a link (markdown, same tab) to the line's page with the plan change prefilled
    {"field": "change_plan", "headerName": "", "cellRenderer": "markdown", "sortable": False,
     "filter": False, "maxWidth": 140},
]
OPTION_COLUMNS = [
    _text("plan_code", "Plan"),
    _text("plan_name", "Name"),
    _text("current", "Current", maxWidth=110),
    components.money_column("avg_cost", "Avg monthly cost"),
    _number("months_cheaper", "Months cheaper than bill", maxWidth=200),
]
MONTH_COLUMNS = [
    _text("bill_period", "Bill period"),
    _text("plan_code", "Plan"),
    _text("current", "Current", maxWidth=110),
    components.money_column("cost", "Cost on plan"),
    components.money_column("billed_current", "Billed"),
    components.money_column("saving", "Saving"),
]


def layout(**kwargs):
    """Controls, KPIs, charts and grids; every figure arrives by callback (no query here)."""
    return html.Div(
        [
            components.page_header(
                "Tariff analyser",
                "Each line's bill against every plan of the same payment type, for exactly the "
                "same usage. Amounts excl. VAT unless the shell's VAT toggle is on.",
            ),
            html.Div(
                [
                    html.Label("Months", htmlFor=MONTHS),
                    dcc.Dropdown(
                        id=MONTHS,
                        options=[{"label": f"last {n}", "value": n} for n in range(1, 13)],
                        value=DEFAULT_MONTHS,
                        clearable=False,
                        style={"minWidth": "120px"},
                    ),
                    html.Label("Min saving (R)", htmlFor=MIN_SAVING),
                    dcc.Input(id=MIN_SAVING, type="number", min=0, step=1,
                              value=int(DEFAULT_MIN_SAVING), debounce=True,
                              style={"width": "90px"}),
                    html.Label("Min saving (%)", htmlFor=MIN_PCT),
                    dcc.Input(id=MIN_PCT, type="number", min=0, max=100, step=0.5,
                              value=int(DEFAULT_MIN_PCT), debounce=True,
                              style={"width": "80px"}),
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
            html.Div(id=KPIS),
            html.Div(
                [
                    components.card(None, dcc.Loading(
                        dcc.Graph(id=CC_CHART, config={"displaylogo": False}))),
                    components.card(None, dcc.Loading(
                        dcc.Graph(id=RISK_CHART, config={"displaylogo": False}))),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "12px"},
            ),
            components.card(
                "Lines and their cheapest plan (click a line for month-by-month costs)",
                html.Div(
                    [
                        html.A("Download CSV", id=DOWNLOAD, href="", className="download-link"),
                        html.A("Download all plan options (CSV)", id=OPTIONS_DOWNLOAD, href="",
                               className="download-link", style={"marginLeft": "16px"}),
                    ]
                ),
                components.data_grid(
                    GRID,
                    columnDefs=COLUMNS,
                    page_size=20,
                    columnSize="autoSize",
                    dashGridOptions={
                        "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                         "enableClickSelection": True},
                    },
                ),
            ),
            components.card(
                None,
                html.H3("Pick a line in the table", id=LINE_TITLE),
                html.Div(id=LINE_STATUS),
                dcc.Loading(dcc.Graph(id=LINE_CHART, config={"displaylogo": False})),
                html.Div(
                    [
                        html.Div(
                            [
                                components.data_grid(LINE_OPTIONS_GRID, columnDefs=OPTION_COLUMNS,
                                                     height="360px"),
                                html.A("Download CSV", id=LINE_OPTIONS_DOWNLOAD, href="",
                                       className="download-link"),
                            ]
                        ),
                        html.Div(
                            [
                                components.data_grid(LINE_MONTHS_GRID, columnDefs=MONTH_COLUMNS,
                                                     height="360px"),
                                html.A("Download CSV", id=LINE_MONTHS_DOWNLOAD, href="",
                                       className="download-link"),
                            ]
                        ),
                    ],
                    style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "12px"},
                ),
            ),
            components.card(
                None,
                html.Div(id=TREND_STATUS),
                dcc.Loading(dcc.Graph(id=TREND_CHART, config={"displaylogo": False})),
            ),
        ]
    )


def _months(value) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return DEFAULT_MONTHS
    return n if 1 <= n <= 12 else DEFAULT_MONTHS


def _threshold(value, default: Decimal, hi: Decimal) -> Decimal:
    """A threshold typed by the user: a number in [0, hi] to 4 places, else the default."""
    try:
        d = Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, TypeError, ValueError):
        return default
    return d if d.is_finite() and 0 <= d <= hi else default


def _plain(d: Decimal) -> str:
    """20.0000 -> '20', 2.5000 -> '2.5' (never '2E+1')."""
    return format(d.normalize(), "f")


def analysis_params(period_from, period_to, months, min_saving, min_pct, cost_centre) -> dict:
    """The parameters of reports.tariff_analysis from the page's controls, validated."""
    return {
        "period_from": period_from,
        "period_to": period_to,
        "months": _months(months),
        "min_saving": _threshold(min_saving, DEFAULT_MIN_SAVING, Decimal(1_000_000)),
        "min_pct": _threshold(min_pct, DEFAULT_MIN_PCT, Decimal(100)),
        "cost_centre": cost_centre or "",
    }


def change_plan_href(msisdn: str, plan_code: str) -> str:
    """The line's page with the change-plan request prefilled (the services check it all)."""
    return f"/lines/{quote(msisdn)}?" + urlencode({"action": "change_plan", "plan": plan_code})


def with_change_plan(rows: list[dict]) -> list[dict]:
    """Each recommended row gets a "Change plan" link; the others an empty cell."""
    for r in rows:
        move = r["recommended"] == "Yes" and r["best_plan"] and r["best_plan"] != r["current_plan"]
        r["change_plan"] = (f"[Change plan]({change_plan_href(r['msisdn'], r['best_plan'])})"
                            if move else "")
    return rows


def _kpi_row(df, vat: bool):
    k = fig.kpis(df, vat)
    return components.kpi_row(
        [
            components.kpi_card("Lines analysed", f"{k['lines']:,}", id=f"{SLUG}-kpi-lines"),
            components.kpi_card("Change recommended", f"{k['recommended']:,}",
                                id=f"{SLUG}-kpi-recommended"),
            components.kpi_card("Potential saving per month",
                                components.money(k["monthly_saving"], vat),
                                id=f"{SLUG}-kpi-saving"),
            components.kpi_card("Possibly redundant (no usage in 3 months)",
                                f"{k['redundant']:,}", id=f"{SLUG}-kpi-redundant"),
        ]
    )


@protected_callback(
    Output(COST_CENTRE, "options"),
    Input(components.PERIOD_TO, "value"),
    roles=ROLES,
)
def update_cost_centres(_period_to):
    try:
        df = gate.run("reports.tariff_cost_centres", gate.current_scope())
    except gate.GateError:
        return []
    return [{"label": r.cost_centre_name, "value": r.cost_centre_id}
            for r in df.itertuples(index=False)]


@protected_callback(
    Output(KPIS, "children"),
    Output(CC_CHART, "figure"),
    Output(RISK_CHART, "figure"),
    Output(GRID, "rowData"),
    Output(STATUS, "children"),
    Output(DOWNLOAD, "href"),
    Output(OPTIONS_DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(MONTHS, "value"),
    Input(MIN_SAVING, "value"),
    Input(MIN_PCT, "value"),
    Input(COST_CENTRE, "value"),
    roles=ROLES,
)
def update_analysis(period_from, period_to, vat, months, min_saving, min_pct, cost_centre):
    blank = components.empty_figure()
    if not period_from or not period_to:
        return None, blank, blank, [], components.empty_state("Choose a period."), "", ""
    params = analysis_params(period_from, period_to, months, min_saving, min_pct, cost_centre)
    href = export_href("tariff_analysis", {
        "from": period_from, "to": period_to, "months": params["months"],
        "min_saving": _plain(params["min_saving"]), "min_pct": _plain(params["min_pct"]),
        "cost_centre": params["cost_centre"],
    })
    options_href = export_href("tariff_options", {
        "from": period_from, "to": period_to, "months": params["months"],
    })
    try:
        df = gate.run("reports.tariff_analysis", gate.current_scope(), **params)
    except gate.GateError:
        return (None, blank, blank, [],
                components.error_state("The tariff analysis could not be loaded; try again "
                                       "later."), href, options_href)
    if df.empty:
        return (None, blank, blank, [], components.empty_state("No usage in this period"),
                href, options_href)
    incl = components.vat_on(vat)
    return (_kpi_row(df, incl), fig.cost_centre_figure(df, incl), fig.risk_band_figure(df, incl),
            with_change_plan(fig.analysis_rows(df, incl)), None, href, options_href)


@protected_callback(
    Output(TREND_CHART, "figure"),
    Output(TREND_STATUS, "children"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_trend(period_to, vat):
    try:
        df = gate.run("reports.tariff_spend_trend", gate.current_scope())
    except gate.GateError:
        state = components.error_state("The spend trend could not be loaded.")
        return components.empty_figure(), state
    if df.empty:
        return components.empty_figure(), components.empty_state("No bills yet")
    return fig.spend_trend_figure(df, components.vat_on(vat)), None


def picked_line(selected_rows) -> str | None:
    """The line picked in the grid; only digits reach a query (and it is bound anyway)."""
    if not selected_rows:
        return None
    value = str(selected_rows[0].get("msisdn", ""))
    return value if value.isascii() and value.isdigit() and len(value) <= 20 else None


@protected_callback(
    Output(LINE_TITLE, "children"),
    Output(LINE_CHART, "figure"),
    Output(LINE_OPTIONS_GRID, "rowData"),
    Output(LINE_MONTHS_GRID, "rowData"),
    Output(LINE_STATUS, "children"),
    Output(LINE_OPTIONS_DOWNLOAD, "href"),
    Output(LINE_MONTHS_DOWNLOAD, "href"),
    Input(GRID, "selectedRows"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(MONTHS, "value"),
    roles=ROLES,
)
def update_line(selected_rows, period_from, period_to, vat, months):
    msisdn = picked_line(selected_rows)
    title = "Pick a line in the table"
    if not msisdn or not period_from or not period_to:
        return (title, components.empty_figure(), [], [],
                components.empty_state("Pick a line in the table to see it month by month."),
                "", "")
    params = {"period_from": period_from, "period_to": period_to, "months": _months(months),
              "msisdn": msisdn}
    query = {"from": period_from, "to": period_to, "months": params["months"], "msisdn": msisdn}
    options_href = export_href("tariff_options", query)
    months_href = export_href("tariff_line_months", query)
    title = f"Line {msisdn}: month by month on every plan"
    scope = gate.current_scope()
    try:
        options = gate.run("reports.tariff_options", scope, **params)
        per_month = gate.run("reports.tariff_line_months", scope, **params)
    except gate.GateError:
        return (title, components.empty_figure(), [], [],
                components.error_state("The line could not be loaded."), options_href,
                months_href)
    if per_month.empty:
        return (title, components.empty_figure(), [], [],
                components.empty_state("No bills for this line in this period"), options_href,
                months_href)
    incl = components.vat_on(vat)
    return (title, fig.line_months_figure(per_month, incl), fig.option_rows(options, incl),
            fig.line_month_rows(per_month, incl), None, options_href, months_href)
