"""The 100-million-CDR lake for the query benchmark, built once and reused.

Built with the real generator (`selfcare.sample.generate.generate`) and the real loader
(`selfcare.etl.load.load`),
one month per load (the reference snapshots ride with the first month), exactly as a daily
production drop would arrive: the physical layout (partitions, file sizes, summaries) is what
production writes, and memory stays that of a one-month load. Each month's CSVs are deleted once
loaded, so the disk holds the Parquet lake plus at most the generated CSVs not yet loaded.

A stamp file (written last) records the parameters, fingerprints of the summaries' SQL and of the
generator, and the build's own figures; the same parameters, summaries and generator reuse the
lake. The default of 63,000 lines gives
about 100 M CDRs over 12 months: the generator draws about 132 events per line-month (1,580 a
line-year at seed 42), so 25,000 lines would give only about 40 M.

    .venv/bin/python -m bench.biglake --work data/bench/big          # build (or reuse)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from selfcare import queries
from selfcare.etl import lake as lake_files
from selfcare.etl.load import load
from selfcare.sample import generate as gen_module
from selfcare.sample.generate import default_start, generate

STAMP = "biglake.json"
LINES = 63_000  # about 100 M CDRs over 12 months (see the module docstring)
FACT_PREFIXES = ("cdr_", "billing_")


def generator_fingerprint() -> str:
    """A hash of the generator's source: a changed generator draws another estate."""
    return hashlib.sha256(Path(gen_module.__file__).read_bytes()).hexdigest()[:16]


def summaries_fingerprint() -> dict[str, str]:
    """The summaries the loader writes and a hash of each one's SQL: a change means a rebuild."""
    return {
        name: hashlib.sha256(queries.load(f"lake.{name}").encode()).hexdigest()[:16]
        for name in lake_files.AGGREGATES
    }


def _month_of(name: str) -> str | None:
    """'2025-11' for cdr_2025-11.csv / billing_2025-11.csv; None for reference snapshots."""
    if not name.startswith(FACT_PREFIXES):
        return None
    return name.split("_", 1)[1].split(".", 1)[0]


def ensure_big_lake(
    work: Path,
    *,
    lines: int = LINES,
    months: int = 12,
    tenants: int = 3,
    seed: int = 42,
    start: str | None = None,
    progress: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """The lake folder under `work` for these parameters, and its info (built if needed).

    info: cdr_rows, billing_rows (invoice lines), lines, tenants, months, start, seconds (the
    build's), generate_seconds, load_seconds, reused.
    """
    work = Path(work)
    lake = work / "lake"
    stamp = work / STAMP
    params = {
        "lines": lines,
        "months": months,
        "tenants": tenants,
        "seed": seed,
        # The start is pinned in the stamp: the generator's default moves with the calendar.
        "start": start or default_start(months),
        "summaries": summaries_fingerprint(),
        "generator": generator_fingerprint(),
    }
    if stamp.is_file() and lake_files.read_manifest(lake) is not None:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        wanted = dict(params)
        if start is None:  # reuse a lake built in an earlier month with the default start
            wanted["start"] = recorded.get("params", {}).get("start")
        if recorded.get("params") == wanted:
            return lake, recorded["info"] | {"reused": True}

    def say(text: str) -> None:
        if progress:
            print(f"[biglake {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    # Different parameters or an interrupted build: start from nothing.
    stamp.unlink(missing_ok=True)
    gen = work / "generated"
    drop = work / "drop"
    for folder in (lake, gen, drop):
        shutil.rmtree(folder, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    say(f"generating {tenants} tenants x {lines:,} lines x {months} months from {params['start']}")
    summary = generate(
        out=gen,
        tenants=tenants,
        lines=lines,
        months=months,
        start=params["start"],
        seed=seed,
        progress=progress,
    )
    t_gen = time.perf_counter() - t0
    say(f"generated {summary['cdr_rows']:,} CDRs in {t_gen:.0f} s")

    by_month: dict[str | None, list[Path]] = {}
    for path in sorted(gen.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            by_month.setdefault(_month_of(path.name), []).append(path)
    refs = by_month.pop(None, [])
    loads = []
    for k, month in enumerate(sorted(by_month)):
        drop.mkdir()
        for path in (refs if k == 0 else []) + by_month[month]:
            path.rename(drop / path.name)
        t1 = time.perf_counter()
        report = load(drop, lake, progress=False)
        seconds = time.perf_counter() - t1
        t = report.totals
        if report.refused or t["rejected"] or not report.published:
            raise RuntimeError(f"the big lake's load of {month} failed:\n{report.render()}")
        loads.append({"month": month, "rows": t["loaded"], "seconds": round(seconds, 1)})
        say(f"loaded {month}: {t['loaded']:,} rows in {seconds:.0f} s")
        shutil.rmtree(drop)  # the month's CSVs: loaded, no longer needed
    shutil.rmtree(gen, ignore_errors=True)
    seconds = time.perf_counter() - t0
    info = {
        "cdr_rows": summary["cdr_rows"],
        "billing_rows": summary["billing_rows"],
        "lines": lines,
        "tenants": tenants,
        "months": months,
        "start": params["start"],
        "seconds": round(seconds, 1),
        "generate_seconds": round(t_gen, 1),
        "load_seconds": round(sum(x["seconds"] for x in loads), 1),
        "loads": loads,
    }
    # The stamp is written last, so its presence means the lake is complete.
    stamp.write_text(json.dumps({"params": params, "info": info}, indent=1), encoding="utf-8")
    say(f"done in {seconds:.0f} s")
    return lake, info | {"reused": False}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("data/bench/big"))
    ap.add_argument("--lines", type=int, default=LINES)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--start", default=None)
    args = ap.parse_args(argv)
    lake, info = ensure_big_lake(
        args.work,
        lines=args.lines,
        months=args.months,
        tenants=args.tenants,
        seed=args.seed,
        start=args.start,
    )
    print(json.dumps({"lake": str(lake), **{k: v for k, v in info.items() if k != "loads"}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
