"""An order's own page (`/requests/<id>`): what was asked, its lines, approvals and timeline.

For every tenant profile that may see the order (the services decide: an order of another
tenant, outside the viewer's reach, or missing shows the same "not found"). Shows the reference,
state, action and parameters, the reason, who asked and when, the monthly and once-off cost
change, each line with its own state (requested value and value in effect kept apart, the
operator's reference, the date it takes effect or why it failed), the approvals it needs and
those given, and the timeline: who did what, when, with comments.

The buttons are those the services allow the viewer now (approve with an optional comment,
reject with a required reason, cancel). Showing them is a courtesy: every click is authorised
again by the services from the signed-in user, and the order id in the URL is only ever looked
up through them.
"""

from __future__ import annotations

import re
from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask_login import current_user

from selfcare.roles import TENANT_ROLES
from selfcare.services import orders as order_service
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path_template="/requests/<order_id>",
    name="Request",
    title="Request · SelfCare",
    order=111,
    roles=TENANT_ROLES,
)

KEY = "request-key"
HEADER = "request-header"
SUMMARY = "request-summary"
LINES = "request-lines"
APPROVALS = "request-approvals"
TIMELINE = "request-timeline"
MESSAGE = "request-message"
DECIDE = "request-decide"
COMMENT = "request-comment"
COMMENT_BOX = "request-comment-box"
APPROVE = "request-approve"
REJECT = "request-reject"
CANCEL = "request-cancel"

MAX_COMMENT = 500
ORDER_ID = re.compile(r"\A[0-9]{1,12}\Z")
NOT_FOUND = "No such request, or it is not one you can see."
STEP_NAMES = {"manager": "Manager", "finance": "Financial Manager"}
EVENT_NAMES = {
    "create": "requested",
    "edit": "changed the request",
    "approve": "approved",
    "reject": "rejected",
    "cancel": "cancelled",
    "expire": "expired (no decision in time)",
    "submit": "sent to the operator",
    "start": "operator started work",
    "complete": "completed",
    "fail": "failed",
}


def layout(order_id: Any = None, **_: Any) -> html.Div:
    return html.Div(
        [
            dcc.Store(id=KEY, data=str(order_id or "")[:20]),
            html.Div(id=HEADER, children=components.page_header("Request")),
            html.Div(id=MESSAGE),
            html.Div(id=SUMMARY),
            html.Div(
                components.card(
                    "Your decision",
                    html.Div(
                        dcc.Textarea(
                            id=COMMENT,
                            placeholder="Comment (required to reject)",
                            maxLength=MAX_COMMENT,
                            className="input",
                            style={"width": "100%", "minHeight": "64px"},
                        ),
                        id=COMMENT_BOX,
                    ),
                    html.Div(
                        [
                            html.Button("Approve", id=APPROVE, className="btn btn-primary",
                                        hidden=True),
                            html.Button("Reject", id=REJECT, className="btn btn-danger",
                                        hidden=True),
                            html.Button("Cancel this request", id=CANCEL, className="btn",
                                        hidden=True),
                        ],
                        className="form-row",
                    ),
                ),
                id=DECIDE,
                hidden=True,
            ),
            html.Div(id=LINES),
            html.Div(id=APPROVALS),
            html.Div(id=TIMELINE),
        ]
    )


# --- pure helpers -----------------------------------------------------------------------------


def parse_id(value: Any) -> int | None:
    """The order id from the URL: plain digits only (anything else is "not found")."""
    return int(value) if isinstance(value, str) and ORDER_ID.match(value) else None


def _value(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (params or {}).items()) or "–"


def summary(order: Any) -> html.Div:
    facts = [
        ("State", components.state_badge(order.state)),
        ("Action", components.action_name(order.action)),
        ("Details", _params(order.params)),
        ("Reason", order.reason or "–"),
        ("Requested by", order.requester_email),
        ("Requested on", components.when(order.created_at)),
        ("Last change", components.when(order.updated_at)),
        ("Monthly cost change", components.money_change(order.monthly_change)),
        ("Once-off cost change", components.money_change(order.once_off_change)),
    ]
    return components.card(
        None,
        html.Dl(
            [part for label, value in facts for part in (html.Dt(label), html.Dd(value))],
            className="facts",
        ),
    )


def line_rows(order: Any) -> list[list[Any]]:
    rows = []
    for line in order.lines:
        number: Any = (
            dcc.Link(line.msisdn, href=f"/lines/{line.msisdn}") if line.msisdn else "new line"
        )
        rows.append(
            [
                number,
                components.state_badge(line.state),
                _value(line.in_effect),
                _value(line.requested),
                line.operator_ref or "–",
                line.effective_on or "–",
                line.failure_reason or "",
            ]
        )
    return rows


def approvals_card(order: Any) -> html.Section:
    needs = [STEP_NAMES.get(s, s) for s in order.needs]
    open_steps = [STEP_NAMES.get(s, s) for s in order.open_steps]
    given = [
        [
            STEP_NAMES.get(a.step, a.step),
            a.user_email,
            components.state_badge("approved" if a.decision == "approved" else "rejected"),
            components.when(a.at),
            a.comment or "",
        ]
        for a in order.approvals
    ]
    parts: list[Any] = [
        html.P(
            "Needs: " + (", ".join(needs) if needs else "no approval (placed by an "
                         "Administrator)")
            + (f". Still open: {', '.join(open_steps)}." if open_steps else "."),
            id="request-needs",
        )
    ]
    if given:
        parts.append(
            components.simple_table(("Step", "By", "Decision", "When", "Comment"), given)
        )
    return components.card("Approvals", *parts)


def timeline_card(order: Any) -> html.Section:
    items = [
        html.Li(
            [
                html.Span(components.when(e.at), className="muted"),
                " ",
                html.Strong(e.actor_email or ("operator" if e.event in ("start", "complete",
                                                                        "fail") else "system")),
                " ",
                EVENT_NAMES.get(e.event, e.event),
                f" (line {e.msisdn})" if e.msisdn else "",
                f": {e.comment}" if e.comment else "",
            ],
            **{"data-event": e.event},
        )
        for e in order.timeline
    ]
    return components.card(
        "Timeline", html.Ol(items, id="request-timeline-list") if items else "Nothing yet."
    )


def _clicked(button: str, clicks: Any) -> bool:
    """A real click on `button` (a forged or initial call carries no positive count)."""
    return (
        ctx.triggered_id == button
        and isinstance(clicks, int)
        and not isinstance(clicks, bool)
        and clicks > 0
    )


def _comment(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_COMMENT]


def decide(db: Any, order_id: int, which: str, comment: str | None) -> str:
    """Take the viewer's decision through the services; returns what to tell them."""
    if which == APPROVE:
        order_service.approve(db, current_user, order_id, comment)
        return "Approved. Thank you."
    if which == REJECT:
        if not comment:
            raise order_service.InvalidParams("reason", "give a reason to reject the request")
        order_service.reject(db, current_user, order_id, comment)
        return "Rejected. The requester is told why."
    order_service.cancel(db, current_user, order_id)
    return "Cancelled."


# --- the callback -----------------------------------------------------------------------------


@protected_callback(
    Output(HEADER, "children"),
    Output(SUMMARY, "children"),
    Output(LINES, "children"),
    Output(APPROVALS, "children"),
    Output(TIMELINE, "children"),
    Output(MESSAGE, "children"),
    Output(DECIDE, "hidden"),
    Output(APPROVE, "hidden"),
    Output(REJECT, "hidden"),
    Output(CANCEL, "hidden"),
    Output(COMMENT_BOX, "hidden"),
    Output(COMMENT, "value"),
    Input(KEY, "data"),
    Input(APPROVE, "n_clicks"),
    Input(REJECT, "n_clicks"),
    Input(CANCEL, "n_clicks"),
    State(COMMENT, "value"),
    roles=TENANT_ROLES,
)
def update_request(key: Any, approve_clicks: Any, reject_clicks: Any, cancel_clicks: Any,
                   comment: Any) -> tuple[Any, ...]:
    hide_all = (True, True, True, True, True)
    order_id = parse_id(key)
    if order_id is None:
        return (components.page_header("Request"), components.error_state(NOT_FOUND), None,
                None, None, None, *hide_all, no_update)
    db = app_db()
    message: Any = None
    comment_value: Any = no_update
    clicks = {APPROVE: approve_clicks, REJECT: reject_clicks, CANCEL: cancel_clicks}
    which = next((b for b, n in clicks.items() if _clicked(b, n)), None)
    try:
        if which:
            try:
                message = html.P(decide(db, order_id, which, _comment(comment)),
                                 className="alert", role="status")
                comment_value = ""
            except order_service.InvalidParams as e:
                message = components.error_state(_sentence(str(e).split(": ", 1)[-1]))
            except order_service.NotAllowed:
                message = components.error_state("You may not do this with this request.")
            except order_service.IllegalTransition:
                message = components.error_state(
                    "This request has moved on in the meantime; here is where it stands now."
                )
        order = order_service.get_order(db, current_user, order_id)
    except order_service.OrderNotFound:
        return (components.page_header("Request"), components.error_state(NOT_FOUND), None,
                None, None, None, *hide_all, no_update)
    allowed = set(order_service.allowed_actions(db, current_user, order))
    header = components.page_header(
        f"Request {order.reference}",
        f"{components.action_name(order.action)} · {components.state_name(order.state)}",
    )
    lines = components.card(
        "Lines",
        components.simple_table(
            ("Line", "State", "Before", "Requested", "Operator reference", "Takes effect",
             "Why it failed"),
            line_rows(order),
            id="request-lines-table",
        ),
    )
    hidden = ("approve" not in allowed, "reject" not in allowed, "cancel" not in allowed)
    return (
        header,
        summary(order),
        lines,
        approvals_card(order),
        timeline_card(order),
        message,
        all(hidden),
        *hidden,
        hidden[0] and hidden[1],
        comment_value,
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
