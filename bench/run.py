"""`make bench` (`python -m bench.run`): issue 6's benchmark, every figure measured in one run.

1. ETL side by side (bench/etl_bench.py): our load vs bare DuckDB COPY vs pandas on the same CDR
   file, at 1 M and 10 M rows, each in its own subprocess (rows/s, ratios, peak memory);
2. the big lake (bench/biglake.py, ≈ 100 M CDRs, built once and reused);
3. every question the portal asks (bench/questions.py): warm, cold and cached, beside the raw-scan
   baseline (bench/compare.py), then the pandas-in-memory peer on the 10 M lake
   (bench/pandas_peer.py);
4. the real server under concurrent users (bench/http_load.py);
5. headless Chromium, navigation to charts drawn (bench/browser.py).

Writes bench/results/<UTC timestamp>.json (every raw timing) and .md, latest.json and latest.md,
and rewrites the results section of docs/performance.md between its markers. Each target of the
issue is printed with its measured value and met / not met. Exit code 1 when any baseline or
pandas answer differs from the portal's, a question fails, a server request failed or leaked
another user's data, or a part could not run. Speed is never asserted: figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PARTS = ("etl", "questions", "peer", "server", "browser")

TARGET_SERVER_P95_MS = 500.0
TARGET_SERVER_MB = 1024.0
TARGET_BROWSER_S = 3.0


def _log(msg: str) -> None:
    print(msg, flush=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark's options (of `python -m bench.run`, which `make bench` runs)."""
    p.add_argument("--skip", default="", help=f"comma-separated parts to skip: {', '.join(PARTS)}")
    p.add_argument(
        "--lines",
        type=int,
        default=None,
        help="lines of the big lake (default: bench.biglake's, ≈ 100 M CDRs)",
    )
    p.add_argument("--months", type=int, default=12, help="bill periods of the big lake")
    p.add_argument(
        "--etl-rows",
        default="1000000,10000000",
        help="CDR rows of each ETL comparison (comma-separated)",
    )
    p.add_argument("--repeat", type=int, default=20, help="warm and cached runs per question")
    p.add_argument(
        "--baseline-repeat",
        type=int,
        default=5,
        help="raw-scan baseline runs per question (slow at 100 M)",
    )
    p.add_argument(
        "--cold-repeat", type=int, default=20, help="new processes, each asking every question once"
    )
    p.add_argument("--server-seconds", type=int, default=60, help="length of the server load")
    p.add_argument("--server-users", type=int, default=20, help="concurrent simulated users")
    p.add_argument("--browser-repeat", type=int, default=5, help="navigations per page")
    p.add_argument("--work", default="data/bench", help="folder for generated data and lakes")
    p.add_argument("--results", default=str(RESULTS), help="folder for the result files")
    p.add_argument("--docs", default=str(DOCS),
                   help="markdown file whose results section is rewritten ('' = none)")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    add_arguments(p)
    return p.parse_args(argv)


# --- the machine ---------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    import dash
    import duckdb
    import pandas
    import pyarrow

    return {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
        "dash": dash.__version__,
    }


def _loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _memory_gb() -> int:
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)


def _command(args: argparse.Namespace) -> str:
    given = getattr(args, "command_line", None)
    if given:
        return given
    parts = ["python -m bench.run"]
    for name in (
        "skip",
        "lines",
        "months",
        "etl_rows",
        "repeat",
        "baseline_repeat",
        "cold_repeat",
        "server_seconds",
        "server_users",
        "browser_repeat",
        "work",
    ):
        value = getattr(args, name, None)
        if value not in (None, ""):
            parts.append(f"--{name.replace('_', '-')} {shlex.quote(str(value))}")
    return " ".join(parts)  # fmt: skip


# --- the parts -----------------------------------------------------------------------------------


def _part(result: dict[str, Any], name: str, fn) -> Any:
    """Run one part; an exception is recorded (and fails the run) without losing the others."""
    t0 = time.perf_counter()
    try:
        got = fn()
    except Exception as e:  # a part that cannot run must not hide the figures of the others
        result["parts"][name] = {"error": f"{type(e).__name__}: {e}",
                                 "traceback": traceback.format_exc()}  # fmt: skip
        _log(f"bench: {name} failed: {type(e).__name__}: {e}")
        return None
    got["part_seconds"] = time.perf_counter() - t0
    result["parts"][name] = got
    return got


def run(args: argparse.Namespace) -> dict[str, Any]:
    skip = {s.strip() for s in (args.skip or "").split(",") if s.strip()}
    unknown = skip - set(PARTS)
    if unknown:
        raise ValueError(f"--skip: unknown part(s) {sorted(unknown)}; parts: {', '.join(PARTS)}")
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted(int(x) for x in str(args.etl_rows).split(",") if x.strip())
    started = datetime.now(UTC)
    t_start = time.perf_counter()
    result: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": _command(args),
        "options": {k: v for k, v in vars(args).items() if k not in ("func", "command_line")},
        "skipped": sorted(skip),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": _memory_gb(),
            "platform": platform.platform(terse=True),
            "load_before": _loadavg(),
            "versions": _versions(),
        },
        "parts": {},
    }

    # 1. ETL side by side; the largest size's lake is kept for the pandas peer
    etl = None
    if "etl" not in skip:
        from bench.etl_bench import run_etl

        keep = max(sizes) if "peer" not in skip else None
        etl = _part(result, "etl", lambda: run_etl(work, sizes, _log, keep_lake_of=keep))

    # 2. + 3. the big lake and the questions
    big = None
    if not {"questions", "server", "browser"} <= skip:
        from bench.biglake import ensure_big_lake

        def build() -> dict[str, Any]:
            kw: dict[str, Any] = {"months": int(args.months), "progress": True}
            if args.lines:
                kw["lines"] = int(args.lines)
            lake, info = ensure_big_lake(work / "big", **kw)
            _log(f"  big lake: {info.get('cdr_rows', 0):,} CDRs at {lake}"
                 + (" (reused)" if info.get("reused") else ""))  # fmt: skip
            return {"lake": str(lake), "info": info}

        big = _part(result, "big_lake", build)
    before = os.environ.get("SELFCARE_LAKE")
    try:
        if big and "questions" not in skip:
            from bench.questions import run_questions

            _part(result, "questions", lambda: run_questions(
                Path(big["lake"]), work, repeat=max(1, args.repeat),
                cold_repeat=max(0, args.cold_repeat),
                baseline_repeat=max(0, args.baseline_repeat), log=_log))  # fmt: skip
        if etl and etl.get("peer_lake") and "peer" not in skip:
            from bench.pandas_peer import run_peer

            _part(result, "pandas_peer", lambda: run_peer(
                Path(etl["peer_lake"]), Path(etl["peer_drop"]), Path(etl["peer_billing"]), work,
                repeat=max(1, min(args.repeat, 5)), log=_log))  # fmt: skip
    finally:
        # The gate finds the lake through SELFCARE_LAKE; put back the caller's.
        if before is None:
            os.environ.pop("SELFCARE_LAKE", None)
        else:
            os.environ["SELFCARE_LAKE"] = before
        from selfcare import gate

        gate.clear_caches()

    # 4. the server under load, 5. the browser
    if big and "server" not in skip:

        def server() -> dict[str, Any]:
            from bench.http_load import run_server_load

            return run_server_load(Path(big["lake"]), work / "server",
                                   users=int(args.server_users),
                                   seconds=int(args.server_seconds))  # fmt: skip

        _part(result, "server", server)
    if big and "browser" not in skip:

        def browser() -> dict[str, Any]:
            from bench.browser import time_browser

            return time_browser(Path(big["lake"]), work / "browser",
                                repeat=int(args.browser_repeat))  # fmt: skip

        _part(result, "browser", browser)

    result["machine"]["load_after"] = _loadavg()
    result["seconds"] = time.perf_counter() - t_start
    result["targets"] = targets(result)
    result["failures"] = failures(result)
    return result


# --- targets and failures ------------------------------------------------------------------------


def _first(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if d.get(n) is not None:
            return d[n]
    return None


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    from bench import etl_bench, questions
    from bench.etl_bench import _target

    parts = result["parts"]
    out: list[dict[str, Any]] = []
    etl = parts.get("etl") or {}
    if "summary" in etl:
        out += etl_bench.targets(etl["summary"])
    q = parts.get("questions") or {}
    if "timings" in q:
        out += questions.targets(q)
    s = (parts.get("server") or {}).get("summary") or {}
    if s:
        errors = _first(s, "errors")
        if errors is not None:
            out.append(_target("server under load: 0 errors", float(errors), 0, "", higher=False))
        leaks = _first(s, "leaks")
        if leaks is not None:
            out.append(_target("server: no reply carries another user's data",
                               float(leaks), 0, "", higher=False))  # fmt: skip
        p95 = _first(s, "p95_ms")
        if p95 is not None:
            out.append(_target("server under load: p95 ≤ 500 ms", float(p95),
                               TARGET_SERVER_P95_MS, " ms", higher=False))  # fmt: skip
        mem = _first(s, "server_peak_rss_mb", "peak_rss_mb")
        if mem is not None:
            out.append(_target("server memory ≤ 1 GB", float(mem), TARGET_SERVER_MB, " MB",
                               higher=False))  # fmt: skip
    t = ((parts.get("server") or {}).get("think") or {}).get("summary") or {}
    if t:
        lo, hi = t["think_time_s"]
        what = f"server, users thinking {lo:g}–{hi:g} s between clicks"
        out.append(_target(f"{what}: 0 errors", float(t["errors"]), 0, "", higher=False))
        out.append(_target(f"{what}: p95 ≤ 500 ms", float(t["p95_ms"]), TARGET_SERVER_P95_MS,
                           " ms", higher=False))  # fmt: skip
        out.append(_target(f"{what}: memory ≤ 1 GB", float(t["server_peak_rss_mb"]),
                           TARGET_SERVER_MB, " MB", higher=False))  # fmt: skip
    b = (parts.get("browser") or {}).get("summary") or {}
    if b:
        ms = b.get("headline_median_ms")
        if ms is not None:
            out.append(_target(f"browser: {b.get('headline_page')} charts drawn ≤ 3 s (median)",
                               float(ms) / 1000, TARGET_BROWSER_S, " s", higher=False))  # fmt: skip
    return out


def failures(result: dict[str, Any]) -> list[str]:
    """Why the run must exit 1 (answers that differ, failed or leaking requests, broken parts)."""
    out = []
    for name, part in result["parts"].items():
        if "error" in part:
            out.append(f"{name}: could not run: {part['error']}")
    for t in (result["parts"].get("questions") or {}).get("timings", []):
        if t["error"]:
            out.append(f"question {t['key']}: {t['error']}")
        elif t["equal"] is False:
            out.append(f"question {t['key']}: the baseline's answer differs: {t['difference']}")
    for r in (result["parts"].get("pandas_peer") or {}).get("rows", []):
        if not r["equal"]:
            out.append(f"pandas peer {r['query']} {r['viewer']} {r['period']}: the answer "
                       f"differs: {r['difference']}")  # fmt: skip
    server = result["parts"].get("server") or {}
    for phase, s in (("", server.get("summary") or {}),
                     (" (think time)", (server.get("think") or {}).get("summary") or {})):
        errors = _first(s, "errors")
        leaks = _first(s, "leaks")
        if errors:
            out.append(f"server{phase}: {errors} requests failed")
        if leaks:
            out.append(f"server{phase}: {leaks} replies carried another user's data")
    return out


# --- the report ----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _p(values: list[float], pct: float) -> str:
    from bench.compare import median, percentile

    if not values:
        return "—"
    return _ms(median(values) if pct == 50 else percentile(values, pct))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v).replace("|", "\\|")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """A markdown table of JSON-able dict rows (the server's and browser's own rows)."""
    if not rows:
        return ["(no rows)"]
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return lines


def _verdict(t: dict[str, Any]) -> str:
    return "**met**" if t["met"] else f"**not met** ({t['by']})"


def _value(t: dict[str, Any]) -> str:
    v = t["value"]
    return f"{v:,.2f}{t['unit']}" if t["unit"] == "×" else f"{v:,.1f}{t['unit']}"


def render(r: dict[str, Any], level: int = 1) -> str:
    h = "#" * level
    m = r["machine"]
    parts = r["parts"]
    lines = [
        f"{h} Benchmark {r['started']}",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {m['cpus']} cores, {m['memory_gb']} GiB, {m['platform']}; load average "
        f"{m['load_before']} at the start, {m.get('load_after', '?')} at the end (shared "
        "machine)  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + "  ",
        f"Total run time {r['seconds']:.0f} s."
        + (f" Skipped: {', '.join(r['skipped'])}." if r["skipped"] else ""),
        "",
        f"{h}# Targets (issue 6)",
        "",
        "| target | measured | limit | verdict |",
        "|---|---:|---:|---|",
    ]
    for t in r["targets"]:
        limit = f"{t['limit']:,g}{t['unit']}"
        lines.append(f"| {t['target']} | {_value(t)} | {limit} | {_verdict(t)} |")
    if r["failures"]:
        lines += ["", "**Failures** (exit code 1):", ""] + [f"- {f}" for f in r["failures"]]
    for name, part in parts.items():
        if "error" in part:
            lines += ["", f"{h}# {name}: could not run", "", f"`{part['error']}`"]
    lines += _render_etl(parts.get("etl"), h)
    lines += _render_questions(parts.get("big_lake"), parts.get("questions"), h)
    lines += _render_peer(parts.get("pandas_peer"), h)
    titles = (("server", "Server under load"), ("browser", "Browser (headless Chromium)"))
    for name, title in titles:
        part = parts.get(name)
        if part and "error" not in part:
            lines += ["", f"{h}# {title}", ""]
            lines += [f"- {k}: {_cell(v)}" for k, v in (part.get("summary") or {}).items()]
            lines += [""] + _table(part.get("rows") or [])
            think = part.get("think")
            if think:
                lo, hi = think["summary"]["think_time_s"]
                lines += ["", f"{h}# {title}: users thinking {lo:g}–{hi:g} s between clicks", "",
                          "The same users, requests and checks, after the phase above, each user "
                          "waiting a uniform random time in that range before each request."]
                lines += [""] + [f"- {k}: {_cell(v)}" for k, v in think["summary"].items()]
                lines += [""] + _table(think.get("rows") or [])
    lines.append("")
    return "\n".join(lines)


def _render_etl(etl: dict[str, Any] | None, h: str) -> list[str]:
    if not etl or "runs" not in etl:
        return []
    from bench.etl_bench import CONTESTANTS

    g = etl["generation"]
    out = [
        "",
        f"{h}# ETL side by side (same CDR file, each in its own process)",
        "",
        f"Input: the first N CDRs of one generated estate ({g['params']['lines']:,} lines, "
        f"{g['params']['months']} months, seed {g['params']['seed']}) in one `cdr_*.csv`, plus "
        "the reference files. *ours* = `selfcare.etl.load.load` (validation, dedupe, partitioning, "
        "summaries, publish); *duckdb* = bare `COPY (SELECT * FROM read_csv(..., explicit "
        "types)) TO ... (FORMAT parquet)`, 2 threads; *pandas* = `read_csv(dtype=...)` + "
        "`to_parquet` (pyarrow). Rows/s = CDR rows ÷ the child's own seconds (wall: incl. "
        "interpreter start and imports). Peak = the child's `ru_maxrss`.",
        "",
        "| CDR rows | contestant | seconds | wall | rows/s | rows/s (wall) | peak RSS | "
        "ours ÷ this |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    by = {(x["contestant"], x["cdr_rows"]): x for x in etl["runs"]}
    for n in etl["summary"]["sizes"]:
        ours = by.get(("ours", n))
        for c in CONTESTANTS:
            x = by.get((c, n))
            if not x:
                continue
            ratio = f"{ours['rows_per_s'] / x['rows_per_s']:.2f}×" if ours and c != "ours" else ""
            out.append(
                f"| {n:,} | {c} | {x['seconds']:.1f} s | {x['wall_s']:.1f} s | "
                f"{x['rows_per_s']:,.0f} | {x['wall_rows_per_s']:,.0f} | "
                f"{x['peak_rss_mb']:,.0f} MB | {ratio} |"
            )
    growth = etl["summary"]["memory_growth"]
    if growth:
        lo, hi = etl["summary"]["sizes"][0], etl["summary"]["sizes"][-1]
        out += ["", f"Peak memory at {hi:,} rows ÷ at {lo:,} rows ({hi / lo:g}× the input): "
                + ", ".join(f"{c} {v:.2f}×" for c, v in growth.items()) + "."]  # fmt: skip
    return out


def _render_questions(big: dict[str, Any] | None, q: dict[str, Any] | None, h: str) -> list[str]:
    if not q or "timings" not in q:
        return []
    from bench.compare import median, percentile

    v = q["viewers"]
    info = (big or {}).get("info") or {}
    opens = q.get("engine_open_s") or []
    out = [
        "",
        f"{h}# Questions at {q['cdr_rows']:,} CDRs ({q['first_period']} to {q['last_period']})",
        "",
        f"Lake: {info.get('lines', '?'):,} lines, {info.get('tenants', '?')} tenants, "
        f"{info.get('months', '?')} months"
        + (" (reused from an earlier build)" if info.get("reused") else "")
        + ". "
        f"Viewers: Financial Manager of {v['tenant_id']} ({v['tenant_lines']:,} lines); manager "
        f"{v['manager_id']} ({v['manager_lines']:,} lines in the chain, the closest to 200); end "
        f"user {v['end_user_id']} ({v['end_user_lines']} line(s)); the analyst (every tenant). "
        'Periods: the last month and the last 12 months ("any": the question has no period).',
        "",
        f"- **warm**: p50/p95 of {q['repeat']} runs in one process, engine warm, result cache "
        "cleared before each run (`gate.clear_caches()`); a question stops early, after at "
        f"least {q.get('min_runs', 3)} runs, once its runs have taken {q.get('budget_s', 20):.0f} "
        "s (the runs made are in the table);",
        f"- **cold**: p50/p95 over {q['cold_repeat']} new processes, each asking every question "
        "once in a fixed order; only that question's call is timed (the engine's opening, "
        + (f"p50 {_ms(median(opens))} ms per process, " if opens else "")
        + "is timed apart);",
        f"- **baseline**: p50 of {q['baseline_repeat']} runs of the same SQL with every summary "
        "computed from raw `fct_cdr` (questions reading no summary scan the raw facts already: "
        "no baseline); speed-up = baseline p50 ÷ warm p50; answers compared as multisets;",
        "- exports: the time to the first page (first Arrow batch of the stream).",
        "",
        "Summary by viewer and period:",
        "",
        "| viewer | period | questions | warm p50 (median) | warm p95 (worst) | cold p95 (worst) "
        "| speed-up (lowest) | answers differ |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in q["timings"]:
        groups.setdefault((t["viewer"], t["period"]), []).append(t)
    for (viewer, period), ts in sorted(groups.items()):
        ok = [t for t in ts if t["warm_s"]]
        p50s = [median(t["warm_s"]) for t in ok]
        p95s = [percentile(t["warm_s"], 95) for t in ok]
        colds = [percentile(t["cold_s"], 95) for t in ok if t["cold_s"]]
        speed = [median(t["baseline_s"]) / median(t["warm_s"]) for t in ok if t["baseline_s"]]
        out.append(
            f"| {viewer} | {period} | {len(ts)} | {_ms(median(p50s)) if p50s else '—'} | "
            f"{_ms(max(p95s)) if p95s else '—'} | {_ms(max(colds)) if colds else '—'} | "
            f"{f'{min(speed):.1f}×' if speed else '—'} | "
            f"{sum(1 for t in ts if t['equal'] is False)} |"
        )
    out += [
        "",
        "Every question (ms):",
        "",
        "| page | callback / export | query | viewer | period | rows | runs (warm/cold/base) "
        "| warm p50 | warm p95 | cold p50 | cold p95 | baseline p50 | speed-up | same answer |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in q["timings"]:
        if t["error"] and not t["warm_s"]:
            out.append(
                f"| {t['page']} | {t['source']} | {t['query']} | {t['viewer']} | "
                f"{t['period']} | — | — | — | — | — | — | — | — | **ERROR**: {t['error']} |"
            )
            continue  # fmt: skip
        if t["baseline_s"]:
            base = _p(t["baseline_s"], 50)
            speed = f"**{median(t['baseline_s']) / median(t['warm_s']):.1f}×**"
            same = "yes" if t["equal"] else f"**NO**: {t['difference']}"
        else:
            base, speed = "—", "—"
            same = t["error"] or "reads no summary"
        out.append(
            f"| {t['page']} | {t['source']} | {t['query']} | {t['viewer']} | {t['period']} | "
            f"{t['rows']:,} | {len(t['warm_s'])}/{len(t['cold_s'])}/{len(t['baseline_s'])} | "
            f"{_p(t['warm_s'], 50)} | {_p(t['warm_s'], 95)} | "
            f"{_p(t['cold_s'], 50)} | {_p(t['cold_s'], 95)} | {base} | {speed} | {same} |"
        )
    cached = [t for t in q["timings"] if t["cached_s"]]
    if cached:
        out += [
            "",
            f"Cached hits, **result cache left on** (what a repeat view costs; p50/p95 of "
            f"{q['repeat']} runs, ms; streamed exports are never cached):",
            "",
            "| page | callback / export | viewer | period | cached p50 | cached p95 |",
            "|---|---|---|---|---:|---:|",
        ]
        out += [
            f"| {t['page']} | {t['source']} | {t['viewer']} | {t['period']} | "
            f"{_p(t['cached_s'], 50)} | {_p(t['cached_s'], 95)} |"
            for t in cached
        ]
    return out


def _render_peer(peer: dict[str, Any] | None, h: str) -> list[str]:
    if not peer or "rows" not in peer:
        return []
    from bench.compare import median, percentile

    out = [
        "",
        f"{h}# pandas in memory (the 10 M ETL lake; the peer a typical Dash app is)",
        "",
        f"The raw CSVs loaded into pandas once: {peer['load_s']:.1f} s, peak memory "
        f"{peer['peak_rss_mb']:,.0f} MB. Then each question filtered and aggregated in memory "
        f"(p50/p95 of {peer['repeat']} runs, ms), beside the portal's warm time on the lake our "
        "loader built from the same files; pandas' answer is checked against the portal's.",
        "",
        "| question | viewer | period | rows | pandas p50 | pandas p95 | portal p50 | portal p95 "
        "| pandas ÷ portal | same answer |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in peer["rows"]:
        ratio = median(r["pandas_s"]) / median(r["portal_s"])
        out.append(
            f"| {r['query']} | {r['viewer']} | {r['period']} ({r['period_from']}..{r['period_to']})"
            f" | {r['rows']:,} | {_ms(median(r['pandas_s']))} | "
            f"{_ms(percentile(r['pandas_s'], 95))} | {_ms(median(r['portal_s']))} | "
            f"{_ms(percentile(r['portal_s'], 95))} | {ratio:.1f}× | "
            + ("yes" if r["equal"] else f"**NO**: {r['difference']}")
            + " |"
        )
    return out


# --- writing -------------------------------------------------------------------------------------


def write_results(result: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = render(result)
    stamp = result["started"].replace(":", "").replace("-", "")
    path = folder / f"{stamp}.md"
    path.write_text(text, encoding="utf-8")
    raw = json.dumps(result, indent=1, default=str)
    (folder / f"{stamp}.json").write_text(raw, encoding="utf-8")
    (folder / "latest.md").write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(raw, encoding="utf-8")
    return path


def rewrite_docs(docs: Path, result: dict[str, Any], results_file: Path) -> None:
    """Replace the text between the markers with this run's tables (headings one level down)."""
    text = docs.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise ValueError(f"{docs} has no {BEGIN} … {END} section")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    try:
        shown = results_file.resolve().relative_to(ROOT)
    except ValueError:
        shown = results_file
    body = (
        f"Written by the run itself (`{shown}`; raw timings in the `.json` beside it).\n\n"
        + render(result, level=3)
    )
    docs.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")


def main(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 when every part ran and every answer agreed, else 1."""
    docs = getattr(args, "docs", str(DOCS))
    if docs and not {BEGIN, END} <= set(re.findall(r"<!-- bench:\w+ -->", Path(docs).read_text())):
        # checked first: a long run must not end without the place to write its tables
        raise ValueError(f"{docs} has no {BEGIN} … {END} section")
    result = run(args)
    path = write_results(result, Path(getattr(args, "results", None) or RESULTS))
    if docs:
        rewrite_docs(Path(docs), result, path)
    print()
    print(render(result))
    print(f"written to {path}" + (f" and {docs}" if docs else ""))
    for t in result["targets"]:
        print(f"target: {t['target']}: {_value(t)} → "
              + ("met" if t["met"] else f"NOT MET ({t['by']})"))  # fmt: skip
    if result["failures"]:
        for f in result["failures"]:
            print(f"bench: {f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    _args = parse_args()
    # the exact command, as typed, goes into the results and docs/performance.md
    _args.command_line = "python -m bench.run " + " ".join(sys.argv[1:])
    sys.exit(main(_args))
