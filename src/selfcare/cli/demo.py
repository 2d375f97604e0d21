"""`selfcare demo` / `make demo`: generate a demo estate, load it, create demo users, serve.

The demo users (one per profile) get fresh random passwords on every run, printed once.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import duckdb

from selfcare.config import Settings
from selfcare.etl import lake as lake_files

DEMO_DIR = Path("data/demo")
# dirty: a few faulty rows in the fact files, so the load report shows rejects and duplicates.
DEMO_ESTATE = {"tenants": 3, "lines": 1500, "months": 12, "seed": 42, "dirty": True}

# Which employee each profile is linked to: picked from the loaded HR feed by shape, not by id,
# so the demo works for any seed. The manager has at least two levels below them.
_PICK_SQL = """
with recursive tree as (
    select employee_id as top, employee_id, 0 as depth from dim_employee where tenant_id = $t
    union all
    select tree.top, e.employee_id, tree.depth + 1
    from dim_employee as e join tree on e.manager_employee_id = tree.employee_id
    where e.tenant_id = $t and tree.depth < 64
),
reach as (
    select top as employee_id, max(depth) as levels, count(*) - 1 as below
    from tree group by top
),
with_lines as (
    select employee_id, count(*) as n from dim_line where tenant_id = $t and employee_id is not null
    group by employee_id
)
select
    (select r.employee_id from reach as r join dim_employee as e using (employee_id)
     where e.manager_employee_id is null order by r.below desc, r.employee_id limit 1) as admin,
    (select e.employee_id from dim_employee as e join dim_cost_centre as c using (cost_centre_id)
     where e.tenant_id = $t order by (lower(c.name) like '%financ%') desc, e.employee_id limit 1)
        as finance,
    (select r.employee_id from reach as r join dim_employee as e using (employee_id)
     where e.manager_employee_id is not null and r.levels >= 2
     order by r.below desc, r.employee_id limit 1) as manager,
    (select r.employee_id from reach as r join with_lines as w using (employee_id)
     where r.below = 0 order by w.n desc, r.employee_id limit 1) as end_user
"""


def pick_demo_employees(lake: Path) -> tuple[str, dict[str, str | None]]:
    """The first tenant and, for each tenant profile, an employee id of the right shape."""
    con = duckdb.connect(":memory:")
    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    tenant = con.execute("select min(tenant_id) from dim_tenant").fetchone()[0]
    if tenant is None:
        raise RuntimeError("the lake has no tenants; run `selfcare load` first")
    row = con.execute(_PICK_SQL, {"t": tenant}).fetchone()
    return tenant, dict(zip(("admin", "finance", "manager", "end_user"), row, strict=True))


# A reason with its quoted values and line numbers left out: one group per kind of fault.
_REASON_KIND = r"""regexp_replace(regexp_replace(reason, '''[^'']*''', '<value>', 'g'),
                                  'line [0-9]+', 'line <n>', 'g')"""


def reject_summary(lake: Path, load_id: str, limit: int = 20) -> str:
    """The reasons of a load's rejected rows grouped by kind and counted, most common first."""
    con = duckdb.connect(":memory:")
    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    rows = con.execute(
        f"select {_REASON_KIND} as why, count(*) as n from etl_rejects where load_id = $id "
        "group by why order by n desc, why limit $limit",
        {"id": load_id, "limit": limit},
    ).fetchall()
    out = ["rejected rows by reason (every row, with line number and raw text, in etl_rejects):"]
    out += [f"  {n:>7,}  {why}" for why, n in rows]
    return "\n".join(out)


def ensure_demo_users(settings: Settings) -> list[tuple[str, str, str]]:
    """Create or reset the five demo users; returns (email, role, password) rows."""
    from selfcare.services import users

    tenant, picks = pick_demo_employees(settings.lake)
    out = []
    for role, email in (
        ("admin", "admin@demo.selfcare.test"),
        ("finance", "finance@demo.selfcare.test"),
        ("manager", "manager@demo.selfcare.test"),
        ("end_user", "user@demo.selfcare.test"),
        ("analyst", "analyst@operator.selfcare.test"),
    ):
        password = secrets.token_urlsafe(12)
        tenant_id = None if role == "analyst" else tenant
        employee_id = None if role == "analyst" else picks[role]
        users.upsert_user(settings.database, email, role, tenant_id, employee_id, password)
        out.append((email, role, password))
    return out


def run_demo(settings: Settings, serve_after: bool = True, host="127.0.0.1", port=8050) -> int:
    from selfcare.etl.load import load
    from selfcare.sample.generate import generate
    from selfcare.services import schema

    # Before the long generate and load: an empty database is migrated, a stale one refused.
    schema.ensure_ready(settings.database)
    marker = DEMO_DIR / ".complete"
    # The marker names the estate's parameters: a folder made with other ones is regenerated.
    stamp = json.dumps(DEMO_ESTATE, sort_keys=True) + "\n"
    if not marker.exists() or marker.read_text() != stamp:
        print(f"Generating the demo estate in {DEMO_DIR} ...", flush=True)
        generate(out=DEMO_DIR, **DEMO_ESTATE)
        marker.write_text(stamp)
    print(f"Loading {DEMO_DIR} into {settings.lake} ...", flush=True)
    report = load(DEMO_DIR, settings.lake)
    print(report.render())
    if report.totals["rejected"]:
        print(reject_summary(settings.lake, report.load_id))
    users = ensure_demo_users(settings)
    print("\nDemo users (passwords are new on every `make demo` and shown only now):")
    for email, role, password in users:
        print(f"  {role:<9} {email:<34} {password}")
    if serve_after:
        from selfcare.web.serve import serve

        print(f"\nOpen http://{host}:{port}/ and sign in with one of the users above.", flush=True)
        serve(settings, host=host, port=port)
    return 2 if report.refused else 0
