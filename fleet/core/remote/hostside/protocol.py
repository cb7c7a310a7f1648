"""The helper's protocol, in one place, for both sides: every op, the size limits, and one
constructor per kind of event.

The host side (this package) builds every event it sends or journals through the
constructors below; the laptop side (fleet.core.remote.client, .untrusted, the demo and the
benchmark's simulated hosts) reads the op table and the limits from here. A new kind of
event is one constructor here, one dataclass in fleet.core.events and one parser in
fleet.core.remote.untrusted; `check_handlers` and the tests prove both sides agree.

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, FrozenSet, Iterable, List, NamedTuple, Optional

VERSION = 4
"""Bumped when an op or an event changes shape; `hello` answers it."""

# -- limits -------------------------------------------------------------------------------------

MAX_REQUEST = 256 * 1024 * 1024
"""Bytes of one request line the helper reads (a decision carries its patch: rejecting a
100,000-line file is a request of a few MB)."""
MAX_REQUEST_BODY = MAX_REQUEST - 1024 * 1024
"""Characters of a request's JSON the client sends: the id and the newline fit in the rest."""
MAX_ANSWER = 128 * 1024 * 1024
"""Bytes of one answer the client reads (a diff with big binary files fits); more is refused."""
MAX_EVENT = 16 * 1024 * 1024
"""Bytes of one stream line the client reads; a longer line is dropped."""
MAX_ERROR = 2000
"""Characters of an error message the helper sends back (it may quote what was sent)."""
OUTPUT_CHUNK = 64 * 1024
"""Bytes of raw output in one `output` event."""
TAIL_CHUNK = 256 * 1024
"""Bytes of raw output in one `data` event of a tail."""
MAX_STREAM_INPUT = 1024 * 1024
"""Bytes of one line the client sends on a running stream (hostside/inbox.py)."""
MAX_VISIBLE = 10000
"""Session ids in one `visible` list the helper takes; the rest are not looked at."""


# -- ops ----------------------------------------------------------------------------------------


class Op(NamedTuple):
    """One operation the helper answers.

    read_only: it changes nothing on the host, so the client may ask again after the channel
    died mid-call; any other op is asked again only when it certainly never left.
    streaming: it answers a line per event on a channel of its own, until the client leaves.
    answers: "object" or "list" (plain ops).
    watched: the host must be observed (the watcher started) once it ran.
    params: every argument it takes; the client refuses a call with any other.
    """

    name: str
    params: FrozenSet[str]
    read_only: bool = False
    streaming: bool = False
    answers: str = "object"
    watched: bool = False


def _op(name: str, params: Iterable[str] = (), **flags: Any) -> Op:
    return Op(name, frozenset(params), **flags)


_SEND = ("session", "text", "enter", "force", "mode", "enter_delay")
OPS: Dict[str, Op] = {
    op.name: op
    for op in (
        _op("hello", read_only=True),
        _op("list", read_only=True, answers="list", watched=True),
        _op(
            "new",
            (
                "agent",
                "repo",
                "task",
                "command",
                "first_message",
                "resume_command",
                "rules",
                "mode",
                "enter_delay",
                "sandbox",
                "name",
                "base",
                "signals",
            ),
            watched=True,
        ),
        _op("screen", ("session",), read_only=True),
        _op("send", _SEND, watched=True),
        _op("keys", ("session", "keys")),
        _op("answer", ("session", "pick", "option", "expect", "note", "mode", "enter_delay")),
        _op("stop", ("session",)),
        _op("resume", ("session", "command", "rules", "sandbox", "signals"), watched=True),
        _op("checkpoint", ("session", "reason")),
        _op("checkpoints", ("session",), read_only=True, answers="list"),
        _op("rewind", ("session", "n")),
        _op("diff", ("session", "view"), read_only=True),
        _op("approve", ("session", "patch", "expect", "commit", "message", "after")),
        _op("reject", ("session", "patch", "expect", "note", "after", "prose")),
        _op("undo", ("session",)),
        _op("decisions", ("session",), read_only=True, answers="list"),
        _op("push", ("session", "title", "body")),
        _op("land", ("session",)),
        _op("held", ("session",), read_only=True),
        _op("remove", ("session", "commit", "force")),
        _op("agent_versions", ("commands",), read_only=True),
        _op("tmux_repair"),
        _op("engine", ("program", "args", "timeout", "files")),
        _op("watch", ("since", "screens", "output", "visible"), read_only=True, streaming=True),
        _op("tail", ("session", "lines", "offset", "follow"), read_only=True, streaming=True),
    )
}


def check_handlers(plain: Iterable[str], streams: Iterable[str]) -> None:
    """Raise unless the handlers given are exactly the ops the protocol names, each of its
    kind: called where the helper builds its handler table, so a missing one fails at once."""
    plain, streams = set(plain), set(streams)
    want_plain = {n for n, op in OPS.items() if not op.streaming}
    want_streams = {n for n, op in OPS.items() if op.streaming}
    if plain != want_plain or streams != want_streams:
        raise AssertionError(
            "handlers disagree with the protocol: plain %s, streams %s"
            % (sorted(plain ^ want_plain), sorted(streams ^ want_streams))
        )


# -- events -------------------------------------------------------------------------------------
#
# Journal events are appended by the host (journal.Writer stamps "seq" and "t") and replayed
# from a cursor after any reconnect; stream events are sent on the watch channel only.

STATUS = "status"
DIFFSTAT = "diffstat"
CREATED = "created"
REMOVED = "removed"
CHECKPOINT = "checkpoint"
DECISION = "decision"
INPUT = "input"
QUEUED = "queued"
ERROR = "error"
SIGNAL = "signal"
USAGE = "usage"
JOURNAL_KINDS = frozenset(
    (STATUS, DIFFSTAT, CREATED, REMOVED, CHECKPOINT, DECISION, INPUT, QUEUED, ERROR, SIGNAL, USAGE)
)

SNAPSHOT = "snapshot"
HELLO = "hello"
HEARTBEAT = "heartbeat"
SCREEN = "screen"
OUTPUT = "output"
OUTPUT_GAP = "output-gap"
STREAM_KINDS = frozenset((SNAPSHOT, HELLO, HEARTBEAT, SCREEN, OUTPUT, OUTPUT_GAP))

TAIL_DATA = "data"
TAIL_END = "end"
STREAM_FAILED = "failed"
"""A stream's own failure (the client raises it): {"type": "failed", "error": {...}}."""

DECISION_ACTIONS = ("approve", "reject", "undo")

USAGE_AGENTS = ("claude", "codex", "gemini", "opencode", "aider")
"""Agents whose own usage records the helper reads (hostside/usage.py); any other session's
usage is unknown."""
USAGE_APPROXIMATE = ("aider",)
"""Agents whose records give rounded figures (aider's "2.4k"): their usage is shown as "~"."""
USAGE_BATCH = 200
"""Records in one `usage` event at most."""
USAGE_COUNTS = ("input", "output", "cache_read", "cache_write")
"""Tokens of one record: input not read from a cache, output (reasoning included), input
read from a cache, input written to one."""


def status(
    session: str,
    now: str,
    prev: Optional[str],
    exit_code: Optional[int] = None,
    waiting: Optional[dict] = None,
) -> dict:
    """`waiting`: what a needs-input session waits for, when its agent said (signals.py)."""
    event = {"type": STATUS, "session": session, "status": now, "prev": prev}  # type: Dict[str, Any]
    if now in ("exited", "failed"):
        event["exit_code"] = exit_code
    if waiting:
        event["waiting"] = waiting
    return event


def diffstat(session: str, stat: dict) -> dict:
    return {"type": DIFFSTAT, "session": session, "diffstat": stat}


def created(session: str, info: dict) -> dict:
    return {"type": CREATED, "session": session, "info": info}


def removed(session: str) -> dict:
    return {"type": REMOVED, "session": session}


def checkpoint(session: str, n: int) -> dict:
    return {"type": CHECKPOINT, "session": session, "n": n}


def decision(session: str, n: int, action: str, hunks: List[str], undid: int, version: int) -> dict:
    """A review decision any fleet made: decision `n` (`undid`: the one an undo reversed),
    the fingerprints of the hunks it acted on, and the session's review version after it."""
    return {
        "type": DECISION,
        "session": session,
        "n": n,
        "action": action,
        "hunks": list(hunks),
        "undid": undid,
        "version": version,
    }


def typed_input(session: str, what: str) -> dict:
    """Fleet typed `what` ("task", "note") into the agent, from its outbox."""
    return {"type": INPUT, "session": session, "what": what}


def queued_input(session: str, what: str, why: str) -> dict:
    """`what` waits in the session's outbox, `why` ("at a prompt", "working")."""
    return {"type": QUEUED, "session": session, "what": what, "why": why}


MAX_SIGNAL_FIELD = 400
"""Characters of any text one signal carries (hostside/signals.py bounds them)."""
MAX_OPTIONS = 9
"""Options of one dialog a waiting session carries (hostside/choices.py bounds them)."""


def signal(session: str, fields: dict) -> dict:
    """What an agent's own hook said (hostside/signals.py): its agent, run, event, the state it
    claims (or None), what it waits for, an error, the tool call it started (`doing`: read on
    the host only, for a call that runs too long)."""
    return dict(fields, type=SIGNAL, session=session)


def error(session: str, message: str) -> dict:
    return {"type": ERROR, "session": session, "message": message[:MAX_ERROR]}


def usage_record(ident: str, model: str, t: float, **counts: int) -> dict:
    """One request's usage: `ident` names it for good (a record read twice counts once)."""
    ident = re.sub(r"[^\x21-\x7e]", "_", ident)[:200]
    record = {"id": ident, "model": model[:200], "t": round(t, 3)}  # type: Dict[str, Any]
    for name in USAGE_COUNTS:
        record[name] = int(counts.get(name, 0))
    return record


def merged_record(old: Optional[dict], new: dict) -> dict:
    """Two sightings of one record (a response written as it streamed): the largest counts."""
    if old is None:
        return new
    merged = dict(new)
    for name in USAGE_COUNTS:
        merged[name] = max(old.get(name, 0), new.get(name, 0))
    return merged


def usage(session: str, agent: str, records: List[dict]) -> dict:
    return {"type": USAGE, "session": session, "agent": agent, "records": list(records)}


def snapshot(seq: int, sessions: List[dict], gap: bool) -> dict:
    return {"type": SNAPSHOT, "seq": seq, "sessions": sessions, "gap": gap}


def hello(seq: int, version: str, head: Optional[int] = None) -> dict:
    """The stream is live from journal `seq` on; `head` is the journal's last event as the
    stream began (a reader that only catches up stops once it has seen it)."""
    event = {"type": HELLO, "seq": seq, "version": version}  # type: Dict[str, Any]
    if head is not None:
        event["head"] = head
    return event


def heartbeat(seq: int, t: float) -> dict:
    return {"type": HEARTBEAT, "seq": seq, "t": round(t, 3)}


def screen_hash(text: str) -> str:
    """What names a screen: the client sends back the hash of the screen it has."""
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def screen(session: str, digest: str, text: str, captured: float) -> dict:
    """`t`: when the host captured it (its clock): where a status's time went, in the bench."""
    return {
        "type": SCREEN,
        "session": session,
        "hash": digest,
        "text": text,
        "t": round(captured, 3),
    }


def output(session: str, offset: int, data_b64: str) -> dict:
    return {"type": OUTPUT, "session": session, "offset": offset, "data": data_b64}


def output_gap(session: str, start: int, end: int) -> dict:
    return {"type": OUTPUT_GAP, "session": session, "from": start, "to": end}


def tail_data(offset: int, data_b64: str) -> dict:
    return {"type": TAIL_DATA, "offset": offset, "data": data_b64}


def tail_end(offset: int) -> dict:
    return {"type": TAIL_END, "offset": offset}


def stream_failed(kind: str, message: str) -> dict:
    return {"type": STREAM_FAILED, "error": {"kind": kind, "message": message[:MAX_ERROR]}}


def visible(sessions: Optional[Iterable[str]]) -> dict:
    """What the client sends on a running watch: the sessions whose screens it shows (None:
    all). Only their screens come, at full rate; the others' once they are shown again."""
    return {"visible": None if sessions is None else sorted(sessions)}


def visible_ids(value: Any) -> Optional[FrozenSet[str]]:
    """The sessions a `visible` argument names (None: all); what is not a string is ignored."""
    if not isinstance(value, list):
        return None
    return frozenset(v for v in value[:MAX_VISIBLE] if isinstance(v, str))


def answer_ok(result: Any) -> dict:
    return {"ok": True, "result": result}


def answer_error(kind: str, message: str) -> dict:
    return {"ok": False, "error": {"kind": kind, "message": message[:MAX_ERROR]}}
