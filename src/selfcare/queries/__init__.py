"""The SQL library: one question per file, loaded by name.

`queries/reports/top_numbers.sql` is the query `reports.top_numbers`. Folders are namespaces:
`lake` (load-time transforms), `scope` (what the gate runs to derive a viewer's scope), `reports`
(the portal's questions, always scoped to a tenant and its visible lines), `analyst` (cross-tenant
aggregates, never a single line), `demo` (trusted operator-side questions, run only through
`selfcare.gate.trusted`) and `checks` (invariants that must return no rows).
This package is plain text plus this loader: it imports neither the engine nor the app.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
_PARAM = re.compile(r"(?<![$\w])\$([a-z_][a-z0-9_]*)")
_LINE_COMMENT = re.compile(r"--[^\n]*")
# A query whose header holds this line returns its rows in time order (bill period, then instant)
# and takes $chunk_from, $chunk_to (TIMESTAMPTZ, NULL = open) bounding the instants it returns. The
# gate binds those itself and streams such a query one bill period and one UTC day at a time: each
# chunk is sorted alone, and on time-ordered files it reads only the row groups of its day, so the
# first rows leave after a day's sort instead of the whole range's, in a day's memory.
_IN_TIME_CHUNKS = re.compile(r"^-- Streamed in time chunks by the gate\.", re.MULTILINE)


class UnknownQuery(LookupError):
    """No SQL file has this name."""


@cache
def load(name: str) -> str:
    """The SQL text of the named query (`namespace.file`), read once per process."""
    if not _NAME.match(name):
        raise UnknownQuery(f"not a query name: {name!r}")
    namespace, stem = name.split(".")
    path = resources.files(__package__).joinpath(namespace, f"{stem}.sql")
    if not path.is_file():
        raise UnknownQuery(f"no such query: {name}")
    return path.read_text(encoding="utf-8")


def parameters(sql: str) -> frozenset[str]:
    """The `$name` parameters the SQL text uses (comments ignored)."""
    return frozenset(_PARAM.findall(_LINE_COMMENT.sub("", sql)))


def streamed_in_time_chunks(sql: str) -> bool:
    """Whether the query may be streamed in time chunks (see _IN_TIME_CHUNKS)."""
    return bool(_IN_TIME_CHUNKS.search(sql))


def names(namespace: str | None = None) -> list[str]:
    """Every query name, optionally within one namespace, sorted."""
    root = resources.files(__package__)
    out = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        if namespace and folder.name != namespace:
            continue
        for f in folder.iterdir():
            if f.name.endswith(".sql"):
                out.append(f"{folder.name}.{f.name[:-4]}")
    return sorted(out)
