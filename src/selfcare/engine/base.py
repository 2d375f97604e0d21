"""The engine interface: what the gate needs from a query engine, and nothing more.

After harlequin's adapter (`HarlequinAdapter` → `HarlequinConnection` → `HarlequinCursor`): an
`Engine` opens the lake read-only and hands out a `Cursor` per call; the cursor runs SQL with
bound parameters and returns pandas frames, Arrow record batches or column names. Every failure
of the engine reaches the caller as `EngineError` with the engine's own message, so the gate
never catches a DuckDB (or, later, Spark) exception type. The gate keeps everything that is not
about running SQL: which query a viewer may run, the scope it binds, caching, its own errors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa


class EngineError(Exception):
    """The engine could not run a statement or open the lake; the message is the engine's."""


class ReadOnly(EngineError):
    """The statement is not a query (COPY, ATTACH, EXPORT, SET, ...): the portal only reads."""


class Cursor(ABC):
    """One caller's handle on the lake at one published version; never shared across threads.

    `version` is the lake version the cursor reads: every statement on it sees that version.
    """

    version: int

    @abstractmethod
    def has_tables(self) -> bool:
        """Whether the lake has any table yet (an empty lake answers every query with nothing)."""

    @abstractmethod
    def frame(self, sql: str, params: Mapping[str, Any]) -> pd.DataFrame:
        """Run `sql` with `params` bound by name (`$name`) and return the whole result."""

    @abstractmethod
    def batches(
        self, sql: str, params: Mapping[str, Any], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        """Run `sql` and yield its result in Arrow batches of at most `batch_rows` rows."""

    @abstractmethod
    def columns(self, sql: str, params: Mapping[str, Any]) -> list[str]:
        """The column names `sql` returns, without reading its rows."""

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the statement running on this cursor, from another thread (its caller then gets
        an `EngineError`); a cursor running nothing ignores it."""

    @abstractmethod
    def close(self) -> None:
        """Release the cursor (the engine's connection stays open for the next call)."""

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Engine(ABC):
    """A query engine over the published lake, read-only.

    `model_views` names the lake's model views (`queries/model/*.sql`) in creation order; an
    engine defines them over the lake's tables so that every report reads the same model.
    """

    name: str

    def __init__(self, model_views: Sequence[str] = ()) -> None:
        self.model_views = tuple(model_views)

    @abstractmethod
    def cursor(self, lake: Path) -> Cursor:
        """A cursor on the lake's currently published version."""
