"""What a load did: a report per file and for the whole load (counts, refusals, a summary)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileReport:
    file: str
    kind: str | None
    status: str  # loaded | skipped | refused
    message: str = ""
    rows_read: int = 0
    loaded: int = 0
    rejected: int = 0  # conflicts included
    duplicates: int = 0
    conflicts: int = 0
    as_of: str | None = None
    sha256: str | None = None
    method: str = ""  # fast (one pass, proved clean) | full (every row explained) | "" (not read)


@dataclass
class LoadReport:
    lake: str
    load_id: str
    files: list[FileReport] = field(default_factory=list)
    version: int = 0
    published: bool = False
    seconds: float = 0.0
    aggregate_partitions: int = 0

    @property
    def refused(self) -> bool:
        return any(f.status == "refused" for f in self.files)

    @property
    def totals(self) -> dict[str, int]:
        t = {
            k: 0
            for k in (
                "files",
                "loaded_files",
                "skipped_files",
                "refused_files",
                "rows_read",
                "loaded",
                "rejected",
                "duplicates",
                "conflicts",
            )
        }
        for f in self.files:
            t["files"] += 1
            t[f"{f.status}_files"] += 1
            for k in ("rows_read", "loaded", "rejected", "duplicates", "conflicts"):
                t[k] += getattr(f, k)
        return t

    def render(self, max_files: int = 30) -> str:
        """A one-screen summary: a row per file (the first `max_files`), refusals, totals."""
        t = self.totals
        state = (
            f"published lake version {self.version}"
            if self.published
            else f"nothing to publish, lake version {self.version} unchanged"
        )
        out = [f"load {self.load_id} into {self.lake}: {state} ({self.seconds:.1f} s)"]
        head = (
            f"{'file':<34} {'status':<8} {'read':>10} {'loaded':>10} {'rejected':>9} "
            f"{'dup':>7} {'confl':>6}  pass"
        )
        out.append(head)
        for f in self.files[:max_files]:
            out.append(
                f"{f.file[:34]:<34} {f.status:<8} {f.rows_read:>10,} {f.loaded:>10,} "
                f"{f.rejected:>9,} {f.duplicates:>7,} {f.conflicts:>6,}  {f.method}"
            )
        if len(self.files) > max_files:
            out.append(f"... and {len(self.files) - max_files} more files")
        for f in self.files:
            if f.status == "refused":
                out.append(f"REFUSED {f.message}")
        out.append(
            f"{t['files']} files: {t['loaded_files']} loaded, {t['skipped_files']} skipped "
            f"(already loaded), {t['refused_files']} refused; rows read {t['rows_read']:,} = "
            f"loaded {t['loaded']:,} + rejected {t['rejected']:,} + duplicates "
            f"{t['duplicates']:,} (conflicts {t['conflicts']:,} among the rejected)"
        )
        if t["rejected"]:
            out.append(f"rejected rows: select * from etl_rejects where load_id = '{self.load_id}'")
        return "\n".join(out)
