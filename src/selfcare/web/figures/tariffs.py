"""Pure figure and table builders for the Tariff analyser page (web/pages/tariffs.py).

Each function takes the DataFrame a `reports.tariff_*` query returned and gives back a plotly
figure or grid rows; none runs a query or reads the request, so tests call them directly.
Amounts arrive excl. VAT as Decimals. Incl. VAT follows the portal's rule: billed amounts use the
invoice's own VAT, modelled (CDR-derived) costs 15 %.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import plotly.graph_objects as go

VAT_RATE = Decimal("0.15")
UNIT = Decimal("0.0001")
MONEY_AXIS = {"tickprefix": "R ", "separatethousands": True}
CURRENT_COLOUR = "#1f4e79"
BEST_COLOUR = "#2e8b57"
NEUTRAL_COLOUR = "#9aa5b1"


def _dec(value) -> Decimal:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def with_vat(amount, vat: bool) -> Decimal:
    """A modelled amount incl. VAT at 15 % (half up to 1e-4 ZAR), or unchanged."""
    d = _dec(amount)
    return (d * (1 + VAT_RATE)).quantize(UNIT, rounding=ROUND_HALF_UP) if vat else d


def analysis_rows(df: pd.DataFrame, vat: bool = False) -> list[dict]:
    """Grid rows of reports.tariff_analysis; amounts as floats (ZAR) for sorting and filtering.

    Incl. VAT: the current cost adds the invoices' own VAT, the best plan's modelled cost 15 %;
    the saving is their difference, and the monthly risk band is scaled by 1.15.
    """
    rows = []
    for r in df.itertuples(index=False):
        current = _dec(r.avg_cost_current) + (_dec(r.avg_vat_current) if vat else 0)
        best = with_vat(r.avg_cost_best, vat)
        rows.append(
            {
                "msisdn": r.msisdn,
                "employee_name": r.employee_name or "",
                "cost_centre_name": r.cost_centre_name or "",
                "current_plan": r.current_plan,
                "months": int(r.months),
                "avg_cost_current": float(current),
                "best_plan": r.best_plan,
                "avg_cost_best": float(best),
                "avg_saving": float(current - best),
                "saving_pct": None if pd.isna(r.saving_pct) else float(r.saving_pct),
                "months_better": int(r.months_better),
                "min_saving": float(with_vat(r.min_saving, vat)),
                "max_saving": float(with_vat(r.max_saving, vat)),
                "recommended": "Yes" if bool(r.recommended) else "",
                "possibly_redundant": "Yes" if bool(r.possibly_redundant) else "",
            }
        )
    return rows


def kpis(df: pd.DataFrame, vat: bool = False) -> dict[str, object]:
    """Headline numbers: lines analysed, lines recommended, monthly saving of those, redundant."""
    rec = df[df["recommended"].astype(bool)] if len(df) else df
    saving = sum(
        (
            _dec(r.avg_cost_current)
            + (_dec(r.avg_vat_current) if vat else 0)
            - with_vat(r.avg_cost_best, vat)
            for r in rec.itertuples(index=False)
        ),
        Decimal(0),
    )
    return {
        "lines": len(df),
        "recommended": len(rec),
        "monthly_saving": saving,
        "redundant": int(df["possibly_redundant"].astype(bool).sum()) if len(df) else 0,
    }


def cost_centre_savings(df: pd.DataFrame, vat: bool = False) -> pd.DataFrame:
    """Potential monthly saving per cost centre, recommended lines only, largest first."""
    cols = ["cost_centre_name", "lines", "avg_saving"]
    if not len(df):
        return pd.DataFrame(columns=cols)
    rec = df[df["recommended"].astype(bool)]
    if not len(rec):
        return pd.DataFrame(columns=cols)
    out: dict[str, list] = {}
    for r in rec.itertuples(index=False):
        saving = (
            _dec(r.avg_cost_current)
            + (_dec(r.avg_vat_current) if vat else 0)
            - with_vat(r.avg_cost_best, vat)
        )
        entry = out.setdefault(r.cost_centre_name or "", [0, Decimal(0)])
        entry[0] += 1
        entry[1] += saving
    frame = pd.DataFrame(
        [(name, n, total) for name, (n, total) in out.items()], columns=cols
    )
    return frame.sort_values(["avg_saving", "cost_centre_name"], ascending=[False, True])


def cost_centre_figure(df: pd.DataFrame, vat: bool = False) -> go.Figure:
    """Horizontal bars: potential saving per month per cost centre (recommended lines)."""
    totals = cost_centre_savings(df, vat)
    fig = go.Figure(
        go.Bar(
            x=[float(v) for v in totals["avg_saving"]],
            y=list(totals["cost_centre_name"]),
            orientation="h",
            marker_color=BEST_COLOUR,
            customdata=list(totals["lines"]),
            hovertemplate="%{y}<br>R %{x:,.2f} per month<br>%{customdata} line(s)<extra></extra>",
        )
    )
    fig.update_layout(
        title="Potential saving per month by cost centre (recommended lines)",
        xaxis=MONEY_AXIS,
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
        height=max(260, 60 + 28 * len(totals)),
    )
    return fig


def risk_band_figure(df: pd.DataFrame, vat: bool = False, top: int = 20) -> go.Figure:
    """The risk band of the best alternative for the lines with the largest average saving:
    a bar from the smallest to the largest monthly saving, the average as a marker, coloured by
    whether a change is recommended."""
    rows = sorted(analysis_rows(df, vat), key=lambda r: (-r["avg_saving"], r["msisdn"]))
    rows = [r for r in rows if r["best_plan"] != r["current_plan"]][:top]
    labels = [f"{r['msisdn']} → {r['best_plan']}" for r in rows]
    colours = [BEST_COLOUR if r["recommended"] else NEUTRAL_COLOUR for r in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=labels,
            x=[r["max_saving"] - r["min_saving"] for r in rows],
            base=[r["min_saving"] for r in rows],
            orientation="h",
            marker_color=colours,
            opacity=0.45,
            name="monthly saving, min to max",
            customdata=[[r["min_saving"], r["max_saving"], r["months_better"], r["months"]]
                        for r in rows],
            hovertemplate=(
                "%{y}<br>min R %{customdata[0]:,.2f} / max R %{customdata[1]:,.2f}"
                "<br>cheaper in %{customdata[2]} of %{customdata[3]} months<extra></extra>"
            ),
        )
    )
    fig.add_trace(
        go.Scatter(
            y=labels,
            x=[r["avg_saving"] for r in rows],
            mode="markers",
            marker={"color": colours, "size": 10, "symbol": "diamond"},
            name="average saving",
            hovertemplate="%{y}<br>average R %{x:,.2f} per month<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#555", line_width=1)
    fig.update_layout(
        title="Risk band: monthly saving of the cheapest plan (min to max, ◆ average)",
        xaxis=MONEY_AXIS,
        yaxis={"autorange": "reversed"},
        barmode="overlay",
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
        height=max(260, 60 + 26 * len(rows)),
    )
    return fig


def spend_trend_figure(df: pd.DataFrame, vat: bool = False) -> go.Figure:
    """Average spend per line over all bill periods: plan charges and all line charges."""
    periods = list(df["bill_period"]) if len(df) else []

    def series(col: str) -> list[float]:
        return [float(with_vat(v, vat)) for v in df[col]] if len(df) else []

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=periods,
            y=series("avg_plan_spend_per_line"),
            mode="lines+markers",
            name="plan (subscription + usage)",
            line_color=CURRENT_COLOUR,
            hovertemplate="%{x}: R %{y:,.2f} per line<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=periods,
            y=series("avg_spend_per_line"),
            mode="lines+markers",
            name="all line charges",
            line={"color": NEUTRAL_COLOUR, "dash": "dot"},
            hovertemplate="%{x}: R %{y:,.2f} per line<extra></extra>",
        )
    )
    fig.update_layout(
        title="Average spend per line per bill period",
        xaxis={"type": "category", "title": "bill period"},
        yaxis=MONEY_AXIS,
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
        height=320,
    )
    return fig


def line_months_figure(df: pd.DataFrame, vat: bool = False) -> go.Figure:
    """Drill-down for one line: month by month, the bill and the modelled cost on each plan."""
    fig = go.Figure()
    if len(df):
        months = sorted(df["bill_period"].unique())
        first = df.drop_duplicates("bill_period").set_index("bill_period")
        fig.add_trace(
            go.Bar(
                x=months,
                y=[
                    float(_billed(first.at[m, "billed_current"], first.at[m, "billed_vat"], vat))
                    for m in months
                ],
                name="billed (current plan)",
                marker_color=CURRENT_COLOUR,
                opacity=0.35,
                hovertemplate="%{x}: billed R %{y:,.2f}<extra></extra>",
            )
        )
        for code, plan in df.groupby("plan_code", sort=True):
            plan = plan.sort_values("bill_period")
            current = bool(plan["is_current"].iloc[0])
            fig.add_trace(
                go.Scatter(
                    x=list(plan["bill_period"]),
                    y=[float(with_vat(v, vat)) for v in plan["cost"]],
                    mode="lines+markers",
                    name=f"{code} (current)" if current else str(code),
                    line={"width": 3 if current else 1.5},
                    hovertemplate=f"{code}" + " %{x}: R %{y:,.2f}<extra></extra>",
                )
            )
    fig.update_layout(
        title="Month by month: the bill and every plan for the same usage",
        xaxis={"type": "category", "title": "bill period"},
        yaxis=MONEY_AXIS,
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
        height=340,
    )
    return fig


def line_month_rows(df: pd.DataFrame, vat: bool = False) -> list[dict]:
    """Grid rows of reports.tariff_line_months (one per month and plan)."""
    rows = []
    for r in df.itertuples(index=False):
        billed = _billed(r.billed_current, r.billed_vat, vat)
        cost = with_vat(r.cost, vat)
        rows.append(
            {
                "bill_period": r.bill_period,
                "plan_code": r.plan_code,
                "plan_name": r.plan_name,
                "current": "Yes" if bool(r.is_current) else "",
                "cost": float(cost),
                "billed_current": float(billed),
                "saving": float(billed - cost),
            }
        )
    return rows


def _billed(amount, vat_amount, vat: bool) -> Decimal:
    """A billed amount, incl. the invoice's own VAT when asked."""
    return _dec(amount) + (_dec(vat_amount) if vat else 0)


def option_rows(df: pd.DataFrame, vat: bool = False) -> list[dict]:
    """Grid rows of reports.tariff_options (one per candidate plan)."""
    return [
        {
            "plan_code": r.plan_code,
            "plan_name": r.plan_name,
            "current": "Yes" if bool(r.is_current) else "",
            "avg_cost": float(with_vat(r.avg_cost, vat)),
            "months_cheaper": int(r.months_cheaper),
        }
        for r in df.itertuples(index=False)
    ]
