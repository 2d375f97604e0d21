"""Helpers for the sign-in, guard and token tests: a portal over a temporary SQLite database and
an empty lake (those tests need no data), plus a few users.

Everything is real: files on disk, the real app, Flask's test client or a waitress server.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from selfcare.config import Settings, load_settings
from selfcare.services import users

STRONG_SECRET = "k3Y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    password: str = PASSWORD


ACCOUNTS = {
    "admin": Account("Admin@T1.test", "admin", "T1", "E001"),
    "manager": Account("manager@t1.test", "manager", "T1", "E002"),
    "end_user": Account("user@t1.test", "end_user", "T1", "E003"),
    "analyst": Account("analyst@operator.test", "analyst", None, None),
}


def portal_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str | None) -> Settings:
    """Point SELFCARE_* at a temp DB and an empty lake (the gate reads the environment too)."""
    lake = tmp_path / "lake"
    lake.mkdir(exist_ok=True)
    values: dict[str, str | None] = {
        "SELFCARE_LAKE": str(lake),
        "SELFCARE_DB": str(tmp_path / "app" / "app.db"),
        "SELFCARE_SECRET_KEY": STRONG_SECRET,
        "SELFCARE_ENV": "production",
        "SELFCARE_HTTPS": None,
        "SELFCARE_PROXY_HOPS": None,
    }
    values.update(env)
    for key, value in values.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    return load_settings()


def add_accounts(db: Path) -> dict[str, int]:
    return {
        name: users.add_user(db, a.email, a.role, a.tenant_id, a.employee_id, a.password)
        for name, a in ACCOUNTS.items()
    }


def sign_in(client, account: Account, password: str | None = None, **kwargs):
    return client.post(
        "/login",
        data={"email": account.email, "password": password or account.password},
        **kwargs,
    )
