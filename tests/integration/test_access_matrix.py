"""The access matrix: every profile × every named query × every export.

Inside the scope data comes back; outside it nothing does: another tenant, a line outside the
manager's chain, another end user's line. The expected scope is computed here, independently,
from the generated HR feed and line register (`raw.visible_lines`).
"""

from __future__ import annotations

import csv
import io

import pytest

from selfcare import gate, queries
from tests.conftest import login

PROFILES = ["admin", "finance", "manager", "end_user", "analyst", "admin2", "support"]
PERSONAL = ("msisdn", "employee_id", "employee_name", "full_name", "email", "other_party")


def sample_params(raw, people, profile: str) -> dict[str, object]:
    """A value for every parameter name any query uses; a new name must be added here."""
    periods = sorted(raw.billing.bill_period.unique())
    own_line = sorted(
        raw.visible_lines("end_user", people["end_user"].tenant_id, people["end_user"].employee_id)
    )[0]
    return {
        "period_from": periods[0],
        "period_to": periods[-1],
        "months": 3,
        "by": "calls",
        "service": "VOICE",
        "services": ["VOICE", "SMS", "MMS", "DATA"],
        "destination_class": None,
        "cost_centre": None,
        "cost_centre_id": None,
        "msisdn": None,
        "number": None,
        "date_from": None,
        "date_to": None,
        "limit": 100,
        "offset": 0,
        "scan_from": periods[0],
        "scan_to": periods[-1],
        "sort": "event_time",
        "descending": True,
        "min_saving": 20,
        "min_pct": 5,
        "dimension": "product_type",
        "threshold": 1000,
        "employee_id": None,
        "line": own_line,
        "invoice_id": None,
        "line_no": None,
    }


def _params_for(name: str, raw, people, profile: str) -> dict[str, object]:
    wanted = queries.parameters(queries.load(name)) - gate.SCOPE_PARAMS - gate.CHUNK_PARAMS
    samples = sample_params(raw, people, profile)
    missing = sorted(wanted - set(samples))
    assert not missing, f"add sample values for {missing} (used by {name}) to this test"
    return {k: samples[k] for k in wanted}


ALL_QUERIES = queries.names("reports") + queries.names("analyst")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_query_returns_only_the_profiles_scope(profile, raw, people, scope_of):
    scope = scope_of(profile)
    person = people[profile]
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    tenant_lines = set(raw.lines[raw.lines.tenant_id == person.tenant_id].msisdn)
    all_registered = set(raw.lines.msisdn)
    foreign_tenants = set(raw.tenants.tenant_id) - {person.tenant_id}
    seen_lines: set[str] = set()
    ran = 0
    for name in ALL_QUERIES:
        # the Support agent reads no usage data at all: only what a ticket names
        allowed = profile != "support" and name.startswith("analyst.") == (profile == "analyst")
        params = _params_for(name, raw, people, profile)
        if not allowed:
            with pytest.raises(gate.NotAllowed):
                gate.run(name, scope, **params)
            continue
        df = gate.run(name, scope, **params)
        ran += 1
        if profile == "analyst":
            leaked = [c for c in df.columns if c in PERSONAL or c == "tenant_id"]
            assert not leaked, f"{name} gives the analyst {leaked}"
            for col in df.columns:
                if df[col].dtype == object:
                    values = set(df[col].dropna().astype(str))
                    assert not values & all_registered, f"{name}.{col} shows a line"
            continue
        if "tenant_id" in df.columns:
            assert not set(df.tenant_id.dropna()) & foreign_tenants, f"{name} shows another tenant"
        if "msisdn" in df.columns:
            lines = set(df.msisdn.dropna().astype(str)) - {""}
            if scope.all_lines:
                # admin and finance also see unknown lines of their own tenant, never foreign ones
                foreign = set(raw.lines[raw.lines.tenant_id != person.tenant_id].msisdn)
                assert not lines & foreign, f"{name} shows another tenant's lines"
            else:
                assert lines <= visible, f"{name} shows {sorted(lines - visible)[:5]}"
            seen_lines |= lines & tenant_lines
    if profile == "support":
        assert ran == 0
        return
    assert ran > 0
    if profile != "analyst":
        assert seen_lines, f"{profile} saw no line at all: scope too narrow?"
        assert seen_lines <= visible or scope.all_lines


def _export_names():
    from selfcare.web import exports

    return sorted(exports.EXPORTS)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_export_returns_only_the_profiles_scope(profile, flask_app, raw, people):
    from selfcare.web import exports

    person = people[profile]
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    foreign = set(raw.lines[raw.lines.tenant_id != person.tenant_id].msisdn)
    periods = sorted(raw.billing.bill_period.unique())
    names = _export_names()
    assert names, "no exports registered"
    client = flask_app.test_client()
    login(client, person)
    for name in names:
        export = exports.EXPORTS[name]
        query = f"/export/{name}.csv"
        if export.periods:
            query += f"?from={periods[0]}&to={periods[-1]}"
        resp = client.get(query)
        if person.role not in export.roles:
            assert resp.status_code == 403, (name, resp.status_code)
            continue
        if resp.status_code == 400:  # a report with a required filter: give it a line
            resp = client.get(query + f"&number={sorted(visible or {'0'})[0]}")
        assert resp.status_code in (200, 400), (name, resp.status_code, resp.data[:200])
        if resp.status_code != 200:
            continue
        rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
        for row in rows:
            if "msisdn" in row and row["msisdn"]:
                if profile == "analyst":
                    pytest.fail(f"{name} gives the analyst a line")
                assert row["msisdn"] not in foreign, f"{name}: another tenant's line"
                if person.role not in ("admin", "finance"):
                    assert row["msisdn"] in visible, f"{name}: {row['msisdn']} outside scope"


@pytest.mark.parametrize(
    "profile,foreign_line",
    [
        pytest.param("manager", "peer", id="manager-peer-line"),
        pytest.param("end_user", "colleague", id="end-user-colleague-line"),
        pytest.param("admin", "other-tenant", id="admin-other-tenant-line"),
    ],
)
def test_filtering_on_a_foreign_line_returns_nothing(profile, foreign_line, flask_app, raw, people):
    person = people[profile]
    visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)
    if foreign_line == "other-tenant":
        target = sorted(raw.lines[raw.lines.tenant_id != person.tenant_id].msisdn)[0]
    else:
        same = set(raw.lines[raw.lines.tenant_id == person.tenant_id].msisdn)
        target = sorted(same - visible)[0]
    periods = sorted(raw.billing.bill_period.unique())
    client = flask_app.test_client()
    login(client, person)
    resp = client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[-1]}&msisdn={target}")
    assert resp.status_code in (200, 403)
    if resp.status_code == 200:
        rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
        assert rows == []
