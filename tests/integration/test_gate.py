"""The gate's own promises: no query without a viewer, scope never from the caller, results
cached per scope and lake version (a publish invalidates them), and a locked-down engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from selfcare import gate
from selfcare.etl.load import load

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drop"


def test_a_query_needs_a_viewer(scope_of):
    with pytest.raises(gate.GateError):
        gate.run("reports.bill_periods", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("param", ["scope_tenant_id", "scope_all_lines", "scope_msisdns"])
def test_callers_cannot_pass_scope_parameters(scope_of, param):
    with pytest.raises(gate.GateError):
        gate.run("reports.bill_periods", scope_of("end_user"), **{param: "T02"})


def test_a_user_matching_no_rule_sees_nothing(scope_of):
    class Stranger:
        id, role, tenant_id, employee_id, is_authenticated = 99, "auditor", "T01", None, True

    scope = gate.scope_for(Stranger())
    assert scope == gate.NOBODY
    with pytest.raises(gate.NotAllowed):
        gate.run("reports.bill_periods", scope)


def test_tenant_profiles_cannot_run_analyst_queries_and_back(scope_of):
    with pytest.raises(gate.NotAllowed):
        gate.run("analyst.bill_periods", scope_of("admin"))
    with pytest.raises(gate.NotAllowed):
        gate.run("reports.bill_periods", scope_of("analyst"))
    with pytest.raises(gate.NotAllowed):
        gate.run("scope.manager_lines", scope_of("admin"), tenant_id="T01", employee_id="E1")


def test_the_engine_cannot_read_outside_the_lake(portal):
    # the gate's own engine, through the engine interface (selfcare.engine), with raw SQL
    with gate._engine().cursor(gate.lake_path()) as cur:
        with pytest.raises(Exception, match="(?i)permission|disabled"):
            cur.frame("select * from read_csv('/etc/passwd')", {})
        with pytest.raises(Exception, match="(?i)only reads"):  # a cursor runs SELECT only
            cur.frame("set enable_external_access = true", {})
    _, con = gate._engine()._connection(gate.lake_path())  # and below it, the lock holds
    with pytest.raises(Exception, match="(?i)lock|configuration"):
        con.cursor().execute("set enable_external_access = true")


def test_warm_opens_the_engine_on_the_published_version(portal):
    from selfcare.etl import lake as lake_files

    lake = gate.lake_path()
    assert gate.warm(lake) == lake_files.read_manifest(lake)["version"] > 0


def test_engine_errors_reach_callers_as_gate_errors(scope_of):
    """A query the engine cannot run (text where the SQL casts to an integer) is a GateError
    naming the query, whether run or streamed: never the engine's own exception type."""
    admin = scope_of("admin")
    bad = {"period_from": "2026-04", "period_to": "2026-05", "months": "many",
           "cost_centre": None, "min_pct": None, "min_saving": None}  # fmt: skip
    for call in (gate.run, lambda *a, **k: list(gate.stream(*a, **k))):
        with pytest.raises(gate.GateError, match=r"^reports\.tariff_analysis: ") as caught:
            call("reports.tariff_analysis", admin, **bad)
        assert type(caught.value.__cause__).__module__.startswith("selfcare.engine")


def test_a_publish_invalidates_cached_results(tmp_path, monkeypatch):
    """Results are cached per scope and lake version: the next load is seen at once."""
    lake = tmp_path / "lake"
    drop = tmp_path / "drop"
    drop.mkdir()
    for f in FIXTURES.iterdir():
        if not f.name.startswith("billing"):
            shutil.copy(f, drop)
    assert not load(drop, lake, progress=False).refused
    monkeypatch.setenv("SELFCARE_LAKE", str(lake))

    class Finance:
        id, role, tenant_id, employee_id, is_authenticated = 7, "finance", "T1", None, True

    scope = gate.scope_for(Finance())
    before = gate.run("reports.bill_periods", scope)
    assert gate.run("reports.bill_periods", scope).equals(before)  # served from the cache

    shutil.copy(FIXTURES / "billing_2026-01.csv", drop)
    # a CDR-only lake knows its usage periods; add invoices for a period with no usage at all
    extra = drop / "billing_2026-03.csv"
    text = (FIXTURES / "billing_2026-01.csv").read_text().replace("2026-01", "2026-03")
    extra.write_text(text.replace("INV1,", "INV3,").replace("INV2,", "INV4,"))
    assert not load(drop, lake, progress=False).refused
    after = gate.run("reports.bill_periods", scope)
    assert "2026-03" in set(after.bill_period) and "2026-03" not in set(before.bill_period)
