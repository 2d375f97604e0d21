"""The `selfcare` console script: generate, load, serve, demo, db, users, tokens.

The benchmark is not part of the product: `make bench` runs it from a checkout (bench/).

Every subcommand has --help, exits 0 on success and non-zero with a one-line reason on failure.
Heavy modules are imported inside the subcommand so `selfcare load` never pays for Dash.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

from selfcare.config import load_settings
from selfcare.roles import ROLES


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""


def _settings(args: argparse.Namespace):
    return load_settings(lake=getattr(args, "lake", None), db=getattr(args, "db", None))


# --- generate / load ------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from selfcare.sample.generate import generate

    summary = generate(
        out=args.out,
        tenants=args.tenants,
        lines=args.lines,
        months=args.months,
        start=args.start,
        seed=args.seed,
        gzip=args.gzip,
        dirty=args.dirty,
    )
    files = summary.get("files", summary) if isinstance(summary, dict) else summary
    print(f"wrote {len(files)} files to {args.out}")
    if isinstance(summary, dict) and "cdr_rows" in summary:
        print(f"{summary['cdr_rows']:,} CDR rows")
    if isinstance(summary, dict) and "faults" in summary:
        n = sum(summary["faults"]["totals"].values())
        print(f"{n:,} faulty rows appended to the fact files (listed in {args.out}/.faults.json)")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from selfcare.etl.load import load

    settings = _settings(args)
    report = load(args.dir, settings.lake)
    print(report.render())
    return 2 if report.refused else 0


# --- users / tokens -------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CliError("the passwords do not match")
    if len(password) < 12:
        raise CliError("a password needs at least 12 characters")
    return password


def cmd_users(args: argparse.Namespace) -> int:
    # The operator is trusted with every profile and tenant, but not with skipping a profile's
    # rules (a tenant, an employee for manager and end user): the services enforce them.
    from selfcare.services import users

    db = _settings(args).database
    if args.action == "add":
        user_id = users.add_user(
            db,
            email=args.email,
            role=args.role,
            tenant_id=args.tenant,
            employee_id=args.employee_id,
            password=_read_password(args),
        )
        print(f"added user {args.email} (id {user_id}, {args.role})")
    elif args.action == "set-role":
        users.set_role(db, args.email, args.role)
        print(f"{args.email} is now {args.role}")
    elif args.action == "deactivate":
        users.deactivate(db, args.email)
        print(f"deactivated {args.email}; their sessions and tokens no longer work")
    elif args.action == "set-password":
        users.set_password(db, args.email, _read_password(args))
        print(f"password changed for {args.email}; their old sessions are signed out")
    elif args.action == "list":
        rows = users.list_users(db)
        print(f"{'id':>4}  {'email':<36} {'role':<9} {'tenant':<8} {'employee':<10} active")
        for u in rows:
            print(
                f"{u['id']:>4}  {u['email']:<36} {u['role']:<9} {u['tenant_id'] or '-':<8} "
                f"{u['employee_id'] or '-':<10} {'yes' if u['active'] else 'no'}"
            )
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from selfcare.services import tokens

    db = _settings(args).database
    if args.action == "create":
        scope = tokens.WRITE if args.write else tokens.READ
        token_id, secret = tokens.create_token(
            db, args.email, args.name, scope=scope, days=args.days
        )
        print(f"token {token_id} ({scope}, {args.days} days) for {args.email}: {secret}")
        print("This secret is shown once; use it as 'Authorization: Bearer <secret>'.")
    elif args.action == "list":
        rows = tokens.list_tokens(db, args.email)
        for t in rows:
            state = "revoked" if t.get("revoked_at") else "active"
            if state == "active" and t.get("expires_at") and t["expires_at"] <= tokens.now():
                state = "expired"
            used = t.get("last_used_at") or "never"
            print(
                f"{t['id']:>4}  {t['name']:<24} {t['prefix']}…  {t['scope']:<5}  {state}  "
                f"expires {t.get('expires_at') or 'never'}  last used {used}"
            )
    elif args.action == "revoke":
        tokens.revoke_token(db, args.email, args.token_id)
        print(f"revoked token {args.token_id}")
    return 0


# --- db -------------------------------------------------------------------------------------


def cmd_db(args: argparse.Namespace) -> int:
    from selfcare.services import schema

    db = _settings(args).database
    if args.action == "upgrade":
        before, after = schema.upgrade(db)
        if before == after:
            print(f"the portal database is up to date ({after})")
        else:
            print(f"upgraded the portal database from {before or 'nothing'} to {after}")
    elif args.action == "current":
        print(schema.describe(db))
    return 0


# --- serve / demo -------------------------------------------------------------------


def _start_worker(args: argparse.Namespace, settings) -> None:  # noqa: ANN001
    """The worker in a daemon thread beside the server, unless --no-worker / SELFCARE_WORKER=0."""
    if getattr(args, "no_worker", False):
        return
    from selfcare import worker
    from selfcare.services import schema

    # Refuse a database that is behind before anything runs on it (one line, from main).
    schema.ensure_ready(settings.database)

    worker.start_in_thread(settings)


def cmd_worker(args: argparse.Namespace) -> int:
    from selfcare import config, worker

    settings = _settings(args)
    prov = config.provisioning_settings()
    adapter = worker.create_adapter(settings, prov)
    try:
        worker.run(settings.database, adapter, prov.interval, settings=settings, once=args.once)
    finally:
        adapter.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from selfcare.web.serve import serve

    _start_worker(args, _settings(args))

    serve(_settings(args), host=args.host, port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from selfcare.cli.demo import run_demo

    if not args.no_serve:
        _start_worker(args, _settings(args))
    return run_demo(_settings(args), serve_after=not args.no_serve, host=args.host, port=args.port)


# --- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="selfcare",
        description="SelfCare: mobile self-care and spend analytics. Settings come from "
        "SELFCARE_LAKE (default data/lake), SELFCARE_DB (default data/app.db), "
        "SELFCARE_DATABASE_URL (instead of SELFCARE_DB, e.g. postgresql+psycopg://...) and "
        "SELFCARE_SECRET_KEY; flags override them.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str):
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        return sp

    g = add("generate", cmd_generate, "Write a realistic, deterministic drop folder of exports.")
    g.add_argument("--out", required=True, help="folder to write the export files into")
    g.add_argument("--tenants", type=int, default=3, help="number of companies (default 3)")
    g.add_argument(
        "--lines", type=int, default=1500, help="lines across all tenants (default 1500)"
    )
    g.add_argument("--months", type=int, default=12, help="bill periods (default 12)")
    g.add_argument("--start", help="first bill period YYYY-MM (default: 12 complete months back)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    g.add_argument("--gzip", action="store_true", help="write .csv.gz facts")
    g.add_argument(
        "--dirty",
        action="store_true",
        help="append a few seeded faulty rows (duplicates, conflicts, rejects) to the fact files, "
        "listed in .faults.json",
    )

    ld = add("load", cmd_load, "Load every export file in a folder into the Parquet lake.")
    ld.add_argument("dir", help="the drop folder")
    ld.add_argument("--lake", help="the lake folder (default $SELFCARE_LAKE or data/lake)")

    s = add("serve", cmd_serve, "Serve the portal with a production WSGI server (waitress).")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8050)
    s.add_argument("--lake", help="the lake folder (default $SELFCARE_LAKE)")
    s.add_argument("--db", help="the portal database (default $SELFCARE_DB)")
    s.add_argument("--no-worker", action="store_true",
                   help="do not start the order worker in-process (SELFCARE_WORKER=0)")

    w = add("worker", cmd_worker, "Run the order worker: expiry, submission, polling, mails.")
    w.add_argument("--lake", help="the lake folder (default $SELFCARE_LAKE)")
    w.add_argument("--db", help="the portal database (default $SELFCARE_DB)")
    w.add_argument("--once", action="store_true", help="one round, then exit")

    d = add("demo", cmd_demo, "Generate and load a demo estate, create demo users, serve.")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=int, default=8050)
    d.add_argument("--no-serve", action="store_true", help="stop after the load and the users")
    d.add_argument("--no-worker", action="store_true",
                   help="do not start the order worker in-process (SELFCARE_WORKER=0)")
    d.add_argument("--lake", help="the lake folder (default $SELFCARE_LAKE)")
    d.add_argument("--db", help="the portal database (default $SELFCARE_DB)")

    dbp = add("db", cmd_db, "Migrate the portal database (users, audit, API tokens).")
    dbp.add_argument("--db", help="the portal database (default $SELFCARE_DB)")
    dbs = dbp.add_subparsers(dest="action", required=True, metavar="ACTION")
    dbs.add_parser("upgrade", help="apply every missing migration (back the database up first)")
    dbs.add_parser("current", help="show the database's revision and the code's")

    u = add("users", cmd_users, "Manage portal users.")
    u.add_argument("--db", help="the portal database (default $SELFCARE_DB)")
    us = u.add_subparsers(dest="action", required=True, metavar="ACTION")
    ua = us.add_parser("add", help="add a user (password from a prompt or --password-stdin)")
    ua.add_argument("--email", required=True)
    ua.add_argument("--role", required=True, choices=ROLES)
    ua.add_argument("--tenant", help="tenant id (every role but analyst)")
    ua.add_argument("--employee-id", help="employee id from the HR feed")
    ua.add_argument("--password-stdin", action="store_true", help="read one line from stdin")
    sr = us.add_parser("set-role", help="change a user's profile (applies at once)")
    sr.add_argument("--email", required=True)
    sr.add_argument("--role", required=True, choices=ROLES)
    de = us.add_parser("deactivate", help="deactivate a user (ends their sessions)")
    de.add_argument("--email", required=True)
    sp = us.add_parser("set-password", help="set a user's password (ends their sessions)")
    sp.add_argument("--email", required=True)
    sp.add_argument("--password-stdin", action="store_true", help="read one line from stdin")
    us.add_parser("list", help="list users")

    t = add("tokens", cmd_tokens, "Manage personal API tokens (export API and /api/v1).")
    t.add_argument("--db", help="the portal database (default $SELFCARE_DB)")
    ts = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    tc = ts.add_parser("create", help="create a token (the secret is shown once)")
    tc.add_argument("--email", required=True)
    tc.add_argument("--name", required=True, help="what the token is for")
    tc.add_argument(
        "--write",
        action="store_true",
        help="read and write: may also place, approve, reject and cancel orders (default: read)",
    )
    tc.add_argument(
        "--days",
        type=int,
        default=tokens_default_days(),
        help="how long the token works, 1 to 365 days (default: %(default)s)",
    )
    tl = ts.add_parser("list", help="list a user's tokens")
    tl.add_argument("--email", required=True)
    tr = ts.add_parser("revoke", help="revoke a token")
    tr.add_argument("--email", required=True)
    tr.add_argument("token_id", type=int)

    return p


def tokens_default_days() -> int:
    from selfcare.services.tokens import DEFAULT_LIFETIME_DAYS

    return DEFAULT_LIFETIME_DAYS


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("selfcare: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line with what to do, never a stack trace
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"selfcare {args.command}: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
