"""The role check for Dash callbacks (the guard cannot see which page a callback belongs to)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask_login import current_user

from selfcare.roles import check_known


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Re-check the viewer's role on every call of a Dash callback (or any view).

    Place it under `@dash.callback(...)`. Not signed in → 401, signed in but another profile
    → 403, via `flask.abort`, so the callback body never runs for them.
    """
    allowed = frozenset(roles)
    check_known(allowed)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user
            if user is None or not getattr(user, "is_authenticated", False):
                abort(401)
            if getattr(user, "via_token", False) or user.role not in allowed:
                abort(403)
            return func(*args, **kwargs)

        return wrapper

    return decorate
