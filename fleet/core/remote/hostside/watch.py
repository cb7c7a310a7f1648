"""The watch stream: one long-lived channel per host pushing JSON-line events to the client.

Events are the journal's (status, diffstat, created, removed: numbered, resumable from a
cursor) plus the latest screen of each session (state, not history: latest wins, sent only
when its hash differs from what the client says it has) and a heartbeat.
"""

from __future__ import annotations

import hashlib
import os
import time

from . import journal, watcher
from .layout import SESSIONS
from .sessions import op_list, session_ids

POLL = 0.1
HEARTBEAT = 15.0
WATCHER_CHECK = 5.0


def screen_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def op_watch(args: dict, emit) -> None:
    watcher.ensure_running()
    since = args.get("since")
    known = args.get("screens")
    known = dict(known) if isinstance(known, dict) else {}
    current = journal.last_seq()
    oldest = journal.first_available()
    resync = (
        not isinstance(since, int)
        or since < 0
        or since > current  # the journal was wiped (host rebuilt): start again
        or (oldest > 0 and since < oldest - 1)  # older events were rotated away
    )
    if resync:
        emit(
            {
                "type": "snapshot",
                "seq": current,
                "sessions": op_list({}),
                "gap": isinstance(since, int),
            }
        )
        since = current
    emit({"type": "hello", "seq": since, "version": watcher.version()})
    assert isinstance(since, int)
    reader = journal.Reader(since)
    mtimes: dict[str, int] = {}
    last_beat = last_check = time.time()
    while True:
        for event in reader.read_new():
            emit(event)
        for sid in session_ids():
            path = os.path.join(SESSIONS, sid, "screen.txt")
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                continue
            if mtimes.get(sid) == mtime:
                continue
            mtimes[sid] = mtime
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            digest = screen_hash(text)
            if known.get(sid) != digest:
                known[sid] = digest
                emit({"type": "screen", "session": sid, "hash": digest, "text": text})
        now = time.time()
        if now - last_beat >= HEARTBEAT:
            emit({"type": "heartbeat", "seq": reader.since, "t": round(now, 3)})
            last_beat = now
        if now - last_check >= WATCHER_CHECK:
            watcher.ensure_running()
            last_check = now
        time.sleep(POLL)
