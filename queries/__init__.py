"""The SQL library: one question per file, loaded by name.

`queries/reports/top_numbers.sql` is the query `reports.top_numbers`. Folders are namespaces:
`lake` (load-time transforms), `scope` (what the gate runs to derive a viewer's scope), `reports`
(the portal's questions, always scoped to a tenant and its visible lines), `analyst` (cross-tenant
aggregates, never a single line) and `checks` (invariants that must return no rows).
This package is plain text plus this loader: it imports neither the engine nor the app.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")
_PARAM = re.compile(r"(?<![$\w])\$([a-z_][a-z0-9_]*)")
_LINE_COMMENT = re.compile(r"--[^\n]*")
# A query whose header holds this line is ordered by time within each bill period and never across
# one (its rows of a period are all older than those of the next), so the gate may stream it one
# bill period at a time: each period is sorted alone instead of the whole range at once.
_BY_PERIOD = re.compile(r"^-- Streamed one bill period at a time\.", re.MULTILINE)


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


def streamed_by_period(sql: str) -> bool:
    """Whether the query says it may be streamed one bill period at a time (see _BY_PERIOD)."""
    return bool(_BY_PERIOD.search(sql))


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
