"""Bench users of every profile picked from the lake (read directly, never through the gate),
and the throw-away portal database that holds them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from bench.replay.constants import PASSWORD

# --- the lake, read directly ------------------------------------------------------------------


def lake_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the Parquet files the manifest lists (the published lake, nothing else).

    Partition values stay text (`hive_types_autocast = false`): a tenant folder `007` is '007'.
    """
    manifest = json.loads((lake / "manifest.json").read_text())
    con = duckdb.connect(":memory:")
    con.execute("set threads = 2")
    # the machine is shared with the server under test: spill rather than crowd it out
    con.execute("set memory_limit = '2GB'")
    for table in ("dim_tenant", "dim_employee", "dim_cost_centre", "dim_line", "fct_cdr",
                  "fct_billing"):  # fmt: skip
        files = [str(lake / f) for f in manifest["tables"][table]["files"]]
        if files:
            # a view cannot take parameters: the paths are quoted as SQL literals
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"create view {table} as select * from read_parquet([{listed}], "
                "hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"
            )
        else:  # no files: an empty view with the columns the queries below use
            cols = {"fct_cdr": "msisdn, other_party, tenant_id", "fct_billing": "msisdn, tenant_id"}
            names = cols.get(table, "tenant_id")
            con.execute(
                f"create view {table} as select "
                + ", ".join(f"null::varchar as {c.strip()}" for c in names.split(","))
                + " where false"
            )
    return con


@dataclass(frozen=True)
class BenchUser:
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    label: str  # e.g. "manager-2 (T01, 37 lines)"
    password: str = PASSWORD


def _chain_lines(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int]]:
    """(tenant, employee, lines in their chain, direct reports) for every employee."""
    return con.execute(
        """
        with recursive chain as (
            select tenant_id, employee_id as top, employee_id, 0 as depth from dim_employee
            union
            select e.tenant_id, c.top, e.employee_id, c.depth + 1
            from dim_employee as e
            join chain as c on e.manager_employee_id = c.employee_id and e.tenant_id = c.tenant_id
            where c.depth < 64
        ),
        reports as (
            select tenant_id, manager_employee_id as employee_id, count(*) as n
            from dim_employee where manager_employee_id is not null group by all
        )
        select c.tenant_id, c.top, count(distinct l.msisdn) as lines,
               coalesce(any_value(r.n), 0) as direct
        from chain as c
        left join dim_line as l on l.employee_id = c.employee_id and l.tenant_id = c.tenant_id
        left join reports as r on r.employee_id = c.top and r.tenant_id = c.tenant_id
        group by c.tenant_id, c.top
        order by c.tenant_id, c.top
        """
    ).fetchall()


def _spread(items: list[Any], k: int) -> list[Any]:
    """`k` items spread evenly over a sorted list (smallest to largest)."""
    if k <= 0 or not items:
        return []
    if k >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / max(k - 1, 1))] for i in range(k)]


def profile_mix(users: int) -> dict[str, int]:
    """How many bench users of each profile: every profile at least once (from 5 users), the rest
    mostly managers and end users, the profiles most people have."""
    base = ["admin", "finance", "manager", "end_user", "analyst"]
    extra = ["manager", "end_user", "finance", "manager", "end_user", "end_user", "admin"]
    mix = dict.fromkeys(base, 0)
    for i in range(users):
        role = base[i] if i < len(base) else extra[(i - len(base)) % len(extra)]
        mix[role] += 1
    return mix


def pick_users(con: duckdb.DuckDBPyConnection, users: int) -> list[BenchUser]:
    """Bench users of every profile, chosen from the lake's HR data: managers spread from small to
    large chains (across tenants), end users with lines, admin and finance round-robin over the
    tenants, one analyst."""
    tenants = [r[0] for r in con.execute("select distinct tenant_id from dim_tenant order by 1")
               .fetchall()]  # fmt: skip
    if not tenants:
        raise RuntimeError("the lake has no tenants")
    rows = _chain_lines(con)
    managers = sorted((r for r in rows if r[3] > 0 and r[2] > 0), key=lambda r: (r[2], r[1]))
    leaves = sorted((r for r in rows if r[3] == 0 and r[2] > 0), key=lambda r: (r[0], r[1]))
    mix = profile_mix(users)
    picked: list[BenchUser] = []
    for i in range(mix["admin"]):
        t = tenants[i % len(tenants)]
        picked.append(BenchUser(f"admin{i}@bench.invalid", "admin", t, None, f"admin-{i} ({t})"))
    for i in range(mix["finance"]):
        t = tenants[(i + 1) % len(tenants)] if len(tenants) > 1 and i else tenants[0]
        picked.append(
            BenchUser(f"finance{i}@bench.invalid", "finance", t, None, f"finance-{i} ({t})")
        )
    for i, (t, e, n, _) in enumerate(_spread(managers, mix["manager"])):
        picked.append(BenchUser(f"manager{i}@bench.invalid", "manager", t, e,
                                f"manager-{i} ({t} {e}, {n} lines)"))  # fmt: skip
    # end users: spread over the tenants and the employee list
    for i, (t, e, n, _) in enumerate(_spread(leaves, mix["end_user"])):
        picked.append(BenchUser(f"enduser{i}@bench.invalid", "end_user", t, e,
                                f"end_user-{i} ({t} {e}, {n} lines)"))  # fmt: skip
    for i in range(mix["analyst"]):
        picked.append(BenchUser(f"analyst{i}@bench.invalid", "analyst", None, None, f"analyst-{i}"))
    return picked


def create_portal_db(db: Path, people: Iterable[BenchUser]) -> None:
    """A fresh portal database holding the bench users (the services' real API)."""
    from selfcare.services import schema, users

    schema.close(db)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    schema.ensure_ready(db)
    for p in people:
        users.add_user(db, email=p.email, role=p.role, tenant_id=p.tenant_id,
                       employee_id=p.employee_id, password=p.password)  # fmt: skip


