"""Approval settings: the Administrator sets the tenant's finance threshold.

An order whose monthly cost increase is above the threshold needs a Financial Manager's approval
after the manager's (default R 200.00 a month). Administrators only; the tenant is always the
signed-in administrator's, and the amount is checked here (a plain amount in rand, at most two
decimals, between 0 and R 1 000 000) and again by the services, which store it with an audit row.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import dash
from dash import Input, Output, State, ctx, dcc, html, no_update
from flask_login import current_user

from selfcare.roles import ADMIN
from selfcare.services import orders as order_service
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/approval-settings",
    name="Approval settings",
    title="Approval settings · SelfCare",
    order=120,
    roles=(ADMIN,),
)

AMOUNT = "approval-settings-amount"
SAVE = "approval-settings-save"
CURRENT = "approval-settings-current"
MESSAGE = "approval-settings-message"

MAX_THRESHOLD = Decimal("1000000")
AMOUNT_TEXT = re.compile(r"\A[0-9]{1,7}(\.[0-9]{1,2})?\Z")


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            components.page_header(
                "Approval settings",
                "When a request raises the monthly cost by more than this amount, a Financial "
                "Manager approves it too, after the manager.",
            ),
            components.card(
                "Finance approval threshold",
                html.P(id=CURRENT),
                html.Div(
                    [
                        html.Label("Monthly increase above (R)", htmlFor=AMOUNT),
                        dcc.Input(
                            id=AMOUNT,
                            type="text",
                            inputMode="decimal",
                            maxLength=12,
                            className="input",
                            style={"minWidth": "160px"},
                        ),
                        html.Button("Save", id=SAVE, className="btn btn-primary"),
                    ],
                    className="form-row",
                ),
                html.Div(id=MESSAGE),
            ),
        ]
    )


class Invalid(ValueError):
    """An amount the page refuses; the message is shown to the administrator."""


def parse_amount(value: Any) -> Decimal:
    """'250', '250.5', 'R 1 250.00' -> Decimal; refuses anything else with a sentence."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise Invalid("Enter an amount in rand, for example 200 or 350.50.")
    text = value.strip()
    if text[:1] in ("R", "r"):
        text = text[1:]
    text = text.replace(" ", "").replace("\u00a0", "")
    if not AMOUNT_TEXT.match(text):
        raise Invalid("Enter a plain amount in rand with at most two decimals, like 350.50.")
    amount = Decimal(text).quantize(Decimal("0.01"))
    if amount > MAX_THRESHOLD:
        raise Invalid(f"The threshold can be at most {components.money(MAX_THRESHOLD)}.")
    return amount


def _clicked(clicks: Any) -> bool:
    return (
        ctx.triggered_id == SAVE
        and isinstance(clicks, int)
        and not isinstance(clicks, bool)
        and clicks > 0
    )


def _current(amount: Decimal) -> str:
    return (
        f"Now: requests that add more than {components.money(amount)} a month need a "
        "Financial Manager's approval."
    )


@protected_callback(
    Output(CURRENT, "children"),
    Output(AMOUNT, "value"),
    Output(MESSAGE, "children"),
    Input(SAVE, "n_clicks"),
    State(AMOUNT, "value"),
    roles=(ADMIN,),
)
def update_threshold(clicks: Any, value: Any) -> tuple[Any, ...]:
    db = app_db()
    message: Any = None
    failed = False
    if _clicked(clicks):
        try:
            amount = parse_amount(value)
            order_service.set_threshold(db, current_user, amount)
            message = html.P(f"Saved: {components.money(amount)} a month.", className="alert",
                             role="status")
        except Invalid as e:
            message, failed = components.error_state(str(e)), True
        except order_service.InvalidParams as e:
            text = str(e).split(": ", 1)[-1]
            message, failed = components.error_state(text[:1].upper() + text[1:]), True
    amount = order_service.get_threshold(db, current_user)
    # after a refusal the field keeps what was typed, so it can be corrected
    return _current(amount), no_update if failed else f"{amount:.2f}", message
