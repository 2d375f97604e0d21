"""selfcare.web.exports: every query-string parameter of a CSV export is validated or refused.

`parse_params` is the only door from a URL to the gate's parameters, so each rule is checked on
its own: the bill-period range, unknown keys, each converter the pages declare filters with, and
the defaults of absent or empty filters. The reports here mirror the pages' declarations (itemised,
top numbers, tariffs, lines) without importing the pages.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from selfcare.web import exports
from selfcare.web.exports import (
    ANY_TEXT,
    DIGITS,
    Export,
    Filter,
    choice,
    integer,
    iso_date,
    parse_params,
    pattern,
)

PERIODS = {"from": "2026-04", "to": "2026-06"}
ITEMISED = Export(
    "itemised",
    {"reports": "reports.itemised"},
    ("admin",),
    filters={
        "msisdn": Filter("msisdn", DIGITS, None),
        "service": Filter("service", choice("VOICE", "SMS", "DATA"), None),
        "number": Filter("number", pattern(r"\d{1,20}\*?", "digits, optionally ending in *"), None),
        "date_from": Filter("date_from", iso_date, None),
    },
)
TOP = Export(
    "top_numbers",
    {"reports": "reports.top_numbers"},
    ("admin",),
    filters={
        "by": Filter("by", choice("calls", "minutes", "cost"), "calls"),
        "cost_centre": Filter("cost_centre", ANY_TEXT, None),
        "months": Filter("months", integer(1, 12), 3),
    },
)
# A filter whose query key differs from the SQL parameter it fills (pages/overview.py "lines").
LINES = Export(
    "lines",
    {"reports": "reports.lines_spend"},
    ("admin",),
    filters={"employee": Filter("employee_id", pattern(r"[A-Z0-9-]{1,20}", "an id"), None)},
)
NO_PERIODS = Export("tariff_plans", {"reports": "reports.plans"}, ("admin",), periods=False,
                    filters={"months": Filter("months", integer(1, 12), 3)})  # fmt: skip


def args(**values: str) -> MultiDict:
    """A query string as Flask's request.args holds it."""
    return MultiDict(values)


def refusal(export: Export, **values: str) -> str:
    with pytest.raises(ValueError) as info:
        parse_params(export, args(**values))
    return str(info.value)


# --- the bill-period range ----------------------------------------------------------------------


def test_a_valid_range_and_no_filters_give_the_periods_and_every_default():
    assert parse_params(TOP, args(**PERIODS)) == {
        "period_from": "2026-04",
        "period_to": "2026-06",
        "by": "calls",
        "cost_centre": None,
        "months": 3,
    }


def test_one_month_is_a_range():
    got = parse_params(ITEMISED, args(**{"from": "2026-05", "to": "2026-05"}))
    assert got["period_from"] == got["period_to"] == "2026-05"


@pytest.mark.parametrize("key", ["from", "to"])
def test_both_ends_are_required(key):
    values = {k: v for k, v in PERIODS.items() if k != key}
    assert refusal(ITEMISED, **values) == f"'{key}' must be a bill period YYYY-MM"
    assert refusal(ITEMISED, **{**PERIODS, key: ""}) == f"'{key}' must be a bill period YYYY-MM"


@pytest.mark.parametrize(
    "value",
    ["2026-13", "2026-00", "2026-4", "26-04", "2026/04", "2026-04-01", " 2026-04", "April"],
)
@pytest.mark.parametrize("key", ["from", "to"])
def test_malformed_periods_are_refused(key, value):
    assert refusal(ITEMISED, **{**PERIODS, key: value}) == f"'{key}' must be a bill period YYYY-MM"


def test_from_after_to_is_refused():
    assert refusal(ITEMISED, **{"from": "2026-07", "to": "2026-06"}) == (
        "'from' must not be after 'to'"
    )
    # compared as periods across a year end, not as numbers
    assert refusal(ITEMISED, **{"from": "2027-01", "to": "2026-12"}) == (
        "'from' must not be after 'to'"
    )


def test_a_report_without_periods_refuses_from_and_to():
    assert parse_params(NO_PERIODS, args()) == {"months": 3}
    assert refusal(NO_PERIODS, **PERIODS) == "unknown parameter(s): from, to"


# --- unknown keys -----------------------------------------------------------------------------


def test_unknown_parameters_are_refused_and_named_in_order():
    message = refusal(ITEMISED, **PERIODS, tenant="T02", scope_msisdns="1")
    assert message == "unknown parameter(s): scope_msisdns, tenant"


def test_a_filter_of_another_report_is_unknown():
    assert refusal(ITEMISED, **PERIODS, by="cost") == "unknown parameter(s): by"


def test_the_sql_parameter_name_is_not_a_query_key():
    # the key is "employee"; "employee_id" is what the gate receives, never what a URL may say
    assert refusal(LINES, **PERIODS, employee_id="E1") == "unknown parameter(s): employee_id"
    assert parse_params(LINES, args(**PERIODS, employee="E-1"))["employee_id"] == "E-1"


# --- filters ----------------------------------------------------------------------------------


def test_absent_and_empty_filters_take_their_default_unconverted():
    empty = parse_params(TOP, args(**PERIODS, by="", cost_centre="", months=""))
    assert (empty["by"], empty["cost_centre"], empty["months"]) == ("calls", None, 3)


def test_errors_name_the_query_key_not_the_sql_parameter():
    assert refusal(LINES, **PERIODS, employee="e 1") == "'employee' must be an id"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("calls", True), ("minutes", True), ("cost", True), ("CALLS", False), ("calls ", False),
     ("spend", False)],
)  # fmt: skip
def test_choice_accepts_exactly_its_values(value, ok):
    if ok:
        assert parse_params(TOP, args(**PERIODS, by=value))["by"] == value
    else:
        assert refusal(TOP, **PERIODS, by=value) == "'by' must be one of calls, minutes, cost"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("447700900001", True), ("1", True), ("1" * 20, True), ("1" * 21, False), ("4477a", False),
     ("+447700900001", False), ("4477 0090", False), ("44*", False)],
)  # fmt: skip
def test_digits_are_one_to_twenty_digits_whole(value, ok):
    if ok:
        assert parse_params(ITEMISED, args(**PERIODS, msisdn=value))["msisdn"] == value
    else:
        assert refusal(ITEMISED, **PERIODS, msisdn=value) == "'msisdn' must be digits"


@pytest.mark.parametrize(
    ("value", "ok"),
    [("4477", True), ("4477*", True), ("*", False), ("44*7", False), ("4477**", False)],
)
def test_a_number_prefix_may_end_in_one_star(value, ok):
    if ok:
        assert parse_params(ITEMISED, args(**PERIODS, number=value))["number"] == value
    else:
        assert refusal(ITEMISED, **PERIODS, number=value) == (
            "'number' must be digits, optionally ending in *"
        )


def test_integers_are_converted_and_bounded():
    got = parse_params(TOP, args(**PERIODS, months="12"))["months"]
    assert got == 12 and isinstance(got, int)
    assert parse_params(TOP, args(**PERIODS, months="1"))["months"] == 1
    for value in ("0", "13", "-1"):
        assert refusal(TOP, **PERIODS, months=value) == "'months' must be between 1 and 12"
    # not a number at all: one line that says what to send, never Python's "invalid literal"
    for value in ("six", "2.5", "١٢", " 3"):
        assert refusal(TOP, **PERIODS, months=value) == (
            "'months' must be a whole number between 1 and 12"
        )


def test_dates_are_iso_calendar_dates():
    assert parse_params(ITEMISED, args(**PERIODS, date_from="2026-04-30"))["date_from"] == (
        "2026-04-30"
    )
    for value in ("2026-02-30", "30/04/2026", "yesterday"):
        assert refusal(ITEMISED, **PERIODS, date_from=value).startswith("'date_from' ")


@pytest.mark.parametrize(
    ("value", "ok"),
    [("Sales & Marketing (UK)", True), ("O'Brien, R/D-1.", True), ("x" * 80, True),
     ("x" * 81, False), ("=HYPERLINK(1)", False), ("a;b", False), ("<script>", False),
     ("line\nbreak", False)],
)  # fmt: skip
def test_plain_text_is_short_and_formula_free(value, ok):
    if ok:
        assert parse_params(TOP, args(**PERIODS, cost_centre=value))["cost_centre"] == value
    else:
        assert refusal(TOP, **PERIODS, cost_centre=value) == "'cost_centre' must be plain text"


# --- registration and links ---------------------------------------------------------------------


def test_register_export_names_the_namespace_and_replaces_on_a_second_import(monkeypatch):
    monkeypatch.setattr(exports, "EXPORTS", {})
    first = exports.register_export("spend", "reports.spend_by_cost_centre", ["admin"])
    assert first.queries == {"reports": "reports.spend_by_cost_centre"}
    assert first.roles == ("admin",) and first.periods is True and first.filters == {}
    again = exports.register_export("spend", "reports.spend_by_cost_centre", ("finance",))
    assert exports.EXPORTS == {"spend": again} and again.roles == ("finance",)


def test_export_links_leave_out_empty_filters():
    href = exports.export_href("top_numbers", {"from": "2026-04", "to": "2026-06", "by": "cost",
                                               "cost_centre": "", "months": None})  # fmt: skip
    assert href == "/export/top_numbers.csv?from=2026-04&to=2026-06&by=cost"
