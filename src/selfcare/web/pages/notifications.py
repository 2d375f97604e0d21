"""Notifications: every tenant profile sees its own notifications, newest first (a request
waiting for your approval; your request approved, rejected, completed or failed), each linking
to the order's page, and marks them all read.

Only the signed-in user's own rows are ever read or changed (the service takes the user from the
session, never an id from the browser). The shell's top bar shows the unread count
(`selfcare.web.app`); marking all read here updates it too.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask_login import current_user

from selfcare.roles import TENANT_ROLES
from selfcare.services import notifications
from selfcare.web import components
from selfcare.web.app import NOTIFICATIONS_ID as BADGE
from selfcare.web.app import notifications_badge as badge_text
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/notifications",
    name="Notifications",
    title="Notifications · SelfCare",
    order=95,
    roles=TENANT_ROLES,
)

LIST = "notifications-list"
MARK_ALL = "notifications-mark-all"
MESSAGE = "notifications-message"

KIND_LABELS = {
    "approval_requested": "Waiting for your approval",
    "approved": "Approved",
    "rejected": "Rejected",
    "completed": "Completed",
    "failed": "Failed",
    "expired": "Expired",
    "cancelled": "Cancelled",
}
KIND_BADGES = {
    "approval_requested": "badge badge-warn",
    "approved": "badge badge-ok",
    "completed": "badge badge-ok",
    "rejected": "badge badge-danger",
    "failed": "badge badge-danger",
}


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            components.page_header(
                "Notifications",
                "Requests waiting for your approval, and news about your own requests.",
            ),
            components.card(
                None,
                html.Div(
                    html.Button("Mark all read", id=MARK_ALL, className="btn btn-ghost"),
                    className="form-row",
                ),
                html.Div(id=MESSAGE, role="status"),
                html.Div(id=LIST),
            ),
        ]
    )


def _when(ts: str) -> str:
    return (ts or "").replace("T", " ")[:16]


def notification_list(rows: list[notifications.NotificationView]) -> Any:
    if not rows:
        return components.empty_state("You have no notifications.")
    items = []
    for n in rows:
        text: Any = n.text
        if n.order_id is not None:
            text = dcc.Link(n.text, href=f"/requests/{n.order_id}", className="notification-link")
        items.append(
            html.Li(
                [
                    html.Span(
                        KIND_LABELS.get(n.kind, n.kind.replace("_", " ").capitalize()),
                        className=KIND_BADGES.get(n.kind, "badge badge-muted"),
                    ),
                    " ",
                    text,
                    html.Span(" · " + _when(n.created_at), className="muted"),
                    html.Span(" · new", className="notification-new") if not n.read else "",
                ],
                className="notification" + ("" if n.read else " notification-unread"),
            )
        )
    return html.Ul(items, className="notifications", **{"aria-label": "Your notifications"})


@protected_callback(
    Output(LIST, "children"),
    Output(MESSAGE, "children"),
    Output(BADGE, "children", allow_duplicate=True),
    Output(BADGE, "aria-label", allow_duplicate=True),
    Input(MARK_ALL, "n_clicks"),
    prevent_initial_call="initial_duplicate",
    roles=TENANT_ROLES,
)
def update_notifications(mark_clicks: int | None) -> tuple[Any, ...]:
    db = app_db()
    user = current_user  # always the signed-in user's own notifications
    message: Any = None
    if mark_clicks:
        changed = notifications.mark_all_read(db, user)
        message = f"Marked {changed} as read." if changed else "Nothing unread."
    rows = notifications.list_notifications(db, user)
    text, label = badge_text(notifications.unread_count(db, user))
    return notification_list(rows), message, text, label
