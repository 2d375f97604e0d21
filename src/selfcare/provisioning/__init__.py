"""Provisioning: approved order lines to the operator and their results back, behind one
small interface (`base.Adapter`: `submit`, `status`).

`create_adapter(name, **settings)` builds one by name; the name comes from the configuration
(`SELFCARE_PROVISIONING`, read by selfcare.config, never here):

- `simulated` (the default): `SimulatedOperator(path, catalogue, delay=5 s, clock=...)`;
- `outbox`: `Outbox(outbox_dir, inbox_dir, state_path=None, clock=...)`.
"""

from __future__ import annotations

from selfcare.provisioning.base import Adapter

ADAPTERS = ("simulated", "outbox")
DEFAULT_ADAPTER = "simulated"


def create_adapter(name: str = DEFAULT_ADAPTER, **settings) -> Adapter:
    """The adapter called `name`, built from its settings (a TypeError names a missing one)."""
    if name == "simulated":
        from selfcare.provisioning.simulated import SimulatedOperator

        return SimulatedOperator(**settings)
    if name == "outbox":
        from selfcare.provisioning.outbox import Outbox

        return Outbox(**settings)
    raise ValueError(f"unknown provisioning adapter {name!r}: choose one of {', '.join(ADAPTERS)}")
