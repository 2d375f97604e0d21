"""ETL side by side: our load against the engine's own limit and a pandas peer, on the same file.

For each size (1 M and 10 M CDRs by default) a drop folder holds exactly that many CDR rows in one
`cdr_*.csv` (the first N data rows of one generated estate, in file order) plus the reference files
the load needs. Three contestants read that file, each in its own subprocess so that its peak
resident memory (`os.wait4` rusage of that child) is its own:

- **ours**: `selfcare.etl.load.load(drop, fresh lake)`: validation, dedupe, partitioning,
  summaries, publish;
- **duckdb**: bare `COPY (SELECT * FROM read_csv(file, columns = the contract's types,
  header = true, auto_detect = false)) TO x.parquet (FORMAT parquet)` with 2 threads: no
  validation, no dedupe, no summaries, the limit of the engine we build on;
- **pandas**: `read_csv(dtype=...)` + `to_parquet` (pyarrow), what a typical Dash app does.

Each child times its own work (imports and interpreter start excluded) and prints JSON; the wall
time seen by the parent is kept beside it. Drops are cached between runs (a stamp per folder).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from selfcare.contract import KINDS

ROOT = Path(__file__).resolve().parents[1]
MONTHS = 12
# The generator writes about 130 CDRs per line and month; 100 leaves a margin so the estate always
# holds the largest size asked for (checked below, never assumed).
CDRS_PER_LINE_MONTH = 100
CONTESTANTS = ("ours", "duckdb", "pandas")

# Targets of issue 6, printed beside the figures (never asserted in tests).
TARGET_VS_DUCKDB = 0.6
TARGET_VS_PANDAS = 4.0
TARGET_PEAK_MB = 1536.0

# --- the children --------------------------------------------------------------------------------
# Each child: argv = [csv file or drop folder, output path]; prints one JSON line, with its own
# peak resident memory (see run_child for why it is read from /proc as well as from wait4).

_OURS = """
import json, sys, time
from bench.etl_bench import vm_hwm_mb
from selfcare.etl.load import load
t0 = time.perf_counter()
report = load(sys.argv[1], sys.argv[2], progress=False)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "refused": report.refused,
                  "rows_read": report.totals["rows_read"], "hwm_mb": vm_hwm_mb()}))
"""

_DUCKDB = """
import json, sys, time
import duckdb
from bench.etl_bench import duckdb_copy_sql, vm_hwm_mb
con = duckdb.connect()
con.execute("set threads = 2")
t0 = time.perf_counter()
con.execute(duckdb_copy_sql(sys.argv[1], sys.argv[2]))
seconds = time.perf_counter() - t0
rows = con.execute("select count(*) from read_parquet($p)", {"p": sys.argv[2]}).fetchone()[0]
print(json.dumps({"seconds": seconds, "rows_read": rows, "hwm_mb": vm_hwm_mb()}))
"""

_PANDAS = """
import json, sys, time
import pandas as pd
from bench.etl_bench import pandas_dtypes, vm_hwm_mb
dtype, dates = pandas_dtypes()
t0 = time.perf_counter()
df = pd.read_csv(sys.argv[1], dtype=dtype, keep_default_na=False, na_values=[""])
for c in dates:
    df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
df.to_parquet(sys.argv[2], engine="pyarrow", index=False)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rows_read": len(df), "hwm_mb": vm_hwm_mb()}))
"""


def duckdb_copy_sql(csv: str, out: str) -> str:
    """The bare COPY with the contract's explicit column types (no detection, no validation)."""
    cols = ", ".join(f"'{c.name}': '{c.type}'" for c in KINDS["cdr"].columns)
    return (
        f"copy (select * from read_csv('{csv}', columns = {{{cols}}}, header = true, "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"')) "
        f"to '{out}' (format parquet)"
    )


def pandas_dtypes() -> tuple[dict[str, str], list[str]]:
    """pandas dtypes for the CDR columns from the contract; timestamps are parsed after reading.

    Amounts become float64, as a typical app has them (Decimal objects would make pandas several
    times slower: /work/shared/STACK_NOTES.md), a choice in pandas' favour.
    """
    dtype: dict[str, str] = {}
    dates: list[str] = []
    for c in KINDS["cdr"].columns:
        t = c.type.upper()
        if t.startswith("TIMESTAMP"):
            dtype[c.name] = "str"
            dates.append(c.name)
        elif t in ("BIGINT", "INTEGER"):
            dtype[c.name] = "int64"
        elif t.startswith("DECIMAL"):
            dtype[c.name] = "float64"
        else:
            dtype[c.name] = "str"
    return dtype, dates


_CHILDREN = {"ours": _OURS, "duckdb": _DUCKDB, "pandas": _PANDAS}


def run_child(contestant: str, source: Path, out: Path) -> dict[str, Any]:
    """Run one contestant in a fresh interpreter: its own seconds, wall time and peak RSS."""
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILDREN[contestant], str(source), str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # The pipes are small (one JSON line; stderr only on failure), so waiting before reading
    # cannot deadlock. wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the maximum
    # over every child so far). But Linux carries ru_maxrss across fork and exec, so it is at
    # least the harness's own resident size at the fork (measured: 169 MB for every contestant
    # once the harness had imported Dash); the child's VmHWM belongs to the memory map exec
    # gave it and is its own peak. Both are kept; the figures and targets use VmHWM.
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        last = (stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{contestant} on {source.name} failed ({code}): {last}")
    got = json.loads(stdout.strip().splitlines()[-1])
    if got.get("refused"):
        raise RuntimeError(f"{contestant} refused a file of {source}")
    return {
        "seconds": float(got["seconds"]),
        "wall_s": wall,
        "rows_read": int(got["rows_read"]),
        "peak_rss_mb": float(got["hwm_mb"]),
        "wait4_maxrss_mb": usage.ru_maxrss / 1024,  # Linux: kilobytes
    }


# --- the drops -----------------------------------------------------------------------------------


def estate_lines(max_rows: int) -> int:
    """Lines for an estate of MONTHS months that holds at least `max_rows` CDRs."""
    return max(36, math.ceil(max_rows / (MONTHS * CDRS_PER_LINE_MONTH)))


def _reference_files(estate: Path) -> list[Path]:
    return sorted(
        p for p in estate.iterdir() if p.is_file() and not p.name.startswith(("cdr_", "billing_"))
    )


def build_drop(estate: Path, rows: int, dest: Path) -> dict[str, Any]:
    """`dest` with the reference files (links) and one CDR file of exactly `rows` data rows."""
    # Beside the folder, not in it: the loader refuses any file that is not an export.
    stamp = dest.parent / f"{dest.name}.json"
    want = {"estate": str(estate.resolve()), "rows": rows}
    if stamp.is_file():
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded.get("want") == want:
            return recorded
    stamp.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for p in _reference_files(estate):
        (dest / p.name).symlink_to(p.resolve())
    sources = sorted(estate.glob("cdr_*.csv"))
    if not sources:
        raise RuntimeError(f"no cdr_*.csv in {estate}")
    # Named after the first month it starts in; the loader takes the period from event_time.
    out = dest / sources[0].name
    left = rows
    periods: list[str] = []
    with open(out, "w", encoding="utf-8", newline="") as w:
        for i, src in enumerate(sources):
            if left == 0:
                break
            with open(src, encoding="utf-8", newline="") as r:
                header = r.readline()
                if i == 0:
                    w.write(header)
                periods.append(src.stem.split("_", 1)[1])
                # CDR fields hold no line breaks (the generator quotes none), so a row is a line.
                for line in r:
                    w.write(line)
                    left -= 1
                    if left == 0:
                        break
    if left:
        raise RuntimeError(f"the estate {estate} holds only {rows - left:,} CDRs, not {rows:,}")
    billing = [p.name for p in sorted(estate.glob("billing_*.csv")) if p.stem[8:] in periods]
    info = {
        "want": want,
        "cdr_file": out.name,
        "cdr_rows": rows,
        "bytes": out.stat().st_size,
        "periods": periods,
        "billing_files": billing,
    }
    stamp.write_text(json.dumps(info, indent=1), encoding="utf-8")
    return info


def billing_drop(estate: Path, info: dict[str, Any], dest: Path) -> Path:
    """The invoice files of the months a drop covers (links), for a second, incremental load:
    the pandas peer's spend questions need invoices, the ETL comparison reads only CDRs."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in info["billing_files"]:
        (dest / name).symlink_to((estate / name).resolve())
    return dest


def ensure_drops(work: Path, sizes: list[int], log=print) -> tuple[Path, dict[str, Any], dict]:
    """(estate folder, generation summary, {rows: drop info with its folder}) under work/etl."""
    from bench.estate import ensure_estate, estate_params

    params = estate_params(estate_lines(max(sizes)), MONTHS)
    base = work / "etl"
    base.mkdir(parents=True, exist_ok=True)
    log(f"  etl: estate {params}")
    estate, gen, reused = ensure_estate(base, params)
    log(f"  etl: {gen['cdr_rows']:,} CDRs generated" + (" (reused)" if reused else ""))
    drops = {}
    for n in sizes:
        folder = base / f"drop_{n}"
        info = build_drop(estate, n, folder)
        drops[n] = info | {"folder": str(folder)}
    return estate, gen | {"reused": reused, "params": params}, drops


# --- the comparison ------------------------------------------------------------------------------


def run_etl(work: Path, sizes: list[int], log=print, keep_lake_of: int | None = None) -> dict:
    """Every contestant at every size; the lake of our load of `keep_lake_of` rows is kept (with
    the invoices of its months loaded on top) at work/etl/lake_<rows> for the pandas peer."""
    estate, gen, drops = ensure_drops(work, sizes, log)
    base = work / "etl"
    runs: list[dict[str, Any]] = []
    for n in sizes:
        info = drops[n]
        folder = Path(info["folder"])
        csv = folder / info["cdr_file"]
        for who in CONTESTANTS:
            if who == "ours":
                source, out = folder, base / f"lake_{n}"
            else:
                source, out = csv, base / f"out_{who}_{n}.parquet"
            got = run_child(who, source, out)
            got |= {
                "contestant": who,
                "cdr_rows": n,
                "rows_per_s": n / got["seconds"] if got["seconds"] else 0.0,
                "wall_rows_per_s": n / got["wall_s"] if got["wall_s"] else 0.0,
            }
            log(
                f"  etl {n:>11,} {who:<7} {got['seconds']:7.1f} s "
                f"{got['rows_per_s']:>12,.0f} rows/s  peak {got['peak_rss_mb']:,.0f} MB"
            )
            runs.append(got)
            if who != "ours":
                out.unlink(missing_ok=True)  # the copies are only timed, never read again
        if n != keep_lake_of:
            shutil.rmtree(base / f"lake_{n}", ignore_errors=True)
    result: dict[str, Any] = {
        "generation": gen,
        "drops": {str(n): {k: v for k, v in d.items() if k != "want"} for n, d in drops.items()},
        "runs": runs,
        "summary": summarise(runs),
    }
    if keep_lake_of is not None:
        from selfcare.etl.load import load

        lake = base / f"lake_{keep_lake_of}"
        invoices = billing_drop(estate, drops[keep_lake_of], base / f"billing_{keep_lake_of}")
        report = load(invoices, lake, progress=False)
        if report.refused:
            raise RuntimeError(f"the invoices of {invoices} were refused")
        result["peer_lake"] = str(lake)
        result["peer_drop"] = drops[keep_lake_of]["folder"]
        result["peer_billing"] = str(invoices)
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios per size, memory growth from the smallest to the largest size, and the targets."""
    by = {(r["contestant"], r["cdr_rows"]): r for r in runs}
    sizes = sorted({r["cdr_rows"] for r in runs})
    per_size = {}
    for n in sizes:
        ours, duck, pand = (by.get((c, n)) for c in CONTESTANTS)
        if not (ours and duck and pand):
            continue
        per_size[str(n)] = {
            "vs_duckdb": ours["rows_per_s"] / duck["rows_per_s"],
            "vs_pandas": ours["rows_per_s"] / pand["rows_per_s"],
            "peak_mb": {c: by[(c, n)]["peak_rss_mb"] for c in CONTESTANTS},
        }
    growth = {}
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        growth = {
            c: by[(c, hi)]["peak_rss_mb"] / by[(c, lo)]["peak_rss_mb"]
            for c in CONTESTANTS
            if (c, lo) in by and (c, hi) in by
        }
    return {"per_size": per_size, "memory_growth": growth, "sizes": sizes}


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's ETL targets at the largest size, each with its measured value and verdict."""
    if not summary["per_size"]:
        return []
    n = str(max(int(k) for k in summary["per_size"]))
    s = summary["per_size"][n]
    peak = s["peak_mb"]["ours"]
    out = [
        _target(f"ETL at {int(n):,} rows: ≥ {TARGET_VS_DUCKDB}× bare DuckDB COPY",
                s["vs_duckdb"], TARGET_VS_DUCKDB, "×", higher=True),
        _target(f"ETL at {int(n):,} rows: ≥ {TARGET_VS_PANDAS:g}× pandas",
                s["vs_pandas"], TARGET_VS_PANDAS, "×", higher=True),
        _target(f"ETL peak memory at {int(n):,} rows < 1.5 GB", peak, TARGET_PEAK_MB, " MB",
                higher=False),
    ]  # fmt: skip
    growth = summary["memory_growth"].get("ours")
    if growth is not None:
        lo, hi = summary["sizes"][0], summary["sizes"][-1]
        # "flat": allow 10 % for allocator noise; the figure is printed either way
        out.append(
            _target(f"ETL peak memory flat from {lo:,} to {hi:,} rows (≤ 1.1×)", growth, 1.1, "×",
                    higher=False)
        )  # fmt: skip
    return out


def _target(name: str, value: float, limit: float, unit: str, *, higher: bool) -> dict[str, Any]:
    met = value >= limit if higher else value <= limit
    if met:
        by = ""
    elif higher:
        by = f"{(limit - value) / limit * 100:.0f} % short"
    else:
        by = f"{(value - limit) / limit * 100:.0f} % over"
    return {"target": name, "value": value, "limit": limit, "unit": unit, "met": met, "by": by}


def vm_hwm_mb() -> float:
    """This process's peak resident memory since its exec (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
