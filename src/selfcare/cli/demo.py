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


def _service_for(est, line, exclude: set[str] = frozenset()):  # noqa: ANN001, ANN202
    """A catalogue service the line does not have yet and may take (cheapest first)."""
    options = sorted(
        (s for s in est.catalogue.services.values()
         if s.code not in line.services and s.code not in exclude
         and s.category in ("FEATURE", "ADDON") and s.fits(line.payment or "")),
        key=lambda s: (s.monthly_fee, s.code),
    )
    return options[0] if options else None


def seed_demo_orders(settings: Settings) -> list[str]:
    """Requests in every state a portal shows, made through the order services (the same rules,
    approvals, audit rows and notifications as a user's): two waiting for an approver, one
    rejected with a reason, one approved and one placed directly by the Administrator, which the
    running worker carries to the simulated operator. Only when the tenant has no orders yet, so
    a second `make demo` keeps what was done in the first."""
    from selfcare.orders import OrderError
    from selfcare.services import estate, orders, users
    from selfcare.services.errors import ServiceError

    db = settings.database
    admin = users.find_user(db, "admin@demo.selfcare.test")
    end_user = users.find_user(db, "user@demo.selfcare.test")
    if admin is None or end_user is None:
        return []
    if orders.list_orders(db, admin, limit=1)[0]:
        return []
    est = estate.tenant_estate(admin.tenant_id, settings.lake)
    active = [ln for ln in est.lines.values() if (ln.status or "ACTIVE") == "ACTIVE"]
    own = sorted((ln for ln in active if ln.employee_id == end_user.employee_id),
                 key=lambda ln: ln.msisdn)
    others = sorted((ln for ln in active if ln.employee_id != end_user.employee_id),
                    key=lambda ln: ln.msisdn)
    done: list[str] = []

    def place(actor, line, reason, exclude=frozenset()):  # noqa: ANN001, ANN202
        service = _service_for(est, line, set(exclude))
        if service is None:
            return None
        order = orders.create_order(db, actor, "add_service", [line.msisdn],
                                    {"service_code": service.code}, reason)
        done.append(f"{order.reference} {service.name} on {line.msisdn}: {order.state}")
        return order

    if own:
        first = place(end_user, own[0], "Travelling to the Nairobi office next month")
        second = place(end_user, own[0], "Needed for the field survey",
                       exclude={first.params["service_code"]} if first else frozenset())
        if second is not None and second.waits_for_employee_id is not None:
            approver = next(
                (u for u in (users.find_user(db, "manager@demo.selfcare.test"),)
                 if u is not None and u.employee_id == second.waits_for_employee_id),
                admin,
            )
        else:
            approver = admin
        if second is not None:
            try:
                orders.reject(db, approver, second.id, "The team's survey kit already covers it")
                done[-1] = done[-1].rsplit(":", 1)[0] + ": rejected"
            except (OrderError, ServiceError):  # not this approver's to decide: it waits
                pass
    for line in others[:2]:
        placed = place(admin, line, "Standard kit for the sales team")
        if placed is not None and placed.state == "pending_approval":
            try:  # above the finance threshold: the Financial Manager approves it
                finance = users.find_user(db, "finance@demo.selfcare.test")
                if finance is not None:
                    orders.approve(db, finance, placed.id, "Within the quarter's budget")
            except (OrderError, ServiceError):
                pass
    return done


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
    seeded = seed_demo_orders(settings)
    if seeded:
        print("\nDemo requests (the worker carries the approved ones to the simulated operator):")
        for row in seeded:
            print(f"  {row}")
    print(f"\nThe demo's notification mails go to {demo_mail_destination(settings)}.")
    if serve_after:
        from selfcare.web.serve import serve

        print(f"\nOpen http://{host}:{port}/ and sign in with one of the users above.", flush=True)
        serve(settings, host=host, port=port)
    return 2 if report.refused else 0
