"""What the store hands out, and how a row of its tables becomes one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from typing import Any

from .. import fleetstate
from ..models import DiffStat, Session, Status, Waiting, WaitingOption


@dataclass(frozen=True)
class CachedSession:
    """A session as the store remembers it: the reducer's state, and when it last heard."""

    state: fleetstate.SessionState
    updated: float

    @property
    def session(self) -> Session:
        return self.state.session

    @property
    def gone(self) -> bool:
        return self.state.gone  # the host no longer lists it (kept: never silently dropped)

    @property
    def unread(self) -> int:
        return self.state.unread  # status changes + output lines since the person looked

    @property
    def output_cursor(self) -> int:
        return self.state.output_cursor


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    host: str
    session: str | None
    kind: str
    detail: dict[str, Any]
    outcome: str = ""  # done, refused, failed; "" for what is not an action (or still open)
    reason: str = ""  # why it was refused or failed


@dataclass(frozen=True)
class Decision:
    id: int
    at: float
    host: str
    session: str
    fingerprint: str
    hunk: int
    action: str
    note: str
    patch: str


@dataclass(frozen=True)
class CachedHost:
    """A host as the store remembers it: its link when last recorded, and its journal cursor."""

    name: str
    target: str  # the ssh target it was reached at
    state: str  # "connected" or "unreachable"; "" while only its cursor was stored
    reason: str  # why it was unreachable
    last_seen: float  # when it was last recorded connected (0: never)
    watch_cursor: int | None  # the last journal event applied (None: none yet)


@dataclass(frozen=True)
class Output:
    """What is kept of a session's output log from `start` (an offset in the host's log) on:
    contiguous, so it ends at a gap or at the output cursor."""

    start: int
    data: bytes

    @property
    def end(self) -> int:
        """The offset to read on from (past a gap, if the output stopped at one)."""
        return self.start + len(self.data)


# Every session with its output cursor (output may have arrived before the session was known,
# so cursors live in their own table).
SELECT_SESSIONS = (
    "SELECT sessions.*, outputs.cursor AS cursor FROM sessions LEFT JOIN outputs "
    "ON outputs.host = sessions.host AND outputs.session = sessions.id"
)


def _waiting(text: str | None) -> Waiting | None:
    """A stored waiting object (written by this store from a checked one)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        options = tuple(
            WaitingOption(str(o["key"]), str(o["label"])) for o in data.get("options", ())
        )
        return Waiting(
            str(data["kind"]),
            str(data["tool"]),
            str(data["input"]),
            options,
            str(data.get("id", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def cached_session(row: sqlite3.Row) -> CachedSession:
    """A row of SELECT_SESSIONS."""
    session = Session(
        id=row["id"],
        name=row["name"],
        host=row["host"],
        agent=row["agent"],
        status=_status(row["status"]),
        branch=row["branch"],
        worktree=row["worktree"],
        repo=row["repo"],
        base=row["base"],
        task=row["task"],
        created=row["created"],
        status_since=row["status_since"],
        exit_code=row["exit_code"],
        diffstat=DiffStat(row["added"], row["removed"], row["files"], row["approved"]),
        agent_session_id=row["agent_session_id"],
        waiting=_waiting(row["waiting"]),
    )
    cursor = int(row["cursor"] or 0)
    state = fleetstate.SessionState(session, bool(row["gone"]), int(row["unread"]), cursor)
    return CachedSession(state=state, updated=float(row["updated"]))


def audit_entry(row: sqlite3.Row) -> AuditEntry:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        detail = {"raw": row["detail"]}
    return AuditEntry(
        id=int(row["id"]),
        at=float(row["at"]),
        host=str(row["host"]),
        session=row["session"],
        kind=str(row["kind"]),
        detail=detail if isinstance(detail, dict) else {"value": detail},
    )


OUTCOME = "outcome"
"""The audit kind of an action's outcome: {"of": its kind, "outcome": done|refused|failed,
"reason": why}, appended after the action (the log is append-only: nothing is rewritten)."""


def with_outcomes(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Each outcome folded into the action it ends (the latest open one of its kind on that
    session); outcome entries of actions not shown (or unmatched) are dropped from the list."""
    shown: list[AuditEntry] = []
    open_actions: dict[tuple[str, str | None, str], int] = {}
    for entry in entries:
        if entry.kind != OUTCOME:
            open_actions[(entry.host, entry.session, entry.kind)] = len(shown)
            shown.append(entry)
            continue
        key = (entry.host, entry.session, str(entry.detail.get("of", "")))
        at = open_actions.pop(key, None)
        if at is not None:
            shown[at] = replace(
                shown[at],
                outcome=str(entry.detail.get("outcome", "")),
                reason=str(entry.detail.get("reason", "")),
            )
    return shown


def decision(row: sqlite3.Row) -> Decision:
    return Decision(
        id=int(row["id"]),
        at=float(row["at"]),
        host=str(row["host"]),
        session=str(row["session"]),
        fingerprint=str(row["fingerprint"]),
        hunk=int(row["hunk"]),
        action=str(row["action"]),
        note=str(row["note"]),
        patch=str(row["patch"]),
    )


def cached_host(row: sqlite3.Row) -> CachedHost:
    cursor = row["watch_cursor"]
    return CachedHost(
        name=str(row["name"]),
        target=str(row["target"]),
        state=str(row["state"]),
        reason=str(row["reason"]),
        last_seen=float(row["last_seen"]),
        watch_cursor=None if cursor is None else int(cursor),
    )


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        return Status.LOST
