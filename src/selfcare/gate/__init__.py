"""The one gate for data: every page, callback and export reads the lake through here.

It turns the signed-in user into a frozen `Scope` and runs named queries from `queries/` with the
scope bound as parameters. Callers name a query and pass their own filters; they can never pass a
scope parameter, and the scope is re-derived on the server for every request, so nothing a browser
sends can widen it.

The gate runs SQL only through the engine interface (`selfcare.engine`: DuckDB today, a Spark
engine later, issue 19): it asks the engine for a cursor on the lake's published version and turns
the engine's one error type into `GateError`. Everything about the engine itself (the read-only,
locked-down connection per process and lake version, its memory, its views) lives in the engine.
Trusted operator-side questions (the demo's) go through `selfcare.gate.trusted`, which the portal
never imports (an import contract).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cachetools
import pandas as pd
import pyarrow as pa

from selfcare import config, queries
from selfcare import engine as engines
from selfcare.config import load_settings
from selfcare.etl import lake as lake_files
from selfcare.gate.limits import Slots, Watchdog
from selfcare.roles import ALL_LINE_ROLES, ROLES, TENANT_ROLES  # noqa: F401 (ROLES: re-exported)

# An analyst never sees a segment smaller than this many lines: no single line, number or person.
MIN_SEGMENT_LINES = 5
# Model views in creation order (a view must exist before one that reads it).
MODEL_VIEWS = (
    "model.v_line_attribution",
    "model.v_billing_attributed",
    "model.v_tariff_line_month_costs",
    "model.v_cdr_itemised",
)
SCOPE_PARAMS = frozenset({"scope_tenant_id", "scope_all_lines", "scope_msisdns", "scope_min_lines"})
# The time chunk a query streamed in time chunks is run for (queries.streamed_in_time_chunks).
CHUNK_PARAMS = frozenset({"chunk_from", "chunk_to"})
# The engine's working memory per process; beyond it, sorts, joins and aggregates spill to a
# temporary folder rather than grow (DuckDB's default is 80% of the machine's RAM: one server
# reached 20 GB under load at 100 M CDRs). SELFCARE_ENGINE_MEMORY, read by config.
ENGINE_MEMORY = config.engine_memory()
# The query engine behind the gate (selfcare.engine); a Spark engine comes with issue 19.
ENGINE = "duckdb"
# Answers kept per process, counted in bytes of the data frames (not entries: one answer can be
# 100 rows or 100,000). SELFCARE_RESULT_CACHE_MB, read by config.
RESULT_CACHE_BYTES = config.result_cache_mb() << 20
# Resource limits (issue 13), read by config from SELFCARE_QUERY_BUDGET, _QUERIES_PER_USER,
# _QUERY_WAIT and SELFCARE_RETRY_AFTER: seconds one statement may run before the gate interrupts
# the engine; uncached queries one viewer may run at once, and how long one more waits.
_LIMITS = config.limit_settings()
QUERY_BUDGET_S = _LIMITS.query_budget
QUERIES_PER_USER = _LIMITS.queries_per_user
QUERY_WAIT_S = _LIMITS.query_wait
RETRY_AFTER_S = _LIMITS.retry_after

log = logging.getLogger(__name__)


class GateError(Exception):
    """A query could not run: unknown name, not allowed for the viewer, bad parameters, engine."""


class NotAllowed(GateError):
    """The viewer's profile may not run this query."""


class Refused(GateError):
    """Not now: the query may well run later (`retry_after` seconds is a fair wait)."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = RETRY_AFTER_S if retry_after is None else retry_after


class Busy(Refused):
    """The viewer already runs as many queries as one user may at once."""


class QueryTimeout(Refused):
    """A statement ran past the query time budget and the gate interrupted it."""


class Stopped(GateError):
    """The caller asked to stop (an export's client disconnected); nothing is wrong."""


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: str
    tenant_id: str | None
    employee_id: str | None
    all_lines: bool
    msisdns: tuple[str, ...]
    aggregate_only: bool

    @property
    def namespace(self) -> str | None:
        """The query namespace this viewer may run; None: nothing at all."""
        if self.aggregate_only:
            return "analyst"
        if self.role in TENANT_ROLES and self.tenant_id:
            return "reports"
        return None

    def sees(self, msisdn: str) -> bool:
        return self.all_lines or msisdn in self.msisdns


NOBODY = Scope(0, "", None, None, False, (), False)


# --- the engine ---------------------------------------------------------------------------

_engine_lock = threading.Lock()
_engine_instance: engines.Engine | None = None


def lake_path() -> Path:
    """The app's lake when inside the app (its settings may come from flags), else the env's."""
    try:
        from flask import current_app, has_app_context

        if has_app_context() and "SELFCARE_SETTINGS" in current_app.config:
            return Path(current_app.config["SELFCARE_SETTINGS"].lake).resolve()
    except ImportError:  # the CLI and the benchmark use the gate without Flask
        pass
    return load_settings().lake.resolve()


def lake_version(lake: Path | None = None) -> int:
    return lake_files.current_version(lake or lake_path())


def _engine() -> engines.Engine:
    """The process's engine, made on first use (it opens connections lazily, per lake version)."""
    global _engine_instance
    with _engine_lock:
        if _engine_instance is None:
            _engine_instance = engines.create(
                ENGINE, memory_limit=ENGINE_MEMORY, model_views=MODEL_VIEWS
            )
        return _engine_instance


_watchdog = Watchdog()
_viewer_slots = Slots(QUERIES_PER_USER)


class _Budget:
    """Run statements on `cur` under the query time budget; a statement the watchdog stopped
    becomes QueryTimeout (budget) or Stopped (the caller's `stop`), never a bare engine error."""

    def __init__(self, name: str, cur: engines.Cursor, stop: Callable[[], bool] | None = None):
        self.name, self.cur, self.stop = name, cur, stop

    def __call__(self, run: Callable[..., Any], *args: Any) -> Any:
        with _watchdog.watch(self.cur, QUERY_BUDGET_S, self.stop) as w:
            try:
                return run(*args)
            except engines.EngineError as e:
                raise self._why(w, e) from e

    def iterate(self, run: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
        """A streamed statement: the budget runs from its start to its last batch."""
        with _watchdog.watch(self.cur, QUERY_BUDGET_S, self.stop) as w:
            try:
                yield from run(*args)
            except engines.EngineError as e:
                raise self._why(w, e) from e

    def _why(self, w: Any, e: Exception) -> GateError:
        if w.fired == "budget":
            log.warning(
                "%s: interrupted after the query time budget of %s s", self.name, QUERY_BUDGET_S
            )
            return QueryTimeout(
                f"{self.name} took longer than {QUERY_BUDGET_S:g} s, the portal's limit for one"
                " question; try a shorter period or fewer lines"
            )
        if w.fired == "stopped":
            return Stopped(f"{self.name}: stopped by its caller")
        return GateError(f"{self.name}: {e}")


def _cursor(name: str, lake: Path) -> engines.Cursor:
    """A cursor on the lake's published version; an engine that cannot open it is a GateError."""
    try:
        return _engine().cursor(lake)
    except engines.EngineError as e:
        raise GateError(f"{name}: {e}") from e


def warm(lake: Path | None = None) -> int:
    """Open the engine on the lake's published version now (a new worker process pays this once,
    before its first question) and return that version."""
    with _cursor("warm", lake or lake_path()) as cur:
        return cur.version


# --- scope ----------------------------------------------------------------------------------


def _internal(name: str, lake: Path, **params: Any) -> pd.DataFrame:
    """Run a gate-internal query (namespace `scope`, or a trusted caller's through
    `selfcare.gate.trusted`) with exactly the parameters given: never reachable by viewers."""
    with _cursor(name, lake) as cur:
        budget = _Budget(name, cur)
        if not budget(cur.has_tables):
            return pd.DataFrame()
        return budget(cur.frame, queries.load(name), params)


@lru_cache(maxsize=1024)
def _scope_cached(
    version: int, lake: str, user_id: int, role: str, tenant_id: str | None, employee_id: str | None
) -> Scope:
    del version  # part of the key: a new load may change the HR feed and the line register
    if role == "analyst":
        return Scope(user_id, role, None, None, False, (), True)
    if role not in TENANT_ROLES or not tenant_id:
        return NOBODY
    if role in ALL_LINE_ROLES:
        return Scope(user_id, role, tenant_id, employee_id, True, (), False)
    if not employee_id:
        return Scope(user_id, role, tenant_id, None, False, (), False)
    query = "scope.manager_lines" if role == "manager" else "scope.own_lines"
    df = _internal(query, Path(lake), tenant_id=tenant_id, employee_id=employee_id)
    msisdns = tuple(sorted(df["msisdn"])) if len(df) else ()
    return Scope(user_id, role, tenant_id, employee_id, False, msisdns, False)


def scope_for(user: Any, lake: Path | None = None) -> Scope:
    """The scope of a user record (attributes id, role, tenant_id, employee_id).

    A user matching no rule gets NOBODY, which sees nothing, never everything.
    """
    if user is None or not getattr(user, "is_authenticated", True):
        return NOBODY
    lake = lake or lake_path()
    return _scope_cached(
        lake_version(lake),
        str(lake),
        int(user.id),
        str(user.role or ""),
        user.tenant_id or None,
        user.employee_id or None,
    )


def current_scope() -> Scope:
    """The signed-in viewer's scope, derived on the server from the session on every call."""
    from flask_login import current_user  # the gate is also used outside requests (CLI, tests)

    if not current_user or not current_user.is_authenticated:
        return NOBODY
    return scope_for(current_user)


def tenant_name(scope: Scope) -> str | None:
    if not scope.tenant_id:
        return None
    df = _internal("scope.tenant_name", lake_path(), tenant_id=scope.tenant_id)
    return str(df["tenant_name"].iloc[0]) if len(df) else scope.tenant_id


# --- running named queries -------------------------------------------------------------------


def _bind(name: str, scope: Scope, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The SQL and every parameter value for a viewer's call: the scope from the gate, the rest
    from the caller; a time-chunked query's chunk is left open (gate.stream narrows it)."""
    if scope is None or not isinstance(scope, Scope):
        raise GateError("a query needs a viewer's scope")
    namespace = name.split(".", 1)[0]
    if scope.namespace is None or namespace != scope.namespace:
        raise NotAllowed(f"{name} is not available to the {scope.role or 'anonymous'} profile")
    smuggled = SCOPE_PARAMS.intersection(params)
    if smuggled or any(k.startswith("scope_") for k in params):
        raise GateError(f"scope parameters are bound by the gate, not the caller: {sorted(params)}")
    try:
        sql = queries.load(name)
    except queries.UnknownQuery as e:
        raise GateError(str(e)) from e
    wanted = queries.parameters(sql)
    if queries.streamed_in_time_chunks(sql):
        if CHUNK_PARAMS.intersection(params):
            raise GateError(f"{name}: time chunks are bound by the gate, not the caller")
        params = {**params, **dict.fromkeys(CHUNK_PARAMS)}  # open: the whole range
    values: dict[str, Any] = {
        "scope_tenant_id": scope.tenant_id,
        "scope_all_lines": scope.all_lines,
        "scope_msisdns": list(scope.msisdns),
        "scope_min_lines": MIN_SEGMENT_LINES,
    }
    bound = {k: v for k, v in values.items() if k in wanted}
    missing = sorted(k for k in wanted - SCOPE_PARAMS if k not in params)
    extra = sorted(k for k in params if k not in wanted)
    if missing or extra:
        raise GateError(f"{name}: missing parameters {missing}, unexpected {extra}")
    bound.update({k: list(v) if isinstance(v, tuple) else v for k, v in params.items()})
    return sql, bound


def _freeze(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def _frame_bytes(df: pd.DataFrame) -> int:
    return int(df.memory_usage(deep=True, index=True).sum()) + 1


_results: cachetools.LRUCache = cachetools.LRUCache(RESULT_CACHE_BYTES, getsizeof=_frame_bytes)
_results_lock = threading.Lock()


def _run_cached(
    version: int, lake: str, name: str, scope: Scope, frozen: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    """Results keyed on the lake version and the whole scope, so a publish invalidates them.
    Least recently used answers go first once the cache holds RESULT_CACHE_BYTES; an answer
    larger than that is returned but not kept."""
    key = (version, lake, name, scope, frozen)
    with _results_lock:
        hit = _results.get(key)
    if hit is not None:
        return hit
    df = _run_uncached(version, lake, name, scope, frozen)
    with _results_lock:
        try:
            _results[key] = df
        except ValueError:  # too large for the cache
            pass
    return df


def _run_uncached(
    version: int, lake: str, name: str, scope: Scope, frozen: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    sql, bound = _bind(name, scope, dict(frozen))
    with _viewer_slot(name, scope), _cursor(name, Path(lake)) as cur:
        if cur.version != version:
            raise GateError("the lake changed during the query; try again")
        budget = _Budget(name, cur)
        if not budget(cur.has_tables):
            return pd.DataFrame()
        return budget(cur.frame, sql, bound)


class _viewer_slot:  # noqa: N801 - used as a context manager, like a function
    """One of the viewer's query slots for the block, waiting up to QUERY_WAIT_S; else Busy."""

    def __init__(self, name: str, scope: Scope) -> None:
        self.name, self.key = name, scope.user_id

    def __enter__(self) -> None:
        if not _viewer_slots.acquire(self.key, wait=QUERY_WAIT_S):
            log.warning(
                "%s refused: user %s already runs %d queries", self.name, self.key, QUERIES_PER_USER
            )
            raise Busy(
                f"you already have {QUERIES_PER_USER} questions running; try again in a moment"
            )

    def __exit__(self, *exc_info: object) -> None:
        _viewer_slots.release(self.key)


def run(name: str, scope: Scope, **params: Any) -> pd.DataFrame:
    """Run a named query for a viewer; the viewer's scope is bound by the gate itself."""
    _bind(name, scope, params)  # fail fast (and uncached) on a bad call
    lake = lake_path()
    df = _run_cached(lake_version(lake), str(lake), name, scope, _freeze(params))
    return df.copy()  # the cached frame stays as it was, whatever the caller does with this one


def stream(
    name: str,
    scope: Scope,
    batch_rows: int = 50_000,
    stop: Callable[[], bool] | None = None,
    **params: Any,
) -> Iterator[pa.RecordBatch]:
    """Stream a named query's result in Arrow batches (for exports: bounded memory).

    A query streamed in time chunks (`queries.streamed_in_time_chunks`: rows in bill period, then
    time order) runs once per bill period from $period_from to $period_to and, within each, per
    UTC day (open-ended before the first and after the last, so every record of the period falls
    in exactly one chunk), oldest first, all on one cursor and so on one lake version: the same
    rows in the same order as one run over the whole range, but each chunk is sorted alone and
    reads only its day's row groups, so the first rows leave after a day's sort, in a day's
    memory, rather than after the whole range's.

    Each statement (each time chunk) runs under the query time budget (QueryTimeout). `stop`,
    when given, is asked before each chunk and by the watchdog while one runs: once it answers
    true (the export's client has gone), the stream ends early and quietly, so a client that
    hangs up stops the query loop even while the chunks produce no rows to write."""
    sql, bound = _bind(name, scope, params)
    if queries.streamed_in_time_chunks(sql):
        windows = [
            bound | {"period_from": p, "period_to": p, "chunk_from": a, "chunk_to": b}
            for p in _periods(bound["period_from"], bound["period_to"])
            for a, b in _utc_days(p)
        ]
    else:
        windows = [bound]
    with _cursor(name, lake_path()) as cur:
        budget = _Budget(name, cur, stop)
        if not budget(cur.has_tables):
            return
        done = 0
        try:
            for values in windows:
                if stop is not None and stop():
                    raise Stopped(name)
                yield from budget.iterate(cur.batches, sql, values, batch_rows)
                done += 1
        except Stopped:
            log.info("%s stopped by its caller after %d of %d chunks", name, done, len(windows))


def _periods(period_from: str, period_to: str) -> list[str]:
    """The bill periods ('YYYY-MM') from one to the other, inclusive."""
    return list(pd.period_range(period_from, period_to, freq="M").strftime("%Y-%m"))


def _utc_days(period: str) -> list[tuple[Any, Any]]:
    """Time chunks covering every instant: open before the day ahead of the period's first UTC
    day, each UTC day through the day after its last, open after that. A record's bill period is
    its month in the tenant's zone (at most 14 h from UTC), so the open ends are empty unless a
    tenant's timezone changed, yet nothing can fall outside."""
    month = pd.Period(period, freq="M")
    first = month.start_time.tz_localize("UTC") - pd.Timedelta(days=1)
    last = (month + 1).start_time.tz_localize("UTC") + pd.Timedelta(days=1)
    days = [d.to_pydatetime() for d in pd.date_range(first, last, freq="D")]
    return [(None, days[0]), *zip(days, days[1:], strict=False), (days[-1], None)]


def columns(name: str, scope: Scope, **params: Any) -> list[str]:
    """The column names a query returns (for an export's header when it has no rows)."""
    sql, bound = _bind(name, scope, params)
    with _cursor(name, lake_path()) as cur:
        budget = _Budget(name, cur)
        if not budget(cur.has_tables):
            return []
        return budget(cur.columns, sql, bound)


@lru_cache(maxsize=16)
def _lake_periods(lake: str, version: int) -> tuple[str, ...]:
    del version  # part of the key: a new load may add periods
    return tuple(lake_files.bill_periods(lake_files.read_manifest(lake)))


def lake_periods(lake: Path | None = None) -> tuple[str, ...]:
    """The bill periods the published lake holds, oldest first (from its manifest: no query)."""
    lake = lake or lake_path()
    return _lake_periods(str(lake), lake_version(lake))


def clear_caches() -> None:
    """Forget cached scopes and results (tests; a publish already invalidates by version)."""
    _scope_cached.cache_clear()
    _lake_periods.cache_clear()
    with _results_lock:
        _results.clear()
