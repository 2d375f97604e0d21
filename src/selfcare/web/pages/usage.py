"""Usage month on month: voice minutes, SMS/MMS and data per bill period, by service.

For admins and finance (the whole tenant), managers (their reporting chain's lines) and end users
(their own lines). Shows each service's volume in its own unit with the change against the
previous month, in-bundle (charged zero) against out-of-bundle (charged) usage, and roaming by
country. Both tables export to CSV (`usage_monthly`, `usage_roaming`).
"""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

from selfcare import gate
from selfcare.contract import SERVICES
from selfcare.roles import TENANT_ROLES
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import Filter, choice, export_href, register_export
from selfcare.web.figures import usage as fig

ROLES = TENANT_ROLES
SLUG = "usage"

dash.register_page(__name__, path="/usage", name="Usage", order=30, roles=ROLES)


register_export(
    "usage_monthly",
    "reports.usage_monthly",
    ROLES,
    filters={"service": Filter("service", choice(*SERVICES), None)},
)
register_export("usage_roaming", "reports.usage_roaming", ROLES)

SERVICE = f"{SLUG}-service"
KPIS = f"{SLUG}-kpis"
STATUS = f"{SLUG}-status"
VOLUME_CHART = f"{SLUG}-volume-chart"
MOM_CHART = f"{SLUG}-mom-chart"
BUNDLE_CHART = f"{SLUG}-bundle-chart"
GRID = f"{SLUG}-grid"
DOWNLOAD = f"{SLUG}-download"
ROAMING_STATUS = f"{SLUG}-roaming-status"
ROAMING_CHART = f"{SLUG}-roaming-chart"
ROAMING_GRID = f"{SLUG}-roaming-grid"
ROAMING_DOWNLOAD = f"{SLUG}-roaming-download"

NUMBER = {"filter": "agNumberColumnFilter", "type": "rightAligned"}
COLUMNS = [
    {"field": "bill_period", "headerName": "Bill period", "filter": "agTextColumnFilter",
     "sort": "desc"},
    {"field": "service", "headerName": "Service", "filter": "agTextColumnFilter"},
    {"field": "usage", "headerName": "Usage", **NUMBER,
     "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    {"field": "unit", "headerName": "Unit", "filter": "agTextColumnFilter"},
    {"field": "mom_pct", "headerName": "MoM %", **NUMBER,
     "valueFormatter": {"function": "params.value == null ? 'n/a' : "
                                    "d3.format('+.1f')(params.value) + ' %'"}},
    {"field": "events", "headerName": "Events", **NUMBER},
    {"field": "in_bundle_events", "headerName": "In bundle", **NUMBER},
    {"field": "out_of_bundle_events", "headerName": "Out of bundle", **NUMBER},
    components.money_column("out_of_bundle_charge", "Out-of-bundle charge"),
    components.money_column("roaming_charge", "Roaming charge"),
]
ROAMING_COLUMNS = [
    {"field": "bill_period", "headerName": "Bill period", "filter": "agTextColumnFilter"},
    {"field": "roaming_country", "headerName": "Country", "filter": "agTextColumnFilter"},
    {"field": "service", "headerName": "Service", "filter": "agTextColumnFilter"},
    {"field": "lines", "headerName": "Lines", **NUMBER},
    {"field": "events", "headerName": "Events", **NUMBER},
    {"field": "minutes", "headerName": "Minutes", **NUMBER,
     "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    {"field": "data_mb", "headerName": "Data MB", **NUMBER,
     "valueFormatter": {"function": "d3.format(',.2f')(params.value)"}},
    components.money_column("charge", "Charge"),
]


def layout(**kwargs):
    """Filters, KPI row, charts and grids; every figure arrives by callback (no query here)."""
    return html.Div(
        [
            components.page_header(
                "Usage month on month",
                "Calls, messages and data per bill period; in bundle vs out of bundle; roaming.",
            ),
            html.Div(
                [
                    html.Label("Service", htmlFor=SERVICE),
                    dcc.Dropdown(
                        id=SERVICE,
                        options=[{"label": fig.TITLES[s], "value": s} for s in SERVICES],
                        placeholder="All services",
                        clearable=True,
                        style={"minWidth": "220px"},
                    ),
                ],
                className="filters",
                style={"display": "flex", "gap": "12px", "alignItems": "center"},
            ),
            html.Div(id=STATUS),
            html.Div(id=KPIS),
            components.card(None, dcc.Loading(dcc.Graph(id=VOLUME_CHART,
                                                        config={"displaylogo": False}))),
            html.Div(
                [
                    components.card(None, dcc.Graph(id=MOM_CHART, config={"displaylogo": False})),
                    components.card(None, dcc.Graph(id=BUNDLE_CHART,
                                                    config={"displaylogo": False})),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "12px"},
            ),
            components.card(
                "Usage by bill period and service",
                html.A("Download CSV", id=DOWNLOAD, href="", className="download-link"),
                components.data_grid(GRID, columnDefs=COLUMNS),
            ),
            components.card(
                "Roaming by country",
                html.Div(id=ROAMING_STATUS),
                dcc.Graph(id=ROAMING_CHART, config={"displaylogo": False}),
                html.A("Download CSV", id=ROAMING_DOWNLOAD, href="", className="download-link"),
                components.data_grid(ROAMING_GRID, columnDefs=ROAMING_COLUMNS, height="360px"),
            ),
        ]
    )


def _kpis(table, vat: bool) -> html.Div:
    """Headline numbers for the last bill period shown, with the month-on-month change."""
    last = max(table.bill_period)
    cards = []
    for service in SERVICES:
        row = table[(table.bill_period == last) & (table.service == service)]
        if row.empty:
            continue
        r = row.iloc[0]
        cards.append(
            components.kpi_card(
                f"{fig.TITLES[service]} · {components.period_label(last)}",
                fig.usage_text(r.usage, r.unit),
                r.mom_pct if r.mom_pct is not None and r.mom_pct == r.mom_pct else "n/a",
                id=f"{SLUG}-kpi-{service.lower()}",
            )
        )
    at_last = table[table.bill_period == last]
    cards.append(
        components.kpi_card(
            "Out-of-bundle charge",
            components.money(at_last.out_of_bundle_charge.sum(), vat),
            id=f"{SLUG}-kpi-out-of-bundle",
        )
    )
    cards.append(
        components.kpi_card(
            "Roaming charge",
            components.money(at_last.roaming_charge.sum(), vat),
            id=f"{SLUG}-kpi-roaming",
        )
    )
    return components.kpi_row(cards)


@protected_callback(
    Output(KPIS, "children"),
    Output(VOLUME_CHART, "figure"),
    Output(MOM_CHART, "figure"),
    Output(BUNDLE_CHART, "figure"),
    Output(GRID, "rowData"),
    Output(STATUS, "children"),
    Output(DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(SERVICE, "value"),
    roles=ROLES,
)
def update_usage(period_from, period_to, vat, service):
    blank = components.empty_figure()
    if not period_from or not period_to:
        return None, blank, blank, blank, [], components.empty_state("Choose a period."), ""
    service = service if service in SERVICES else None
    href = export_href("usage_monthly", {"from": period_from, "to": period_to, "service": service})
    # The charts show at least the 12 months up to `to`, so a single selected month still reads
    # as a trend; the KPIs and the grid show exactly the selection.
    chart_first = min(period_from, _months_back(period_to, 11))
    try:
        # one month more than charted: the first period's month-on-month change needs it
        df = gate.run("reports.usage_monthly", gate.current_scope(),
                      period_from=fig.previous_period(chart_first), period_to=period_to,
                      service=service)
    except gate.GateError:
        state = components.error_state("Usage could not be loaded; try again later.")
        return None, blank, blank, blank, [], state, href
    if df.empty or not (df.bill_period >= period_from).any():
        state = components.empty_state("No usage in this period")
        return None, blank, blank, blank, [], state, href
    incl = components.vat_on(vat)
    trend = fig.monthly_table(df, incl, first=chart_first)
    table = trend[trend.bill_period >= period_from].reset_index(drop=True)
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return (_kpis(table, incl), fig.volume_figure(trend), fig.mom_figure(trend),
            fig.bundle_figure(table, incl), rows, None, href)


def _months_back(period: str, n: int) -> str:
    for _ in range(n):
        period = fig.previous_period(period)
    return period


@protected_callback(
    Output(ROAMING_CHART, "figure"),
    Output(ROAMING_GRID, "rowData"),
    Output(ROAMING_STATUS, "children"),
    Output(ROAMING_DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    roles=ROLES,
)
def update_roaming(period_from, period_to, vat):
    blank = components.empty_figure()
    if not period_from or not period_to:
        return blank, [], components.empty_state("Choose a period."), ""
    href = export_href("usage_roaming", {"from": period_from, "to": period_to})
    try:
        df = gate.run("reports.usage_roaming", gate.current_scope(), period_from=period_from,
                      period_to=period_to)
    except gate.GateError:
        return blank, [], components.error_state("Roaming could not be loaded."), href
    if df.empty:
        return blank, [], components.empty_state("No roaming in this period"), href
    incl = components.vat_on(vat)
    table = fig.roaming_table(df, incl)
    return fig.roaming_figure(table, incl), table.to_dict("records"), None, href
