"""The action catalogue: parameter validation (one line naming the field), the requested value
kept apart from the value in effect, and cost changes to the cent (expected values worked out by
hand from the small catalogue below)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from selfcare.orders import actions as A

D = Decimal
CAT = A.Catalogue.of(
    services=[
        A.Service("ROAM", "Roaming", "FEATURE", "ANY", D("0"), D("0")),
        A.Service("IDD", "International dialling", "FEATURE", "POSTPAID", D("15.50"), D("0")),
        A.Service("DATA5G", "5 GB add-on", "ADDON", "ANY", D("149.99"), D("49.995")),
        A.Service("VMAIL", "Voicemail", "FEATURE", "ANY", D("9.00"), D("0")),
        A.Service("PRS_BAR", "Premium-rated barring", "BAR", "ANY", D("0"), D("0")),
        A.Service("PP_BUNDLE", "Prepaid bundle", "ADDON", "PREPAID", D("29.00"), D("0")),
    ],
    plans=[
        A.PlanOffer("BIZ_S", "POSTPAID", D("199.00")),
        A.PlanOffer("BIZ_L", "POSTPAID", D("449.50")),
        A.PlanOffer("PAYG", "PREPAID", D("0.00")),
    ],
)
LINE = A.LineFacts("27820000001", "POSTPAID", "BIZ_S", "ACTIVE",
                   frozenset({"VMAIL", "IDD"}), "E1", "8927000000000000006")


def test_the_catalogue_has_the_issue_actions():
    assert set(A.ACTIONS) >= {"add_service", "remove_service", "change_plan", "suspend_line",
                              "resume_line", "cancel_line", "new_line", "sim_swap"}


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        pytest.param("add_service", {}, "service_code: is required", id="missing"),
        pytest.param("add_service", {"service_code": "  "}, "service_code: is required",
                     id="blank"),
        pytest.param("add_service", {"service_code": 7}, "service_code: must be a string",
                     id="not-text"),
        pytest.param("add_service", {"service_code": "XYZ"}, "service_code: unknown service 'XYZ'",
                     id="unknown-service"),
        pytest.param("add_service", {"service_code": "ROAM", "colour": "red"},
                     "colour: not a parameter of add_service", id="extra"),
        pytest.param("remove_service", {"service_code": "NOPE"},
                     "service_code: unknown service 'NOPE'", id="remove-unknown"),
        pytest.param("change_plan", {"plan_code": "GOLD"}, "plan_code: unknown plan 'GOLD'",
                     id="unknown-plan"),
        pytest.param("change_plan", {}, "plan_code: is required", id="plan-missing"),
        pytest.param("new_line", {"plan_code": "BIZ_S"}, "employee_id: is required",
                     id="new-line-employee"),
        pytest.param("new_line", {"employee_id": "E 1", "plan_code": "BIZ_S"},
                     "employee_id: not an employee id: 'E 1'", id="bad-employee"),
        pytest.param("new_line", {"employee_id": "E1", "plan_code": "X"},
                     "plan_code: unknown plan 'X'", id="new-line-plan"),
        pytest.param("sim_swap", {"iccid": "1234"}, "iccid: an ICCID is 19 or 20 digits",
                     id="short-iccid"),
        pytest.param("sim_swap", {"iccid": "8927000000000000002"},
                     "iccid: the ICCID's check digit is wrong", id="bad-check-digit"),
        pytest.param("suspend_line", {"reason": "x"}, "reason: not a parameter of suspend_line",
                     id="no-params"),
    ],
)
def test_invalid_params_name_the_field(action, params, message):
    with pytest.raises(A.InvalidParams) as info:
        A.get(action).validate(params, CAT)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert info.value.status == 400


def test_unknown_action():
    with pytest.raises(A.UnknownAction, match="action: unknown action 'fly'"):
        A.get("fly")


def test_validation_normalises():
    assert A.get("add_service").validate({"service_code": " roam "}, CAT) == {
        "service_code": "ROAM"}
    # 8927 0000 0000 0000 006 has a valid Luhn check digit (worked out: digit sum 30).
    assert A.get("sim_swap").validate({"iccid": "8927 0000 0000 0000 006"}, CAT) == {
        "iccid": "8927000000000000006"}
    assert A.get("cancel_line").validate(None, CAT) == {}


@pytest.mark.parametrize(
    ("action", "params", "monthly", "once_off"),
    [
        pytest.param("add_service", {"service_code": "DATA5G"}, "149.99", "50.00",
                     id="add-addon-once-off-rounded-half-up"),
        pytest.param("add_service", {"service_code": "ROAM"}, "0.00", "0.00", id="add-free"),
        pytest.param("remove_service", {"service_code": "IDD"}, "-15.50", "0.00", id="remove"),
        pytest.param("change_plan", {"plan_code": "BIZ_L"}, "250.50", "0.00", id="upgrade"),
        pytest.param("change_plan", {"plan_code": "PAYG"}, "-199.00", "0.00", id="downgrade"),
        pytest.param("suspend_line", {}, "0.00", "0.00", id="suspend"),
        pytest.param("resume_line", {}, "0.00", "0.00", id="resume"),
        # plan 199.00 + VMAIL 9.00 + IDD 15.50
        pytest.param("cancel_line", {}, "-223.50", "0.00", id="cancel"),
        pytest.param("new_line", {"employee_id": "E9", "plan_code": "BIZ_L"}, "449.50", "0.00",
                     id="new-line"),
        pytest.param("sim_swap", {"iccid": "8927000000000000006"}, "0.00", "0.00", id="sim"),
    ],
)
def test_cost_change_to_the_cent(action, params, monthly, once_off):
    line = None if action == "new_line" else LINE
    cost = A.get(action).cost(params, line, CAT)
    assert cost.monthly == D(monthly) and cost.once_off == D(once_off)
    assert cost.monthly.as_tuple().exponent == -2


def test_bulk_order_cost_is_the_sum_of_its_lines():
    other = A.LineFacts("27820000002", "POSTPAID", "BIZ_L", services=frozenset())
    total = A.order_cost("change_plan", {"plan_code": "BIZ_L"}, [LINE, other], CAT)
    assert total.monthly == D("250.50")  # 250.50 + 0.00
    total = A.order_cost("add_service", {"service_code": "DATA5G"}, [LINE, other, other], CAT)
    assert (total.monthly, total.once_off) == (D("449.97"), D("150.00"))
    assert total.monthly_increase == D("449.97")
    saving = A.order_cost("remove_service", {"service_code": "IDD"}, [LINE], CAT)
    assert saving.monthly_increase == D("0.00")


def test_requested_value_is_kept_apart_from_the_value_in_effect():
    c = A.get("change_plan").change({"plan_code": "BIZ_L"}, LINE)
    assert (c.field, c.in_effect, c.requested) == ("plan_code", "BIZ_S", "BIZ_L")
    c = A.get("add_service").change({"service_code": "ROAM"}, LINE)
    assert c.in_effect == ("IDD", "VMAIL") and c.requested == ("IDD", "ROAM", "VMAIL")
    c = A.get("remove_service").change({"service_code": "IDD"}, LINE)
    assert c.requested == ("VMAIL",)
    assert A.get("suspend_line").change({}, LINE).requested == "SUSPENDED"
    assert A.get("resume_line").change({}, LINE).requested == "ACTIVE"
    assert A.get("cancel_line").change({}, LINE).requested == "CANCELLED"
    c = A.get("sim_swap").change({"iccid": "89270000000000000011"}, LINE)
    assert (c.in_effect, c.requested) == ("8927000000000000006", "89270000000000000011")
    c = A.get("new_line").change({"employee_id": "E9", "plan_code": "BIZ_S"}, None)
    assert c.in_effect is None and c.requested == {"employee_id": "E9", "plan_code": "BIZ_S"}
    # The line's own facts do not change by asking.
    assert LINE.plan_code == "BIZ_S"


def test_actions_on_existing_lines_need_one():
    with pytest.raises(A.InvalidParams, match="msisdn: this action needs an existing line"):
        A.get("change_plan").cost({"plan_code": "BIZ_L"}, None, CAT)


def test_each_action_says_which_line_facts_it_needs():
    fields = set(A.LineFacts.__dataclass_fields__)
    for spec in A.ACTIONS.values():
        assert spec.needs <= fields, spec.code
    assert "payment" in A.get("add_service").needs
    assert "plan_code" in A.get("change_plan").needs
    assert not A.get("new_line").on_existing_line


def test_plan_change_takes_effect_from_the_next_bill_period():
    assert A.get("change_plan").effective_from(date(2026, 12, 7)) == date(2027, 1, 1)
    assert A.get("change_plan").effective_from(date(2026, 3, 31)) == date(2026, 4, 1)
    assert A.get("add_service").effective_from(date(2026, 12, 7)) == date(2026, 12, 7)


def test_a_later_issue_can_register_its_own_action():
    @A.register
    class TopUpAirtime(A.Action):
        code = "test_top_up"
        label = "Top up airtime"
        params = (A.Param("service_code", "service_code", "the bundle"),)

    try:
        assert A.get("test_top_up").validate({"service_code": "pp_bundle"}, CAT) == {
            "service_code": "PP_BUNDLE"}
        with pytest.raises(ValueError, match="registered twice"):
            A.register(TopUpAirtime)
    finally:
        del A.ACTIONS["test_top_up"]
