"""The lake's layout and its published state (manifest.json).

Only the files named in the manifest are part of the lake. The ETL writes new files first and then
replaces the manifest in one `os.replace`, so a reader sees the old state or the new one, never a
half-finished load; a load killed at any point leaves the old manifest serving.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
FILES_DIR = "files"

# Hive partition keys are always text: `tenant_id=007` must not become the integer 7.
HIVE_KEYS = ("tenant_id", "bill_period", "as_of")


def _hive_types(files: list[str]) -> str:
    """hive_types for the partition keys these paths use (DuckDB refuses a key not in the path)."""
    keys = [k for k in HIVE_KEYS if all(f"/{k}=" in "/" + f for f in files)]
    return "{" + ", ".join(f"'{k}': VARCHAR" for k in keys) + "}"


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
            hive = _hive_types(files)
            hive_opts = (
                f"hive_partitioning = true, hive_types = {hive}"
                if hive != "{}"
                else "hive_partitioning = false"
            )
            src = f"read_parquet([{paths}], {hive_opts}, union_by_name = true)"
            out.append(f'create or replace view "{name}" as select {select_cols} from {src}')
        else:
            select_cols = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in cols)
            out.append(f'create or replace view "{name}" as select {select_cols} where false')
    return out


def manifest_paths(lake: str | os.PathLike[str], manifest: dict[str, Any] | None) -> set[str]:
    """The absolute paths of the published files, spelled as `reader_views` names them."""
    root = Path(lake).resolve()
    return {str(root / f) for f in manifest_files(manifest)}


BILL_PERIOD_KEY = re.compile(r"(?:^|/)bill_period=([0-9]{4}-(?:0[1-9]|1[0-2]))(?:/|$)")


def bill_periods(manifest: dict[str, Any] | None) -> list[str]:
    """The bill periods the published lake holds (from its partition paths), oldest first."""
    found = {m.group(1) for f in manifest_files(manifest) for m in [BILL_PERIOD_KEY.search(f)] if m}
    return sorted(found)


# --- the writer side (used only by selfcare.etl.load: the ETL is the lake's only writer) ---

LOCK = ".lock"
WORK_DIR = "work"
AMOUNT = "DECIMAL(18,4)"

# Every table of docs/architecture.md with its columns, in order. The manifest always lists all of
# them, so a reader gets a (possibly empty) typed view for each and never a missing table.
_REF_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "tenant": [
        ("tenant_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("industry", "VARCHAR"),
        ("timezone", "VARCHAR"),
    ],
    "account": [
        ("account_id", "VARCHAR"),
        ("tenant_id", "VARCHAR"),
        ("parent_account_id", "VARCHAR"),
        ("name", "VARCHAR"),
    ],
    "cost_centre": [
        ("cost_centre_id", "VARCHAR"),
        ("tenant_id", "VARCHAR"),
        ("name", "VARCHAR"),
        ("parent_cost_centre_id", "VARCHAR"),
    ],
    "employee": [
        ("employee_id", "VARCHAR"),
        ("tenant_id", "VARCHAR"),
        ("full_name", "VARCHAR"),
        ("email", "VARCHAR"),
        ("manager_employee_id", "VARCHAR"),
        ("cost_centre_id", "VARCHAR"),
        ("territory", "VARCHAR"),
    ],
    "plan": [
        ("plan_code", "VARCHAR"),
        ("plan_name", "VARCHAR"),
        ("product_type", "VARCHAR"),
        ("payment", "VARCHAR"),
        ("monthly_fee", AMOUNT),
        ("incl_voice_min", "INTEGER"),
        ("incl_sms", "INTEGER"),
        ("incl_data_mb", "INTEGER"),
        ("rate_voice_national", AMOUNT),
        ("rate_voice_international", AMOUNT),
        ("rate_sms", AMOUNT),
        ("rate_mms", AMOUNT),
        ("rate_data_mb", AMOUNT),
        ("rate_roaming_voice", AMOUNT),
        ("rate_roaming_data_mb", AMOUNT),
    ],
    "service": [
        ("service_code", "VARCHAR"),
        ("name", "VARCHAR"),
        ("category", "VARCHAR"),
        ("payment", "VARCHAR"),
        ("monthly_fee", AMOUNT),
        ("once_off_fee", AMOUNT),
    ],
    "line": [
        ("msisdn", "VARCHAR"),
        ("tenant_id", "VARCHAR"),
        ("account_id", "VARCHAR"),
        ("employee_id", "VARCHAR"),
        ("plan_code", "VARCHAR"),
        ("status", "VARCHAR"),
        ("activated_on", "DATE"),
        ("cancelled_on", "DATE"),
        ("cug_id", "VARCHAR"),
        ("apns", "VARCHAR[]"),
    ],
    "line_service": [
        ("msisdn", "VARCHAR"),
        ("tenant_id", "VARCHAR"),
        ("service_code", "VARCHAR"),
        ("activated_on", "DATE"),
    ],
}

# File kind (selfcare.contract) -> the table suffix of its snap_/dim_ tables.
REF_TABLE_OF_KIND = {
    "tenants": "tenant",
    "accounts": "account",
    "cost_centres": "cost_centre",
    "employees": "employee",
    "plans": "plan",
    "services": "service",
    "lines": "line",
    "line_services": "line_service",
}

TABLES: dict[str, list[tuple[str, str]]] = {}
for _suffix, _cols in _REF_COLUMNS.items():
    TABLES[f"dim_{_suffix}"] = [*_cols, ("as_of", "DATE")]
    TABLES[f"snap_{_suffix}"] = [*_cols, ("as_of", "DATE")]
TABLES.update(
    {
        "fct_cdr": [
            ("record_id", "VARCHAR"),
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("account_id", "VARCHAR"),
            ("msisdn", "VARCHAR"),
            ("event_time", "TIMESTAMPTZ"),
            ("service", "VARCHAR"),
            ("direction", "VARCHAR"),
            ("other_party", "VARCHAR"),
            ("destination_class", "VARCHAR"),
            ("roaming_country", "VARCHAR"),
            ("duration_s", "BIGINT"),
            ("volume_kb", "BIGINT"),
            ("apn", "VARCHAR"),
            ("charge", AMOUNT),
            ("bundle_id", "VARCHAR"),
            ("load_id", "VARCHAR"),
        ],
        "fct_billing": [
            ("invoice_id", "VARCHAR"),
            ("line_no", "INTEGER"),
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("account_id", "VARCHAR"),
            ("msisdn", "VARCHAR"),
            ("charge_type", "VARCHAR"),
            ("description", "VARCHAR"),
            ("amount", AMOUNT),
            ("vat", AMOUNT),
            ("load_id", "VARCHAR"),
        ],
        "agg_cdr_line_month": [
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("msisdn", "VARCHAR"),
            ("service", "VARCHAR"),
            ("direction", "VARCHAR"),
            ("roaming_country", "VARCHAR"),
            ("events", "BIGINT"),
            ("in_bundle_events", "BIGINT"),
            ("duration_s", "BIGINT"),
            ("volume_kb", "BIGINT"),
            ("charge", AMOUNT),
        ],
        "agg_tariff_usage_line_month": [
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("msisdn", "VARCHAR"),
            ("nat_voice_s", "BIGINT"),
            ("intl_voice_s", "BIGINT"),
            ("sms_home", "BIGINT"),
            ("mms_home", "BIGINT"),
            ("data_kb_home", "BIGINT"),
            ("roam_voice_s", "BIGINT"),
            ("roam_data_kb", "BIGINT"),
            ("roam_sms", "BIGINT"),
            ("roam_mms", "BIGINT"),
            ("premium_charge", AMOUNT),
            ("usage_charge", AMOUNT),
        ],
        "agg_cdr_number_month": [
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("service", "VARCHAR"),
            ("other_party", "VARCHAR"),
            ("destination_class", "VARCHAR"),
            ("calls", "BIGINT"),
            ("duration_s", "BIGINT"),
            ("cost", AMOUNT),
        ],
        "agg_cdr_line_number_month": [
            ("tenant_id", "VARCHAR"),
            ("bill_period", "VARCHAR"),
            ("msisdn", "VARCHAR"),
            ("service", "VARCHAR"),
            ("other_party", "VARCHAR"),
            ("destination_class", "VARCHAR"),
            ("calls", "BIGINT"),
            ("duration_s", "BIGINT"),
            ("cost", AMOUNT),
        ],
        "etl_files": [
            ("file_name", "VARCHAR"),
            ("sha256", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("as_of", "DATE"),
            ("rows_read", "BIGINT"),
            ("rows_loaded", "BIGINT"),
            ("rows_rejected", "BIGINT"),
            ("rows_duplicate", "BIGINT"),
            ("rows_conflict", "BIGINT"),
            ("status", "VARCHAR"),
            ("message", "VARCHAR"),
            ("load_id", "VARCHAR"),
            ("loaded_at", "TIMESTAMPTZ"),
        ],
        "etl_rejects": [
            ("load_id", "VARCHAR"),
            ("file_name", "VARCHAR"),
            ("kind", "VARCHAR"),
            ("line_no", "BIGINT"),
            ("reason", "VARCHAR"),
            ("raw", "VARCHAR"),
        ],
    }
)

# The summaries the load rebuilds per touched (tenant, bill period), in this order, each from
# queries/lake/<name>.sql over the view `fct_cdr_affected` (the CDRs of those partitions) and the
# reference views; a later one may also read `<earlier>_affected`, the partitions an earlier one
# just wrote. Each is partitioned by (tenant_id, bill_period).
AGGREGATES: tuple[str, ...] = (
    "agg_cdr_line_month",
    "agg_tariff_usage_line_month",
    "agg_cdr_number_month",
    "agg_cdr_line_number_month",
)


def empty_manifest() -> dict[str, Any]:
    """The state before the first load: every table, no files."""
    return {"version": 0, "published_at": None, "tables": {}}


def complete_tables(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with every table of TABLES present and its declared columns."""
    tables = manifest.setdefault("tables", {})
    for name, cols in TABLES.items():
        entry = tables.setdefault(name, {"columns": [], "files": []})
        entry["columns"] = [list(c) for c in cols]
        entry.setdefault("files", [])
    return manifest


@contextmanager
def exclusive_lock(lake: str | os.PathLike[str]) -> Iterator[None]:
    """Hold `lake/.lock` exclusively for the duration: two loads never write the lake at once.

    The kernel drops an flock when its process dies (even by SIGKILL), so a killed load never
    leaves a stale lock behind.
    """
    root = Path(lake)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeBusy(f"another load is running on {root} (lock {root / LOCK})") from None
        yield
    finally:
        os.close(fd)


class LakeBusy(RuntimeError):
    """The lake's lock is held by another load."""


def manifest_files(manifest: dict[str, Any] | None) -> set[str]:
    """Every file (relative path) the manifest names."""
    if not manifest:
        return set()
    return {f for t in manifest.get("tables", {}).values() for f in t.get("files") or []}


def remove_debris(lake: str | os.PathLike[str], manifest: dict[str, Any] | None) -> int:
    """Delete files under files/ that the manifest does not name, and the work folder.

    They are the remains of an interrupted load or files replaced by an earlier publish. Only the
    writer calls this, under the lock. Returns the number of files removed.
    """
    root = Path(lake)
    keep = manifest_files(manifest)
    removed = 0
    files_root = root / FILES_DIR
    if files_root.is_dir():
        for dirpath, dirnames, filenames in os.walk(files_root, topdown=False):
            for name in filenames:
                full = Path(dirpath) / name
                if full.relative_to(root).as_posix() not in keep:
                    full.unlink()
                    removed += 1
            for name in dirnames:
                d = Path(dirpath) / name
                try:
                    d.rmdir()  # only succeeds when empty
                except OSError:
                    pass
    shutil.rmtree(root / WORK_DIR, ignore_errors=True)
    for tmp in root.glob(f".{MANIFEST}.*.tmp"):
        tmp.unlink(missing_ok=True)
    return removed


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a written file (or folder entry) to disk before the manifest names it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
