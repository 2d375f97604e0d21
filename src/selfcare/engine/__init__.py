"""Query engines behind one interface (`base`): DuckDB today (`duckdb_engine`), Spark later.

The gate talks only to `Engine` and `Cursor` and catches only `EngineError`; which engine it
holds is chosen in one place (`create`).
"""

from __future__ import annotations

from collections.abc import Sequence

from selfcare.engine.base import Cursor, Engine, EngineError

__all__ = ["Cursor", "Engine", "EngineError", "create"]


def create(kind: str, *, memory_limit: str, model_views: Sequence[str] = ()) -> Engine:
    """The engine of that kind (today only "duckdb")."""
    if kind == "duckdb":
        from selfcare.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(memory_limit=memory_limit, model_views=model_views)
    raise ValueError(f"unknown query engine {kind!r} (known: duckdb)")
