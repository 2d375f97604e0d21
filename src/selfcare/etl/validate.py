"""Checks on export files: the structural check of a whole file and the per-row SQL checks.

`inspect_file` reads a file once (sha256, gzip, UTF-8, header, line count) and raises `Refused`
with a one-line reason for a fault that makes the whole file unusable. `stage_select` builds the
DuckDB SELECT that reads a file with the pinned dialect and turns every row into typed columns plus
a `reason` (NULL for a good row) naming the first fault, e.g. `charge: not a decimal: 'abc'`.
`fast_ok` is a cheaper, stricter test of a good row for the loader's fast path: a row it passes
would pass every check of `stage_select` with the same values. The rules come from
selfcare.contract (types, required, enums and cross-references to other reference kinds);
nothing here repeats its column lists.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from selfcare.contract import Column, Kind
from selfcare.etl.lake import REF_TABLE_OF_KIND

# The pinned dialect (never sniffed): RFC 4180, comma, double quote escaped by doubling.
DELIM = ","
QUOTE = '"'
_CHUNK = 1 << 22
_OTHER_DELIMS = (";", "\t", "|")
# A valid id for a tenant: it becomes a folder name (`tenant_id=<T>`) in the lake.
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Refused(Exception):
    """The whole file is refused; str(e) is the one-line reason."""


@dataclass(frozen=True)
class FileInfo:
    sha256: str
    size: int
    gzip: bool
    # Records the file holds if no field spans lines: line ends, plus a last line without one,
    # minus the header. The loader's fast path uses it to prove that every record was accounted
    # for; any doubt (a quoted line break, a blank line) only sends the file down the full path.
    records: int = 0


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def inspect_file(path: Path, kind: Kind) -> FileInfo:
    """Fingerprint the file and check what must hold for the file as a whole.

    Reads every byte once (decompressing a .gz) so a bad gzip stream, a non-UTF-8 byte or a NUL
    anywhere refuses the file before any row is loaded. The header must name the contract's
    columns in order.
    """
    size = path.stat().st_size
    is_gz = path.name.lower().endswith(".gz")
    # A plain file is hashed in the same read; a .gz is hashed as stored (its bytes, not the text).
    hasher = None if is_gz else hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    header_bytes = bytearray()
    header_done = False
    offset = 0
    newlines = 0
    last = b"\n"
    try:
        opener = gzip.open if is_gz else open
        with opener(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                if hasher is not None:
                    hasher.update(chunk)
                newlines += chunk.count(b"\n")
                last = chunk[-1:]
                nul = chunk.find(b"\x00")
                if nul >= 0:
                    raise Refused(f"not a text file (NUL byte at offset {offset + nul})")
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    raise Refused(
                        f"not UTF-8 text (invalid byte at offset {offset + e.start})"
                    ) from None
                if not header_done:
                    nl = chunk.find(b"\n")
                    header_bytes += chunk if nl < 0 else chunk[:nl]
                    header_done = nl >= 0
                offset += len(chunk)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise Refused("not UTF-8 text (truncated character at end of file)") from None
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise Refused(f"bad gzip data ({e})" if is_gz else f"cannot read ({e})") from None
    check_header(header_bytes.decode("utf-8"), kind)
    digest = sha256_of(path) if hasher is None else hasher.hexdigest()
    records = newlines + (0 if last == b"\n" else 1) - 1
    return FileInfo(digest, size, is_gz, max(records, 0))


def check_header(line: str, kind: Kind) -> None:
    """Raise Refused unless the header names exactly the kind's columns, in order."""
    line = line.lstrip("\ufeff").rstrip("\r\n")
    if not line.strip():
        raise Refused("empty file (no header row)")
    expected = list(kind.column_names)
    fields = [f.strip() for f in next(csv.reader([line], delimiter=DELIM, quotechar=QUOTE))]
    if len(fields) == 1 and len(expected) > 1:
        for d in _OTHER_DELIMS:
            if d in fields[0]:
                shown = "tab" if d == "\t" else repr(d)
                raise Refused(f"wrong delimiter: the header is separated by {shown}, expected ','")
    missing = [c for c in expected if c not in fields]
    unexpected = [f for f in fields if f not in expected]
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    faults = []
    if missing:
        faults.append("missing column(s) " + ", ".join(missing))
    if unexpected:
        faults.append("unexpected column(s) " + ", ".join(repr(u) for u in unexpected))
    if repeated:
        faults.append("repeated column(s) " + ", ".join(repeated))
    if faults:
        raise Refused("header: " + "; ".join(faults))
    if fields != expected:
        raise Refused("header: columns out of order, expected " + ", ".join(expected))


# --- per-row checks as SQL -------------------------------------------------------------------


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _shown(v: str) -> str:
    """SQL for the value quoted in a reason: 'abc', cut to 40 characters."""
    return f"'''' || left({v}, 40) || ''''"


def _type_check(col: Column, v: str) -> tuple[str, str]:
    """(condition that is true for a bad non-empty value, message SQL) for the column's type."""
    n = col.name
    t = col.type.upper()
    if t.startswith("DECIMAL"):
        return (
            f"case when not regexp_full_match({v}, '[+-]?[0-9]+(\\.[0-9]+)?') then "
            f"{_lit(n + ': not a decimal: ')} || {_shown(v)} "
            f"when not regexp_full_match({v}, '[+-]?[0-9]+(\\.[0-9]{{1,4}})?') then "
            f"{_lit(n + ': more than 4 decimal places: ')} || {_shown(v)} "
            f"when try_cast({v} as {col.type}) is null then "
            f"{_lit(n + ': out of range: ')} || {_shown(v)} end",
            "",
        )
    if t in ("INTEGER", "BIGINT"):
        return (
            f"case when not regexp_full_match({v}, '[+-]?[0-9]+') then "
            f"{_lit(n + ': not an integer: ')} || {_shown(v)} "
            f"when try_cast({v} as {t}) is null then "
            f"{_lit(n + ': out of range: ')} || {_shown(v)} end",
            "",
        )
    if t == "DATE":
        return (
            f"case when not regexp_full_match({v}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
            f"or try_cast({v} as DATE) is null then "
            f"{_lit(n + ': not a date (YYYY-MM-DD): ')} || {_shown(v)} end",
            "",
        )
    if t == "TIMESTAMPTZ":
        # DuckDB would read a timestamp without an offset in the session's zone: refuse the guess.
        return (
            f"case when not regexp_matches({v}, '(Z|z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') then "
            f"{_lit(n + ': missing UTC offset: ')} || {_shown(v)} "
            f"when try_cast({v} as TIMESTAMPTZ) is null then "
            f"{_lit(n + ': not a timestamp: ')} || {_shown(v)} end",
            "",
        )
    return ("null", "")


def _extra_checks(kind: Kind, v: dict[str, str]) -> list[tuple[str, str]]:
    """Kind-specific rules beyond type, required and enum: (rule, reason SQL) pairs."""
    out = []
    if kind.name == "cdr":
        for n in ("duration_s", "volume_kb"):
            out.append(
                (
                    f"negative:{n}",
                    f"case when try_cast({v[n]} as BIGINT) < 0 then "
                    f"{_lit(n + ': negative: ')} || {_shown(v[n])} end",
                )
            )
    if kind.name == "billing":
        out.append(
            (
                "period",
                f"case when not regexp_full_match({v['bill_period']}, "
                "'[0-9]{4}-(0[1-9]|1[0-2])') then "
                f"{_lit('bill_period: not a YYYY-MM period: ')} || {_shown(v['bill_period'])} end",
            )
        )
    if kind.name == "tenants":
        out.append(
            (
                "tenant_id",
                f"case when not regexp_full_match({v['tenant_id']}, "
                f"{_lit(TENANT_ID_PATTERN[1:-1])}) "
                f"then {_lit('tenant_id: not a valid id (letters, digits, . _ -): ')} "
                f"|| {_shown(v['tenant_id'])} end",
            )
        )
        out.append(
            (
                "timezone",
                f"case when {v['timezone']} not in (select name from pg_timezone_names()) then "
                f"{_lit('timezone: unknown time zone: ')} || {_shown(v['timezone'])} end",
            )
        )
    out += _ref_checks(kind, v)
    return out


def _ref_checks(kind: Kind, v: dict[str, str]) -> list[tuple[str, str]]:
    """The contract's cross-references (Column.ref): the value must be in some snapshot of the
    referred kind (`snap_<x>`, the working state of the load: the snapshots loaded before this
    file, which the load order puts first), and of the same tenant where the reference says so.
    A row whose tenant is unknown is left to the tenant check, which names the real fault."""
    out = []
    for c in kind.columns:
        if c.ref is None:
            continue
        x = v[c.name]
        target = "snap_" + REF_TABLE_OF_KIND[c.ref.kind]
        match = f"r.{_ident(c.ref.column)} = {x}"
        guard = f"{x} is not null"
        where = ""
        if c.ref.same_tenant:
            t = v["tenant_id"]
            match += f" and r.tenant_id = {t}"
            guard += f" and {t} in (select tenant_id from snap_tenant)"
            where = f" || {_lit(' in tenant ')} || {_shown(t)}"
        out.append(
            (
                f"ref:{c.name}",
                f"case when {guard} and not exists (select 1 from {target} as r where {match}) "
                f"then {_lit(f'{c.name}: unknown {c.ref.noun} ')} || {_shown(x)}{where} end",
            )
        )
    return out


def typed_expr(col: Column, v: str) -> str:
    """The SQL for a column's typed value (NULL when bad; the row is then rejected anyway)."""
    if col.type == "VARCHAR":
        return v
    return f"try_cast({v} as {col.type})"


def csv_field_sql(v: str) -> str:
    """Re-serialise one raw field as CSV text (for the `raw` of a rejected row)."""
    return (
        f"case when {v} is null then '' "
        f"when regexp_matches({v}, '[,\"\\r\\n]') then '\"' || replace({v}, '\"', '\"\"') || '\"' "
        f"else {v} end"
    )


def stage_select(kind: Kind, source: str) -> str:
    """SELECT turning the rows of `source` (all columns VARCHAR, plus `ordinality`) into typed
    columns, `reason` (first fault, NULL for a good row) and `raw` (the record as CSV, kept only
    for a bad row). Values are trimmed and an empty value is NULL.
    """
    v = {c.name: f"v_{i}" for i, c in enumerate(kind.columns)}
    cleaned = ", ".join(
        f"nullif(trim({_ident(c.name)}), '') as {v[c.name]}, {_ident(c.name)} as r_{i}"
        for i, c in enumerate(kind.columns)
    )
    checks = []
    for c in kind.columns:
        x = v[c.name]
        if c.required:
            checks.append(f"case when {x} is null then {_lit(c.name + ': required')} end")
        cond, _ = _type_check(c, x)
        if cond != "null":
            checks.append(f"case when {x} is not null then ({cond}) end")
        if c.enum:
            allowed = ", ".join(_lit(e) for e in c.enum)
            msg = _lit(" not one of " + ", ".join(c.enum))
            checks.append(
                f"case when {x} is not null and {x} not in ({allowed}) then "
                f"{_lit(c.name + ': ')} || {_shown(x)} || {msg} end"
            )
    checks += [sql for _rule, sql in _extra_checks(kind, v)]
    reason = "coalesce(" + ", ".join(checks) + ")" if len(checks) > 1 else checks[0]
    raw = " || ',' || ".join(csv_field_sql(f"r_{i}") for i in range(len(kind.columns)))
    typed = ", ".join(f"{typed_expr(c, v[c.name])} as {_ident(c.name)}" for c in kind.columns)
    return (
        f"select ord, {typed}, reason, case when reason is not null then {raw} end as raw "
        f"from (select *, {reason} as reason from (select ordinality as ord, {cleaned} "
        f"from {source}))"
    )


# --- the fast path: a conservative test of a good row ------------------------------------------


def _plainly_valid(col: Column, x: str, typed: str | None = None) -> str | None:
    """SQL true when the raw value `x` of a column is plainly valid for its type (None: no check
    beyond presence). Stricter than the full checks: a value it doubts is judged by them. The
    numbers must be in their canonical form (what the cast prints back), which also excludes
    signs, blanks, exponents and more than 4 decimal places; those take the full checks."""
    t = col.type.upper()
    v = typed or typed_expr(col, x)
    if t.startswith(("DECIMAL", "INTEGER", "BIGINT", "DATE")):
        return f"{v}::varchar = {x}"
    if t == "TIMESTAMPTZ":
        # an explicit offset: ...Z or ...+hh:mm / -hh:mm
        return (
            f"{v} is not null and (suffix({x}, 'Z') "
            f"or ({x}[-6:-6] in ('+', '-') and {x}[-3:-3] = ':'))"
        )
    return None


def fast_ok(kind: Kind, row: str = "", typed: dict[str, str] | None = None) -> str:
    """SQL true for a row of raw VARCHAR columns (as read by the pinned dialect) that is plainly
    good: every value present where required, untrimmed-equal to itself, of its type in the
    canonical form, within its enum, and the kind's extra rules hold. A row it passes gets exactly
    the typed values `stage_select` would give it (`typed_expr` of the same text); a row it fails
    is not necessarily bad, only worth the full checks. `typed`: column name -> an expression
    already holding `typed_expr` of that column (so a query casts each value once).
    """
    p = row + "." if row else ""
    typed = typed or {}
    parts = []
    for c in kind.columns:
        x = p + _ident(c.name)
        if c.enum:
            # an exact member has no blanks around it
            cond = f"{x} in ({', '.join(_lit(e) for e in c.enum)})"
        elif (plain := _plainly_valid(c, x, typed.get(c.name))) is not None:
            cond = plain  # the canonical forms have no blanks either
        else:
            # what the full checks trim is not plain (trim removes spaces)
            cond = f"not prefix({x}, ' ') and not suffix({x}, ' ') and {x} <> ''"
        parts.append(f"{x} is not null and {cond}" if c.required else f"({x} is null or ({cond}))")
    v = {c.name: p + _ident(c.name) for c in kind.columns}
    # The kind's extra rules, each a reason expression: a row passes when all are NULL. A value
    # in the canonical integer form is negative exactly when it starts with '-', which is cheaper
    # to test than the rule's cast.
    for rule, e in _extra_checks(kind, v):
        if rule.startswith("negative:"):
            parts.append(f"not prefix({v[rule.split(':', 1)[1]]}, '-')")
        else:
            parts.append(f"({e}) is null")
    return "(" + " and ".join(parts) + ")"
