"""The `selfcare` console script as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.subprocess  # every test runs the console script

# the benchmark is `make bench` (python -m bench.run), not part of the installed product
SUBCOMMANDS = ["generate", "load", "serve", "demo", "users", "tokens"]


def selfcare(*args: str, env: dict | None = None, stdin: str | None = None):
    return subprocess.run(
        [sys.executable, "-m", "selfcare.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = selfcare(command, "--help")
    assert result.returncode == 0
    assert "usage: selfcare " + command in result.stdout


def test_failure_is_one_line_with_non_zero_exit(tmp_path):
    result = selfcare("load", str(tmp_path / "missing"), "--lake", str(tmp_path / "lake"))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing" in result.stderr


def test_users_lifecycle_from_the_command_line(tmp_path):
    env = {"SELFCARE_DB": str(tmp_path / "app.db")}
    added = selfcare(
        "users", "add", "--email", "Fin@Example.test", "--role", "finance",
        "--tenant", "T01", "--employee-id", "E0001", "--password-stdin",
        env=env, stdin="a sufficiently long password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = selfcare("users", "list", env=env)
    assert "fin@example.test" in listed.stdout and "finance" in listed.stdout
    assert selfcare("users", "set-role", "--email", "fin@example.test", "--role", "admin",
                    env=env).returncode == 0  # fmt: skip
    assert selfcare("users", "deactivate", "--email", "fin@example.test", env=env).returncode == 0
    listed = selfcare("users", "list", env=env).stdout
    assert "admin" in listed and listed.rstrip().endswith("no")
    weak = selfcare(
        "users", "add", "--email", "b@example.test", "--role", "admin", "--tenant", "T01",
        "--password-stdin", env=env, stdin="short\n",
    )  # fmt: skip
    assert weak.returncode != 0 and "12 characters" in weak.stderr


def test_tokens_are_shown_once_and_revocable(tmp_path):
    env = {"SELFCARE_DB": str(tmp_path / "app.db")}
    selfcare(
        "users", "add", "--email", "a@example.test", "--role", "analyst", "--password-stdin",
        env=env, stdin="a sufficiently long password\n",
    )  # fmt: skip
    created = selfcare("tokens", "create", "--email", "a@example.test", "--name", "cron", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.split(": ", 1)[1].split()[0]
    listed = selfcare("tokens", "list", "--email", "a@example.test", env=env).stdout
    assert secret not in listed and "active" in listed
    assert selfcare("tokens", "revoke", "--email", "a@example.test", "1", env=env).returncode == 0
    assert "revoked" in selfcare("tokens", "list", "--email", "a@example.test", env=env).stdout


def test_token_lifetime_is_chosen_with_days(tmp_path):
    from datetime import UTC, datetime, timedelta

    env = {"SELFCARE_DB": str(tmp_path / "app.db")}
    selfcare(
        "users", "add", "--email", "a@example.test", "--role", "analyst", "--password-stdin",
        env=env, stdin="a sufficiently long password\n",
    )  # fmt: skip
    before = datetime.now(UTC).replace(microsecond=0)
    made = selfcare("tokens", "create", "--email", "a@example.test", "--name", "q", "--days", "30",
                    env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    con = sqlite3.connect(tmp_path / "app.db")
    (expires,) = con.execute("select expires_at from api_tokens").fetchone()
    con.close()
    delta = datetime.fromisoformat(expires) - before
    assert timedelta(days=30) <= delta <= timedelta(days=30, minutes=5)
    too_long = selfcare("tokens", "create", "--email", "a@example.test", "--name", "y",
                        "--days", "366", env=env)  # fmt: skip
    assert too_long.returncode != 0 and "1 to 365 days" in too_long.stderr


@pytest.mark.slow
def test_generate_then_load_reports_every_row(tmp_path):
    drop, lake = tmp_path / "drop", tmp_path / "lake"
    gen = selfcare("generate", "--out", str(drop), "--tenants", "2", "--lines", "40",
                   "--months", "2", "--start", "2026-01", "--seed", "3")  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    first = selfcare("load", str(drop), "--lake", str(lake))
    assert first.returncode == 0, first.stderr
    assert "refused" in first.stdout and "rejected 0" in first.stdout
    again = selfcare("load", str(drop), "--lake", str(lake))
    assert again.returncode == 0
    assert "0 loaded" in again.stdout  # every file skipped: already loaded
