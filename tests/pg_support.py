"""A throwaway PostgreSQL cluster for the database tests, started by the tests themselves.

One cluster per pytest process (per xdist worker): `initdb` in a temporary folder, `postgres`
listening only on a Unix socket in that folder (no TCP port to collide on), a template database
migrated once to the head revision, and a fresh database per test copied from it
(`CREATE DATABASE ... TEMPLATE`, a file copy: fast).

initdb and postgres refuse to run as root, so as root they run as the `postgres` OS user
(Debian's package creates it). Without PostgreSQL installed the PostgreSQL cases skip with the
reason; with CI=true they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

PORT = 5432  # only names the socket file: the server listens on no TCP address
TEMPLATE = "selfcare_template"


def _bin_dir() -> Path | None:
    """Debian's PostgreSQL binaries (newest version), or PG_BIN when set (even to nothing)."""
    if "PG_BIN" in os.environ:
        candidates = [os.environ["PG_BIN"]]
    else:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        found = shutil.which("initdb")
        candidates += [str(Path(found).parent)] if found else []
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (CI=true) a PostgreSQL case that cannot run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


@dataclass
class Cluster:
    root: Path
    bin: Path
    as_postgres: bool

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.root}&port={PORT}"

    def admin(self):
        import psycopg

        return psycopg.connect(
            host=str(self.root), port=PORT, user="postgres", dbname="postgres", autocommit=True
        )

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb + pg_ctl start in a new temporary folder; raises RuntimeError saying why not."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("no initdb found (apt-get install postgresql)")
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="selfcare-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(root, bin_dir, as_postgres)
    init = cluster.run(
        "initdb", "-D", str(root / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
        "--no-sync", "--no-instructions",
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError("initdb failed: " + (init.stderr.strip().splitlines() or ["?"])[-1])
    options = (
        f"-k {root} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=50"
    )
    start = cluster.run(
        "pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-o", options,
        "-w", "-t", "60", "start",
    )  # fmt: skip
    if start.returncode != 0:
        log = (root / "server.log").read_text(errors="replace")[-500:]
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"postgres did not start: {start.stderr.strip()} {log}")
    return cluster


def make_template(cluster: Cluster) -> None:
    """The template database, migrated to the head revision, with no connection left open."""
    from selfcare.appdb import database, forget, upgrade

    with cluster.admin() as con:
        con.execute(f'create database "{TEMPLATE}"')
    url = cluster.url(TEMPLATE)
    upgrade(database(url))
    forget(url)


def fresh_database(cluster: Cluster, template: str | None = TEMPLATE) -> str:
    """A new database (a copy of the migrated template, or empty with template=None)."""
    name = "t_" + uuid.uuid4().hex[:16]
    with cluster.admin() as con:
        if template:
            con.execute(f'create database "{name}" template "{template}"')
        else:
            con.execute(f'create database "{name}"')
    return cluster.url(name)


def drop_database(cluster: Cluster, url: str) -> None:
    from selfcare.appdb import forget

    forget(url)
    name = url.split("/")[3].split("?")[0]
    with cluster.admin() as con:
        con.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def pg_cluster():
    """The process's PostgreSQL cluster (skips or, with CI=true, fails when there is none)."""
    try:
        cluster = start_cluster()
        make_template(cluster)
    except (OSError, RuntimeError) as e:
        unavailable(str(e))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, migrated PostgreSQL database for one test."""
    url = fresh_database(pg_cluster)
    yield url
    drop_database(pg_cluster, url)


@pytest.fixture
def pg_empty_url(pg_cluster):
    """A fresh PostgreSQL database with no tables at all."""
    url = fresh_database(pg_cluster, template=None)
    yield url
    drop_database(pg_cluster, url)


def raw_rows(db, sql, params=()):
    """Rows read straight from the database with its own driver, not through the services
    (SQL written with `?` placeholders, as for sqlite3)."""
    if isinstance(db, Path):
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params).fetchall()]
        finally:
            con.close()
    import psycopg
    from psycopg.rows import dict_row
    from sqlalchemy.engine import make_url

    url = make_url(db)
    with psycopg.connect(
        host=url.query["host"],
        port=int(url.query["port"]),
        user=url.username,
        dbname=url.database,
        row_factory=dict_row,
    ) as con:
        return [dict(r) for r in con.execute(sql.replace("?", "%s"), params).fetchall()]
