"""The portal's shell: `create_app(settings) -> flask.Flask`, the Dash app with its pages.

The shell is the Flask server (sign-in, the default-deny guard, security headers, `/healthz`, the
CSV exports) with one Dash app on it (`use_pages=True`, pages under `web/pages`). Its layout
is a function evaluated per request: a top bar with the pages of the viewer's profile, who is
signed in (email, tenant, profile) and a sign-out button (a POST form); a toolbar with the
shared bill-period range and the "incl. VAT" toggle; and the page container. Page layouts are
wrapped so that a page outside the viewer's profile renders nothing even when reached by in-app
navigation (the guard already answers 403 when its URL is requested).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update
from flask import Flask, has_request_context, jsonify
from flask_login import current_user

from selfcare import config, gate
from selfcare.config import Settings, load_settings
from selfcare.etl import lake as lake_files
from selfcare.roles import ROLES, TENANT_ROLES, role_name
from selfcare.services import notifications
from selfcare.web import auth, components
from selfcare.web.callbacks import clientside_callback, protected_callback

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
ASSETS = HERE / "assets"
TEMPLATES = HERE / "templates"  # the login and error pages
NAV_ID = "app-nav"
NOTIFICATIONS_ID = "app-notifications"  # the top bar's "Notifications (N)" link
PAGES_LOCATION = "_pages_location"  # the dcc.Location inside dash.page_container


# --- the layout -------------------------------------------------------------------------------


def _controls(periods_disabled: bool = False) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Label("Bill period", htmlFor=components.PERIOD_FROM, className="tb-label"),
                    dcc.Dropdown(
                        id=components.PERIOD_FROM,
                        options=[],
                        value=None,
                        clearable=False,
                        searchable=False,
                        placeholder="From",
                        className="period-dropdown",
                        disabled=periods_disabled,
                    ),
                    html.Span("to", className="tb-sep"),
                    dcc.Dropdown(
                        id=components.PERIOD_TO,
                        options=[],
                        value=None,
                        clearable=False,
                        searchable=False,
                        placeholder="To",
                        className="period-dropdown",
                        disabled=periods_disabled,
                    ),
                ],
                className="tb-group",
            ),
            dcc.Checklist(
                id=components.VAT,
                options=[{"label": " incl. VAT", "value": components.VAT_ON}],
                value=[],
                className="vat-toggle",
                inputClassName="vat-input",
            ),
        ],
        className="app-toolbar",
    )


INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def _empty_shell() -> html.Div:
    # Dash validates the layout once with no signed-in user: an empty frame, no data, no names.
    return html.Div(
        [html.Div(_controls(True), hidden=True), html.Main(dash.page_container)],
        id="app-shell",
        className="app",
    )


def _tenant_label(user: Any) -> str | None:
    if user.role == "analyst":
        return "All tenants (aggregates)"
    try:
        return gate.tenant_name(gate.current_scope())
    except gate.GateError:
        log.warning("tenant name unavailable for %s", user.tenant_id)
        return user.tenant_id


def shell_layout(**_: Any) -> html.Div:
    """The shell for the signed-in user (called by Dash per request)."""
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return _empty_shell()
    user = current_user
    links = [
        dcc.Link(
            page["name"],
            href=page["path"],
            id={"type": NAV_ID, "path": page["path"]},
            className="nav-link",
        )
        for page in auth.pages_for(user.role)
    ]
    tenant = _tenant_label(user)
    header = html.Header(
        [
            dcc.Link(
                [html.Span("S", className="brand-mark"), "SelfCare"], href="/", className="brand"
            ),
            html.Nav(links, className="app-nav", **{"aria-label": "Pages"}),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(user.email, className="who-email"),
                            html.Div(
                                [
                                    html.Span(
                                        role_name(user.role),
                                        className="who-role",
                                    ),
                                    html.Span(
                                        " · " + tenant if tenant else "", className="who-tenant"
                                    ),
                                ],
                                className="who-meta",
                            ),
                        ],
                        className="who",
                    ),
                    *_notifications_link(user),
                    # A real form POST (a full page load the server sees); GET /logout signs
                    # nobody out, so no link or image of another site can.
                    html.Form(
                        html.Button("Sign out", type="submit", className="btn btn-ghost"),
                        method="POST",
                        action="/logout",
                        className="logout-form",
                    ),
                ],
                className="app-user",
            ),
        ],
        className="app-header",
    )
    return html.Div(
        [header, _controls(), html.Main(dash.page_container, className="app-main")],
        id="app-shell",
        className="app",
    )


def notifications_badge(count: int) -> tuple[str, str]:
    """The top bar's notifications link: its text and its accessible label."""
    label = "Notifications: " + ("none unread" if count == 0 else f"{count} unread")
    return f"Notifications ({count})", label


def _unread(user: Any) -> int:
    try:
        return notifications.unread_count(auth.app_db(), user)
    except Exception:  # the count must never take the shell down (a database hiccup)
        log.exception("notification count unavailable")
        return 0


def _notifications_link(user: Any) -> list[Any]:
    """The unread count in the top bar, for the tenant profiles (the analyst gets none)."""
    if user.role not in TENANT_ROLES:
        return []
    text, label = notifications_badge(_unread(user))
    # An anchor (dcc.Link takes no aria-label): a full load also rebuilds the shell's count.
    return [
        html.A(
            text,
            href="/notifications",
            id=NOTIFICATIONS_ID,
            className="btn btn-ghost notifications-link",
            **{"aria-label": label},
        )
    ]


def default_period(periods: list[str], today: date | None = None) -> str | None:
    """The last complete month in the list: the latest before the current month, else the
    latest available (a lake whose periods all lie ahead), else None."""
    if not periods:
        return None
    current = (today or date.today()).strftime("%Y-%m")
    complete = [p for p in periods if p < current]
    return complete[-1] if complete else periods[-1]


def _guard_layout(page: dict[str, Any]) -> None:
    """Wrap a registered page's layout with its role check (idempotent)."""
    layout = page.get("layout")
    if getattr(layout, "_selfcare_guarded", False):
        return
    roles = tuple(page.get("roles") or ())

    def guarded(**kwargs: Any) -> Any:
        if not has_request_context() or not current_user or not current_user.is_authenticated:
            return html.Div()
        if current_user.role not in roles:
            return components.error_state("This page is not part of your profile.")
        return layout(**kwargs) if callable(layout) else layout

    guarded._selfcare_guarded = True  # type: ignore[attr-defined]
    page["layout"] = guarded


# --- callbacks of the shell ---------------------------------------------------------------------


def _register_callbacks(app: dash.Dash) -> None:
    @protected_callback(
        Output(components.PERIOD_FROM, "options"),
        Output(components.PERIOD_FROM, "value"),
        Output(components.PERIOD_TO, "options"),
        Output(components.PERIOD_TO, "value"),
        Input("app-shell", "id"),
        app=app,
        roles=ROLES,
    )
    def update_periods(_: str) -> tuple[Any, ...]:
        scope = gate.current_scope()
        name = "analyst.bill_periods" if scope.aggregate_only else "reports.bill_periods"
        try:
            df = gate.run(name, scope)
        except gate.GateError:
            log.exception("bill periods unavailable")
            return [], None, [], None
        periods = sorted(str(p) for p in df["bill_period"]) if len(df) else []
        options = [{"label": components.period_label(p), "value": p} for p in periods]
        default = default_period(periods)
        return options, default, options, default

    @protected_callback(
        Output(components.PERIOD_TO, "value", allow_duplicate=True),
        Input(components.PERIOD_FROM, "value"),
        State(components.PERIOD_TO, "value"),
        prevent_initial_call=True,
        app=app,
        roles=ROLES,
    )
    def update_period_to(start: str | None, end: str | None) -> Any:
        # Keep the range the right way round: moving "from" past "to" drags "to" along.
        return start if start and end and start > end else no_update

    @protected_callback(
        Output(components.PERIOD_FROM, "value", allow_duplicate=True),
        Input(components.PERIOD_TO, "value"),
        State(components.PERIOD_FROM, "value"),
        prevent_initial_call=True,
        app=app,
        roles=ROLES,
    )
    def update_period_from(end: str | None, start: str | None) -> Any:
        return end if start and end and start > end else no_update

    @protected_callback(
        Output(NOTIFICATIONS_ID, "children"),
        Output(NOTIFICATIONS_ID, "aria-label"),
        Input(PAGES_LOCATION, "pathname"),
        prevent_initial_call=True,
        app=app,
        roles=TENANT_ROLES,
    )
    def update_notifications_count(_: str | None) -> tuple[str, str]:
        # In-app navigation does not rebuild the shell: refresh the count on every page change.
        return notifications_badge(_unread(current_user))

    clientside_callback(
        """
        function(pathname, ids) {
            return ids.map(function (id) {
                return id.path === pathname ? "nav-link active" : "nav-link";
            });
        }
        """,
        Output({"type": NAV_ID, "path": ALL}, "className"),
        Input(PAGES_LOCATION, "pathname"),
        State({"type": NAV_ID, "path": ALL}, "id"),
        app=app,
        reason="marks the active menu link from the URL; reads only the page's own menu",
    )


# --- the app ------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> Flask:
    """Build the portal's Flask server (Dash mounted on it), warmed up and ready to serve."""
    settings = settings or load_settings()
    # assets come from Dash (no second static route); the login and error pages are templates
    server = Flask(__name__, static_folder=None, template_folder=str(TEMPLATES))
    hops = config.proxy_hops()
    if hops > 0:
        # Behind a reverse proxy: trust exactly that many X-Forwarded-* hops (client address for
        # throttling and audit, https for redirects). Never set this without a proxy in front.
        from werkzeug.middleware.proxy_fix import ProxyFix

        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    auth.init_auth(server, settings)

    app = dash.Dash(
        # The package name makes Dash import pages as selfcare.web.pages.<name>, the same modules
        # a plain import gives (no duplicate registry entries when a test imports a page).
        "selfcare.web",
        server=server,
        use_pages=True,
        pages_folder=str(PAGES),
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        serve_locally=True,
        title="SelfCare",
        update_title=None,
        # Dash's own page names no language: screen readers then guess (axe: html-has-lang)
        index_string=INDEX_STRING,
    )
    app.layout = shell_layout
    for page in dash.page_registry.values():
        _guard_layout(page)
    _register_callbacks(app)

    @server.get("/healthz")
    def healthz() -> Any:
        try:
            version = lake_files.current_version(settings.lake)
        except (OSError, ValueError, KeyError):
            return jsonify(status="error"), 503
        if not current_user or not current_user.is_authenticated:
            return jsonify(status="ok")  # anonymous callers learn nothing about the lake
        return jsonify(status="ok", lake_version=version)

    from selfcare.web import exports  # the CSV routes; their scope comes from the same sign-in

    server.register_blueprint(exports.bp)

    from selfcare.web.api.register import init_api  # /api/v1, its OpenAPI document and docs

    init_api(server)

    csp: dict[str, str] = {}

    def policy() -> str:
        if "value" not in csp:
            return auth.content_security_policy(list(app.csp_hashes()))
        return csp["value"]

    auth.install_headers(server, policy)

    # Dash finishes its server setup on the first request; doing it here, once, avoids the
    # "Callback function not found" race of the first concurrent callbacks under threads.
    with server.test_client() as client:
        client.get("/healthz")
    csp["value"] = auth.content_security_policy(list(app.csp_hashes()))
    server.extensions["selfcare_dash"] = app
    return server
