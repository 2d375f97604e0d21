"""A recorded request with its reply from the sequential pass, and how requests are sent again
(callbacks in full, exports only as far as their first page)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import requests

from bench.replay.constants import EXPORT_FIRST_PAGE_ROWS, REQUEST_TIMEOUT_S

# --- recorded requests --------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request of a user's replay list with its reply from the sequential pass."""

    kind: str  # e.g. "overview: overview-kpis" or "export: lines.csv"
    period: str  # "1m" | "12m" | "-"
    method: str  # "POST" (a callback) | "GET" (an export's first page, the layout)
    path: str
    body: dict[str, Any] | None
    status: int = 0
    digest: str = ""
    size: int = 0
    text: str = ""  # kept only until the leak check of the sequential pass
    problem: str = ""  # why the sequential reply was an error ("" if it was not)
    elapsed: float = 0.0  # seconds the sequential request took (one request at a time)

    def key(self) -> str:
        return self.method + " " + self.path + " " + json.dumps(self.body, sort_keys=True)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record(s: requests.Session, base: str, req: Recorded) -> bytes:
    """Make the request of the sequential pass and keep its reply, digest and timing on `req`."""
    t0 = time.perf_counter()
    status, data, problem = fetch(s, base, req)
    req.elapsed = time.perf_counter() - t0
    req.status, req.digest, req.size = status, digest(data), len(data)
    req.text, req.problem = data.decode("utf-8", errors="replace"), problem
    return data


def fetch(s: requests.Session, base: str, req: Recorded) -> tuple[int, bytes, str]:
    """Make one request; (status, the reply bytes compared across passes, problem or "")."""
    if req.method == "POST":
        r = s.post(base + req.path, json=req.body, timeout=REQUEST_TIMEOUT_S)
        data = r.content
        if r.status_code != 200:
            return r.status_code, data, f"HTTP {r.status_code}"
        if b"state-error" in data:
            return r.status_code, data, "error state in the reply"
        try:
            json.loads(data)
        except ValueError:
            return r.status_code, data, "reply is not JSON"
        return 200, data, ""
    if req.path.startswith("/export/"):
        return _first_page(s, base + req.path)
    r = s.get(base + req.path, timeout=REQUEST_TIMEOUT_S)
    return r.status_code, r.content, "" if r.status_code == 200 else f"HTTP {r.status_code}"


def _first_page(s: requests.Session, url: str) -> tuple[int, bytes, str]:
    """The header and the first EXPORT_FIRST_PAGE_ROWS lines of a CSV export, then hang up."""
    with s.get(url, stream=True, timeout=REQUEST_TIMEOUT_S) as r:
        if r.status_code != 200:
            return r.status_code, r.content, f"HTTP {r.status_code}"
        if not r.headers.get("Content-Type", "").startswith("text/csv"):
            return r.status_code, r.content, "not a CSV reply"
        buf = bytearray()
        for chunk in r.iter_content(chunk_size=65536):
            buf.extend(chunk)
            if buf.count(b"\r\n") > EXPORT_FIRST_PAGE_ROWS:
                break
        lines = bytes(buf).split(b"\r\n")
        return 200, b"\r\n".join(lines[: EXPORT_FIRST_PAGE_ROWS + 1]), ""


