"""The real server in a subprocess over a lake and a portal database, its memory, and sign-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.replay.constants import PASSWORD, REQUEST_TIMEOUT_S, ROOT, START_TIMEOUT_S

# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_threads() -> int:
    from selfcare.web.serve import THREADS

    return THREADS


@dataclass
class Server:
    base: str
    proc: subprocess.Popen
    log: Path
    threads: int

    def tree_rss(self) -> int:
        """Resident memory of the server process and its descendants, in bytes (0 if gone)."""
        return sum(_rss(pid) for pid in _tree(self.proc.pid))

    def hwm(self) -> int:
        """The kernel's peak resident memory of the server process itself, in bytes."""
        return _status_kib(self.proc.pid, "VmHWM") * 1024


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rss(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


class MemorySampler:
    """Samples the server tree's RSS every `interval` seconds in a thread; keeps the peak."""

    def __init__(self, server: Server, interval: float = 0.2):
        self.server, self.interval = server, interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.tree_rss())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def running_server(
    lake: Path, db: Path, work: Path, threads: int | None = None
) -> Iterator[Server]:
    """`selfcare serve` (waitress) on a free loopback port over `lake` and `db`; stopped on exit.

    `threads` sets waitress's thread count for this run (default: what `selfcare serve` ships).
    """
    threads = int(threads or default_threads())
    port = free_port()
    env = dict(os.environ, SELFCARE_LAKE=str(lake), SELFCARE_DB=str(db), SELFCARE_ENV="production")
    # A session key generated beside the throw-away database; plain http on loopback.
    for key in ("SELFCARE_SECRET_KEY", "SELFCARE_HTTPS", "SELFCARE_PROXY_HOPS"):
        env.pop(key, None)
    log = work / f"server-{port}.log"
    # The same entry point as `selfcare serve`, with only waitress's thread count set for the run.
    launcher = (
        "import sys, selfcare.web.serve as s; s.THREADS = int(sys.argv[1]); "
        "from selfcare.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    cmd = [sys.executable, "-c", launcher, str(threads), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--lake", str(lake), "--db", str(db)]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log, threads)
    try:
        _wait_until_up(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"the server exited ({server.proc.returncode}): {' | '.join(tail)}")
        try:
            if requests.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S} s")


def sign_in(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{base}/login", data={"email": email, "password": password},
               allow_redirects=False, timeout=REQUEST_TIMEOUT_S)  # fmt: skip
    if r.status_code != 303:
        raise RuntimeError(f"bench sign-in of {email} failed: HTTP {r.status_code}")
    return s

