"""The services' tests run on both backends: SQLite (a file in tmp_path) and PostgreSQL (a fresh
database in the tests' own throwaway cluster, tests/pg_support.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """Where the services keep their state: a SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "state" / "app.db"
    return request.getfixturevalue("pg_url")
