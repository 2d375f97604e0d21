"""Itemised usage: the call, SMS, MMS and data records of the viewer's lines, page by page.

For admins and finance (every line of the tenant), managers (their reporting chain's lines) and end
users (their own lines; they land here and on the overview). The records are paged (100 a page)
and sorted on the server, never shipped to the browser whole; filters: line, service, number
(prefix or exact), dates within the selected bill periods. `?msisdn=<line>` preselects a line
(the spend page links here). The full selection downloads as CSV, streamed by the export route.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, ctx, dcc, html

from selfcare import gate
from selfcare.contract import SERVICES
from selfcare.roles import TENANT_ROLES
from selfcare.web import components
from selfcare.web.callbacks import protected_callback
from selfcare.web.exports import DIGITS, Filter, choice, iso_date, pattern, register_export
from selfcare.web.figures import itemised as fig

ROLES = TENANT_ROLES
SLUG = "itemised"

dash.register_page(__name__, path="/itemised", name="Itemised usage", order=50, roles=ROLES)

register_export(
    "itemised",
    "reports.itemised",
    ROLES,
    filters={
        "msisdn": Filter("msisdn", DIGITS, None),
        "service": Filter("service", choice(*SERVICES), None),
        # digits: that exact number; digits and a trailing *: every number starting with them
        "number": Filter("number", pattern(r"\d{1,20}\*?", "digits, optionally ending in *"), None),
        "date_from": Filter("date_from", iso_date, None),
        "date_to": Filter("date_to", iso_date, None),
    },
)

LINE = f"{SLUG}-line"
SERVICE = f"{SLUG}-service"
NUMBER = f"{SLUG}-number"
MATCH = f"{SLUG}-match"
DATES = f"{SLUG}-dates"
SORT = f"{SLUG}-sort"
ORDER = f"{SLUG}-order"
PREV = f"{SLUG}-prev"
NEXT = f"{SLUG}-next"
PAGE = f"{SLUG}-page"
GRID = f"{SLUG}-grid"
SUMMARY = f"{SLUG}-summary"
STATUS = f"{SLUG}-status"
DOWNLOAD = f"{SLUG}-download"

_DIGITS = re.compile(r"\A[0-9]{1,20}\Z", re.ASCII)
# a prefix: a date picker may add a time
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

SORT_OPTIONS = [
    {"label": "Time", "value": "event_time"},
    {"label": "Line", "value": "msisdn"},
    {"label": "Service", "value": "service"},
    {"label": "Number", "value": "other_party"},
    {"label": "Duration", "value": "duration_s"},
    {"label": "Volume", "value": "volume_kb"},
    {"label": "Charge", "value": "charge"},
]

# Sorting happens on the server over the whole selection (the Sort controls), so the grid's own
# header sort, which would only reorder the 100 rows on screen, is switched off.
COLUMNS = [
    {"field": "event_time", "headerName": "Time", "minWidth": 240},
    {"field": "msisdn", "headerName": "Line", "minWidth": 130},
    {"field": "service", "headerName": "Service", "minWidth": 90},
    {"field": "direction", "headerName": "Dir.", "minWidth": 70},
    {"field": "other_party", "headerName": "Number", "minWidth": 140},
    {"field": "destination_class", "headerName": "Destination", "minWidth": 120},
    {"field": "roaming_country", "headerName": "Roaming", "minWidth": 90},
    {"field": "duration_s", "headerName": "Duration (s)", "type": "rightAligned", "minWidth": 120},
    {"field": "volume_kb", "headerName": "Volume (KB)", "type": "rightAligned", "minWidth": 120},
    components.money_column("charge", "Charge (ZAR)", sortable=False, filter=False,
                            minWidth=120),
    {"field": "bundle_id", "headerName": "Bundle", "minWidth": 120},
    {"field": "record_id", "headerName": "Record", "minWidth": 180},
]


def layout(msisdn: str | None = None, **kwargs):
    """Filters, a paged grid and its CSV link; the records arrive by callback (no query here)."""
    preselected = msisdn if isinstance(msisdn, str) and _DIGITS.match(msisdn) else None
    return html.Div(
        [
            components.page_header(
                "Itemised usage", "Every call, message and data session, 100 records a page."
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id=LINE,
                        # the preselected line is an option until the real list arrives; the
                        # gate's scope decides what it shows, so a foreign line shows nothing
                        options=[{"label": preselected, "value": preselected}]
                        if preselected else [],
                        value=preselected,
                        placeholder="All my lines",
                        clearable=True,
                        style={"minWidth": "260px"},
                    ),
                    dcc.Dropdown(
                        id=SERVICE,
                        options=[{"label": s.title(), "value": s} for s in SERVICES],
                        placeholder="All services",
                        clearable=True,
                        style={"minWidth": "160px"},
                    ),
                    dcc.Input(
                        id=NUMBER,
                        type="text",
                        inputMode="numeric",
                        placeholder="Number (digits)",
                        debounce=True,
                        maxLength=20,
                        style={"width": "180px"},
                    ),
                    dcc.RadioItems(
                        id=MATCH,
                        options=[{"label": "starts with", "value": "prefix"},
                                 {"label": "exactly", "value": "exact"}],
                        value="prefix",
                        inline=True,
                    ),
                    dcc.DatePickerRange(
                        id=DATES,
                        display_format="YYYY-MM-DD",
                        clearable=True,
                        start_date_placeholder_text="From date",
                        end_date_placeholder_text="To date",
                    ),
                    html.Label("Sort by"),
                    dcc.Dropdown(
                        id=SORT, options=SORT_OPTIONS, value="event_time", clearable=False,
                        style={"minWidth": "140px"},
                    ),
                    dcc.RadioItems(
                        id=ORDER,
                        options=[{"label": "newest/largest first", "value": "desc"},
                                 {"label": "ascending", "value": "asc"}],
                        value="desc",
                        inline=True,
                    ),
                ],
                className="filters",
                style={"display": "flex", "gap": "12px", "alignItems": "center",
                       "flexWrap": "wrap"},
            ),
            html.Div(id=STATUS),
            html.Div(
                [
                    html.Button("‹ Previous", id=PREV, n_clicks=0),
                    html.Span(id=SUMMARY, style={"margin": "0 12px"}),
                    html.Button("Next ›", id=NEXT, n_clicks=0),
                    html.A("Download CSV", id=DOWNLOAD, href="", className="download-link",
                           style={"marginLeft": "24px"}),
                ],
                style={"display": "flex", "alignItems": "center", "margin": "8px 0"},
            ),
            # the page index only: no data ever sits in a store
            dcc.Store(id=PAGE, data=0),
            components.data_grid(
                GRID,
                columnDefs=COLUMNS,
                page_size=fig.PAGE_SIZE,
                height="620px",
                defaultColDef={"sortable": False, "filter": False},
                dashGridOptions={"pagination": False},
            ),
        ]
    )


def _date(value) -> str | None:
    return value[:10] if isinstance(value, str) and _DATE.match(value) else None


def _filters(period_from, period_to, line, service, number, match, start, end) -> dict:
    number = (number or "").strip()
    return {
        "period_from": period_from,
        "period_to": period_to,
        "msisdn": line if isinstance(line, str) and _DIGITS.match(line) else None,
        "service": service if service in SERVICES else None,
        # the query reads a trailing * as "starts with"
        "number": None if not _DIGITS.match(number) else number if match == "exact"
        else number + "*",
        "date_from": _date(start),
        "date_to": _date(end),
    }


def _href(f: dict) -> str:
    query = {
        "from": f["period_from"], "to": f["period_to"], "msisdn": f["msisdn"],
        "service": f["service"], "number": f["number"],
        "date_from": f["date_from"], "date_to": f["date_to"],
    }
    return "/export/itemised.csv?" + urlencode({k: v for k, v in query.items() if v})


@protected_callback(
    Output(LINE, "options"),
    Input(components.PERIOD_FROM, "value"),
    State(LINE, "value"),
    roles=ROLES,
)
def update_line_options(_period_from, selected):
    try:
        df = gate.run("reports.itemised_lines", gate.current_scope())
    except gate.GateError:
        return []
    options = [
        {"label": f"{r.msisdn} · {r.employee_name}" if isinstance(r.employee_name, str)
         else r.msisdn, "value": r.msisdn}
        for r in df.itertuples(index=False)
    ]
    if selected and selected not in set(df["msisdn"] if len(df) else ()):
        # keep a preselected value visible (it then simply matches no records)
        options.insert(0, {"label": selected, "value": selected})
    return options


@protected_callback(
    Output(GRID, "rowData"),
    Output(SUMMARY, "children"),
    Output(STATUS, "children"),
    Output(PAGE, "data"),
    Output(DOWNLOAD, "href"),
    Input(components.PERIOD_FROM, "value"),
    Input(components.PERIOD_TO, "value"),
    Input(components.VAT, "value"),
    Input(LINE, "value"),
    Input(SERVICE, "value"),
    Input(NUMBER, "value"),
    Input(MATCH, "value"),
    Input(DATES, "start_date"),
    Input(DATES, "end_date"),
    Input(SORT, "value"),
    Input(ORDER, "value"),
    Input(PREV, "n_clicks"),
    Input(NEXT, "n_clicks"),
    State(PAGE, "data"),
    roles=ROLES,
)
def update_records(period_from, period_to, vat, line, service, number, match, start, end,
                   sort, order, _prev, _next, page):
    if not period_from or not period_to:
        return [], "", components.empty_state("Choose a period."), 0, ""
    f = _filters(period_from, period_to, line, service, number, match, start, end)
    href = _href(f)
    scope = gate.current_scope()
    try:
        counts = gate.run("reports.itemised_count", scope, **f)
        records, charge = fig.totals(counts)
        # a page turn moves within the selection; any other change starts again at page 1
        # the page number comes back from the browser: never trust it to be a number
        try:
            page = max(int(page or 0), 0)
        except (TypeError, ValueError):
            page = 0
        if ctx.triggered_id == NEXT:
            page = min(page + 1, fig.page_count(records) - 1)
        elif ctx.triggered_id == PREV:
            page = max(page - 1, 0)
        else:
            page = 0
        if records == 0:
            return [], fig.summary_text(0, 0, 0), components.empty_state(
                "No usage in this period"), 0, href
        sort = sort if sort in fig.SORTABLE else "event_time"
        descending, offset = order != "asc", page * fig.PAGE_SIZE
        scan_from, scan_to = fig.scan_window(
            counts, period_from, period_to, sort, descending, offset)
        df = gate.run(
            "reports.itemised_page", scope, **f, sort=sort, descending=descending,
            offset=offset, scan_from=scan_from, scan_to=scan_to,
        )
    except gate.GateError:
        return [], "", components.error_state("The records could not be loaded."), 0, href
    incl = components.vat_on(vat)
    summary = fig.summary_text(records, charge, page, incl)
    return fig.itemised_rows(df, incl), summary, None, page, href
