"""Pure figure and table builders for the Usage page (month-on-month usage by service).

Input frames are the results of `reports.usage_monthly` and `reports.usage_roaming`; nothing here
reads data or knows who is looking.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SERVICES = ("VOICE", "SMS", "MMS", "DATA")
# Each service's own measure: the column of usage_monthly it is read from, its display unit and
# the divisor from that column to the unit shown (data: MB in the query, GB on the page).
MEASURES = {
    "VOICE": ("minutes", "minutes", 1.0),
    "SMS": ("sms", "messages", 1.0),
    "MMS": ("mms", "messages", 1.0),
    "DATA": ("data_mb", "GB", 1024.0),
}
TITLES = {"VOICE": "Voice minutes", "SMS": "SMS", "MMS": "MMS", "DATA": "Data (GB)"}
VAT_FACTOR = Decimal("1.15")  # CDR-derived costs: VAT at the standard 15 %
COLOURS = {"VOICE": "#2563eb", "SMS": "#16a34a", "MMS": "#9333ea", "DATA": "#ea580c"}


def previous_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"{year:04d}-{month:02d}"


def _amount(value: object, vat: bool) -> Decimal:
    d = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    return (d * VAT_FACTOR).quantize(Decimal("0.0001")) if vat else d


def monthly_table(monthly: pd.DataFrame, vat: bool = False, first: str | None = None
                  ) -> pd.DataFrame:
    """One row per bill period and service: usage in the service's unit and its MoM change.

    mom_pct is the change against the previous calendar month's row of the same service; None
    when that month is not in the frame or had no usage (growth from nothing is undefined).
    Rows before `first` only serve as the previous month of the first period shown.
    """
    cols = [
        "bill_period", "service", "usage", "unit", "mom_pct", "events", "in_bundle_events",
        "out_of_bundle_events", "out_of_bundle_charge", "roaming_charge",
    ]
    if monthly is None or monthly.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    value_of: dict[tuple[str, str], float] = {}
    for r in monthly.itertuples(index=False):
        column, _, divisor = MEASURES[r.service]
        value_of[(r.bill_period, r.service)] = float(getattr(r, column)) / divisor
    for r in monthly.sort_values(["bill_period", "service"]).itertuples(index=False):
        if first is not None and r.bill_period < first:
            continue
        _, unit, _ = MEASURES[r.service]
        value = value_of[(r.bill_period, r.service)]
        prev = value_of.get((previous_period(r.bill_period), r.service))
        mom = (value / prev - 1) * 100 if prev else None
        rows.append(
            {
                "bill_period": r.bill_period,
                "service": r.service,
                "usage": round(value, 4),
                "unit": unit,
                "mom_pct": None if mom is None else round(mom, 4),
                "events": int(r.events),
                "in_bundle_events": int(r.in_bundle_events),
                "out_of_bundle_events": int(r.events) - int(r.in_bundle_events),
                "out_of_bundle_charge": float(_amount(r.out_of_bundle_charge, vat)),
                "roaming_charge": float(_amount(r.roaming_charge, vat)),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def usage_text(value: float, unit: str) -> str:
    """'3 899.8 minutes', '748 messages': counts whole, space as thousands separator."""
    text = f"{value:,.0f}" if unit == "messages" else f"{value:,.1f}"
    return f"{text.replace(',', ' ')} {unit}"


def _layout(fig: go.Figure, height: int = 420) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def volume_figure(table: pd.DataFrame) -> go.Figure:
    """Four small charts, one per service, each in its own unit, bill period on the x axis."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=[TITLES[s] for s in SERVICES])
    for i, service in enumerate(SERVICES):
        part = table[table.service == service]
        fig.add_trace(
            go.Bar(
                x=list(part.bill_period),
                y=list(part.usage),
                name=TITLES[service],
                marker_color=COLOURS[service],
                customdata=list(part.mom_pct),
                hovertemplate="%{x}: %{y:,.1f}<br>MoM %{customdata:+.1f} %<extra></extra>",
            ),
            row=i // 2 + 1,
            col=i % 2 + 1,
        )
    fig.update_layout(showlegend=False)
    fig.update_xaxes(type="category")
    return _layout(fig, 520)


def mom_figure(table: pd.DataFrame) -> go.Figure:
    """Month-on-month change per service (percent), one line per service."""
    fig = go.Figure()
    for service in SERVICES:
        part = table[(table.service == service) & table.mom_pct.notna()]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=list(part.bill_period),
                y=list(part.mom_pct),
                mode="lines+markers",
                name=TITLES[service],
                line={"color": COLOURS[service]},
                hovertemplate="%{x}: %{y:+.1f} %<extra>" + TITLES[service] + "</extra>",
            )
        )
    fig.update_layout(title="Month-on-month change", yaxis_title="% vs previous month")
    fig.update_xaxes(type="category")
    return _layout(fig)


def bundle_figure(table: pd.DataFrame, vat: bool = False) -> go.Figure:
    """In-bundle vs out-of-bundle events per bill period, with the out-of-bundle charge."""
    per = (
        table.groupby("bill_period", as_index=False)[
            ["in_bundle_events", "out_of_bundle_events", "out_of_bundle_charge"]
        ].sum()
        if not table.empty
        else table
    )
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(x=list(per.bill_period), y=list(per.in_bundle_events), name="In bundle (free)",
               marker_color="#94a3b8")
    )
    fig.add_trace(
        go.Bar(x=list(per.bill_period), y=list(per.out_of_bundle_events),
               name="Out of bundle (charged)", marker_color="#dc2626")
    )
    fig.add_trace(
        go.Scatter(
            x=list(per.bill_period),
            y=list(per.out_of_bundle_charge),
            name="Out-of-bundle charge" + (" incl. VAT" if vat else ""),
            mode="lines+markers",
            line={"color": "#111827"},
            hovertemplate="%{x}: R %{y:,.2f}<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_layout(barmode="stack", title="In bundle vs out of bundle")
    # from zero: a single month would otherwise get an axis of a few cents around its value
    fig.update_yaxes(title_text="events", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="ZAR", secondary_y=True, tickprefix="R ", rangemode="tozero")
    fig.update_xaxes(type="category")
    return _layout(fig)


def roaming_table(roaming: pd.DataFrame, vat: bool = False) -> pd.DataFrame:
    """Roaming rows with amounts as floats (incl. VAT at 15 % when asked)."""
    cols = ["bill_period", "roaming_country", "service", "lines", "events", "minutes", "data_mb",
            "charge"]
    if roaming is None or roaming.empty:
        return pd.DataFrame(columns=cols)
    out = roaming[cols].copy()
    out["charge"] = [float(_amount(v, vat)) for v in out.charge]
    out["minutes"] = out.minutes.astype(float).round(4)
    out["data_mb"] = out.data_mb.astype(float).round(4)
    out["lines"] = out.lines.astype(int)
    out["events"] = out.events.astype(int)
    return out


def roaming_figure(table: pd.DataFrame, vat: bool = False) -> go.Figure:
    """Roaming charge by country over the selected periods, stacked by service."""
    fig = go.Figure()
    per = table.groupby(["roaming_country", "service"], as_index=False)["charge"].sum()
    order = (
        per.groupby("roaming_country")["charge"].sum().sort_values(ascending=False).index.tolist()
    )
    for service in SERVICES:
        part = per[per.service == service].set_index("roaming_country").reindex(order)
        if part.charge.isna().all():
            continue
        fig.add_trace(
            go.Bar(
                x=order,
                y=list(part.charge.fillna(0)),
                name=TITLES[service],
                marker_color=COLOURS[service],
                hovertemplate="%{x}: R %{y:,.2f}<extra>" + TITLES[service] + "</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Roaming charge by country" + (" (incl. VAT)" if vat else ""),
        yaxis={"tickprefix": "R "},
    )
    return _layout(fig)
