"""API tokens: every profile lists, creates and revokes its own personal tokens for the CSV export
API and the JSON API (`Authorization: Bearer <secret>` on `/export/*` and `/api/v1/*`).

A token is read-only unless "read and write" is chosen when it is created (then it may also place,
approve, reject and cancel orders through `/api/v1`, with exactly its owner's rights). It acts
only as its owner (the owner's profile and scope, re-read on every
use; a deactivated owner's tokens stop working). The secret is shown once, in the response to the
create click, and never stored anywhere but as a hash. Every callback acts on the signed-in user's
own tokens only; a token id of someone else is "no such token".

An Administrator also sees every token of their organisation's users, with its owner, and can
revoke any of them (a leaked secret, someone leaving); the services decide from the signed-in
administrator, and a token id of another organisation is "no such token", the same answer.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from flask import request
from flask_login import current_user

from selfcare.roles import ADMIN, ROLES
from selfcare.services import ServiceError, tokens
from selfcare.web import components
from selfcare.web.auth import app_db
from selfcare.web.callbacks import protected_callback

dash.register_page(
    __name__,
    path="/api-tokens",
    name="API tokens",
    title="API tokens · SelfCare",
    order=90,
    roles=ROLES,
)

NAME = "api-tokens-name"
SCOPE = "api-tokens-scope"
LIFETIME = "api-tokens-lifetime"
CREATE = "api-tokens-create"
CREATED = "api-tokens-created"
TABLE = "api-tokens-table"
REVOKE = "api-tokens-revoke"
MESSAGE = "api-tokens-message"
ORG_TABLE = "api-tokens-org-table"
ORG_REVOKE = "api-tokens-org-revoke"
ORG_MESSAGE = "api-tokens-org-message"


def _org_card() -> list[Any]:
    """The Administrator's view of every token in the organisation (nothing for anyone else)."""
    if getattr(current_user, "role", None) != ADMIN:
        return []
    return [
        components.card(
            "Your organisation's tokens",
            html.P(
                "Every API token of your organisation's users. Revoke one that has leaked or "
                "whose owner no longer needs it; it stops working at once.",
                className="muted",
            ),
            html.Div(id=ORG_MESSAGE, role="status"),
            html.Div(id=ORG_TABLE),
        )
    ]


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            components.page_header(
                "API tokens",
                "Personal tokens for the CSV export API and the JSON API (/api/v1). A token sees "
                "exactly what you see, and stops working when you revoke it or your account is "
                "deactivated.",
            ),
            components.card(
                "Create a token",
                html.Div(
                    [
                        dcc.Input(
                            id=NAME,
                            type="text",
                            placeholder="What is it for? e.g. monthly finance extract",
                            maxLength=80,
                            className="input",
                            debounce=False,
                        ),
                        dcc.RadioItems(
                            id=SCOPE,
                            options=[
                                {"label": " Read only", "value": tokens.READ},
                                {"label": " Read and write (orders)", "value": tokens.WRITE},
                            ],
                            value=tokens.READ,
                            inline=True,
                            className="token-scope",
                        ),
                        html.Label("Works for", htmlFor=LIFETIME, className="muted"),
                        dcc.Dropdown(
                            id=LIFETIME,
                            options=[
                                {"label": f"{d} days", "value": d} for d in tokens.LIFETIME_CHOICES
                            ],
                            value=tokens.DEFAULT_LIFETIME_DAYS,
                            clearable=False,
                            className="dropdown",
                            style={"minWidth": "120px"},
                        ),
                        html.Button("Create token", id=CREATE, className="btn btn-primary"),
                    ],
                    className="form-row",
                ),
                html.Div(id=CREATED),
            ),
            components.card(
                "Your tokens",
                html.Div(id=MESSAGE),
                html.Div(id=TABLE),
            ),
            *_org_card(),
            components.card(
                "Using a token",
                html.Pre(
                    "curl -H 'Authorization: Bearer <secret>' \\\n"
                    "  'https://<portal>/export/<report>.csv?from=2026-01&to=2026-03'\n"
                    "curl -H 'Authorization: Bearer <secret>' 'https://<portal>/api/v1/lines'\n"
                    "# the API's reference: /api/v1/docs (OpenAPI: /api/v1/openapi.json)",
                    className="code",
                ),
            ),
        ]
    )


def _table(rows: list[dict[str, Any]], *, owners: bool = False) -> Any:
    if not rows:
        return components.empty_state(
            "Nobody in your organisation has an API token."
            if owners
            else "You have no API tokens yet."
        )
    heads = ("Name", "Token", "Scope", "Created", "Last used", "Expires", "Status", "")
    head = html.Thead(html.Tr([html.Th(h) for h in (("Owner", *heads) if owners else heads)]))
    button = ORG_REVOKE if owners else REVOKE
    body = []
    for t in rows:
        revoked = bool(t.get("revoked_at"))
        expired = not revoked and bool(t.get("expires_at")) and t["expires_at"] <= tokens.now()
        status = "revoked" if revoked else "expired" if expired else "active"
        body.append(
            html.Tr(
                ([html.Td(t["owner"])] if owners else [])
                + [
                    html.Td(t["name"]),
                    html.Td(html.Code(t["prefix"] + "…")),
                    html.Td("read and write" if t.get("scope") == tokens.WRITE else "read only"),
                    html.Td(_day(t["created_at"])),
                    html.Td(_day(t.get("last_used_at")) or "never"),
                    html.Td(_day(t.get("expires_at")) or "never"),
                    html.Td(
                        html.Span(
                            status,
                            className="badge badge-ok"
                            if status == "active"
                            else "badge badge-muted",
                        )
                    ),
                    html.Td(
                        ""
                        if revoked
                        else html.Button(
                            "Revoke",
                            id={"type": button, "index": int(t["id"])},
                            className="btn btn-danger btn-small",
                            **{
                                "aria-label": f"Revoke the token {t['name']}"
                                + (f" of {t['owner']}" if owners else "")
                            },
                        )
                    ),
                ]
            )
        )
    return html.Table([head, html.Tbody(body)], className="table")


def _day(ts: str | None) -> str:
    return (ts or "").replace("T", " ")[:16]


@protected_callback(
    Output(TABLE, "children"),
    Output(CREATED, "children"),
    Output(MESSAGE, "children"),
    Output(NAME, "value"),
    Input(CREATE, "n_clicks"),
    Input({"type": REVOKE, "index": ALL}, "n_clicks"),
    State(NAME, "value"),
    State(SCOPE, "value"),
    State(LIFETIME, "value"),
    roles=ROLES,
)
def update_tokens(
    create_clicks: Any,
    revoke_clicks: Any,
    name: str | None,
    scope: str | None,
    lifetime: Any = None,
) -> tuple[Any, ...]:
    db = app_db()
    user_id = current_user.id  # the owner is always the signed-in user, never a browser value
    created: Any = no_update
    message: Any = None
    name_value: Any = no_update
    trigger = ctx.triggered_id
    if trigger == CREATE and create_clicks:
        try:
            # anything but an explicit "write" is read-only (the services refuse unknown scopes)
            chosen = tokens.WRITE if scope == tokens.WRITE else tokens.READ
            # only one of the offered lifetimes; anything else the browser sends is the default
            days = lifetime if lifetime in tokens.LIFETIME_CHOICES else tokens.DEFAULT_LIFETIME_DAYS
            if isinstance(days, bool):
                days = tokens.DEFAULT_LIFETIME_DAYS
            token_id, secret = tokens.create_token(
                db, user_id, name or "", scope=chosen, days=int(days)
            )
        except ServiceError as e:
            message = components.error_state(str(e))
        else:
            name_value = ""
            created = html.Div(
                [
                    html.P(
                        "Copy this secret now: it is shown only once and cannot be recovered.",
                        className="alert alert-warn",
                    ),
                    html.Pre(secret, className="code secret", id="api-tokens-secret"),
                ]
            )
    elif isinstance(trigger, dict) and trigger.get("type") == REVOKE:
        # A re-rendered table fires its new buttons with n_clicks None: not a click.
        if any(revoke_clicks or []) and ctx.triggered and ctx.triggered[0].get("value"):
            try:
                tokens.revoke_token(db, user_id, int(trigger["index"]))
            except (ServiceError, ValueError, TypeError):
                message = components.error_state("No such token.")
            created = None
    return _table(tokens.list_tokens(db, user_id)), created, message, name_value


@protected_callback(
    Output(ORG_TABLE, "children"),
    Output(ORG_MESSAGE, "children"),
    Input({"type": ORG_REVOKE, "index": ALL}, "n_clicks"),
    Input(TABLE, "children"),
    roles=(ADMIN,),
)
def update_org_tokens(revoke_clicks: Any, _own_table: Any) -> tuple[Any, Any]:
    """The organisation's tokens; redrawn when the administrator's own list changes too."""
    db = app_db()
    message: Any = None
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and trigger.get("type") == ORG_REVOKE:
        # a re-rendered table fires its new buttons with n_clicks None: not a click
        if any(revoke_clicks or []) and ctx.triggered and ctx.triggered[0].get("value"):
            try:
                text = tokens.revoke_by_admin(
                    db, current_user, trigger.get("index"), ip=request.remote_addr
                )
            except ServiceError as e:
                message = components.error_state(str(e))
            else:
                message = html.P(text, className="alert alert-ok")
    return _table(tokens.tenant_tokens(db, current_user), owners=True), message
