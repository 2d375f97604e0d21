"""The estate as the order rules see it: a tenant's HR chain, its lines as the operator's latest
snapshot has them, the lines' services and the operator's catalogue, read from the lake.

The questions are named SQL files in `queries/estate/`, run through the gate's trusted entry point
(`selfcare.gate.trusted`): the rules need facts beyond the viewer's own lines (the manager above
a requester, the owner of a line in an order one approves). The tenant always comes from the
signed-in user on the server (services/orders.py), never from a request.

What a line has *in effect* is this snapshot plus the orders completed after it; services/orders
applies those (it owns the orders). Answers are cached per lake version and tenant: a new load
publishes a new version and the next call reads it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from selfcare import gate
from selfcare.gate import trusted
from selfcare.orders.actions import Catalogue, LineFacts, PlanOffer, Service


@dataclass(frozen=True)
class Employee:
    employee_id: str
    full_name: str | None
    email: str | None
    manager_employee_id: str | None
    cost_centre_id: str | None
    cost_centre_name: str | None


@dataclass(frozen=True)
class SnapshotLine:
    """One line of the operator's latest snapshot (line register + line services)."""

    msisdn: str
    account_id: str | None
    employee_id: str | None
    employee_name: str | None
    cost_centre_id: str | None
    cost_centre_name: str | None
    plan_code: str | None
    plan_name: str | None
    payment: str | None
    status: str | None
    cug_id: str | None
    apns: tuple[str, ...]
    services: frozenset[str]
    as_of: str | None  # the line register snapshot's date (ISO)
    services_as_of: str | None  # the line services snapshot's date (None: no snapshot yet)

    def facts(self) -> LineFacts:
        return LineFacts(
            msisdn=self.msisdn, payment=self.payment or "", plan_code=self.plan_code or "",
            status=self.status or "ACTIVE", services=self.services,
            employee_id=self.employee_id,
        )


@dataclass(frozen=True)
class Estate:
    tenant_id: str
    version: int
    employees: Mapping[str, Employee] = field(default_factory=dict)
    lines: Mapping[str, SnapshotLine] = field(default_factory=dict)
    catalogue: Catalogue = field(default_factory=Catalogue)
    service_names: Mapping[str, str] = field(default_factory=dict)
    plan_names: Mapping[str, str] = field(default_factory=dict)

    def managers(self) -> dict[str, str | None]:
        """employee_id -> their manager's employee_id (None at the top)."""
        return {e.employee_id: e.manager_employee_id for e in self.employees.values()}


def _text(value) -> str | None:  # noqa: ANN001 (a pandas cell)
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value)
    return text if text != "" else None


def _rows(df: pd.DataFrame) -> list[dict]:
    if df is None or df.empty:
        return []
    return [{k: _text(v) for k, v in row.items()} for row in df.to_dict("records")]


def _lake(lake: Path | str | None) -> Path:
    return Path(lake).resolve() if lake else gate.lake_path()


_cache: dict[tuple, object] = {}
_cache_lock = threading.Lock()


def _cached(key: tuple, make):  # noqa: ANN001, ANN202
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    value = make()
    with _cache_lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = value
    return value


def catalogue(lake: Path | str | None = None) -> Catalogue:
    """The operator's service and plan catalogues, with exact decimal fees."""
    return _catalogue_and_names(_lake(lake))[0]


def _catalogue_and_names(lake: Path):  # noqa: ANN202
    version = gate.lake_version(lake)

    def make():  # noqa: ANN202
        services = [
            Service(r["service_code"], r["name"] or r["service_code"], r["category"] or "",
                    r["payment"] or "ANY", Decimal(r["monthly_fee"] or "0"),
                    Decimal(r["once_off_fee"] or "0"))
            for r in _rows(trusted.run("estate.services", lake))
        ]
        plan_rows = _rows(trusted.run("estate.plans", lake))
        plans = [PlanOffer(r["plan_code"], r["payment"] or "", Decimal(r["monthly_fee"] or "0"))
                 for r in plan_rows]
        return (Catalogue.of(services, plans), {s.code: s.name for s in services},
                {r["plan_code"]: r["plan_name"] or r["plan_code"] for r in plan_rows})

    return _cached(("catalogue", str(lake), version), make)


def tenant_estate(tenant_id: str, lake: Path | str | None = None) -> Estate:
    """The tenant's HR feed, its lines as in the latest snapshot, and the catalogue."""
    lake = _lake(lake)
    version = gate.lake_version(lake)

    def make() -> Estate:
        cat, service_names, plan_names = _catalogue_and_names(lake)
        employees = {
            r["employee_id"]: Employee(r["employee_id"], r["full_name"], r["email"],
                                       r["manager_employee_id"], r["cost_centre_id"],
                                       r["cost_centre_name"])
            for r in _rows(trusted.run("estate.employees", lake, tenant_id=tenant_id))
        }
        services: dict[str, set[str]] = {}
        services_as_of: str | None = None
        for r in _rows(trusted.run("estate.line_services", lake, tenant_id=tenant_id)):
            services.setdefault(r["msisdn"], set()).add(r["service_code"])
            services_as_of = max(services_as_of or "", r["as_of"] or "") or None
        lines = {}
        for r in _rows(trusted.run("estate.lines", lake, tenant_id=tenant_id)):
            lines[r["msisdn"]] = SnapshotLine(
                msisdn=r["msisdn"], account_id=r["account_id"], employee_id=r["employee_id"],
                employee_name=r["employee_name"], cost_centre_id=r["cost_centre_id"],
                cost_centre_name=r["cost_centre_name"], plan_code=r["plan_code"],
                plan_name=r["plan_name"], payment=r["payment"], status=r["status"],
                cug_id=r["cug_id"],
                apns=tuple(a for a in (r["apns"] or "").split(";") if a),
                services=frozenset(services.get(r["msisdn"], ())), as_of=r["as_of"],
                services_as_of=services_as_of,
            )
        return Estate(tenant_id, version, employees, lines, cat, service_names, plan_names)

    return _cached(("estate", str(lake), version, tenant_id), make)


def line_snapshots(tenant_id: str, after: str,
                   lake: Path | str | None = None) -> dict[str, dict[str, dict]]:
    """The line register snapshots dated after `after` (ISO date): as_of -> msisdn ->
    {plan_code, status}."""
    out: dict[str, dict[str, dict]] = {}
    for r in _rows(trusted.run("estate.line_snapshots", _lake(lake), tenant_id=tenant_id,
                               after=after)):
        out.setdefault(r["as_of"], {})[r["msisdn"]] = {"plan_code": r["plan_code"],
                                                        "status": r["status"]}
    return out


def service_snapshots(tenant_id: str, after: str,
                      lake: Path | str | None = None) -> dict[str, dict[str, frozenset[str]]]:
    """The line services snapshots dated after `after`: as_of -> msisdn -> services (a line
    absent from a snapshot had none)."""
    sets: dict[str, dict[str, set[str]]] = {}
    for r in _rows(trusted.run("estate.service_snapshots", _lake(lake), tenant_id=tenant_id,
                               after=after)):
        sets.setdefault(r["as_of"], {}).setdefault(r["msisdn"], set()).add(r["service_code"])
    return {d: {m: frozenset(s) for m, s in per.items()} for d, per in sets.items()}


def clear_cache() -> None:
    """Forget cached answers (tests; a new load already changes the version)."""
    with _cache_lock:
        _cache.clear()
