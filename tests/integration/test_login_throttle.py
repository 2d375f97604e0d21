"""The login throttle holds under concurrency and across restarts (issue 13).

Regression for the penetration test: 40 concurrent wrong POSTs for one account got 12 × 401
through a limit of 5 (Flask-Limiter in memory, fixed window), and a restart forgot every counter.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from auth_support import ACCOUNTS, add_accounts, portal_settings, sign_in

from selfcare.services import throttle
from selfcare.web import auth
from selfcare.web.app import create_app


@pytest.fixture
def settings(tmp_path, monkeypatch):
    s = portal_settings(tmp_path, monkeypatch)
    add_accounts(s.db)
    return s


@pytest.fixture
def app(settings):
    return create_app(settings)


def test_forty_concurrent_wrong_logins_let_at_most_five_through(app, settings):
    victim = ACCOUNTS["end_user"]
    limit = int(auth.ACCOUNT_LIMIT.split()[0])

    def attempt(i: int) -> int:
        # a fresh address each time: the account limit is what holds
        addr = {"REMOTE_ADDR": f"10.9.{i // 200}.{i % 200 + 1}"}
        return sign_in(app.test_client(), victim, f"wrong guess {i}", environ_base=addr).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(attempt, range(40)))
    assert codes.count(401) <= limit
    assert codes.count(401) + codes.count(429) == 40
    audit = sqlite3.connect(settings.db)
    failed = audit.execute("select count(*) from audit where event = 'login_failed'").fetchone()[0]
    audit.close()
    assert failed == codes.count(401) <= limit  # each password check is counted, none more


def test_a_restart_keeps_the_counters(app, settings):
    victim = ACCOUNTS["end_user"]
    for i in range(int(auth.ACCOUNT_LIMIT.split()[0])):
        assert sign_in(app.test_client(), victim, f"wrong {i}").status_code == 401
    restarted = create_app(settings)  # a new process on the same database
    blocked = sign_in(restarted.test_client(), victim)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_the_window_moves(settings):
    key = [("account:x@t1.test", throttle.Limit(2, 60))]
    assert throttle.reserve(settings.db, key, at=1000.0)[0]
    assert throttle.reserve(settings.db, key, at=1030.0)[0]
    refused, limit, wait = throttle.reserve(settings.db, key, at=1059.0)
    assert refused is None and limit == throttle.Limit(2, 60) and wait == 2
    assert throttle.reserve(settings.db, key, at=1060.5)[0]  # the first left the window
    assert throttle.reserve(settings.db, key, at=1061.0)[0] is None


def test_a_released_attempt_does_not_count(settings):
    key = [("account:y@t1.test", throttle.Limit(1, 60))]
    reserved, _, _ = throttle.reserve(settings.db, key, at=1.0)
    throttle.release(settings.db, reserved)
    assert throttle.reserve(settings.db, key, at=2.0)[0]
