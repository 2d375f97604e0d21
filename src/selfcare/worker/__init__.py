"""The worker: expires due orders, submits approved lines exactly once, polls open ones, and
hands pending mails to the sender (services.mail's `send_pending`, when it is installed).

`run_once(db, adapter, now)` is one round; `run(...)` loops until stopped; `start_in_thread`
runs the loop in a daemon thread (`selfcare serve` / `selfcare demo`, unless SELFCARE_WORKER=0).
`create_adapter(settings)` builds the configured adapter; the simulated operator's state file
lives beside the portal's SQLite database.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from selfcare import config, provisioning
from selfcare.services import estate, orders, tickets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Round:
    expired: int
    submitted: int
    polled: int
    mailed: int | None  # None: no mail sender installed
    closed: int = 0  # tickets closed REOPEN_DAYS after their resolution


def _pause(point: str) -> None:
    """Test hook (SELFCARE_TEST_PAUSE_AT): stop here so a test can SIGKILL the worker."""
    if config.pause_point() == point:
        print(f"paused at {point}", file=sys.stderr, flush=True)
        time.sleep(config.pause_seconds())


def _send_mail(db: Any, settings: Any, now: datetime) -> int | None:
    """The integration point with the mail sender (w2): services.mail.send_pending."""
    try:
        from selfcare.services import mail  # type: ignore[attr-defined]
    except ImportError:
        return None
    send = getattr(mail, "send_pending", None)
    return None if send is None else send(db, settings, now)


def run_once(db: Any, adapter: Any, now: datetime | None = None, *, settings: Any = None,
             claim_timeout: timedelta = orders.CLAIM_TIMEOUT) -> Round:
    now = now or datetime.now(UTC)
    expired = orders.expire_due(db, now)
    submitted = orders.submit_approved(
        db, adapter, now, claim_timeout=claim_timeout,
        after_claim=lambda: _pause("worker_after_claim"),
        after_submit=lambda: _pause("worker_after_submit"))
    polled = orders.poll_open(db, adapter, now)
    closed = tickets.close_due(db, now)
    mailed = _send_mail(db, settings, now)
    return Round(expired, submitted, polled, mailed, closed)


def state_dir(settings: config.Settings) -> Path:
    """Where the worker's own files go: beside the SQLite database."""
    return Path(settings.db).resolve().parent


def create_adapter(settings: config.Settings,
                   prov: config.ProvisioningSettings | None = None) -> Any:
    prov = prov or config.provisioning_settings()
    base = state_dir(settings)
    if prov.adapter == "simulated":
        return provisioning.create_adapter(
            "simulated", path=base / "operator.sqlite",
            catalogue=estate.catalogue(settings.lake), delay=prov.delay)
    if prov.adapter == "outbox":
        return provisioning.create_adapter(
            "outbox", outbox_dir=prov.outbox_dir or base / "outbox",
            inbox_dir=prov.inbox_dir or base / "inbox")
    return provisioning.create_adapter(prov.adapter)  # raises, naming the choices


def run(db: Any, adapter: Any, interval: float, stop: threading.Event | None = None, *,
        settings: Any = None, once: bool = False) -> None:
    """Rounds every `interval` seconds until `stop` is set; one failing round is logged, the
    next one tries again (nothing is lost: claims and mails stay in the database)."""
    stop = stop or threading.Event()
    while True:
        try:
            r = run_once(db, adapter, settings=settings)
            if r.expired or r.submitted or r.polled or r.mailed or r.closed:
                log.info("worker: %s", r)
        except Exception:  # a round must not kill the loop
            log.exception("worker round failed")
            if once:
                raise
        if once or stop.wait(interval):
            return


def start_in_thread(settings: config.Settings) -> threading.Thread | None:
    """Start the loop in a daemon thread unless SELFCARE_WORKER=0."""
    prov = config.provisioning_settings()
    if not prov.worker:
        return None
    adapter = create_adapter(settings, prov)
    thread = threading.Thread(target=run, args=(settings.database, adapter, prov.interval),
                              kwargs={"settings": settings}, name="selfcare-worker",
                              daemon=True)
    thread.start()
    log.info("worker started in-process (%s adapter)", prov.adapter)
    return thread
