"""Itemised usage: paged, sorted and filtered records and the streamed export, row for row against
the raw CDR files (pandas), for every profile that may see the page.

Expected rows come from `raw.cdr_frame()` (tenant from the account, bill period from the event
time in the tenant's timezone), scope from the HR feed and the line register; never from our SQL.
"""

from __future__ import annotations

import csv
import io
from contextvars import copy_context
from decimal import Decimal

import flask_login
import pandas as pd
import pyarrow as pa
import pytest

from selfcare import gate
from selfcare.services import users
from selfcare.web.figures import itemised as fig
from tests.conftest import login

VIEWERS = ["admin", "finance", "manager", "end_user", "admin2"]
EXPORT_COLUMNS = ["record_id", "account_id", "msisdn", "event_time", "service", "direction",
                  "other_party", "destination_class", "roaming_country", "duration_s",
                  "volume_kb", "apn", "charge", "bundle_id", "bill_period"]
NO_FILTERS = {"msisdn": None, "service": None, "number": None, "date_from": None, "date_to": None}


@pytest.fixture(scope="module")
def cdr(raw) -> pd.DataFrame:
    """The raw CDRs with the instant, the tenant's local date and the offset, computed here."""
    c = raw.cdr_frame()
    tz = dict(zip(raw.tenants.tenant_id, raw.tenants.timezone, strict=True))
    c["instant"] = pd.to_datetime(c.event_time, utc=True, format="ISO8601")
    local = [t.tz_convert(tz[tenant]) for t, tenant in zip(c.instant, c.tenant_id, strict=True)]
    c["local_date"] = [t.strftime("%Y-%m-%d") for t in local]
    c["local_iso"] = [t.isoformat() for t in local]
    return c


@pytest.fixture(scope="module")
def periods(raw):
    ps = sorted(raw.billing.bill_period.unique())
    return ps[0], ps[-1]


def expected(cdr, people, profile, period_from, period_to, msisdn=None, service=None,
             number=None, date_from=None, date_to=None) -> pd.DataFrame:
    """The viewer's records under the filters, oldest first (ties by record_id)."""
    person = people[profile]
    c = cdr[cdr.tenant_id == person.tenant_id]
    if person.role not in ("admin", "finance"):
        c = c[c.msisdn.isin(_RAW[profile])]
    c = c[(c.bill_period >= period_from) & (c.bill_period <= period_to)]
    if msisdn:
        c = c[c.msisdn == msisdn]
    if service:
        c = c[c.service == service]
    if number:
        if number.endswith("*"):
            c = c[c.other_party.str.startswith(number[:-1]) & (c.other_party != "")]
        else:
            c = c[c.other_party == number]
    if date_from:
        c = c[c.local_date >= date_from]
    if date_to:
        c = c[c.local_date <= date_to]
    return c.sort_values(["instant", "record_id"], kind="stable")


# each profile's visible lines, from the HR feed and line register (filled by the fixture below)
_RAW: dict[str, set[str]] = {}
_VOICE_CALLS: dict[str, int] = {}  # voice records per line, to pick a phone over a data SIM


@pytest.fixture(scope="module", autouse=True)
def _scopes(raw, people):
    for profile, p in people.items():
        _RAW[profile] = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
    _VOICE_CALLS.update(raw.cdr[raw.cdr.service == "VOICE"].msisdn.value_counts().to_dict())


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:300]
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


def assert_rows_equal(got: list[dict], want: pd.DataFrame) -> None:
    """Every column of every row, in order; amounts as Decimals, times as the same instant."""
    assert len(got) == len(want)
    assert [g["record_id"] for g in got] == list(want.record_id)
    for g, w in zip(got, want.itertuples(index=False), strict=True):
        for col in ("account_id", "msisdn", "service", "direction", "other_party",
                    "destination_class", "roaming_country", "apn", "bundle_id", "bill_period"):
            value = g[col] if g[col] is not None else ""
            assert str(value) == getattr(w, col), (col, g, w)
        assert int(g["duration_s"]) == int(w.duration_s)
        assert int(g["volume_kb"]) == int(w.volume_kb)
        assert Decimal(str(g["charge"])) == w.charge_d, g
        # the same instant, written in the tenant's timezone with its offset
        assert g["event_time"] == w.local_iso, (g["event_time"], w.event_time)


def _own_line(people, profile="end_user"):
    """The profile's busiest phone (most voice records; ties by number)."""
    return min(_RAW[profile], key=lambda m: (-_VOICE_CALLS.get(m, 0), m))


# -- the export (streamed) -----------------------------------------------------------------------


def test_end_user_line_export_matches_raw_row_for_row(cdr, people, flask_app, periods):
    line = _own_line(people)
    client = flask_app.test_client()
    login(client, people["end_user"])
    resp = client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[1]}&msisdn={line}")
    assert resp.is_streamed
    rows = _csv(resp)
    assert list(rows[0]) == EXPORT_COLUMNS
    want = expected(cdr, people, "end_user", *periods, msisdn=line)
    assert len(want) > 200, "a large-ish export (more than two pages of the grid)"
    assert_rows_equal(rows, want)


@pytest.mark.slow
def test_manager_scope_export_matches_raw_row_for_row(cdr, people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["manager"])
    rows = _csv(client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[1]}"))
    want = expected(cdr, people, "manager", *periods)
    assert len(want) > 2000
    assert_rows_equal(rows, want)
    assert {r["msisdn"] for r in rows} <= _RAW["manager"]


@pytest.mark.parametrize(
    ("profile", "filters"),
    [
        pytest.param("admin", {"service": "SMS"}, id="admin-sms"),
        pytest.param("finance", {"number": "2782*"}, id="finance-prefix"),
        pytest.param("admin2", {"service": "VOICE", "date_from": "DAY1", "date_to": "DAY2"},
                     id="admin2-voice-dates"),
        pytest.param("manager", {"service": "VOICE", "number": "TOP"}, id="manager-exact"),
        pytest.param("end_user", {"date_from": "DAY1"}, id="end_user-from-date"),
    ],
)
def test_filtered_exports_match_raw(profile, filters, cdr, people, flask_app, periods):
    month = periods[1]
    filters = dict(filters)
    if filters.get("date_from") == "DAY1":
        filters["date_from"] = f"{month}-10"
    if filters.get("date_to") == "DAY2":
        filters["date_to"] = f"{month}-12"
    if filters.get("number") == "TOP":
        mine = expected(cdr, people, profile, month, month, service="VOICE")
        filters["number"] = mine[mine.other_party != ""].other_party.value_counts().index[0]
    client = flask_app.test_client()
    login(client, people[profile])
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    rows = _csv(client.get(f"/export/itemised.csv?from={month}&to={month}&{query}"))
    want = expected(cdr, people, profile, month, month, **filters)
    assert len(want) > 0
    assert_rows_equal(rows, want)


def test_export_parameters_are_validated(people, flask_app, periods):
    client = flask_app.test_client()
    login(client, people["admin"])
    base = f"/export/itemised.csv?from={periods[0]}&to={periods[1]}"
    for bad in ("&msisdn=27'--", "&service=FAX", "&number=27*1", "&date_from=yesterday",
                "&sort=charge;drop", "&scope_all_lines=true"):
        assert client.get(base + bad).status_code == 400, bad


def test_foreign_line_filter_returns_nothing(cdr, people, flask_app, periods, raw):
    t1 = people["admin"].tenant_id
    t1_lines = set(raw.lines[raw.lines.tenant_id == t1].msisdn)
    used = set(cdr.msisdn)
    peer = sorted((t1_lines - _RAW["end_user"]) & used)[0]
    outside_chain = sorted((t1_lines - _RAW["manager"]) & used)[0]
    t2_line = sorted((set(raw.lines.msisdn) - t1_lines) & used)[0]
    for profile, line in (("end_user", peer), ("manager", outside_chain), ("admin", t2_line)):
        client = flask_app.test_client()
        login(client, people[profile])
        rows = _csv(client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[1]}"
                               f"&msisdn={line}"))
        assert rows == [], profile


def test_analyst_and_signed_out_are_refused(people, flask_app, periods):
    client = flask_app.test_client()
    assert client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[1]}").status_code == 401
    login(client, people["analyst"])
    assert client.get("/itemised").status_code == 403
    assert client.get(f"/export/itemised.csv?from={periods[0]}&to={periods[1]}").status_code == 403


def test_end_user_may_open_the_page_with_a_preselected_line(people, flask_app):
    client = flask_app.test_client()
    login(client, people["end_user"])
    assert client.get(f"/itemised?msisdn={_own_line(people)}").status_code == 200


# -- paging and sorting on the server ------------------------------------------------------------

SORTS = ["event_time", "msisdn", "service", "other_party", "duration_s", "volume_kb", "charge"]
_SORT_KEY = {"event_time": "instant", "duration_s": "duration", "volume_kb": "volume",
             "charge": "charge_d"}


def _sorted(want: pd.DataFrame, sort: str, descending: bool) -> pd.DataFrame:
    key = _SORT_KEY.get(sort, sort)
    w = want.copy()
    if sort == "charge":
        w["charge_d"] = w.charge_d.map(float)
    if sort == "other_party":
        w[key] = w[key].mask(w[key] == "")  # an empty number is NULL in the lake
    # record_id ascending breaks ties; missing values sort last both ways (DuckDB's default)
    w = w.sort_values("record_id", kind="stable")
    return w.sort_values(key, ascending=not descending, kind="stable", na_position="last")


def _page(scope, sort, descending, page, period_from, period_to, **filters):
    """One page as the page callback asks for it: the bill periods to read come from the counts."""
    f = NO_FILTERS | filters
    counts = gate.run("reports.itemised_count", scope, period_from=period_from,
                      period_to=period_to, **f)
    scan_from, scan_to = fig.scan_window(counts, period_from, period_to, sort, descending,
                                         page * 100)
    return gate.run("reports.itemised_page", scope, period_from=period_from, period_to=period_to,
                    **f, sort=sort, descending=descending, offset=page * 100,
                    scan_from=scan_from, scan_to=scan_to)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_pages_are_sorted_on_the_server(sort, descending, cdr, people, scope_of, periods):
    month = periods[1]
    want = _sorted(expected(cdr, people, "manager", month, month), sort, descending)
    scope = scope_of("manager")
    for page in (0, 3):
        got = _page(scope, sort, descending, page, month, month)
        assert len(got) == 100
        assert list(got.record_id) == list(want.record_id[page * 100:(page + 1) * 100])


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("filters", [{}, {"service": "SMS"}, {"date_from": "DAY"}],
                         ids=["all", "sms", "from-a-day"])
def test_pages_across_periods_read_only_what_they_need(descending, filters, cdr, people,
                                                       scope_of, periods):
    """Over every period, pages sorted by time come from the newest (oldest) periods only, yet
    every page, including those that straddle two periods and the last one, equals the raw
    records in order."""
    scope = scope_of("manager")
    all_records = expected(cdr, people, "manager", *periods)
    if filters.get("date_from"):  # a day in the middle of the range
        filters = {"date_from": sorted(all_records.local_date)[len(all_records) // 2]}
    want = _sorted(expected(cdr, people, "manager", *periods, **filters), "event_time",
                   descending)
    per_period = want.groupby("bill_period").size()
    assert len(per_period) >= 2, "the fixture should span several periods"
    # pages on either side of the first period boundary, and the last page
    boundary = int(per_period.iloc[-1] if descending else per_period.iloc[0]) // 100
    last = (len(want) - 1) // 100
    for page in sorted({0, boundary, boundary + 1, last}):
        if page > last:
            continue
        got = _page(scope, "event_time", descending, page, *periods, **filters)
        assert list(got.record_id) == list(want.record_id[page * 100:(page + 1) * 100]), page


def test_scan_window_reads_only_the_periods_a_page_can_come_from():
    counts = pd.DataFrame({"bill_period": ["2026-01", "2026-02", "2026-04", "2026-05"],
                           "records": [500, 0, 150, 60]})
    w = fig.scan_window
    # newest first: 2026-05 holds 60, with 2026-04 210 ≥ 100
    assert w(counts, "2025-12", "2026-06", "event_time", True, 0) == ("2026-04", "2026-05")
    assert w(counts, "2025-12", "2026-06", "event_time", True, 100) == ("2026-04", "2026-05")
    # page 2 (records 201-300) needs 2026-01 too
    assert w(counts, "2025-12", "2026-06", "event_time", True, 200) == ("2026-01", "2026-05")
    # oldest first: 2026-01 alone fills pages 0-4
    assert w(counts, "2025-12", "2026-06", "event_time", False, 0) == ("2026-01", "2026-01")
    assert w(counts, "2025-12", "2026-06", "event_time", False, 400) == ("2026-01", "2026-01")
    # records 501-600 end in 2026-04 (500 + 0 + 150); 601-700 need every period
    assert w(counts, "2025-12", "2026-06", "event_time", False, 500) == ("2026-01", "2026-04")
    assert w(counts, "2025-12", "2026-06", "event_time", False, 600) == ("2026-01", "2026-05")
    # any other sort: the periods with records, never outside the period asked for
    assert w(counts, "2025-12", "2026-06", "charge", True, 0) == ("2026-01", "2026-05")
    assert w(counts, "2026-02", "2026-04", "charge", True, 0) == ("2026-02", "2026-04")
    # nothing matches: the whole period (the page is empty either way)
    assert w(counts.iloc[0:0], "2025-12", "2026-06", "event_time", True, 0) == (
        "2025-12", "2026-06")


def test_count_matches_raw(cdr, people, scope_of, periods):
    for profile in VIEWERS:
        want = expected(cdr, people, profile, *periods)
        got = gate.run("reports.itemised_count", scope_of(profile), period_from=periods[0],
                       period_to=periods[1], **NO_FILTERS)
        records, charge = fig.totals(got)
        assert records == len(want), profile
        assert charge.quantize(Decimal("0.0001")) == sum(want.charge_d, Decimal(0)), profile
        # and per bill period
        per_period = want.groupby("bill_period").size()
        assert dict(zip(got.bill_period, got.records, strict=True)) == {
            p: n for p, n in per_period.items()}, profile


def test_lines_offered_are_the_visible_ones(people, scope_of, raw):
    for profile in ("manager", "end_user", "admin2"):
        got = gate.run("reports.itemised_lines", scope_of(profile))
        p = people[profile]
        want = raw.visible_lines(p.role, p.tenant_id, p.employee_id)
        assert set(got.msisdn) == want, profile


# -- callbacks -------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _call(func, prop_id: str | None, *args):
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    def run():
        triggered = [{"prop_id": prop_id, "value": 1}] if prop_id else []
        context_value.set(AttributeDict(triggered_inputs=triggered))
        return func(*args)

    return copy_context().run(run)


@pytest.mark.parametrize("profile", ["admin", "manager", "end_user"])
def test_callback_pages_through_records(profile, cdr, people, portal, flask_app, periods):
    from selfcare.web.pages import itemised as page

    month = periods[1]
    want = expected(cdr, people, profile, month, month)
    want_desc = _sorted(want, "event_time", True)
    ctx = _as(flask_app, portal, people[profile])
    try:
        args = [month, month, [], None, None, "", "prefix", None, None, "event_time", "desc",
                0, 0]
        rows, summary, status, pg, href = _call(page.update_records, f"{page.SORT}.value",
                                                *args, 0)
        assert status is None and pg == 0
        assert [r["record_id"] for r in rows] == list(want_desc.record_id[:100])
        assert f"{len(want):,} records" in summary
        assert href == f"/export/itemised.csv?from={month}&to={month}"
        # the first row, every column, against the raw file
        first = want_desc.iloc[0]
        assert rows[0]["event_time"] == first.local_iso
        assert Decimal(str(rows[0]["charge"])) == first.charge_d

        rows, summary, _, pg, _ = _call(page.update_records, f"{page.NEXT}.n_clicks", *args, 0)
        assert pg == 1
        assert [r["record_id"] for r in rows] == list(want_desc.record_id[100:200])

        # incl. VAT: CDR charges × 1.15
        rows, _, _, _, _ = _call(page.update_records, f"{page.NEXT}.n_clicks",
                                 *([month, month, ["vat"]] + args[3:]), 0)
        # (a NEXT click from page 0 again: page 2, records 101-200)
        for r, w in zip(rows, want_desc.iloc[100:200].itertuples(index=False), strict=True):
            assert Decimal(str(r["charge"])) == (w.charge_d * Decimal("1.15")).quantize(
                Decimal("0.0001"))
    finally:
        ctx.pop()


def test_callback_filters_line_service_and_number(cdr, people, portal, flask_app, periods):
    from selfcare.web.pages import itemised as page

    month = periods[1]
    line = _own_line(people)
    mine = expected(cdr, people, "end_user", month, month, msisdn=line, service="VOICE")
    number = mine[mine.other_party != ""].other_party.iloc[0]
    prefix = number[:4]
    ctx = _as(flask_app, portal, people["end_user"])
    try:
        for typed, match, spec in ((number, "exact", number), (prefix, "prefix", prefix + "*")):
            rows, summary, _, _, href = _call(
                page.update_records, f"{page.NUMBER}.value", month, month, [], line, "VOICE",
                typed, match, f"{month}-01", f"{month}-28", "charge", "asc", 0, 0, 0)
            want = _sorted(expected(cdr, people, "end_user", month, month, msisdn=line,
                                    service="VOICE", number=spec, date_from=f"{month}-01",
                                    date_to=f"{month}-28"), "charge", False)
            assert [r["record_id"] for r in rows] == list(want.record_id[:100])
            assert f"number={spec.replace('*', '%2A')}" in href
            assert f"msisdn={line}" in href and "service=VOICE" in href
        # a peer's line chosen by hand (a crafted request) shows nothing
        peer = sorted(_RAW["manager"] - _RAW["end_user"])[0]
        rows, _, status, _, _ = _call(page.update_records, f"{page.LINE}.value", month, month,
                                      [], peer, None, "", "prefix", None, None, "event_time",
                                      "desc", 0, 0, 0)
        assert rows == [] and "No usage" in str(status)
    finally:
        ctx.pop()


def test_callback_refuses_the_analyst(people, portal, flask_app, periods):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import itemised as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        with pytest.raises(Forbidden):
            _call(page.update_records, None, periods[0], periods[1], [], None, None, "",
                  "prefix", None, None, "event_time", "desc", 0, 0, 0)
    finally:
        ctx.pop()


def test_layout_preselects_a_line_without_querying(flask_app):
    from selfcare.web.pages import itemised as page

    layout = page.layout(msisdn="27820000000")
    assert _find(layout, page.LINE).value == "27820000000"
    assert _find(page.layout(msisdn="<script>"), page.LINE).value is None
    assert _find(page.layout(), page.LINE).value is None


def _find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    if children is None:
        return None
    for child in children if isinstance(children, list) else [children]:
        found = _find(child, id_)
        if found is not None:
            return found
    return None


# -- the export's time chunks ----------------------------------------------------------------------


def test_export_stream_in_time_chunks_equals_one_sorted_run(cdr, people, scope_of, periods):
    """The gate streams the export per bill period and UTC day: the rows and their order equal one
    run of the query over the whole range (the gate's own chunk left open), and the raw records
    in time order."""
    for profile in ("admin", "manager"):
        scope = scope_of(profile)
        whole = gate.run("reports.itemised", scope, period_from=periods[0],
                         period_to=periods[1], **NO_FILTERS)
        batches = list(gate.stream("reports.itemised", scope, batch_rows=500,
                                   period_from=periods[0], period_to=periods[1], **NO_FILTERS))
        streamed = pa.Table.from_batches(batches).to_pandas()
        assert len(batches) > 2 * 30, "one chunk per day at least"
        assert list(streamed.record_id) == list(whole.record_id), profile
        want = expected(cdr, people, profile, *periods)
        assert list(streamed.record_id) == list(want.record_id), profile


def test_time_chunks_are_bound_by_the_gate_only(scope_of, periods):
    with pytest.raises(gate.GateError, match="bound by the gate"):
        gate.run("reports.itemised", scope_of("admin"), period_from=periods[0],
                 period_to=periods[1], **NO_FILTERS, chunk_from=None, chunk_to=None)
