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


# --- resource limits (issue 13): what one user, or the lake, can cost the server ---------------
# One user must not stall the server: exports and page queries are counted per user (per server
# process), every statement of the engine has a time budget, and exports as a whole leave
# waitress threads free for pages and /healthz. Read once, where they take effect (the gate at
# import, the exports and `selfcare serve` when the app is built).

DEFAULT_EXPORTS_PER_USER = 2
DEFAULT_EXPORTS_TOTAL = 4  # of waitress's 8 threads: the other 4 stay free for pages and /healthz
DEFAULT_QUERIES_PER_USER = 4  # a page fires several callbacks at once; a browser sends up to 6
DEFAULT_QUERY_WAIT = 5.0  # seconds a page query waits for one of its user's slots
DEFAULT_QUERY_BUDGET = 30.0  # seconds per statement (a 12-month itemised day chunk takes < 1 s)
DEFAULT_RETRY_AFTER = 10  # seconds, in the Retry-After of a refusal
DEFAULT_THREADS = 8
DEFAULT_CONNECTION_LIMIT = 100


@dataclass(frozen=True)
class LimitSettings:
    exports_per_user: int  # streamed exports one user may run at once (beyond: 429)
    exports_total: int  # streamed exports the process runs at once (beyond: 503)
    queries_per_user: int  # uncached page queries one user may run at once
    query_wait: float  # seconds a page query waits for a slot before it is refused
    query_budget: float  # seconds a statement may run before the gate interrupts the engine
    retry_after: int  # seconds, sent as Retry-After with a 429 or 503
    threads: int  # waitress worker threads
    connection_limit: int  # waitress: open connections at most (beyond: not accepted)


def _positive(name: str, default: float, kind: type = int, zero: bool = False) -> float:
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    value = kind(text)
    if value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be {'0 or more' if zero else 'positive'}, not {text}")
    return value


def limit_settings() -> LimitSettings:
    """SELFCARE_EXPORTS_PER_USER, _EXPORTS_TOTAL, _QUERIES_PER_USER, _QUERY_WAIT, _QUERY_BUDGET,
    SELFCARE_RETRY_AFTER, SELFCARE_THREADS and SELFCARE_CONNECTION_LIMIT, with their defaults."""
    return LimitSettings(
        exports_per_user=int(_positive("SELFCARE_EXPORTS_PER_USER", DEFAULT_EXPORTS_PER_USER)),
        exports_total=int(_positive("SELFCARE_EXPORTS_TOTAL", DEFAULT_EXPORTS_TOTAL)),
        queries_per_user=int(_positive("SELFCARE_QUERIES_PER_USER", DEFAULT_QUERIES_PER_USER)),
        query_wait=float(_positive("SELFCARE_QUERY_WAIT", DEFAULT_QUERY_WAIT, float, zero=True)),
        query_budget=float(_positive("SELFCARE_QUERY_BUDGET", DEFAULT_QUERY_BUDGET, float)),
        retry_after=int(_positive("SELFCARE_RETRY_AFTER", DEFAULT_RETRY_AFTER)),
        threads=int(_positive("SELFCARE_THREADS", DEFAULT_THREADS)),
        connection_limit=int(_positive("SELFCARE_CONNECTION_LIMIT", DEFAULT_CONNECTION_LIMIT)),
    )


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


# --- mail: how notifications leave the portal ---------------------------------------------------
# With SELFCARE_SMTP_HOST set, mails go to that SMTP server; without it (the embedded default)
# they are written to a local maildir beside the database, so nothing is lost and a developer can
# read them (`SELFCARE_MAILDIR` moves it).

DEFAULT_MAIL_FROM = "SelfCare <selfcare@localhost>"
DEFAULT_MAILDIR = "maildir"  # beside the database file


@dataclass(frozen=True)
class MailSettings:
    """Where mails go: an SMTP server when `smtp_host` is set, else the maildir."""

    maildir: Path
    mail_from: str = DEFAULT_MAIL_FROM
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # The portal's own address for the links in mails ("" = relative links, e.g. /requests/7).
    base_url: str = ""
    smtp_timeout: float = 30.0

    @property
    def channel(self) -> str:
        """'smtp' or 'maildir': which one this process delivers through."""
        return "smtp" if self.smtp_host else "maildir"

    def where(self) -> str:
        """Where mails go, in words for the log and the demo (no password)."""
        if self.smtp_host:
            tls = " with STARTTLS" if self.smtp_starttls else ""
            return f"SMTP {self.smtp_host}:{self.smtp_port}{tls}"
        return f"the maildir {self.maildir}"


def _mail_flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_mail_settings(settings: Settings | None = None) -> MailSettings:
    """SELFCARE_SMTP_HOST, _PORT, _USER, _PASSWORD, _STARTTLS, SELFCARE_MAIL_FROM, SELFCARE_MAILDIR
    and SELFCARE_BASE_URL, with their defaults.

    STARTTLS defaults to on when a user is set (a password is never sent in the clear unless
    SELFCARE_SMTP_STARTTLS=0 says so) and off otherwise; the port defaults to 587 with STARTTLS
    and 25 without. The maildir defaults to `maildir/` beside the SQLite database file.
    """
    env = os.environ
    settings = settings or load_settings()
    host = (env.get("SELFCARE_SMTP_HOST") or "").strip() or None
    user = env.get("SELFCARE_SMTP_USER") or None
    starttls = _mail_flag(env.get("SELFCARE_SMTP_STARTTLS"), default=bool(user))
    port_text = (env.get("SELFCARE_SMTP_PORT") or "").strip()
    maildir = env.get("SELFCARE_MAILDIR") or None
    return MailSettings(
        maildir=Path(maildir) if maildir else Path(settings.db).parent / DEFAULT_MAILDIR,
        mail_from=env.get("SELFCARE_MAIL_FROM") or DEFAULT_MAIL_FROM,
        smtp_host=host,
        smtp_port=int(port_text) if port_text else (587 if starttls else 25),
        smtp_user=user,
        smtp_password=env.get("SELFCARE_SMTP_PASSWORD") or None,
        smtp_starttls=starttls,
        base_url=(env.get("SELFCARE_BASE_URL") or "").rstrip("/"),
    )
