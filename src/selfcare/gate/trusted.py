"""Trusted, operator-side questions: the gate's entry point for callers that are not a viewer.

`selfcare demo` picks its demo users from the loaded HR feed and summarises a load's rejects; the
order services read a tenant's HR chain, line register, line services and the operator's
catalogue (namespace `estate`), which the rules need beyond the viewer's own lines (the manager
above a requester, the lines of an order one approves); those questions are not bound to a
viewer's scope. They are named SQL files in
the `demo` namespace, run through the gate's engine like every other query, but only from here:
nothing in the portal imports this module directly (an import contract in pyproject.toml; only
`selfcare.services.estate` may reach it from below the web), so no web callback or export can run
these queries with parameters of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from selfcare import queries
from selfcare.gate import GateError, NotAllowed, _internal, lake_path

# The namespaces a trusted caller may run (`scope` stays the gate's own).
# `estate`: the facts the order rules need (services/estate.py), derived on the server from the
# signed-in user's tenant, never from a request's parameters.
TRUSTED_NAMESPACES = frozenset({"demo", "estate"})


def run(name: str, lake: Path | None = None, **params: Any) -> pd.DataFrame:
    """Run a trusted query over `lake` (default: the configured lake) with exactly its parameters;
    an empty frame when the lake has nothing loaded yet."""
    if name.split(".", 1)[0] not in TRUSTED_NAMESPACES:
        raise NotAllowed(f"{name} is not a trusted operator query")
    try:
        sql = queries.load(name)
    except queries.UnknownQuery as e:
        raise GateError(str(e)) from e
    wanted = queries.parameters(sql)
    missing, extra = sorted(wanted - set(params)), sorted(set(params) - wanted)
    if missing or extra:
        raise GateError(f"{name}: missing parameters {missing}, unexpected {extra}")
    return _internal(name, Path(lake).resolve() if lake else lake_path(), **params)
