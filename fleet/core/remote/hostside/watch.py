"""The watch stream: one long-lived channel per host pushing JSON-line events to the client.

Events are the journal's (status, diffstat, created, removed: numbered, resumable from a
cursor), the latest screen of each session (state, not history: latest wins, sent only when
its hash differs from what the client says it has), each session's raw output from the
client's byte offsets when asked (history again: resumable, nothing twice), and a heartbeat.

The client may say which sessions it shows (`visible`, in the request and again on the
running stream whenever it scrolls): only their screens are sent, and their output at the
usual pace; the others' output comes in larger, rarer batches (every byte still comes, once)
and their screens not at all until they are shown again, when the latest comes at once if it
differs from what the client has. Statuses and every journal event come for all.
"""

from __future__ import annotations

import base64
import time

from . import inbox, journal, protocol, screenfile, watcher
from .sessions import op_list, session_files

POLL = 0.1
# Raw output is history, not status: sent in batches this often (and always before a journal
# event, so an agent's last words come before its exit). Every poll meant an event per printed
# line, most of the stream's CPU with 20 printing agents.
OUTPUT_EVERY = 0.3
OUTPUT_HIDDEN_EVERY = 2.0  # the output of sessions the client does not show
HEARTBEAT = 15.0
WATCHER_CHECK = 5.0
BACKLOG = 256 * 1024  # output sent for a session the client has never seen
CHUNK = protocol.OUTPUT_CHUNK


class Screens:
    """Sends each session's latest screen when it differs from what the client has."""

    def __init__(self, known: dict) -> None:
        self.known = known
        self.mtimes: dict = {}

    def poll(self, emit, visible=None) -> None:
        """`visible`: the sessions to look at (None: all)."""
        for sid, path, st in session_files("screen.txt"):
            if visible is not None and sid not in visible:
                continue
            if self.mtimes.get(sid) == st.st_mtime_ns:
                continue
            got = screenfile.read(path)
            if got is None:
                continue
            text, self.mtimes[sid] = got
            digest = protocol.screen_hash(text)
            if self.known.get(sid) != digest:
                self.known[sid] = digest
                emit(protocol.screen(sid, digest, text))


class Output:
    """Sends every session's raw output from the client's offsets on: history, resumable.

    A session the client has no offset for starts at the beginning of its log, or at most
    BACKLOG bytes before its end (then the event says where the gap is).
    """

    def __init__(self, offsets: dict) -> None:
        self.offsets = {k: v for k, v in offsets.items() if isinstance(v, int) and v >= 0}

    def poll(self, emit, only=None) -> bool:
        """Send what is new (of the sessions in `only`, None: all); True when a session has
        more than one CHUNK waiting."""
        more = False
        for sid, path, st in session_files("output.log"):
            if only is not None and sid not in only:
                continue
            size = st.st_size
            offset = self.offsets.get(sid)
            if offset is None:
                offset = max(0, size - BACKLOG)
                if offset:
                    emit(protocol.output_gap(sid, 0, offset))
            elif offset > size:  # the log was replaced (helper reinstalled): start over
                emit(protocol.output_gap(sid, offset, 0))
                offset = 0
            self.offsets[sid] = offset
            if size <= offset:
                continue
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(min(size - offset, CHUNK))
            except OSError:
                continue
            emit(protocol.output(sid, offset, base64.b64encode(data).decode("ascii")))
            self.offsets[sid] = offset + len(data)
            more = more or size > offset + len(data)
        return more


def op_watch(args: dict, emit) -> None:
    watcher.ensure_running()
    since = args.get("since")
    known = args.get("screens")
    screens = Screens(dict(known) if isinstance(known, dict) else {})
    output = None
    if args.get("output") is not None:
        offsets = args.get("output")
        output = Output(dict(offsets) if isinstance(offsets, dict) else {})
    current = journal.last_seq()
    oldest = journal.first_available()
    resync = (
        not isinstance(since, int)
        or since < 0
        or since > current  # the journal was wiped (host rebuilt): start again
        or (oldest > 0 and since < oldest - 1)  # older events were rotated away
    )
    if resync:
        emit(protocol.snapshot(current, op_list({}), isinstance(since, int)))
        since = current
    assert isinstance(since, int)
    emit(protocol.hello(since, watcher.version(), current))
    reader = journal.Reader(since)
    visible = protocol.visible_ids(args.get("visible"))
    last_beat = last_check = time.time()
    output_at = output_all_at = 0.0
    more = False
    while True:
        update = inbox.take()
        if "visible" in update:
            visible = protocol.visible_ids(update["visible"])
            output_at = 0.0  # what was hidden is shown now: its output too, at once
        events = reader.read_new()
        now = time.time()
        # Output first: an agent's last words arrive before the event saying it exited.
        if output is not None:
            hidden_every = OUTPUT_EVERY if visible is None else OUTPUT_HIDDEN_EVERY
            if events or more or now - output_all_at >= hidden_every:
                more = output.poll(emit)
                output_at = output_all_at = now
            elif now - output_at >= OUTPUT_EVERY:
                more = output.poll(emit, visible)
                output_at = now
        for event in events:
            emit(event)
        screens.poll(emit, visible)
        if now - last_beat >= HEARTBEAT:
            emit(protocol.heartbeat(reader.since, now))
            last_beat = now
        if now - last_check >= WATCHER_CHECK:
            watcher.ensure_running()
            last_check = now
        time.sleep(POLL)
