"""The order domain and the adapters stay pure: no database layer, no web, no query engine."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("flask", "dash", "duckdb", "sqlalchemy", "pandas", "selfcare.web", "selfcare.gate",
             "selfcare.store", "selfcare.appdb", "selfcare.services")


def test_importing_orders_and_provisioning_pulls_in_nothing_else():
    code = (
        "import sys\n"
        "import selfcare.orders.lifecycle, selfcare.orders.actions, selfcare.orders.policy\n"
        "import selfcare.provisioning.simulated, selfcare.provisioning.outbox\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}"
        f" or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
