"""The pandas-in-memory peer: what a typical Dash app does, at 10 M rows where it still fits.

A child process loads the raw export files of the 10 M ETL drop (its CDR file, the invoices of
the months it covers, the reference files) into pandas once, derives each CDR's tenant and bill
period (the tenant's local month, as the loader does), then answers the main questions by
filtering and aggregating in memory: usage per month and service, Top 50 numbers, spend by cost
centre, the overview's KPIs. Each question is timed on its own (the load apart); the child's
peak memory comes from `os.wait4`. The parent compares every answer with the portal's
(`gate.run` on the lake our loader built from the same files): the same rows and figures.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

# query → the columns compared (keys first); the portal's other columns are not asked of pandas
KEYS = {
    "reports.usage_monthly": ["bill_period", "service"],
    "reports.top_numbers": ["rank"],
    "reports.spend_by_cost_centre": ["bill_period", "cost_centre_id"],
    "reports.overview_kpis": [],
}
VALUES = {
    "reports.usage_monthly": ["events", "minutes", "sms", "mms", "data_mb", "in_bundle_events",
                              "out_of_bundle_charge", "roaming_charge"],
    "reports.top_numbers": ["other_party", "calls", "minutes", "cost", "lines"],
    "reports.spend_by_cost_centre": ["lines", "amount_excl_vat", "vat"],
    "reports.overview_kpis": ["amount_excl_vat", "vat", "previous_amount_excl_vat",
                              "previous_vat", "active_lines", "voice_minutes", "sms", "data_gb"],
}  # fmt: skip


# --- in the child --------------------------------------------------------------------------------


def _read(folder: Path, prefix: str) -> pd.DataFrame:
    files = sorted(folder.glob(f"{prefix}_*.csv"))
    return pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True
    )


def load_frames(drop: Path, billing: Path) -> dict[str, pd.DataFrame]:
    """Every frame the questions need, typed once (amounts as float64, as a typical app has)."""
    tenants = _read(drop, "tenants")
    accounts = _read(drop, "accounts")
    tenant_of = dict(zip(accounts.account_id, accounts.tenant_id, strict=True))
    zone_of = dict(zip(tenants.tenant_id, tenants.timezone, strict=True))
    cdr = pd.read_csv(
        next(drop.glob("cdr_*.csv")),
        usecols=["account_id", "msisdn", "event_time", "service", "direction", "other_party",
                 "destination_class", "roaming_country", "duration_s", "volume_kb", "charge"],
        # msisdns and numbers are text: as integers they would never match the line register
        dtype={"duration_s": "int64", "volume_kb": "int64", "charge": "float64",
               "account_id": "str", "msisdn": "str", "other_party": "str", "service": "str",
               "direction": "str", "destination_class": "str", "roaming_country": "str"},
        keep_default_na=False,
    )  # fmt: skip
    cdr["tenant_id"] = cdr.account_id.map(tenant_of)
    utc = pd.to_datetime(cdr.event_time, utc=True, format="ISO8601")
    period = pd.Series("", index=cdr.index, dtype=object)
    for tenant, zone in zone_of.items():  # the bill period is the tenant's local month
        mask = cdr.tenant_id == tenant
        period[mask] = utc[mask].dt.tz_convert(zone).dt.strftime("%Y-%m")
    cdr["bill_period"] = period.astype(str)
    cdr = cdr.drop(columns=["event_time", "account_id"])
    bills = _read(billing, "billing")
    bills["tenant_id"] = bills.account_id.map(tenant_of)
    bills["amount"] = bills.amount.astype("float64")
    bills["vat"] = bills.vat.astype("float64")
    lines = _read(drop, "lines")
    employees = _read(drop, "employees")
    centres = _read(drop, "cost_centres")
    # v_line_attribution: line → employee → cost centre; no employee: UNASSIGNED
    att = lines.merge(employees[["employee_id", "tenant_id", "cost_centre_id"]],
                      on=["employee_id", "tenant_id"], how="left")  # fmt: skip
    att = att.merge(centres[["cost_centre_id", "tenant_id", "name"]],
                    on=["cost_centre_id", "tenant_id"], how="left")  # fmt: skip
    assigned = att.employee_id.isin(employees.employee_id) & (att.employee_id != "")
    att["cost_centre_id"] = att.cost_centre_id.where(assigned, "UNASSIGNED")
    att["cost_centre_name"] = att.name.where(assigned, "Unassigned lines")
    return {"cdr": cdr, "billing": bills, "lines": lines, "attribution": att}


def _scoped(df: pd.DataFrame, scope: dict[str, Any]) -> pd.DataFrame:
    mask = df.tenant_id == scope["tenant_id"]
    if not scope["all_lines"]:
        mask &= df.msisdn.isin(scope["msisdns"])
    return df[mask]


def usage_monthly(f, scope, pf, pt) -> pd.DataFrame:
    c = _scoped(f["cdr"], scope)
    c = c[(c.bill_period >= pf) & (c.bill_period <= pt)]
    c = c.assign(
        voice_s=c.duration_s.where(c.service == "VOICE", 0),
        sms=(c.service == "SMS").astype("int64"),
        mms=(c.service == "MMS").astype("int64"),
        data_kb=c.volume_kb.where(c.service == "DATA", 0),
        in_bundle=(c.charge == 0).astype("int64"),
        roaming=c.charge.where(c.roaming_country != "", 0.0),
    )
    g = c.groupby(["bill_period", "service"], as_index=False).agg(
        events=("charge", "size"), voice_s=("voice_s", "sum"), sms=("sms", "sum"),
        mms=("mms", "sum"), data_kb=("data_kb", "sum"), in_bundle_events=("in_bundle", "sum"),
        out_of_bundle_charge=("charge", "sum"), roaming_charge=("roaming", "sum"),
    )  # fmt: skip
    g["minutes"] = g.voice_s / 60
    g["data_mb"] = g.data_kb / 1024
    return g


def top_numbers(f, scope, pf, pt) -> pd.DataFrame:
    c = _scoped(f["cdr"], scope)
    c = c[(c.bill_period >= pf) & (c.bill_period <= pt) & (c.direction == "MO")
          & (c.service == "VOICE") & (c.other_party != "")]  # fmt: skip
    g = c.groupby("other_party", as_index=False).agg(
        calls=("charge", "size"), duration_s=("duration_s", "sum"), cost=("charge", "sum"),
        lines=("msisdn", "nunique"),
    )  # fmt: skip
    g = g.sort_values(["calls", "other_party"], ascending=[False, True]).head(50)
    g["rank"] = range(1, len(g) + 1)
    g["minutes"] = (g.duration_s / 60).round(4)
    return g


def spend_by_cost_centre(f, scope, pf, pt) -> pd.DataFrame:
    b = _scoped(f["billing"], scope)
    b = b[(b.bill_period >= pf) & (b.bill_period <= pt)]
    att = f["attribution"][["msisdn", "tenant_id", "cost_centre_id"]]
    b = b.merge(att, on=["msisdn", "tenant_id"], how="left")
    # v_billing_attributed: no msisdn → account level; not in the register → unknown
    b["cost_centre_id"] = b.cost_centre_id.where(b.cost_centre_id.notna(), "UNKNOWN")
    b.loc[b.msisdn == "", "cost_centre_id"] = "ACCOUNT_LEVEL"
    b["line"] = b.msisdn.where(b.msisdn != "")
    return b.groupby(["bill_period", "cost_centre_id"], as_index=False).agg(
        lines=("line", "nunique"), amount_excl_vat=("amount", "sum"), vat=("vat", "sum")
    )


def overview_kpis(f, scope, pf, pt) -> pd.DataFrame:
    from bench.questions import months_back

    n = (int(pt[:4]) - int(pf[:4])) * 12 + int(pt[5:]) - int(pf[5:]) + 1
    prev_from, prev_to = months_back(pf, n), months_back(pf, 1)
    b = _scoped(f["billing"], scope)
    now = b[(b.bill_period >= pf) & (b.bill_period <= pt)]
    before = b[(b.bill_period >= prev_from) & (b.bill_period <= prev_to)]
    c = _scoped(f["cdr"], scope)
    c = c[(c.bill_period >= pf) & (c.bill_period <= pt)]
    lines = _scoped(f["lines"], scope)
    return pd.DataFrame([{
        "amount_excl_vat": now.amount.sum(), "vat": now.vat.sum(),
        "previous_amount_excl_vat": before.amount.sum(), "previous_vat": before.vat.sum(),
        "active_lines": lines[lines.status == "ACTIVE"].msisdn.nunique(),
        "voice_minutes": c.duration_s[c.service == "VOICE"].sum() / 60.0,
        "sms": int((c.service == "SMS").sum()),
        "data_gb": c.volume_kb[c.service == "DATA"].sum() / 1048576.0,
    }])  # fmt: skip


PEER = {
    "reports.usage_monthly": usage_monthly,
    "reports.top_numbers": top_numbers,
    "reports.spend_by_cost_centre": spend_by_cost_centre,
    "reports.overview_kpis": overview_kpis,
}


def child(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    frames = load_frames(Path(spec["drop"]), Path(spec["billing"]))
    load_s = time.perf_counter() - t0
    out = []
    for item in spec["questions"]:
        fn = PEER[item["query"]]
        scope = item["scope"]
        seconds = []
        answer = None
        for _ in range(item["repeat"]):
            t = time.perf_counter()
            answer = fn(frames, scope, item["period_from"], item["period_to"])
            seconds.append(time.perf_counter() - t)
        cols = KEYS[item["query"]] + VALUES[item["query"]]
        rows = answer[cols].to_dict("records") if answer is not None else []
        out.append({"seconds": seconds, "rows": json.loads(json.dumps(rows, default=float))})
    return {"load_s": load_s, "answers": out}


# --- in the parent -------------------------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b))
        )
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    # pandas sums float64 amounts; the portal sums DECIMAL(18,4) exactly
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6)


def same_answer(query: str, portal: pd.DataFrame, peer: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether pandas' rows equal the portal's on the compared columns (keys matched exactly)."""
    keys, values = KEYS[query], VALUES[query]
    if len(portal) != len(peer):
        return False, f"{len(portal)} portal rows vs {len(peer)} pandas rows"

    def key(r: dict[str, Any]) -> tuple:
        return tuple(str(r[k]) for k in keys)

    mine = {key(r): r for r in portal.to_dict("records")}
    for r in peer:
        p = mine.get(key(r))
        if p is None:
            return False, f"pandas row {key(r)} missing from the portal's answer"
        for v in values:
            a = p[v]
            a = None if a is pd.NA or a is None else a
            if not _close(a if isinstance(a, str) or a is None else float(a), r[v]):
                return False, f"{key(r)} {v}: portal {p[v]} vs pandas {r[v]}"
    return True, ""


def run_peer(lake: Path, drop: Path, billing: Path, work: Path, *, repeat: int,
             log=print) -> dict[str, Any]:  # fmt: skip
    """The peer for the finance viewer, the manager and the end user over the lake's last month
    and its whole window, with the portal's warm timings on the same lake beside it."""
    import duckdb

    from bench import compare, questions
    from selfcare import gate
    from selfcare.etl import lake as lake_files

    compare.point_gate_at(lake)
    con = duckdb.connect()
    try:
        for statement in lake_files.reader_views(lake):
            con.execute(statement)
        first, last = con.execute(
            "select min(bill_period), max(bill_period) from fct_cdr"
        ).fetchone()
        viewers = questions.pick_viewers(lake, con, last)
    finally:
        con.close()
    periods = {"1 month": (last, last), "whole lake": (first, last)}
    asked = []
    for query in PEER:
        for viewer in ("finance", "manager", "end_user"):
            if query == "reports.spend_by_cost_centre" and viewer == "end_user":
                continue  # the page's roles: no end user
            for label, (pf, pt) in periods.items():
                asked.append((query, viewer, label, pf, pt))
    params = {
        "reports.usage_monthly": {"service": None},
        "reports.top_numbers": {"service": "VOICE", "by": "calls", "destination_class": None,
                                "cost_centre": None},
    }  # fmt: skip
    spec = {
        "drop": str(drop),
        "billing": str(billing),
        "questions": [
            {"query": q, "period_from": pf, "period_to": pt, "repeat": repeat,
             "scope": {"tenant_id": viewers.scopes[v].tenant_id,
                       "all_lines": viewers.scopes[v].all_lines,
                       "msisdns": list(viewers.scopes[v].msisdns)}}
            for q, v, _, pf, pt in asked
        ],
    }  # fmt: skip
    spec_file = work / "pandas_spec.json"
    spec_file.write_text(json.dumps(spec))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.pandas_peer", str(spec_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = proc.communicate()
    # The child reports its own peak (VmHWM: see bench.etl_bench.run_child) with its answers.
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last_err = (stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"the pandas peer failed: {last_err}")
    got = json.loads(stdout.decode().strip().splitlines()[-1])
    rows = []
    for (query, viewer, label, pf, pt), ans in zip(asked, got["answers"], strict=True):
        scope = viewers.scopes[viewer]
        extra = params.get(query, {})
        portal_s = []
        mine = gate.run(query, scope, period_from=pf, period_to=pt, **extra)
        for _ in range(repeat):
            gate.clear_caches()
            t = time.perf_counter()
            gate.run(query, scope, period_from=pf, period_to=pt, **extra)
            portal_s.append(time.perf_counter() - t)
        equal, why = same_answer(query, mine, ans["rows"])
        rows.append({"query": query, "viewer": viewer, "period": label, "period_from": pf,
                     "period_to": pt, "rows": len(mine), "pandas_s": ans["seconds"],
                     "portal_s": portal_s, "equal": equal, "difference": why})  # fmt: skip
        log(
            f"  pandas {query:<30} {viewer:<8} {label:<10} pandas "
            f"{compare.median(ans['seconds']) * 1000:8.1f} ms  portal "
            f"{compare.median(portal_s) * 1000:7.1f} ms" + ("" if equal else f"  DIFFERENT: {why}")
        )
    gate.clear_caches()
    return {
        "lake": str(lake),
        "load_s": got["load_s"],
        "peak_rss_mb": got["peak_rss_mb"],
        "wall_s": wall,
        "repeat": repeat,
        "rows": rows,
    }


if __name__ == "__main__":
    from bench.etl_bench import vm_hwm_mb

    result = child(json.loads(Path(sys.argv[1]).read_text()))
    result["peak_rss_mb"] = vm_hwm_mb()
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # no teardown of the big frames: the figures are out
