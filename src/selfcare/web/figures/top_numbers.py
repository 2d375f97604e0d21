"""Pure figure and table builders for the Top 50 numbers dialled page.

Input frames come from `reports.top_numbers` / `reports.top_numbers_lines` (amounts excl. VAT);
nothing here queries or knows the viewer.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go

# CDR charges carry no invoice VAT column: incl. VAT is the standard 15 % (docs/architecture.md).
VAT_FACTOR = Decimal("1.15")
MEASURES = {"calls": "Calls", "minutes": "Minutes", "cost": "Cost (ZAR)"}


def with_vat(amount, incl_vat: bool) -> Decimal:
    """An excl.-VAT CDR amount, or incl. VAT at 15 %, to the cent (4 places kept)."""
    value = Decimal(str(amount)) if amount is not None else Decimal(0)
    return (value * VAT_FACTOR).quantize(Decimal("0.0001")) if incl_vat else value


def top_numbers_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict]:
    """Grid rows: numbers as text, amounts as floats rounded to the cent for display."""
    rows = []
    for r in df.itertuples(index=False):
        rows.append(
            {
                "rank": int(r.rank),
                "other_party": str(r.other_party),
                "destination_class": r.destination_class or "",
                "calls": int(r.calls),
                "minutes": round(float(r.minutes), 2),
                "cost": float(round(with_vat(r.cost, incl_vat), 2)),
                "lines": int(r.lines),
                "share": None if pd.isna(r.share) else round(float(r.share) * 100, 2),
            }
        )
    return rows


def lines_rows(df: pd.DataFrame, incl_vat: bool = False) -> list[dict]:
    """Grid rows of the drill-down: the viewer's lines that called one number."""
    return [
        {
            "msisdn": str(r.msisdn),
            "employee_name": r.employee_name if isinstance(r.employee_name, str) else "",
            "calls": int(r.calls),
            "minutes": round(float(r.minutes), 2),
            "cost": float(round(with_vat(r.cost, incl_vat), 2)),
        }
        for r in df.itertuples(index=False)
    ]


def top_numbers_figure(df: pd.DataFrame, by: str, incl_vat: bool = False) -> go.Figure:
    """Horizontal bars: the numbers by the chosen measure, rank 1 at the top."""
    rows = top_numbers_rows(df, incl_vat)
    values = [r[by] for r in rows]
    labels = [r["other_party"] for r in rows]
    custom = [[r["destination_class"], r["lines"], r["share"]] for r in rows]
    unit = MEASURES.get(by, by)
    if by == "cost" and incl_vat:
        unit = "Cost (ZAR incl. VAT)"
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            customdata=custom,
            marker_color="#2a6f97",
            hovertemplate=(
                "%{y}<br>" + unit + ": %{x:,.2f}<br>class: %{customdata[0]}"
                "<br>lines: %{customdata[1]}<br>share: %{customdata[2]:.2f}%<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=f"Top {len(rows)} numbers dialled by {unit.lower()}",
        xaxis_title=unit,
        xaxis_tickformat=",.0f" if by == "calls" else ",.2f",
        # categorical axis keeps numbers as text and rank 1 at the top
        yaxis={"type": "category", "autorange": "reversed", "title": None},
        height=max(360, 18 * len(rows) + 120),
        margin={"l": 130, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
    )
    return fig
