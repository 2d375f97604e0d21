"""A line's own page (`/lines/<msisdn>`): what it has, its orders, and a form to request a change.

For every tenant profile, for the lines the services let the viewer see (another tenant's line,
one outside the viewer's reach or a number that does not exist all show the same "not found").
Shows the employee, cost centre, account, plan, status, the services (active, being added, being
removed), the closed user group and APNs, and the line's open and past orders, each linking to
its order page.

The request form offers the actions that fit the line (add a service of the catalogue that fits
its payment type, remove one it has, change the plan to another of the same payment type,
suspend, resume, cancel, swap the SIM) and shows the monthly and once-off cost change before the
request is placed with a reason. The tariff analyser links here with `?action=change_plan&plan=X`
to prefill the plan change. Every request is authorised again by the services from the signed-in
user; the number in the URL is only ever looked up through them.
"""

from __future__ import annotations

import re
from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask_login import current_user

from selfcare.orders import actions as order_actions
from selfcare.roles import ADMIN, FINANCE, TENANT_ROLES
from selfcare.services import estate
from selfcare.services import orders as order_service
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path_template="/lines/<msisdn>",
    name="Line",
    title="Line · SelfCare",
    order=101,
    roles=TENANT_ROLES,
)

KEY = "line-key"
PREFILL = "line-prefill"
REFRESH = "line-refresh"
HEADER = "line-header"
FACTS = "line-facts"
SERVICES = "line-services"
ORDERS = "line-orders"
FORM = "line-form"
ACTION = "line-action"
SERVICE = "line-service"
SERVICE_BOX = "line-service-box"
PLAN = "line-plan"
PLAN_BOX = "line-plan-box"
ICCID = "line-iccid"
ICCID_BOX = "line-iccid-box"
REASON = "line-reason"
COST = "line-cost"
SUBMIT = "line-submit"
RESULT = "line-result"

MSISDN = re.compile(r"\A[0-9]{6,20}\Z")
CODE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,39}\Z")
MAX_REASON = 500
NOT_FOUND = "No such line, or it is not one you can see."
# What each action needs from the form, besides the reason.
ACTION_PARAM = {"add_service": SERVICE, "remove_service": SERVICE, "change_plan": PLAN,
                "sim_swap": ICCID}
ACTIONS_BY_STATUS = {
    "ACTIVE": ("add_service", "remove_service", "change_plan", "suspend_line", "sim_swap",
               "cancel_line"),
    "SUSPENDED": ("resume_line", "remove_service", "change_plan", "sim_swap", "cancel_line"),
    "CANCELLED": (),
}


def _code(value: Any) -> str | None:
    return value if isinstance(value, str) and CODE.match(value) else None


def layout(msisdn: Any = None, action: Any = None, plan: Any = None, **_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=KEY, data=str(msisdn or "")[:20]),
            dcc.Store(id=PREFILL, data={"action": _code(action), "plan": _code(plan)}),
            dcc.Store(id=REFRESH, data=0),
            html.Div(id=HEADER, children=components.page_header("Line")),
            html.Div(id=FACTS),
            html.Div(id=SERVICES),
            html.Div(
                components.card(
                    "Request a change",
                    html.Div(
                        [
                            dcc.Dropdown(id=ACTION, options=[], placeholder="What to change",
                                         className="dropdown", style={"minWidth": "240px"}),
                            html.Div(
                                dcc.Dropdown(id=SERVICE, options=[], placeholder="Service",
                                             className="dropdown",
                                             style={"minWidth": "280px"}),
                                id=SERVICE_BOX, hidden=True,
                            ),
                            html.Div(
                                dcc.Dropdown(id=PLAN, options=[], placeholder="New plan",
                                             className="dropdown",
                                             style={"minWidth": "280px"}),
                                id=PLAN_BOX, hidden=True,
                            ),
                            html.Div(
                                dcc.Input(id=ICCID, type="text", placeholder="New SIM's ICCID",
                                          maxLength=24, className="input"),
                                id=ICCID_BOX, hidden=True,
                            ),
                        ],
                        className="form-row",
                    ),
                    dcc.Textarea(id=REASON, placeholder="Why is this needed?",
                                 maxLength=MAX_REASON, className="input",
                                 style={"width": "100%", "minHeight": "64px"}),
                    html.Div(id=COST, className="muted"),
                    html.Button("Send request", id=SUBMIT, className="btn btn-primary"),
                    html.Div(id=RESULT),
                ),
                id=FORM,
                hidden=True,
            ),
            html.Div(id=ORDERS),
        ]
    )


# --- pure helpers -----------------------------------------------------------------------------


def parse_msisdn(value: Any) -> str | None:
    """The number from the URL: digits only (anything else is "not found")."""
    return value if isinstance(value, str) and MSISDN.match(value) else None


def may_request_on(user: Any, line: Any) -> bool:
    """Whether to offer the form (the services decide for real): an Administrator on any line
    of the tenant, a Financial Manager on their own lines only, a Manager or End User on the
    lines they see (their chain's or their own); a line nobody owns only for the Administrator."""
    if user.role == ADMIN:
        return True
    if not line.employee_id:
        return False
    if user.role == FINANCE:
        return line.employee_id == user.employee_id
    return True


def offered_actions(line: Any) -> tuple[str, ...]:
    return ACTIONS_BY_STATUS.get(str(line.status or "").upper(), ())


def _active_codes(line: Any) -> frozenset[str]:
    return frozenset(s.code for s in line.services if s.state != "pending_add")


def service_options(action: Any, line: Any, catalogue: Any) -> list[dict[str, Any]]:
    """Add: catalogue services fitting the line's payment type that it does not have (or is
    getting); remove: the services it has (not already being removed)."""
    if action == "add_service":
        have = {s.code for s in line.services if s.state != "pending_remove"}
        return [
            {"label": f"{s.name} ({s.code}) · {components.money(s.monthly_fee)} a month"
                      + (f", {components.money(s.once_off_fee)} once" if s.once_off_fee else ""),
             "value": s.code}
            for s in sorted(catalogue.services.values(), key=lambda s: (s.name, s.code))
            if s.fits(line.payment or "") and s.code not in have
        ]
    if action == "remove_service":
        return [{"label": f"{s.name} ({s.code})", "value": s.code}
                for s in line.services if s.state == "active"]
    return []


def plan_options(line: Any, catalogue: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    """Plans of the line's payment type other than its own, cheapest first."""
    plans = [p for p in catalogue.plans.values()
             if p.payment == line.payment and p.code != line.plan_code]
    return [
        {"label": f"{names.get(p.code) or p.code} ({p.code}) · "
                  f"{components.money(p.monthly_fee)} a month", "value": p.code}
        for p in sorted(plans, key=lambda p: (p.monthly_fee, p.code))
    ]


def params_for(action: Any, service: Any, plan: Any, iccid: Any) -> dict[str, Any]:
    field = ACTION_PARAM.get(action)
    if field == SERVICE:
        return {"service_code": service}
    if field == PLAN:
        return {"plan_code": plan}
    if field == ICCID:
        return {"iccid": iccid.strip() if isinstance(iccid, str) else iccid}
    return {}


def facts_of(line: Any) -> Any:
    """What is in effect on the line, as the actions' cost rules read it."""
    return order_actions.LineFacts(
        msisdn=line.msisdn,
        payment=line.payment or "",
        plan_code=line.plan_code or "",
        status=str(line.status or "ACTIVE").upper(),
        services=_active_codes(line),
        employee_id=line.employee_id,
    )


def cost_preview(action: Any, params: dict[str, Any], line: Any, catalogue: Any) -> str:
    """The monthly and once-off change the request implies, by the same rule the services
    apply when it is placed."""
    if not action:
        return ""
    if any(v in (None, "") for v in params.values()):
        return "Choose what to change to see what it costs."
    try:
        change = order_actions.get(action).cost(params, facts_of(line), catalogue)
    except order_actions.InvalidParams:
        return "The cost of this change cannot be worked out from the catalogue."
    return (f"Cost change: {components.money_change(change.monthly)} a month, "
            f"{components.money_change(change.once_off)} once.")


def fact_list(line: Any) -> html.Dl:
    facts = [
        ("Employee", line.employee_name or "Unassigned"),
        ("Cost centre", line.cost_centre_name or "–"),
        ("Account", line.account_id or "–"),
        ("Plan", f"{line.plan_name or line.plan_code or '–'}"
                 + (f" ({line.plan_code})" if line.plan_name and line.plan_code else "")),
        ("Payment", (line.payment or "–").capitalize()),
        ("Status", components.state_badge(str(line.status or "").lower())),
        ("Closed user group", line.cug_id or "none"),
        ("APNs", ", ".join(line.apns) if line.apns else "none"),
    ]
    pending = getattr(line, "pending", None) or {}
    if pending:
        facts.append(("Pending", ", ".join(f"{k.replace('_', ' ')} → {v}"
                                           for k, v in pending.items())))
    return html.Dl([p for label, value in facts for p in (html.Dt(label), html.Dd(value))],
                   className="facts", id="line-facts-list")


def services_table(line: Any) -> Any:
    if not line.services:
        return components.empty_state("No services on this line.")
    return components.simple_table(
        ("Service", "Code", "State"),
        [[s.name, s.code, components.state_badge(s.state)] for s in line.services],
        id="line-services-table",
    )


def _order_rows(orders: Any) -> list[list[Any]]:
    return [
        [
            dcc.Link(o.reference, href=f"/requests/{int(o.id)}"),
            components.when(o.created_at),
            components.action_name(o.action),
            ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (o.params or {}).items()),
            components.state_badge(o.state),
            components.money_change(o.monthly_change),
        ]
        for o in orders
    ]


def orders_card(line: Any) -> html.Section:
    headers = ("Order", "Requested", "Action", "Details", "State", "Monthly")
    parts: list[Any] = [html.H4("Open")]
    parts.append(components.simple_table(headers, _order_rows(line.open_orders),
                                         id="line-open-orders")
                 if line.open_orders else html.P("No open requests.", className="muted"))
    parts.append(html.H4("Past"))
    parts.append(components.simple_table(headers, _order_rows(line.past_orders),
                                         id="line-past-orders")
                 if line.past_orders else html.P("No past requests.", className="muted"))
    return components.card("Requests on this line", *parts)


def _clicked(clicks: Any) -> bool:
    return (ctx.triggered_id == SUBMIT and isinstance(clicks, int)
            and not isinstance(clicks, bool) and clicks > 0)


def _load(key: Any) -> Any:
    """The line through the services, or None (not a number, or not one the viewer sees)."""
    msisdn = parse_msisdn(key)
    if msisdn is None:
        return None
    try:
        return order_service.line_detail(app_db(), current_user, msisdn)
    except order_service.LineNotFound:
        return None


def _estate() -> Any:
    """The catalogue (services and plans with fees) and plan names, as the services read them;
    the tenant is the signed-in user's own."""
    return estate.tenant_estate(current_user.tenant_id)


# --- callbacks --------------------------------------------------------------------------------


@protected_callback(
    Output(HEADER, "children"),
    Output(FACTS, "children"),
    Output(SERVICES, "children"),
    Output(ORDERS, "children"),
    Output(FORM, "hidden"),
    Output(ACTION, "options"),
    Input(KEY, "data"),
    Input(REFRESH, "data"),
    roles=TENANT_ROLES,
)
def update_line(key: Any, _refresh: Any) -> tuple[Any, ...]:
    line = _load(key)
    if line is None:
        return (components.page_header("Line"), components.error_state(NOT_FOUND), None, None,
                True, [])
    header = components.page_header(
        f"Line {line.msisdn}",
        f"{line.employee_name or 'Unassigned'} · {line.cost_centre_name or 'no cost centre'}",
    )
    offered = offered_actions(line) if may_request_on(current_user, line) else ()
    options = [{"label": components.action_name(a), "value": a} for a in offered]
    return (header, components.card("The line", fact_list(line)),
            components.card("Services", services_table(line)), orders_card(line),
            not offered, options)


@protected_callback(
    Output(ACTION, "value"),
    Output(PLAN, "value"),
    Input(ACTION, "options"),
    State(PREFILL, "data"),
    State(ACTION, "value"),
    roles=TENANT_ROLES,
)
def update_prefill(options: Any, prefill: Any, current: Any) -> tuple[Any, Any]:
    """Prefill from the URL (the tariff analyser's "Change plan"), once the actions are known."""
    if current or not isinstance(prefill, dict) or not options:
        return no_update, no_update
    offered = {o["value"] for o in options}
    action = prefill.get("action")
    if action not in offered:
        return no_update, no_update
    return action, prefill.get("plan") if action == "change_plan" else None


@protected_callback(
    Output(SERVICE_BOX, "hidden"),
    Output(PLAN_BOX, "hidden"),
    Output(ICCID_BOX, "hidden"),
    Output(SERVICE, "options"),
    Output(PLAN, "options"),
    Output(COST, "children"),
    Input(ACTION, "value"),
    Input(SERVICE, "value"),
    Input(PLAN, "value"),
    Input(ICCID, "value"),
    State(KEY, "data"),
    roles=TENANT_ROLES,
)
def update_form(action: Any, service: Any, plan: Any, iccid: Any,
                key: Any) -> tuple[Any, ...]:
    field = ACTION_PARAM.get(action)
    hidden = (field != SERVICE, field != PLAN, field != ICCID)
    line = _load(key) if action else None
    if line is None:
        return (*hidden, [], [], "")
    facts = _estate()
    catalogue = facts.catalogue
    services = service_options(action, line, catalogue)
    plans = plan_options(line, catalogue, dict(facts.plan_names)) if field == PLAN else []
    # only a choice the form offers is priced (and later sent); the services check it again
    if field == SERVICE and service not in {o["value"] for o in services}:
        service = None
    if field == PLAN and plan not in {o["value"] for o in plans}:
        plan = None
    preview = cost_preview(action, params_for(action, service, plan, iccid), line, catalogue)
    return (*hidden, services, plans, preview)


@protected_callback(
    Output(RESULT, "children"),
    Output(REFRESH, "data"),
    Output(REASON, "value"),
    Input(SUBMIT, "n_clicks"),
    State(KEY, "data"),
    State(ACTION, "value"),
    State(SERVICE, "value"),
    State(PLAN, "value"),
    State(ICCID, "value"),
    State(REASON, "value"),
    State(REFRESH, "data"),
    prevent_initial_call=True,
    roles=TENANT_ROLES,
)
def update_submit(clicks: Any, key: Any, action: Any, service: Any, plan: Any, iccid: Any,
                  reason: Any, refresh: Any) -> tuple[Any, ...]:
    if not _clicked(clicks):
        return no_update, no_update, no_update
    msisdn = parse_msisdn(key)
    if msisdn is None:
        return components.error_state(NOT_FOUND), no_update, no_update
    if not isinstance(action, str) or not action:
        return components.error_state("Choose what to change."), no_update, no_update
    text = reason.strip()[:MAX_REASON] if isinstance(reason, str) else ""
    if not text:
        return components.error_state("Give a reason for the request."), no_update, no_update
    try:
        order = order_service.create_order(app_db(), current_user, action, [msisdn],
                                           params_for(action, service, plan, iccid), text)
    except order_service.LineNotFound:
        return components.error_state(NOT_FOUND), no_update, no_update
    except order_service.InvalidParams as e:
        return components.error_state(_refusal(e)), no_update, no_update
    except order_service.NotAllowed:
        return (components.error_state("You may not request this change on this line."),
                no_update, no_update)
    waiting = ("It waits for approval." if order.state == "pending_approval"
               else f"It is {components.state_name(order.state).lower()}.")
    done = html.P(
        ["Request ", dcc.Link(order.reference, href=f"/requests/{int(order.id)}",
                              id="line-new-order"), f" placed. {waiting}"],
        className="alert", role="status",
    )
    return done, (refresh or 0) + 1 if isinstance(refresh, int) else 1, ""


FIELD_NAMES = {"service_code": "Service", "plan_code": "Plan", "iccid": "ICCID",
               "reason": "Reason", "action": "Action", "msisdn": "Line"}


def _refusal(e: Any) -> str:
    """An InvalidParams as a sentence naming the field ('Plan: unknown plan …')."""
    field = getattr(e, "field", None)
    text = str(e).split(": ", 1)[-1]
    name = FIELD_NAMES.get(field or "", (field or "").replace("_", " ").capitalize())
    return f"{name}: {text}" if name else text
