"""Every Dash callback of the portal is registered here, with the profiles allowed to run it.

Callbacks are public HTTP endpoints (`POST /_dash-update-component`). The `before_request` guard
knows that someone is signed in, not which page a callback belongs to, so each server-side
callback re-checks the viewer's profile on every call. `protected_callback` (after
plotly/dash-auth's `dash_auth/group_protection.py`) registers the callback and that check in one
decorator, and records it in a registry, so a test can prove that every server-side callback
Dash knows went through it (tests/unit/web/test_callbacks.py).

dash-auth's `check_groups` answers `None` (not signed in), `False` (signed in, not allowed) or
`True`; where dash-auth then raises `PreventUpdate`, we refuse with `flask.abort`: 401 for `None`,
403 for `False`, so the callback body never runs and the client sees why. A personal API token
acts only on `/export/*`, so a token-authenticated request is `False` here whatever its profile.

Clientside callbacks run in the browser on what the page already holds and read nothing from the
server, so they need no check; `clientside_callback` records them with the reason, so that the
same test can account for every callback, not only the server-side ones.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dash
from flask import abort
from flask_login import current_user

from selfcare.roles import check_known


@dataclass(frozen=True)
class Protected:
    """A server-side callback registered through `protected_callback`."""

    name: str  # module.qualname of the callback body
    roles: frozenset[str]


@dataclass(frozen=True)
class Clientside:
    """A clientside callback registered through `clientside_callback`."""

    output: str  # Dash's callback id (the key of `app.callback_map`)
    reason: str  # why it needs no server-side check


# Keyed by the guarded function handed to Dash (Dash wraps it with functools.wraps, so the
# function in `app.callback_map` reaches it through `__wrapped__`). Weak, because every
# `create_app` registers the shell's callbacks again on its own Dash app.
_PROTECTED: weakref.WeakKeyDictionary[Callable[..., Any], Protected] = (
    weakref.WeakKeyDictionary()
)
_CLIENTSIDE: dict[str, Clientside] = {}


def check_roles(allowed: frozenset[str]) -> bool | None:
    """dash-auth's answer for the signed-in user: None = not signed in, False = not allowed."""
    user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "via_token", False):  # tokens open /export/* only, never a callback
        return False
    return user.role in allowed


def require_roles(allowed: frozenset[str]) -> None:
    """Abort the request unless the signed-in user has one of `allowed`: 401, else 403."""
    verdict = check_roles(allowed)
    if verdict is None:
        abort(401)
    if not verdict:
        abort(403)


def _allowed(roles: Iterable[str]) -> frozenset[str]:
    if isinstance(roles, str):  # roles="admin" would silently mean {"a", "d", "m", "i", "n"}
        raise TypeError("roles must be a collection of profile codes, not one string")
    allowed = frozenset(roles)
    if not allowed:
        raise ValueError("a protected callback needs at least one role")
    check_known(allowed)
    return allowed


def protected_callback(
    *callback_args: Any,
    roles: Iterable[str],
    app: dash.Dash | None = None,
    **callback_kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`dash.callback(...)` (or `app.callback(...)` with `app=`) plus the role check.

    Takes the same arguments as `dash.callback`, plus `roles=` (the profiles allowed; required,
    so no callback is registered without deciding who may run it). Returns the body unchanged,
    like `dash.callback`, so it can still be called directly in tests.
    """
    allowed = _allowed(roles)
    register = app.callback if app is not None else dash.callback

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            require_roles(allowed)
            return func(*args, **kwargs)

        _PROTECTED[guarded] = Protected(f"{func.__module__}.{func.__qualname__}", allowed)
        register(*callback_args, **callback_kwargs)(guarded)
        return guarded

    return decorate


def clientside_callback(
    clientside_function: str,
    *callback_args: Any,
    reason: str,
    app: dash.Dash | None = None,
    **callback_kwargs: Any,
) -> None:
    """`dash.clientside_callback(...)` (or `app.clientside_callback` with `app=`), recorded.

    `reason` says why the callback needs no server-side check (what it reads, in the browser).
    """
    if not reason.strip():
        raise ValueError("say why this clientside callback needs no server-side check")
    if app is not None:
        callback_map = app.callback_map
        register: Callable[..., Any] = app.clientside_callback
    else:
        # dash.clientside_callback files into Dash's global map until an app picks it up; the
        # id is the same key the app's callback_map will hold.
        from dash import _callback

        callback_map = _callback.GLOBAL_CALLBACK_MAP
        register = dash.clientside_callback
    before = set(callback_map)
    register(clientside_function, *callback_args, **callback_kwargs)
    for output in set(callback_map) - before:
        _CLIENTSIDE[output] = Clientside(output, reason)


def protection_of(func: Callable[..., Any] | None) -> Protected | None:
    """The record of a function in Dash's callback map, if it went through protected_callback."""
    seen = 0
    while func is not None and seen < 16:  # Dash adds one or two wrappers; never loop forever
        try:
            record = _PROTECTED.get(func)
        except TypeError:  # not weak-referenceable: not one of ours
            record = None
        if record is not None:
            return record
        func = getattr(func, "__wrapped__", None)
        seen += 1
    return None


def clientside_record(output: str) -> Clientside | None:
    """The record of a clientside callback by its id in `app.callback_map`, if registered here."""
    return _CLIENTSIDE.get(output)
