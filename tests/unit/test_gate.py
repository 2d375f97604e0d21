"""gate._bind: the SQL and every bound value of a viewer's call, without a lake.

Binding is where scope is enforced: the namespace a profile may run, scope parameters that only
the gate may set, the caller's parameters matched exactly against the SQL's, and the time chunks
of a streamed query. The parameter lists below were read off the SQL files by hand.
"""

from __future__ import annotations

import pytest

from selfcare import gate, roles

TENANT = "T01"
LINES = ("447700900001", "447700900002")
# queries/reports/overview_kpis.sql
KPIS = "reports.overview_kpis"
KPI_PARAMS = {"period_from": "2026-04", "period_to": "2026-06"}
# queries/analyst/growth_segments.sql: no tenant, no lines, only the minimum segment size
GROWTH = "analyst.growth_segments"
# queries/reports/itemised.sql: streamed in time chunks
ITEMISED = "reports.itemised"
ITEMISED_PARAMS = {
    "period_from": "2026-04",
    "period_to": "2026-04",
    "msisdn": None,
    "service": None,
    "number": None,
    "date_from": None,
    "date_to": None,
}


def scope(role: str, tenant: str | None = TENANT, lines=LINES, all_lines=False) -> gate.Scope:
    aggregate = role in roles.OPERATOR_ROLES
    return gate.Scope(7, role, None if aggregate else tenant, "E1", all_lines, lines, aggregate)


# --- who may run what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "viewer", [None, "reports", {"role": "admin"}], ids=["none", "text", "dict"]
)
def test_a_call_needs_a_scope_object(viewer):
    with pytest.raises(gate.GateError, match="scope"):
        gate._bind(KPIS, viewer, KPI_PARAMS)


@pytest.mark.parametrize(
    ("viewer", "namespace"),
    [
        pytest.param(scope(roles.ADMIN, all_lines=True), "reports", id="admin"),
        pytest.param(scope(roles.FINANCE, all_lines=True), "reports", id="finance"),
        pytest.param(scope(roles.MANAGER), "reports", id="manager"),
        pytest.param(scope(roles.END_USER), "reports", id="end-user"),
        pytest.param(scope(roles.ANALYST, lines=()), "analyst", id="analyst"),
        pytest.param(scope(roles.ADMIN, tenant=None), None, id="tenant-role-without-tenant"),
        pytest.param(gate.NOBODY, None, id="nobody"),
    ],
)
def test_each_profile_has_one_namespace(viewer, namespace):
    assert viewer.namespace == namespace


@pytest.mark.parametrize(
    ("viewer", "name", "params"),
    [
        pytest.param(scope(roles.ANALYST, lines=()), KPIS, KPI_PARAMS, id="analyst-reports"),
        pytest.param(scope(roles.ADMIN), GROWTH, KPI_PARAMS, id="admin-analyst"),
        pytest.param(scope(roles.ADMIN), "scope.own_lines", {}, id="admin-scope-ns"),
        pytest.param(scope(roles.ADMIN), "lake.agg_cdr_line_month", {}, id="admin-lake-ns"),
        pytest.param(scope(roles.ADMIN), "model.v_line_attribution", {}, id="admin-model-ns"),
        pytest.param(scope(roles.ANALYST, lines=()), "scope.tenant_name", {}, id="analyst-scope"),
        pytest.param(scope(roles.ADMIN, tenant=None), KPIS, KPI_PARAMS, id="no-tenant"),
        pytest.param(gate.NOBODY, KPIS, KPI_PARAMS, id="nobody"),
    ],
)
def test_other_namespaces_are_not_allowed(viewer, name, params):
    with pytest.raises(gate.NotAllowed):
        gate._bind(name, viewer, params)


def test_an_unknown_query_in_ones_own_namespace_is_an_error_not_a_refusal():
    with pytest.raises(gate.GateError, match="no such query") as info:
        gate._bind("reports.no_such_report", scope(roles.ADMIN), {})
    assert not isinstance(info.value, gate.NotAllowed)


# --- scope parameters come from the gate ------------------------------------------------------


@pytest.mark.parametrize(
    "param",
    ["scope_tenant_id", "scope_all_lines", "scope_msisdns", "scope_min_lines", "scope_anything"],
)
def test_callers_cannot_pass_scope_parameters(param):
    with pytest.raises(gate.GateError, match="bound by the gate"):
        gate._bind(KPIS, scope(roles.END_USER), {**KPI_PARAMS, param: "T02"})


def test_a_tenant_viewer_gets_its_own_tenant_and_lines_bound():
    sql, bound = gate._bind(KPIS, scope(roles.MANAGER), KPI_PARAMS)
    assert "$scope_tenant_id" in sql
    assert bound == {
        "period_from": "2026-04",
        "period_to": "2026-06",
        "scope_tenant_id": TENANT,
        "scope_all_lines": False,
        "scope_msisdns": list(LINES),  # a list: DuckDB binds it as a LIST
    }


def test_an_all_lines_viewer_is_bound_as_such():
    _, bound = gate._bind(KPIS, scope(roles.FINANCE, all_lines=True, lines=()), KPI_PARAMS)
    assert bound["scope_all_lines"] is True and bound["scope_msisdns"] == []
    assert bound["scope_tenant_id"] == TENANT


def test_an_analyst_gets_only_the_minimum_segment_size():
    _, bound = gate._bind(GROWTH, scope(roles.ANALYST, lines=()), KPI_PARAMS)
    assert bound == {"period_from": "2026-04", "period_to": "2026-06",
                     "scope_min_lines": gate.MIN_SEGMENT_LINES}  # fmt: skip
    assert gate.MIN_SEGMENT_LINES == 5


# --- the caller's parameters match the SQL's exactly ------------------------------------------


def test_a_missing_parameter_is_named():
    expected = r"missing parameters \['period_to'\], unexpected \[\]$"
    with pytest.raises(gate.GateError, match=expected):
        gate._bind(KPIS, scope(roles.ADMIN), {"period_from": "2026-04"})


def test_an_unexpected_parameter_is_named():
    with pytest.raises(gate.GateError, match=r"missing parameters \[\], unexpected \['limit'\]"):
        gate._bind(KPIS, scope(roles.ADMIN), {**KPI_PARAMS, "limit": 10})


def test_missing_and_unexpected_are_reported_together():
    with pytest.raises(gate.GateError, match=r"missing parameters \['period_from', 'period_to'\]"
                                             r", unexpected \['month'\]"):  # fmt: skip
        gate._bind(KPIS, scope(roles.ADMIN), {"month": "2026-04"})


def test_tuples_are_bound_as_lists_and_other_values_as_given():
    # cost_centre_id and employee_id: queries/reports/lines_spend.sql
    params = {**KPI_PARAMS, "cost_centre_id": ("CC1", "CC2"), "employee_id": None}
    _, bound = gate._bind("reports.lines_spend", scope(roles.ADMIN), params)
    assert bound["cost_centre_id"] == ["CC1", "CC2"] and bound["employee_id"] is None


# --- time chunks ------------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["chunk_from", "chunk_to"])
def test_callers_cannot_pass_a_time_chunk(param):
    with pytest.raises(gate.GateError, match="time chunks are bound by the gate"):
        gate._bind(ITEMISED, scope(roles.END_USER), {**ITEMISED_PARAMS, param: None})


def test_a_streamed_query_is_bound_with_its_chunk_open():
    _, bound = gate._bind(ITEMISED, scope(roles.END_USER), ITEMISED_PARAMS)
    assert bound["chunk_from"] is None and bound["chunk_to"] is None
    assert set(bound) == {*ITEMISED_PARAMS, "chunk_from", "chunk_to", "scope_tenant_id",
                          "scope_all_lines", "scope_msisdns"}  # fmt: skip


def test_a_query_not_streamed_in_chunks_refuses_chunk_parameters_as_unexpected():
    with pytest.raises(gate.GateError, match=r"unexpected \['chunk_from'\]"):
        gate._bind(KPIS, scope(roles.ADMIN), {**KPI_PARAMS, "chunk_from": None})
