"""Which database the settings point at: SELFCARE_DATABASE_URL wins over SELFCARE_DB; a --db flag
(an explicit path) wins over both."""

from __future__ import annotations

from pathlib import Path

from selfcare.config import load_settings

PG = "postgresql+psycopg://portal@db.example/selfcare"


def test_default_is_sqlite_at_data_app_db(monkeypatch):
    monkeypatch.delenv("SELFCARE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SELFCARE_DB", raising=False)
    s = load_settings()
    assert s.database_url is None
    assert s.database == "sqlite+pysqlite:///" + str(Path("data/app.db").resolve())


def test_database_url_wins_over_selfcare_db(monkeypatch, tmp_path):
    monkeypatch.setenv("SELFCARE_DB", str(tmp_path / "app.db"))
    monkeypatch.setenv("SELFCARE_DATABASE_URL", PG)
    assert load_settings().database == PG


def test_explicit_db_flag_wins_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SELFCARE_DATABASE_URL", PG)
    s = load_settings(db=tmp_path / "x.db")
    assert s.database == "sqlite+pysqlite:///" + str((tmp_path / "x.db").resolve())
