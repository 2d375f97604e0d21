"""The lake's layout and its published state (manifest.json).

Only the files named in the manifest are part of the lake. The ETL writes new files first and then
replaces the manifest in one `os.replace`, so a reader sees the old state or the new one, never a
half-finished load; a load killed at any point leaves the old manifest serving.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FILES_DIR = "files"

# Hive partition keys are always text: `tenant_id=007` must not become the integer 7.
HIVE_TYPES = "{'tenant_id': VARCHAR, 'bill_period': VARCHAR, 'as_of': VARCHAR}"


def manifest_path(lake: str | os.PathLike[str]) -> Path:
    return Path(lake) / MANIFEST


def read_manifest(lake: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The published manifest, or None when nothing has been loaded yet."""
    path = manifest_path(lake)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def current_version(lake: str | os.PathLike[str]) -> int:
    """The published version (0 before the first load). Cheap: readers call it per request."""
    m = read_manifest(lake)
    return int(m["version"]) if m else 0


def write_manifest(lake: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Publish atomically: write a temp file beside the manifest, fsync, then os.replace."""
    path = manifest_path(lake)
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reader_views(lake: str | os.PathLike[str], manifest: dict[str, Any] | None = None) -> list[str]:
    """CREATE VIEW statements for every table of the published manifest.

    A table without files becomes an empty view with its declared columns, so queries never fail
    on a lake that simply has no rows of a kind yet. The paths come from our own manifest, never
    from a request.
    """
    root = Path(lake).resolve()
    if manifest is None:
        manifest = read_manifest(root)
    if manifest is None:
        return []
    out = []
    for name, table in sorted(manifest["tables"].items()):
        cols = table["columns"]
        files = table.get("files") or []
        if files:
            paths = ", ".join(_quote(str(root / f)) for f in files)
            select_cols = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in cols)
            src = (
                f"read_parquet([{paths}], hive_partitioning = true, "
                f"hive_types = {HIVE_TYPES}, union_by_name = true)"
            )
            out.append(f'create or replace view "{name}" as select {select_cols} from {src}')
        else:
            select_cols = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in cols)
            out.append(f'create or replace view "{name}" as select {select_cols} where false')
    return out
