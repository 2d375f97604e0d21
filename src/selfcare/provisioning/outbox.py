"""The `outbox` adapter: bulk-order CSV sheets out, the operator's response CSVs in.

Many operators' business desks take a bulk-order sheet by e-mail or SFTP and answer with a
sheet of results. This adapter writes one sheet per submitted batch into the outbox folder and
reads the desk's answers from the inbox folder (docs/operations.md has the formats):

- out: `orders-<UTC time>-<batch>.csv`, header `reference,idempotency_key,msisdn,action,
  parameters,requested_date` (parameters as `name=value` pairs joined by `;`). It is written to
  a hidden temporary file in the same folder, flushed to disk and renamed, so the desk never
  picks up half a sheet. A cell that a spreadsheet would take for a formula (`=`, `+`, `-`,
  `@`, tab, CR, LF first) is prefixed with `'`.
- in: any `*.csv` in the inbox, header `reference,msisdn,state,reason` and optionally
  `effective_date` (ISO date; a completed line without one takes effect on the day it is read).
  `state` is accepted, in_progress, completed or failed (failed needs a reason). A processed file
  is moved to `inbox/processed/`; its malformed lines are recorded (`problems()`, and a
  `inbox/rejected/<file>.errors.csv` beside the original line) and logged, never dropped
  silently. A file is known by its content's SHA-256: read again (dropped twice, or after a
  crash between recording and moving it), it changes nothing.

The adapter's own ledger (a small SQLite file, `state_path`) remembers every key it wrote, so a
retried submit never puts a line on a second sheet; a batch recorded but not yet written (a
crash between the two) is written on the next call. The operator-side reference of a line is
its idempotency key: the desk has no reference of its own until it answers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from selfcare.provisioning.base import (
    Acknowledgement,
    OperatorState,
    OrderLine,
    ProvisioningError,
    StatusUpdate,
)

log = logging.getLogger(__name__)

OUT_HEADER = ("reference", "idempotency_key", "msisdn", "action", "parameters", "requested_date")
IN_HEADER = ("reference", "msisdn", "state", "reason")
IN_OPTIONAL = ("effective_date",)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_RANK = {OperatorState.ACCEPTED: 0, OperatorState.IN_PROGRESS: 1,
         OperatorState.COMPLETED: 2, OperatorState.FAILED: 2}

_SCHEMA = """
create table if not exists batches (
    batch_id integer primary key,
    file_name text not null unique,
    created_at text not null,
    written integer not null default 0
);
create table if not exists sent_lines (
    idempotency_key text primary key,
    batch_id integer not null references batches (batch_id),
    position integer not null,
    reference text not null,
    msisdn text,
    action text not null,
    parameters text not null,
    requested_date text not null,
    state text not null,
    reason text,
    effective_on text,
    new_msisdn text
);
create table if not exists response_files (
    sha256 text primary key,
    file_name text not null,
    processed_at text not null,
    rows_applied integer not null,
    problems integer not null
);
create table if not exists problems (
    id integer primary key,
    file_name text not null,
    sha256 text not null,
    line_no integer not null,
    raw text not null,
    error text not null
);
"""


@dataclass(frozen=True)
class Problem:
    file_name: str
    line_no: int  # 1 = the header
    raw: str
    error: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def format_params(params) -> str:
    return ";".join(f"{k}={params[k]}" for k in sorted(params))


class Outbox:
    """An `Adapter` (selfcare.provisioning.base) that speaks in CSV files."""

    name = "outbox"

    def __init__(
        self,
        outbox_dir: str | Path,
        inbox_dir: str | Path,
        state_path: str | Path | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ):
        self.outbox_dir = Path(outbox_dir)
        self.inbox_dir = Path(inbox_dir)
        self.processed_dir = self.inbox_dir / "processed"
        self.rejected_dir = self.inbox_dir / "rejected"
        for d in (self.outbox_dir, self.inbox_dir, self.processed_dir, self.rejected_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.state_path = Path(state_path) if state_path else self.outbox_dir.with_name(
            self.outbox_dir.name + ".state.sqlite")
        self.clock = clock
        self._db = sqlite3.connect(self.state_path, isolation_level=None,
                                   check_same_thread=False, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("pragma journal_mode = wal")
        self._db.execute("pragma synchronous = full")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    # -- the Adapter interface ---------------------------------------------------------------

    def submit(self, lines: Sequence[OrderLine]) -> list[Acknowledgement]:
        """Write the lines not sent before as one sheet; acknowledge every line."""
        with self._lock:
            try:
                self._write_pending()
                batch = self._record_batch(_unique(lines))
                if batch is not None:
                    self._write_batch(batch)
                return [self._ack(ln.idempotency_key) for ln in lines]
            except (OSError, sqlite3.Error) as e:
                raise ProvisioningError(f"outbox: {e}") from e

    def status(self, refs: Sequence[str]) -> list[StatusUpdate]:
        """Read the inbox, then the current state of each known reference."""
        with self._lock:
            try:
                self.read_inbox()
            except (OSError, sqlite3.Error) as e:
                raise ProvisioningError(f"outbox: {e}") from e
            out = []
            for ref in refs:
                row = self._sent(ref)
                if row is not None:
                    out.append(StatusUpdate(
                        operator_ref=ref, state=OperatorState(row["state"]),
                        reason=row["reason"], effective_on=_date(row["effective_on"]),
                        idempotency_key=ref, msisdn=row["new_msisdn"] or row["msisdn"]))
            return out

    def close(self) -> None:
        self._db.close()

    def problems(self) -> list[Problem]:
        """Every malformed response line read so far, oldest first."""
        return [Problem(r["file_name"], r["line_no"], r["raw"], r["error"])
                for r in self._db.execute("select * from problems order by id")]

    # -- sheets out --------------------------------------------------------------------------

    def _sent(self, key: str) -> sqlite3.Row | None:
        return self._db.execute("select * from sent_lines where idempotency_key = ?",
                                (key,)).fetchone()

    def _ack(self, key: str) -> Acknowledgement:
        row = self._sent(key)
        return Acknowledgement(key, key, OperatorState(row["state"]), row["reason"],
                               _date(row["effective_on"]))

    def _record_batch(self, lines: list[OrderLine]) -> int | None:
        """Record the lines not sent before as a new batch (None: every line was sent)."""
        now = self.clock()
        db = self._db
        db.execute("begin immediate")
        try:
            # Checked inside the write lock: another worker may have recorded them meanwhile.
            lines = [ln for ln in lines if self._sent(ln.idempotency_key) is None]
            if not lines:
                db.execute("rollback")
                return None
            batch_id = db.execute("select coalesce(max(batch_id), 0) + 1 from batches"
                                  ).fetchone()[0]
            name = f"orders-{now.strftime('%Y%m%dT%H%M%SZ')}-{batch_id:06d}.csv"
            db.execute("insert into batches (batch_id, file_name, created_at) values (?, ?, ?)",
                       (batch_id, name, now.isoformat()))
            for i, ln in enumerate(lines):
                db.execute(
                    "insert into sent_lines (idempotency_key, batch_id, position, reference,"
                    " msisdn, action, parameters, requested_date, state)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (ln.idempotency_key, batch_id, i, ln.reference, ln.msisdn, ln.action,
                     format_params(ln.params), ln.requested_on.isoformat(),
                     OperatorState.ACCEPTED),
                )
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        return batch_id

    def _write_pending(self) -> None:
        for row in self._db.execute("select batch_id from batches where written = 0").fetchall():
            self._write_batch(row["batch_id"])

    def _write_batch(self, batch_id: int) -> None:
        """Write a recorded batch's sheet unless it was written; under the ledger's write lock,
        so two workers never write the same sheet (the desk might take the first meanwhile)."""
        db = self._db
        db.execute("begin immediate")
        try:
            batch = db.execute("select * from batches where batch_id = ?",
                               (batch_id,)).fetchone()
            target = self.outbox_dir / batch["file_name"]
            # A sheet on disk but not marked: we died between the rename and the mark.
            if not batch["written"] and not target.exists():
                rows = db.execute(
                    "select * from sent_lines where batch_id = ? order by position", (batch_id,)
                ).fetchall()
                buf = io.StringIO()
                w = csv.writer(buf)
                w.writerow(OUT_HEADER)
                for r in rows:
                    w.writerow([safe_cell(r[c] or "") for c in
                                ("reference", "idempotency_key", "msisdn", "action",
                                 "parameters", "requested_date")])
                tmp = self.outbox_dir / f".{batch['file_name']}.tmp"
                with open(tmp, "w", encoding="utf-8", newline="") as f:
                    f.write(buf.getvalue())
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, target)
            db.execute("update batches set written = 1 where batch_id = ?", (batch_id,))
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise

    # -- answers in --------------------------------------------------------------------------

    def read_inbox(self) -> int:
        """Apply every response file in the inbox once; the number of lines applied."""
        applied = 0
        with self._lock:
            for path in sorted(self.inbox_dir.glob("*.csv")):
                applied += self._read_file(path)
        return applied

    def _read_file(self, path: Path) -> int:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # another worker took it
            return 0
        sha = hashlib.sha256(data).hexdigest()
        db = self._db
        problems: list[Problem] = []
        applied = 0
        db.execute("begin immediate")
        try:
            # Checked inside the write lock: another worker may have applied it meanwhile.
            seen = db.execute("select 1 from response_files where sha256 = ?",
                              (sha,)).fetchone()
        except BaseException:
            db.execute("rollback")
            raise
        if seen:
            db.execute("rollback")
            log.info("outbox: %s was read before; moved aside unchanged", path.name)
            _move_aside(path, self.processed_dir)
            return 0
        try:
            applied = self._apply_rows(path.name, data, problems)
            for p in problems:
                db.execute("insert into problems (file_name, sha256, line_no, raw, error)"
                           " values (?, ?, ?, ?, ?)", (p.file_name, sha, p.line_no, p.raw,
                                                       p.error))
            db.execute("insert into response_files (sha256, file_name, processed_at,"
                       " rows_applied, problems) values (?, ?, ?, ?, ?)",
                       (sha, path.name, self.clock().isoformat(), applied, len(problems)))
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        if problems:
            for p in problems:
                log.warning("outbox: %s line %d: %s", p.file_name, p.line_no, p.error)
            _write_errors(self.rejected_dir / f"{path.stem}.errors.csv", problems)
        _move_aside(path, self.processed_dir)
        return applied

    def _apply_rows(self, name: str, data: bytes, problems: list[Problem]) -> int:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            problems.append(Problem(name, 1, "", f"not UTF-8 text: {e}"))
            return 0
        raw_lines = text.splitlines()
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip().lower() for h in next(reader)]
        except (StopIteration, csv.Error):
            problems.append(Problem(name, 1, raw_lines[0] if raw_lines else "",
                                    "no header: expected " + ",".join(IN_HEADER)))
            return 0
        missing = [h for h in IN_HEADER if h not in header]
        if missing:
            problems.append(Problem(name, 1, raw_lines[0] if raw_lines else "",
                                    "header lacks " + ", ".join(missing)))
            return 0
        index = {h: header.index(h) for h in (*IN_HEADER, *IN_OPTIONAL) if h in header}
        applied = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                line_no = reader.line_num
                problems.append(Problem(name, line_no, _raw(raw_lines, line_no), f"bad CSV: {e}"))
                continue
            line_no = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            error = self._apply_row(cells, header, index)
            if error:
                problems.append(Problem(name, line_no, _raw(raw_lines, line_no), error))
            else:
                applied += 1
        return applied

    def _apply_row(self, cells: list[str], header: list[str], index: dict[str, int]) -> str | None:
        if len(cells) != len(header):
            return f"{len(cells)} fields, the header has {len(header)}"

        def cell(name: str) -> str:
            return cells[index[name]].strip() if name in index else ""

        reference, msisdn = cell("reference").lstrip("'"), cell("msisdn").lstrip("'")
        reason = cell("reason") or None
        try:
            state = OperatorState(cell("state").lower())
        except ValueError:
            return f"state: {cell('state')!r} is not one of " + ", ".join(OperatorState)
        if not reference:
            return "reference: is required"
        if state is OperatorState.FAILED and not reason:
            return "reason: a failed line needs a reason"
        effective = None
        if cell("effective_date"):
            try:
                effective = date.fromisoformat(cell("effective_date"))
            except ValueError:
                return f"effective_date: {cell('effective_date')!r} is not a date (YYYY-MM-DD)"
        row = self._match(reference, msisdn)
        if row is None:
            return f"no submitted line matches reference {reference!r} and msisdn {msisdn!r}"
        current = OperatorState(row["state"])
        if _RANK[state] < _RANK[current] or (
            _RANK[current] == 2 and state is not current
        ):
            return f"line is already {current.value}; {state.value} ignored"
        if state is current:
            return None  # no news (an answer repeated in a later sheet)
        if state is OperatorState.COMPLETED and effective is None:
            effective = self.clock().date()
        new_msisdn = msisdn if not row["msisdn"] else None
        self._db.execute(
            "update sent_lines set state = ?, reason = ?, effective_on = ?,"
            " new_msisdn = coalesce(?, new_msisdn) where idempotency_key = ?",
            (state, reason, effective.isoformat() if effective else None, new_msisdn or None,
             row["idempotency_key"]),
        )
        return None

    def _match(self, reference: str, msisdn: str) -> sqlite3.Row | None:
        db = self._db
        if msisdn:
            row = db.execute("select * from sent_lines where reference = ? and msisdn = ?",
                             (reference, msisdn)).fetchone()
            if row is not None:
                return row
        # A new line has no number when ordered: the desk answers with the number it gave.
        rows = db.execute("select * from sent_lines where reference = ? and"
                          " coalesce(msisdn, '') = ''", (reference,)).fetchall()
        return rows[0] if len(rows) == 1 else None


def _unique(lines: Sequence[OrderLine]) -> list[OrderLine]:
    seen: set[str] = set()
    out = []
    for ln in lines:
        if ln.idempotency_key not in seen:
            seen.add(ln.idempotency_key)
            out.append(ln)
    return out


def _raw(raw_lines: list[str], line_no: int) -> str:
    return raw_lines[line_no - 1] if 0 < line_no <= len(raw_lines) else ""


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _move_aside(path: Path, folder: Path) -> None:
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another worker moved it first
        pass


def _write_errors(path: Path, problems: list[Problem]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(("line", "error", "original"))
    for p in problems:
        w.writerow((p.line_no, p.error, safe_cell(p.raw)))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
