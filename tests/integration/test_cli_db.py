"""`selfcare db upgrade|current`, and serve/demo/users on a database behind the code: real
subprocesses, real files (and a real PostgreSQL database through SELFCARE_DATABASE_URL)."""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from selfcare.appdb import migrate
from tests.integration.auth_support import STRONG_SECRET
from tests.integration.test_cli import selfcare
from tests.pg_support import raw_rows

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "appdb" / "app-0.1.0.db"


@pytest.fixture
def legacy(tmp_path) -> Path:
    path = tmp_path / "data" / "app.db"
    path.parent.mkdir()
    shutil.copyfile(LEGACY, path)
    return path


def count(path: Path, table: str) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


def one_line_naming_upgrade(result) -> bool:
    lines = result.stderr.strip().splitlines()
    return result.returncode == 1 and len(lines) == 1 and "selfcare db upgrade" in lines[0]


def test_db_has_help():
    result = selfcare("db", "--help")
    assert result.returncode == 0 and "usage: selfcare db" in result.stdout
    assert "upgrade" in result.stdout and "current" in result.stdout


def test_commands_refuse_a_legacy_database_until_upgraded(legacy, tmp_path):
    env = {"SELFCARE_DB": str(legacy), "SELFCARE_SECRET_KEY": STRONG_SECRET}
    current = selfcare("db", "current", env=env)
    assert current.returncode == 0 and "legacy" in current.stdout
    assert one_line_naming_upgrade(selfcare("users", "list", env=env))
    # serve refuses before it listens (else this would run until the timeout)
    served = selfcare("serve", "--port", "1", "--lake", str(tmp_path / "lake"), env=env)
    assert one_line_naming_upgrade(served), served.stderr
    demo = selfcare("demo", "--no-serve", "--lake", str(tmp_path / "lake"), env=env)
    assert one_line_naming_upgrade(demo), demo.stderr

    upgraded = selfcare("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert migrate.HEAD in upgraded.stdout
    assert [count(legacy, t) for t in ("users", "audit", "api_tokens")] == [6, 15, 3]
    listed = selfcare("users", "list", env=env)
    assert listed.returncode == 0 and "analyst@operator.test" in listed.stdout
    again = selfcare("db", "upgrade", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert f"current at {migrate.HEAD}" in selfcare("db", "current", env=env).stdout


def test_an_empty_database_is_migrated_by_the_first_command(tmp_path):
    env = {"SELFCARE_DB": str(tmp_path / "new" / "app.db")}
    assert "empty" in selfcare("db", "current", env=env).stdout
    assert selfcare("users", "list", env=env).returncode == 0
    assert f"current at {migrate.HEAD}" in selfcare("db", "current", env=env).stdout


def test_cli_keeps_the_employee_rule_of_the_users_page(tmp_path):
    env = {"SELFCARE_DB": str(tmp_path / "app.db")}
    for role in ("manager", "end_user"):
        refused = selfcare(
            "users", "add", "--email", f"{role}@t1.test", "--role", role, "--tenant", "T1",
            "--password-stdin", env=env, stdin="a sufficiently long password\n",
        )  # fmt: skip
        assert refused.returncode == 1 and "needs an employee" in refused.stderr
    assert "t1.test" not in selfcare("users", "list", env=env).stdout
    ok = selfcare(
        "users", "add", "--email", "m@t1.test", "--role", "manager", "--tenant", "T1",
        "--employee-id", "E7", "--password-stdin", env=env, stdin="a sufficiently long password\n",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr


def test_database_url_selects_postgresql(pg_url, tmp_path):
    # SELFCARE_DB points elsewhere: the URL wins, and the SQLite file is never created
    env = {"SELFCARE_DATABASE_URL": pg_url, "SELFCARE_DB": str(tmp_path / "unused.db")}
    added = selfcare(
        "users", "add", "--email", "Pg@T1.test", "--role", "finance", "--tenant", "T1",
        "--password-stdin", env=env, stdin="a sufficiently long password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert [r["email"] for r in raw_rows(pg_url, "select email from users")] == ["pg@t1.test"]
    assert not (tmp_path / "unused.db").exists()
    current = selfcare("db", "current", env=env)
    assert "postgresql+psycopg" in current.stdout and "current" in current.stdout
