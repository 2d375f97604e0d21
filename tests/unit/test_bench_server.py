"""The server benchmarks at tiny scale: the load run (bench/http_load.py) and the browser timing
(bench/browser.py) run end to end against the small test lake, return the documented structure,
find no errors and no leaks, and a deliberately wrong expected scope is reported as a leak, so the
scope check cannot pass vacuously. The expected scopes themselves are checked against pandas on
the raw export files. No timing is asserted anywhere.
"""

from __future__ import annotations

import json
import os

import pytest

from bench import replay
from bench.browser import time_browser
from bench.http_load import run_server_load


def _fences(lake):
    con = replay.lake_connection(lake)
    try:
        people = replay.pick_users(con, 20)
        universe = replay.read_universe(con)
        fences = {p.email: replay.fence_for(universe, p) for p in people}
        replay.add_called_lines(con, fences.values(), universe)
    finally:
        con.close()
    return people, universe, fences


# --- the expected scope and the detector, without a server ----------------------------------


def test_every_profile_is_simulated_with_twenty_users():
    mix = replay.profile_mix(20)
    assert sum(mix.values()) == 20
    assert all(mix[r] >= 1 for r in ("admin", "finance", "manager", "end_user", "analyst"))


def test_expected_scope_matches_the_raw_hr_feed(lake, raw):
    people, _, fences = _fences(lake)
    roles = {p.role for p in people}
    assert roles == {"admin", "finance", "manager", "end_user", "analyst"}
    for p in people:
        fence = fences[p.email]
        if p.role == "analyst":
            assert not fence.msisdns and not fence.employees and not fence.cost_centres
            continue
        expected = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
        if p.role in ("manager", "end_user"):
            assert fence.msisdns == expected, p.label
            assert fence.msisdns, f"{p.label} was picked with no lines"
        else:
            # tenant-wide: the register's lines, plus numbers billed or used but not registered
            assert expected <= fence.msisdns, p.label
            tenant_of = raw.tenant_of_account()
            billed = {m for m, a in zip(raw.billing.msisdn, raw.billing.account_id, strict=True)
                      if m and tenant_of[a] == p.tenant_id}  # fmt: skip
            assert billed <= fence.msisdns, p.label


def test_managers_cover_small_and_large_chains(lake):
    people, _, fences = _fences(lake)
    sizes = sorted(len(fences[p.email].msisdns) for p in people if p.role == "manager")
    assert len(sizes) >= 2 and sizes[0] < sizes[-1]


def test_leak_detector_names_ids_outside_the_fence(lake):
    people, universe, fences = _fences(lake)
    end_user = next(p for p in people if p.role == "end_user")
    fence = fences[end_user.email]
    own = sorted(fence.msisdns)[0]
    foreign_line = sorted(universe.msisdns - fence.visible_msisdns)[0]
    foreign_emp = sorted(universe.employees - fence.employees)[0]
    foreign_cc = sorted(universe.cost_centres - fence.cost_centres)[0]
    clean = f'{{"msisdn": "{own}", "employee_id": "{end_user.employee_id}"}}'
    assert replay.leaks_in(clean, fence, universe) == []
    dirty = f'{{"x": [{own}, {foreign_line}], "e": "{foreign_emp}", "href": "?cc={foreign_cc}"}}'
    found = replay.leaks_in(dirty, fence, universe)
    assert any(foreign_line in f for f in found)
    assert any(foreign_emp in f for f in found)
    assert any(foreign_cc in f for f in found)
    # a digit run that is no line of the lake is no leak
    assert replay.leaks_in('{"amount": 12345678}', fence, universe) == []


# --- the load run -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def load_result(lake, tmp_path_factory):
    return run_server_load(lake, tmp_path_factory.mktemp("load"), users=5, seconds=2,
                           think_s=(0.05, 0.2))


@pytest.mark.slow
@pytest.mark.subprocess
def test_server_load_reports_every_kind_without_errors_or_leaks(load_result):
    summary, rows = load_result["summary"], load_result["rows"]
    assert load_result["errors"] == [] and summary["errors"] == 0
    assert load_result["leaks"] == [] and summary["leaks"] == 0
    assert summary["profiles"] == {"admin": 1, "finance": 1, "manager": 1, "end_user": 1,
                                   "analyst": 1}  # fmt: skip
    assert summary["ok"] > 0 and summary["requests"] == summary["ok"]
    assert summary["sequential_requests"] >= summary["request_kinds"] > 10
    assert summary["server_peak_rss_mb"] > 0 and summary["waitress_threads"] >= 1
    for key in ("requests_per_s", "p50_ms", "p95_ms", "max_ms", "seconds"):
        assert isinstance(summary[key], (int, float))
    kinds = {r["kind"] for r in rows}
    assert any(k.startswith("overview: ") for k in kinds)
    assert {r["period"] for r in rows} >= {"1m", "12m"}
    for r in rows:
        assert set(r) >= {"kind", "period", "requests", "errors", "p50_ms", "p95_ms", "max_ms"}
        assert r["errors"] == 0 and r["p50_ms"] <= r["p95_ms"] <= r["max_ms"]
    # the second phase: the same users thinking between clicks, checked the same way
    think = load_result["think"]["summary"]
    assert think["think_time_s"] == [0.05, 0.2]
    assert think["ok"] > 0 and think["requests"] == think["ok"]
    assert think["errors"] == 0 and think["leaks"] == 0
    assert load_result["think"]["rows"] and load_result["think"]["errors"] == []
    json.dumps(load_result)  # JSON-able as documented


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_wrong_expected_scope_is_reported_as_a_leak(lake, tmp_path):
    removed: list[str] = []

    def narrow(fences: dict[str, replay.Fence]) -> None:
        # claim the manager may not see one of their own lines: its replies must now "leak"
        fence = next(f for f in fences.values() if f.user.role == "manager")
        line = sorted(fence.msisdns)[0]
        fence.msisdns.discard(line)
        fence.visible_msisdns.discard(line)
        removed.append(line)

    result = run_server_load(lake, tmp_path, users=4, seconds=1, fence_hook=narrow, think_s=None)
    assert result["summary"]["leaks"] > 0
    assert result["errors"] == []
    assert all(leak["user"].startswith("manager") for leak in result["leaks"])
    assert any(f"line {removed[0]} " in x for leak in result["leaks"]
               for x in leak["outside_scope"])  # fmt: skip


# --- the browser timing -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.browser
def test_browser_timing_draws_every_page(lake, tmp_path):
    result = time_browser(lake, tmp_path, repeat=1)
    summary = result["summary"]
    if summary.get("skipped"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser timing skipped in CI: {summary['reason']}")
        pytest.skip(summary["reason"])
    pages = {r["page"] for r in result["rows"]}
    assert summary["headline_page"] == "/overview" and "/overview" in pages
    assert summary["console_errors"] == []
    for r in result["rows"]:
        assert r["median_ms"] > 0 and r["runs_ms"] and r["callbacks"] > 0
        assert r["error_states"] == 0, r["page"]
    overview = next(r for r in result["rows"] if r["page"] == "/overview")
    assert overview["charts"] > 0 and overview["grid_rows"] > 0
