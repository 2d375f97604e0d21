"""CSV exports: `GET /export/<report>.csv?from=YYYY-MM&to=YYYY-MM&...filters`.

Every report streams from DuckDB through the gate in Arrow batches, so a million-row export is
never held in memory or shipped to a browser grid. Pages register their reports with
`register_export(...)`; the route validates every query-string parameter against the report's
declared filters (an unknown or malformed one is a 400, never passed through), and the scope comes
from the signed-in user or the API token, never from the URL.

CSV for Excel: UTF-8 with a BOM, CRLF, RFC 4180 quoting (the standard library's `excel` dialect).
Text cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab, CR or LF) get
a leading apostrophe (OWASP's advice); numeric columns (amounts, counts) stay plain numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

import pandas as pd
import pyarrow as pa
from flask import Blueprint, Response, abort, jsonify, request, stream_with_context

from selfcare import config, gate
from selfcare.gate.limits import Slots

# Fully anchored and ASCII only: `$` would accept a trailing newline and `\d` Unicode digits,
# and both reached the Content-Disposition header (500s in the penetration test).
PERIOD = re.compile(r"\A[0-9]{4}-(0[1-9]|1[0-2])\Z", re.ASCII)
MAX_MONTHS = 24  # per request: an export over decades stalled the server for minutes
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

bp = Blueprint("exports", __name__)
log = logging.getLogger(__name__)

# Streamed exports at once (issue 13): per user (beyond it 429), and for the whole process
# (beyond it 503), so that exports never hold every waitress thread and pages and /healthz
# still answer. SELFCARE_EXPORTS_PER_USER, SELFCARE_EXPORTS_TOTAL, read by config.
_LIMITS = config.limit_settings()
EXPORTS_PER_USER = _LIMITS.exports_per_user
EXPORTS_TOTAL = _LIMITS.exports_total
RETRY_AFTER_S = _LIMITS.retry_after
_user_exports = Slots(EXPORTS_PER_USER)
_all_exports = Slots(EXPORTS_TOTAL)
_ALL = "all"


def running_exports(user_id: int | None = None) -> int:
    """Streamed exports running now: one user's, or the process's (for tests and operators)."""
    return _user_exports.held(user_id) if user_id is not None else _all_exports.held(_ALL)


class ExportCut(RuntimeError):
    """An export failed after its first rows had left: the connection is dropped rather than
    ended, so the client sees an incomplete download instead of a short file."""


@dataclass(frozen=True)
class Filter:
    """A query-string filter: its query parameter name, a validator/converter and a default."""

    param: str
    convert: Callable[[str], object]
    default: object = None


@dataclass(frozen=True)
class Export:
    name: str
    queries: dict[str, str]  # gate namespace ("reports" | "analyst") -> query name
    roles: tuple[str, ...]
    filters: dict[str, Filter] = field(default_factory=dict)
    periods: bool = True  # takes from/to → $period_from/$period_to
    # For small reports that need Python after SQL (e.g. forecast rows): DataFrame → DataFrame.
    # Such reports are fetched whole through gate.run instead of streamed.
    transform: Callable[[pd.DataFrame, dict[str, object]], pd.DataFrame] | None = None


EXPORTS: dict[str, Export] = {}


def register_export(
    name: str,
    queries: dict[str, str] | str,
    roles: tuple[str, ...],
    filters: dict[str, Filter] | None = None,
    periods: bool = True,
    transform: Callable[[pd.DataFrame, dict[str, object]], pd.DataFrame] | None = None,
) -> Export:
    """Declare a report; idempotent so a page module may be imported twice."""
    if isinstance(queries, str):
        queries = {queries.split(".", 1)[0]: queries}
    export = Export(name, dict(queries), tuple(roles), dict(filters or {}), periods, transform)
    EXPORTS[name] = export
    return export


def export_href(report: str, query: dict[str, object]) -> str:
    """The page's download link for a report: empty filters are left out of the URL."""
    kept = {k: v for k, v in query.items() if v is not None and v != ""}
    return f"/export/{report}.csv?" + urlencode(kept)


# -- converters for filters --------------------------------------------------------------------


def choice(*allowed: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return convert


def pattern(regex: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(regex, re.ASCII)  # fullmatch anchors; ASCII: no Unicode digits

    def convert(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return convert


def integer(lo: int, hi: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,12}", value, re.ASCII):
            raise ValueError(f"must be a whole number between {lo} and {hi}")
        n = int(value)
        if not lo <= n <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return n

    return convert


def iso_date(value: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value, re.ASCII):
        raise ValueError("must be a date YYYY-MM-DD")
    return date.fromisoformat(value).isoformat()


DIGITS = pattern(r"\d{1,20}", "digits")
ANY_TEXT = pattern(r"[\w .,'&()/-]{0,80}", "plain text")


# -- CSV ------------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """A text cell that cannot run as a spreadsheet formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_list(t)


def _cell(value: object, text: bool) -> object:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if text:
        return neutralise(str(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def csv_rows(header: list[str], batches: Iterator[pa.RecordBatch]) -> Iterator[str]:
    """Encode a header and Arrow batches as CSV text chunks (one chunk per batch)."""
    buf = io.StringIO()
    writer = csv.writer(buf, dialect="excel")
    writer.writerow([neutralise(h) for h in header])
    yield "\ufeff" + buf.getvalue()
    for batch in batches:
        buf.seek(0)
        buf.truncate()
        text = [_is_text(f.type) for f in batch.schema]
        columns = [col.to_pylist() for col in batch.columns]
        for row in zip(*columns, strict=True):
            writer.writerow([_cell(v, t) for v, t in zip(row, text, strict=True)])
        yield buf.getvalue()


def parse_params(export: Export, args) -> dict[str, object]:
    """Validate the query string against the report's declared filters; unknown keys → error."""
    params: dict[str, object] = {}
    allowed = set(export.filters) | ({"from", "to"} if export.periods else set())
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(unknown)}")
    if export.periods:
        for key, param in (("from", "period_from"), ("to", "period_to")):
            value = args.get(key)
            if not value or not PERIOD.fullmatch(value):
                raise ValueError(f"'{key}' must be a bill period YYYY-MM")
            params[param] = value
        if params["period_from"] > params["period_to"]:
            raise ValueError("'from' must not be after 'to'")
        first, last = str(params["period_from"]), str(params["period_to"])
        months = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
        if months > MAX_MONTHS:
            raise ValueError(f"a request covers at most {MAX_MONTHS} bill periods")
    for key, flt in export.filters.items():
        value = args.get(key)
        if value is None or value == "":
            params[flt.param] = flt.default
            continue
        try:
            params[flt.param] = flt.convert(value)
        except ValueError as e:
            raise ValueError(f"'{key}' {e}") from e
    return params


def check_lake_periods(params: dict[str, object], held: tuple[str, ...]) -> None:
    """A ValueError unless from..to lies within the bill periods the lake holds (an empty lake
    holds nothing to read, so any valid range costs nothing and passes)."""
    if not held:
        return
    first, last = str(params["period_from"]), str(params["period_to"])
    if first < held[0] or last > held[-1]:
        raise ValueError(f"the lake holds bill periods {held[0]} to {held[-1]}")


def _refusal(message: str, status: int, retry_after: int) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    resp.headers["Retry-After"] = str(retry_after)
    return resp


class _Release:
    """Give back an export's slots exactly once (on close, or when the view fails)."""

    def __init__(self, user_id: int) -> None:
        self.user_id, self.done = user_id, False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            _user_exports.release(self.user_id)
            _all_exports.release(_ALL)


def _guarded(
    report: str,
    user_id: int,
    chunks: Iterator[str],
    stop: Callable[[], bool] | None,
    release: Callable[[], None],
) -> Iterator[str]:
    """The CSV chunks, with a log line for how the export ended; the slots come back as soon as
    the last chunk has left (a client that never closes the response holds nothing)."""
    try:
        yield from chunks
    except GeneratorExit:  # the server closed us early: its client has gone
        log.info("export %s for user %s stopped: the client disconnected", report, user_id)
        raise
    except gate.GateError as e:
        log.warning("export %s for user %s cut short: %s", report, user_id, e)
        raise ExportCut(str(e)) from None
    finally:
        release()
    if stop is not None and stop():
        log.info("export %s for user %s stopped: the client disconnected", report, user_id)
    else:
        log.info("export %s for user %s complete", report, user_id)


@bp.get("/export/<report>.csv")
def export_csv(report: str) -> Response:
    export = EXPORTS.get(report)
    if export is None:
        return jsonify(error=f"no such report: {report}"), 404
    scope = gate.current_scope()
    if scope.role not in export.roles:
        abort(403)
    query = export.queries.get(scope.namespace or "")
    if query is None:
        abort(403)
    try:
        params = parse_params(export, request.args)
        if export.periods:
            check_lake_periods(params, gate.lake_periods())
    except ValueError as e:
        return jsonify(error=str(e)), 400
    if not _user_exports.acquire(scope.user_id):
        log.warning("export %s refused: user %s runs %d already", report, scope.user_id,
                    EXPORTS_PER_USER)  # fmt: skip
        message = f"you already have {EXPORTS_PER_USER} exports running; try again when one ends"
        return _refusal(message, 429, RETRY_AFTER_S)
    if not _all_exports.acquire(_ALL):
        _user_exports.release(scope.user_id)
        log.warning("export %s refused: %d exports running", report, EXPORTS_TOTAL)
        return _refusal("the portal is busy with other exports; try again shortly", 503,
                        RETRY_AFTER_S)  # fmt: skip
    release = _Release(scope.user_id)
    # waitress says whether the client is still there (channel_request_lookahead > 0)
    stop = request.environ.get("waitress.client_disconnected")
    try:
        if export.transform is not None:
            frame = export.transform(gate.run(query, scope, **params), params)
            header = [str(c) for c in frame.columns]
            batches = iter(pa.Table.from_pandas(frame, preserve_index=False).to_batches())
        else:
            header = gate.columns(query, scope, **params)
            batches = gate.stream(query, scope, stop=stop, **params)
            # The first chunk before the status line: a refusal or a timeout there is still a
            # proper 503 with Retry-After rather than a broken download.
            first = next(batches, None)
            if first is not None:
                batches = itertools.chain([first], batches)
    except gate.Refused as e:
        release()
        log.warning("export %s for user %s refused: %s", report, scope.user_id, e)
        return _refusal(str(e), 503, e.retry_after)
    except gate.GateError:
        release()
        return jsonify(error="the report could not be produced; try again later"), 500
    except BaseException:
        release()
        raise
    suffix = "" if not export.periods else f"_{params['period_from']}_{params['period_to']}"
    filename = f"{report}{suffix}.csv"
    body = _guarded(report, scope.user_id, csv_rows(header, batches), stop, release)
    response = Response(
        stream_with_context(body),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
    response.call_on_close(release)
    return response
