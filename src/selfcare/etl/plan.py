"""Plan a load: which files of the drop folder to read, of which kind, in which order.

The order comes from the data contract (`selfcare.contract.KINDS`, which lists every kind after
the kinds it refers to): reference files before facts, because a CDR needs its account's tenant
and the tenant's timezone; within a kind, oldest snapshot first. Files of no known kind come
first: refusing them costs nothing.
"""

from __future__ import annotations

from pathlib import Path

from selfcare.contract import KINDS, Kind, as_of_of, kind_of

# Reference files before facts, in the contract's order: a CDR needs its account's tenant and the
# tenant's timezone; a line's services need the service catalogue and the line register.
KIND_ORDER = tuple(k for k, kind in KINDS.items() if not kind.fact) + tuple(
    k for k, kind in KINDS.items() if kind.fact
)


def plan(drop: Path, today: str) -> list[tuple[Path, Kind | None]]:
    """The drop folder's files with their kinds (None: unknown), in load order; a reference file
    without a date in its name is dated `today`."""
    entries = [p for p in drop.iterdir() if p.is_file() and not p.name.startswith(".")]

    def order(p: Path) -> tuple:
        k = kind_of(p.name)
        rank = KIND_ORDER.index(k.name) if k else -1  # refusals first: they cost nothing
        return (rank, as_of_of(p.name) or today, p.name)

    return [(p, kind_of(p.name)) for p in sorted(entries, key=order)]


def unknown_kind(name: str) -> str:
    """Why a file of no known kind is refused."""
    lower = name.lower()
    return (
        "unknown kind: the name must start with one of " + ", ".join(KIND_ORDER)
        if lower.endswith((".csv", ".csv.gz"))
        else "not an export file (.csv or .csv.gz)"
    )
