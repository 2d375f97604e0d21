"""A streamed export stops when its client hangs up (issue 13), under the real server: waitress
with the options of `selfcare serve`, in a thread, on a loopback port."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
import requests
from waitress import create_server

from selfcare.web import exports
from selfcare.web.serve import waitress_options

pytestmark = pytest.mark.subprocess  # waitress on a port


@pytest.fixture
def base_url(flask_app):
    server = create_server(flask_app, host="127.0.0.1", port=0, **waitress_options())
    stopping = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:  # closing the socket under select() is the stop
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", server.effective_port
    stopping.set()
    server.close()
    thread.join(timeout=5)


def test_export_stops_when_the_client_hangs_up(base_url, people, raw, caplog):
    url, port = base_url
    s = requests.Session()
    admin = people["admin"]
    resp = s.post(f"{url}/login", data={"email": admin.email, "password": admin.password},
                  allow_redirects=False)  # fmt: skip
    assert resp.status_code in (302, 303)
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies)
    ps = sorted(set(raw.billing.bill_period))
    caplog.set_level(logging.INFO)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"GET /export/itemised.csv?from={ps[0]}&to={ps[-1]} HTTP/1.1\r\nHost: x\r\n"
        f"Cookie: {cookie}\r\n\r\n".encode()
    )
    first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    sock.close()
    for _ in range(600):  # the export gives its slots back once its loop has ended
        if exports.running_exports() == 0:
            break
        time.sleep(0.1)
    print(f"export ended {time.monotonic() - started:.2f} s after the hang-up")
    assert exports.running_exports() == 0
    messages = [r.getMessage() for r in caplog.records]
    assert any("stopped: the client disconnected" in m for m in messages), messages
    assert not any("export itemised for user" in m and "complete" in m for m in messages)
    # the server still answers
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200


def _sign_in(url: str, person) -> requests.Session:
    s = requests.Session()
    resp = s.post(f"{url}/login", data={"email": person.email, "password": person.password},
                  allow_redirects=False)  # fmt: skip
    assert resp.status_code in (302, 303)
    return s


def test_healthz_and_pages_answer_under_hanging_up_exports(base_url, people, raw):
    """Several long exports by one user and by two, from clients that read a little and hang up,
    while a probe asks /healthz and a third user's layout: both answer 200 throughout (times are
    printed, not asserted)."""
    url, port = base_url
    ps = sorted(set(raw.billing.bill_period))
    export = f"/export/itemised.csv?from={ps[0]}&to={ps[-1]}"
    exporters = [
        _sign_in(url, people[p]) for p in ("admin", "admin", "admin", "finance", "finance")
    ]
    viewer = _sign_in(url, people["manager"])
    statuses: list[int] = []

    def export_and_hang_up(s: requests.Session) -> None:
        for _ in range(3):
            with s.get(url + export, stream=True, timeout=60) as resp:
                statuses.append(resp.status_code)
                if resp.status_code == 200:
                    next(resp.iter_content(4096), b"")
            # leaving the block closes the connection mid-download

    threads = [threading.Thread(target=export_and_hang_up, args=(s,)) for s in exporters]
    for t in threads:
        t.start()
    probes: list[tuple[str, int, float]] = []
    while any(t.is_alive() for t in threads):
        for path, session in (("/healthz", requests), ("/_dash-layout", viewer)):
            t0 = time.monotonic()
            code = session.get(url + path, timeout=60).status_code
            probes.append((path, code, time.monotonic() - t0))
    for t in threads:
        t.join(120)
    worst = {
        p: max((d for q, _, d in probes if q == p), default=0.0)
        for p in ("/healthz", "/_dash-layout")
    }
    print(f"exports: {sorted(set(statuses))}, {len(probes)} probes, slowest {worst}")
    assert probes and all(code == 200 for _, code, _ in probes), probes
    assert set(statuses) <= {200, 429, 503} and 200 in statuses
    for _ in range(600):
        if exports.running_exports() == 0:
            break
        time.sleep(0.1)
    assert exports.running_exports() == 0
