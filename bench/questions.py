"""Every question the portal asks, timed warm, cold and cached, beside the raw-scan baseline.

The questions are the `gate.run` calls of each page's callbacks (web/pages/*.py and the
shell's period picker in web/app.py) with the parameters those callbacks pass, and the first
page of every CSV export registered with `selfcare.web.exports.register_export` (the first
Arrow batch
of `gate.stream`, or the whole `gate.run` for an export with a Python transform), for:

- a Financial Manager of the biggest tenant (every line of the tenant),
- the manager whose reporting chain holds the number of lines closest to 200,
- an end user: one of that manager's direct reports with a line (else anyone in the chain),
- the operator's analyst, for the analyst's questions;

each over the last month and over the last 12 months. Scopes are derived by the gate itself.

Timings (seconds, one list per question):
- warm: same process, engine warm, `gate.clear_caches()` before each run (the result cache never
  answers);
- cached: the same call with the result cache left on (what a repeat view costs);
- cold: a new process per run: N children each open the engine (timed apart), then run every
  question once in a fixed order; only that question's call is timed;
- baseline: the same SQL on `bench.compare.baseline_connection` (summaries computed from raw
  `fct_cdr`), for questions that read a summary; its answer is compared with the portal's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_WARM_P95_S = 0.200
TARGET_SPEEDUP = 10.0
MANAGER_LINES = 200
BATCH_ROWS = 50_000  # gate.stream's default: an export's first page

# Page roles (the `roles=` of each dash.register_page / register_export); the analyst sees only
# the growth page and the shell.
ALL_TENANT = ("finance", "manager", "end_user")
MANAGERS_UP = ("finance", "manager")
GROWTH = ("finance", "analyst")
USERS_PAGE = ("finance",)  # an admin page; the finance viewer has the same tenant-wide scope


@dataclass(frozen=True)
class Question:
    page: str  # page slug, or "shell" (the period picker of web/app.py)
    source: str  # "update_kpis" (a callback) or "export overview_alerts.csv"
    query: str
    viewer: str  # finance | manager | end_user | analyst
    period: str  # "1 month" | "12 months"
    params: dict[str, Any]
    export: bool = False  # time the first page of the streamed export
    streamed: bool = True  # False: an export with a transform, fetched whole by gate.run

    @property
    def key(self) -> str:
        return f"{self.page}|{self.source}|{self.query}|{self.viewer}|{self.period}"


@dataclass
class Viewers:
    tenant_id: str
    tenant_lines: int
    manager_id: str
    manager_lines: int
    end_user_id: str
    scopes: dict[str, Any]  # viewer → gate.Scope
    line: str  # the end user's line (seen by all three tenant viewers)
    cost_centre_id: str  # the end user's cost centre
    number: str  # the number the end user's line called most in the last month


def months_back(period: str, n: int) -> str:
    y, m = int(period[:4]), int(period[5:7])
    k = y * 12 + (m - 1) - n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


# --- the viewers ---------------------------------------------------------------------------------


def _user(uid: int, role: str, tenant_id: str | None, employee_id: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        id=uid, role=role, tenant_id=tenant_id, employee_id=employee_id, is_authenticated=True
    )


def pick_viewers(lake: Path, con: Any, last: str) -> Viewers:
    """The four viewers (see the module docstring), from the lake's current snapshots."""
    from selfcare import gate

    tenant_id, tenant_lines = con.execute(
        "select tenant_id, count(*) from dim_line group by tenant_id order by 2 desc, 1 limit 1"
    ).fetchone()
    employees = con.execute(
        "select employee_id, manager_employee_id from dim_employee where tenant_id = $t",
        {"t": tenant_id},
    ).fetchall()
    lines_of = Counter(
        e
        for (e,) in con.execute(
            "select employee_id from dim_line where tenant_id = $t and employee_id is not null",
            {"t": tenant_id},
        ).fetchall()
    )
    reports: dict[str, list[str]] = {}
    for emp, boss in employees:
        if boss:
            reports.setdefault(boss, []).append(emp)

    def chain(emp: str) -> list[str]:  # everyone under emp, emp included
        out, level, seen = [emp], [emp], {emp}
        while level:
            level = [r for e in level for r in reports.get(e, ()) if r not in seen]
            seen.update(level)
            out += level
        return out

    sized = sorted((abs(sum(lines_of[e] for e in chain(m)) - MANAGER_LINES), m) for m in reports)
    manager_id = sized[0][1]
    # the end user: a direct report (else anyone below) whose line was used in the last month,
    # so the end user's questions have records to find (some lines fall silent: disconnected)
    busy = dict(
        con.execute(
            "select l.employee_id, max(a.events) from agg_cdr_line_month as a "
            "inner join dim_line as l on l.msisdn = a.msisdn "
            "where a.tenant_id = $t and a.bill_period = $p and l.employee_id is not null "
            "group by l.employee_id",
            {"t": tenant_id, "p": last},
        ).fetchall()
    )
    direct = sorted(r for r in reports[manager_id] if lines_of[r])
    below = sorted(e for e in chain(manager_id)[1:] if lines_of[e])
    used = [e for e in direct + below if busy.get(e)]
    end_user_id = (used or direct or below or [manager_id])[0]

    scopes = {
        "finance": gate.scope_for(_user(9101, "finance", tenant_id, None), lake),
        "manager": gate.scope_for(_user(9102, "manager", tenant_id, manager_id), lake),
        "end_user": gate.scope_for(_user(9103, "end_user", tenant_id, end_user_id), lake),
        "analyst": gate.scope_for(_user(9104, "analyst", None, None), lake),
    }
    # the end user's line with the most records in the last month
    line = con.execute(
        "select msisdn from agg_cdr_line_month where tenant_id = $t and bill_period = $p "
        "and list_contains($m, msisdn) group by msisdn order by sum(events) desc, msisdn limit 1",
        {"t": tenant_id, "p": last, "m": list(scopes["end_user"].msisdns)},
    ).fetchone()
    line = line[0] if line else scopes["end_user"].msisdns[0]
    (cost_centre_id,) = con.execute(
        "select cost_centre_id from dim_employee where employee_id = $e", {"e": end_user_id}
    ).fetchone()
    row = con.execute(
        "select other_party, count(*) as n from fct_cdr where tenant_id = $t and msisdn = $m "
        "and bill_period = $p and service = 'VOICE' and other_party is not null "
        "group by other_party order by n desc, other_party limit 1",
        {"t": tenant_id, "m": line, "p": last},
    ).fetchone()
    return Viewers(
        tenant_id=str(tenant_id),
        tenant_lines=int(tenant_lines),
        manager_id=manager_id,
        manager_lines=len(scopes["manager"].msisdns),
        end_user_id=end_user_id,
        scopes=scopes,
        line=line,
        cost_centre_id=str(cost_centre_id or ""),
        number=str(row[0]) if row else "0",
    )


# --- the questions -------------------------------------------------------------------------------


def questions(v: Viewers, first: str, last: str) -> list[Question]:
    """Every callback question and every export's first page, for each viewer the page admits,
    over the last month and the last 12 months (clamped to the lake's first period)."""
    periods = {"1 month": (last, last), "12 months": (max(first, months_back(last, 11)), last)}
    out: list[Question] = []

    def add(page, source, query, roles, make, export=False, streamed=True):
        for label, (pf, pt) in periods.items():
            for viewer in roles:
                q = query if not isinstance(query, dict) else query[viewer]
                out.append(Question(page, source, q, viewer, label, make(pf, pt), export,
                                    streamed))  # fmt: skip

    def window(pf, pt):
        return {"period_from": pf, "period_to": pt}

    def none(pf, pt):
        return {}

    growth_q = {"finance": "reports.growth_segments", "analyst": "analyst.growth_segments"}
    periods_q = {"finance": "reports.bill_periods", "manager": "reports.bill_periods",
                 "end_user": "reports.bill_periods", "analyst": "analyst.bill_periods"}  # fmt: skip
    lines_none = {"cost_centre_id": None, "employee_id": None}

    # the shell: the period picker (web/app.py update_periods)
    add("shell", "update_periods", periods_q, (*ALL_TENANT, "analyst"), none)

    # overview (web/pages/overview.py)
    add("overview", "update_kpis", "reports.overview_kpis", ALL_TENANT, window)
    add("overview", "update_trend", "reports.overview_trend", ALL_TENANT,
        lambda pf, pt: {"period_to": pt})  # fmt: skip
    add("overview", "update_increases", "reports.overview_increases", ALL_TENANT, window)
    add("overview", "update_alerts", "reports.overview_alerts", ALL_TENANT, window)
    add("overview", "update_lines", "reports.lines_spend", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | lines_none)  # fmt: skip
    add("overview", "export overview_increases.csv", "reports.overview_increases", ALL_TENANT,
        window, export=True)  # fmt: skip
    add("overview", "export overview_alerts.csv", "reports.overview_alerts", ALL_TENANT, window,
        export=True)  # fmt: skip
    add("overview", "export lines.csv", "reports.lines_spend", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | lines_none, export=True)  # fmt: skip

    # spend by cost centre (web/pages/spend_by_cost_centre.py): the end user's cost centre
    # is one every viewer of the page sees
    cc = v.cost_centre_id
    add("spend-by-cost-centre", "update_tree", "reports.spend_by_cost_centre_tree", MANAGERS_UP,
        window)  # fmt: skip
    add("spend-by-cost-centre", "update_employees", "reports.spend_by_employee", MANAGERS_UP,
        lambda pf, pt: window(pf, pt) | {"cost_centre_id": cc})  # fmt: skip
    add(
        "spend-by-cost-centre",
        "update_lines",
        "reports.lines_spend",
        MANAGERS_UP,
        lambda pf, pt: window(pf, pt) | {"cost_centre_id": cc, "employee_id": v.end_user_id},
    )
    add("spend-by-cost-centre", "export spend_by_cost_centre.csv", "reports.spend_by_cost_centre",
        MANAGERS_UP, window, export=True)  # fmt: skip
    add("spend-by-cost-centre", "export spend_by_cost_centre_tree.csv",
        "reports.spend_by_cost_centre_tree", MANAGERS_UP, window, export=True)  # fmt: skip
    add(
        "spend-by-cost-centre",
        "export spend_by_employee.csv",
        "reports.spend_by_employee",
        MANAGERS_UP,
        lambda pf, pt: window(pf, pt) | {"cost_centre_id": None},
        export=True,
    )

    # usage (web/pages/usage.py): the charts read at least the 12 months up to `to`, plus
    # one month before for the first month-on-month change
    def usage_chart(pf, pt):
        return {"period_from": months_back(min(pf, months_back(pt, 11)), 1), "period_to": pt,
                "service": None}  # fmt: skip

    add("usage", "update_usage", "reports.usage_monthly", ALL_TENANT, usage_chart)
    add("usage", "update_roaming", "reports.usage_roaming", ALL_TENANT, window)
    add("usage", "export usage_monthly.csv", "reports.usage_monthly", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | {"service": None}, export=True)  # fmt: skip
    add("usage", "export usage_roaming.csv", "reports.usage_roaming", ALL_TENANT, window,
        export=True)  # fmt: skip

    # top 50 numbers (web/pages/top_numbers.py): the page's defaults
    top = {"service": "VOICE", "by": "calls", "destination_class": None, "cost_centre": None}
    top_lines = {"number": v.number, "service": "VOICE", "cost_centre": None}
    add("top-numbers", "update_cost_centres", "reports.top_numbers_cost_centres", ALL_TENANT, none)
    add("top-numbers", "update_top", "reports.top_numbers", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | top)  # fmt: skip
    add("top-numbers", "update_lines", "reports.top_numbers_lines", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | top_lines)  # fmt: skip
    add("top-numbers", "export top_numbers.csv", "reports.top_numbers", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | top, export=True)  # fmt: skip
    add("top-numbers", "export top_numbers_lines.csv", "reports.top_numbers_lines", ALL_TENANT,
        lambda pf, pt: window(pf, pt) | top_lines, export=True)  # fmt: skip

    # itemised (web/pages/itemised.py): the page opens on "All my lines"; then one line
    def filters(line):
        return lambda pf, pt: window(pf, pt) | {"msisdn": line, "service": None, "number": None,
                                                "date_from": None, "date_to": None}  # fmt: skip

    def page(line):
        # scan_from/scan_to: the page works them out from the count it has just run; filled in
        # per viewer by with_scan_windows() once the lake is there
        return lambda pf, pt: filters(line)(pf, pt) | {"sort": "event_time", "descending": True,
                                                       "offset": 0, "scan_from": None,
                                                       "scan_to": None}  # fmt: skip

    add("itemised", "update_line_options", "reports.itemised_lines", ALL_TENANT, none)
    add("itemised", "update_records (all lines)", "reports.itemised_count", ALL_TENANT,
        filters(None))  # fmt: skip
    add("itemised", "update_records (all lines)", "reports.itemised_page", ALL_TENANT, page(None))
    add("itemised", "update_records (one line)", "reports.itemised_count", ALL_TENANT,
        filters(v.line))  # fmt: skip
    add("itemised", "update_records (one line)", "reports.itemised_page", ALL_TENANT,
        page(v.line))  # fmt: skip
    add("itemised", "export itemised.csv (all lines)", "reports.itemised", ALL_TENANT,
        filters(None), export=True)  # fmt: skip

    # tariffs (web/pages/tariffs.py): average over as many months as the period holds
    def months(pf, pt):
        return (int(pt[:4]) - int(pf[:4])) * 12 + int(pt[5:]) - int(pf[5:]) + 1

    def analysis(pf, pt):
        return window(pf, pt) | {"months": months(pf, pt), "min_saving": Decimal("20"),
                                 "min_pct": Decimal("5"), "cost_centre": ""}  # fmt: skip

    def one_line(pf, pt):
        return window(pf, pt) | {"months": months(pf, pt), "msisdn": v.line}

    add("tariffs", "update_cost_centres", "reports.tariff_cost_centres", ALL_TENANT, none)
    add("tariffs", "update_analysis", "reports.tariff_analysis", ALL_TENANT, analysis)
    add("tariffs", "update_trend", "reports.tariff_spend_trend", ALL_TENANT, none)
    add("tariffs", "update_line", "reports.tariff_options", ALL_TENANT, one_line)
    add("tariffs", "update_line", "reports.tariff_line_months", ALL_TENANT, one_line)
    add("tariffs", "export tariff_analysis.csv", "reports.tariff_analysis", ALL_TENANT,
        lambda pf, pt: analysis(pf, pt) | {"cost_centre": None}, export=True)  # fmt: skip
    add("tariffs", "export tariff_options.csv", "reports.tariff_options", ALL_TENANT, one_line,
        export=True)  # fmt: skip
    add("tariffs", "export tariff_line_months.csv", "reports.tariff_line_months", ALL_TENANT,
        one_line, export=True)  # fmt: skip

    # growth (web/pages/growth.py): the forecast reads the whole history up to `to`
    add("growth", "update_growth", growth_q, GROWTH,
        lambda pf, pt: {"period_from": "0001-01", "period_to": pt})  # fmt: skip
    add("growth", "export growth.csv", growth_q, GROWTH, window, export=True, streamed=False)

    # users (web/pages/users.py, admins): the employee names of the tenant
    add("users", "employee_names", "reports.users_employees", USERS_PAGE, none)

    # A question whose call is the same for both periods is asked once: "any" when it takes no
    # period, "1 & 12 months" when the page widens the period itself (usage charts, growth).
    calls: dict[str, list[Question]] = {}
    for q in out:
        k = json.dumps([q.page, q.source, q.query, q.viewer, q.params], default=str)
        calls.setdefault(k, []).append(q)
    unique = []
    for same in calls.values():
        q = same[0]
        if len(same) > 1:
            label = "1 & 12 months" if any(p.startswith("period") for p in q.params) else "any"
            q = Question(q.page, q.source, q.query, q.viewer, label, q.params, q.export,
                         q.streamed)  # fmt: skip
        unique.append(q)
    return unique


# --- one call ------------------------------------------------------------------------------------


def with_scan_windows(todo: list[Question], viewers: Viewers) -> list[Question]:
    """The itemised page's questions with the bill periods the page would read
    (selfcare.web.figures.itemised.scan_window over the records per period that its count, asked
    first, returned): the question is the query the page sends, parameters and all."""
    from selfcare import gate
    from selfcare.web.figures import itemised as fig

    out = []
    for q in todo:
        if q.query == "reports.itemised_page":
            p = q.params
            filters = {k: v for k, v in p.items()
                       if k not in ("sort", "descending", "offset", "scan_from", "scan_to")}
            counts = gate.run("reports.itemised_count", viewers.scopes[q.viewer], **filters)
            scan_from, scan_to = fig.scan_window(counts, p["period_from"], p["period_to"],
                                                 p["sort"], p["descending"], p["offset"])
            q = replace(q, params=p | {"scan_from": scan_from, "scan_to": scan_to})
        out.append(q)
    return out


def ask(q: Question, scope: Any) -> int:
    """Run one question through the gate as the page or the export does; the rows it returned
    (an export: the rows of its first page)."""
    from selfcare import gate

    if q.export and q.streamed:
        batches = gate.stream(q.query, scope, batch_rows=BATCH_ROWS, **q.params)
        try:
            first = next(batches, None)
        finally:
            batches.close()  # the export's client went away after its first page
        return 0 if first is None else first.num_rows
    return len(gate.run(q.query, scope, **q.params))


def _timed(q: Question, scope: Any, clear: bool) -> tuple[float, int]:
    from selfcare import gate

    if clear:
        gate.clear_caches()
    t0 = time.perf_counter()
    rows = ask(q, scope)
    return time.perf_counter() - t0, rows


@dataclass
class Timing:
    question: Question
    summaries: tuple[str, ...] = ()
    rows: int = 0
    warm_s: list[float] = field(default_factory=list)
    cached_s: list[float] = field(default_factory=list)
    cold_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    equal: bool | None = None  # None: no baseline (the question reads no summary)
    difference: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("question")
        q = self.question
        return {
            "key": q.key,
            "page": q.page,
            "source": q.source,
            "query": q.query,
            "viewer": q.viewer,
            "period": q.period,
            "params": {k: _jsonable(x) for k, x in q.params.items()},
            "export": q.export,
        } | d


def _jsonable(x: Any) -> Any:
    return str(x) if isinstance(x, Decimal) else x


# A question gets `repeat` timed runs, but stops early (after at least MIN_RUNS) once its runs
# have used this many seconds: a question that takes seconds is already answered by a few runs,
# and 20 of them would make the benchmark take hours. The runs made are recorded per question.
BUDGET_S = 20.0
MIN_RUNS = 3
COLD_BUDGET_S = 300.0  # for all the cold processes together


def _within(times: list[float], budget: float = BUDGET_S, min_runs: int = MIN_RUNS) -> bool:
    return len(times) < min_runs or sum(times) < budget


def run_warm(todo: list[Question], viewers: Viewers, repeat: int, log=print) -> list[Timing]:
    """Warm and cached timings in this process; the gate must already point at the lake."""
    from bench import compare
    from selfcare import gate, queries

    out = []
    for q in todo:
        t = Timing(q, compare.uses_summaries(queries.load(q.query)))
        scope = viewers.scopes[q.viewer]
        try:
            _, t.rows = _timed(q, scope, clear=True)  # untimed: file metadata and OS cache warm
            for _ in range(repeat):
                if not _within(t.warm_s):
                    break
                t.warm_s.append(_timed(q, scope, clear=True)[0])
            if not (q.export and q.streamed):  # a stream is never cached
                ask(q, scope)
                for _ in range(repeat):
                    if not _within(t.cached_s):
                        break
                    t.cached_s.append(_timed(q, scope, clear=False)[0])
        except gate.GateError as e:
            t.error = str(e).splitlines()[0]
            t.warm_s, t.cached_s = [], []
            log(f"  {q.key}: ERROR {t.error}")
        else:
            log(
                f"  {q.page:<20} {q.source:<34} {q.viewer:<8} {q.period:<9} {t.rows:>7} rows "
                f"warm p50 {compare.median(t.warm_s) * 1000:8.1f} ms"
            )
        out.append(t)
    return out


# --- cold: a new process per run -----------------------------------------------------------------


def _encode(x: Any) -> Any:
    if isinstance(x, Decimal):
        return {"__decimal__": str(x)}
    return x


def _decode(d: dict[str, Any]) -> dict[str, Any]:
    return {k: Decimal(v["__decimal__"]) if isinstance(v, dict) else v for k, v in d.items()}


def cold_spec(lake: Path, todo: list[Question], viewers: Viewers) -> dict[str, Any]:
    return {
        "lake": str(lake.resolve()),
        "scopes": {k: asdict(s) for k, s in viewers.scopes.items()},
        "questions": [
            {
                "query": q.query,
                "viewer": q.viewer,
                "export": q.export,
                "streamed": q.streamed,
                "params": {k: _encode(x) for k, x in q.params.items()},
            }
            for q in todo
        ],  # fmt: skip
    }


def cold_child(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: open the engine (timed apart), then every question once, in order."""
    os.environ["SELFCARE_LAKE"] = spec["lake"]
    from selfcare import gate

    scopes = {
        k: gate.Scope(**(s | {"msisdns": tuple(s["msisdns"])})) for k, s in spec["scopes"].items()
    }
    t0 = time.perf_counter()
    # The connection and its views, paid once per new worker process: timed apart so that the
    # first question in the order does not carry it.
    gate.warm(gate.lake_path())
    opened = time.perf_counter() - t0
    seconds: list[float | None] = []
    for item in spec["questions"]:
        q = Question("", "", item["query"], item["viewer"], "", _decode(item["params"]),
                     item["export"], item["streamed"])  # fmt: skip
        try:
            # cleared: two questions may make the same call (a callback and its export)
            seconds.append(_timed(q, scopes[q.viewer], clear=True)[0])
        except gate.GateError:
            seconds.append(None)
    return {"engine_open_s": opened, "seconds": seconds}


def run_cold(lake: Path, timings: list[Timing], viewers: Viewers, n: int, work: Path,
             log=print) -> list[float]:  # fmt: skip
    """n children, one after the other (2 cores: children in parallel would time each other);
    fills each timing's cold_s; returns the engine-open time of each child."""
    todo = [t for t in timings if not t.error]
    spec_file = work / "cold_spec.json"
    spec_file.write_text(json.dumps(cold_spec(lake, [t.question for t in todo], viewers)))
    opens = []
    started = time.perf_counter()
    for i in range(n):
        # the same budget rule as the warm runs, for the whole series of processes
        if i >= MIN_RUNS and time.perf_counter() - started > COLD_BUDGET_S:
            log(f"  cold: stopped after {i} processes ({COLD_BUDGET_S:.0f} s budget)")
            break
        proc = subprocess.run(
            [sys.executable, "-m", "bench.questions", "--cold-child", str(spec_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"cold child {i} failed: {proc.stderr.strip().splitlines()[-1:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        opens.append(got["engine_open_s"])
        for t, s in zip(todo, got["seconds"], strict=True):
            if s is None:
                t.error = t.error or "failed in a cold process"
            else:
                t.cold_s.append(s)
        log(f"  cold process {i + 1}/{n}: engine open {got['engine_open_s'] * 1000:.0f} ms")
    return opens


# --- the raw-scan baseline -----------------------------------------------------------------------


def run_baseline(lake: Path, timings: list[Timing], viewers: Viewers, repeat: int,
                 log=print) -> None:  # fmt: skip
    """For each question reading a summary: compare the answers, then time the baseline."""
    import duckdb

    from bench import compare
    from selfcare import gate, queries

    con = compare.baseline_connection(lake)
    answers: dict[str, tuple[bool, str]] = {}
    try:
        for t in timings:
            q = t.question
            if t.error or not t.summaries:
                continue
            scope = viewers.scopes[q.viewer]
            sql = queries.load(q.query)
            bound = compare.bind(sql, scope, q.params)
            bound = {k: list(x) if isinstance(x, tuple) else x for k, x in bound.items()}

            def baseline(sql: str = sql, bound: dict[str, Any] = bound, q: Question = q) -> int:
                cur = con.cursor()
                try:
                    if q.export and q.streamed:
                        reader = cur.sql(sql, params=bound).to_arrow_reader(BATCH_ROWS)
                        first = next(iter(reader), None)
                        return 0 if first is None else first.num_rows
                    return len(cur.execute(sql, bound).df())
                finally:
                    cur.close()

            # The whole answer is compared once per distinct call (an export's first page and
            # the page's callback often ask the same).
            key = json.dumps([q.query, q.viewer, q.params], default=str, sort_keys=True)
            try:
                if key not in answers:
                    gate.clear_caches()
                    mine = gate.run(q.query, scope, **q.params)
                    cur = con.cursor()
                    try:
                        theirs = cur.execute(sql, bound).df()
                    finally:
                        cur.close()
                    answers[key] = compare.same_rows(mine, theirs)
                t.equal, t.difference = answers[key]
                for _ in range(repeat):
                    if not _within(t.baseline_s, min_runs=1):
                        break
                    t0 = time.perf_counter()
                    baseline()
                    t.baseline_s.append(time.perf_counter() - t0)
            except (gate.GateError, duckdb.Error) as e:
                t.error = f"baseline: {str(e).splitlines()[0]}"
                t.baseline_s = []
            log(
                f"  baseline {q.page:<20} {q.source:<34} {q.viewer:<8} {q.period:<9} "
                + (f"p50 {compare.median(t.baseline_s) * 1000:9.1f} ms" if t.baseline_s else "")
                + ("" if t.equal in (True, None) else f"  DIFFERENT: {t.difference}")
                + (f"  {t.error}" if t.error else "")
            )
    finally:
        con.close()


# --- all of it -----------------------------------------------------------------------------------


def run_questions(lake: Path, work: Path, *, repeat: int, cold_repeat: int,
                  baseline_repeat: int, log=print) -> dict[str, Any]:  # fmt: skip
    """The whole question benchmark on `lake`; the gate is pointed at it for the duration."""
    import duckdb

    from bench import compare
    from selfcare.etl import lake as lake_files

    compare.point_gate_at(lake)
    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        first, last = con.execute(
            "select min(bill_period), max(bill_period) from fct_cdr"
        ).fetchone()
        cdr_rows = int(con.execute("select count(*) from fct_cdr").fetchone()[0])
        viewers = pick_viewers(lake, con, last)
    finally:
        con.close()
    todo = with_scan_windows(questions(viewers, first, last), viewers)
    log(f"  questions: {len(todo)} over {first}..{last} ({cdr_rows:,} CDRs)")
    timings = run_warm(todo, viewers, repeat, log)
    opens = run_cold(lake, timings, viewers, cold_repeat, work, log) if cold_repeat else []
    if baseline_repeat:
        run_baseline(lake, timings, viewers, baseline_repeat, log)
    return {
        "lake": str(lake),
        "cdr_rows": cdr_rows,
        "first_period": first,
        "last_period": last,
        "repeat": repeat,
        "cold_repeat": cold_repeat,
        "baseline_repeat": baseline_repeat,
        "budget_s": BUDGET_S,
        "min_runs": MIN_RUNS,
        "engine_open_s": opens,
        "viewers": {
            "tenant_id": viewers.tenant_id,
            "tenant_lines": viewers.tenant_lines,
            "manager_id": viewers.manager_id,
            "manager_lines": viewers.manager_lines,
            "end_user_id": viewers.end_user_id,
            "end_user_lines": len(viewers.scopes["end_user"].msisdns),
            "line": viewers.line,
            "cost_centre_id": viewers.cost_centre_id,
            "number": viewers.number,
        },
        "timings": [t.as_dict() for t in timings],
    }


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's question targets with the measured values."""
    from bench.compare import median, percentile
    from bench.etl_bench import _target

    ok = [t for t in result["timings"] if t["warm_s"]]
    out = []
    if ok:
        worst = max(ok, key=lambda t: percentile(t["warm_s"], 95))
        p95 = percentile(worst["warm_s"], 95)
        over = sum(1 for t in ok if percentile(t["warm_s"], 95) > TARGET_WARM_P95_S)
        row = _target(
            f"every question p95 ≤ 200 ms warm ({len(ok)} questions; {over} over; worst: "
            f"{worst['source']} {worst['query']}, {worst['viewer']}, {worst['period']})",
            p95 * 1000, TARGET_WARM_P95_S * 1000, " ms", higher=False,
        )  # fmt: skip
        out.append(row)
    tenant_wide = [t for t in ok if t["viewer"] == "finance" and t["baseline_s"]]
    if tenant_wide:
        speed = [(median(t["baseline_s"]) / median(t["warm_s"]), t) for t in tenant_wide]
        low, t = min(speed, key=lambda x: x[0])
        out.append(
            _target(
                f"tenant-wide questions ≥ 10× the raw-scan baseline ({len(speed)} compared; "
                f"lowest: {t['source']} {t['query']}, {t['period']})",
                low,
                TARGET_SPEEDUP,
                "×",
                higher=True,
            )  # fmt: skip
        )
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cold-child":
        spec = json.loads(Path(sys.argv[2]).read_text())
        print(json.dumps(cold_child(spec)))
    else:
        sys.exit("usage: python -m bench.questions --cold-child SPEC.json")
