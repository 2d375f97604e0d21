"""A small stand-in for Dash's renderer: from the server's callback map and layouts it fires the
callbacks a browser would when a user opens each page (and drills into a grid's first row),
recording every request with its reply."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.replay.constants import LOCATION, PAGE_CONTENT, UPDATE
from bench.replay.recording import Recorded, record

# --- a small stand-in for Dash's renderer ---------------------------------------------------------


def sid(id_: Any) -> str:
    """A component id as Dash writes it in callback keys (dict ids: sorted compact JSON)."""
    if isinstance(id_, dict):
        return json.dumps(id_, sort_keys=True, separators=(",", ":"))
    return str(id_)


@dataclass
class Cb:
    output: str
    outputs: Any
    out_keys: list[tuple[str, str]]
    inputs: list[dict[str, Any]]
    state: list[dict[str, Any]]
    prevent_initial: bool

    @property
    def first(self) -> str:
        return self.out_keys[0][0]

    def in_keys(self) -> list[tuple[str, str]]:
        return [(sid(d["id"]), d["property"]) for d in self.inputs]


def _wild(id_: Any) -> bool:
    return isinstance(id_, dict) and any(isinstance(v, list) for v in id_.values())


def _dep(d: dict[str, Any]) -> dict[str, Any]:
    """An input or state of the map with its id parsed (pattern ids arrive as JSON text)."""
    id_ = d["id"]
    if isinstance(id_, str) and id_.startswith("{"):
        id_ = json.loads(id_)
    return {"id": id_, "property": d["property"]}


def callbacks(deps: list[dict[str, Any]]) -> list[Cb]:
    """The server-side callbacks of the map (clientside ones never reach the server)."""
    found = []
    for d in deps:
        if d.get("clientside_function"):
            continue
        out = d["output"]
        parts = out[2:-2].split("...") if out.startswith("..") else [out]
        outs = []
        for part in parts:
            cid, prop = part.rsplit(".", 1)
            cid_v = json.loads(cid) if cid.startswith("{") else cid
            outs.append({"id": cid_v, "property": prop.split("@", 1)[0]})
        found.append(Cb(
            output=out,
            outputs=outs if out.startswith("..") else outs[0],
            out_keys=[(sid(o["id"]), o["property"]) for o in outs],
            inputs=[_dep(i) for i in d["inputs"]],
            state=[_dep(i) for i in d["state"]],
            prevent_initial=bool(d.get("prevent_initial_call")),
        ))  # fmt: skip
    return found


class Renderer:
    """Holds one browser tab's component props and fires callbacks as the renderer would."""

    def __init__(self, session: requests.Session, base: str, cbs: list[Cb], period: str,
                 page_slug: str, sink: list[Recorded]):  # fmt: skip
        self.s, self.base, self.cbs = session, base, cbs
        self.props: dict[tuple[str, str], Any] = {}
        self.present: set[str] = set()
        self.period, self.page, self.sink = period, page_slug, sink
        self.problems: list[str] = []

    # the component tree
    def absorb(self, node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                self.absorb(n)
            return
        if not isinstance(node, dict):
            return
        props = node.get("props")
        if isinstance(props, dict) and "type" in node:
            if "id" in props:
                key = sid(props["id"])
                self.present.add(key)
                for p, v in props.items():
                    if p != "children":
                        self.props[(key, p)] = v
            for v in props.values():
                if isinstance(v, (dict, list)):
                    self.absorb(v)

    def _value(self, d: dict[str, Any]) -> Any:
        if _wild(d["id"]):
            return []  # an ALL pattern matching no component on the page
        return self.props.get((sid(d["id"]), d["property"]))

    def ready(self, cb: Cb) -> bool:
        ins = [d for d in cb.inputs if not _wild(d["id"])]
        first = cb.outputs[0] if isinstance(cb.outputs, list) else cb.outputs
        return all(sid(d["id"]) in self.present for d in ins) and (
            cb.first in self.present or _wild(first["id"])
        )

    def fire(self, cb: Cb, changed: list[tuple[str, str]], kind: str | None = None) -> dict:
        def fill(deps: list[dict[str, Any]]) -> list[Any]:
            out = []
            for d in deps:
                v = self._value(d)
                out.append(v if _wild(d["id"]) else {**d, "value": v})
            return out

        body = {
            "output": cb.output,
            "outputs": cb.outputs,
            "inputs": fill(cb.inputs),
            "state": fill(cb.state),
            "changedPropIds": [f"{k}.{p}" for k, p in changed],
        }
        req = Recorded(kind or f"{self.page}: {cb.first}", self.period, "POST", UPDATE, body)
        data = record(self.s, self.base, req)
        status, problem = req.status, req.problem
        if problem:
            self.problems.append(f"{req.kind} [{self.period}]: {problem}")
        self.sink.append(req)
        if status != 200:
            return {}
        try:
            response = json.loads(data).get("response", {})
        except ValueError:
            return {}
        changed_out: dict[tuple[str, str], Any] = {}
        for cid, props in response.items():
            for p, v in props.items():
                self.props[(cid, p)] = v
                changed_out[(cid, p)] = v
                if p == "children":
                    self.absorb(v)
        return changed_out

    def initial(self, skip: Iterable[str] = ()) -> None:
        """Fire every callback whose inputs are on the page, producers before consumers (`skip`:
        callbacks that already ran in this tab, such as the shell's)."""
        done: set[str] = set(skip)
        while True:
            ready = [c for c in self.cbs if c.output not in done and not c.prevent_initial
                     and self.ready(c)]  # fmt: skip
            if not ready:
                return
            pending = {k for c in ready for k in c.out_keys}
            pick = next((c for c in ready if not _waits(c, pending)), ready[0])
            done.add(pick.output)
            self.fire(pick, [])

    def propagate(self, changed: dict[tuple[str, str], Any], fired: set[str], depth: int) -> None:
        if depth <= 0 or not changed:
            return
        for cb in self.cbs:
            hit = [k for k in cb.in_keys() if k in changed]
            if hit and cb.output not in fired and self.ready(cb):
                fired.add(cb.output)
                self.propagate(self.fire(cb, hit), fired, depth - 1)

    def interact(self) -> None:
        """What a user does next: pick the first option of an empty dropdown another callback
        filled (a line to itemise, a cost centre), and select the first row of each grid that
        drives a drill-down."""
        for cb in list(self.cbs):
            for key in cb.in_keys():
                cid, prop = key
                if cid not in self.present or cid.startswith(("app-", "_")):
                    continue
                options = self.props.get((cid, "options"))
                if prop == "value" and self.props.get(key) is None and options:
                    first = options[0]
                    self.props[key] = first.get("value") if isinstance(first, dict) else first
                    self.propagate({key: self.props[key]}, set(), 3)
                rows = self.props.get((cid, "rowData"))
                if prop == "selectedRows" and not self.props.get(key) and rows:
                    self.props[key] = [rows[0]]
                    self.propagate({key: self.props[key]}, set(), 3)


def _waits(cb: Cb, pending: set[tuple[str, str]]) -> bool:
    """Does `cb` read a prop that another pending callback will still set?"""
    others = pending - set(cb.out_keys)
    return any(k in others for k in cb.in_keys())


def periods_of(options: list[dict[str, Any]] | None, default: str | None) -> dict[str, tuple]:
    """The 1-month and 12-month windows ending at the shell's default bill period."""
    values = sorted(o["value"] for o in options or [])
    if not values or default is None:
        return {}
    end = values.index(default)
    return {"1m": (default, default), "12m": (values[max(0, end - 11)], default)}


def nav_pages(layout: Any) -> list[str]:
    """The page paths in the shell's navigation for this user (the profile's pages)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict):
                pid = props.get("id")
                if isinstance(pid, dict) and pid.get("type") == "app-nav":
                    found.append(str(pid["path"]))
                for v in props.values():
                    walk(v)

    walk(layout)
    return found


def record_user(base: str, s: requests.Session, deps: list[dict[str, Any]]) -> tuple[
        list[Recorded], list[str]]:  # fmt: skip
    """Open every page of the user's profile for each period window, as a browser does, and
    record each request with its reply; plus the first page of every export the pages link to.
    Returns (requests, problems)."""
    cbs = callbacks(deps)
    sink: list[Recorded] = []
    problems: list[str] = []
    layout_req = Recorded("shell: layout", "-", "GET", "/_dash-layout", None)
    data = record(s, base, layout_req)
    sink.append(layout_req)
    if layout_req.problem:
        return sink, [f"layout: {layout_req.problem}"]
    layout = json.loads(data)
    shell = Renderer(s, base, cbs, "-", "shell", sink)
    shell.absorb(layout)
    periods_cb = next(c for c in cbs if c.first == "app-period-from")
    shell.fire(periods_cb, [], kind="shell: bill periods")
    problems += shell.problems
    windows = periods_of(shell.props.get(("app-period-from", "options")),
                         shell.props.get(("app-period-from", "value")))  # fmt: skip
    page_cb = next((c for c in cbs if c.first == PAGE_CONTENT), None)
    for label, (first, last) in windows.items():
        for path in nav_pages(layout):
            slug = path.strip("/").replace("/", "-") or "home"
            tab = Renderer(s, base, cbs, label, slug, sink)
            tab.props, tab.present = dict(shell.props), set(shell.present)
            tab.props[("app-period-from", "value")] = first
            tab.props[("app-period-to", "value")] = last
            tab.props[(LOCATION, "pathname")] = path
            tab.props[(LOCATION, "search")] = ""
            tab.present.add(LOCATION)
            if page_cb is not None:
                tab.fire(page_cb, [(LOCATION, "pathname")], kind=f"{slug}: page layout")
            # in-app navigation: the shell (and its period choice) stays, only the page loads
            tab.initial(skip=[periods_cb.output])
            tab.interact()
            problems += tab.problems
    # the exports the pages link to, first page only, once each
    links: dict[tuple[str, str], Recorded] = {}
    for req in list(sink):
        if req.method != "POST" or req.status != 200:
            continue
        for href in _strings(json.loads(req.text)):
            if not href.startswith("/export/") or ".csv?" not in href:
                continue
            name = urlsplit(href).path.rsplit("/", 1)[-1]
            # one link per export and window (the first the pages show) keeps the pass short
            if (name, req.period) not in links:
                links[(name, req.period)] = Recorded(f"export: {name}", req.period, "GET", href,
                                                     None)  # fmt: skip
    for req in links.values():
        record(s, base, req)
        if req.problem:
            problems.append(f"{req.kind} {req.path}: {req.problem}")
        sink.append(req)
    # the same request twice (a page layout opened for both windows) is replayed once
    unique: dict[str, Recorded] = {}
    for req in sink:
        unique.setdefault(req.key(), req)
    return list(unique.values()), problems


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def replay_copy(req: Recorded) -> Recorded:
    """A request without its recorded text (the digest is what the replay compares)."""
    out = copy.copy(req)
    out.text = ""
    return out
