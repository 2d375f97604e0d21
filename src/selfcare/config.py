"""Settings shared by every command: environment variables with documented defaults.

Command-line flags override the environment; the environment overrides the defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAKE = "data/lake"
DEFAULT_DB = "data/app.db"


@dataclass(frozen=True)
class Settings:
    lake: Path
    db: Path
    secret_key: str | None
    https: bool
    production: bool
    # The portal's database: SELFCARE_DATABASE_URL (e.g. postgresql+psycopg://...) when set,
    # else None and SQLite at `db`. `database` is what to connect to either way.
    database_url: str | None = None

    @property
    def database(self) -> str:
        """The portal database's URL: SELFCARE_DATABASE_URL, else SQLite at `db`."""
        if self.database_url:
            return self.database_url
        return "sqlite+pysqlite:///" + str(Path(self.db).resolve())


def load_settings(
    lake: str | os.PathLike[str] | None = None,
    db: str | os.PathLike[str] | None = None,
) -> Settings:
    """Resolve settings: explicit arguments, then SELFCARE_* variables, then defaults.

    An explicit `db` (the --db flag) means that SQLite file, even when SELFCARE_DATABASE_URL is
    set: flags override the environment.
    """
    env = os.environ
    return Settings(
        lake=Path(lake or env.get("SELFCARE_LAKE") or DEFAULT_LAKE),
        db=Path(db or env.get("SELFCARE_DB") or DEFAULT_DB),
        secret_key=env.get("SELFCARE_SECRET_KEY") or None,
        https=env.get("SELFCARE_HTTPS", "").lower() in {"1", "true", "yes"},
        production=env.get("SELFCARE_ENV", "production").lower() == "production",
        database_url=None if db else (env.get("SELFCARE_DATABASE_URL") or None),
    )
