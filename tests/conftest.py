"""Shared fixtures: one small generated estate and its lake per test session, the raw CSVs as
pandas frames for independent expected values, and portal users for every profile.

Expected figures in tests come from `raw` (pandas on the export files), never from our queries.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

# pg_cluster, pg_url, pg_empty_url: a throwaway PostgreSQL for the database tests;
# smtp_server, smtp_tls_server: a real SMTP server on loopback (aiosmtpd)
pytest_plugins = ["tests.pg_support", "tests.smtp_support"]

# Tests that use these fixtures start a process or a browser: marked here rather than in each
# file (a `pytestmark` in a conftest.py marks nothing), so `make test-fast` can leave them out.
SUBPROCESS_FIXTURES = frozenset({"server"})  # tests/e2e: `selfcare serve` in a subprocess
BROWSER_FIXTURES = frozenset({"browser"})  # tests/e2e: headless Chromium


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SUBPROCESS_FIXTURES:
            item.add_marker(pytest.mark.subprocess)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


SMALL_ESTATE = {"tenants": 2, "lines": 160, "months": 6, "start": "2026-04", "seed": 7}
TEST_SECRET = "test-secret-" + "x" * 52
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only


@pytest.fixture(scope="session")
def estate(tmp_path_factory) -> Path:
    """A small generated drop folder (2 tenants, 160 lines, 6 months)."""
    from selfcare.sample.generate import generate

    out = tmp_path_factory.mktemp("estate")
    generate(out=out, progress=False, **SMALL_ESTATE)
    return out


@pytest.fixture(scope="session")
def lake(estate, tmp_path_factory) -> Path:
    """The small estate loaded into a lake."""
    from selfcare.etl.load import load

    path = tmp_path_factory.mktemp("lake")
    report = load(estate, path, progress=False)
    assert not report.refused, report.render()
    return path


def _read(folder: Path, kind: str) -> pd.DataFrame:
    files = sorted(p for p in folder.iterdir() if p.name.startswith(kind + "_"))
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass
class Raw:
    """The export files as text frames, plus derived columns computed here, independently."""

    folder: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __getattr__(self, kind: str) -> pd.DataFrame:
        if kind.startswith("_") or kind in ("folder", "frames"):
            raise AttributeError(kind)
        if kind not in self.frames:
            self.frames[kind] = _read(self.folder, kind)
        return self.frames[kind]

    # -- attribution, computed with pandas from the raw files --------------------------------
    def tenant_of_account(self) -> dict[str, str]:
        return dict(zip(self.accounts.account_id, self.accounts.tenant_id, strict=True))

    def billing_frame(self) -> pd.DataFrame:
        b = self.billing.copy()
        b["tenant_id"] = b.account_id.map(self.tenant_of_account())
        b["amount_d"] = b.amount.map(_dec)
        b["vat_d"] = b.vat.map(_dec)
        return b

    def cdr_frame(self) -> pd.DataFrame:
        c = self.cdr.copy()
        c["tenant_id"] = c.account_id.map(self.tenant_of_account())
        tz = dict(zip(self.tenants.tenant_id, self.tenants.timezone, strict=True))
        utc = pd.to_datetime(c.event_time, utc=True, format="ISO8601")
        c["bill_period"] = [
            t.tz_convert(tz[tenant]).strftime("%Y-%m")
            for t, tenant in zip(utc, c.tenant_id, strict=True)
        ]
        c["charge_d"] = c.charge.map(_dec)
        c["duration"] = c.duration_s.astype(int)
        c["volume"] = c.volume_kb.astype(int)
        return c

    def visible_lines(self, role: str, tenant_id: str | None, employee_id: str | None) -> set[str]:
        """The msisdns a profile may see, from the HR feed and the line register."""
        lines = self.lines[self.lines.tenant_id == tenant_id]
        if role in ("admin", "finance"):
            return set(lines.msisdn)
        if role == "end_user":
            return set(lines[lines.employee_id == employee_id].msisdn)
        if role == "manager":
            emp = self.employees[self.employees.tenant_id == tenant_id]
            below = {employee_id}
            frontier = {employee_id}
            while frontier:
                frontier = set(emp[emp.manager_employee_id.isin(frontier)].employee_id) - below
                below |= frontier
            return set(lines[lines.employee_id.isin(below)].msisdn)
        return set()


def _dec(text: str):
    from decimal import Decimal

    return Decimal(text) if text != "" else Decimal(0)


@pytest.fixture(scope="session")
def raw(estate) -> Raw:
    return Raw(estate)


@dataclass(frozen=True)
class Person:
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    password: str = PASSWORD


def _pick_people(raw: Raw) -> dict[str, Person]:
    """One user per profile in the first tenant, an admin of the second, chosen by shape."""
    tenants = sorted(raw.tenants.tenant_id)
    t1, t2 = tenants[0], tenants[1]
    emp = raw.employees[raw.employees.tenant_id == t1]
    lines = raw.lines[raw.lines.tenant_id == t1]
    reports = emp.groupby("manager_employee_id").size()
    root = emp[emp.manager_employee_id == ""].employee_id.iloc[0]
    # a manager with reports who themselves have reports: a real chain below
    managers_of_managers = [
        e
        for e in emp.employee_id
        if e != root
        and e in reports.index
        and any(r in reports.index for r in emp[emp.manager_employee_id == e].employee_id)
    ]
    manager = sorted(managers_of_managers)[0]
    with_lines = set(lines.employee_id) - {""}
    # the end user: a leaf with the busiest line(s), so paging and exports have rows to show
    calls = raw.cdr.msisdn.value_counts()
    owner_calls = lines.assign(n=lines.msisdn.map(calls).fillna(0)).groupby("employee_id").n.sum()
    leaves = sorted(
        (e for e in emp.employee_id if e not in reports.index and e in with_lines),
        key=lambda e: (-owner_calls.get(e, 0), e),
    )
    finance = sorted(set(emp.employee_id) - {root, manager})[0]
    root2 = raw.employees[
        (raw.employees.tenant_id == t2) & (raw.employees.manager_employee_id == "")
    ].employee_id.iloc[0]
    return {
        "admin": Person("admin@t1.test", "admin", t1, root),
        "finance": Person("finance@t1.test", "finance", t1, finance),
        "manager": Person("manager@t1.test", "manager", t1, manager),
        "end_user": Person("user@t1.test", "end_user", t1, leaves[0]),
        "analyst": Person("analyst@operator.test", "analyst", None, None),
        "admin2": Person("admin@t2.test", "admin", t2, root2),
        "support": Person("support@operator.test", "support", None, None),
    }


@pytest.fixture(scope="session")
def people(raw) -> dict[str, Person]:
    return _pick_people(raw)


@pytest.fixture(scope="session")
def portal(lake, people, tmp_path_factory) -> dict:
    """Environment for an app over the small lake, with a user for every profile."""
    from selfcare.services import users

    db = tmp_path_factory.mktemp("app") / "app.db"
    for p in people.values():
        users.add_user(
            db,
            email=p.email,
            role=p.role,
            tenant_id=p.tenant_id,
            employee_id=p.employee_id,
            password=p.password,
        )
    env = {
        "SELFCARE_LAKE": str(lake),
        "SELFCARE_DB": str(db),
        "SELFCARE_SECRET_KEY": TEST_SECRET,
        "SELFCARE_ENV": "production",
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def flask_app(portal):
    from selfcare.config import load_settings
    from selfcare.web.app import create_app

    return create_app(load_settings())


def login(client, person: Person) -> None:
    resp = client.post("/login", data={"email": person.email, "password": person.password})
    assert resp.status_code in (302, 303), resp.status_code


def random_password() -> str:
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class _UserRecord:
    """What the gate needs of a user: id, role, tenant_id, employee_id."""

    id: int
    role: str
    tenant_id: str | None
    employee_id: str | None
    is_authenticated: bool = True


@pytest.fixture(scope="session")
def scope_of(portal, people):
    """`scope_of("manager")` → the gate's Scope for that test person (no Flask needed)."""
    from selfcare import gate

    def make(profile: str):
        p = people[profile]
        ids = sorted(people)
        return gate.scope_for(
            _UserRecord(ids.index(profile) + 1, p.role, p.tenant_id, p.employee_id)
        )

    return make
