"""Pure builders for the Growth page: segment trends, the fastest-growing ranking, the forecast.

Input frames are `reports.growth_segments` (tenant viewers) or `analyst.growth_segments` (the
operator's analyst); the forecast method itself lives in `selfcare.web.forecast`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import plotly.graph_objects as go

from selfcare.web import forecast as fc

DIMENSION_LABELS = {
    "total": "Total",
    "product_type": "Product type",
    "service": "Service",
    "cost_centre": "Cost centre",
    "territory": "Territory",
    "industry": "Industry",
}
EXPORT_COLUMNS = [
    "dimension", "segment", "bill_period", "kind", "spend", "usage_value", "usage_unit",
    "mom_pct", "yoy_pct", "usage_mom_pct", "usage_yoy_pct",
]


def _month_no(period: str) -> int:
    year, month = (int(p) for p in period.split("-"))
    return year * 12 + month


def _period(month_no: int) -> str:
    year, month = divmod(month_no - 1, 12)
    return f"{year:04d}-{month + 1:02d}"


def spend_column(vat: bool) -> str:
    return "spend_incl_vat" if vat else "spend"


def _float(value: object) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if f != f else f  # NaN → None


def pct_text(value: object) -> str:
    """'+12.3 %' or 'n/a' (no earlier month to compare with, or it was zero)."""
    f = _float(value)
    return "n/a" if f is None else f"{f:+.1f} %"


def span(frame: pd.DataFrame) -> list[str]:
    """Every bill period from the frame's first to its last, gaps included."""
    if frame is None or frame.empty:
        return []
    periods = sorted(frame.bill_period.unique())
    return [_period(m) for m in range(_month_no(periods[0]), _month_no(periods[-1]) + 1)]


def series(frame: pd.DataFrame, dimension: str, segment_id: str, column: str,
           periods: list[str]) -> list[float]:
    """One segment's monthly values over `periods`, a month without a row counting as 0."""
    part = frame[(frame.dimension == dimension) & (frame.segment_id == segment_id)]
    values = {p: float(v) for p, v in zip(part.bill_period, part[column], strict=True)}
    return [values.get(p, 0.0) for p in periods]


def ranking(frame: pd.DataFrame, dimension: str, vat: bool = False) -> pd.DataFrame:
    """The dimension's segments in the last bill period of the frame, fastest-growing first.

    Ordered by month-on-month spend growth, descending; segments without a defined growth (new,
    or zero the month before) come last, then by spend.
    """
    cols = ["segment", "bill_period", "spend", "mom_pct", "yoy_pct", "usage_value", "usage_unit",
            "usage_mom_pct", "usage_yoy_pct"]
    if frame is None or frame.empty:
        return pd.DataFrame(columns=cols)
    part = frame[frame.dimension == dimension]
    if part.empty:
        return pd.DataFrame(columns=cols)
    last = max(frame.bill_period)
    part = part[part.bill_period == last].copy()
    part["spend"] = [_float(v) for v in part[spend_column(vat)]]
    for c in ("mom_pct", "yoy_pct", "usage_mom_pct", "usage_yoy_pct", "usage_value"):
        part[c] = [_float(v) for v in part[c]]
    part["_has_growth"] = part.mom_pct.notna()
    part = part.sort_values(
        ["_has_growth", "mom_pct", "spend", "segment"],
        ascending=[False, False, False, True],
        na_position="last",
    )
    return part[cols].reset_index(drop=True)


def trend_figure(frame: pd.DataFrame, dimension: str, vat: bool = False) -> go.Figure:
    """Spend per bill period, one line per segment of the dimension."""
    fig = go.Figure()
    part = frame[frame.dimension == dimension] if not frame.empty else frame
    column = spend_column(vat)
    for _segment_id, rows in part.groupby("segment_id", sort=True):
        rows = rows.sort_values("bill_period")
        fig.add_trace(
            go.Scatter(
                x=list(rows.bill_period),
                y=[_float(v) for v in rows[column]],
                mode="lines+markers",
                name=str(rows.segment.iloc[0]),
                hovertemplate="%{x}: R %{y:,.2f}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        template="plotly_white",
        title=f"Spend by {DIMENSION_LABELS.get(dimension, dimension).lower()}"
        + (" (incl. VAT)" if vat else ""),
        yaxis={"tickprefix": "R "},
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    fig.update_xaxes(type="category")
    return fig


def ranking_figure(rank: pd.DataFrame, dimension: str) -> go.Figure:
    """Month-on-month spend growth of each segment in the last period, fastest first."""
    shown = rank[rank.mom_pct.notna()]
    fig = go.Figure(
        go.Bar(
            x=list(shown.mom_pct),
            y=[str(s) for s in shown.segment],
            orientation="h",
            marker_color=["#dc2626" if v > 0 else "#16a34a" for v in shown.mom_pct],
            hovertemplate="%{y}: %{x:+.1f} %<extra></extra>",
        )
    )
    fig.update_layout(
        template="plotly_white",
        title=f"Fastest-growing {DIMENSION_LABELS.get(dimension, dimension).lower()} segments"
        " (spend, month on month)",
        xaxis={"ticksuffix": " %"},
        yaxis={"autorange": "reversed"},
        height=max(300, 40 * len(shown) + 120),
        margin={"l": 160, "r": 20, "t": 50, "b": 40},
    )
    return fig


def total_forecast(frame: pd.DataFrame, vat: bool = False):
    """History, forecast and hold-out test of total spend.

    Returns (periods, history values, forecast periods, forecast result, backtest or None).
    """
    periods = span(frame)
    if not periods:
        return [], [], [], fc.Forecast("none", ()), None
    values = series(frame, "total", "ALL", spend_column(vat), periods)
    result = fc.forecast(values)
    return periods, values, fc.next_periods(periods[-1]), result, fc.backtest(values)


def forecast_figure(periods, values, next_periods, result, test, vat: bool = False) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=periods, y=values, mode="lines+markers", name="Actual spend",
                   line={"color": "#2563eb"}, hovertemplate="%{x}: R %{y:,.2f}<extra></extra>")
    )
    if result.values:
        fig.add_trace(
            go.Scatter(
                x=[periods[-1], *next_periods],
                y=[values[-1], *result.values],
                mode="lines+markers",
                name=f"Forecast ({result.method})",
                line={"color": "#ea580c", "dash": "dash"},
                hovertemplate="%{x}: R %{y:,.2f}<extra></extra>",
            )
        )
    if test is not None:
        held = periods[-len(test.forecast):]
        fig.add_trace(
            go.Scatter(
                x=held, y=list(test.forecast), mode="markers", name="Hold-out forecast",
                marker={"symbol": "x", "size": 10, "color": "#6b7280"},
                hovertemplate="%{x}: R %{y:,.2f}<extra>fitted without these months</extra>",
            )
        )
    fig.update_layout(
        template="plotly_white",
        title="Total spend and the next three bill periods" + (" (incl. VAT)" if vat else ""),
        yaxis={"tickprefix": "R "},
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    fig.update_xaxes(type="category")
    return fig


def _dec(value: object) -> Decimal:
    """An amount as an exact 4-decimal Decimal (the engine may hand back floats or Decimals)."""
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return d.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def export_frame(frame: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The `growth` export: actual rows, three forecast rows for every segment, and the hold-out
    test of the total (kind `holdout`: the forecast of each held-back month, fitted without it).

    `frame` holds the rows of the periods asked for; `history` every period up to the last one
    (default: the frame itself). Each segment's spend and usage are forecast separately from its
    monthly series over the history (missing months count as 0), amounts excl. VAT.
    """
    history = frame if history is None else history
    if frame is None or frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXPORT_COLUMNS})
    actual = frame.copy()
    actual["kind"] = "actual"
    # one type per column for the CSV writer: exact Decimals, like the forecast rows below
    actual["spend"] = [_dec(v) for v in actual.spend]
    periods = span(history)
    following = fc.next_periods(periods[-1])
    rows = []
    keys = frame[["dimension", "segment_id", "segment"]].drop_duplicates()
    for key in keys.sort_values(["dimension", "segment"]).itertuples(index=False):
        spend = fc.forecast(series(history, key.dimension, key.segment_id, "spend", periods))
        usage = fc.forecast(
            series(history, key.dimension, key.segment_id, "usage_value", periods)
        )
        unit = frame[(frame.dimension == key.dimension) & (frame.segment_id == key.segment_id)]
        for period, s, u in zip(following, spend.values, usage.values, strict=True):
            rows.append(
                {
                    "dimension": key.dimension,
                    "segment": key.segment,
                    "bill_period": period,
                    "kind": "forecast",
                    "spend": _dec(s),
                    "usage_value": round(u, 4),
                    "usage_unit": unit.usage_unit.iloc[0],
                }
            )
    spend_test = fc.backtest(series(history, "total", "ALL", "spend", periods))
    usage_test = fc.backtest(series(history, "total", "ALL", "usage_value", periods))
    if spend_test is not None and usage_test is not None:
        held = periods[-len(spend_test.forecast):]
        for period, s, u in zip(held, spend_test.forecast, usage_test.forecast, strict=True):
            rows.append(
                {
                    "dimension": "total",
                    "segment": "Total",
                    "bill_period": period,
                    "kind": "holdout",
                    "spend": _dec(s),
                    "usage_value": round(u, 4),
                    "usage_unit": "events",
                }
            )
    actual = actual.sort_values(["dimension", "segment", "bill_period"])
    out = pd.concat([actual[EXPORT_COLUMNS], pd.DataFrame(rows, columns=EXPORT_COLUMNS)],
                    ignore_index=True)
    # pandas 3 keeps concatenated text columns as chunked Arrow arrays, which
    # pyarrow.RecordBatch.from_pandas (the export route) rejects: hand it plain objects
    text = [c for c in out.columns if pd.api.types.is_string_dtype(out[c])]
    return out.astype({c: object for c in text})
