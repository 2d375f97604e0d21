"""The worker SIGKILLed after claiming a line, and after the operator's acknowledgement but
before recording it, then restarted: the simulated operator holds exactly one operator order per
line and no line is lost (SQLite)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from selfcare.services import estate, orders, users

PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only


def _worker(db: Path, lake: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "selfcare", "worker", "--once", "--db", str(db),
         "--lake", str(lake)],
        env=env, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("point", ["worker_after_claim", "worker_after_submit"])
def test_sigkill_then_restart_submits_each_line_once(point, tmp_path, lake, raw, monkeypatch):
    monkeypatch.setenv("SELFCARE_LAKE", str(lake))
    estate.clear_cache()
    db = tmp_path / "app.db"
    admin = users.get_user(db, users.add_user(db, "admin@t1.test", "admin", "T01", None,
                                              PASSWORD))
    t1 = raw.lines[(raw.lines.tenant_id == "T01") & (raw.lines.status == "ACTIVE")]
    msisdns = sorted(t1.msisdn)[:3]
    o = orders.create_order(db, admin, "suspend_line", msisdns, {}, "crash test")
    assert o.state == "approved"
    env = {**os.environ, "SELFCARE_TEST_PAUSE_AT": point, "SELFCARE_TEST_PAUSE_SECONDS": "60",
           "SELFCARE_PROVISIONING_DELAY": "0"}
    first = _worker(db, lake, env)
    assert first.stderr.readline().strip() == f"paused at {point}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # the claims are fresh: a restart within the claim timeout leaves them alone...
    env.pop("SELFCARE_TEST_PAUSE_AT")
    from datetime import UTC, datetime, timedelta

    from selfcare.config import load_settings
    from selfcare.worker import create_adapter

    adapter = create_adapter(load_settings(lake=lake, db=db))
    later = datetime.now(UTC) + orders.CLAIM_TIMEOUT + timedelta(seconds=1)
    # ...and once stale, the same keys go again: one operator order per line
    assert orders.submit_approved(db, adapter, later) == len(msisdns)
    assert orders.submit_approved(db, adapter, later) == 0
    rows = adapter._db.execute(
        "select idempotency_key, count(*) from operator_orders group by idempotency_key"
    ).fetchall()
    assert sorted(k for k, _ in rows) == sorted(f"{o.reference}/{m}" for m in msisdns)
    assert all(n == 1 for _, n in rows)
    view = orders.get_order(db, admin, o.id)
    assert [line.state for line in view.lines] == ["submitted"] * len(msisdns) or all(
        line.state in ("submitted", "in_progress", "completed") for line in view.lines)
    adapter.close()
