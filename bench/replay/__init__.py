"""What the server benchmarks share: the real server in a subprocess, a throw-away portal database
with bench users of every profile, each user's expected scope computed independently from the
lake's Parquet files, a leak detector, and a small stand-in for Dash's renderer that records the
callback requests a browser sends when it opens each page (and drills into a grid's first row).

The renderer works from the server's own callback map (`/_dash-dependencies`) and the layouts it
serves (`/_dash-layout`, the page container's callback), so a page or callback added later is
replayed too, with the values the page itself starts with. The expected scope comes from DuckDB on
the files the manifest lists (`dim_employee` manager chains, `dim_line`, the fact tables), never
through `selfcare.gate`, so a gate bug shows up as a leak here.

One module per part, re-exported here (callers use `from bench import replay`):
`server` (the subprocess, its memory, sign-in), `people` (bench users and their portal database),
`scope` (expected scope and leaks), `recording` (a recorded request, sending it again) and
`renderer` (the stand-in for Dash's renderer that records a user's requests).
"""

from bench.replay.constants import (
    EXPORT_FIRST_PAGE_ROWS,
    LOCATION,
    PAGE_CONTENT,
    PASSWORD,
    REQUEST_TIMEOUT_S,
    ROOT,
    START_TIMEOUT_S,
    UPDATE,
)
from bench.replay.people import (
    BenchUser,
    create_portal_db,
    lake_connection,
    pick_users,
    profile_mix,
)
from bench.replay.recording import Recorded, digest, fetch, record
from bench.replay.renderer import (
    Cb,
    Renderer,
    callbacks,
    nav_pages,
    periods_of,
    record_user,
    replay_copy,
    sid,
)
from bench.replay.scope import (
    DIGITS,
    IDS,
    PLACEHOLDERS,
    Fence,
    Universe,
    add_called_lines,
    fence_for,
    leaks_in,
    read_universe,
)
from bench.replay.server import (
    MemorySampler,
    Server,
    default_threads,
    free_port,
    running_server,
    sign_in,
)

__all__ = [
    "DIGITS",
    "EXPORT_FIRST_PAGE_ROWS",
    "IDS",
    "LOCATION",
    "PAGE_CONTENT",
    "PASSWORD",
    "PLACEHOLDERS",
    "REQUEST_TIMEOUT_S",
    "ROOT",
    "START_TIMEOUT_S",
    "UPDATE",
    "BenchUser",
    "Cb",
    "Fence",
    "MemorySampler",
    "Recorded",
    "Renderer",
    "Server",
    "Universe",
    "add_called_lines",
    "callbacks",
    "create_portal_db",
    "default_threads",
    "digest",
    "fence_for",
    "fetch",
    "free_port",
    "lake_connection",
    "leaks_in",
    "nav_pages",
    "periods_of",
    "pick_users",
    "profile_mix",
    "read_universe",
    "record",
    "record_user",
    "replay_copy",
    "running_server",
    "sid",
    "sign_in",
]
