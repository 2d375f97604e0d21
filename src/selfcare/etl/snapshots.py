"""Reference snapshots: a reference file (tenants, accounts, cost centres, employees, plans,
lines) becomes the snapshot of its date (`snap_<x>`, per tenant and as_of), and `dim_<x>` is each
tenant's newest snapshot. Rows are checked like facts, on the full path."""

from __future__ import annotations

import re

from selfcare.contract import Kind
from selfcare.etl import lake as lk
from selfcare.etl.full import FullPath
from selfcare.etl.report import FileReport
from selfcare.etl.state import _ident, _lit


class Snapshots(FullPath):
    def _load_reference(self, kind: Kind, rep: FileReport) -> None:
        c = self.con
        suffix = lk.REF_TABLE_OF_KIND[kind.name]
        snap = f"snap_{suffix}"
        has_tenant = "tenant_id" in kind.column_names
        tenant_check = ""
        if has_tenant and kind.name != "tenants":
            tenant_check = (
                ", case when s.tenant_id not in (select tenant_id from snap_tenant) "
                "then 'tenant_id: unknown tenant ''' || s.tenant_id || '''' end"
            )
        c.execute(
            f"create table cur as select s.* exclude (reason), "
            f"coalesce(s.reason{tenant_check}) as reason from stage as s"
        )
        self._classify(kind, f"select * from {snap} where as_of = {_lit(rep.as_of)}::date")
        self._late_raw(self.drop / rep.file, kind)
        cols = []
        for n, _t in lk.TABLES[snap]:
            if n == "as_of":
                cols.append(f"{_lit(rep.as_of)} as as_of")
            elif n == "apns":
                cols.append(
                    "list_filter(string_split(coalesce(apns, ''), ';'), lambda x: x <> '') as apns"
                )
            else:
                cols.append(_ident(n))
        out = self._out_dir()
        parts = "tenant_id, as_of" if has_tenant else "as_of"
        c.execute(
            f"copy (select {', '.join(cols)} from cur where reason is null and ord not in "
            f"(select ord from cls where status <> 'loaded')) to {_lit(str(out))} "
            f"(format parquet, partition_by ({parts}))"
        )
        self._adopt(out, snap)
        self._set_dim(suffix)
        self._count(kind, rep)

    def _set_dim(self, suffix: str) -> None:
        """dim_<x> = the snap_<x> files of each tenant's newest as_of (plans: the newest)."""
        files = self.m["tables"][f"snap_{suffix}"]["files"]
        newest: dict[str, str] = {}
        parsed = []
        for f in files:
            t = re.search(r"/tenant_id=([^/]+)/", f)
            a = re.search(r"/as_of=([^/]+)/", f)
            tenant = t.group(1) if t else ""
            as_of = a.group(1) if a else ""
            parsed.append((f, tenant, as_of))
            newest[tenant] = max(newest.get(tenant, ""), as_of)
        self.m["tables"][f"dim_{suffix}"]["files"] = [
            f for f, tenant, as_of in parsed if as_of == newest[tenant]
        ]
