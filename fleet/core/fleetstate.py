"""What the fleet's state means: one reducer, used by the store, the CLI and the TUI.

A session's state is what its host last said (a :class:`Session`) plus what fleet adds:
`gone` (the host no longer lists it; kept, never silently dropped) and `unread` (status
changes and output lines since the person last looked). A host's state is its link, and a
session whose host is unreachable shows as lost. The rules are pure functions over typed
events (fleet.core.events): the store applies them inside its transactions, and the TUI and
`fleet watch` hold a :class:`FleetState` in memory, so `fleet ls` and the grid can never
disagree about what a session is.

Unread counts each status change once and each output line once: output is history with a
byte cursor, so bytes that arrive again (a replay after a reconnect) are not counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from . import events
from .models import Session, Status
from .usage import ZERO, Counts, SessionUsage, add_counts

HostStateName = Literal["connecting", "connected", "reconnecting", "unreachable"]
UNREACHABLE_AFTER = 2
"""Failed connection attempts in a row after which a host counts as unreachable (its
sessions then show as lost); before that it is only reconnecting."""
GONE = "gone"
LIVE = frozenset({Status.STARTING, Status.WORKING, Status.NEEDS_INPUT, Status.IDLE})

Key = tuple[str, str]  # (host, session id)


@dataclass(frozen=True, slots=True)
class SessionState:
    session: Session
    gone: bool = False
    unread: int = 0
    output_cursor: int = 0  # bytes of the host's output log already counted
    usage: SessionUsage = field(default_factory=SessionUsage)  # what its agent's records say

    @property
    def key(self) -> Key:
        return (self.session.host, self.session.id)


@dataclass(frozen=True, slots=True)
class HostState:
    name: str
    state: HostStateName
    reason: str = ""
    retry_at: float | None = None  # when the next connection attempt is due (reconnecting)

    @property
    def lost(self) -> bool:
        return self.state == "unreachable"


def shown_status(state: SessionState, host: HostState | None = None) -> str:
    """The status a person is shown: `gone` and `lost` win over what the host last said."""
    if state.gone:
        return GONE
    if host is not None and host.lost:
        return str(Status.LOST)
    return str(state.session.status)


# -- rules ---------------------------------------------------------------------------------------


def counted_output(cursor: int, offset: int, data: bytes) -> tuple[int, bytes]:
    """(the cursor after `data` at `offset`, the bytes of it not counted before)."""
    end = offset + len(data)
    if not data or end <= cursor:
        return cursor, b""
    return end, data[max(0, cursor - offset) :]


def cursor_after_gap(cursor: int, start: int, end: int) -> int:
    """The cursor after the host said its log skips from `start` to `end`: forward over
    lost bytes, or back to `end` when the log started over (end < start)."""
    if end < start and end < cursor:
        return end
    return max(cursor, end)


def upserted(state: SessionState | None, session: Session) -> SessionState:
    """A session as its host describes it now: fleet's own counts stay, `gone` clears."""
    if state is None:
        return SessionState(session)
    return replace(state, session=session, gone=False)


def apply_session(state: SessionState | None, event: events.Event) -> SessionState | None:
    """The session's state after one event about it (None: still unknown)."""
    match event:
        case events.SessionCreated(info=Session() as info):
            return upserted(state, info)
        case _ if state is None:
            return None
        case events.StatusChanged():
            session = replace(
                state.session,
                status=event.status,
                status_since=event.at or state.session.status_since,
                exit_code=event.exit_code,
                waiting=event.waiting if event.status == Status.NEEDS_INPUT else None,
            )
            return replace(state, session=session, unread=state.unread + 1)
        case events.DiffStatChanged():
            return replace(state, session=replace(state.session, diffstat=event.diffstat))
        case events.SessionRemoved():
            return replace(state, gone=True)
        case events.OutputArrived():
            cursor, new = counted_output(state.output_cursor, event.offset, event.data)
            lines = new.count(b"\n")
            if cursor == state.output_cursor and not lines:
                return state
            return replace(state, output_cursor=cursor, unread=state.unread + lines)
        case events.UsageReported():
            spent = state.usage.counted(event.records, event.at)
            return state if spent is state.usage else replace(state, usage=spent)
        case events.OutputGap():
            cursor = cursor_after_gap(state.output_cursor, event.start, event.end)
            return state if cursor == state.output_cursor else replace(state, output_cursor=cursor)
    return state


def apply_host(
    host: HostState | None, event: events.Event, now: Callable[[], float] = time.time
) -> HostState | None:
    """The host's link state after one event of its stream (None: not a link event)."""
    match event:
        case events.Hello():
            return HostState(event.host, "connected")
        case events.LinkDown():
            state: HostStateName = (
                "unreachable" if event.failures >= UNREACHABLE_AFTER else "reconnecting"
            )
            return HostState(event.host, state, event.reason, now() + event.retry_in)
    return host


# -- the whole fleet, in memory ------------------------------------------------------------------


@dataclass
class Change:
    """What one event changed: the sessions whose state moved, and whether the order of a
    status-sorted view may have (a status, gone, lost, or a session came or went)."""

    sessions: set[Key] = field(default_factory=set)
    order: bool = False
    hosts: bool = False
    usage: bool = False  # what a session spent moved

    def __bool__(self) -> bool:
        return bool(self.sessions or self.order or self.hosts or self.usage)


class FleetState:
    """Every session and host fleet knows, kept by the rules above."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.sessions: dict[Key, SessionState] = {}
        self.hosts: dict[str, HostState] = {}
        self.clock = clock
        # (host, day, model) -> the counts of every session of the host: a host's or the
        # fleet's day without adding up every session on each event.
        self.spent: dict[tuple[str, str, str], Counts] = {}

    def spent_on(self, day: str, host: str | None = None) -> dict[str, Counts]:
        """model -> the counts the fleet (or one host) spent on `day` (the local day)."""
        out: dict[str, Counts] = {}
        for (h, d, model), counts in self.spent.items():
            if d == day and (host is None or h == host):
                out[model] = add_counts(out.get(model, ZERO), counts)
        return out

    def host(self, name: str) -> HostState | None:
        return self.hosts.get(name)

    def shown(self, key: Key) -> str:
        state = self.sessions[key]
        return shown_status(state, self.hosts.get(key[0]))

    def apply(self, event: events.Event) -> Change:
        change = Change()
        match event:
            case events.Snapshot():
                self._reconcile(event.host, event.sessions, change)
            case events.Hello() | events.LinkDown():
                self._set_host(apply_host(self.hosts.get(event.host), event, self.clock), change)
            case events.JournalEvent() | events.OutputArrived() | events.OutputGap():
                key = (event.host, event.session)
                self._put(key, apply_session(self.sessions.get(key), event), change)
        return change

    def upsert(self, session: Session, *, gone: bool = False) -> Change:
        """A session a helper described (a listing, `new`, `stop`, `resume`)."""
        change = Change()
        key = (session.host, session.id)
        self._put(key, replace(upserted(self.sessions.get(key), session), gone=gone), change)
        return change

    def load(self, state: SessionState) -> Change:
        """A session as the local store remembers it (before its host answers)."""
        change = Change()
        self._put(state.key, state, change)
        return change

    def set_host(self, name: str, state: HostStateName, reason: str = "") -> Change:
        change = Change()
        self._set_host(HostState(name, state, reason), change)
        return change

    def mark_read(self, key: Key) -> Change:
        change = Change()
        state = self.sessions.get(key)
        if state is not None and state.unread:
            self._put(key, replace(state, unread=0), change)
        return change

    def remove(self, key: Key) -> Change:
        change = Change()
        old = self.sessions.pop(key, None)
        if old is not None:
            self._count(key[0], old.usage, -1)
            change.sessions.add(key)
            change.order = True
        return change

    def _count(self, host: str, usage: SessionUsage, sign: int) -> None:
        for (day, model), counts in usage.totals.items():
            key = (host, day, model)
            self.spent[key] = add_counts(self.spent.get(key, ZERO), counts, sign)

    def _reconcile(self, host: str, sessions: Iterable[Session], change: Change) -> None:
        listed = set()
        for session in sessions:
            key = (host, session.id)
            listed.add(key)
            self._put(key, upserted(self.sessions.get(key), session), change)
        for key, state in list(self.sessions.items()):
            if key[0] == host and key not in listed and not state.gone:
                self._put(key, replace(state, gone=True), change)

    def _put(self, key: Key, new: SessionState | None, change: Change) -> None:
        if new is None:
            return
        old = self.sessions.get(key)
        if old == new:
            return
        self.sessions[key] = new
        change.sessions.add(key)
        if (old.usage.totals if old is not None else {}) != new.usage.totals:
            if old is not None:
                self._count(key[0], old.usage, -1)
            self._count(key[0], new.usage, +1)
            change.usage = True
        if old is None or _order_fields(old) != _order_fields(new):
            change.order = True

    def _set_host(self, new: HostState | None, change: Change) -> None:
        if new is None:
            return
        old = self.hosts.get(new.name)
        if old == new:
            return
        self.hosts[new.name] = new
        change.hosts = True
        if (old is not None and old.lost) != new.lost:
            change.order = True
            change.sessions.update(k for k in self.sessions if k[0] == new.name)


def _order_fields(state: SessionState) -> tuple[object, ...]:
    """What a view's order or filter may depend on."""
    s = state.session
    return (state.gone, s.status, s.name, s.agent, s.task)
