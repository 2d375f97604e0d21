"""Browser timing: how long each page of the portal takes to draw in headless Chromium.

`time_browser(lake, work, repeat=5)` starts the real server (`selfcare serve`, waitress) over the
lake with a throw-away portal database, signs a Financial Manager of the largest tenant in with
Debian's Chromium driven by Playwright, and loads every page of the profile `repeat` times. A
page counts as drawn when, measured from navigation start (`performance.now()` in the page):

* Dash has rendered the page (its container holds the page's layout),
* no callback request is in flight and none started during a quiet spell afterwards,
* no component is in a loading state (`data-dash-is-loading`), every plotly chart has drawn its
  SVG (`.js-plotly-plot .main-svg`) and every grid shows rows or its "no rows" overlay.

The time of the last of those events is the page's time. The overview is the headline. Each run
starts a fresh server, so a page's first load finds the server's result cache cold (`first_ms`);
later loads may be answered from it. Without
Chromium or Playwright the result says so (`skipped` with the reason) instead of raising.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench import replay

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # as root Chromium refuses to start sandboxed
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the closed network refuses these connections
    "--disable-component-update",
    "--disable-sync",
]
HEADLINE = "/overview"
QUIET_MS = 400  # no new callback for this long after the page looks drawn: it is settled
PAGE_TIMEOUT_MS = 120_000

# Counts Dash's callback requests in flight (window.fetch is what the renderer uses) and when the
# last one started and ended, in performance.now() time (0 = navigation start).
TRACKER = """
(() => {
  const w = window;
  w.__bench = {inflight: 0, started: 0, lastStart: 0, lastEnd: 0};
  const orig = w.fetch.bind(w);
  w.fetch = (...args) => {
    const url = String(args[0] && args[0].url ? args[0].url : args[0]);
    if (!url.includes('_dash-update-component')) return orig(...args);
    const b = w.__bench;
    b.inflight += 1; b.started += 1; b.lastStart = performance.now();
    const done = () => { b.inflight -= 1; b.lastEnd = performance.now(); };
    return orig(...args).then(r => { r.clone().text().then(done, done); return r; },
                              e => { done(); throw e; });
  };
})();
"""

# True once the page looks drawn (see the module docstring); returns the time it did.
DRAWN = """
() => {
  const b = window.__bench;
  const content = document.getElementById('_pages_content');
  if (!b || !content || !content.children.length || b.started === 0 || b.inflight > 0) return false;
  if (document.querySelector('[data-dash-is-loading="true"]')) return false;
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (!plot.querySelector('.main-svg')) return false;
  }
  for (const grid of document.querySelectorAll('.ag-root-wrapper')) {
    const rows = grid.querySelector('.ag-center-cols-container .ag-row');
    const none = grid.querySelector('.ag-overlay-no-rows-wrapper, .ag-overlay-no-rows-center');
    const hidden = grid.offsetParent === null;
    if (!rows && !none && !hidden) return false;
  }
  return performance.now();
}
"""

COUNTS = """
() => ({
  charts: document.querySelectorAll('.js-plotly-plot .main-svg').length > 0
    ? document.querySelectorAll('.js-plotly-plot').length : 0,
  grid_rows: document.querySelectorAll('.ag-center-cols-container .ag-row').length,
  callbacks: window.__bench ? window.__bench.started : 0,
  last_callback_end_ms: window.__bench ? window.__bench.lastEnd : 0,
  error_states: document.querySelectorAll('.state-error').length,
})
"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _skipped(reason: str) -> dict[str, Any]:
    return {"summary": {"skipped": True, "reason": reason}, "rows": []}


def _finance_user(lake: Path) -> replay.BenchUser:
    """A Financial Manager of the tenant with the most lines (the widest tenant-wide view)."""
    con = replay.lake_connection(lake)
    try:
        rows = con.execute(
            "select tenant_id, count(distinct msisdn) as n from dim_line group by all "
            "order by n desc, tenant_id limit 1"
        ).fetchall()
        if not rows:
            rows = con.execute("select tenant_id, 0 from dim_tenant order by 1 limit 1").fetchall()
    finally:
        con.close()
    if not rows:
        raise RuntimeError("the lake has no tenants")
    tenant, lines = str(rows[0][0]), int(rows[0][1])
    return replay.BenchUser("finance@bench.invalid", "finance", tenant, None,
                            f"finance ({tenant}, {lines} lines)")  # fmt: skip


def _time_page(page: Any, url: str) -> tuple[float, dict[str, Any]]:
    """Load `url` afresh; (ms from navigation start to drawn, what was on the page)."""
    page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT_MS)
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while True:
        drawn = page.wait_for_function(DRAWN, polling="raf", timeout=PAGE_TIMEOUT_MS).json_value()
        page.wait_for_timeout(QUIET_MS)
        state = page.evaluate("() => window.__bench")
        # a callback that started after "drawn" (a chained one) means it was not drawn yet
        if state["inflight"] == 0 and state["lastStart"] <= drawn:
            return float(drawn), page.evaluate(COUNTS)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never settled")


def time_browser(lake: Path, work: Path, *, repeat: int = 5) -> dict[str, Any]:
    """Per page of a Financial Manager's portal: median and max of `repeat` loads, in ms from
    navigation start to the page's charts and grids being drawn. Returns `{"summary", "rows"}`.

    Runs in a thread of its own: Playwright's sync API refuses a thread whose asyncio loop is
    running, which is the case when the caller (a test session, a notebook) has Playwright open.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-browser") as pool:
        return pool.submit(_time_browser, lake, work, repeat).result()


def _time_browser(lake: Path, work: Path, repeat: int) -> dict[str, Any]:
    chromium = _chromium()
    if chromium is None:
        return _skipped("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        return _skipped(f"Playwright is not installed: {e}")
    lake, work = Path(lake), Path(work)
    work.mkdir(parents=True, exist_ok=True)
    user = _finance_user(lake)
    db = work / "bench-browser.db"
    replay.create_portal_db(db, [user])
    rows: list[dict[str, Any]] = []
    console: list[str] = []
    with replay.running_server(lake, db, work) as srv, sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        except PlaywrightError as e:
            return _skipped(f"Chromium did not start: {str(e).splitlines()[0]}")
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_init_script(TRACKER)
            page = context.new_page()
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(str(e)))
            page.goto(srv.base + "/login", timeout=PAGE_TIMEOUT_MS)
            page.fill("input[name=email]", user.email)
            page.fill("input[name=password]", user.password)
            page.click("button[type=submit]")
            # the shell's navigation is drawn by Dash after the layout request; on a busy machine
            # "network idle" can come first, so wait for the links themselves
            page.wait_for_selector("a.nav-link", timeout=PAGE_TIMEOUT_MS)
            paths = page.eval_on_selector_all(
                "a.nav-link", "links => links.map(a => a.getAttribute('href'))"
            )
            paths = sorted(set(paths), key=lambda x: (x != HEADLINE, paths.index(x)))
            for path in paths:
                runs, seen = [], {}
                for _ in range(repeat):
                    ms, seen = _time_page(page, srv.base + path)
                    runs.append(round(ms, 1))
                rows.append({
                    "page": path,
                    "repeat": repeat,
                    "median_ms": round(statistics.median(runs), 1),
                    "max_ms": max(runs),
                    "min_ms": min(runs),
                    # the first load meets the server's query cache cold for this page
                    "first_ms": runs[0],
                    "runs_ms": runs,
                    **seen,
                })  # fmt: skip
            version = browser.version
        finally:
            browser.close()
    head = next((r for r in rows if r["page"] == HEADLINE), rows[0] if rows else None)
    summary = {
        "skipped": False,
        "user": user.label,
        "browser": f"Chromium {version}",
        "repeat": repeat,
        "pages": len(rows),
        "headline_page": head["page"] if head else None,
        "headline_median_ms": head["median_ms"] if head else None,
        "headline_max_ms": head["max_ms"] if head else None,
        "console_errors": console[:20],
    }
    return {"summary": summary, "rows": rows}
