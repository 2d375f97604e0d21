"""Independent expectations for the Overview and Spend by cost centre pages: pandas and Decimal
on the raw export files (the `raw` fixture), never our SQL.

Attribution is rebuilt here from the raw line register, HR feed and cost-centre file: an invoice
line without msisdn is ACCOUNT_LEVEL, an msisdn missing from the register UNKNOWN, a line without
a known employee UNASSIGNED. Scope: admin and finance see every invoice line of their tenant;
managers and end users only the msisdns `raw.visible_lines` derives from the HR feed.
"""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

D0 = Decimal(0)
Q = Decimal("0.0001")
_CDR: dict[int, pd.DataFrame] = {}


def q(value) -> Decimal:
    """Any amount (Decimal, float, text) to 4 places, for comparisons to the cent and beyond.

    Half up, as DuckDB rounds a derived DECIMAL (an average) when it is cast to 4 places."""
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return D0.quantize(Q)
    return Decimal(str(value)).quantize(Q, rounding=ROUND_HALF_UP)


def txt(value) -> str:
    """A nullable text cell ('' for None or NaN)."""
    return value if isinstance(value, str) else ""


def shift(period: str, months: int) -> str:
    return str(pd.Period(period, freq="M") + months)


def previous_window(period_from: str, period_to: str) -> tuple[str, str]:
    n = (pd.Period(period_to, freq="M") - pd.Period(period_from, freq="M")).n + 1
    return shift(period_from, -n), shift(period_from, -1)


def csv_rows(resp) -> list[dict]:
    assert resp.status_code == 200, resp.data[:300]
    return list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))


class Expect:
    """What one profile should see, computed from the raw files."""

    def __init__(self, raw, person):
        self.raw = raw
        self.person = person
        self.tenant = person.tenant_id
        self.all_lines = person.role in ("admin", "finance")
        self.visible = raw.visible_lines(person.role, person.tenant_id, person.employee_id)

    # -- reference data ------------------------------------------------------------------------
    def cost_centres(self) -> pd.DataFrame:
        cc = self.raw.cost_centres
        return cc[cc.tenant_id == self.tenant]

    def register(self) -> dict[str, dict]:
        """msisdn → attribution of every line of the tenant's register (not only visible ones)."""
        lines = self.raw.lines[self.raw.lines.tenant_id == self.tenant]
        emp = self.raw.employees[self.raw.employees.tenant_id == self.tenant]
        emp_by_id = {e.employee_id: e for e in emp.itertuples(index=False)}
        cc_name = dict(zip(self.cost_centres().cost_centre_id, self.cost_centres().name,
                           strict=True))
        out = {}
        for line in lines.itertuples(index=False):
            e = emp_by_id.get(line.employee_id)
            out[line.msisdn] = {
                "employee_id": e.employee_id if e else "",
                "employee_name": e.full_name if e else "",
                "cost_centre_id": e.cost_centre_id if e else "UNASSIGNED",
                "cost_centre_name": cc_name.get(e.cost_centre_id, e.cost_centre_id) if e
                else "Unassigned lines",
                "plan_code": line.plan_code,
                "status": line.status,
            }
        return out

    def cost_centre_of(self, msisdn: str, register: dict | None = None) -> str:
        register = register if register is not None else self.register()
        if msisdn == "":
            return "ACCOUNT_LEVEL"
        if msisdn not in register:
            return "UNKNOWN"
        return register[msisdn]["cost_centre_id"]

    def sees(self, msisdn: str) -> bool:
        return self.all_lines or msisdn in self.visible

    # -- facts ------------------------------------------------------------------------------------
    def billing(self) -> pd.DataFrame:
        b = self.raw.billing_frame()
        b = b[b.tenant_id == self.tenant]
        if not self.all_lines:
            b = b[b.msisdn.isin(self.visible)]
        return b

    def cdr(self) -> pd.DataFrame:
        key = id(self.raw)
        if key not in _CDR:
            _CDR[key] = self.raw.cdr_frame()
        c = _CDR[key]
        c = c[c.tenant_id == self.tenant]
        if not self.all_lines:
            c = c[c.msisdn.isin(self.visible)]
        return c

    # -- overview -------------------------------------------------------------------------------
    def kpis(self, period_from: str, period_to: str) -> dict:
        b = self.billing()
        cur = b[(b.bill_period >= period_from) & (b.bill_period <= period_to)]
        pf, pt = previous_window(period_from, period_to)
        prev = b[(b.bill_period >= pf) & (b.bill_period <= pt)]
        c = self.cdr()
        c = c[(c.bill_period >= period_from) & (c.bill_period <= period_to)]
        lines = self.raw.lines[self.raw.lines.tenant_id == self.tenant]
        active = {m for m, s in zip(lines.msisdn, lines.status, strict=True)
                  if s == "ACTIVE" and self.sees(m)}
        return {
            "amount_excl_vat": sum(cur.amount_d, D0),
            "vat": sum(cur.vat_d, D0),
            "previous_amount_excl_vat": sum(prev.amount_d, D0),
            "previous_vat": sum(prev.vat_d, D0),
            "previous_from": pf,
            "previous_to": pt,
            "active_lines": len(active),
            "voice_minutes": c[c.service == "VOICE"].duration.sum() / 60,
            "sms": int((c.service == "SMS").sum()),
            "data_gb": c[c.service == "DATA"].volume.sum() / 1048576,
        }

    def trend(self, period_to: str) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        b = self.billing()
        b = b[(b.bill_period >= shift(period_to, -11)) & (b.bill_period <= period_to)]
        return {
            (p, t): (sum(g.amount_d, D0), sum(g.vat_d, D0))
            for (p, t), g in b.groupby(["bill_period", "charge_type"])
        }

    def increases(self, period_to: str) -> list[dict]:
        prev_period = shift(period_to, -1)
        b = self.billing()
        b = b[(b.msisdn != "") & b.bill_period.isin([prev_period, period_to])]
        register = self.register()
        rows = []
        for msisdn, g in b.groupby("msisdn"):
            p = g[g.bill_period == prev_period]
            c = g[g.bill_period == period_to]
            previous, current = sum(p.amount_d, D0), sum(c.amount_d, D0)
            previous_vat = previous + sum(p.vat_d, D0)
            current_vat = current + sum(c.vat_d, D0)
            if current > previous:
                who = register.get(msisdn, {})
                rows.append({
                    "msisdn": msisdn,
                    "employee_id": who.get("employee_id", ""),
                    "cost_centre_id": self.cost_centre_of(msisdn, register),
                    "previous_amount": previous,
                    "current_amount": current,
                    "increase": current - previous,
                    "increase_incl_vat": current_vat - previous_vat,
                })
        rows.sort(key=lambda r: (-r["increase"], r["msisdn"]))
        return rows

    def alerts(self, period_from: str, period_to: str) -> dict[tuple[str, str, str], dict]:
        """(bill_period, msisdn, alert) → amount and earlier average, by the page's rules."""
        out: dict[tuple[str, str, str], dict] = {}
        c = self.cdr()
        c = c[c.bill_period <= period_to]
        roaming = c.assign(r=[d if rc != "" else D0 for d, rc in
                              zip(c.charge_d, c.roaming_country, strict=True)])
        for msisdn, g in roaming.groupby("msisdn"):
            months = sorted((p, sum(x.r, D0)) for p, x in g.groupby("bill_period"))
            for i, (period, amount) in enumerate(months):
                earlier = [a for _, a in months[:i]]
                n, total = len(earlier), sum(earlier, D0)
                if not period_from <= period <= period_to:
                    continue
                if amount > 1000 or (total > 0 and amount * n > 3 * total):
                    out[(period, msisdn, "ROAMING_SHOCK")] = {
                        "amount": amount, "average": total / n if n else None}
        b = self.billing()
        b = b[(b.msisdn != "") & (b.bill_period <= period_to)]
        for msisdn, g in b.groupby("msisdn"):
            months = sorted((p, sum(x.amount_d, D0)) for p, x in g.groupby("bill_period"))
            for i, (period, amount) in enumerate(months):
                earlier = [a for _, a in months[:i]]
                n, total = len(earlier), sum(earlier, D0)
                if not period_from <= period <= period_to or n == 0:
                    continue
                if amount * n > 2 * total and amount * n - total >= 500 * n:
                    out[(period, msisdn, "SPEND_SPIKE")] = {
                        "amount": amount, "average": total / n}
        return out

    # -- spend by cost centre ------------------------------------------------------------------
    def by_cost_centre(self, period_from: str, period_to: str) -> dict[tuple[str, str], dict]:
        """(bill_period, cost_centre_id) → lines, amount, vat: direct, per month."""
        b = self.billing()
        b = b[(b.bill_period >= period_from) & (b.bill_period <= period_to)]
        register = self.register()
        b = b.assign(cc=[self.cost_centre_of(m, register) for m in b.msisdn])
        return {
            (p, cc): {"lines": g[g.msisdn != ""].msisdn.nunique(),
                      "amount": sum(g.amount_d, D0), "vat": sum(g.vat_d, D0)}
            for (p, cc), g in b.groupby(["bill_period", "cc"])
        }

    def parents(self) -> dict[str, str]:
        cc = self.cost_centres()
        return dict(zip(cc.cost_centre_id, cc.parent_cost_centre_id, strict=True))

    def ancestors(self, cost_centre: str) -> list[str]:
        parents, out, seen = self.parents(), [cost_centre], {cost_centre}
        while parents.get(out[-1], "") not in ("", None) and parents[out[-1]] not in seen:
            out.append(parents[out[-1]])
            seen.add(out[-1])
        return out

    def tree(self, period_from: str, period_to: str) -> dict[str, dict]:
        """cost centre → rolled-up amount, vat, lines and previous-window amount and vat."""
        pf, pt = previous_window(period_from, period_to)
        b = self.billing()
        register = self.register()
        b = b.assign(cc=[self.cost_centre_of(m, register) for m in b.msisdn])
        out: dict[str, dict] = {}

        def node(cc):
            return out.setdefault(cc, {"amount": D0, "vat": D0, "lines": set(),
                                       "previous_amount": D0, "previous_vat": D0,
                                       "direct_amount": D0})

        for r in b.itertuples(index=False):
            current = period_from <= r.bill_period <= period_to
            previous = pf <= r.bill_period <= pt
            if not (current or previous):
                continue
            for i, cc in enumerate(self.ancestors(r.cc)):
                n = node(cc)
                if current:
                    n["amount"] += r.amount_d
                    n["vat"] += r.vat_d
                    if r.msisdn:
                        n["lines"].add(r.msisdn)
                    if i == 0:
                        n["direct_amount"] += r.amount_d
                else:
                    n["previous_amount"] += r.amount_d
                    n["previous_vat"] += r.vat_d
        for n in out.values():
            n["lines"] = len(n["lines"])
        return out

    def subtree(self, cost_centre: str) -> set[str]:
        parents = self.parents()
        return {cc for cc in [*parents, "ACCOUNT_LEVEL", "UNASSIGNED", "UNKNOWN"]
                if cost_centre in self.ancestors(cc)}

    def employees(self, period_from: str, period_to: str, cost_centre: str) -> dict[str, dict]:
        """employee id ('' for none) → lines, amount, vat, within the cost centre's subtree."""
        inside = self.subtree(cost_centre)
        b = self.billing()
        b = b[(b.bill_period >= period_from) & (b.bill_period <= period_to)]
        register = self.register()
        b = b[[self.cost_centre_of(m, register) in inside for m in b.msisdn]]
        b = b.assign(emp=[register.get(m, {}).get("employee_id", "") for m in b.msisdn])
        return {
            e: {"lines": g[g.msisdn != ""].msisdn.nunique(), "amount": sum(g.amount_d, D0),
                "vat": sum(g.vat_d, D0)}
            for e, g in b.groupby("emp")
        }

    def lines(self, period_from: str, period_to: str, cost_centre: str | None = None,
              employee: str | None = None) -> dict[str, dict]:
        """msisdn → attribution and spend, for register lines in scope and billed unknown ones."""
        register = self.register()
        b = self.billing()
        b = b[(b.bill_period >= period_from) & (b.bill_period <= period_to) & (b.msisdn != "")]
        spend = {m: (sum(g.amount_d, D0), sum(g.vat_d, D0)) for m, g in b.groupby("msisdn")}
        out = {}
        for msisdn in set(m for m in register if self.sees(m)) | set(spend):
            who = register.get(msisdn, {"employee_id": "", "employee_name": "",
                                        "cost_centre_id": "UNKNOWN", "plan_code": "",
                                        "status": ""})
            amount, vat = spend.get(msisdn, (D0, D0))
            out[msisdn] = {**who, "amount": amount, "vat": vat}
        if cost_centre is not None:
            inside = self.subtree(cost_centre)
            out = {m: r for m, r in out.items() if r["cost_centre_id"] in inside}
        if employee is not None:
            out = {m: r for m, r in out.items() if r["employee_id"] == employee}
        return out
