"""The server under load: `selfcare serve` (waitress) in a subprocess over a lake, simulated users
of every profile replaying the portal's own callback requests and the exports' first pages.

`run_server_load(lake, work, users=20, seconds=60)` signs each simulated user in as its own portal
user (admin, finance, managers with chains of different sizes, end users, the analyst), records
each user's requests with their replies in a sequential pass (bench/replay/ opens every page of
the profile for a 1-month and a 12-month window, as a browser would), checks every reply against
the user's scope computed independently from the lake's Parquet files, then replays the requests
from all users at once for `seconds`. A concurrent reply must equal the sequential one (anything
else is an error, and a leak if it names data outside the user's scope). It does so twice: first
with no think time (each user sends its next request the moment the last returns: a stress test
with every user's request always in flight), then (`think_s`, 1-5 s by default) as people use a
portal, each user reading a reply for a while before the next click. For each it reports
requests/s, p50/p95/max per request kind and overall, errors, leaks and the server's peak memory.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench import replay

MAX_EXAMPLES = 50  # errors and leaks listed in the result (all are counted)
# The second timed phase: a user reads each reply for 1-5 s before the next click (uniform, as
# locust's between(1, 5)); the first phase has none, a stress test with every user's next
# request sent the moment the last one returns.
THINK_S = (1.0, 5.0)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, int(-(-q * len(sorted_values) // 1)))  # ceil(q * n), at least 1
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _stats(latencies: list[float]) -> dict[str, float]:
    xs = sorted(latencies)
    return {
        "p50_ms": round(_quantile(xs, 0.50) * 1000, 1),
        "p95_ms": round(_quantile(xs, 0.95) * 1000, 1),
        "max_ms": round((xs[-1] if xs else 0.0) * 1000, 1),
    }


class _Tally:
    """Thread-safe latencies per (kind, period), errors and leaks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[tuple[str, str], list[float]] = {}
        self.errors_by_kind: dict[tuple[str, str], int] = {}
        self.errors: list[dict[str, Any]] = []
        self.leaks: list[dict[str, Any]] = []
        self.error_count = 0
        self.leak_count = 0

    def ok(self, req: replay.Recorded, elapsed: float) -> None:
        with self.lock:
            self.latencies.setdefault((req.kind, req.period), []).append(elapsed)

    def error(self, phase: str, user: str, req: replay.Recorded, problem: str) -> None:
        with self.lock:
            self.error_count += 1
            key = (req.kind, req.period)
            self.errors_by_kind[key] = self.errors_by_kind.get(key, 0) + 1
            if len(self.errors) < MAX_EXAMPLES:
                self.errors.append({"phase": phase, "user": user, "kind": req.kind,
                                    "period": req.period, "request": _describe(req),
                                    "problem": problem})  # fmt: skip

    def leak(self, phase: str, user: str, req: replay.Recorded, found: list[str]) -> None:
        with self.lock:
            self.leak_count += 1
            if len(self.leaks) < MAX_EXAMPLES:
                self.leaks.append({"phase": phase, "user": user, "kind": req.kind,
                                   "period": req.period, "request": _describe(req),
                                   "outside_scope": found[:10], "count": len(found)})  # fmt: skip


def _describe(req: replay.Recorded) -> str:
    if req.body is None:
        return f"{req.method} {req.path}"
    return f"{req.method} {req.path} {req.body.get('output', '')[:120]}"


def run_server_load(
    lake: Path,
    work: Path,
    *,
    users: int = 20,
    seconds: float = 60,
    threads: int | None = None,
    fence_hook: Callable[[dict[str, replay.Fence]], None] | None = None,
    think_s: tuple[float, float] | None = THINK_S,
) -> dict[str, Any]:
    """Start the server over `lake` (portal database and logs under `work`), record and scope-check
    every simulated user's requests one at a time, then replay them from `users` concurrent users
    for `seconds`. `threads`: waitress threads (default: what `selfcare serve` ships).

    `fence_hook` may alter the expected scopes (keyed by email) before any check; the tests use it
    to prove that a wrong expectation is reported as a leak. Returns a JSON-able dict
    `{"summary", "rows", "leaks", "errors"}`.
    """
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    t_setup = time.perf_counter()
    con = replay.lake_connection(Path(lake))
    try:
        people = replay.pick_users(con, users)
        universe = replay.read_universe(con)
        fences = {p.email: replay.fence_for(universe, p) for p in people}
        replay.add_called_lines(con, fences.values(), universe)
    finally:
        con.close()
    if fence_hook is not None:
        fence_hook(fences)
    db = work / "bench-portal.db"
    replay.create_portal_db(db, people)
    scope_s = time.perf_counter() - t_setup
    tally = _Tally()
    with replay.running_server(Path(lake), db, work, threads) as srv, \
            replay.MemorySampler(srv) as memory:  # fmt: skip
        sessions = {p.email: replay.sign_in(srv.base, p.email, p.password) for p in people}
        deps = (
            sessions[people[0].email]
            .get(srv.base + "/_dash-dependencies", timeout=replay.REQUEST_TIMEOUT_S)
            .json()
        )
        # 1. the sequential pass: what each user's pages ask, the replies, the scope check
        t_seq = time.perf_counter()
        plans: dict[str, list[replay.Recorded]] = {}
        for p in people:
            recorded, _ = replay.record_user(srv.base, sessions[p.email], deps)
            for req in recorded:
                if req.problem:
                    tally.error("sequential", p.label, req, req.problem)
                found = replay.leaks_in(req.text, fences[p.email], universe)
                if found:
                    tally.leak("sequential", p.label, req, found)
            plans[p.email] = [replay.replay_copy(r) for r in recorded if not r.problem]
        seq_s = time.perf_counter() - t_seq
        seq_peak = memory.peak
        # 2. the timed phases: every user at once, round-robin over their own requests; first
        # with no think time (a stress test: 20 requests always in flight), then as people use
        # a portal, reading each reply for a while before the next click
        tally, wall = _timed_phase(people, plans, sessions, fences, universe, srv.base, seconds,
                                   None, tally)  # fmt: skip
        stress_peak = memory.peak
        if think_s:
            think_tally, think_wall = _timed_phase(
                people, plans, sessions, fences, universe, srv.base, seconds, think_s, _Tally()
            )
        peak = memory.peak
        hwm = srv.hwm()
        used_threads = srv.threads
        for s in sessions.values():
            s.close()
    out = _result(people, fences, plans, tally, wall, seconds, used_threads, stress_peak,
                  seq_peak, hwm, scope_s, seq_s)  # fmt: skip
    if think_s:
        think = _result(people, fences, plans, think_tally, think_wall, seconds, used_threads,
                        peak, seq_peak, hwm, scope_s, seq_s)  # fmt: skip
        think["summary"]["think_time_s"] = list(think_s)
        for key in ("scopes", "scope_setup_s", "sequential_pass_s", "sequential_requests",
                    "server_peak_rss_sequential_mb", "profiles", "request_kinds"):
            think["summary"].pop(key, None)
        out["think"] = think
        out["errors"] += think["errors"]
        out["leaks"] += think["leaks"]
    return out


def _timed_phase(people, plans, sessions, fences, universe, base: str, seconds: float,
                 think_s: tuple[float, float] | None, tally: _Tally) -> tuple[_Tally, float]:
    """Every user replays its own requests at once for `seconds`; with `think_s` (lo, hi) a user
    waits a uniform random time in that range before each request (seeded per user)."""
    by_email = {p.email: p for p in people}
    start = threading.Barrier(len(people) + 1)
    deadline = [0.0]

    def user_loop(email: str) -> None:
        plan = plans[email]
        s, who, fence = sessions[email], by_email[email].label, fences[email]
        rng = random.Random(email)
        i = rng.randrange(len(plan)) if plan else 0
        start.wait()
        while plan and time.monotonic() < deadline[0]:
            if think_s:
                time.sleep(rng.uniform(*think_s))
                if time.monotonic() >= deadline[0]:
                    break
            req = plan[i % len(plan)]
            i += 1
            t0 = time.perf_counter()
            try:
                status, data, problem = replay.fetch(s, base, req)
            except requests.RequestException as e:
                tally.error("concurrent", who, req, f"{type(e).__name__}: {e}"[:300])
                continue
            elapsed = time.perf_counter() - t0
            if problem:
                tally.error("concurrent", who, req, problem)
                continue
            if replay.digest(data) != req.digest:
                text = data.decode("utf-8", errors="replace")
                found = replay.leaks_in(text, fence, universe)
                if found:
                    tally.leak("concurrent", who, req, found)
                tally.error("concurrent", who, req, "reply differs from the sequential pass")
                continue
            tally.ok(req, elapsed)

    workers = [threading.Thread(target=user_loop, args=(p.email,), daemon=True) for p in people]
    for w in workers:
        w.start()
    deadline[0] = time.monotonic() + seconds
    t0 = time.perf_counter()
    start.wait()
    for w in workers:
        w.join(timeout=seconds + replay.REQUEST_TIMEOUT_S + 30)
    return tally, time.perf_counter() - t0


def _result(
    people,
    fences,
    plans,
    tally: _Tally,
    wall: float,
    seconds: float,
    threads: int,
    peak: int,
    seq_peak: int,
    hwm: int,
    scope_s: float,
    seq_s: float,
) -> dict[str, Any]:
    rows = []
    # the same requests one at a time (the sequential pass): the latency without contention
    alone: dict[tuple[str, str], list[float]] = {}
    for plan in plans.values():
        for req in plan:
            alone.setdefault((req.kind, req.period), []).append(req.elapsed)
    # every recorded kind gets a row: one the timed phase never reached shows 0 requests, so a
    # short or slow run is visible as such instead of dropping the kind from the report
    kinds = sorted(set(alone) | set(tally.latencies) | set(tally.errors_by_kind))
    for kind, period in kinds:
        lat = tally.latencies.get((kind, period), [])
        seq = sorted(alone.get((kind, period), []))
        rows.append(
            {
                "kind": kind,
                "period": period,
                "requests": len(lat),
                "errors": tally.errors_by_kind.get((kind, period), 0),
                **_stats(lat),
                "alone_p50_ms": round(_quantile(seq, 0.5) * 1000, 1),
            }
        )
    every = [x for lat in tally.latencies.values() for x in lat]
    ok = len(every)
    mix: dict[str, int] = {}
    for p in people:
        mix[p.role] = mix.get(p.role, 0) + 1
    summary = {
        "users": len(people),
        "profiles": mix,
        "waitress_threads": threads,
        "seconds": round(wall, 2),
        "requested_seconds": seconds,
        "requests": ok + sum(tally.errors_by_kind.values()),
        "ok": ok,
        "requests_per_s": round(ok / wall, 2) if wall > 0 else 0.0,
        **_stats(every),
        "errors": tally.error_count,
        "leaks": tally.leak_count,
        "server_peak_rss_mb": round(peak / 2**20, 1),
        "server_peak_rss_sequential_mb": round(seq_peak / 2**20, 1),
        "server_hwm_mb": round(hwm / 2**20, 1),
        "think_time_s": 0,  # closed loop: each user sends its next request on the reply
        # (the think-time phase overwrites this with its range)
        "export_first_page_rows": replay.EXPORT_FIRST_PAGE_ROWS,
        "sequential_requests": sum(len(v) for v in plans.values()),
        "request_kinds": len({k for k, _ in kinds}),
        "scope_setup_s": round(scope_s, 2),
        "sequential_pass_s": round(seq_s, 2),
        "scopes": {p.label: fences[p.email].describe() for p in people},
    }
    return {"summary": summary, "rows": rows, "leaks": tally.leaks, "errors": tally.errors}
