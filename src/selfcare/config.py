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


# --- process settings, read where they take effect (but only here) ------------------------------
# Each is read when its module needs it, as before: the engine's memory and the result cache when
# the gate is imported, the proxy hops when the app is built, the loader's test hook at its pause
# points. No other module reads a SELFCARE_ variable (tests/unit/test_config.py checks).

DEFAULT_ENGINE_MEMORY = "600MB"
DEFAULT_RESULT_CACHE_MB = 128
# The loader's test hook (selfcare.etl.load re-exports the names): sleep at a named point so a
# test can SIGKILL the load there.
PAUSE_AT = "SELFCARE_TEST_PAUSE_AT"
PAUSE_SECONDS = "SELFCARE_TEST_PAUSE_SECONDS"


def engine_memory() -> str:
    """SELFCARE_ENGINE_MEMORY: the query engine's working memory per process (DuckDB syntax)."""
    return os.environ.get("SELFCARE_ENGINE_MEMORY", DEFAULT_ENGINE_MEMORY)


def result_cache_mb() -> int:
    """SELFCARE_RESULT_CACHE_MB: the gate's per-process cache of answers, in MiB."""
    return int(os.environ.get("SELFCARE_RESULT_CACHE_MB", str(DEFAULT_RESULT_CACHE_MB)))


def proxy_hops() -> int:
    """SELFCARE_PROXY_HOPS: how many reverse proxies' X-Forwarded-* headers to trust (0: none)."""
    return int(os.environ.get("SELFCARE_PROXY_HOPS", "0") or 0)


def pause_point() -> str:
    """SELFCARE_TEST_PAUSE_AT: where the loader sleeps ('' = nowhere; tests only)."""
    return os.environ.get(PAUSE_AT, "")


def pause_seconds() -> float:
    """SELFCARE_TEST_PAUSE_SECONDS: how long it sleeps there (tests only)."""
    return float(os.environ.get(PAUSE_SECONDS, "60"))


# --- provisioning and the worker (issue 12) -----------------------------------------------------
# SELFCARE_PROVISIONING picks the adapter that carries approved orders to the operator;
# SELFCARE_WORKER=0 keeps `selfcare serve` / `selfcare demo` from starting the worker in-process
# (run `selfcare worker` separately then). The simulated operator keeps its state in a file
# beside the portal's SQLite database; the outbox's folders default to beside it too.

DEFAULT_PROVISIONING = "simulated"
DEFAULT_PROVISIONING_DELAY = 5.0  # seconds until the simulated operator completes an order
DEFAULT_WORKER_INTERVAL = 2.0  # seconds between two rounds of the worker


@dataclass(frozen=True)
class ProvisioningSettings:
    adapter: str  # simulated | outbox
    delay: float  # simulated: seconds until an order completes (in progress at half of it)
    outbox_dir: Path | None  # outbox: where order sheets go (None: `outbox/` beside the db)
    inbox_dir: Path | None  # outbox: where the operator's answers arrive (None: `inbox/`)
    worker: bool  # start the worker in-process with serve/demo
    interval: float  # seconds between worker rounds


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


def provisioning_settings() -> ProvisioningSettings:
    """SELFCARE_PROVISIONING, _PROVISIONING_DELAY, SELFCARE_OUTBOX_DIR, SELFCARE_INBOX_DIR,
    SELFCARE_WORKER, SELFCARE_WORKER_INTERVAL."""
    env = os.environ
    outbox = env.get("SELFCARE_OUTBOX_DIR") or None
    inbox = env.get("SELFCARE_INBOX_DIR") or None
    return ProvisioningSettings(
        adapter=(env.get("SELFCARE_PROVISIONING") or DEFAULT_PROVISIONING).strip().lower(),
        delay=float(env.get("SELFCARE_PROVISIONING_DELAY") or DEFAULT_PROVISIONING_DELAY),
        outbox_dir=Path(outbox) if outbox else None,
        inbox_dir=Path(inbox) if inbox else None,
        worker=_flag(env.get("SELFCARE_WORKER"), True),
        interval=float(env.get("SELFCARE_WORKER_INTERVAL") or DEFAULT_WORKER_INTERVAL),
    )
