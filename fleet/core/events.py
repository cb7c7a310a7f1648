"""What a host says, as typed events: one frozen dataclass per kind.

Events are made in one place, fleet.core.remote.untrusted, from the checked JSON a host's
watch stream carries (its wire shapes live in fleet.core.remote.hostside.protocol); every
consumer (the store, the reducer in fleet.core.fleetstate, the faces) matches on these
classes. Their text is already inert and bounded, their ids valid, their numbers in range.

Journal events carry the host's sequence number (`seq`) and time (`at`): they are history,
replayed from a cursor after any reconnect, and applied exactly once. The others are state
(the latest screen), raw output (resumable by byte offset) or link news.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .models import DiffStat, Session, Status, Waiting
from .usage import UsageRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"  # its name on the wire (and in `fleet watch --json`)
    host: str


# -- journal events: numbered, replayed from a cursor ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEvent(Event):
    seq: int
    at: float  # when it happened, by the host's clock
    session: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged(JournalEvent):
    kind: ClassVar[str] = "status"
    status: Status
    prev: Status | None = None
    exit_code: int | None = None
    waiting: Waiting | None = None  # what a needs-input session waits for, when its agent said


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffStatChanged(JournalEvent):
    kind: ClassVar[str] = "diffstat"
    diffstat: DiffStat


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCreated(JournalEvent):
    kind: ClassVar[str] = "created"
    info: Session | None = None  # None from helpers that did not describe it


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRemoved(JournalEvent):
    kind: ClassVar[str] = "removed"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointMade(JournalEvent):
    kind: ClassVar[str] = "checkpoint"
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided(JournalEvent):
    """A review decision, made by any fleet (this one, the CLI, another laptop)."""

    kind: ClassVar[str] = "decision"
    n: int  # the decision's number on the host
    action: str  # approve, reject, undo
    hunks: tuple[str, ...] = ()  # fingerprints of the hunks it acted on
    undid: int = 0  # for an undo: the decision it reversed
    version: int = 0  # the session's review version after it (a diff names the one it saw)


@dataclass(frozen=True, slots=True, kw_only=True)
class InputTyped(JournalEvent):
    """Fleet typed what waited in the session's outbox."""

    kind: ClassVar[str] = "input"
    what: str  # "task": the first message, typed once the agent was ready; "note": a reject's


@dataclass(frozen=True, slots=True, kw_only=True)
class InputQueued(JournalEvent):
    """What fleet would type waits in the session's outbox until the agent is at its input."""

    kind: ClassVar[str] = "queued"
    what: str  # "note", "task"
    why: str  # "at a prompt", "working"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionError(JournalEvent):
    kind: ClassVar[str] = "error"
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalReceived(JournalEvent):
    """What an agent's own hook told its host (the status it makes arrives as StatusChanged)."""

    kind: ClassVar[str] = "signal"
    agent: str
    event: str  # the agent's own name for it: "PermissionRequest", "session.idle" ...
    state: Status | None = None  # the status it claims, if any
    waiting: Waiting | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReported(JournalEvent):
    """Requests the session's agent made, as its own records say (read on the host). A
    record may come again (a replay, a re-read): its id makes it count once."""

    kind: ClassVar[str] = "usage"
    agent: str
    records: tuple[UsageRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherJournalEvent(JournalEvent):
    """A journal kind this fleet does not know (an older helper's): its cursor still moves."""

    name: str  # the kind it had on the wire


# -- the watch stream's own events ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(Event):
    """Every session of the host, as of journal `seq`: what the journal cannot replay (a
    first contact, a rotated or rebuilt journal) is made good by this."""

    kind: ClassVar[str] = "snapshot"
    seq: int
    sessions: tuple[Session, ...]
    gap: bool = False  # the cursor asked for was no longer in the journal


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello(Event):
    """The stream is live from journal `seq` on; `head`: the journal's last event then."""

    kind: ClassVar[str] = "hello"
    seq: int
    version: str
    head: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(Event):
    kind: ClassVar[str] = "heartbeat"
    seq: int | None
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreenChanged(Event):
    kind: ClassVar[str] = "screen"
    session: str
    digest: str
    text: str  # the pane as captured: NOT yet inert (faces make it so when they show it)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputArrived(Event):
    kind: ClassVar[str] = "output"
    session: str
    offset: int  # of data[0] in the session's output log on the host
    data: bytes  # raw (escape sequences and all): shown only through fleet.core.textsafe


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputGap(Event):
    """The host's log skips from `start` to `end` (end < start: the log started over)."""

    kind: ClassVar[str] = "output-gap"
    session: str
    start: int
    end: int


# -- made on this side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDown(Event):
    """The host's watch stream broke; the supervisor tries again in `retry_in` seconds."""

    kind: ClassVar[str] = "link"
    reason: str
    retry_in: float
    failures: int  # connection attempts that failed in a row (0: it was up until now)


WatchEvent = (
    StatusChanged
    | DiffStatChanged
    | SessionCreated
    | SessionRemoved
    | CheckpointMade
    | Decided
    | InputTyped
    | InputQueued
    | SessionError
    | SignalReceived
    | UsageReported
    | OtherJournalEvent
    | Snapshot
    | Hello
    | Heartbeat
    | ScreenChanged
    | OutputArrived
    | OutputGap
    | LinkDown
)
"""Everything Supervisor.watch and Supervisor.mirror yield."""


def as_json(event: Event) -> dict[str, Any]:
    """The event as `fleet watch --json` prints it: its wire kind as "type", its fields, the
    host's time as "t"; raw output and screen text left out (they are not for a log line)."""
    out: dict[str, Any] = {
        "type": event.name if isinstance(event, OtherJournalEvent) else event.kind
    }
    for f in fields(event):
        value = getattr(event, f.name)
        if f.name == "name" and isinstance(event, OtherJournalEvent):
            continue
        if isinstance(event, OutputArrived | ScreenChanged) and f.name in ("data", "text"):
            continue
        key = "t" if f.name == "at" else f.name
        out[key] = _plain(value)
    if isinstance(event, OutputArrived):
        out["length"] = len(event.data)
    if isinstance(event, ScreenChanged):
        out["hash"] = out.pop("digest")
    if isinstance(event, LinkDown):
        out["state"] = "reconnecting"
    if isinstance(event, OutputGap):
        out["from"], out["to"] = out.pop("start"), out.pop("end")
    return out


def _plain(value: object) -> object:
    if isinstance(value, Session):
        return value.to_json()
    if isinstance(value, DiffStat):
        return value.to_json()
    if isinstance(value, Status):
        return str(value)
    if isinstance(value, Waiting):
        return value.to_json()
    if isinstance(value, UsageRecord):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
