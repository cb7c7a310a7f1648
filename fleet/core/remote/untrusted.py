"""What a host says, checked before anything local acts on it.

A host (or whatever answers in its helper's place: a compromised machine) may send anything:
malformed or huge JSON, bytes that are not UTF-8, session ids like ``../../x`` that would name
a path, numbers too big for SQLite, NaN, escape sequences in names. Everything that comes off
the wire goes through here first. A malformed session is a RemoteError (kind "protocol"); a
malformed watch event is dropped and logged, so one bad line never stops a host's stream.

Session ids and names must match the helper's own rules (fleet.core.remote.hostside.layout):
an id names directories under fleet's state dir, so nothing else may pass. Free text (agent,
branch, paths, task) is made inert and bounded here, once, so every face shows it safely.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import events
from ..errors import RemoteError
from ..models import WAITING_KINDS, DiffStat, Session, Status, Waiting, WaitingOption
from ..textsafe import inert, said
from ..usage import UsageRecord
from .hostside import protocol
from .hostside.layout import ID_RE, NAME_RE

log = logging.getLogger("fleet.remote")

MAX_EVENT = protocol.MAX_EVENT
MAX_SCREEN = 1024 * 1024
"""Characters of one screen event's text; a pane's capture is a few tens of KB."""
MAX_TEXT = 4096
"""Characters kept of a session's short fields (agent, branch, paths, base)."""
MAX_TASK = 64 * 1024
MAX_MESSAGE = 2000
"""Characters of an error message from a host that a person is shown."""
MAX_INT = 2**53  # exact in JSON and in a float; far below SQLite's 2**63
MAX_HUNKS = 100_000  # fingerprints one decision may name
MAX_RECORDS = 1000  # usage records in one event (the host sends at most USAGE_BATCH)
_RECORD_ID_RE = re.compile(r"^[\x21-\x7e]{1,200}\Z")  # printable ASCII, no blank
_HASH_RE = re.compile(r"^[0-9a-f]{1,64}\Z")
_STATUSES = frozenset(str(s) for s in Status)


class Malformed(ValueError):
    """One field of what a host sent is not what the protocol allows."""


def session_id(value: object) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise Malformed(f"invalid session id {said(repr(value), 80)}")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise Malformed(f"invalid session name {said(repr(value), 80)}")
    return value


def _count(value: object, what: str, default: int | None = 0) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise Malformed(f"invalid {what} {said(repr(value), 40)}")
    return value


def _code(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**31:
        raise Malformed(f"invalid exit code {said(repr(value), 40)}")
    return value


def _time(value: object, what: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"invalid {what} {said(repr(value), 40)}")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise Malformed(f"invalid {what} {said(repr(value), 40)}")
    number = float(value)
    if not math.isfinite(number):
        raise Malformed(f"invalid {what} {value!r}")
    return number


def _text(value: object, what: str, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"invalid {what}: a {type(value).__name__}, not text")
    return inert(value[: 4 * limit])[:limit]


_BAD_REF = re.compile(r"\.\.|//|@\{|[\x00-\x20\x7f~^:?*\[\\]|^[-/.]|[/.]\Z|\.lock\Z|/\.")


def _branch(value: object) -> str:
    """A branch name git would accept (git check-ref-format): it becomes a refspec locally."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 255 or _BAD_REF.search(value):
        raise Malformed(f"invalid branch {said(repr(value), 80)}")
    return value


def _status(value: object) -> Status:
    if not isinstance(value, str) or value not in _STATUSES:
        raise Malformed(f"invalid status {said(repr(value), 40)}")
    return Status(value)


def _diffstat(value: object) -> DiffStat:
    if value is None:
        return DiffStat()
    if not isinstance(value, Mapping):
        raise Malformed("invalid diffstat: not an object")
    keys = ("added", "removed", "files", "approved")
    return DiffStat(*(_count(value.get(k), f"diffstat {k}") for k in keys))


def _waiting(value: object) -> Waiting | None:
    """What a session waits for: a kind fleet knows, one short inert line each field."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Malformed("invalid waiting: not an object")
    kind = value.get("kind")
    if kind not in WAITING_KINDS:
        raise Malformed(f"invalid waiting kind {said(repr(kind), 40)}")
    limit = protocol.MAX_SIGNAL_FIELD
    request = _text(value.get("id"), "waiting id", 64)
    if not _REQUEST_ID.match(request):
        raise Malformed(f"invalid waiting id {said(repr(request), 40)}")
    return Waiting(
        kind=str(kind),
        tool=_text(value.get("tool"), "waiting tool", 80),
        input=_text(value.get("input"), "waiting input", limit),
        options=_options(value.get("options")),
        id=request,
    )


_REQUEST_ID = re.compile(r"\A[0-9a-f]{0,64}\Z")
_OPTION_KEY = re.compile(r"\A[0-9A-Za-z]{1,3}\Z")


def _options(value: object) -> tuple[WaitingOption, ...]:
    """A dialog's answers: at most MAX_OPTIONS, each a short key and a one-line label."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > protocol.MAX_OPTIONS:
        raise Malformed("invalid waiting options: not a short list")
    out = []
    for item in value:
        if not isinstance(item, Mapping):
            raise Malformed("invalid waiting option: not an object")
        key = _text(item.get("key"), "option key", 8)
        if not _OPTION_KEY.match(key):
            raise Malformed(f"invalid option key {said(repr(key), 20)}")
        label = " ".join(_text(item.get("label"), "option label", 200).split())  # one line
        out.append(WaitingOption(key, label))
    return tuple(out)


def parse_session(host: str, data: object) -> Session:
    """A session as the host describes it; Malformed says which field is wrong."""
    if not isinstance(data, Mapping):
        raise Malformed(f"a session must be an object, not a {type(data).__name__}")
    agent_session = data.get("agent_session_id")
    return Session(
        id=session_id(data.get("id")),
        name=_name(data.get("name")),
        host=host,
        agent=_text(data.get("agent"), "agent"),
        status=_status(data.get("status", "starting")),
        branch=_branch(data.get("branch")),
        worktree=_text(data.get("worktree"), "worktree"),
        repo=_text(data.get("repo"), "repo"),
        base=_text(data.get("base"), "base"),
        task=_text(data.get("task"), "task", MAX_TASK),
        created=_time(data.get("created"), "created time"),
        status_since=_time(data.get("status_since"), "status time"),
        exit_code=_code(data.get("exit_code")),
        diffstat=_diffstat(data.get("diffstat")),
        agent_session_id=_text(agent_session, "agent session id") or None,
        waiting=_waiting(data.get("waiting")),
    )


def session(host: str, data: object) -> Session:
    """parse_session, as the RemoteError a caller reports (kind "protocol")."""
    try:
        return parse_session(host, data)
    except Malformed as exc:
        log.error("%s: rejected a session the host sent: %s", host, exc)
        raise RemoteError(host, "protocol", f"the host sent a malformed session: {exc}") from None


def _valid_rows(host: str, rows: list[Any]) -> list[tuple[int, Session]]:
    out = []
    for i, row in enumerate(rows):
        try:
            out.append((i, parse_session(host, row)))
        except Malformed as exc:
            log.error("%s: dropped a malformed session from the host's list: %s", host, exc)
    return out


def sessions(host: str, rows: object) -> list[Session]:
    """A host's listing: malformed rows are dropped and logged, the others kept."""
    if not isinstance(rows, list):
        raise RemoteError(host, "protocol", "the host's session list is not a list")
    return [s for _, s in _valid_rows(host, rows)]


# -- the watch stream -------------------------------------------------------------------------


def decode_line(line: bytes) -> dict[str, Any] | None:
    """One stream line as a JSON object, or None (malformed: the caller logs and goes on)."""
    if len(line) > MAX_EVENT:
        return None
    try:
        value = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


class LineSplitter:
    """Bytes in, complete lines out, none longer than `limit`: the rest of a longer line is
    skipped up to its newline and counted in `dropped` (memory stays bounded)."""

    def __init__(self, limit: int = MAX_EVENT) -> None:
        self.limit = limit
        self.dropped = 0
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            piece = data[start:end]
            if self._skipping:
                self._skipping = False
            elif len(self._buf) + len(piece) > self.limit:
                self.dropped += 1
            else:
                lines.append(bytes(self._buf + piece))
            self._buf.clear()
            start = end + 1
        rest = data[start:]
        if not self._skipping:
            if len(self._buf) + len(rest) > self.limit:
                self._buf.clear()
                self._skipping = True
                self.dropped += 1
            else:
                self._buf += rest
        return lines


def _seq(raw: Mapping[str, Any]) -> int:
    if raw.get("seq") is None:
        raise Malformed(f"a {raw.get('type')} event without a seq")
    return _count(raw["seq"], "seq")


def _journal(host: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every journal event has, checked."""
    if "session" not in raw:
        raise Malformed(f"a {raw.get('type')} event without a session")
    return {
        "host": host,
        "seq": _seq(raw),
        "at": _time(raw.get("t"), "time"),
        "session": session_id(raw["session"]),
    }


def _status_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    prev = raw.get("prev")
    return events.StatusChanged(
        **_journal(host, raw),
        status=_status(raw.get("status")),
        prev=_status(prev) if prev is not None else None,
        exit_code=_code(raw.get("exit_code")),
        waiting=_waiting(raw.get("waiting")),
    )


def _diffstat_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.DiffStatChanged(**_journal(host, raw), diffstat=_diffstat(raw.get("diffstat")))


def _created_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    fields = _journal(host, raw)
    info = raw.get("info")
    created = parse_session(host, info) if info is not None else None
    if created is not None and created.id != fields["session"]:
        raise Malformed("a created event about another session")
    return events.SessionCreated(**fields, info=created)


def _removed_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.SessionRemoved(**_journal(host, raw))


def _checkpoint_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.CheckpointMade(**_journal(host, raw), n=_count(raw.get("n"), "checkpoint"))


def _fingerprints(value: object) -> tuple[str, ...]:
    """Hunk fingerprints a decision names."""
    hunks = value or []
    if not isinstance(hunks, list) or len(hunks) > MAX_HUNKS:
        raise Malformed("invalid decision hunks")
    for fp in hunks:
        if not isinstance(fp, str) or not _HASH_RE.match(fp):
            raise Malformed("invalid hunk fingerprint in a decision")
    return tuple(hunks)


def _decision_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    action = raw.get("action")
    if action not in protocol.DECISION_ACTIONS:
        raise Malformed(f"invalid decision action {said(repr(action), 40)}")
    hunks = _fingerprints(raw.get("hunks"))
    return events.Decided(
        **_journal(host, raw),
        n=_count(raw.get("n"), "decision"),
        action=str(action),
        hunks=hunks,
        undid=_count(raw.get("undid"), "undone decision"),
        version=_count(raw.get("version"), "review version"),
    )


def _input_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.InputTyped(**_journal(host, raw), what=_text(raw.get("what"), "input", 40))


def _queued_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.InputQueued(
        **_journal(host, raw),
        what=_text(raw.get("what"), "input", 40),
        why=_text(raw.get("why"), "reason", 80),
    )


def _error_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    message = _text(raw.get("message"), "message", MAX_MESSAGE)
    return events.SessionError(**_journal(host, raw), message=message)


def _signal_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    state = raw.get("state")
    return events.SignalReceived(
        **_journal(host, raw),
        agent=_text(raw.get("agent"), "agent", 40),
        event=_text(raw.get("event"), "signal", 80),
        state=_status(state) if state is not None else None,
        waiting=_waiting(raw.get("waiting")),
    )


def _usage_record(value: object) -> UsageRecord:
    if not isinstance(value, Mapping):
        raise Malformed("a usage record that is not an object")
    ident = value.get("id")
    if not isinstance(ident, str) or not _RECORD_ID_RE.match(ident):
        raise Malformed(f"invalid usage record id {said(repr(ident), 80)}")
    counts = {k: _count(value.get(k), f"usage {k}") for k in protocol.USAGE_COUNTS}
    return UsageRecord(
        id=ident,
        model=_text(value.get("model"), "model", 200),
        at=_time(value.get("t"), "usage time"),
        **counts,
    )


def _usage_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    records = raw.get("records")
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise Malformed("a usage event without a record list (or with too many)")
    return events.UsageReported(
        **_journal(host, raw),
        agent=_text(raw.get("agent"), "agent", 80),
        records=tuple(_usage_record(r) for r in records),
    )


def _snapshot_event(
    host: str, raw: Mapping[str, Any], max_sessions: int | None = None
) -> events.WatchEvent:
    rows = raw.get("sessions")
    if not isinstance(rows, list):
        raise Malformed("a snapshot without a session list")
    if max_sessions is not None and len(rows) > max_sessions:
        log.error(
            "%s: the host lists %d sessions: following the first %d (max_sessions)",
            host,
            len(rows),
            max_sessions,
        )
        rows = rows[:max_sessions]
    # Malformed rows are dropped (logged); the rest go on.
    sessions = tuple(s for _, s in _valid_rows(host, rows))
    return events.Snapshot(host=host, seq=_seq(raw), sessions=sessions, gap=bool(raw.get("gap")))


def _hello_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    version = _text(raw.get("version"), "version", 80)
    head = None if raw.get("head") is None else _count(raw["head"], "head")
    return events.Hello(host=host, seq=_seq(raw), version=version, head=head)


def _heartbeat_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    seq = None if raw.get("seq") is None else _count(raw["seq"], "seq")
    return events.Heartbeat(host=host, seq=seq, at=_time(raw.get("t"), "time"))


def _stream_session(raw: Mapping[str, Any]) -> str:
    if "session" not in raw:
        raise Malformed(f"a {raw.get('type')} event without a session")
    return session_id(raw["session"])


def _screen_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    digest, text = raw.get("hash"), raw.get("text")
    if not isinstance(digest, str) or not _HASH_RE.match(digest):
        raise Malformed("a screen event without a valid hash")
    if not isinstance(text, str) or len(text) > MAX_SCREEN:
        raise Malformed("a screen event whose text is missing or too long")
    return events.ScreenChanged(host=host, session=_stream_session(raw), digest=digest, text=text)


def _output_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    sid = _stream_session(raw)
    offset = _count(raw.get("offset"), "output offset", None)
    data = raw.get("data")
    if not isinstance(data, str):
        raise Malformed("an output event without data")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("an output event whose data is not base64") from None
    return events.OutputArrived(host=host, session=sid, offset=offset, data=decoded)


def _gap_event(host: str, raw: Mapping[str, Any]) -> events.WatchEvent:
    return events.OutputGap(
        host=host,
        session=_stream_session(raw),
        start=_count(raw.get("from"), "gap start", None),
        end=_count(raw.get("to"), "gap end", None),
    )


_PARSERS: dict[str, Callable[[str, Mapping[str, Any]], events.WatchEvent]] = {
    protocol.STATUS: _status_event,
    protocol.DIFFSTAT: _diffstat_event,
    protocol.CREATED: _created_event,
    protocol.REMOVED: _removed_event,
    protocol.CHECKPOINT: _checkpoint_event,
    protocol.DECISION: _decision_event,
    protocol.INPUT: _input_event,
    protocol.QUEUED: _queued_event,
    protocol.ERROR: _error_event,
    protocol.SIGNAL: _signal_event,
    protocol.USAGE: _usage_event,
    protocol.SNAPSHOT: _snapshot_event,
    protocol.HELLO: _hello_event,
    protocol.HEARTBEAT: _heartbeat_event,
    protocol.SCREEN: _screen_event,
    protocol.OUTPUT: _output_event,
    protocol.OUTPUT_GAP: _gap_event,
}
"""One parser per kind the protocol defines (tests check none is missing)."""


def parse_event(
    host: str, raw: Mapping[str, Any], max_sessions: int | None = None
) -> events.WatchEvent:
    """The typed event of one stream line; Malformed says what is wrong with it. A snapshot
    keeps at most `max_sessions` sessions."""
    kind = raw.get("type")
    if not isinstance(kind, str) or len(kind) > 40:
        raise Malformed("an event without a type")
    if kind == protocol.SNAPSHOT:
        return _snapshot_event(host, raw, max_sessions)
    parser = _PARSERS.get(kind)
    if parser is not None:
        return parser(host, raw)
    if raw.get("seq") is not None:  # a journal kind this fleet does not know: its cursor moves
        return events.OtherJournalEvent(**_journal(host, raw), name=said(kind, 40))
    raise Malformed(f"an event of unknown type {said(repr(kind), 40)}")


def stream_failure(raw: Mapping[str, Any]) -> object | None:
    """The error a stream line reports about the stream itself (its helper failed), if any."""
    if raw.get("type") == protocol.STREAM_FAILED:
        return raw.get("error")
    return None


def tail_chunk(host: str, raw: Mapping[str, Any]) -> bytes | None:
    """The bytes of one tail event (b"" for one fleet cannot read: logged), None at its end."""
    kind = raw.get("type")
    if kind == protocol.TAIL_END:
        return None
    data = raw.get("data")
    if kind == protocol.TAIL_DATA and isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            pass
    log.error("%s: dropped a malformed tail event", host)
    return b""


def watch_event(
    host: str, raw: Mapping[str, Any], max_sessions: int | None = None
) -> events.WatchEvent | None:
    """The typed event, or None (logged): a bad event is skipped, never applied, and the
    stream goes on."""
    try:
        return parse_event(host, raw, max_sessions)
    except Malformed as exc:
        log.error("%s: dropped a malformed watch event: %s", host, exc)
        return None


MAX_ENGINE_OUT = 1024 * 1024
"""Characters of what a host's container engine printed that fleet reads (hostside/engine.py)."""


@dataclass(frozen=True)
class EngineAnswer:
    """What a container engine on a host said to one command (the `engine` op)."""

    code: int
    out: str  # stdout, as the engine printed it: parsed by the engine's code, never shown raw
    err: str  # stderr's end, inert: shown to the person when the command failed


def engine_answer(host: str, raw: object) -> EngineAnswer:
    """The `engine` op's answer, checked; RemoteError("protocol") when it is not one."""
    try:
        if not isinstance(raw, dict):
            raise Malformed("not an object")
        code = _code(raw.get("code"))
        out = raw.get("out", "")
        if code is None or not isinstance(out, str):
            raise Malformed("no exit code, or output that is not text")
        err = _text(raw.get("err"), "stderr", MAX_MESSAGE)
    except Malformed as exc:
        raise RemoteError(
            host, "protocol", f"the helper's engine answer is malformed: {exc}"
        ) from None
    return EngineAnswer(code=code, out=out[:MAX_ENGINE_OUT], err=err)
