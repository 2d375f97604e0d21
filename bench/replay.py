"""What the server benchmarks share: the real server in a subprocess, a throw-away portal database
with bench users of every profile, each user's expected scope computed independently from the
lake's Parquet files, a leak detector, and a small stand-in for Dash's renderer that records the
callback requests a browser sends when it opens each page (and drills into a grid's first row).

The renderer works from the server's own callback map (`/_dash-dependencies`) and the layouts it
serves (`/_dash-layout`, the page container's callback), so a page or callback added later is
replayed too, with the values the page itself starts with. The expected scope comes from DuckDB on
the files the manifest lists (`dim_employee` manager chains, `dim_line`, the fact tables), never
through `selfcare.gate`, so a gate bug shows up as a leak here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import requests

ROOT = Path(__file__).resolve().parents[1]
UPDATE = "/_dash-update-component"
START_TIMEOUT_S = 120
REQUEST_TIMEOUT_S = 120
EXPORT_FIRST_PAGE_ROWS = 1000  # "an export's first page": the header and this many rows
PASSWORD = "bench-" + "0123456789abcdef"  # noqa: S105 (throw-away users of a throw-away database)
PAGE_CONTENT = "_pages_content"
LOCATION = "_pages_location"
# Placeholders the model views put where a line has no employee or cost centre: never a leak.
PLACEHOLDERS = frozenset({"UNASSIGNED", "UNKNOWN", "ACCOUNT_LEVEL"})
DIGITS = re.compile(r"(?<![0-9])[0-9]{6,16}(?![0-9])")
IDS = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_threads() -> int:
    from selfcare.web.serve import THREADS

    return THREADS


@dataclass
class Server:
    base: str
    proc: subprocess.Popen
    log: Path
    threads: int

    def tree_rss(self) -> int:
        """Resident memory of the server process and its descendants, in bytes (0 if gone)."""
        return sum(_rss(pid) for pid in _tree(self.proc.pid))

    def hwm(self) -> int:
        """The kernel's peak resident memory of the server process itself, in bytes."""
        return _status_kib(self.proc.pid, "VmHWM") * 1024


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rss(pid: int) -> int:
    return _status_kib(pid, "VmRSS") * 1024


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    return found


class MemorySampler:
    """Samples the server tree's RSS every `interval` seconds in a thread; keeps the peak."""

    def __init__(self, server: Server, interval: float = 0.2):
        self.server, self.interval = server, interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.tree_rss())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def running_server(
    lake: Path, db: Path, work: Path, threads: int | None = None
) -> Iterator[Server]:
    """`selfcare serve` (waitress) on a free loopback port over `lake` and `db`; stopped on exit.

    `threads` sets waitress's thread count for this run (default: what `selfcare serve` ships).
    """
    threads = int(threads or default_threads())
    port = free_port()
    env = dict(os.environ, SELFCARE_LAKE=str(lake), SELFCARE_DB=str(db), SELFCARE_ENV="production")
    # A session key generated beside the throw-away database; plain http on loopback.
    for key in ("SELFCARE_SECRET_KEY", "SELFCARE_HTTPS", "SELFCARE_PROXY_HOPS"):
        env.pop(key, None)
    log = work / f"server-{port}.log"
    # The same entry point as `selfcare serve`, with only waitress's thread count set for the run.
    launcher = (
        "import sys, selfcare.web.serve as s; s.THREADS = int(sys.argv[1]); "
        "from selfcare.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    cmd = [sys.executable, "-c", launcher, str(threads), "serve", "--host", "127.0.0.1",
           "--port", str(port), "--lake", str(lake), "--db", str(db)]  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log, threads)
    try:
        _wait_until_up(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            tail = server.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"the server exited ({server.proc.returncode}): {' | '.join(tail)}")
        try:
            if requests.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_S} s")


def sign_in(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{base}/login", data={"email": email, "password": password},
               allow_redirects=False, timeout=REQUEST_TIMEOUT_S)  # fmt: skip
    if r.status_code != 303:
        raise RuntimeError(f"bench sign-in of {email} failed: HTTP {r.status_code}")
    return s


# --- the lake, read directly ------------------------------------------------------------------


def lake_connection(lake: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the Parquet files the manifest lists (the published lake, nothing else).

    Partition values stay text (`hive_types_autocast = false`): a tenant folder `007` is '007'.
    """
    manifest = json.loads((lake / "manifest.json").read_text())
    con = duckdb.connect(":memory:")
    con.execute("set threads = 2")
    # the machine is shared with the server under test: spill rather than crowd it out
    con.execute("set memory_limit = '2GB'")
    for table in ("dim_tenant", "dim_employee", "dim_cost_centre", "dim_line", "fct_cdr",
                  "fct_billing"):  # fmt: skip
        files = [str(lake / f) for f in manifest["tables"][table]["files"]]
        if files:
            # a view cannot take parameters: the paths are quoted as SQL literals
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(
                f"create view {table} as select * from read_parquet([{listed}], "
                "hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"
            )
        else:  # no files: an empty view with the columns the queries below use
            cols = {"fct_cdr": "msisdn, other_party, tenant_id", "fct_billing": "msisdn, tenant_id"}
            names = cols.get(table, "tenant_id")
            con.execute(
                f"create view {table} as select "
                + ", ".join(f"null::varchar as {c.strip()}" for c in names.split(","))
                + " where false"
            )
    return con


@dataclass(frozen=True)
class BenchUser:
    email: str
    role: str
    tenant_id: str | None
    employee_id: str | None
    label: str  # e.g. "manager-2 (T01, 37 lines)"
    password: str = PASSWORD


def _chain_lines(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int]]:
    """(tenant, employee, lines in their chain, direct reports) for every employee."""
    return con.execute(
        """
        with recursive chain as (
            select tenant_id, employee_id as top, employee_id, 0 as depth from dim_employee
            union
            select e.tenant_id, c.top, e.employee_id, c.depth + 1
            from dim_employee as e
            join chain as c on e.manager_employee_id = c.employee_id and e.tenant_id = c.tenant_id
            where c.depth < 64
        ),
        reports as (
            select tenant_id, manager_employee_id as employee_id, count(*) as n
            from dim_employee where manager_employee_id is not null group by all
        )
        select c.tenant_id, c.top, count(distinct l.msisdn) as lines,
               coalesce(any_value(r.n), 0) as direct
        from chain as c
        left join dim_line as l on l.employee_id = c.employee_id and l.tenant_id = c.tenant_id
        left join reports as r on r.employee_id = c.top and r.tenant_id = c.tenant_id
        group by c.tenant_id, c.top
        order by c.tenant_id, c.top
        """
    ).fetchall()


def _spread(items: list[Any], k: int) -> list[Any]:
    """`k` items spread evenly over a sorted list (smallest to largest)."""
    if k <= 0 or not items:
        return []
    if k >= len(items):
        return list(items)
    return [items[round(i * (len(items) - 1) / max(k - 1, 1))] for i in range(k)]


def profile_mix(users: int) -> dict[str, int]:
    """How many bench users of each profile: every profile at least once (from 5 users), the rest
    mostly managers and end users, the profiles most people have."""
    base = ["admin", "finance", "manager", "end_user", "analyst"]
    extra = ["manager", "end_user", "finance", "manager", "end_user", "end_user", "admin"]
    mix = dict.fromkeys(base, 0)
    for i in range(users):
        role = base[i] if i < len(base) else extra[(i - len(base)) % len(extra)]
        mix[role] += 1
    return mix


def pick_users(con: duckdb.DuckDBPyConnection, users: int) -> list[BenchUser]:
    """Bench users of every profile, chosen from the lake's HR data: managers spread from small to
    large chains (across tenants), end users with lines, admin and finance round-robin over the
    tenants, one analyst."""
    tenants = [r[0] for r in con.execute("select distinct tenant_id from dim_tenant order by 1")
               .fetchall()]  # fmt: skip
    if not tenants:
        raise RuntimeError("the lake has no tenants")
    rows = _chain_lines(con)
    managers = sorted((r for r in rows if r[3] > 0 and r[2] > 0), key=lambda r: (r[2], r[1]))
    leaves = sorted((r for r in rows if r[3] == 0 and r[2] > 0), key=lambda r: (r[0], r[1]))
    mix = profile_mix(users)
    picked: list[BenchUser] = []
    for i in range(mix["admin"]):
        t = tenants[i % len(tenants)]
        picked.append(BenchUser(f"admin{i}@bench.invalid", "admin", t, None, f"admin-{i} ({t})"))
    for i in range(mix["finance"]):
        t = tenants[(i + 1) % len(tenants)] if len(tenants) > 1 and i else tenants[0]
        picked.append(
            BenchUser(f"finance{i}@bench.invalid", "finance", t, None, f"finance-{i} ({t})")
        )
    for i, (t, e, n, _) in enumerate(_spread(managers, mix["manager"])):
        picked.append(BenchUser(f"manager{i}@bench.invalid", "manager", t, e,
                                f"manager-{i} ({t} {e}, {n} lines)"))  # fmt: skip
    # end users: spread over the tenants and the employee list
    for i, (t, e, n, _) in enumerate(_spread(leaves, mix["end_user"])):
        picked.append(BenchUser(f"enduser{i}@bench.invalid", "end_user", t, e,
                                f"end_user-{i} ({t} {e}, {n} lines)"))  # fmt: skip
    for i in range(mix["analyst"]):
        picked.append(BenchUser(f"analyst{i}@bench.invalid", "analyst", None, None, f"analyst-{i}"))
    return picked


def create_portal_db(db: Path, people: Iterable[BenchUser]) -> None:
    """A fresh portal database holding the bench users (the services' real API)."""
    from selfcare.services import schema, users

    schema.close(db)
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    schema.ensure_ready(db)
    for p in people:
        users.add_user(db, email=p.email, role=p.role, tenant_id=p.tenant_id,
                       employee_id=p.employee_id, password=p.password)  # fmt: skip


# --- expected scope -------------------------------------------------------------------------


@dataclass
class Universe:
    """Every line, employee, cost centre and tenant id in the lake, with what links them."""

    msisdns: frozenset[str]
    employees: frozenset[str]
    cost_centres: frozenset[str]
    tenants: frozenset[str]
    msisdn_tenant: dict[str, str]
    employee_tenant: dict[str, str]
    cc_tenant: dict[str, str]
    cc_parent: dict[str, str | None]
    employee_cc: dict[str, str | None]
    manager_of: dict[str, str | None]
    line_employee: dict[str, str | None]


@dataclass
class Fence:
    """What one bench user may see (sets of ids); everything else of the universe is a leak."""

    user: BenchUser
    msisdns: set[str]  # the lines of the scope
    employees: set[str]
    cost_centres: set[str]
    tenants: set[str]
    visible_msisdns: set[str] = field(default_factory=set)  # + numbers those lines talked to

    def describe(self) -> dict[str, int]:
        return {"lines": len(self.msisdns), "employees": len(self.employees),
                "cost_centres": len(self.cost_centres)}  # fmt: skip


def read_universe(con: duckdb.DuckDBPyConnection) -> Universe:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    msisdn_tenant: dict[str, str] = {}
    for m, t in rows(
        "select distinct msisdn, tenant_id from dim_line union "
        "select distinct msisdn, tenant_id from fct_billing where msisdn is not null union "
        "select distinct msisdn, tenant_id from fct_cdr where msisdn is not null"
    ):
        msisdn_tenant[str(m)] = str(t)
    emp = rows("select employee_id, tenant_id, manager_employee_id, cost_centre_id "
               "from dim_employee")  # fmt: skip
    ccs = rows("select cost_centre_id, tenant_id, parent_cost_centre_id from dim_cost_centre")
    return Universe(
        msisdns=frozenset(msisdn_tenant),
        employees=frozenset(str(e[0]) for e in emp),
        cost_centres=frozenset(str(c[0]) for c in ccs),
        tenants=frozenset(str(r[0]) for r in rows("select tenant_id from dim_tenant")),
        msisdn_tenant=msisdn_tenant,
        employee_tenant={str(e[0]): str(e[1]) for e in emp},
        cc_tenant={str(c[0]): str(c[1]) for c in ccs},
        cc_parent={str(c[0]): c[2] for c in ccs},
        employee_cc={str(e[0]): e[3] for e in emp},
        manager_of={str(e[0]): e[2] for e in emp},
        line_employee={str(m): e for m, e in rows("select msisdn, employee_id from dim_line")},
    )


def fence_for(u: Universe, user: BenchUser) -> Fence:
    """The user's expected scope from the HR feed and the line register (all chain levels)."""
    if user.role == "analyst":
        return Fence(user, set(), set(), set(), set(), set())
    t = user.tenant_id
    if user.role in ("admin", "finance"):
        msisdns = {m for m, mt in u.msisdn_tenant.items() if mt == t}
        employees = {e for e, et in u.employee_tenant.items() if et == t}
        ccs = {c for c, ct in u.cc_tenant.items() if ct == t}
    else:
        employees = {user.employee_id} if user.employee_id else set()
        if user.role == "manager":
            below: dict[str, list[str]] = {}
            for e, m in u.manager_of.items():
                if m and u.employee_tenant[e] == t:
                    below.setdefault(m, []).append(e)
            todo = list(employees)
            while todo:
                for e in below.get(todo.pop(), []):
                    if e not in employees:
                        employees.add(e)
                        todo.append(e)
        msisdns = {m for m, e in u.line_employee.items() if e in employees
                   and u.msisdn_tenant.get(m) == t}  # fmt: skip
        # the cost centres of the people in scope, with their ancestors (a tree's path to them)
        ccs = set()
        for e in employees:
            c = u.employee_cc.get(e)
            while c and c not in ccs:
                ccs.add(c)
                c = u.cc_parent.get(c)
    return Fence(user, msisdns, employees, ccs, {t} if t else set(), set(msisdns))


def add_called_lines(con: duckdb.DuckDBPyConnection, fences: Iterable[Fence], u: Universe) -> None:
    """Let each fence also see the known lines its own lines talked to: a called number shows on
    the caller's pages (top numbers, itemised records) even when it is someone else's line.

    One scan of the CDRs joined to every fence's lines, in DuckDB: at 100 M rows the pairs of
    talking lines are far too many to hold in Python.
    """
    fences = list(fences)
    pairs = [(i, m) for i, f in enumerate(fences) for m in f.msisdns]
    if not pairs:
        return
    scope = pa.table({"fence": [i for i, _ in pairs], "msisdn": [m for _, m in pairs]})
    known = pa.table({"msisdn": sorted(u.msisdns)})
    con.register("bench_scope", scope)
    con.register("bench_known", known)
    rows = con.execute(
        "select distinct s.fence, c.other_party from fct_cdr as c "
        "join bench_scope as s on s.msisdn = c.msisdn "
        "where c.other_party in (select msisdn from bench_known)"
    ).fetchall()
    for i, other in rows:
        fences[i].visible_msisdns.add(str(other))
    con.unregister("bench_scope")
    con.unregister("bench_known")


def leaks_in(text: str, fence: Fence, u: Universe) -> list[str]:
    """Every id in `text` that belongs to the lake but lies outside the user's fence."""
    found: list[str] = []
    for m in set(DIGITS.findall(text)) & u.msisdns:
        if m not in fence.visible_msisdns:
            found.append(f"line {m} (tenant {u.msisdn_tenant[m]})")
    tokens = set(IDS.findall(text)) - PLACEHOLDERS
    for e in tokens & u.employees:
        if e not in fence.employees:
            found.append(f"employee {e} (tenant {u.employee_tenant[e]})")
    for c in tokens & u.cost_centres:
        if c not in fence.cost_centres:
            found.append(f"cost centre {c} (tenant {u.cc_tenant[c]})")
    if fence.user.role != "analyst":
        for t in tokens & u.tenants:
            if t not in fence.tenants:
                found.append(f"tenant {t}")
    return sorted(found)


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
