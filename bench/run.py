"""`selfcare bench` / `make bench`: the benchmark, every figure measured in one run.

1. generation of the estate (skipped when the work folder already holds the same parameters);
2. the load in a subprocess, its rows/s and peak memory (the child's own ru_maxrss), and a load of
   half the input beside it, to show that memory does not grow with the input;
3. the portal's named queries through the real gate, side by side with a baseline that computes
   the summaries from the raw facts, checked to return the same rows (median and p95);
4. a short concurrent HTTP load against `selfcare serve` on 127.0.0.1.

The results are printed and written to bench/results/<UTC timestamp>.md and latest.md (and
latest.json). Speed is never asserted here or in the tests: the figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

# The load runs in a child so that its peak memory is its own, not the harness's.
_LOAD_CHILD = """
import json, sys
from etl.load import load
report = load(sys.argv[1], sys.argv[2], progress=False)
print(json.dumps({"seconds": report.seconds, "totals": report.totals,
                  "refused": report.refused, "version": report.version}))
"""


@dataclass
class LoadRun:
    label: str
    files: int
    rows: int  # rows read from the export files
    cdr_rows: int
    seconds: float  # the load's own clock (without the child's interpreter start)
    wall_s: float
    peak_rss_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _log(msg: str) -> None:
    print(msg, flush=True)


# --- 2. the load ---------------------------------------------------------------------------------


def half_drop(drop: Path, dest: Path) -> tuple[Path, list[str]]:
    """A drop folder with every reference file and the first half of the months' facts (links)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    periods = sorted({p.name.split("_", 1)[1][:7] for p in drop.glob("cdr_*")})
    keep = set(periods[: max(1, len(periods) // 2)])
    for p in sorted(drop.iterdir()):
        if p.name.startswith(("cdr_", "billing_")) and p.name.split("_", 1)[1][:7] not in keep:
            continue
        (dest / p.name).symlink_to(p.resolve())
    return dest, sorted(keep)


def load_in_child(label: str, drop: Path, lake: Path) -> LoadRun:
    """Load `drop` into a fresh `lake` in a subprocess; its peak RSS from wait4's rusage."""
    shutil.rmtree(lake, ignore_errors=True)
    out = lake.parent / f".{lake.name}.load.json"
    with open(out, "wb") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _LOAD_CHILD, str(drop), str(lake)],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.PIPE,
        )
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the max over all children
        # so far, and the second load would inherit the first one's peak.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    text = out.read_text()
    out.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"the {label} load failed: {(err.strip().splitlines() or ['?'])[-1]}")
    got = json.loads(text.strip().splitlines()[-1])
    if got["refused"]:
        raise RuntimeError(f"the {label} load refused a file")
    cdr_rows = _cdr_rows(lake)
    return LoadRun(
        label=label,
        files=got["totals"]["files"],
        rows=got["totals"]["rows_read"],
        cdr_rows=cdr_rows,
        seconds=float(got["seconds"]),
        wall_s=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
    )


def _cdr_rows(lake: Path) -> int:
    import duckdb

    from etl import lake as lake_files

    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        return int(con.execute("select count(*) from fct_cdr").fetchone()[0])
    finally:
        con.close()


# --- the report ----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


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


def render(r: dict[str, Any]) -> str:
    from bench.compare import median, percentile

    m = r["machine"]
    e = r["estate"]
    g = r["generation"]
    lines = [
        f"# Benchmark {r['started']}",
        "",
        f"Command: `{r['command']}`  ",
        f"Machine: {m['cpus']} cores, {m['memory_gb']} GiB, {m['platform']}; load average "
        f"{m['load_before']} at the start, {m['load_after']} at the end (shared machine)  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + "  ",
        f"Estate: {e['tenants']} tenants, {e['lines']:,} lines, {e['months']} months from "
        f"{e['start']} (seed {e['seed']}): {g['cdr_rows']:,} CDRs, {g['billing_rows']:,} invoice "
        f"lines. Total run time {r['seconds']:.0f} s.",
        "",
        "## Generation",
        "",
        f"{g['cdr_rows']:,} CDRs in {g['seconds']:.1f} s = **{g['cdr_rows_per_s']:,.0f} CDRs/s**"
        + (
            " (reused from an earlier run with the same parameters; figures of that run)"
            if r["generation_reused"]
            else ""
        ),
        "",
        "## Load (`etl.load.load` in a subprocess)",
        "",
        "| input | files | rows read | CDRs | load time | rows/s | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for ld in r["loads"]:
        lines.append(
            f"| {ld['label']} | {ld['files']} | {ld['rows']:,} | {ld['cdr_rows']:,} | "
            f"{ld['seconds']:.1f} s | {ld['rows'] / ld['seconds']:,.0f} | "
            f"{ld['peak_rss_mb']:,.0f} MB |"
        )
    if len(r["loads"]) == 2:
        half, full = r["loads"]
        lines += [
            "",
            f"Twice the input: {full['rows'] / half['rows']:.2f}× the rows, "
            f"{full['seconds'] / half['seconds']:.2f}× the time, "
            f"{full['peak_rss_mb'] / half['peak_rss_mb']:.2f}× the peak memory.",
        ]
    q = r["queries"]
    lines += [
        "",
        f"## Queries (median and p95 of {r['repeat']} runs, ms; result cache cleared every run)",
        "",
        f"Viewers: admin of {q['tenant_id']} ({q['tenant_lines']:,} lines); manager "
        f"{q['manager_id']} ({q['manager_lines']:,} lines in the chain); end user "
        f"{q['end_user_id']} ({q['end_user_lines']} line(s)); analyst (every tenant).",
        "",
        "| query | viewer | parameters | rows | portal p50 | portal p95 | baseline p50 | "
        "baseline p95 | speed-up | same rows |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in q["timings"]:
        p, b = t["portal_s"], t["baseline_s"]
        if t["error"]:
            lines.append(
                f"| {t['query']} | {t['viewer']} | {t['what']} | — | — | — | — | — | — | "
                f"**ERROR**: {t['error']} |"
            )
            continue
        if b:
            base = f"{_ms(median(b))} | {_ms(percentile(b, 95))} | **{median(b) / median(p):.1f}×**"
            same = "yes" if t["equal"] else f"**NO**: {t['difference']}"
        else:
            base, same = "— | — | —", "no summary read: nothing to compare"
        lines.append(
            f"| {t['query']} | {t['viewer']} | {t['what']} | {t['rows']:,} | "
            f"{_ms(median(p))} | {_ms(percentile(p, 95))} | {base} | {same} |"
        )
    h = r.get("http")
    lines += ["", "## HTTP (`selfcare serve`, waitress, 127.0.0.1)", ""]
    if not h:
        lines.append("Skipped.")
    else:
        lines += [
            f"{h['clients']} concurrent clients, each signed in with its own session, "
            f"{h['requests']} requests round-robin over the exports in {h['seconds']:.1f} s: "
            f"**{h['ok'] / h['seconds']:.1f} requests/s**, {h['errors']} errors"
            + (" (stopped at the time budget)" if h["stopped_early"] else "")
            + ".",
            "",
            "| export | reads | requests | p50 | p95 | max | bytes/response |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for ep in h["endpoints"]:
            lat = ep["latencies"]
            if lat:
                lines.append(
                    f"| {ep['label']} | {ep['what']} | {len(lat)} | {_ms(median(lat))} ms | "
                    f"{_ms(percentile(lat, 95))} ms | {_ms(max(lat))} ms | "
                    f"{ep['bytes'] // len(lat):,} |"
                )
            else:
                lines.append(f"| {ep['label']} | {ep['what']} | 0 | — | — | — | — |")
        lat_all = [x for ep in h["endpoints"] for x in ep["latencies"]]
        if lat_all:
            lines.append(
                f"| all | | {len(lat_all)} | {_ms(median(lat_all))} ms | "
                f"{_ms(percentile(lat_all, 95))} ms | {_ms(max(lat_all))} ms | |"
            )
    lines.append("")
    return "\n".join(lines)


# --- the run -------------------------------------------------------------------------------------


def _loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _memory_gb() -> int:
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench import compare
    from bench.estate import ensure_estate, estate_params

    started = datetime.now(UTC)
    t_start = time.perf_counter()
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    repeat = max(1, int(args.repeat))
    command = getattr(args, "command_line", None) or (
        f"selfcare bench --lines {args.lines} --months {args.months} --repeat {repeat} "
        f"--work {args.work}"
    )
    result: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "repeat": repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": _memory_gb(),
            "platform": platform.platform(terse=True),
            "load_before": _loadavg(),
            "versions": _versions(),
        },
    }

    # 1. generation
    params = estate_params(int(args.lines), int(args.months), getattr(args, "start", None))
    _log(f"bench: estate {params} in {work}")
    drop, gen, reused = ensure_estate(work, params)
    result["estate"] = params
    result["generation"] = gen
    result["generation_reused"] = reused
    _log(
        f"  generation: {gen['cdr_rows']:,} CDRs in {gen['seconds']:.1f} s"
        + (" (reused)" if reused else "")
    )

    # 2. load: half the input, then all of it (the lake the queries read)
    half, kept = half_drop(drop, work / "drop_half")
    loads = []
    for label, folder, lake in (
        (f"half: {len(kept)} of {params['months']} months", half, work / "lake_half"),
        (f"full: {params['months']} months", drop, work / "lake"),
    ):
        ld = load_in_child(label, folder, lake)
        _log(
            f"  load {label}: {ld.rows:,} rows in {ld.seconds:.1f} s "
            f"({ld.rows_per_s:,.0f} rows/s), peak RSS {ld.peak_rss_mb:,.0f} MB"
        )
        loads.append(ld.__dict__)
    # Only the figures of the half load are needed.
    shutil.rmtree(work / "lake_half", ignore_errors=True)
    shutil.rmtree(work / "drop_half", ignore_errors=True)
    result["loads"] = loads
    lake = work / "lake"

    # 3. queries
    import duckdb

    from etl import lake as lake_files

    compare.point_gate_at(lake)
    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        first, last = con.execute(
            "select min(bill_period), max(bill_period) from fct_cdr"
        ).fetchone()
        viewers = compare.pick_viewers(lake, con)
    finally:
        con.close()
    _log(f"  queries over {first}..{last}, {repeat} runs each:")
    timings = compare.run_cases(lake, viewers, compare.cases(viewers, first, last), repeat, _log)
    result["queries"] = {
        "tenant_id": viewers.tenant_id,
        "tenant_lines": viewers.tenant_lines,
        "manager_id": viewers.manager_id,
        "manager_lines": len(viewers.scopes["manager"].msisdns),
        "end_user_id": viewers.end_user_id,
        "end_user_lines": len(viewers.scopes["end_user"].msisdns),
        "first_period": first,
        "last_period": last,
        "timings": [
            {
                "query": t.case.query,
                "viewer": t.case.viewer,
                "what": t.case.what,
                "summaries": list(t.summaries),
                "rows": t.rows,
                "portal_s": t.portal_s,
                "baseline_s": t.baseline_s,
                "equal": t.equal,
                "difference": t.difference,
                "error": t.error,
            }
            for t in timings
        ],
    }

    # 4. HTTP
    if getattr(args, "skip_http", False):
        result["http"] = None
    else:
        from bench.http_load import run_http

        clients = int(getattr(args, "http_clients", 8))
        total = int(getattr(args, "http_requests", 200))
        _log(f"  http: {clients} clients, {total} requests")
        h = run_http(lake, viewers.tenant_id, first, last, clients=clients, total=total)
        result["http"] = {
            "clients": h.clients,
            "requests": h.requests,
            "seconds": h.seconds,
            "ok": h.ok,
            "errors": h.errors,
            "stopped_early": h.stopped_early,
            "endpoints": [
                {
                    "label": e.label,
                    "what": e.what,
                    "latencies": e.latencies,
                    "errors": e.errors,
                    "bytes": e.bytes,
                }
                for e in h.endpoints
            ],
        }
        _log(
            f"  http: {h.ok} ok, {h.errors} errors in {h.seconds:.1f} s "
            f"({h.ok / h.seconds:.1f} requests/s)"
        )

    result["machine"]["load_after"] = _loadavg()
    result["seconds"] = time.perf_counter() - t_start
    return result


def write_results(result: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = render(result)
    stamp = result["started"].replace(":", "").replace("-", "")
    path = folder / f"{stamp}.md"
    path.write_text(text, encoding="utf-8")
    (folder / "latest.md").write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return path


def main(args: argparse.Namespace) -> int:
    """Run the benchmark; 0 when it ran and every baseline agreed with the portal, else 1."""
    # The gate finds the lake through SELFCARE_LAKE; put back the caller's (a test session's).
    before = os.environ.get("SELFCARE_LAKE")
    try:
        result = run(args)
    finally:
        if before is None:
            os.environ.pop("SELFCARE_LAKE", None)
        else:
            os.environ["SELFCARE_LAKE"] = before
        from dashboard import gate

        gate.clear_caches()
    path = write_results(result, Path(getattr(args, "results", None) or RESULTS))
    print()
    print(render(result))
    print(f"written to {path}")
    differ = [t for t in result["queries"]["timings"] if t["equal"] is False or t["error"]]
    failed = result["http"] and result["http"]["errors"]
    if differ:
        print(
            f"bench: {len(differ)} queries failed or their baseline differs from the portal",
            file=sys.stderr,
        )
    if failed:
        print(f"bench: {failed} HTTP requests failed", file=sys.stderr)
    return 1 if differ or failed else 0
