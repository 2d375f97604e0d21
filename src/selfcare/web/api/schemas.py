"""The API's marshmallow schemas: what a request may send and what an answer holds.

Request schemas refuse unknown fields (a misspelt `reasn` is a 400 naming it, not silently
ignored) and bound every string and list, so no input reaches the services unchecked in shape;
the services check meaning (an unknown action, a foreign line). Answer schemas dump the services'
frozen views (`OrderView`, `LineView`) as plain JSON; money is a decimal string to the cent.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from selfcare.orders.lifecycle import OrderState
from selfcare.tickets import lifecycle as ticket_lifecycle
from selfcare.tickets import policy as ticket_policy

MSISDN = r"\A[0-9]{6,15}\Z"
CODE = r"\A[a-z][a-z0-9_]{0,39}\Z"
PARAM_KEY = r"\A[a-z][a-z0-9_]{0,39}\Z"
MAX_LINES_PER_ORDER = 500
MAX_PAGE = 200
# the order states are the domain's (orders.lifecycle), not a copy kept here
ORDER_STATES = tuple(s.value for s in OrderState)
SERVICE_STATES = ("active", "pending_add", "pending_remove")


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# --- requests -----------------------------------------------------------------------------------


class PageQuery(Strict):
    cursor = fields.String(
        load_default=None, validate=validate.Length(max=200), metadata={"description": "the "
        "`next` value of the previous page"}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class LinesQuery(PageQuery):
    search = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "part of a number, an employee's name or a cost centre"},
    )


class OrdersQuery(PageQuery):
    state = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATES))
    awaiting_me = fields.Boolean(
        load_default=False, metadata={"description": "only orders waiting for my approval"}
    )
    mine = fields.Boolean(load_default=False, metadata={"description": "only my own requests"})
    msisdn = fields.String(load_default=None, validate=validate.Regexp(MSISDN))
    action = fields.String(load_default=None, validate=validate.Regexp(CODE))


class OrderCreate(Strict):
    action = fields.String(
        required=True,
        validate=validate.Regexp(CODE),
        metadata={"description": "add_service, remove_service, change_plan, suspend_line, "
                  "resume_line, cancel_line, new_line, sim_swap"},
    )
    msisdns = fields.List(
        fields.String(validate=validate.Regexp(MSISDN)),
        required=True,
        validate=validate.Length(min=1, max=MAX_LINES_PER_ORDER),
    )
    params = fields.Dict(
        keys=fields.String(validate=validate.Regexp(PARAM_KEY)),
        values=fields.String(validate=validate.Length(max=200)),
        load_default=dict,
        validate=validate.Length(max=20),
        metadata={"description": "the action's parameters, e.g. {\"service_code\": \"ROAM\"}"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class Approve(Strict):
    comment = fields.String(load_default=None, validate=validate.Length(max=1000))


class Reject(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


# --- answers ------------------------------------------------------------------------------------


class ServiceState(ma.Schema):
    code = fields.String(required=True)
    name = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"enum": list(SERVICE_STATES)})


class Line(ma.Schema):
    msisdn = fields.String(required=True)
    employee_id = fields.String(allow_none=True)
    employee_name = fields.String(allow_none=True)
    cost_centre_id = fields.String(allow_none=True)
    cost_centre_name = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)
    plan_code = fields.String(allow_none=True)
    plan_name = fields.String(allow_none=True)
    payment = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    services = fields.List(fields.Nested(ServiceState), required=True)
    cug_id = fields.String(allow_none=True)
    apns = fields.List(fields.String())


class OrderSummary(ma.Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    state = fields.String(required=True)
    action = fields.String()
    created_at = fields.String(allow_none=True)


class LineDetail(Line):
    open_orders = fields.List(fields.Nested(OrderSummary))
    past_orders = fields.List(fields.Nested(OrderSummary))


class LinesPage(ma.Schema):
    lines = fields.List(fields.Nested(Line), required=True)
    next = fields.String(allow_none=True, required=True)


class OrderLine(ma.Schema):
    msisdn = fields.String(required=True)
    state = fields.String(required=True)
    operator_ref = fields.String(allow_none=True)
    effective_on = fields.String(allow_none=True, metadata={"description": "ISO date"})
    failure_reason = fields.String(allow_none=True)
    field = fields.String(allow_none=True, metadata={"description": "what the change is about"})
    requested = fields.Raw(allow_none=True, metadata={"description": "the value asked for"})
    in_effect = fields.Raw(
        allow_none=True, metadata={"description": "the value in effect when it was asked"}
    )


class ApprovalOut(ma.Schema):
    step = fields.String(metadata={"description": "manager or finance"})
    user_email = fields.String()
    decision = fields.String(metadata={"description": "approved or rejected"})
    comment = fields.String(allow_none=True)
    at = fields.String()
    round = fields.Integer()


class EventOut(ma.Schema):
    at = fields.String()
    actor_email = fields.String(allow_none=True)
    event = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    msisdn = fields.String(allow_none=True)


class Order(ma.Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    state = fields.String(required=True, metadata={"enum": list(ORDER_STATES)})
    action = fields.String()
    params = fields.Dict(keys=fields.String(), values=fields.String())
    reason = fields.String()
    requester_email = fields.String(allow_none=True)
    monthly_change = fields.String(allow_none=True, metadata={"description": "ZAR, to the cent"})
    once_off_change = fields.String(allow_none=True)
    needs = fields.List(fields.String(), metadata={"description": "approval steps needed"})
    open_steps = fields.List(fields.String(), metadata={"description": "steps still missing"})
    round = fields.Integer()
    lines = fields.List(fields.Nested(OrderLine), required=True)
    approvals = fields.List(fields.Nested(ApprovalOut))
    timeline = fields.List(fields.Nested(EventOut))
    created_at = fields.String()
    updated_at = fields.String()
    allowed_actions = fields.List(
        fields.String(), metadata={"description": "what the caller may do next"}
    )


class OrdersPage(ma.Schema):
    orders = fields.List(fields.Nested(Order), required=True)
    next = fields.String(allow_none=True, required=True)


class Problem(ma.Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    field = fields.String(metadata={"description": "the offending input (400 only)"})


# --- tickets (issue 15) -------------------------------------------------------------------------

TICKET_STATES = tuple(ticket_lifecycle.STATES)
TICKET_CATEGORIES = tuple(ticket_policy.CATEGORIES)
TICKET_PRIORITIES = tuple(ticket_policy.PRIORITIES)
INVOICE_ID = r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z"
AMOUNT = r"\A[0-9]{1,9}(\.[0-9]{1,2})?\Z"


class TicketsQuery(PageQuery):
    state = fields.String(load_default=None, validate=validate.OneOf(TICKET_STATES))
    category = fields.String(load_default=None, validate=validate.OneOf(TICKET_CATEGORIES))
    mine = fields.Boolean(load_default=False, metadata={"description": "only tickets I raised"})
    assigned_to_me = fields.Boolean(load_default=False)
    msisdn = fields.String(load_default=None, validate=validate.Regexp(MSISDN))


class TicketCreate(Strict):
    category = fields.String(required=True, validate=validate.OneOf(TICKET_CATEGORIES))
    priority = fields.String(load_default="normal", validate=validate.OneOf(TICKET_PRIORITIES))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    msisdns = fields.List(
        fields.String(validate=validate.Regexp(MSISDN)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    invoice_id = fields.String(load_default=None, validate=validate.Regexp(INVOICE_ID))
    line_no = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1_000_000))
    disputed_amount = fields.String(
        load_default=None,
        validate=validate.Regexp(AMOUNT),
        metadata={"description": "ZAR excl. VAT; defaults to the invoice line's amount"},
    )
    order_id = fields.Integer(load_default=None, validate=validate.Range(min=1))


class TicketComment(Strict):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class TicketMove(Strict):
    state = fields.String(required=True, validate=validate.OneOf(TICKET_STATES))
    comment = fields.String(load_default=None, validate=validate.Length(max=5000))
    credited_amount = fields.String(
        load_default=None,
        validate=validate.Regexp(AMOUNT),
        metadata={"description": "on resolving a billing query: the credit agreed, ZAR"},
    )


class TicketAssign(Strict):
    assignee_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "a user id; null unassigns"}
    )


class CommentOut(ma.Schema):
    author_email = fields.String()
    author_role = fields.String()
    at = fields.String()
    body = fields.String()
    by_raiser = fields.Boolean()


class TicketEventOut(ma.Schema):
    at = fields.String()
    actor_email = fields.String(allow_none=True)
    event = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class Ticket(ma.Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    category = fields.String(required=True, metadata={"enum": list(TICKET_CATEGORIES)})
    priority = fields.String(metadata={"enum": list(TICKET_PRIORITIES)})
    subject = fields.String()
    description = fields.String()
    state = fields.String(required=True, metadata={"enum": list(TICKET_STATES)})
    raiser_email = fields.String()
    assignee_email = fields.String(allow_none=True)
    lines = fields.List(fields.String())
    invoice_id = fields.String(allow_none=True)
    line_no = fields.Integer(allow_none=True)
    invoice_msisdn = fields.String(allow_none=True, metadata={"description": "the billed line"})
    invoice_period = fields.String(allow_none=True)
    invoice_description = fields.String(allow_none=True)
    invoice_amount = fields.String(allow_none=True, metadata={"description": "ZAR, to the cent"})
    disputed_amount = fields.String(allow_none=True)
    credited_amount = fields.String(allow_none=True)
    order_id = fields.Integer(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    first_response_at = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    reopened_count = fields.Integer()
    reopen_until = fields.String(allow_none=True)
    first_response_seconds = fields.Integer(
        allow_none=True, metadata={"description": "working time to the first response"}
    )
    resolution_seconds = fields.Integer(
        allow_none=True, metadata={"description": "working time to resolution"}
    )
    working_seconds = fields.Integer(metadata={"description": "time open, pending left out"})
    comments = fields.List(fields.Nested(CommentOut))
    timeline = fields.List(fields.Nested(TicketEventOut))
    actions = fields.List(fields.String(), metadata={"description": "transitions open to you"})
    may_comment = fields.Boolean()
    may_assign = fields.Boolean()


class TicketsPage(ma.Schema):
    tickets = fields.List(fields.Nested(Ticket), required=True)
    next = fields.String(allow_none=True, required=True)
