"""What the replay modules share: where the checkout is, the Dash routes it drives, time-outs and
the bench users' password."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPDATE = "/_dash-update-component"
START_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 120
EXPORT_FIRST_PAGE_ROWS = 1000  # "an export's first page": the header and this many rows
PASSWORD = "bench-" + "0123456789abcdef"  # noqa: S105 (throw-away users of a throw-away database)
PAGE_CONTENT = "_pages_content"
LOCATION = "_pages_location"
