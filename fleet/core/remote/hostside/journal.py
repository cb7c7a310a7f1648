"""The host's append-only event journal: every status change, numbered, so a watch resumes exactly.

The watcher daemon appends what it observes; a helper that acts (a review decision) appends
what it did. Appends take an exclusive lock on journal.lock, so sequence numbers stay dense
and in file order whoever writes; a writer re-reads the last number only when someone else
wrote since its own last append (the file's size tells). Readers follow the file by offset,
without the lock. When the file passes MAX_BYTES it is rotated to journal.1.jsonl; a reader
that asks for events older than what is kept gets told so (a gap) and resyncs.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from typing import IO, Optional

from .layout import JOURNAL

LOCK = JOURNAL[: -len(".jsonl")] + ".lock"

MAX_BYTES = 4 * 1024 * 1024
ROTATED = JOURNAL[: -len(".jsonl")] + ".1.jsonl"


def _last_seq(path: str) -> int:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
    except OSError:
        return 0
    for raw in reversed(lines):
        try:
            return int(json.loads(raw)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


class Writer:
    def __init__(self) -> None:
        self.seq = 0
        self._size = -1  # the journal's size after our last append (-1: not known)

    def append(self, event: dict) -> dict:
        """Stamp the event with the next sequence number and the time, and append it."""
        lock = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                size = os.path.getsize(JOURNAL)
            except OSError:
                size = 0
            if size != self._size:  # someone else appended or rotated since: ask the file
                self.seq = last_seq()
            self.seq += 1
            event = dict(event, seq=self.seq, t=round(time.time(), 3))
            line = (json.dumps(event, sort_keys=True) + "\n").encode("utf-8")
            fd = os.open(JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
            self._size = size + len(line)
            if self._size > MAX_BYTES:
                os.replace(JOURNAL, ROTATED)
                self._size = 0
        finally:
            os.close(lock)  # closing drops the lock
        return event


_writer: Optional[Writer] = None


def append(event: dict) -> dict:
    """Append from anywhere in this process (one Writer per process)."""
    global _writer
    if _writer is None:
        _writer = Writer()
    return _writer.append(event)


def last_seq() -> int:
    return _last_seq(JOURNAL) or _last_seq(ROTATED)


def first_seq(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return int(json.loads(f.readline())["seq"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def first_available() -> int:
    """The oldest sequence number still kept (0 when the journal is empty)."""
    return first_seq(ROTATED) or first_seq(JOURNAL)


class Reader:
    """Follows the journal from a sequence number, across rotations (like tail -F)."""

    def __init__(self, since: int) -> None:
        self.since = since
        self._file: Optional[IO[bytes]] = None
        self._partial = b""

    def read_new(self) -> list:
        """Events with seq > since that have appeared since the last call, in order."""
        events: list = []
        if self._file is None:
            try:
                self._file = open(JOURNAL, "rb")  # noqa: SIM115 (held across calls)
            except OSError:
                return events
            if self.since + 1 < first_seq(JOURNAL):
                events.extend(self._parse(_read_all(ROTATED).split(b"\n")))
        events.extend(self._drain())
        try:
            current = os.stat(JOURNAL).st_ino
        except OSError:
            current = None
        if current != os.fstat(self._file.fileno()).st_ino:
            # Rotated under us: finish the old file through our handle, then follow the new one.
            events.extend(self._drain())
            self._file.close()
            self._file = None
            self._partial = b""
            if current is not None:
                events.extend(self.read_new())
        return events

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _drain(self) -> list:
        if self._file is None:
            return []
        data = self._partial + self._file.read()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return self._parse(lines)

    def _parse(self, lines) -> list:
        events = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
                seq = int(event["seq"])
            except (ValueError, KeyError, TypeError):
                continue
            if seq > self.since:
                self.since = seq
                events.append(event)
        return events


def _read_all(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
