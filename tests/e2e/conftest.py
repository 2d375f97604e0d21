"""Real-browser fixtures: the portal under its production WSGI server in a subprocess, driven by
Debian's headless Chromium through Playwright. Screenshots land in test-artifacts/screenshots.

With CI=true a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium refuses to start sandboxed
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine's closed network refuses these connections
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(portal, tmp_path_factory):
    """`selfcare serve` (waitress) on a free loopback port, over the small test lake."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    env = {**os.environ, **portal}
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "selfcare.cli", "serve", "--port", str(port)],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    path = _chromium()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """A signed-in browser tab that records console errors and failed requests."""

    def __init__(self, browser, base: str, person, tmp: Path):
        self.base = base
        self.person = person
        self.context = browser.new_context(
            viewport={"width": 1440, "height": 900}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.tmp = tmp

    def login(self) -> None:
        self.page.goto(self.base + "/login")
        self.page.fill("input[name=email]", self.person.email)
        self.page.fill("input[name=password]", self.person.password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        return out

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def signed_in(browser, server, people, tmp_path):
    """Factory: `signed_in("manager")` → a logged-in Session; asserts a clean console at the end."""
    sessions: list[Session] = []

    def make(profile: str) -> Session:
        s = Session(browser, server, people[profile], tmp_path)
        s.login()
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        errors = [e for e in s.errors if "403" not in e and "FORBIDDEN" not in e.upper()]
        s.close()
        assert errors == [], f"browser console errors for {s.person.role}: {errors}"
