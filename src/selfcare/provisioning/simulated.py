"""The `simulated` adapter: an embedded operator, faithful enough that failure paths are real.

It stands for an external system, so it keeps its own state in its own small SQLite file (never
the portal's database): its operator orders, keyed by the idempotency key so a retried submit
never creates a second one (also after the process died and the file is opened again), and its
own view of each line. The first time it hears of a line it takes the facts the submission
carries as its record; from then on its record rules, updated by the orders it completes, as a
real network's would.

An accepted order moves to `in_progress` after half the delay and completes after the whole
delay (`delay`, with a `clock` you may inject). It refuses what a real network would, at
submission and again at completion (another order may have changed the line in between):

- any change to a cancelled line, or to a suspended one other than resume, cancel or SIM swap;
- a PREPAID-only service on a postpaid line, a POSTPAID-only service on a prepaid line;
- adding a service the line already has, removing one it does not have, an unknown service;
- a plan of the wrong payment type, the plan the line is already on, an unknown plan;
- suspending a line that is not active, resuming one that is not suspended;
- a SIM swap to the SIM already in the line or to an ICCID in use on another line.

A `new_line` gets a number from the simulator's own range when it completes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from selfcare.orders import actions
from selfcare.orders.actions import ACTIVE, CANCELLED, SUSPENDED, Catalogue
from selfcare.provisioning.base import (
    Acknowledgement,
    OperatorState,
    OrderLine,
    ProvisioningError,
    StatusUpdate,
)

_SCHEMA = """
create table if not exists operator_orders (
    operator_ref text primary key,
    idempotency_key text not null unique,
    reference text not null,
    msisdn text,
    action text not null,
    params text not null,
    requested_on text not null,
    received_at text not null,
    state text not null,
    reason text,
    effective_on text
);
create table if not exists operator_lines (
    msisdn text primary key,
    payment text not null,
    plan_code text not null,
    status text not null,
    services text not null,
    iccid text,
    employee_id text
);
create table if not exists counters (
    name text primary key,
    value integer not null
);
"""

# A new line's number: this prefix and a counter (a range no generated estate uses).
NEW_NUMBER_PREFIX = "2799"
# Changes a suspended line still takes.
_ON_SUSPENDED = {"resume_line", "cancel_line", "sim_swap"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatedOperator:
    """An `Adapter` (selfcare.provisioning.base) backed by its own SQLite file."""

    name = "simulated"

    def __init__(
        self,
        path: str | Path,
        catalogue: Catalogue,
        delay: timedelta | float = timedelta(seconds=5),
        clock: Callable[[], datetime] = _utc_now,
    ):
        self.path = Path(path)
        self.catalogue = catalogue
        self.delay = delay if isinstance(delay, timedelta) else timedelta(seconds=float(delay))
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every change below is one explicit BEGIN IMMEDIATE ... COMMIT.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = full")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    # -- the Adapter interface ---------------------------------------------------------------

    def submit(self, lines: Sequence[OrderLine]) -> list[Acknowledgement]:
        """One acknowledgement per line; a key seen before answers its first order's."""
        return [self._submit_one(line) for line in lines]

    def status(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """The current state of each known operator reference (unknown ones are left out),
        after moving due orders on."""
        try:
            # One transaction for the whole poll; due orders are done in the order they arrived
            # (references are sequential), whatever the order of `refs`.
            with self._tx() as db:
                rows = {ref: self._advance(db, ref) for ref in sorted(set(refs))}
        except sqlite3.Error as e:
            raise ProvisioningError(f"simulated operator: {e}") from e
        return [_update(rows[ref]) for ref in refs if rows[ref] is not None]

    def close(self) -> None:
        self._db.close()

    # -- inside the operator -----------------------------------------------------------------

    def _tx(self):
        return _Transaction(self._db, self._lock)

    def _submit_one(self, line: OrderLine) -> Acknowledgement:
        try:
            with self._tx() as db:
                row = db.execute("select * from operator_orders where idempotency_key = ?",
                                 (line.idempotency_key,)).fetchone()
                if row is None:
                    if line.msisdn and line.line is not None:
                        self._learn(db, line.msisdn, line.line)
                    reason = self._refusal(db, line.action, line.params, line.msisdn)
                    ref = f"SIM-{self._next(db, 'order'):08d}"
                    db.execute(
                        "insert into operator_orders (operator_ref, idempotency_key, reference,"
                        " msisdn, action, params, requested_on, received_at, state, reason)"
                        " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (ref, line.idempotency_key, line.reference, line.msisdn, line.action,
                         json.dumps(dict(line.params), sort_keys=True),
                         line.requested_on.isoformat(), self.clock().isoformat(),
                         OperatorState.FAILED if reason else OperatorState.ACCEPTED, reason),
                    )
                    row = db.execute("select * from operator_orders where operator_ref = ?",
                                     (ref,)).fetchone()
        except sqlite3.Error as e:
            raise ProvisioningError(f"simulated operator: {e}") from e
        return Acknowledgement(row["idempotency_key"], row["operator_ref"],
                               OperatorState(row["state"]), row["reason"],
                               _date(row["effective_on"]))

    def _advance(self, db: sqlite3.Connection, ref: str) -> sqlite3.Row | None:
        row = db.execute("select * from operator_orders where operator_ref = ?",
                         (ref,)).fetchone()
        if row is None or row["state"] in (OperatorState.COMPLETED, OperatorState.FAILED):
            return row
        age = self.clock() - datetime.fromisoformat(row["received_at"])
        if age >= self.delay:
            self._finish(db, row)
        elif age >= self.delay / 2 and row["state"] == OperatorState.ACCEPTED:
            db.execute("update operator_orders set state = ? where operator_ref = ?",
                       (OperatorState.IN_PROGRESS, ref))
        return db.execute("select * from operator_orders where operator_ref = ?",
                          (ref,)).fetchone()

    def _finish(self, db: sqlite3.Connection, row: sqlite3.Row) -> None:
        params = json.loads(row["params"])
        reason = self._refusal(db, row["action"], params, row["msisdn"])
        if reason:
            db.execute("update operator_orders set state = ?, reason = ? where operator_ref = ?",
                       (OperatorState.FAILED, reason, row["operator_ref"]))
            return
        today = self.clock().date()
        msisdn = self._apply(db, row["action"], params, row["msisdn"])
        effective = actions.get(row["action"]).effective_from(today)
        db.execute(
            "update operator_orders set state = ?, effective_on = ?, msisdn = ?"
            " where operator_ref = ?",
            (OperatorState.COMPLETED, effective.isoformat(), msisdn, row["operator_ref"]),
        )

    def _learn(self, db, msisdn: str, facts: actions.LineFacts) -> None:
        db.execute(
            "insert or ignore into operator_lines (msisdn, payment, plan_code, status, services,"
            " iccid, employee_id) values (?, ?, ?, ?, ?, ?, ?)",
            (msisdn, facts.payment, facts.plan_code, facts.status,
             json.dumps(sorted(facts.services)), facts.iccid, facts.employee_id),
        )

    def line(self, msisdn: str) -> actions.LineFacts | None:
        """The simulator's record of a line (what the network has)."""
        row = self._db.execute("select * from operator_lines where msisdn = ?",
                               (msisdn,)).fetchone()
        return _facts(row) if row else None

    def _refusal(self, db, action: str, params, msisdn: str | None) -> str | None:
        cat = self.catalogue
        if action not in actions.ACTIONS:
            return f"the operator does not offer {action!r}"
        if action == "new_line":
            plan = cat.plans.get(params.get("plan_code", ""))
            return None if plan else f"unknown plan {params.get('plan_code')!r}"
        if not msisdn:
            return "no line number given"
        row = db.execute("select * from operator_lines where msisdn = ?", (msisdn,)).fetchone()
        if row is None:
            return f"line {msisdn} is not on this network"
        line = _facts(row)
        if line.status == CANCELLED:
            return f"line {msisdn} is cancelled"
        if line.status == SUSPENDED and action not in _ON_SUSPENDED:
            return f"line {msisdn} is suspended"
        payment = line.payment.lower()
        if action in ("add_service", "remove_service"):
            code = params.get("service_code", "")
            service = cat.services.get(code)
            if service is None:
                return f"unknown service {code!r}"
            if action == "add_service":
                if not service.fits(line.payment):
                    return (f"service {code} is for {service.payment.lower()} lines only;"
                            f" line {msisdn} is {payment}")
                if code in line.services:
                    return f"line {msisdn} already has {code}"
            elif code not in line.services:
                return f"line {msisdn} does not have {code}"
        elif action == "change_plan":
            code = params.get("plan_code", "")
            plan = cat.plans.get(code)
            if plan is None:
                return f"unknown plan {code!r}"
            if plan.payment != line.payment:
                return f"plan {code} is {plan.payment.lower()}; line {msisdn} is {payment}"
            if code == line.plan_code:
                return f"line {msisdn} is already on plan {code}"
        elif action == "suspend_line":
            if line.status != ACTIVE:
                return f"line {msisdn} is not active"
        elif action == "resume_line":
            if line.status != SUSPENDED:
                return f"line {msisdn} is not suspended"
        elif action == "sim_swap":
            iccid = params.get("iccid", "")
            if iccid == line.iccid:
                return f"SIM {iccid} is already in line {msisdn}"
            other = db.execute("select msisdn from operator_lines where iccid = ? and msisdn <> ?",
                               (iccid, msisdn)).fetchone()
            if other is not None:
                return f"SIM {iccid} is in use on another line"
        return None

    def _apply(self, db, action: str, params, msisdn: str | None) -> str | None:
        if action == "new_line":
            plan = self.catalogue.plans[params["plan_code"]]
            msisdn = f"{NEW_NUMBER_PREFIX}{self._next(db, 'number'):07d}"
            db.execute(
                "insert into operator_lines (msisdn, payment, plan_code, status, services,"
                " employee_id) values (?, ?, ?, ?, '[]', ?)",
                (msisdn, plan.payment, plan.code, ACTIVE, params["employee_id"]),
            )
            return msisdn
        line = _facts(db.execute("select * from operator_lines where msisdn = ?",
                                 (msisdn,)).fetchone())
        services, plan_code, status, iccid = set(line.services), line.plan_code, line.status, \
            line.iccid
        if action == "add_service":
            services.add(params["service_code"])
        elif action == "remove_service":
            services.discard(params["service_code"])
        elif action == "change_plan":
            plan_code = params["plan_code"]
        elif action == "suspend_line":
            status = SUSPENDED
        elif action == "resume_line":
            status = ACTIVE
        elif action == "cancel_line":
            status = CANCELLED
        elif action == "sim_swap":
            iccid = params["iccid"]
        db.execute(
            "update operator_lines set services = ?, plan_code = ?, status = ?, iccid = ?"
            " where msisdn = ?",
            (json.dumps(sorted(services)), plan_code, status, iccid, msisdn),
        )
        return msisdn

    @staticmethod
    def _next(db, name: str) -> int:
        db.execute("insert or ignore into counters (name, value) values (?, 0)", (name,))
        db.execute("update counters set value = value + 1 where name = ?", (name,))
        return db.execute("select value from counters where name = ?", (name,)).fetchone()[0]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), one thread at a time in this process;
    other processes wait on SQLite's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("begin immediate")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.db.execute("rollback" if exc_type else "commit")
        finally:
            self.lock.release()


def _facts(row: sqlite3.Row) -> actions.LineFacts:
    return actions.LineFacts(
        msisdn=row["msisdn"], payment=row["payment"], plan_code=row["plan_code"],
        status=row["status"], services=frozenset(json.loads(row["services"])),
        employee_id=row["employee_id"], iccid=row["iccid"],
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _update(row: sqlite3.Row) -> StatusUpdate:
    return StatusUpdate(
        operator_ref=row["operator_ref"], state=OperatorState(row["state"]),
        reason=row["reason"], effective_on=_date(row["effective_on"]),
        idempotency_key=row["idempotency_key"], msisdn=row["msisdn"],
    )
