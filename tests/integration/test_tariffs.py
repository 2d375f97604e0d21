"""The Tariff analyser: its SQL, figures, callbacks and CSV exports against independent values.

Expected values are computed here from the raw export files with pandas and exact fractions:
the usage buckets from the CDRs, each plan's cost from the tariff formula of docs/tariff-model.md
(written out again below with `Fraction`, not the 15360-scaled integers of the SQL), the bills from
the billing CSVs. Hand-worked line-months on a tiny lake loaded from hand-written CSVs check the
allowance boundaries, roaming, premium and prepaid vs postpaid.
"""

from __future__ import annotations

import csv
import io
import math
import re
from contextvars import copy_context
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import flask_login
import pandas as pd
import pytest

from selfcare import gate, queries
from selfcare.services import users
from tests.conftest import login

VIEWERS = ["admin", "finance", "manager", "end_user"]
NATIONAL = ("ONNET", "OFFNET", "FIXED")
BUCKETS = ("nat_voice_s", "intl_voice_s", "sms_home", "mms_home", "data_kb_home",
           "roam_voice_s", "roam_data_kb", "roam_sms", "roam_mms", "premium")
UNIT = Decimal("0.0001")
ANALYSIS_COLUMNS = ["msisdn", "current_plan", "months", "avg_cost_current", "best_plan",
                    "avg_cost_best", "avg_saving", "months_better", "min_saving", "max_saving",
                    "recommended"]


# -- the independent model ----------------------------------------------------------------------


def shift(period: str, months: int) -> str:
    y, m = (int(x) for x in period.split("-"))
    k = y * 12 + (m - 1) + months
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def window(period_to: str, months: int) -> list[str]:
    return [shift(period_to, -k) for k in range(months - 1, -1, -1)]


def usage_buckets(cdr: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """(msisdn, bill_period) → usage buckets, from raw CDR rows (`raw.cdr_frame()`)."""
    home = cdr.roaming_country == ""
    mo = cdr.direction == "MO"
    dest = cdr.destination_class
    premium = dest == "PREMIUM"
    svc = cdr.service
    one = pd.Series(1, index=cdr.index)
    parts = {
        "nat_voice_s": (home & mo & (svc == "VOICE") & dest.isin(NATIONAL), cdr.duration),
        "intl_voice_s": (home & mo & (svc == "VOICE") & (dest == "INTERNATIONAL"), cdr.duration),
        "sms_home": (home & mo & (svc == "SMS") & ~premium & (dest != "TOLLFREE"), one),
        "mms_home": (home & mo & (svc == "MMS") & ~premium & (dest != "TOLLFREE"), one),
        "data_kb_home": (home & (svc == "DATA"), cdr.volume),
        "roam_voice_s": (~home & (svc == "VOICE") & ~premium, cdr.duration),
        "roam_data_kb": (~home & (svc == "DATA"), cdr.volume),
        "roam_sms": (~home & mo & (svc == "SMS") & ~premium, one),
        "roam_mms": (~home & mo & (svc == "MMS") & ~premium, one),
    }
    frame = cdr[["msisdn", "bill_period"]].copy()
    for name, (mask, qty) in parts.items():
        frame[name] = qty.where(mask, 0).astype(int)
    frame["premium"] = [c if p else Decimal(0) for c, p in zip(cdr.charge_d, premium,
                                                                 strict=True)]
    out: dict[tuple[str, str], dict] = {}
    for key, g in frame.groupby(["msisdn", "bill_period"]):
        out[key] = {b: (sum(g[b], Decimal(0)) if b == "premium" else int(g[b].sum()))
                    for b in BUCKETS}
    return out


def plan_cost(plan: pd.Series, u: dict | None) -> Decimal:
    """fee + the exact usage cost rounded half up to 1e-4 ZAR, with exact fractions."""
    u = u or dict.fromkeys(BUCKETS, 0)

    def rate(col: str) -> Fraction:
        return Fraction(plan[col])

    exact = (
        max(0, u["nat_voice_s"] - int(plan.incl_voice_min) * 60) * rate("rate_voice_national") / 60
        + u["intl_voice_s"] * rate("rate_voice_international") / 60
        + max(0, u["sms_home"] - int(plan.incl_sms)) * rate("rate_sms")
        + u["mms_home"] * rate("rate_mms")
        + max(0, u["data_kb_home"] - int(plan.incl_data_mb) * 1024) * rate("rate_data_mb") / 1024
        + u["roam_voice_s"] * rate("rate_roaming_voice") / 60
        + u["roam_data_kb"] * rate("rate_roaming_data_mb") / 1024
        + u["roam_sms"] * rate("rate_sms")
        + u["roam_mms"] * rate("rate_mms")
        + Fraction(str(u["premium"]))
    )
    units = math.floor(exact * 10000 + Fraction(1, 2))
    return Decimal(plan.monthly_fee) + Decimal(units) * UNIT


def avg(total: Decimal, n: int) -> Decimal:
    return (total / n).quantize(UNIT, rounding=ROUND_HALF_UP)


class Model:
    """Everything the analyser should say, computed from the raw files."""

    def __init__(self, raw):
        self.raw = raw
        self.bill = raw.billing_frame()
        cdr = raw.cdr_frame()
        self.cdr = cdr
        self.usage = usage_buckets(cdr)
        self.plans = raw.plans.set_index("plan_code")
        self.lines = raw.lines.set_index("msisdn")
        emp = raw.employees.set_index("employee_id")
        cc = dict(zip(raw.cost_centres.cost_centre_id, raw.cost_centres.name, strict=True))
        self.cost_centre = {}
        for m, line in self.lines.iterrows():
            if line.employee_id and line.employee_id in emp.index:
                c = emp.loc[line.employee_id].cost_centre_id
                self.cost_centre[m] = (c, cc.get(c))
            else:
                self.cost_centre[m] = ("UNASSIGNED", "Unassigned lines")

    def billed(self, tenant: str, visible: set[str], periods: list[str]) -> pd.DataFrame:
        """(msisdn, bill_period) → SUBSCRIPTION + USAGE of registered visible lines."""
        b = self.bill
        b = b[(b.tenant_id == tenant) & b.msisdn.isin(visible) & b.bill_period.isin(periods)
              & b.charge_type.isin(["SUBSCRIPTION", "USAGE"])]
        return b.groupby(["msisdn", "bill_period"]).agg(
            billed=("amount_d", lambda s: sum(s, Decimal(0))),
            vat=("vat_d", lambda s: sum(s, Decimal(0))),
        )

    def candidates(self, msisdn: str) -> list[str]:
        current = self.plans.loc[self.lines.loc[msisdn].plan_code]
        return sorted(self.plans.index[self.plans.payment == current.payment])

    def month_costs(self, tenant, visible, period_to, months) -> pd.DataFrame:
        rows = []
        for (m, p), r in self.billed(tenant, visible, window(period_to, months)).iterrows():
            current = self.lines.loc[m].plan_code
            for code in self.candidates(m):
                rows.append({"msisdn": m, "bill_period": p, "plan_code": code,
                             "is_current": code == current,
                             "cost": plan_cost(self.plans.loc[code], self.usage.get((m, p))),
                             "billed_current": r.billed, "billed_vat": r.vat})
        return pd.DataFrame(rows)

    def options(self, tenant, visible, period_to, months) -> pd.DataFrame:
        mc = self.month_costs(tenant, visible, period_to, months)
        rows = []
        for (m, code), g in mc.groupby(["msisdn", "plan_code"]):
            rows.append({"msisdn": m, "plan_code": code,
                         "avg_cost": avg(sum(g.cost, Decimal(0)), len(g)),
                         "is_current": bool(g.is_current.iloc[0]), "months": len(g),
                         "months_cheaper": int((g.cost < g.billed_current).sum())})
        return pd.DataFrame(rows)

    def analysis(self, tenant, visible, period_to, months, min_saving=Decimal(20),
                 min_pct=Decimal(5)) -> pd.DataFrame:
        mc = self.month_costs(tenant, visible, period_to, months)
        quiet = window(period_to, 3)
        c = self.cdr
        active = set(c[(c.tenant_id == tenant) & c.bill_period.isin(quiet)].msisdn)
        rows = []
        for m, g in mc.groupby("msisdn"):
            current = self.lines.loc[m].plan_code
            totals = {code: sum(pg.cost, Decimal(0)) for code, pg in g.groupby("plan_code")}
            best = min(totals, key=lambda code: (totals[code], code != current, code))
            bg = g[g.plan_code == best]
            n = len(bg)
            savings = list(bg.billed_current - bg.cost)
            avg_current = avg(sum(bg.billed_current, Decimal(0)), n)
            avg_best = avg(totals[best], n)
            saving = avg_current - avg_best
            better = sum(1 for s in savings if s > 0)
            rows.append({
                "msisdn": m, "current_plan": current, "months": n,
                "avg_cost_current": avg_current, "best_plan": best, "avg_cost_best": avg_best,
                "avg_saving": saving, "months_better": better,
                "min_saving": min(savings), "max_saving": max(savings),
                "recommended": bool(best != current and saving > min_saving
                                    and saving * 100 > min_pct * avg_current
                                    and 2 * better > months),
                "possibly_redundant": m not in active,
                "avg_vat_current": avg(sum(bg.billed_vat, Decimal(0)), n),
                "cost_centre_id": self.cost_centre[m][0],
                "cost_centre_name": self.cost_centre[m][1],
            })
        return pd.DataFrame(rows)

    def trend(self, tenant, visible, all_lines: bool) -> pd.DataFrame:
        """Per bill period; admin and finance also see billed numbers missing from the register."""
        b = self.bill
        b = b[(b.tenant_id == tenant) & (b.msisdn != "") & (all_lines | b.msisdn.isin(visible))]
        rows = []
        for p, g in b.groupby("bill_period"):
            n = g.msisdn.nunique()
            plan = sum(g[g.charge_type.isin(["SUBSCRIPTION", "USAGE"])].amount_d, Decimal(0))
            total = sum(g.amount_d, Decimal(0))
            rows.append({"bill_period": p, "lines": n, "plan_spend": plan,
                         "avg_plan_spend_per_line": avg(plan, n),
                         "avg_spend_per_line": avg(total, n)})
        return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def model(raw) -> Model:
    return Model(raw)


@pytest.fixture(scope="module")
def last_period(raw) -> str:
    return sorted(raw.billing.bill_period.unique())[-1]


def viewer(raw, people, profile):
    p = people[profile]
    return p.tenant_id, raw.visible_lines(p.role, p.tenant_id, p.employee_id)


def _d(value) -> Decimal:
    return Decimal(str(value)).quantize(UNIT)


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame, key: list[str], cols: list[str]):
    assert len(got) == len(want), (len(got), len(want))
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    for col in cols:
        g, w = list(got[col]), list(want[col])
        if isinstance(w[0], Decimal):
            g = [_d(v) for v in g]
        elif isinstance(w[0], bool):
            g = [v in (True, "True", "true") for v in g]
        elif isinstance(w[0], int):
            g = [int(v) for v in g]
        bad = [(i, a, b) for i, (a, b) in enumerate(zip(g, w, strict=True)) if a != b]
        assert not bad, f"{col}: {bad[:5]}"


def _csv(resp) -> pd.DataFrame:
    assert resp.status_code == 200, resp.data[:300]
    text = resp.data.decode("utf-8-sig")
    return pd.DataFrame(list(csv.DictReader(io.StringIO(text))))


def run_analysis(scope, period_to, months=3, min_saving=20, min_pct=5, cost_centre=None):
    return gate.run("reports.tariff_analysis", scope, period_from=period_to, period_to=period_to,
                    months=months, min_saving=min_saving, min_pct=min_pct,
                    cost_centre=cost_centre)


# -- the current plan reproduces every bill ------------------------------------------------------


@pytest.mark.parametrize("profile", ["admin", "admin2"])
def test_current_plan_reproduces_every_billed_line_month(profile, raw, people, scope_of, model,
                                                         last_period):
    """The required check: the model on the current plan = billed SUBSCRIPTION + USAGE."""
    tenant, visible = viewer(raw, people, profile)
    n_periods = raw.billing.bill_period.nunique()
    df = gate.run("reports.tariff_line_months", scope_of(profile), period_from=last_period,
                  period_to=last_period, months=12, msisdn=None)
    current = df[df.is_current]
    billed = model.billed(tenant, visible, window(last_period, 12)).reset_index()
    assert len(current) == len(billed) > 0
    merged = current.merge(billed, on=["msisdn", "bill_period"], how="outer", indicator=True)
    assert set(merged._merge) == {"both"}
    bad = merged[[_d(c) != b for c, b in zip(merged.cost, merged.billed, strict=True)]]
    assert bad.empty, bad[["msisdn", "bill_period", "plan_code", "cost", "billed"]].head()
    assert current.bill_period.nunique() == n_periods


def test_every_plan_cost_matches_the_exact_model(raw, people, scope_of, model, last_period):
    tenant, visible = viewer(raw, people, "admin")
    got = gate.run("reports.tariff_line_months", scope_of("admin"), period_from=last_period,
                   period_to=last_period, months=4, msisdn=None)
    want = model.month_costs(tenant, visible, last_period, 4)
    assert_frames_equal(got, want, ["msisdn", "bill_period", "plan_code"],
                        ["msisdn", "bill_period", "plan_code", "is_current", "cost",
                         "billed_current", "billed_vat"])


# -- the analysis per profile ------------------------------------------------------------------


CASES = [pytest.param(p, 3, id=f"{p}-3-months") for p in VIEWERS] + [
    pytest.param("admin", 1, id="admin-1-month"),
    pytest.param("admin", 6, id="admin-6-months"),
    pytest.param("manager", 12, id="manager-12-months"),
]
COMPARED = ANALYSIS_COLUMNS + ["possibly_redundant", "avg_vat_current", "cost_centre_id",
                               "cost_centre_name"]


@pytest.mark.parametrize("profile,months", CASES)
def test_analysis_matches_the_raw_files(profile, months, raw, people, scope_of, model,
                                        last_period):
    tenant, visible = viewer(raw, people, profile)
    got = run_analysis(scope_of(profile), last_period, months)
    want = model.analysis(tenant, visible, last_period, months)
    assert len(want) > 0
    assert set(got.msisdn) <= visible
    assert_frames_equal(got, want, ["msisdn"], COMPARED)


def test_analysis_ending_earlier_and_other_thresholds(raw, people, scope_of, model, last_period):
    tenant, visible = viewer(raw, people, "finance")
    to = shift(last_period, -2)
    for min_saving, min_pct in ((0, 0), (Decimal("500.5"), 30), (1_000_000, 100)):
        got = run_analysis(scope_of("finance"), to, 2, min_saving, min_pct)
        want = model.analysis(tenant, visible, to, 2, Decimal(str(min_saving)), Decimal(min_pct))
        assert_frames_equal(got, want, ["msisdn"], COMPARED)
    # the thresholds matter: the loosest recommends more than the strictest (which recommends none)
    loose = run_analysis(scope_of("finance"), to, 2, 0, 0)
    strict = run_analysis(scope_of("finance"), to, 2, 1_000_000, 100)
    assert loose.recommended.sum() > 0 and strict.recommended.sum() == 0


def test_recommendation_rule_and_risk_band_hold_row_by_row(scope_of, last_period):
    """Every row obeys the rule as stated, whatever the data: a cross-check of the SQL's logic."""
    df = run_analysis(scope_of("admin"), last_period, 3)
    for r in df.itertuples(index=False):
        assert r.min_saving <= r.avg_saving <= r.max_saving or r.best_plan == r.current_plan
        assert 0 <= r.months_better <= r.months <= 3
        rule = (r.best_plan != r.current_plan and r.avg_saving > 20
                and r.avg_saving * 100 > 5 * r.avg_cost_current and 2 * r.months_better > 3)
        assert bool(r.recommended) == rule, r
    assert df.recommended.any() and (~df.recommended.astype(bool)).any()


@pytest.mark.parametrize("profile", VIEWERS)
def test_options_match_the_raw_files(profile, raw, people, scope_of, model, last_period):
    tenant, visible = viewer(raw, people, profile)
    got = gate.run("reports.tariff_options", scope_of(profile), period_from=last_period,
                   period_to=last_period, months=3, msisdn=None)
    want = model.options(tenant, visible, last_period, 3)
    assert_frames_equal(got, want, ["msisdn", "plan_code"],
                        ["msisdn", "plan_code", "avg_cost", "is_current", "months",
                         "months_cheaper"])


def test_candidates_share_the_current_plans_payment_type(raw, scope_of, last_period):
    payment = dict(zip(raw.plans.plan_code, raw.plans.payment, strict=True))
    df = gate.run("reports.tariff_options", scope_of("admin"), period_from=last_period,
                  period_to=last_period, months=3, msisdn=None)
    current = df[df.is_current].set_index("msisdn").plan_code
    assert all(payment[p] == payment[current[m]] for m, p in zip(df.msisdn, df.plan_code,
                                                                 strict=True))
    prepaid = {p for p, k in payment.items() if k == "PREPAID"}
    n_post = sum(1 for k in payment.values() if k == "POSTPAID")
    assert df.groupby("msisdn").size().max() == max(n_post, len(prepaid))


@pytest.mark.parametrize("profile", VIEWERS)
def test_spend_trend_matches_the_raw_bills(profile, raw, people, scope_of, model):
    tenant, visible = viewer(raw, people, profile)
    got = gate.run("reports.tariff_spend_trend", scope_of(profile))
    want = model.trend(tenant, visible, profile in ("admin", "finance"))
    assert_frames_equal(got, want, ["bill_period"],
                        ["bill_period", "lines", "plan_spend", "avg_plan_spend_per_line",
                         "avg_spend_per_line"])


# -- figures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", VIEWERS)
def test_figures_show_the_expected_numbers(profile, raw, people, scope_of, model, last_period):
    from selfcare.web.figures import tariffs as fig

    tenant, visible = viewer(raw, people, profile)
    df = run_analysis(scope_of(profile), last_period)
    want = model.analysis(tenant, visible, last_period, 3)
    rec = want[want.recommended]
    # potential saving per cost centre, recommended lines only
    per_cc = {name: sum(g.avg_saving, Decimal(0)) for name, g in rec.groupby("cost_centre_name")}
    bars = fig.cost_centre_figure(df).data[0]
    assert dict(zip(bars.y, bars.x, strict=True)) == pytest.approx(
        {k: float(v) for k, v in per_cc.items()}, abs=1e-6)
    k = fig.kpis(df)
    assert (k["lines"], k["recommended"], k["redundant"]) == (
        len(want), len(rec), int(want.possibly_redundant.sum()))
    assert k["monthly_saving"] == sum(rec.avg_saving, Decimal(0))
    # the risk band: min to max monthly saving, average marker, for lines with another plan
    band, marker = fig.risk_band_figure(df).data
    alt = want[want.best_plan != want.current_plan].sort_values(
        ["avg_saving", "msisdn"], ascending=[False, True]).head(20)
    assert list(band.y) == [f"{m} → {b}" for m, b in zip(alt.msisdn, alt.best_plan, strict=True)]
    assert list(band.base) == pytest.approx([float(v) for v in alt.min_saving])
    assert [b + x for b, x in zip(band.base, band.x, strict=True)] == pytest.approx(
        [float(v) for v in alt.max_saving])
    assert list(marker.x) == pytest.approx([float(v) for v in alt.avg_saving])
    # incl. VAT: the bill with the invoices' VAT, the model's cost x 1.15
    rows = {r["msisdn"]: r for r in fig.analysis_rows(df, vat=True)}
    for w in want.itertuples(index=False):
        incl_best = (w.avg_cost_best * Decimal("1.15")).quantize(UNIT, ROUND_HALF_UP)
        assert rows[w.msisdn]["avg_cost_current"] == pytest.approx(
            float(w.avg_cost_current + w.avg_vat_current))
        assert rows[w.msisdn]["avg_cost_best"] == pytest.approx(float(incl_best))


# -- exports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", VIEWERS)
def test_exports_match_the_raw_files(profile, raw, people, flask_app, model, last_period):
    tenant, visible = viewer(raw, people, profile)
    client = flask_app.test_client()
    login(client, people[profile])
    got = _csv(client.get(f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"
                          "&months=3&min_saving=20&min_pct=5"))
    assert list(got.columns[: len(ANALYSIS_COLUMNS)]) == ANALYSIS_COLUMNS
    want = model.analysis(tenant, visible, last_period, 3)
    assert_frames_equal(got, want, ["msisdn"], ANALYSIS_COLUMNS + ["possibly_redundant"])
    # defaults (3 months, R20, 5 %) when the filters are left out
    again = _csv(client.get(f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"))
    assert again.equals(got)

    got = _csv(client.get(f"/export/tariff_options.csv?from={last_period}&to={last_period}"
                          "&months=3"))
    assert list(got.columns[:3]) == ["msisdn", "plan_code", "avg_cost"]
    want = model.options(tenant, visible, last_period, 3)
    assert_frames_equal(got, want, ["msisdn", "plan_code"], ["msisdn", "plan_code", "avg_cost"])

    line = sorted(want.msisdn)[0]
    got = _csv(client.get(f"/export/tariff_line_months.csv?from={last_period}&to={last_period}"
                          f"&months=6&msisdn={line}"))
    mc = model.month_costs(tenant, visible, last_period, 6)
    assert_frames_equal(got, mc[mc.msisdn == line], ["bill_period", "plan_code"],
                        ["bill_period", "plan_code", "cost", "billed_current"])


def test_export_thresholds_and_cost_centre_filter(raw, people, flask_app, model, last_period):
    tenant, visible = viewer(raw, people, "admin")
    client = flask_app.test_client()
    login(client, people["admin"])
    got = _csv(client.get(f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"
                          "&months=6&min_saving=0&min_pct=2.5"))
    want = model.analysis(tenant, visible, last_period, 6, Decimal(0), Decimal("2.5"))
    assert_frames_equal(got, want, ["msisdn"], ANALYSIS_COLUMNS)
    cc = sorted(want.cost_centre_id)[0]
    got = _csv(client.get(f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"
                          f"&cost_centre={cc}"))
    want = model.analysis(tenant, visible, last_period, 3)
    assert_frames_equal(got, want[want.cost_centre_id == cc], ["msisdn"], ANALYSIS_COLUMNS)


@pytest.mark.parametrize("query", [
    pytest.param("months=0", id="months-0"),
    pytest.param("months=13", id="months-13"),
    pytest.param("min_saving=-1", id="negative-saving"),
    pytest.param("min_pct=101", id="pct-over-100"),
    pytest.param("min_saving=1e3", id="exponent"),
    pytest.param("min_saving=20.00001", id="five-decimals"),
    pytest.param("msisdn=27%27or", id="msisdn-not-digits"),
    pytest.param("line=1", id="unknown-filter"),
])
def test_export_rejects_bad_filters(query, people, flask_app, last_period):
    client = flask_app.test_client()
    login(client, people["admin"])
    report = "tariff_options" if "msisdn" in query else "tariff_analysis"
    resp = client.get(f"/export/{report}.csv?from={last_period}&to={last_period}&{query}")
    assert resp.status_code == 400, resp.data[:200]


# -- scope --------------------------------------------------------------------------------------


def test_analyst_is_refused_page_and_exports(people, flask_app, last_period):
    client = flask_app.test_client()
    login(client, people["analyst"])
    assert client.get("/tariffs").status_code == 403
    for report in ("tariff_analysis", "tariff_options", "tariff_line_months"):
        resp = client.get(f"/export/{report}.csv?from={last_period}&to={last_period}")
        assert resp.status_code == 403


def test_signed_out_gets_no_export(flask_app, last_period):
    resp = flask_app.test_client().get(
        f"/export/tariff_analysis.csv?from={last_period}&to={last_period}")
    assert resp.status_code == 401


@pytest.mark.parametrize("profile", VIEWERS)
def test_page_opens_for_every_viewer(profile, people, flask_app):
    client = flask_app.test_client()
    login(client, people[profile])
    assert client.get("/tariffs").status_code == 200


def test_manager_never_sees_a_line_outside_the_chain(raw, people, scope_of, last_period):
    _, visible = viewer(raw, people, "manager")
    tenant_lines = set(raw.lines[raw.lines.tenant_id == people["manager"].tenant_id].msisdn)
    assert tenant_lines - visible, "the manager's chain should not be the whole tenant"
    scope = scope_of("manager")
    for name, params in (
        ("reports.tariff_analysis", {"months": 12, "min_saving": 0, "min_pct": 0,
                                     "cost_centre": None}),
        ("reports.tariff_options", {"months": 12, "msisdn": None}),
        ("reports.tariff_line_months", {"months": 12, "msisdn": None}),
    ):
        df = gate.run(name, scope, period_from=last_period, period_to=last_period, **params)
        assert len(df) and set(df.msisdn) <= visible, name
    # a line outside the chain, asked for by number, gives nothing
    outside = sorted(tenant_lines - visible)[0]
    df = gate.run("reports.tariff_line_months", scope, period_from=last_period,
                  period_to=last_period, months=12, msisdn=outside)
    assert df.empty


def test_tenant_two_admin_never_sees_tenant_one(raw, people, scope_of, flask_app, last_period):
    t1 = set(raw.lines[raw.lines.tenant_id == people["admin"].tenant_id].msisdn)
    df = run_analysis(scope_of("admin2"), last_period, 12, 0, 0)
    assert len(df) and not set(df.msisdn) & t1
    trend = gate.run("reports.tariff_spend_trend", scope_of("admin2"))
    t2 = raw.billing_frame()
    t2 = t2[(t2.tenant_id == people["admin2"].tenant_id) & (t2.msisdn != "")]
    assert list(trend.lines) == list(t2.groupby("bill_period").msisdn.nunique())
    client = flask_app.test_client()
    login(client, people["admin2"])
    foreign = sorted(t1)[0]
    for report in ("tariff_options", "tariff_line_months"):
        got = _csv(client.get(f"/export/{report}.csv?from={last_period}&to={last_period}"
                              f"&months=12&msisdn={foreign}"))
        assert got.empty, report
    cc = _csv(client.get(f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"
                         f"&cost_centre={people['admin'].tenant_id}-CC001"))
    assert cc.empty


def test_end_user_sees_only_their_own_lines(raw, people, scope_of, flask_app, last_period):
    _, own = viewer(raw, people, "end_user")
    client = flask_app.test_client()
    login(client, people["end_user"])
    got = _csv(client.get(f"/export/tariff_options.csv?from={last_period}&to={last_period}"
                          "&months=12"))
    assert set(got.msisdn) <= own and len(got)
    other = sorted(set(raw.lines[raw.lines.tenant_id == people["end_user"].tenant_id].msisdn)
                   - own)[0]
    got = _csv(client.get(f"/export/tariff_line_months.csv?from={last_period}&to={last_period}"
                          f"&msisdn={other}"))
    assert got.empty


# -- callbacks ----------------------------------------------------------------------------------


def _as(flask_app, portal, person):
    user = users.find_user(portal["SELFCARE_DB"], person.email)
    ctx = flask_app.test_request_context()
    ctx.push()
    flask_login.login_user(user)
    return ctx


def _in_context(func, *args):
    """Run a callback body in a fresh context (Dash's callback context is a ContextVar)."""
    return copy_context().run(func, *args)


@pytest.mark.parametrize("profile", VIEWERS)
def test_callbacks_build_kpis_charts_grid_and_drill_down(profile, raw, people, portal, flask_app,
                                                         model, last_period):
    from selfcare.web.pages import tariffs as page

    tenant, visible = viewer(raw, people, profile)
    want = model.analysis(tenant, visible, last_period, 3).sort_values("msisdn")
    ctx = _as(flask_app, portal, people[profile])
    try:
        kpis, cc_fig, risk_fig, rows, status, href, options_href = _in_context(
            page.update_analysis, last_period, last_period, [], 3, 20, 5, None)
        assert status is None
        got = sorted(rows, key=lambda r: r["msisdn"])
        assert [r["msisdn"] for r in got] == list(want.msisdn)
        assert [r["avg_saving"] for r in got] == pytest.approx(
            [float(v) for v in want.avg_saving])
        assert [r["recommended"] == "Yes" for r in got] == list(want.recommended)
        assert [r["possibly_redundant"] == "Yes" for r in got] == list(want.possibly_redundant)
        assert href == (f"/export/tariff_analysis.csv?from={last_period}&to={last_period}"
                        "&months=3&min_saving=20&min_pct=5")
        assert options_href.startswith("/export/tariff_options.csv?")
        assert len(cc_fig.data) == 1 and len(risk_fig.data) == 2
        assert kpis is not None

        # the drill-down for one line: month by month on each plan
        line = want.msisdn.iloc[0]
        title, line_fig, option_rows, month_rows, line_status, o_href, m_href = _in_context(
            page.update_line, [{"msisdn": line}], last_period, last_period, [], 3)
        assert line_status is None and line in title
        mc = model.month_costs(tenant, visible, last_period, 3)
        mc = mc[mc.msisdn == line].sort_values(["bill_period", "plan_code"])
        assert [(r["bill_period"], r["plan_code"]) for r in month_rows] == list(
            zip(mc.bill_period, mc.plan_code, strict=True))
        assert [r["cost"] for r in month_rows] == pytest.approx([float(v) for v in mc.cost])
        opts = model.options(tenant, visible, last_period, 3)
        opts = opts[opts.msisdn == line]
        assert {r["plan_code"]: r["avg_cost"] for r in option_rows} == pytest.approx(
            {p: float(v) for p, v in zip(opts.plan_code, opts.avg_cost, strict=True)})
        assert m_href.endswith(f"msisdn={line}") and o_href.endswith(f"msisdn={line}")
        # every candidate plan is a line in the chart, plus the billed bars
        assert len(line_fig.data) == 1 + mc.plan_code.nunique()

        trend_fig, trend_status = _in_context(page.update_trend, last_period, [])
        t = model.trend(tenant, visible, profile in ("admin", "finance"))
        assert trend_status is None
        assert list(trend_fig.data[0].y) == pytest.approx(
            [float(v) for v in t.avg_plan_spend_per_line])
    finally:
        ctx.pop()


def test_callbacks_refuse_a_foreign_line_and_bad_inputs(raw, people, portal, flask_app,
                                                        last_period):
    from selfcare.web.pages import tariffs as page

    _, visible = viewer(raw, people, "manager")
    outside = sorted(set(raw.lines.msisdn) - visible)[0]
    ctx = _as(flask_app, portal, people["manager"])
    try:
        title, _, opts, months, status, _, _ = _in_context(
            page.update_line, [{"msisdn": outside}], last_period, last_period, [], 3)
        assert opts == [] and months == [] and status is not None
        # a non-digit "line" never reaches a query
        out = _in_context(page.update_line, [{"msisdn": "1 or 1=1"}], last_period, last_period,
                          [], 3)
        assert out[2] == [] and out[5] == ""
        # nonsense thresholds fall back to the defaults
        out = _in_context(page.update_analysis, last_period, last_period, [], 99, -5, "x", None)
        assert "months=3&min_saving=20&min_pct=5" in out[5]
    finally:
        ctx.pop()


def test_analyst_callback_is_refused(people, portal, flask_app, last_period):
    from werkzeug.exceptions import Forbidden

    from selfcare.web.pages import tariffs as page

    ctx = _as(flask_app, portal, people["analyst"])
    try:
        with pytest.raises(Forbidden):
            page.update_analysis(last_period, last_period, [], 3, 20, 5, None)
    finally:
        ctx.pop()


def test_layout_runs_without_a_user_or_a_query():
    from selfcare.web.pages import tariffs as page

    assert page.layout() is not None


TARIFF_QUERIES = ["reports.tariff_analysis", "reports.tariff_options", "reports.tariff_line_months"]


@pytest.mark.parametrize("name", TARIFF_QUERIES)
def test_tariff_queries_price_through_the_one_model_view(name):
    """The pricing lives once, in model.v_tariff_line_month_costs, so the reports cannot drift.

    Each priced report reads the view and none of the pricing's own inputs, and none carries
    the tariff formula (its 15360 scaling) again.
    """
    sql = re.sub(r"--[^\n]*", "", queries.load(name))
    assert re.search(r"\bfrom\s+v_tariff_line_month_costs\b", sql), name
    for table in ("fct_billing", "agg_tariff_usage_line_month", "dim_plan", "snap_plan"):
        assert not re.search(rf"\b{table}\b", sql), f"{name} reads {table} itself"
    assert "15360" not in sql, f"{name} prices usage itself"
    assert "model.v_tariff_line_month_costs" in gate.MODEL_VIEWS
    assert "15360" in queries.load("model.v_tariff_line_month_costs")


# -- hand-worked line-months on a tiny lake -------------------------------------------------------


HAND = {
    "tenants": [("TH", "Hand Co", "Testing", "Africa/Johannesburg")],
    "accounts": [("AH", "TH", "", "Hand account")],
    "cost_centres": [("CCH", "TH", "Hand centre", "")],
    "employees": [("EH1", "TH", "Hand One", "one@hand.test", "", "CCH", "GP")],
    "plans": [
        # code, name, product, payment, fee, min, sms, MB, nat, intl, sms, mms, data/MB, roam
        # voice, roam data/MB
        ("PA", "Post A", "HYBRID", "POSTPAID", "100.0000", "10", "5", "1", "1.2000", "3.0000",
         "0.5000", "0.8000", "0.1000", "10.0000", "50.0000"),
        ("PB", "Post B", "HYBRID", "POSTPAID", "40.0000", "0", "0", "0", "2.0000", "3.0000",
         "1.0000", "1.0000", "1.0000", "12.0000", "60.0000"),
        ("PP", "Pre P", "HYBRID", "PREPAID", "0.0000", "0", "0", "0", "1.5000", "4.0000",
         "0.6000", "0.9000", "0.9900", "20.0000", "150.0000"),
        ("PQ", "Pre Q", "DATA", "PREPAID", "99.0000", "0", "0", "1024", "1.6000", "4.0000",
         "0.6000", "0.9000", "0.8900", "20.0000", "150.0000"),
    ],
    "lines": [
        ("27600000001", "TH", "AH", "EH1", "PA", "ACTIVE", "2026-01-01", "", "", ""),
        ("27600000002", "TH", "AH", "EH1", "PP", "ACTIVE", "2026-01-01", "", "", ""),
    ],
}
L1, L2 = "27600000001", "27600000002"


def _cdr(n, msisdn, day, service, direction, dest, roaming, dur, vol, charge):
    return (f"R{n:04d}", "AH", msisdn, f"2026-{day}T10:00:00+02:00", service, direction,
            "27821234567", dest, roaming, str(dur), str(vol), "", charge, "")


CDRS = [
    # L1, 2026-02: exactly on every allowance (600 s, 5 SMS, 1024 KB) → the fee alone
    _cdr(1, L1, "02-03", "VOICE", "MO", "OFFNET", "", 600, 0, "0.0000"),
    *[_cdr(2 + i, L1, "02-04", "SMS", "MO", "ONNET", "", 0, 0, "0.0000") for i in range(5)],
    _cdr(7, L1, "02-05", "DATA", "MO", "", "", 0, 1024, "0.0000"),
    _cdr(8, L1, "02-06", "VOICE", "MT", "ONNET", "", 900, 0, "0.0000"),  # incoming: free
    _cdr(9, L1, "02-06", "SMS", "MO", "TOLLFREE", "", 0, 0, "0.0000"),  # toll-free: free
    # L1, 2026-03: one over on each allowance, plus roaming and premium
    _cdr(10, L1, "03-03", "VOICE", "MO", "OFFNET", "", 601, 0, "0.0200"),
    *[_cdr(11 + i, L1, "03-04", "SMS", "MO", "ONNET", "", 0, 0, "0.0000") for i in range(5)],
    _cdr(16, L1, "03-04", "SMS", "MO", "ONNET", "", 0, 0, "0.5000"),
    _cdr(17, L1, "03-05", "DATA", "MO", "", "", 0, 1025, "0.0001"),
    _cdr(18, L1, "03-10", "VOICE", "MT", "ONNET", "GBR", 61, 0, "10.1667"),  # roaming MT pays
    _cdr(19, L1, "03-10", "DATA", "MO", "", "GBR", 0, 512, "25.0000"),
    _cdr(20, L1, "03-10", "SMS", "MO", "ONNET", "GBR", 0, 0, "0.5000"),
    _cdr(21, L1, "03-11", "SMS", "MO", "PREMIUM", "", 0, 0, "5.0000"),
    _cdr(22, L1, "03-12", "VOICE", "MO", "INTERNATIONAL", "", 30, 0, "1.5000"),
    # L2 (prepaid), 2026-03: 90 s national, 2 MB data
    _cdr(23, L2, "03-03", "VOICE", "MO", "ONNET", "", 90, 0, "2.2500"),
    _cdr(24, L2, "03-04", "DATA", "MO", "", "", 0, 2048, "1.9800"),
]

# Worked by hand (ZAR, excl. VAT):
#  L1 2026-02 on PA: 100 (all on the allowance).            PB: 40 + 600 s x 2/60 = 20
#    + 5 SMS x 1 = 5 + 1024 KB x 1/1024 = 1 → 66.0000.
#  L1 2026-03 on PA: voice 1 s x 1.2/60 = 0.02; SMS 1 x 0.5; data 1 KB x 0.1/1024 = 0.00009765625;
#    roaming voice 61 s x 10/60 = 10.1666…; roaming data 512 KB x 50/1024 = 25; roaming SMS 0.5
#    (roaming never uses the allowance); premium 5; international 30 s x 3/60 = 1.5
#    → 42.68676432… → 42.6868, + fee 100 = 142.6868.
#  L1 2026-03 on PB: 601 x 2/60 = 20.0333…; 6 SMS x 1 = 6; 1025 KB x 1/1024 = 1.0009765625;
#    roaming voice 61 x 12/60 = 12.2; roaming data 512 x 60/1024 = 30; roaming SMS 1; premium 5;
#    international 1.5 → 76.7343098958… → 76.7343, + 40 = 116.7343.
#  L2 2026-03 on PP: 90 x 1.5/60 = 2.25; 2048 KB x 0.99/1024 = 1.98 → 4.2300.
#    PQ: 99 + 90 x 1.6/60 = 2.4, the 2 MB inside its 1024 MB allowance → 101.4000.
BILLS = [
    ("INV-1", "1", "AH", "2026-02", L1, "SUBSCRIPTION", "fee", "100.0000", "15.0000"),
    ("INV-1", "2", "AH", "2026-02", L2, "SUBSCRIPTION", "fee", "0.0000", "0.0000"),
    ("INV-2", "1", "AH", "2026-03", L1, "SUBSCRIPTION", "fee", "100.0000", "15.0000"),
    ("INV-2", "2", "AH", "2026-03", L1, "USAGE", "usage", "42.6868", "6.4030"),
    ("INV-2", "3", "AH", "2026-03", L1, "VAS", "insurance", "59.0000", "8.8500"),
    ("INV-2", "4", "AH", "2026-03", L2, "SUBSCRIPTION", "fee", "0.0000", "0.0000"),
    ("INV-2", "5", "AH", "2026-03", L2, "USAGE", "usage", "4.2300", "0.6345"),
    ("INV-2", "6", "AH", "2026-03", "", "ADJUSTMENT", "late fee", "15.0000", "2.2500"),
]
HAND_COSTS = {
    (L1, "2026-02", "PA"): "100.0000", (L1, "2026-02", "PB"): "66.0000",
    (L1, "2026-03", "PA"): "142.6868", (L1, "2026-03", "PB"): "116.7343",
    (L2, "2026-02", "PP"): "0.0000", (L2, "2026-02", "PQ"): "99.0000",
    (L2, "2026-03", "PP"): "4.2300", (L2, "2026-03", "PQ"): "101.4000",
}


def _write(folder: Path, kind: str, rows, suffix: str) -> None:
    from selfcare.contract import KINDS

    with open(folder / f"{kind}_{suffix}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(KINDS[kind].column_names)
        w.writerows(rows)


@pytest.fixture(scope="module")
def hand_lake(tmp_path_factory):
    """A tiny lake from hand-written export files, read through a private gate engine."""
    import duckdb

    from selfcare.etl import lake as lake_files
    from selfcare.etl.load import load

    drop = tmp_path_factory.mktemp("hand_drop")
    for kind, rows in HAND.items():
        _write(drop, kind, rows, "2026-03-31")
    _write(drop, "cdr", CDRS, "2026-03")
    _write(drop, "billing", BILLS, "2026-03")
    lake = tmp_path_factory.mktemp("hand_lake")
    report = load(drop, lake, progress=False)
    assert not report.refused, report.render()
    con = duckdb.connect()
    for statement in lake_files.reader_views(lake):
        con.execute(statement)
    for name in gate.MODEL_VIEWS:
        con.execute(f"create view {name.split('.')[1]} as {queries.load(name)}")
    yield con
    con.close()


def _hand(con, name: str, **params) -> pd.DataFrame:
    scope = {"scope_tenant_id": "TH", "scope_all_lines": True, "scope_msisdns": []}
    sql = queries.load(name)
    wanted = queries.parameters(sql)
    bound = {k: v for k, v in {**scope, **params}.items() if k in wanted}
    return con.execute(sql, bound).df()


def test_hand_worked_line_months(hand_lake):
    df = _hand(hand_lake, "reports.tariff_line_months", period_from="2026-03",
               period_to="2026-03", months=2, msisdn=None)
    got = {(r.msisdn, r.bill_period, r.plan_code): _d(r.cost) for r in df.itertuples()}
    assert got == {k: Decimal(v) for k, v in HAND_COSTS.items()}
    # prepaid and postpaid never mix
    assert set(df[df.msisdn == L1].plan_code) == {"PA", "PB"}
    assert set(df[df.msisdn == L2].plan_code) == {"PP", "PQ"}


def test_hand_worked_analysis(hand_lake):
    df = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-03", period_to="2026-03",
               months=2, min_saving=20, min_pct=5, cost_centre=None).set_index("msisdn")
    a = df.loc[L1]
    # billed (100 + 142.6868) / 2 = 121.3434; PB (66 + 116.7343) / 2 = 91.36715 → 91.3672
    assert (a.current_plan, a.best_plan, a.months) == ("PA", "PB", 2)
    assert _d(a.avg_cost_current) == Decimal("121.3434")
    assert _d(a.avg_cost_best) == Decimal("91.3672")
    assert _d(a.avg_saving) == Decimal("29.9762")
    assert (a.months_better, _d(a.min_saving), _d(a.max_saving)) == (
        2, Decimal("25.9525"), Decimal("34.0000"))
    assert bool(a.recommended) and not bool(a.possibly_redundant)
    assert _d(a.avg_other_charges) == Decimal("29.5000")  # the VAS of March over 2 months
    b = df.loc[L2]
    # prepaid PP is already the cheapest: nothing to recommend
    assert (b.best_plan, _d(b.avg_saving), int(b.months_better)) == ("PP", Decimal(0), 0)
    assert not bool(b.recommended)
    # R30 is above the saving of 29.9762: no longer recommended; nor at 25 % (saving is 24.7 %)
    for min_saving, min_pct in ((30, 5), (20, 25)):
        again = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-03",
                      period_to="2026-03", months=2, min_saving=min_saving, min_pct=min_pct,
                      cost_centre=None).set_index("msisdn")
        assert not bool(again.loc[L1].recommended)
    # over 3 months the plan won in 2: still more than 3 / 2
    three = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-03",
                  period_to="2026-03", months=3, min_saving=20, min_pct=5,
                  cost_centre=None).set_index("msisdn")
    assert bool(three.loc[L1].recommended)
    # over 4 months, 2 wins are not "most months"
    four = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-03",
                 period_to="2026-03", months=4, min_saving=20, min_pct=5,
                 cost_centre=None).set_index("msisdn")
    assert not bool(four.loc[L1].recommended)
    # only February: the saving (34) is in one month of one, above both thresholds
    feb = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-02",
                period_to="2026-02", months=1, min_saving=20, min_pct=5,
                cost_centre=None).set_index("msisdn")
    assert _d(feb.loc[L1].avg_saving) == Decimal("34.0000") and bool(feb.loc[L1].recommended)
    # L2 had usage in March: not redundant over the last three months
    assert not bool(df.loc[L2].possibly_redundant)


def test_hand_worked_redundant_line(hand_lake):
    # In February L2 has no usage events at all in the last three months (Dec–Feb)
    feb = _hand(hand_lake, "reports.tariff_analysis", period_from="2026-02",
                period_to="2026-02", months=1, min_saving=20, min_pct=5,
                cost_centre=None).set_index("msisdn")
    assert bool(feb.loc[L2].possibly_redundant)
    assert not bool(feb.loc[L1].possibly_redundant)


def test_hand_worked_spend_trend(hand_lake):
    df = _hand(hand_lake, "reports.tariff_spend_trend").set_index("bill_period")
    # Feb: 100 + 0 over 2 lines; Mar: plan 100 + 42.6868 + 0 + 4.23 = 146.9168 over 2 lines,
    # all line charges + 59 VAS = 205.9168 (the account-level adjustment is no line's)
    assert _d(df.loc["2026-02"].avg_plan_spend_per_line) == Decimal("50.0000")
    assert _d(df.loc["2026-03"].avg_plan_spend_per_line) == Decimal("73.4584")
    assert _d(df.loc["2026-03"].avg_spend_per_line) == Decimal("102.9584")
