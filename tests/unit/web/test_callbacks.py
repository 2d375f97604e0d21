"""selfcare.web.callbacks: one decorator registers every callback with its roles.

The guard itself is checked on a throwaway Dash app (no database: the signed-in user is set the
way flask-login does, in `g._login_user`); the registry test builds the real portal with
`create_app` and walks Dash's own callback map, so a callback registered any other way fails it.
"""

# ruff: noqa: S105, S106 (test credentials)
from __future__ import annotations

from dataclasses import dataclass

import dash
import pytest
from dash import Input, Output
from flask import Flask, g
from flask_login import AnonymousUserMixin
from werkzeug.exceptions import Forbidden, Unauthorized

from selfcare import roles
from selfcare.web import callbacks

STRONG_SECRET = "k3Y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
# Dash's own callbacks when pages are on (dash/dash.py, enable_pages): the router, which only
# calls page layouts (each wrapped by app._guard_layout, checked below), and a clientside one
# that sets the document title.
DASH_ROUTER_OUTPUT = "_pages_content.children"
DASH_CLIENTSIDE = frozenset({"_pages_dummy.children"})


@dataclass(frozen=True)
class FakeUser:
    """What the check reads of flask-login's current_user."""

    role: str
    via_token: bool = False
    is_authenticated: bool = True


def _app() -> dash.Dash:
    return dash.Dash(__name__, server=Flask(__name__))


def _call_as(server: Flask, user, func, *args):
    with server.test_request_context("/_dash-update-component", method="POST"):
        g._login_user = user  # what flask-login's current_user reads
        return func(*args)


# --- the check --------------------------------------------------------------------------------


def test_check_is_none_signed_out_false_not_allowed_true_allowed():
    server = Flask(__name__)
    allowed = frozenset({roles.ADMIN, roles.FINANCE})
    check = callbacks.check_roles
    assert _call_as(server, AnonymousUserMixin(), check, allowed) is None
    assert _call_as(server, FakeUser(roles.MANAGER), check, allowed) is False
    assert _call_as(server, FakeUser(roles.ADMIN, via_token=True), check, allowed) is False
    assert _call_as(server, FakeUser(roles.FINANCE), check, allowed) is True


@pytest.mark.parametrize(
    ("user", "refusal"),
    [
        pytest.param(AnonymousUserMixin(), Unauthorized, id="signed-out-401"),
        pytest.param(FakeUser(roles.MANAGER), Forbidden, id="other-profile-403"),
        pytest.param(FakeUser(roles.ANALYST), Forbidden, id="operator-profile-403"),
        pytest.param(FakeUser(roles.ADMIN, via_token=True), Forbidden, id="api-token-403"),
    ],
)
def test_refused_callers_never_run_the_body(user, refusal):
    app = _app()
    ran = []

    @callbacks.protected_callback(
        Output("out", "children"), Input("in", "value"), app=app, roles=roles.ALL_LINE_ROLES
    )
    def update_out(value):
        ran.append(value)
        return value

    with pytest.raises(refusal):
        _call_as(app.server, user, update_out, "x")
    assert ran == []


def test_allowed_profiles_run_the_body_on_every_call():
    app = _app()
    ran = []

    @callbacks.protected_callback(
        Output("out", "children"), Input("in", "value"), app=app, roles=roles.ALL_LINE_ROLES
    )
    def update_out(value):
        ran.append(value)
        return value.upper()

    assert _call_as(app.server, FakeUser(roles.ADMIN), update_out, "a") == "A"
    assert _call_as(app.server, FakeUser(roles.FINANCE), update_out, "b") == "B"
    with pytest.raises(Forbidden):  # the same function, re-checked: the next caller is refused
        _call_as(app.server, FakeUser(roles.END_USER), update_out, "c")
    assert ran == ["a", "b"]
    assert update_out.__name__ == "update_out"


@pytest.mark.parametrize(
    ("given", "error"),
    [
        pytest.param(("admin", "root"), ValueError, id="unknown-role"),
        pytest.param((), ValueError, id="no-role"),
        pytest.param("admin", TypeError, id="one-string"),
    ],
)
def test_role_lists_are_checked_when_registering(given, error):
    with pytest.raises(error):
        callbacks.protected_callback(Output("out", "children"), Input("in", "value"),
                                     app=_app(), roles=given)  # fmt: skip


def test_roles_are_required():
    with pytest.raises(TypeError):
        callbacks.protected_callback(Output("out", "children"), Input("in", "value"), app=_app())


# --- the registry -------------------------------------------------------------------------------


def test_the_registry_tells_protected_callbacks_from_plain_ones():
    app = _app()

    @callbacks.protected_callback(Output("a", "children"), Input("in", "value"), app=app,
                                  roles=(roles.ADMIN,))  # fmt: skip
    def update_a(value):
        return value

    @app.callback(Output("b", "children"), Input("in", "value"))
    def update_b(value):
        return value

    found = {k: callbacks.protection_of(v.get("callback")) for k, v in app.callback_map.items()}
    assert found == {
        "a.children": callbacks.Protected(f"{__name__}.{update_a.__qualname__}",
                                          frozenset({roles.ADMIN})),  # fmt: skip
        "b.children": None,
    }


def test_clientside_callbacks_are_recorded_with_their_reason():
    app = _app()
    callbacks.clientside_callback(
        "function(v) { return v; }",
        Output("echo", "children"),
        Input("in", "value"),
        app=app,
        reason="echoes what the browser holds",
    )
    assert "echo.children" in app.callback_map
    assert callbacks.clientside_record("echo.children") == callbacks.Clientside(
        "echo.children", "echoes what the browser holds"
    )
    with pytest.raises(ValueError):
        callbacks.clientside_callback("function(v) { return v; }", Output("other", "children"),
                                      Input("in", "value"), app=app, reason=" ")  # fmt: skip


@pytest.fixture
def portal_app(tmp_path, monkeypatch) -> dash.Dash:
    """The real portal over an empty lake: its callback map is complete without any data."""
    from selfcare.config import load_settings
    from selfcare.web.app import create_app

    lake = tmp_path / "lake"
    lake.mkdir()
    for key, value in {
        "SELFCARE_LAKE": str(lake),
        "SELFCARE_DB": str(tmp_path / "app.db"),
        "SELFCARE_SECRET_KEY": STRONG_SECRET,
        "SELFCARE_ENV": "production",
    }.items():
        monkeypatch.setenv(key, value)
    server = create_app(load_settings())
    return server.extensions["selfcare_dash"]


def test_every_server_side_callback_went_through_protected_callback(portal_app):
    server_side = {k: v for k, v in portal_app.callback_map.items() if "callback" in v}
    unprotected = sorted(
        k for k, v in server_side.items() if callbacks.protection_of(v["callback"]) is None
    )
    # Only Dash's page router, whose work is calling page layouts, each guarded by the shell.
    assert len(unprotected) == 1 and DASH_ROUTER_OUTPUT in unprotected[0], unprotected
    assert server_side[unprotected[0]]["callback"].__module__ == "dash.dash"
    for page in dash.page_registry.values():
        assert getattr(page["layout"], "_selfcare_guarded", False), page["module"]
    assert len(server_side) - 1 >= len(dash.page_registry)  # every page has callbacks


def test_every_clientside_callback_is_accounted_for(portal_app):
    clientside = {k for k, v in portal_app.callback_map.items() if "callback" not in v}
    ours = {k for k in clientside if callbacks.clientside_record(k) is not None}
    assert ours, "the shell's menu highlighter is registered through clientside_callback"
    assert clientside - ours == DASH_CLIENTSIDE


def test_page_callbacks_allow_at_most_their_page_roles(portal_app):
    by_module = {p["module"]: frozenset(p["roles"]) for p in dash.page_registry.values()}
    seen = set()
    for v in portal_app.callback_map.values():
        record = callbacks.protection_of(v.get("callback"))
        if record is None:
            continue
        module = record.name.rsplit(".", 1)[0]
        if module in by_module:
            # never wider than the page; narrower where a part is one profile's (discrepancies)
            assert record.roles <= by_module[module], record.name
            seen.add(module)
        elif record.name.endswith("update_notifications_count"):
            # the Operator Analyst has no notifications (and no link to them)
            assert record.roles == frozenset(roles.TENANT_ROLES), record.name
        else:  # the shell (period pickers): every profile
            assert module.startswith("selfcare.web.app"), record.name
            assert record.roles == frozenset(roles.ROLES), record.name
    assert seen == set(by_module)
