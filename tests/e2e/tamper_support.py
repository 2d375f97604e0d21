"""Helpers for the tampering tests: what each profile must never see (computed with pandas from
the raw export files, independently of the portal), the foreign ids a hostile browser would send,
well-formed Dash callback bodies built from `/_dash-dependencies`, and a leak detector.

A leak is judged on two kinds of evidence:

* markers: text that can only come from out-of-scope data (an employee name of another tenant or
  outside the chain, another tenant's cost-centre or tenant name, an msisdn of a foreign line that
  no in-scope line ever called or was called by). A request's own tampered values are removed from
  its markers, because a callback may legitimately echo them (a title "Which lines called X", an
  export link).
* line fields: every value under a key that denotes a line, employee or cost centre (`msisdn`,
  `employee_id`, `cost_centre_id`) in a callback's JSON or an export's CSV must be in scope.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd

# Attribution placeholders the model views use for lines without an employee or cost centre.
PLACEHOLDERS = frozenset({"", "UNASSIGNED", "UNKNOWN", "ACCOUNT_LEVEL"})
SHELL_PREFIXES = ("app-", "_pages_")
LINE_KEYS = ("msisdn",)
EMPLOYEE_KEYS = ("employee_id",)
COST_CENTRE_KEYS = ("cost_centre_id",)
# Keys whose values name a person, a cost centre or a tenant (never an echo of the request).
NAME_KEYS = ("employee_name", "cost_centre_name", "parent_name", "tenant_name", "full_name")


@dataclass
class Fence:
    """What one profile may see, what it must never see, and the values to tamper with."""

    profile: str
    role: str
    tenant_id: str | None
    own_msisdns: frozenset[str]  # lines it may see (admin/finance: every msisdn of the tenant)
    own_employees: frozenset[str]
    foreign_cost_centres: frozenset[str]  # cost-centre ids of other tenants
    markers: dict[str, str]  # text -> why it is foreign
    tamper: list[tuple[str, str]]  # (label, value) sent by the hostile browser
    control: list[tuple[str, str]]  # in-scope values of the same kinds (the honest browser)
    own_markers: dict[str, str] = field(default_factory=dict)  # in-scope names and lines

    @property
    def aggregate_only(self) -> bool:
        return self.role == "analyst"


# --- the raw estate -----------------------------------------------------------------------------


@dataclass
class Estate:
    lines: pd.DataFrame
    employees: pd.DataFrame
    cost_centres: pd.DataFrame
    tenants: pd.DataFrame
    cdr: pd.DataFrame  # msisdn, other_party, tenant_id
    msisdn_tenant: dict[str, str]  # every msisdn of the register, the invoices and the CDRs
    periods: list[str]


def read_estate(raw) -> Estate:
    tenant_of = raw.tenant_of_account()
    cdr = raw.cdr[["account_id", "msisdn", "other_party"]].copy()
    cdr["tenant_id"] = cdr.account_id.map(tenant_of)
    billing = raw.billing[["account_id", "msisdn", "bill_period"]].copy()
    billing["tenant_id"] = billing.account_id.map(tenant_of)
    msisdn_tenant: dict[str, str] = {}
    for frame in (billing, cdr, raw.lines):
        for m, t in zip(frame.msisdn, frame.tenant_id, strict=True):
            if m:
                msisdn_tenant[m] = t
    return Estate(
        lines=raw.lines,
        employees=raw.employees,
        cost_centres=raw.cost_centres,
        tenants=raw.tenants,
        cdr=cdr,
        msisdn_tenant=msisdn_tenant,
        periods=sorted(set(billing.bill_period)),
    )


def _busiest(est: Estate, msisdns: Iterable[str]) -> str:
    """The line with the most usage records among `msisdns` (the richest one to ask for)."""
    wanted = set(msisdns)
    counts = est.cdr[est.cdr.msisdn.isin(wanted)].msisdn.value_counts()
    return str(counts.index[0]) if len(counts) else sorted(wanted)[0]


def _chain(est: Estate, tenant: str, employee: str) -> set[str]:
    emp = est.employees[est.employees.tenant_id == tenant]
    below, frontier = {employee}, {employee}
    while frontier:
        frontier = set(emp[emp.manager_employee_id.isin(frontier)].employee_id) - below
        below |= frontier
    return below


def _ids_of(est: Estate, msisdn: str) -> tuple[str, str, str]:
    """(employee id, cost-centre id, cost-centre name) of a registered line."""
    line = est.lines[est.lines.msisdn == msisdn].iloc[0]
    emp = est.employees[est.employees.employee_id == line.employee_id].iloc[0]
    cc = est.cost_centres[est.cost_centres.cost_centre_id == emp.cost_centre_id].iloc[0]
    return str(emp.employee_id), str(cc.cost_centre_id), str(cc["name"])


def _assigned(est: Estate, msisdns: Iterable[str]) -> set[str]:
    """Lines of `msisdns` with an employee (so they have a cost centre to tamper with)."""
    lines = est.lines[est.lines.msisdn.isin(set(msisdns)) & (est.lines.employee_id != "")]
    return set(lines.msisdn)


def fence_for(est: Estate, profile: str, person) -> Fence:
    role, tenant, employee = person.role, person.tenant_id, person.employee_id
    names = dict(zip(est.employees.employee_id, est.employees.full_name, strict=True))
    tenant_names = dict(zip(est.tenants.tenant_id, est.tenants["name"], strict=True))
    all_msisdns = set(est.msisdn_tenant)

    if role == "analyst":
        # aggregates only: no line, no person, no cost centre may ever show
        own_msisdns: set[str] = set()
        own_employees: set[str] = set()
        called: set[str] = set()
        foreign_cc = set(est.cost_centres.cost_centre_id)
        other = sorted(est.tenants.tenant_id)[0]
    else:
        tenant_lines = est.lines[est.lines.tenant_id == tenant]
        if role in ("admin", "finance"):
            own_msisdns = {m for m, t in est.msisdn_tenant.items() if t == tenant}
            own_employees = set(est.employees[est.employees.tenant_id == tenant].employee_id)
        else:
            own_employees = (
                _chain(est, tenant, employee) if role == "manager" else {employee}
            )
            own_msisdns = set(tenant_lines[tenant_lines.employee_id.isin(own_employees)].msisdn)
        # numbers the in-scope lines talked to may legitimately show (top numbers, itemised)
        called = set(est.cdr[est.cdr.msisdn.isin(own_msisdns)].other_party)
        foreign_cc = set(est.cost_centres[est.cost_centres.tenant_id != tenant].cost_centre_id)
        other = sorted(set(est.tenants.tenant_id) - {tenant})[0]

    markers: dict[str, str] = {}
    own_names = {names[e] for e in own_employees}
    for e, n in names.items():
        if e not in own_employees and n not in own_names:
            markers[n] = f"employee name of {e}"
    own_cc_names = (
        set()
        if role == "analyst"
        else set(est.cost_centres[est.cost_centres.tenant_id == tenant]["name"])
    )
    for cc_id, t, n in zip(
        est.cost_centres.cost_centre_id, est.cost_centres.tenant_id, est.cost_centres["name"],
        strict=True,
    ):
        if (role == "analyst" or t != tenant) and n not in own_cc_names:
            markers[n] = f"cost-centre name of {cc_id}"
    for t, n in tenant_names.items():
        if role == "analyst" or t != tenant:
            markers[n] = f"tenant name of {t}"
    for m in all_msisdns - own_msisdns - called:
        markers[m] = f"line {m} of tenant {est.msisdn_tenant[m]}"

    # the hostile browser's values: another tenant's ids, and for manager/end user a peer's too
    theirs = _assigned(est, (m for m, t in est.msisdn_tenant.items() if t == other))
    f_msisdn = _busiest(est, (theirs - called) or theirs)
    f_emp, f_cc, f_cc_name = _ids_of(est, f_msisdn)
    tamper = [
        ("foreign-msisdn", f_msisdn),
        ("foreign-employee", f_emp),
        ("foreign-cost-centre", f_cc),
        ("foreign-cost-centre-name", f_cc_name),
        ("foreign-tenant", other),
    ]
    if role in ("manager", "end_user"):
        peers = _assigned(est, set(est.lines[est.lines.tenant_id == tenant].msisdn) - own_msisdns)
        p_msisdn = _busiest(est, (peers - called) or peers)
        p_emp, p_cc, _ = _ids_of(est, p_msisdn)
        tamper += [("peer-msisdn", p_msisdn), ("peer-employee", p_emp), ("peer-cost-centre", p_cc)]
    if role == "analyst":
        tamper.append(("tenant-dimension", "cost_centre"))

    control: list[tuple[str, str]] = []
    own_markers: dict[str, str] = {}
    mine = _assigned(est, own_msisdns)
    if mine:
        o_msisdn = _busiest(est, mine)
        o_emp, o_cc, _ = _ids_of(est, o_msisdn)
        control = [("own-msisdn", o_msisdn), ("own-employee", o_emp), ("own-cost-centre", o_cc)]
        own_markers = {m: "own line" for m in own_msisdns}
        own_markers.update({names[e]: "own employee" for e in own_employees})
    return Fence(
        profile=profile,
        role=role,
        tenant_id=tenant,
        own_msisdns=frozenset(own_msisdns),
        own_employees=frozenset(own_employees),
        foreign_cost_centres=frozenset(foreign_cc),
        markers=markers,
        tamper=tamper,
        control=control,
        own_markers=own_markers,
    )


# --- finding leaks ------------------------------------------------------------------------------


def _pattern(texts: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted({t for t in texts if t}, key=len, reverse=True)
    if not words:
        return None
    # whole words only: an msisdn inside a longer number, or a name inside another, is no hit
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


class Detector:
    """Finds a fence's markers in response text, ignoring the values the request itself sent."""

    def __init__(self, markers: dict[str, str]):
        self.markers = markers
        self.regex = _pattern(markers)

    def hits(self, text: str, sent: Iterable[str] = ()) -> dict[str, str]:
        if self.regex is None:
            return {}
        # blank out the echoes first (as sent, and URL-encoded inside an export link): a sent
        # cost-centre name may contain another marker
        echoes = {form for s in sent if s for form in (str(s), quote_plus(str(s)), quote(str(s)))}
        for value in sorted(echoes, key=len, reverse=True):
            text = text.replace(value, " ")
        return {m: self.markers[m] for m in set(self.regex.findall(text))}


def walk(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def field_leaks(fence: Fence, pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """Out-of-scope values under keys that denote a line, an employee or a cost centre."""
    found = []
    for key, value in pairs:
        if value is None or isinstance(value, (dict, list)) or str(value) in PLACEHOLDERS:
            continue
        value = str(value)
        if key in LINE_KEYS and value not in fence.own_msisdns:
            found.append(f"{key}={value}")
        elif key in EMPLOYEE_KEYS and value not in fence.own_employees:
            found.append(f"{key}={value}")
        elif key in COST_CENTRE_KEYS and (fence.aggregate_only
                                          or value in fence.foreign_cost_centres):
            found.append(f"{key}={value}")
        elif key in NAME_KEYS and value in fence.markers:
            found.append(f"{key}={value}")
    return found


def csv_pairs(text: str) -> Iterator[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    for row in reader:
        yield from row.items()


# --- Dash callback bodies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    output: str  # the callback map key, exactly as /_dash-dependencies names it
    outputs: Any  # a dict for one output, a list for several (what the renderer posts)
    inputs: list[dict[str, Any]]
    state: list[dict[str, Any]]
    prefix: str  # the first output's component id, to find its page

    @property
    def label(self) -> str:
        return self.output[:90]


def _split(output: str) -> list[dict[str, str]]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    result = []
    for part in parts:
        id_, prop = part.rsplit(".", 1)
        # allow_duplicate outputs carry "@<hash>" in the map key, not in the property
        result.append({"id": _id(id_), "property": prop.split("@", 1)[0]})
    return result


def _id(text: str) -> Any:
    return json.loads(text) if text.startswith("{") else text


def server_callbacks(dependencies: list[dict[str, Any]]) -> list[Callback]:
    """The callbacks that run on the server (clientside ones never reach it)."""
    found = []
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue
        outs = _split(dep["output"])
        first = outs[0]["id"]
        found.append(
            Callback(
                output=dep["output"],
                outputs=outs if dep["output"].startswith("..") else outs[0],
                inputs=[{"id": _id(i["id"]), "property": i["property"]} for i in dep["inputs"]],
                state=[{"id": _id(s["id"]), "property": s["property"]} for s in dep["state"]],
                prefix=first if isinstance(first, str) else json.dumps(first),
            )
        )
    return found


def _is_shell(dep: dict[str, Any]) -> bool:
    return isinstance(dep["id"], str) and dep["id"] in ("app-period-from", "app-period-to",
                                                          "app-vat", "app-shell")


def _value(dep: dict[str, Any], v: str, periods: tuple[str, str], page: str, token_id: int) -> Any:
    """What a hostile browser puts in one input or state: `v` wherever a string can go."""
    cid, prop = dep["id"], dep["property"]
    if cid == "app-period-from":
        return periods[0]
    if cid == "app-period-to":
        return periods[1]
    if cid == "app-vat":
        return []
    if cid == "app-shell":
        return "app-shell"
    if prop == "pathname":
        return page
    if prop == "search":
        return "?msisdn=" + v
    if prop == "n_clicks":
        return None  # no click: a click on "Create token" would only make the viewer a token
    if prop == "selectedRows":
        keys = ("msisdn", "other_party", "cost_centre_id", "employee_id", "tenant_id")
        return [{k: v for k in keys}]
    if prop == "clickData":
        return {"points": [{"id": v, "x": v, "y": v, "label": v, "customdata": [v]}]}
    return v


def _wildcard(dep: dict[str, Any]) -> bool:
    return isinstance(dep["id"], dict) and any(isinstance(x, list) for x in dep["id"].values())


def _concrete(dep: dict[str, Any], token_id: int) -> dict[str, Any]:
    # an ALL pattern id with one concrete member: the other user's token id as its index
    return {k: (token_id if isinstance(x, list) else x) for k, x in dep["id"].items()}


def _stringify(id_: Any) -> str:
    if isinstance(id_, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(id_[k])}" for k in sorted(id_)) + "}"
    return id_


def bodies(cb: Callback, v: str, periods: tuple[str, str], page: str,
           token_id: int) -> list[dict[str, Any]]:
    """Well-formed request bodies for `cb` carrying `v`; one per trigger order when the callback
    has several inputs of its own (which one "fired" changes the code path)."""

    def fill(deps: list[dict[str, Any]]) -> list[Any]:
        filled: list[Any] = []
        for d in deps:
            if _wildcard(d):
                filled.append([{"id": _concrete(d, token_id), "property": d["property"],
                                "value": 1}])
            else:
                filled.append({**d, "value": _value(d, v, periods, page, token_id)})
        return filled

    inputs, state = fill(cb.inputs), fill(cb.state)
    own = [
        (f"{_stringify(_concrete(d, token_id))}.{d['property']}" if _wildcard(d)
         else f"{_stringify(d['id'])}.{d['property']}")
        for d in cb.inputs if not _is_shell(d)
    ]
    orders = [own, own[::-1]] if len(own) > 1 else [own or [
        f"{_stringify(d['id'])}.{d['property']}" for d in cb.inputs[:1]]]
    return [
        {"output": cb.output, "outputs": cb.outputs, "inputs": inputs, "state": state,
         "changedPropIds": order}
        for order in orders
    ]


def page_of(prefix: str, pages: dict[str, tuple[str, ...]]) -> str | None:
    """The page slug whose component ids start `prefix` (longest slug wins), None for the shell."""
    if prefix.startswith(SHELL_PREFIXES):
        return None
    matches = [s for s in pages if prefix == s or prefix.startswith(s + "-")
               or prefix.startswith('{"') and f'"{s}-' in prefix]
    if not matches:
        raise KeyError(f"no page owns the component {prefix!r}")
    return max(matches, key=len)
