"""Each bench user's expected scope, computed with DuckDB on the lake's files (never through
`selfcare.gate`, so a gate bug shows up here), and the leak detector that checks replies
against it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from bench.replay.people import BenchUser

# --- expected scope -------------------------------------------------------------------------


# Placeholders the model views put where a line has no employee or cost centre: never a leak.
PLACEHOLDERS = frozenset({"UNASSIGNED", "UNKNOWN", "ACCOUNT_LEVEL"})
DIGITS = re.compile(r"(?<![0-9])[0-9]{6,16}(?![0-9])")
IDS = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


@dataclass
class Universe:
    """Every line, employee, cost centre and tenant id in the lake, with what links them."""

    msisdns: frozenset[str]
    employees: frozenset[str]
    cost_centres: frozenset[str]
    tenants: frozenset[str]
    msisdn_tenant: dict[str, str]
    employee_tenant: dict[str, str]
    cc_tenant: dict[str, str]
    cc_parent: dict[str, str | None]
    employee_cc: dict[str, str | None]
    manager_of: dict[str, str | None]
    line_employee: dict[str, str | None]


@dataclass
class Fence:
    """What one bench user may see (sets of ids); everything else of the universe is a leak."""

    user: BenchUser
    msisdns: set[str]  # the lines of the scope
    employees: set[str]
    cost_centres: set[str]
    tenants: set[str]
    visible_msisdns: set[str] = field(default_factory=set)  # + numbers those lines talked to

    def describe(self) -> dict[str, int]:
        return {"lines": len(self.msisdns), "employees": len(self.employees),
                "cost_centres": len(self.cost_centres)}  # fmt: skip


def read_universe(con: duckdb.DuckDBPyConnection) -> Universe:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    msisdn_tenant: dict[str, str] = {}
    for m, t in rows(
        "select distinct msisdn, tenant_id from dim_line union "
        "select distinct msisdn, tenant_id from fct_billing where msisdn is not null union "
        "select distinct msisdn, tenant_id from fct_cdr where msisdn is not null"
    ):
        msisdn_tenant[str(m)] = str(t)
    emp = rows("select employee_id, tenant_id, manager_employee_id, cost_centre_id "
               "from dim_employee")  # fmt: skip
    ccs = rows("select cost_centre_id, tenant_id, parent_cost_centre_id from dim_cost_centre")
    return Universe(
        msisdns=frozenset(msisdn_tenant),
        employees=frozenset(str(e[0]) for e in emp),
        cost_centres=frozenset(str(c[0]) for c in ccs),
        tenants=frozenset(str(r[0]) for r in rows("select tenant_id from dim_tenant")),
        msisdn_tenant=msisdn_tenant,
        employee_tenant={str(e[0]): str(e[1]) for e in emp},
        cc_tenant={str(c[0]): str(c[1]) for c in ccs},
        cc_parent={str(c[0]): c[2] for c in ccs},
        employee_cc={str(e[0]): e[3] for e in emp},
        manager_of={str(e[0]): e[2] for e in emp},
        line_employee={str(m): e for m, e in rows("select msisdn, employee_id from dim_line")},
    )


def fence_for(u: Universe, user: BenchUser) -> Fence:
    """The user's expected scope from the HR feed and the line register (all chain levels)."""
    if user.role == "analyst":
        return Fence(user, set(), set(), set(), set(), set())
    t = user.tenant_id
    if user.role in ("admin", "finance"):
        msisdns = {m for m, mt in u.msisdn_tenant.items() if mt == t}
        employees = {e for e, et in u.employee_tenant.items() if et == t}
        ccs = {c for c, ct in u.cc_tenant.items() if ct == t}
    else:
        employees = {user.employee_id} if user.employee_id else set()
        if user.role == "manager":
            below: dict[str, list[str]] = {}
            for e, m in u.manager_of.items():
                if m and u.employee_tenant[e] == t:
                    below.setdefault(m, []).append(e)
            todo = list(employees)
            while todo:
                for e in below.get(todo.pop(), []):
                    if e not in employees:
                        employees.add(e)
                        todo.append(e)
        msisdns = {m for m, e in u.line_employee.items() if e in employees
                   and u.msisdn_tenant.get(m) == t}  # fmt: skip
        # the cost centres of the people in scope, with their ancestors (a tree's path to them)
        ccs = set()
        for e in employees:
            c = u.employee_cc.get(e)
            while c and c not in ccs:
                ccs.add(c)
                c = u.cc_parent.get(c)
    return Fence(user, msisdns, employees, ccs, {t} if t else set(), set(msisdns))


def add_called_lines(con: duckdb.DuckDBPyConnection, fences: Iterable[Fence], u: Universe) -> None:
    """Let each fence also see the known lines its own lines talked to: a called number shows on
    the caller's pages (top numbers, itemised records) even when it is someone else's line.

    One scan of the CDRs joined to every fence's lines, in DuckDB: at 100 M rows the pairs of
    talking lines are far too many to hold in Python.
    """
    fences = list(fences)
    pairs = [(i, m) for i, f in enumerate(fences) for m in f.msisdns]
    if not pairs:
        return
    scope = pa.table({"fence": [i for i, _ in pairs], "msisdn": [m for _, m in pairs]})
    known = pa.table({"msisdn": sorted(u.msisdns)})
    con.register("bench_scope", scope)
    con.register("bench_known", known)
    rows = con.execute(
        "select distinct s.fence, c.other_party from fct_cdr as c "
        "join bench_scope as s on s.msisdn = c.msisdn "
        "where c.other_party in (select msisdn from bench_known)"
    ).fetchall()
    for i, other in rows:
        fences[i].visible_msisdns.add(str(other))
    con.unregister("bench_scope")
    con.unregister("bench_known")


def leaks_in(text: str, fence: Fence, u: Universe) -> list[str]:
    """Every id in `text` that belongs to the lake but lies outside the user's fence."""
    found: list[str] = []
    for m in set(DIGITS.findall(text)) & u.msisdns:
        if m not in fence.visible_msisdns:
            found.append(f"line {m} (tenant {u.msisdn_tenant[m]})")
    tokens = set(IDS.findall(text)) - PLACEHOLDERS
    for e in tokens & u.employees:
        if e not in fence.employees:
            found.append(f"employee {e} (tenant {u.employee_tenant[e]})")
    for c in tokens & u.cost_centres:
        if c not in fence.cost_centres:
            found.append(f"cost centre {c} (tenant {u.cc_tenant[c]})")
    if fence.user.role != "analyst":
        for t in tokens & u.tenants:
            if t not in fence.tenants:
                found.append(f"tenant {t}")
    return sorted(found)


