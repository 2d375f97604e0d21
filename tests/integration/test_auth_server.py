"""The same rules over real HTTP: the app under waitress (in a thread, and `selfcare serve` in a
subprocess), driven with `requests` on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from auth_support import ACCOUNTS, add_accounts, portal_settings
from waitress import create_server

from selfcare.web.app import create_app

pytestmark = pytest.mark.subprocess  # waitress on a port, and `selfcare serve`

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def base_url(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    server = create_server(create_app(s), host="127.0.0.1", port=0, threads=4)
    stopping = threading.Event()

    def run() -> None:
        # closing the socket under waitress's select() loop raises EBADF: that is the stop
        try:
            server.run()
        except OSError:
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stopping.set()
    server.close()
    thread.join(timeout=5)


def sign_in(session: requests.Session, base_url: str, account) -> requests.Response:
    return session.post(
        f"{base_url}/login",
        data={"email": account.email, "password": account.password},
        allow_redirects=False,
    )


def test_login_cookie_and_logout_over_http(base_url):
    s = requests.Session()
    assert s.get(f"{base_url}/_dash-layout").status_code == 401
    resp = sign_in(s, base_url, ACCOUNTS["admin"])
    assert resp.status_code == 303
    raw = resp.headers["Set-Cookie"]
    assert "HttpOnly" in raw and "SameSite=Lax" in raw and "Secure" not in raw
    captured = s.cookies.get("selfcare_session")
    assert s.get(f"{base_url}/_dash-layout").status_code == 200
    assert s.post(f"{base_url}/logout", allow_redirects=False).status_code == 303  # issue 13
    replay = requests.get(
        f"{base_url}/_dash-layout", cookies={"selfcare_session": captured}, timeout=10
    )
    assert replay.status_code == 401


def test_anonymous_requests_over_http(base_url):
    assert requests.get(f"{base_url}/healthz", timeout=10).json() == {"status": "ok"}
    page = requests.get(f"{base_url}/api-tokens", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    for path in ("/_dash-update-component", "/_dash-layout", "/_dash-dependencies"):
        resp = requests.post(f"{base_url}{path}", json={}, timeout=10)
        assert resp.status_code in (401, 405), path
    failed = requests.post(
        f"{base_url}/login",
        data={"email": "nobody@x.test", "password": "nothing at all"},
        timeout=10,
    )
    assert failed.status_code == 401 and "not correct" in failed.text


def test_concurrent_first_callbacks_after_start(base_url):
    """The warm-up in create_app: the first callbacks, all at once, find their functions."""
    s = requests.Session()
    sign_in(s, base_url, ACCOUNTS["manager"])
    body = {
        "output": "..app-period-from.options...app-period-from.value..."
        "app-period-to.options...app-period-to.value..",
        "outputs": [
            {"id": "app-period-from", "property": "options"},
            {"id": "app-period-from", "property": "value"},
            {"id": "app-period-to", "property": "options"},
            {"id": "app-period-to", "property": "value"},
        ],
        "inputs": [{"id": "app-shell", "property": "id", "value": "app-shell"}],
        "changedPropIds": [],
    }
    results: list[int] = []

    def hit():
        results.append(
            s.post(f"{base_url}/_dash-update-component", json=body, timeout=30).status_code
        )

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_selfcare_serve_runs_waitress_and_logs_the_url(tmp_path, monkeypatch):
    portal_settings(tmp_path, monkeypatch)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from selfcare.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.3)
        else:
            pytest.fail("the server did not start")
        assert resp.status_code == 200
        assert resp.headers["Server"] == "selfcare"
        assert requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=10).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://localhost:{port}/" in out
