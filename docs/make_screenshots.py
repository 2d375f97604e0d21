"""Take the README's screenshots: the demo lake served by the real server, in headless Chromium.

Usage (after `make demo` has loaded data/lake): .venv/bin/python docs/make_screenshots.py
It creates throw-away users in a temporary database, so the demo users are left alone.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from selfcare.cli.demo import pick_demo_employees
from selfcare.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SHOTS = [
    ("finance", "/overview", "overview"),
    ("finance", "/spend-by-cost-centre", "spend-by-cost-centre"),
    ("finance", "/top-numbers", "top-numbers"),
    ("end_user", "/itemised", "itemised"),
    ("manager", "/usage", "usage"),
    ("finance", "/growth", "growth"),
    ("analyst", "/growth", "growth-analyst"),
    ("finance", "/tariffs", "tariffs"),
]
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> int:
    from selfcare import store

    settings = load_settings()
    tenant, picks = pick_demo_employees(settings.lake)
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "app.db"
    users = {}
    for role in ("admin", "finance", "manager", "end_user", "analyst"):
        password = secrets.token_urlsafe(16)
        email = f"{role}@screenshots.test"
        store.add_user(
            db,
            email=email,
            role=role,
            tenant_id=None if role == "analyst" else tenant,
            employee_id=None if role == "analyst" else picks[role],
            password=password,
        )
        users[role] = (email, password)
    env = {**os.environ, "SELFCARE_DB": str(db), "SELFCARE_LAKE": str(settings.lake.resolve())}
    port = 8765
    proc = subprocess.Popen(
        [sys.executable, "-m", "selfcare.cli", "serve", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for role, path, name in SHOTS:
                ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
                page = ctx.new_page()
                page.goto(base + "/login")
                page.fill("input[name=email]", users[role][0])
                page.fill("input[name=password]", users[role][1])
                page.click("button[type=submit]")
                page.wait_for_load_state("networkidle")
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1500)
                page.screenshot(path=str(OUT / f"{name}.png"))
                ctx.close()
                print("wrote", OUT / f"{name}.png")
            browser.close()
    finally:
        proc.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
