"""The lifecycle of a support ticket, as data, and its service clock.

    new --open--> open --pend--> pending --resume--> open
     |             |                |
     +-------------+----resolve-----+--> resolved --close--> closed
                                            |  ^
                            reopen (raiser, |  | within REOPEN_DAYS of the resolution)
                                            v  |
                                            open

`pend` means waiting on the customer: the service clock pauses until `resume` (an agent, or the
raiser's reply) or `resolve`. A resolved ticket closes itself after REOPEN_DAYS (`close` by the
system, the worker's periodic step), or earlier when the raiser or an agent closes it.

The clock (`clock`): the first response is the first thing an agent (not the raiser) does that
the raiser sees: a comment, asking for information (`pend`) or resolving. The resolution time is
from raising to the latest resolution, less the time spent pending and the time spent resolved
before a reopen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from selfcare.tickets import TicketError

REOPEN_DAYS = 14


class TicketState(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Actor(StrEnum):
    RAISER = "raiser"  # the person who raised the ticket
    AGENT = "agent"  # a Support agent, or an Administrator of the ticket's tenant
    SYSTEM = "system"  # the worker (auto-close)


@dataclass(frozen=True)
class Transition:
    event: str
    sources: frozenset[TicketState]
    target: TicketState
    actors: frozenset[Actor]
    label: str  # what a button says


def _t(
    event: str,
    sources: Iterable[TicketState],
    target: TicketState,
    actors: Iterable[Actor],
    label: str,
) -> Transition:
    return Transition(event, frozenset(sources), target, frozenset(actors), label)


S = TicketState
TRANSITIONS: tuple[Transition, ...] = (
    _t("open", [S.NEW], S.OPEN, [Actor.AGENT], "Start work"),
    _t("pend", [S.NEW, S.OPEN], S.PENDING, [Actor.AGENT], "Wait for the customer"),
    _t("resume", [S.PENDING], S.OPEN, [Actor.AGENT, Actor.RAISER], "Resume work"),
    _t("resolve", [S.NEW, S.OPEN, S.PENDING], S.RESOLVED, [Actor.AGENT], "Resolve"),
    _t("reopen", [S.RESOLVED], S.OPEN, [Actor.RAISER], "Reopen"),
    _t("close", [S.RESOLVED], S.CLOSED, [Actor.RAISER, Actor.AGENT, Actor.SYSTEM], "Close"),
)
del S

EVENTS: dict[str, Transition] = {t.event: t for t in TRANSITIONS}
STATES: tuple[str, ...] = tuple(s.value for s in TicketState)
# The events an agent's action counts as the first response for.
RESPONSES = frozenset({"pend", "resolve"})


class IllegalTransition(TicketError):
    """The event cannot happen in the ticket's current state (409)."""

    status = 409

    def __init__(self, state: TicketState | str, event: str, why: str | None = None):
        self.state = TicketState(state)
        self.event = event
        super().__init__(why or f"cannot {event} a ticket that is {self.state.value}")


class UnknownEvent(TicketError):
    status = 400
    field = "state"

    def __init__(self, event: str):
        super().__init__(f"state: unknown ticket transition {event!r}")


class WrongActor(TicketError):
    """The event exists but this kind of actor does not take it (403)."""

    status = 403

    def __init__(self, event: str):
        super().__init__(f"you may not {event} this ticket")


def transition(event: str) -> Transition:
    try:
        return EVENTS[event]
    except KeyError:
        raise UnknownEvent(event) from None


def event_to(state: str) -> str:
    """The event that leads to `state` (the API's `{"state": ...}`); reopen and resume both
    lead to open: the caller picks by the current state (`event_for`)."""
    for t in TRANSITIONS:
        if t.target.value == state:
            return t.event
    raise UnknownEvent(state)


def event_for(current: TicketState | str, target: str) -> str:
    """The event from `current` to `target` (UnknownEvent if no transition leads there)."""
    current = TicketState(current)
    for t in TRANSITIONS:
        if t.target.value == target and current in t.sources:
            return t.event
    if target not in STATES:
        raise UnknownEvent(target)
    raise IllegalTransition(
        current, f"move to {target}", f"a ticket that is {current.value} cannot become {target}"
    )


def apply(state: TicketState | str, event: str, actors: Iterable[Actor | str]) -> TicketState:
    """The state after `event`, taken by someone acting as `actors`; raises when not allowed
    (the actor is checked before the state, so a refusal never tells the state)."""
    t = transition(event)
    kinds = {Actor(a) for a in actors}
    if not kinds & t.actors:
        raise WrongActor(event)
    state = TicketState(state)
    if state not in t.sources:
        raise IllegalTransition(state, event)
    return t.target


def allowed_events(state: TicketState | str, actors: Iterable[Actor | str]) -> tuple[str, ...]:
    state = TicketState(state)
    kinds = {Actor(a) for a in actors}
    return tuple(t.event for t in TRANSITIONS if state in t.sources and kinds & t.actors)


def reopen_until(resolved_at: datetime) -> datetime:
    return resolved_at + timedelta(days=REOPEN_DAYS)


def may_reopen(resolved_at: datetime | None, now: datetime) -> bool:
    return resolved_at is not None and now < reopen_until(resolved_at)


def is_due_to_close(state: TicketState | str, resolved_at: datetime | None, now: datetime) -> bool:
    return (
        TicketState(state) is TicketState.RESOLVED
        and resolved_at is not None
        and now >= reopen_until(resolved_at)
    )


@dataclass(frozen=True)
class Clock:
    """Service times in seconds, pending time (and time resolved before a reopen) left out."""

    first_response_seconds: int | None  # None: no response yet
    resolution_seconds: int | None  # None: not resolved (or reopened since)
    working_seconds: int  # on the clock so far (to the resolution, or to `now`)


def clock(
    created_at: datetime,
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    pending_seconds: int,
    resolved_seconds: int,
    pending_since: datetime | None,
    now: datetime,
) -> Clock:
    end = resolved_at or now
    paused = pending_seconds + resolved_seconds
    if pending_since is not None and resolved_at is None:
        paused += max(0, int((now - pending_since).total_seconds()))
    working = max(0, int((end - created_at).total_seconds()) - paused)
    first = None
    if first_response_at is not None:
        first = max(0, int((first_response_at - created_at).total_seconds()))
    return Clock(first, working if resolved_at is not None else None, working)
