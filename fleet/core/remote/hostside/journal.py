"""The host's append-only event journal: every status change, numbered, so a watch resumes exactly.

Only the watcher daemon appends (a single writer, so sequence numbers need no lock). Readers
follow the file by offset. When the file passes MAX_BYTES it is rotated to journal.1.jsonl;
a reader that asks for events older than what is kept gets told so (a gap) and resyncs.
"""

from __future__ import annotations

import json
import os
import time
from typing import IO, Optional

from .layout import JOURNAL

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
        self.seq = _last_seq(JOURNAL) or _last_seq(ROTATED)

    def append(self, event: dict) -> dict:
        self.seq += 1
        event = dict(event, seq=self.seq, t=round(time.time(), 3))
        line = json.dumps(event, sort_keys=True) + "\n"
        fd = os.open(JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        if os.path.getsize(JOURNAL) > MAX_BYTES:
            os.replace(JOURNAL, ROTATED)
        return event


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
