"""Trusted, operator-side questions: the gate's entry point for callers that are not a viewer.

`selfcare demo` picks its demo users from the loaded HR feed and summarises a load's rejects; those
questions read across the whole lake, so no viewer's scope applies. They are named SQL files in
the `demo` namespace, run through the gate's engine like every other query, but only from here:
nothing in the portal imports this module (an import contract in pyproject.toml), so no web
callback or export can reach it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from selfcare import queries
from selfcare.gate import GateError, NotAllowed, _internal, lake_path

# The namespaces a trusted caller may run (`scope` stays the gate's own).
TRUSTED_NAMESPACES = frozenset({"demo"})


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
