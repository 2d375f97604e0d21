"""The benchmark's estate: generated once per set of parameters and reused by later runs.

A stamp file beside the drop folder records the parameters and the generation's own figures, so a
second `make bench` with the same parameters skips the minutes of generation and still reports
how fast it was when it ran.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from selfcare.sample.generate import default_start, generate

STAMP = "estate.json"
TENANTS = 3
SEED = 42


def estate_params(lines: int, months: int, start: str | None = None) -> dict[str, Any]:
    # The start is pinned in the stamp: the generator's default moves with the calendar.
    return {
        "tenants": TENANTS,
        "lines": lines,
        "months": months,
        "start": start or default_start(months),
        "seed": SEED,
    }


def ensure_estate(work: Path, params: dict[str, Any]) -> tuple[Path, dict[str, Any], bool]:
    """The drop folder for `params` under `work`: (folder, generation summary, reused?)."""
    drop = work / "drop"
    stamp = work / STAMP
    if stamp.is_file() and drop.is_dir():
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded.get("params") == params:
            return drop, recorded["summary"], True
    # Different parameters, or an interrupted generation: start from an empty folder.
    stamp.unlink(missing_ok=True)
    shutil.rmtree(drop, ignore_errors=True)
    summary = generate(out=drop, progress=False, **params)
    summary = {k: v for k, v in summary.items() if k != "files"} | {"files": len(summary["files"])}
    work.mkdir(parents=True, exist_ok=True)
    # The stamp is written last, so its presence means the folder is complete.
    stamp.write_text(json.dumps({"params": params, "summary": summary}, indent=1), encoding="utf-8")
    return drop, summary, False
