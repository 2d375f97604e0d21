"""A short concurrent load against the real server: `selfcare serve` (waitress) in a subprocess on
a free 127.0.0.1 port over the bench lake, a throw-away portal database holding one bench user, and
N clients, each signed in with its own session, fetching CSV exports. Bounded in requests and in
time, and the server is stopped whatever happens.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from dashboard import store

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 60


@dataclass
class Endpoint:
    label: str
    path: str  # with its query string
    what: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0


@dataclass
class HttpResult:
    clients: int
    requests: int
    seconds: float
    endpoints: list[Endpoint]
    stopped_early: bool  # the time budget ran out before every request was made

    @property
    def ok(self) -> int:
        return sum(len(e.latencies) for e in self.endpoints)

    @property
    def errors(self) -> int:
        return sum(e.errors for e in self.endpoints)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def endpoints(first: str, last: str) -> list[Endpoint]:
    window = f"from={first}&to={last}"
    return [
        Endpoint(
            "spend_by_cost_centre.csv",
            f"/export/spend_by_cost_centre.csv?{window}",
            "billing facts, whole window",
        ),
        Endpoint(
            "usage_monthly.csv",
            f"/export/usage_monthly.csv?{window}",
            "usage summary, whole window (streamed)",
        ),
        Endpoint("top_numbers.csv", f"/export/top_numbers.csv?{window}", "raw CDRs, whole window"),
    ]


def _sign_in(base: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    r = s.post(
        f"{base}/login",
        data={"email": email, "password": password},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT_S,
    )
    if r.status_code != 303:
        raise RuntimeError(f"bench sign-in failed: HTTP {r.status_code}")
    return s


def run_http(
    lake: Path,
    tenant_id: str,
    first: str,
    last: str,
    *,
    clients: int = 8,
    total: int = 200,
    budget_s: float = 120.0,
) -> HttpResult:
    """Start the server, sign in `clients` sessions, make `total` requests round-robin over the
    endpoints (fewer if `budget_s` runs out), stop the server."""
    with tempfile.TemporaryDirectory(prefix="selfcare-bench-http-") as tmp:
        db = Path(tmp) / "app.db"
        email, password = "bench@bench.invalid", secrets.token_urlsafe(24)
        store.init_db(db)
        store.add_user(db, email=email, role="admin", tenant_id=tenant_id, password=password)
        port = free_port()
        env = dict(os.environ, SELFCARE_LAKE=str(lake), SELFCARE_DB=str(db))
        # The server generates its own session key beside the throw-away database.
        env.pop("SELFCARE_SECRET_KEY", None)
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 (closed in finally)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "selfcare.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lake",
                str(lake),
                "--db",
                str(db),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(proc, base, Path(tmp) / "server.log")
            return _drive(base, email, password, endpoints(first, last), clients, total, budget_s)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def _wait_until_up(proc: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"the server exited ({proc.returncode}): {' '.join(tail)}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S} s")


def _fetch(s: requests.Session, url: str) -> tuple[bool, int]:
    """GET a CSV export whole, as a browser download would: (a complete CSV?, bytes)."""
    try:
        r = s.get(url, timeout=REQUEST_TIMEOUT_S)
        body = r.content
    except requests.RequestException:  # e.g. a stream the server broke off: counted, not fatal
        return False, 0
    good = r.status_code == 200 and r.headers.get("Content-Type", "").startswith("text/csv")
    return good, len(body)


def _drive(
    base: str,
    email: str,
    password: str,
    eps: list[Endpoint],
    clients: int,
    total: int,
    budget_s: float,
) -> HttpResult:
    sessions = [_sign_in(base, email, password) for _ in range(clients)]
    for ep in eps:  # warm-up, untimed: the first request of a route pays for imports and plans
        _fetch(sessions[0], base + ep.path)
    lock = threading.Lock()
    issued = 0
    stopped_early = False
    deadline = time.monotonic() + budget_s

    def client(s: requests.Session) -> None:
        nonlocal issued, stopped_early
        while True:
            with lock:
                if issued >= total:
                    return
                if time.monotonic() > deadline:
                    stopped_early = True
                    return
                ep = eps[issued % len(eps)]
                issued += 1
            t0 = time.perf_counter()
            good, size = _fetch(s, base + ep.path)
            elapsed = time.perf_counter() - t0
            with lock:
                if good:
                    ep.latencies.append(elapsed)
                    ep.bytes += size
                else:
                    ep.errors += 1

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in sessions]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=budget_s + REQUEST_TIMEOUT_S)
    seconds = time.perf_counter() - t0
    for s in sessions:
        s.close()
    return HttpResult(clients, issued, seconds, eps, stopped_early)
