"""Pure figure and table builders for the Overview page.

Input frames come from `reports.overview_kpis`, `reports.overview_trend`,
`reports.overview_increases`, `reports.overview_alerts` and `reports.lines_spend` (amounts excl.
VAT with incl.-VAT twins from the invoices); nothing here queries or knows the viewer.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from selfcare.web.components import money, money_column, period_label

# A stable colour per charge type, so the stacked trend reads the same month after month.
CHARGE_COLOURS = {
    "SUBSCRIPTION": "#1f77b4",
    "USAGE": "#ff7f0e",
    "VAS": "#2ca02c",
    "ONCE_OFF": "#9467bd",
    "ADJUSTMENT": "#8c564b",
    "DISCOUNT": "#7f7f7f",
}
TOP_INCREASES = 10
MSISDN = re.compile(r"\A[0-9]{1,20}\Z", re.ASCII)
# Single-row selection by click, no checkbox column (AG Grid's rowSelection object API).
SELECT_ONE = {"rowSelection": {"mode": "singleRow", "checkboxes": False,
                               "enableClickSelection": True}}


def dec(value: Any) -> Decimal:
    """A DECIMAL column value (Decimal, float, None or NaN) as a Decimal; missing is 0."""
    if value is None:
        return Decimal(0)
    if isinstance(value, float) and pd.isna(value):
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def text(value: Any) -> str:
    """A nullable text column as a string ('' when missing)."""
    return value if isinstance(value, str) else ""


def cents(value: Any) -> float:
    """An amount for a grid cell: a float rounded to the cent (the grid formats it)."""
    return float(round(dec(value), 2))


def last_periods(period_to: str, n: int = 12) -> list[str]:
    """The n bill periods ending at period_to, oldest first."""
    ty, tm = (int(x) for x in period_to.split("-"))
    end = ty * 12 + tm - 1
    return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(end - n + 1, end + 1)]


def change_pct(current: Decimal, previous: Decimal) -> float | None:
    """Percentage change, None when there is nothing to compare with."""
    if previous == 0:
        return None
    return float((current - previous) / abs(previous) * 100)


def no_activity(kpis: pd.DataFrame) -> bool:
    """True when the selection has neither bills nor usage (the KPIs would all read zero)."""
    if kpis.empty:
        return True
    r = kpis.iloc[0]
    return (dec(r.amount_excl_vat) == 0 and dec(r.vat) == 0 and float(r.voice_minutes) == 0
            and int(r.sms) == 0 and float(r.data_gb) == 0)


def kpi_values(kpis: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """The headline numbers as (title, value text, delta) dicts, in display order."""
    if kpis.empty:
        return []
    r = kpis.iloc[0]
    spend = dec(r.amount_incl_vat if incl_vat else r.amount_excl_vat)
    previous = dec(r.previous_amount_incl_vat if incl_vat else r.previous_amount_excl_vat)
    pct = change_pct(spend, previous)
    window = period_label(r.previous_from) if r.previous_from == r.previous_to else \
        f"{period_label(r.previous_from)}–{period_label(r.previous_to)}"
    change = f"{pct:+.1f} % vs {window}" if pct is not None else f"no spend in {window}"
    return [
        {"title": "Total spend" + (" (incl. VAT)" if incl_vat else " (excl. VAT)"),
         "value": money(spend), "delta": change, "id": "spend"},
        {"title": "Previous period", "value": money(previous), "delta": None, "id": "previous"},
        {"title": "Active lines", "value": f"{int(r.active_lines):,}".replace(",", " "),
         "delta": None, "id": "lines"},
        {"title": "Voice minutes", "value": f"{float(r.voice_minutes):,.0f}".replace(",", " "),
         "delta": None, "id": "voice"},
        {"title": "SMS", "value": f"{int(r.sms):,}".replace(",", " "), "delta": None,
         "id": "sms"},
        {"title": "Data (GB)", "value": f"{float(r.data_gb):,.2f}".replace(",", " "),
         "delta": None, "id": "data"},
    ]


def trend_figure(trend: pd.DataFrame, period_to: str, incl_vat: bool = False) -> go.Figure:
    """Stacked monthly bars by charge type over the 12 periods ending at period_to.

    Discounts and credits are negative and stack below zero (barmode "relative"), so the bar's
    net height is the month's bill.
    """
    periods = last_periods(period_to)
    column = "amount_incl_vat" if incl_vat else "amount_excl_vat"
    figure = go.Figure()
    types = sorted(set(trend.charge_type), key=lambda t: (t not in CHARGE_COLOURS, t)) \
        if not trend.empty else []
    for charge_type in types:
        part = trend[trend.charge_type == charge_type]
        by_period = {p: dec(v) for p, v in zip(part.bill_period, part[column], strict=True)}
        values = [float(by_period.get(p, Decimal(0))) for p in periods]
        figure.add_bar(
            x=[period_label(p) for p in periods],
            y=values,
            name=charge_type.replace("_", " ").title(),
            marker_color=CHARGE_COLOURS.get(charge_type),
            hovertemplate="%{x}<br>%{fullData.name}: R %{y:,.2f}<extra></extra>",
        )
    figure.update_layout(
        barmode="relative",
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        yaxis={"title": "ZAR " + ("incl. VAT" if incl_vat else "excl. VAT"),
               "tickformat": ",.0f"},
        legend={"orientation": "h", "y": -0.15},
        separators=". ",
    )
    return figure


def increases_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """Grid rows of the month-on-month increases (largest first, as the query orders them)."""
    suffix = "_incl_vat" if incl_vat else ""
    return [
        {
            "msisdn": str(r["msisdn"]),
            "employee_name": text(r["employee_name"]) or "(no employee)",
            "cost_centre_name": text(r["cost_centre_name"]),
            "previous": cents(r["previous_amount" + suffix]),
            "current": cents(r["current_amount" + suffix]),
            "increase": cents(r["increase" + suffix]),
        }
        for _, r in df.iterrows()
    ]


def increases_figure(df: pd.DataFrame, incl_vat: bool = False) -> go.Figure:
    """Horizontal bars of the largest increases, the biggest at the top."""
    rows = increases_rows(df.head(TOP_INCREASES), incl_vat)
    rows.reverse()
    figure = go.Figure(
        go.Bar(
            x=[r["increase"] for r in rows],
            y=[f"{r['msisdn']} · {r['employee_name']}" for r in rows],
            orientation="h",
            marker_color="#d62728",
            customdata=[[r["previous"], r["current"]] for r in rows],
            hovertemplate="%{y}<br>increase R %{x:,.2f}<br>from R %{customdata[0]:,.2f}"
            " to R %{customdata[1]:,.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        template="plotly_white",
        height=max(220, 34 * len(rows) + 80),
        margin={"l": 260, "r": 20, "t": 20, "b": 40},
        xaxis={"title": "Increase, ZAR " + ("incl. VAT" if incl_vat else "excl. VAT"),
               "tickformat": ",.0f"},
        separators=". ",
    )
    return figure


ALERT_LABELS = {"ROAMING_SHOCK": "Roaming bill shock", "SPEND_SPIKE": "Spend spike"}


def alerts_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """Grid rows of the alerts; the earlier average is always excl. VAT (it says so)."""
    return [
        {
            "bill_period": str(r["bill_period"]),
            "alert": ALERT_LABELS.get(r["alert"], str(r["alert"])),
            "reason": str(r["reason"]),
            "msisdn": str(r["msisdn"]),
            "employee_name": text(r["employee_name"]) or "(no employee)",
            "cost_centre_name": text(r["cost_centre_name"]),
            "amount": cents(r["amount_incl_vat"] if incl_vat else r["amount_excl_vat"]),
            "earlier_average": None if pd.isna(r["earlier_average_excl_vat"])
            else cents(r["earlier_average_excl_vat"]),
        }
        for _, r in df.iterrows()
    ]


def lines_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict[str, Any]]:
    """Grid rows of `reports.lines_spend`: one per line with its spend in the period."""
    return [
        {
            "msisdn": str(r["msisdn"]),
            "employee_id": text(r["employee_id"]),
            "employee_name": text(r["employee_name"]) or "(no employee)",
            "cost_centre_id": text(r["cost_centre_id"]),
            "plan_code": text(r["plan_code"]),
            "status": text(r["status"]),
            "spend": cents(r["amount_incl_vat"] if incl_vat else r["amount_excl_vat"]),
        }
        for _, r in df.iterrows()
    ]


def line_columns() -> list[dict[str, Any]]:
    """Column definitions of a lines grid (rows from `lines_rows`)."""
    return [
        {"field": "msisdn", "headerName": "Line", "filter": "agTextColumnFilter"},
        {"field": "employee_name", "headerName": "Employee", "filter": "agTextColumnFilter"},
        {"field": "cost_centre_id", "headerName": "Cost centre", "filter": "agTextColumnFilter"},
        {"field": "plan_code", "headerName": "Plan", "filter": "agTextColumnFilter"},
        {"field": "status", "headerName": "Status", "filter": "agTextColumnFilter"},
        money_column("spend", "Spend"),
    ]


def itemised_link(rows: list[dict[str, Any]] | None) -> html.Div | None:
    """A link to the selected line's itemised records (page `/itemised?msisdn=`).

    The msisdn comes back from the browser's grid, so it is checked to be digits and only ever
    rendered as text; the itemised page applies the viewer's scope itself.
    """
    if not rows:
        return None
    msisdn = str(rows[0].get("msisdn", ""))
    if not MSISDN.match(msisdn):
        return None
    return html.Div(
        dcc.Link(f"Itemised records of {msisdn}",
                 href="/itemised?" + urlencode({"msisdn": msisdn}), className="drill-link")
    )
