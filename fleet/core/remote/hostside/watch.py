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

It waits between looks until a screen or the journal is written (changes.py), so a change is
sent the moment the watcher saved it; output is read at its own pace (OUTPUT_EVERY).
"""

from __future__ import annotations

import base64
import os
import time
from typing import Optional

from . import changes, inbox, journal, protocol, screenfile, watcher
from .layout import BASE, JOURNAL, SESSIONS
from .sessions import op_list, session_files, session_ids

POLL = 0.1  # without inotify: how often screens and the journal are looked at
WAKE_GAP = 0.05  # with inotify: the least time between two looks
# Raw output is history, not status: sent in batches this often (and always before a journal
# event, so an agent's last words come before its exit). Every poll meant an event per printed
# line, most of the stream's CPU with 20 printing agents.
OUTPUT_EVERY = 0.3
OUTPUT_HIDDEN_EVERY = 2.0  # the output of sessions the client does not show
HEARTBEAT = 15.0
WATCHER_CHECK = 5.0
BACKLOG = 256 * 1024  # output sent for a session the client has never seen
CHUNK = protocol.OUTPUT_CHUNK


def _files(sids: set):
    """(id, path, stat) of these sessions' screens that exist."""
    for sid in sorted(sids):
        path = os.path.join(SESSIONS, sid, "screen.txt")
        try:
            yield sid, path, os.stat(path)
        except OSError:
            continue


class Screens:
    """Sends each session's latest screen when it differs from what the client has."""

    def __init__(self, known: dict) -> None:
        self.known = known
        self.mtimes: dict = {}

    def poll(self, emit, visible=None, written=None) -> None:
        """`visible`: the sessions to look at (None: all); `written`: of those, the ones
        whose screen may have changed (None: any)."""
        files = session_files("screen.txt") if written is None else _files(written)
        for sid, path, st in files:
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
                emit(protocol.screen(sid, digest, text, self.mtimes[sid] / 1e9))


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


class Written:
    """The stream's wait: until a screen or the journal is written (inotify), the client
    sends an update, or `timeout`; without inotify every POLL seconds, as before."""

    def __init__(self) -> None:
        self.woke = 0.0
        self.written = None  # type: Optional[set]
        self.unwatched = False
        self.files = changes.Changes({"screen.txt", os.path.basename(JOURNAL)}, parent=SESSIONS)
        if self.files.ok and not self.files.watch("", BASE):
            self.files.close()
        self.watch_sessions()

    def watch_sessions(self) -> None:
        for sid in session_ids():
            if not self.files.watch(sid, os.path.join(SESSIONS, sid)):
                self.unwatched = True  # out of watches: every look looks at all

    def take(self) -> Optional[set]:
        """The sessions whose screens were written since the last take (None: any may
        have been: no inotify, or the first look)."""
        got, self.written = self.written, set()
        return got if self.files.ok and not self.unwatched else None

    def wait(self, timeout: float) -> None:
        if not self.files.ok:
            time.sleep(POLL)
            return
        # What is written meanwhile is sent in one look: 20 agents printing are 20 looks a
        # second, not one per screen saved.
        rest = WAKE_GAP - (time.time() - self.woke)
        if rest > 0:
            time.sleep(min(rest, max(0.0, timeout)))
            timeout -= rest
        got = self.files.wait(timeout, (inbox.fileno(),))
        if None in got:
            self.watch_sessions()  # a new session: its screens from now on
            self.written = None
        elif self.written is not None:
            self.written |= got
        self.woke = time.time()


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
    written = Written()
    while True:
        update = inbox.take()
        looked = written.take()  # None: every screen (no inotify, or a look of them all due)
        if "visible" in update:
            visible = protocol.visible_ids(update["visible"])
            looked = None
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
        screens.poll(emit, visible, looked)
        if now - last_beat >= HEARTBEAT:
            emit(protocol.heartbeat(reader.since, now))
            last_beat = now
        if now - last_check >= WATCHER_CHECK:
            watcher.ensure_running()
            last_check = now
        wake_at = [last_beat + HEARTBEAT, last_check + WATCHER_CHECK]
        if output is not None:
            wake_at += [output_at + OUTPUT_EVERY, output_all_at + hidden_every]
        written.wait(POLL if more else min(wake_at) - time.time())
