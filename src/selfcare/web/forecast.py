"""Forecasting monthly series for the Growth page: the method and its measured error.

Pure functions on plain sequences of floats (one value per consecutive bill period), so the method
can be checked by hand (docs/forecast.md works the examples):

* 24 or more months of history: **seasonal-naive** with a 12-month season, each forecast month
  repeats the same month one year earlier (`y[T+h] = y[T+h-12]`);
* 2 to 23 months: **Holt's linear exponential smoothing** (level + trend). The smoothing weights
  alpha and beta are chosen by least squares: the pair on a fixed grid that minimises the sum of
  squared one-step-ahead errors over the history (ties: the first pair on the grid);
* 1 month: the naive forecast (the last value repeated); no history: no forecast.

The error measure is a hold-out test: fit on all but the last `holdout` months, forecast those
months, and report each absolute error and the MAPE (mean absolute percentage error, in percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SEASON = 12
SEASONAL_MIN_HISTORY = 2 * SEASON
HORIZON = 3
# The least-squares search grid for alpha and beta: 0.05, 0.10, ..., 1.00 (20 x 20 pairs).
GRID = tuple(round(0.05 * i, 2) for i in range(1, 21))
BETA_GRID = (0.0, *GRID)


@dataclass(frozen=True)
class Forecast:
    method: str  # "seasonal-naive" | "holt" | "naive" | "none"
    values: tuple[float, ...]
    alpha: float | None = None
    beta: float | None = None


@dataclass(frozen=True)
class Backtest:
    """Forecast of the held-back months against what actually happened."""

    method: str
    actual: tuple[float, ...]
    forecast: tuple[float, ...]
    abs_errors: tuple[float, ...]
    mape: float | None  # percent; None when every held-back actual is zero


def holt_one_step_sse(y: Sequence[float], alpha: float, beta: float) -> float:
    """Sum of squared one-step-ahead errors of Holt's method over y[2:].

    Initialisation: level = y[0], trend = y[1] - y[0]; the first forecast is for y[2].
    """
    level, trend = y[0], y[1] - y[0]
    # y[1] is explained exactly by the initial trend; update from it like every later point.
    level, trend = _holt_update(level, trend, y[1], alpha, beta)
    sse = 0.0
    for value in y[2:]:
        err = value - (level + trend)
        sse += err * err
        level, trend = _holt_update(level, trend, value, alpha, beta)
    return sse


def _holt_update(
    level: float, trend: float, value: float, alpha: float, beta: float
) -> tuple[float, float]:
    new_level = alpha * value + (1 - alpha) * (level + trend)
    new_trend = beta * (new_level - level) + (1 - beta) * trend
    return new_level, new_trend


def holt(y: Sequence[float], horizon: int = HORIZON) -> Forecast:
    """Holt's linear method with (alpha, beta) chosen by least squares on the grid."""
    y = [float(v) for v in y]
    if len(y) < 2:
        raise ValueError("Holt's method needs at least two values")
    best: tuple[float, float, float] | None = None
    for alpha in GRID:
        for beta in BETA_GRID:
            sse = holt_one_step_sse(y, alpha, beta)
            # strict < keeps the first pair on ties, so the choice is deterministic
            if best is None or sse < best[0] - 1e-12:
                best = (sse, alpha, beta)
    assert best is not None
    _, alpha, beta = best
    level, trend = y[0], y[1] - y[0]
    for value in y[1:]:
        level, trend = _holt_update(level, trend, value, alpha, beta)
    values = tuple(level + h * trend for h in range(1, horizon + 1))
    return Forecast("holt", values, alpha, beta)


def seasonal_naive(y: Sequence[float], horizon: int = HORIZON, season: int = SEASON) -> Forecast:
    """Each forecast month repeats the value of the same month one season earlier."""
    y = [float(v) for v in y]
    if len(y) < season:
        raise ValueError("seasonal-naive needs at least one full season")
    n = len(y)
    values = tuple(y[n - season + (h - 1) % season] for h in range(1, horizon + 1))
    return Forecast("seasonal-naive", values)


def forecast(y: Sequence[float], horizon: int = HORIZON) -> Forecast:
    """The documented method for a history of consecutive months (oldest first)."""
    y = [float(v) for v in y]
    if len(y) >= SEASONAL_MIN_HISTORY:
        return seasonal_naive(y, horizon)
    if len(y) >= 2:
        return holt(y, horizon)
    if len(y) == 1:
        return Forecast("naive", tuple(y[0] for _ in range(horizon)))
    return Forecast("none", ())


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Mean absolute percentage error in percent, over the months whose actual is not zero."""
    pairs = [(float(a), float(p)) for a, p in zip(actual, predicted, strict=True) if a != 0]
    if not pairs:
        return None
    return 100.0 * sum(abs(a - p) / abs(a) for a, p in pairs) / len(pairs)


def backtest(y: Sequence[float], holdout: int = HORIZON) -> Backtest | None:
    """Fit on all but the last `holdout` months, forecast them, measure the error.

    None when the history is too short to leave at least two months to fit on.
    """
    y = [float(v) for v in y]
    if len(y) < holdout + 2:
        return None
    train, test = y[:-holdout], y[-holdout:]
    fc = forecast(train, holdout)
    errors = tuple(abs(a - p) for a, p in zip(test, fc.values, strict=True))
    return Backtest(fc.method, tuple(test), fc.values, errors, mape(test, fc.values))


def next_periods(last: str, horizon: int = HORIZON) -> list[str]:
    """The `horizon` bill periods ('YYYY-MM') after `last`."""
    year, month = (int(p) for p in last.split("-"))
    out = []
    for _ in range(horizon):
        month += 1
        if month > 12:
            year, month = year + 1, 1
        out.append(f"{year:04d}-{month:02d}")
    return out
