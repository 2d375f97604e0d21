"""What one user, or one statement, may cost the server (issue 13): counted slots and a watchdog.

`Slots` counts what a key (a user id, or one shared key) is running at once: the exports take a
slot per stream (refused at once beyond the limit), page queries one per uncached query (waiting
a little, since a page fires several callbacks together). Counters live in the process, like the
engine's connection: correct for `selfcare serve` (one process); each extra process has its own.

`Watchdog` is the query time budget: one thread per process that interrupts a cursor whose
statement is past its deadline, or whose caller has gone (`stop()` true, e.g. the export's
client disconnected). An interrupt that lands just before a statement starts is ignored by
DuckDB, so the watchdog repeats it until the statement ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


class Slots:
    """At most `limit` concurrent holders per key."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[Hashable, int] = {}
        self._cond = threading.Condition()

    def acquire(self, key: Hashable, wait: float = 0.0) -> bool:
        """Take a slot for `key`, waiting up to `wait` seconds for one; False if none came."""
        deadline = time.monotonic() + wait
        with self._cond:
            while self._held.get(key, 0) >= self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            self._held[key] = self._held.get(key, 0) + 1
            return True

    def release(self, key: Hashable) -> None:
        with self._cond:
            n = self._held.get(key, 0) - 1
            if n > 0:
                self._held[key] = n
            else:
                self._held.pop(key, None)
            self._cond.notify_all()

    def held(self, key: Hashable) -> int:
        """How many slots `key` holds now."""
        with self._cond:
            return self._held.get(key, 0)


@dataclass(eq=False)
class Watch:
    """One statement under the watchdog; `fired` says why it was interrupted (None: it was not)."""

    target: Interruptible
    deadline: float
    stop: Callable[[], bool] | None = None
    fired: str | None = field(default=None)


# How often the watchdog repeats an interrupt, and how often it asks `stop()` of a statement.
REPEAT_S = 0.05
POLL_STOP_S = 0.25


class Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[Watch] = set()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(
        self, target: Interruptible, budget: float, stop: Callable[[], bool] | None = None
    ) -> Iterator[Watch]:
        """Interrupt `target` once `budget` seconds have passed (or `stop()` is true) until the
        block ends; the block learns why from the yielded `Watch.fired`."""
        w = Watch(target, time.monotonic() + budget, stop)
        with self._cond:
            self._watches.add(w)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="selfcare-query-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        try:
            yield w
        finally:
            with self._cond:  # after this, no interrupt reaches the target for this statement
                self._watches.discard(w)

    def _check(self, w: Watch, now: float) -> float:
        """Interrupt `w` if it is due and return how long until it needs looking at again."""
        if w.fired is None:
            if now >= w.deadline:
                w.fired = "budget"
            elif w.stop is not None and _safe(w.stop):
                w.fired = "stopped"
        if w.fired is not None:
            # a cursor closed meanwhile has nothing left to stop
            with contextlib.suppress(Exception):
                w.target.interrupt()
            return REPEAT_S
        left = w.deadline - now
        return min(left, POLL_STOP_S) if w.stop is not None else left

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                waits = [self._check(w, now) for w in list(self._watches)]
                self._cond.wait(min(waits) if waits else None)


def _safe(stop: Callable[[], bool]) -> bool:
    try:
        return bool(stop())
    except Exception:  # noqa: BLE001 - a stop test that fails must not stop the watchdog
        return False
