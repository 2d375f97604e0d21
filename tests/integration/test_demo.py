"""The demo's own reads of the lake (`selfcare demo`): which employee each demo profile gets, and
the load's rejects grouped by kind. They run through the gate's trusted entry point
(selfcare.gate.trusted, the `demo` query namespace); expected values come from pandas on the raw
CSVs and on the lake's Parquet files, never from those queries."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from selfcare import gate
from selfcare.cli.demo import pick_demo_employees, reject_summary
from selfcare.contract import KINDS
from selfcare.etl import lake as lk
from selfcare.etl.load import load
from selfcare.gate import trusted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drop"
GOOD_CDR = "Z1,A1,27820000001,2026-01-10T08:00:00+02:00,VOICE,MO,27831234567,OFFNET,,120,0,,1.5000,"


def _tree(emp: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """employee_id → (how many employees below them, how many levels below them), walked in
    Python over the HR feed."""
    reports: dict[str, list[str]] = {}
    for e, m in zip(emp.employee_id, emp.manager_employee_id, strict=True):
        if m:
            reports.setdefault(m, []).append(e)
    out = {}
    for top in emp.employee_id:
        below, levels, frontier, depth = 0, 0, [top], 0
        while frontier:
            frontier = [c for f in frontier for c in reports.get(f, [])]
            depth += 1
            if frontier:
                below += len(frontier)
                levels = depth
        out[top] = (below, levels)
    return out


def _first(candidates: list[tuple]) -> str | None:
    return min(candidates)[-1] if candidates else None


def test_demo_profiles_get_employees_of_the_right_shape(lake, raw):
    tenant = min(raw.tenants.tenant_id)
    emp = raw.employees[raw.employees.tenant_id == tenant]
    tree = _tree(emp)
    lines = raw.lines[(raw.lines.tenant_id == tenant) & (raw.lines.employee_id != "")]
    n_lines = lines.groupby("employee_id").size().to_dict()
    centre = dict(zip(raw.cost_centres.cost_centre_id, raw.cost_centres.name, strict=True))
    manager_of = dict(zip(emp.employee_id, emp.manager_employee_id, strict=True))
    expected = {
        "admin": _first([(-tree[e][0], e) for e in emp.employee_id if not manager_of[e]]),
        "finance": _first(
            [
                (0 if "financ" in centre[c].lower() else 1, e)
                for e, c in zip(emp.employee_id, emp.cost_centre_id, strict=True)
                if c in centre
            ]
        ),
        "manager": _first(
            [(-tree[e][0], e) for e in emp.employee_id if manager_of[e] and tree[e][1] >= 2]
        ),
        "end_user": _first(
            [(-n_lines[e], e) for e in emp.employee_id if tree[e][0] == 0 and e in n_lines]
        ),
    }
    assert expected["manager"] is not None  # the small estate has a manager two levels up

    got_tenant, picks = pick_demo_employees(lake)

    assert got_tenant == tenant
    assert picks == expected


def test_demo_refuses_an_empty_lake(tmp_path):
    with pytest.raises(RuntimeError, match="no tenants"):
        pick_demo_employees(tmp_path)


def _dirty_lake(tmp_path: Path) -> tuple[Path, str]:
    drop = tmp_path / "drop"
    drop.mkdir()
    for f in FIXTURES.iterdir():
        shutil.copy(f, drop)
    header = ",".join(KINDS["cdr"].column_names)
    rows = [
        GOOD_CDR,
        GOOD_CDR.replace("Z1,A1", "Z2,X9"),  # unknown account
        GOOD_CDR.replace("Z1,A1", "Z3,X8"),  # unknown account, another value
        GOOD_CDR.replace("Z1,A1", "Z4,X7"),  # and a third
        "Z5,A1,27820000001,2026-01-10T08:00:00+02:00",  # too few fields
        GOOD_CDR.replace("Z1,", "Z6,").replace("VOICE", "FAX"),  # not a service
        GOOD_CDR.replace("1.5000", "2.5000"),  # Z1 again, different content
    ]
    (drop / "cdr_2026-02.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    lake = tmp_path / "lake"
    report = load(drop, lake, progress=False)
    assert report.totals["rejected"] == 6, report.render()
    return lake, report.load_id


def _expected_summary(lake: Path, load_id: str, limit: int) -> list[str]:
    """The rejects of the load read straight from the lake's Parquet files, grouped in Python."""
    files = lk.read_manifest(lake)["tables"]["etl_rejects"]["files"]
    rejects = pd.concat([pd.read_parquet(lake / f) for f in files], ignore_index=True)
    reasons = rejects[rejects.load_id == load_id].reason
    kinds = reasons.map(lambda r: re.sub("'[^']*'", "<value>", r)).map(
        lambda r: re.sub(r"line [0-9]+", "line <n>", r)
    )
    counts = sorted(kinds.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [f"  {n:>7,}  {why}" for why, n in counts]


def test_reject_summary_groups_a_loads_rejects_by_kind(tmp_path):
    lake, load_id = _dirty_lake(tmp_path)
    expected = _expected_summary(lake, load_id, 20)
    assert expected[0].startswith("        3  account_id")  # the three unknown accounts, first

    lines = reject_summary(lake, load_id).splitlines()

    assert lines[0].startswith("rejected rows by reason")
    assert lines[1:] == expected
    assert reject_summary(lake, load_id, limit=2).splitlines()[1:] == expected[:2]
    assert reject_summary(lake, "no-such-load").splitlines()[1:] == []


def test_trusted_entry_runs_only_operator_queries(lake):
    with pytest.raises(gate.NotAllowed):
        trusted.run("reports.bill_periods", lake)
    with pytest.raises(gate.NotAllowed):
        trusted.run("scope.manager_lines", lake, tenant_id="T01", employee_id="E1")
    with pytest.raises(gate.GateError, match="no such query"):
        trusted.run("demo.no_such_question", lake)
    with pytest.raises(gate.GateError, match="missing parameters"):
        trusted.run("demo.profile_employees", lake)
    with pytest.raises(gate.GateError, match="unexpected"):
        trusted.run("demo.first_tenant", lake, tenant_id="T01")


def test_demo_seeds_requests_in_several_states_once(lake, raw, tmp_path, monkeypatch):
    """`make demo` shows open, rejected and approved requests: placed through the order services
    on the end user's own lines with services those lines do not have (raw CSVs), once only."""
    from sqlalchemy import create_engine, text

    from selfcare.cli.demo import ensure_demo_users, seed_demo_orders
    from selfcare.config import Settings
    from selfcare.services import estate, schema

    monkeypatch.setenv("SELFCARE_LAKE", str(lake))
    estate.clear_cache()
    settings = Settings(lake=lake, db=tmp_path / "app.db", secret_key=None, https=False,
                        production=False)
    schema.ensure_ready(settings.database)
    ensure_demo_users(settings)
    seeded = seed_demo_orders(settings)
    assert seeded

    engine = create_engine(settings.database)
    with engine.connect() as c:
        orders = pd.read_sql(text("select o.id, o.state, o.requester_email, o.params, l.msisdn "
                                  "from orders o join order_lines l on l.order_id = o.id"), c)
        eu = c.execute(text("select employee_id from users where email = :e"),
                       {"e": "user@demo.selfcare.test"}).scalar_one()
        notes = c.execute(text("select count(*) from notifications")).scalar_one()
        mails = c.execute(text("select count(*) from mail_outbox")).scalar_one()
    assert len(orders) == len(seeded)
    assert {"pending_approval", "rejected"} <= set(orders.state)
    assert notes > 0 and mails > 0  # the approvers and requesters were told
    lines = raw.lines
    own = set(lines[lines.employee_id == eu].msisdn)
    mine = orders[orders.requester_email == "user@demo.selfcare.test"]
    assert len(mine) >= 2 and set(mine.msisdn) <= own
    ls = raw.line_services
    for params, msisdn in zip(orders.params, orders.msisdn, strict=True):
        code = (json.loads(params) if isinstance(params, str) else params)["service_code"]
        assert code not in set(ls[ls.msisdn == msisdn].service_code)

    assert seed_demo_orders(settings) == []  # a second `make demo` keeps what is there
