"""Growth analysis: how spend and usage grow, which segments grow fastest, and what comes next.

For admins and finance (their tenant, by product type, service, cost centre and territory) and the
operator's analyst (the landing page; the whole customer base by industry and product type,
aggregates only, small segments suppressed by the gate's minimum segment size). Shows month-on-
month and year-on-year growth ("n/a" without a comparable month), the fastest-growing segments
first, and a forecast of total spend for the next three bill periods with its measured error on
held-back months (docs/forecast.md). The table exports to CSV (`growth`, forecast rows included).
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
from dash import Input, Output, dcc, html

from selfcare import gate
from selfcare.roles import ADMIN, ANALYST, FINANCE
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import register_export
from selfcare.web.figures import growth as fig

ROLES = (ADMIN, FINANCE, ANALYST)
SLUG = "growth"

dash.register_page(__name__, path="/growth", name="Growth", order=60, roles=ROLES)


# "From the first bill period there is": periods are 'YYYY-MM' text, compared as text.
HISTORY_START = "0001-01"


def _export_transform(frame, params):
    # The forecast is Python (selfcare.web.forecast), appended after the scoped query ran. It is
    # fitted on the whole history up to the last period asked for, not only the range shown.
    scope = gate.current_scope()
    history = gate.run(_query(scope), scope, period_from=HISTORY_START,
                       period_to=params["period_to"])
    return fig.export_frame(frame, history)


register_export(
    "growth",
    {"reports": "reports.growth_segments", "analyst": "analyst.growth_segments"},
    ROLES,
    transform=_export_transform,
)

TENANT_DIMENSIONS = ("product_type", "service", "cost_centre", "territory")
ANALYST_DIMENSIONS = ("industry", "product_type")

DIMENSION = f"{SLUG}-dimension"
STATUS = f"{SLUG}-status"
KPIS = f"{SLUG}-kpis"
TREND_CHART = f"{SLUG}-trend-chart"
RANK_CHART = f"{SLUG}-rank-chart"
FORECAST_CHART = f"{SLUG}-forecast-chart"
BACKTEST = f"{SLUG}-backtest"
GRID = f"{SLUG}-grid"
DOWNLOAD = f"{SLUG}-download"

PCT = {
    "filter": "agNumberColumnFilter",
    "type": "rightAligned",
    "valueFormatter": {"function": "params.value == null ? 'n/a' : "
                                   "d3.format('+.1f')(params.value) + ' %'"},
}
COLUMNS = [
    {"field": "segment", "headerName": "Segment", "filter": "agTextColumnFilter"},
    {"field": "bill_period", "headerName": "Bill period", "filter": "agTextColumnFilter"},
    components.money_column("spend", "Spend"),
    {"field": "mom_pct", "headerName": "Spend MoM", **PCT},
    {"field": "yoy_pct", "headerName": "Spend YoY", **PCT},
    {"field": "usage_value", "headerName": "Usage", "filter": "agNumberColumnFilter",
     "type": "rightAligned",
     "valueFormatter": {"function": "params.value == null ? '' : "
                                    "d3.format(',.1f')(params.value)"}},
    {"field": "usage_unit", "headerName": "Unit", "filter": "agTextColumnFilter"},
    {"field": "usage_mom_pct", "headerName": "Usage MoM", **PCT},
    {"field": "usage_yoy_pct", "headerName": "Usage YoY", **PCT},
]


def layout(**kwargs):
    """Dimension picker, KPIs, charts, forecast and grid; data arrives by callback only."""
    return html.Div(
        [
            components.page_header(
                "Growth analysis",
                "Month-on-month and year-on-year growth of spend and usage, fastest-growing "
                "segments first, and a three-month forecast.",
            ),
            html.Div(
                [
                    html.Label("Segment by", htmlFor=DIMENSION),
                    dcc.RadioItems(id=DIMENSION, options=[], value=None, inline=True),
                ],
                className="filters",
                style={"display": "flex", "gap": "12px", "alignItems": "center"},
            ),
            html.Div(id=STATUS),
            html.Div(id=KPIS),
            html.Div(
                [
                    components.card(None, dcc.Loading(dcc.Graph(id=RANK_CHART,
                                                                config={"displaylogo": False}))),
                    components.card(None, dcc.Graph(id=TREND_CHART,
                                                    config={"displaylogo": False})),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "12px"},
            ),
            components.card(
                "Forecast",
                dcc.Graph(id=FORECAST_CHART, config={"displaylogo": False}),
                html.Div(id=BACKTEST),
            ),
            components.card(
                "Segments in the last bill period, fastest-growing first",
                html.A("Download CSV", id=DOWNLOAD, href="", className="download-link"),
                components.data_grid(GRID, columnDefs=COLUMNS),
            ),
        ]
    )


def _dimensions(scope: gate.Scope) -> tuple[str, ...]:
    return ANALYST_DIMENSIONS if scope.aggregate_only else TENANT_DIMENSIONS


def _query(scope: gate.Scope) -> str:
    return "analyst.growth_segments" if scope.aggregate_only else "reports.growth_segments"


@protected_callback(
    Output(DIMENSION, "options"),
    Output(DIMENSION, "value"),
    Input(components.PERIOD_FROM, "value"),
    roles=ROLES,
)
def update_dimensions(_period_from):
    dims = _dimensions(gate.current_scope())
    return [{"label": fig.DIMENSION_LABELS[d], "value": d} for d in dims], dims[0]


def _kpis(frame, periods, values, following, result, test, vat: bool) -> html.Div:
    last = max(frame.bill_period)
    total = frame[(frame.dimension == "total") & (frame.bill_period == last)]
    mom = total.mom_pct.iloc[0] if len(total) else None
    yoy = total.yoy_pct.iloc[0] if len(total) else None
    cards = [
        components.kpi_card(
            f"Spend · {components.period_label(last)}",
            components.money(total[fig.spend_column(vat)].sum(), vat),
            id=f"{SLUG}-kpi-spend",
        ),
        components.kpi_card("Spend MoM", fig.pct_text(mom), id=f"{SLUG}-kpi-mom"),
        components.kpi_card("Spend YoY", fig.pct_text(yoy), id=f"{SLUG}-kpi-yoy"),
    ]
    if result.values:
        cards.append(
            components.kpi_card(
                f"Forecast · {components.period_label(following[0])}",
                components.money(result.values[0], vat),
                id=f"{SLUG}-kpi-forecast",
            )
        )
    mape = "n/a" if test is None or test.mape is None else f"{test.mape:.1f} %"
    cards.append(components.kpi_card("Forecast error (MAPE)", mape, id=f"{SLUG}-kpi-mape"))
    return components.kpi_row(cards)


def _backtest(result, test, periods, vat: bool) -> html.Div:
    method = {
        "holt": "Holt's linear exponential smoothing"
        + (f" (alpha {result.alpha:.2f}, beta {result.beta:.2f})" if result.alpha else ""),
        "seasonal-naive": "seasonal-naive (same month last year)",
        "naive": "naive (last month repeated)",
        "none": "no forecast (no history)",
    }[result.method]
    intro = html.P(f"Method: {method}. See docs/forecast.md.")
    if test is None:
        return html.Div([intro, html.P("Error not measured: fewer than 5 months of history.")])
    held = periods[-len(test.actual):]
    rows = [
        html.Tr([html.Td(components.period_label(p)), html.Td(components.money(a, vat)),
                 html.Td(components.money(f, vat)), html.Td(components.money(e, vat))])
        for p, a, f, e in zip(held, test.actual, test.forecast, test.abs_errors, strict=True)
    ]
    mape = "n/a" if test.mape is None else f"{test.mape:.1f} %"
    return html.Div(
        [
            intro,
            html.P(f"Measured on the last {len(held)} months, fitted without them "
                   f"({test.method}): MAPE {mape}."),
            html.Table(
                [html.Thead(html.Tr([html.Th("Held-back month"), html.Th("Actual"),
                                     html.Th("Forecast"), html.Th("Absolute error")])),
                 html.Tbody(rows)],
                id=f"{SLUG}-backtest-table",
                className="simple-table",
            ),
        ]
    )


@protected_callback(
    Output(KPIS, "children"),
    Output(RANK_CHART, "figure"),
    Output(TREND_CHART, "figure"),
    Output(FORECAST_CHART, "figure"),
    Output(BACKTEST, "children"),
    Output(GRID, "rowData"),
    Output(STATUS, "children"),
    Output(DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(DIMENSION, "value"),
    roles=ROLES,
)
def update_growth(period_from, period_to, vat, dimension):
    blank = components.empty_figure()
    if not period_from or not period_to:
        return None, blank, blank, blank, None, [], components.empty_state("Choose a period."), ""
    scope = gate.current_scope()
    dims = _dimensions(scope)
    dimension = dimension if dimension in dims else dims[0]
    href = "/export/growth.csv?" + urlencode({"from": period_from, "to": period_to})
    try:
        # the whole history up to period_to: the forecast is fitted on all of it
        history = gate.run(_query(scope), scope, period_from=HISTORY_START, period_to=period_to)
    except gate.GateError:
        state = components.error_state("Growth could not be loaded; try again later.")
        return None, blank, blank, blank, None, [], state, href
    df = history[history.bill_period >= period_from] if not history.empty else history
    if df.empty or not (df.dimension == "total").any():
        state = components.empty_state("No spend or usage in this period")
        return None, blank, blank, blank, None, [], state, href
    incl = components.vat_on(vat)
    periods, values, following, result, test = fig.total_forecast(history, incl)
    rank = fig.ranking(df, dimension, incl)
    rows = rank.astype(object).where(rank.notna(), None).to_dict("records")
    return (
        _kpis(df, periods, values, following, result, test, incl),
        fig.ranking_figure(rank, dimension),
        # the trend shows at least the 12 months up to `to`, so one selected month still has context
        fig.trend_figure(history[history.bill_period >= _trend_start(period_from, period_to)],
                         dimension, incl),
        fig.forecast_figure(periods, values, following, result, test, incl),
        _backtest(result, test, periods, incl),
        rows,
        None,
        href,
    )


def _trend_start(period_from: str, period_to: str) -> str:
    year, month = (int(p) for p in period_to.split("-"))
    month -= 11
    while month < 1:
        year, month = year - 1, month + 12
    return min(period_from, f"{year:04d}-{month:02d}")
