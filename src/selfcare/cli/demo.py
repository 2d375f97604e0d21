"""`selfcare demo` / `make demo`: generate a demo estate, load it, create demo users, serve.

The demo users (one per profile) get fresh random passwords on every run, printed once.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pandas as pd

from selfcare.config import Settings
from selfcare.gate import trusted

DEMO_DIR = Path("data/demo")
# dirty: a few faulty rows in the fact files, so the load report shows rejects and duplicates.
DEMO_ESTATE = {"tenants": 3, "lines": 1500, "months": 12, "seed": 42, "dirty": True}


def pick_demo_employees(lake: Path) -> tuple[str, dict[str, str | None]]:
    """The first tenant and, for each tenant profile, an employee id of the right shape.

    Which employee each profile is linked to is picked from the loaded HR feed by shape, not by
    id, so the demo works for any seed (`queries/demo/profile_employees.sql`). The manager has at
    least two levels below them.
    """
    first = trusted.run("demo.first_tenant", lake)
    tenant = first["tenant_id"].iloc[0] if len(first) else None
    if tenant is None or pd.isna(tenant):
        raise RuntimeError("the lake has no tenants; run `selfcare load` first")
    row = trusted.run("demo.profile_employees", lake, tenant_id=tenant).iloc[0]
    return str(tenant), {p: _text(row[p]) for p in ("admin", "finance", "manager", "end_user")}


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def reject_summary(lake: Path, load_id: str, limit: int = 20) -> str:
    """The reasons of a load's rejected rows grouped by kind and counted, most common first."""
    rows = trusted.run("demo.reject_reasons", lake, load_id=load_id, limit=limit)
    out = ["rejected rows by reason (every row, with line number and raw text, in etl_rejects):"]
    out += [f"  {int(n):>7,}  {why}" for why, n in zip(rows["why"], rows["n"], strict=True)]
    return "\n".join(out)


def ensure_demo_users(settings: Settings) -> list[tuple[str, str, str]]:
    """Create or reset the five demo users; returns (email, role, password) rows."""
    from selfcare.services import users

    tenant, picks = pick_demo_employees(settings.lake)
    out = []
    for role, email in (
        ("admin", "admin@demo.selfcare.test"),
        ("finance", "finance@demo.selfcare.test"),
        ("manager", "manager@demo.selfcare.test"),
        ("end_user", "user@demo.selfcare.test"),
        ("analyst", "analyst@operator.selfcare.test"),
    ):
        password = secrets.token_urlsafe(12)
        tenant_id = None if role == "analyst" else tenant
        employee_id = None if role == "analyst" else picks[role]
        users.upsert_user(settings.database, email, role, tenant_id, employee_id, password)
        out.append((email, role, password))
    return out


def demo_mail_destination(settings: Settings) -> str:
    """Where the demo's mails go, in words: the maildir beside the database unless an SMTP host
    is configured (SELFCARE_SMTP_HOST)."""
    from selfcare.config import load_mail_settings

    mail = load_mail_settings(settings)
    if mail.channel == "maildir":
        return f"the maildir {mail.maildir.resolve()} (read it with `mutt -f` or mailbox.Maildir)"
    return mail.where()


def run_demo(settings: Settings, serve_after: bool = True, host="127.0.0.1", port=8050) -> int:
    from selfcare.etl.load import load
    from selfcare.sample.generate import generate
    from selfcare.services import schema

    # Before the long generate and load: an empty database is migrated, a stale one refused.
    schema.ensure_ready(settings.database)
    marker = DEMO_DIR / ".complete"
    # The marker names the estate's parameters: a folder made with other ones is regenerated.
    stamp = json.dumps(DEMO_ESTATE, sort_keys=True) + "\n"
    if not marker.exists() or marker.read_text() != stamp:
        print(f"Generating the demo estate in {DEMO_DIR} ...", flush=True)
        generate(out=DEMO_DIR, **DEMO_ESTATE)
        marker.write_text(stamp)
    print(f"Loading {DEMO_DIR} into {settings.lake} ...", flush=True)
    report = load(DEMO_DIR, settings.lake)
    print(report.render())
    if report.totals["rejected"]:
        print(reject_summary(settings.lake, report.load_id))
    users = ensure_demo_users(settings)
    print("\nDemo users (passwords are new on every `make demo` and shown only now):")
    for email, role, password in users:
        print(f"  {role:<9} {email:<34} {password}")
    print(f"\nThe demo's notification mails go to {demo_mail_destination(settings)}.")
    if serve_after:
        from selfcare.web.serve import serve

        print(f"\nOpen http://{host}:{port}/ and sign in with one of the users above.", flush=True)
        serve(settings, host=host, port=port)
    return 2 if report.refused else 0
