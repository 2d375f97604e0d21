"""Shared pieces of the portal's look: the shell's ids, KPI cards, empty and error states, money
formatting and a grid factory, so every page looks and behaves the same.

Pages read the shell's controls as inputs:

    Input(PERIOD_FROM, "value"), Input(PERIOD_TO, "value"), Input(VAT, "value")

`PERIOD_FROM`/`PERIOD_TO` hold a bill period "YYYY-MM" (None until the shell has loaded the
periods, or when the lake has none: show `empty_state` then); `vat_on(value)` reads the toggle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import dash_ag_grid as dag
import plotly.graph_objects as go
from dash import html

PERIOD_FROM = "app-period-from"
PERIOD_TO = "app-period-to"
VAT = "app-vat"
VAT_ON = "vat"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def vat_on(value: Sequence[str] | None) -> bool:
    """The "incl. VAT" toggle's value (a checklist value list) as a bool."""
    return bool(value) and VAT_ON in value


def period_label(period: str) -> str:
    """'2026-04' -> 'Apr 2026'."""
    try:
        year, month = period.split("-")
        return f"{MONTHS[int(month) - 1]} {year}"
    except (ValueError, IndexError, AttributeError):
        return str(period)


def _decimal(amount: Any) -> Decimal | None:
    if amount is None:
        return None
    if isinstance(amount, float) and (math.isnan(amount) or math.isinf(amount)):
        return None
    try:
        # str() first: Decimal(0.1) would carry the float's binary noise into the rounding.
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return None if value.is_nan() or value.is_infinite() else value


def money(amount: Any, vat: bool = False) -> str:
    """South African rand: 'R 1 234 567.89' (space thousands separator, two decimals, half-up).

    Negative amounts read '-R 12.50'; a missing amount is an en dash. `vat=True` says the amount
    includes VAT ('R 115.00 incl. VAT'); this function formats, it never adds VAT itself.
    """
    value = _decimal(amount)
    if value is None:
        return "–"
    value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = f"{sign}R {' '.join(groups)}.{cents}"
    return text + " incl. VAT" if vat else text


def kpi_card(title: str, value: Any, delta: Any = None, id: str | None = None) -> html.Div:
    """A headline number. `delta`: a number (shown as +x.x % / -x.x %, coloured; for spend, up is
    bad) or a ready string."""
    children: list[Any] = [
        html.Div(title, className="kpi-title"),
        html.Div(value, className="kpi-value"),
    ]
    if delta is not None:
        if isinstance(delta, int | float | Decimal):
            d = float(delta)
            cls = "kpi-delta up" if d > 0 else "kpi-delta down" if d < 0 else "kpi-delta"
            text = f"{d:+.1f} %"
        else:
            cls, text = "kpi-delta", str(delta)
        children.append(html.Div(text, className=cls))
    kwargs = {"id": id} if id else {}
    return html.Div(children, className="kpi-card", **kwargs)


def kpi_row(cards: Sequence[Any]) -> html.Div:
    return html.Div(list(cards), className="kpi-row")


def empty_state(text: str = "No data for this selection.") -> html.Div:
    return html.Div(
        [html.Div("∅", className="state-icon"), html.P(text)], className="state state-empty"
    )


def error_state(text: str = "This view could not be loaded. Try again later.") -> html.Div:
    return html.Div(
        [html.Div("!", className="state-icon"), html.P(text)],
        className="state state-error",
        role="alert",
    )


def card(title: str | None, *children: Any, className: str = "") -> html.Section:
    """A titled panel for a chart, grid or form."""
    head = [html.H3(title, className="card-title")] if title else []
    return html.Section([*head, *children], className=f"card {className}".strip())


def page_header(title: str, subtitle: str | None = None) -> html.Div:
    return html.Div(
        [html.H1(title, className="page-title")]
        + ([html.P(subtitle, className="page-subtitle")] if subtitle else []),
        className="page-header",
    )


MONEY_FORMATTER = {
    # Client-side formatting of amount columns in the grid, same shape as money().
    "function": "params.value == null ? '' : 'R ' + Number(params.value).toFixed(2)"
    ".replace(/\\B(?=(\\d{3})+(?!\\d))/g, ' ')"
}


def money_column(field: str, header: str | None = None, **extra: Any) -> dict[str, Any]:
    """A grid column definition for an amount: right-aligned, numeric filter, rand format."""
    return {
        "field": field,
        "headerName": header or field.replace("_", " ").capitalize(),
        "type": "rightAligned",
        "filter": "agNumberColumnFilter",
        "valueFormatter": MONEY_FORMATTER,
        **extra,
    }


def data_grid(
    id: str,
    rowData: list[dict[str, Any]] | None = None,
    columnDefs: list[dict[str, Any]] | None = None,
    page_size: int = 20,
    height: str = "480px",
    **kwargs: Any,
) -> dag.AgGrid:
    """An AG Grid with sorting, filtering and pagination on, sized to fit the page.

    Keep `rowData` small (a page of results or a summary): large lists belong in a CSV export.
    """
    options = {
        "pagination": True,
        "paginationPageSize": page_size,
        "paginationPageSizeSelector": [10, 20, 50, 100],
        "animateRows": False,
        "suppressCellFocus": True,
        **kwargs.pop("dashGridOptions", {}),
    }
    default_col = {
        "sortable": True,
        "filter": True,
        "resizable": True,
        "minWidth": 90,
        **kwargs.pop("defaultColDef", {}),
    }
    return dag.AgGrid(
        id=id,
        rowData=rowData or [],
        columnDefs=columnDefs or [],
        defaultColDef=default_col,
        dashGridOptions=options,
        columnSize=kwargs.pop("columnSize", "responsiveSizeToFit"),
        className=kwargs.pop("className", "ag-theme-quartz selfcare-grid"),
        style={"height": height, "width": "100%", **kwargs.pop("style", {})},
        **kwargs,
    )


def empty_figure() -> go.Figure:
    """A blank chart (no axes) to sit under an empty or error state."""
    figure = go.Figure()
    figure.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=200, template="plotly_white"
    )
    return figure


# --- orders and lines (the Lines, Requests and order pages) ----------------------------------

STATE_NAMES = {
    "pending_approval": "Waiting for approval",
    "approved": "Approved",
    "submitted": "Submitted",
    "in_progress": "In progress",
    "completed": "Completed",
    "failed": "Failed",
    "partially_completed": "Partly completed",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "expired": "Expired",
    # a line's services
    "active": "Active",
    "pending_add": "Being added",
    "pending_remove": "Being removed",
}
_GOOD_STATES = frozenset({"completed", "active", "approved"})


def state_name(state: Any) -> str:
    """The words people read for an order, line or service state code."""
    return STATE_NAMES.get(str(state), str(state).replace("_", " ").capitalize())


def state_badge(state: Any) -> html.Span:
    """A state as a small coloured label; `data-state` keeps the code for tests and styling."""
    cls = "badge badge-ok" if str(state) in _GOOD_STATES else "badge badge-muted"
    return html.Span(state_name(state), className=cls, **{"data-state": str(state)})


def money_change(amount: Any) -> str:
    """A cost change: '+R 29.00', '-R 10.00', 'R 0.00' (en dash when unknown)."""
    value = _decimal(amount)
    if value is None:
        return "–"
    text = money(value)
    return "+" + text if value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) > 0 else text


def simple_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], id: str | None = None
) -> html.Table:
    """A plain HTML table (cells may hold links and badges); for short, server-paged lists."""
    kwargs = {"id": id} if id else {}
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in headers])),
            html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows]),
        ],
        className="table",
        **kwargs,
    )


ACTION_NAMES = {
    "add_service": "Add a service",
    "remove_service": "Remove a service",
    "change_plan": "Change the plan",
    "suspend_line": "Suspend the line",
    "resume_line": "Resume the line",
    "cancel_line": "Cancel the line",
    "new_line": "New line",
    "sim_swap": "Swap the SIM",
}


def action_name(code: Any) -> str:
    """The words people read for an order's action code."""
    return ACTION_NAMES.get(str(code), str(code).replace("_", " ").capitalize())


def when(ts: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC, as stored); empty when missing."""
    return str(ts or "").replace("T", " ")[:16]
