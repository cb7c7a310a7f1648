"""What the client sends on a running stream, after its request: one JSON object a line.

A stream lives as long as its channel, so the client's side is read on a thread: end of file
means the client is gone and the helper ends at once. Every line in between is an update of
the stream's request (the watch's `visible`): the latest of each key wins, and the stream
takes them when it next looks. A line longer than protocol.MAX_STREAM_INPUT, or that is not a
JSON object, is ignored.

Stdlib only, Python 3.8.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from typing import Any, BinaryIO, Dict

from . import protocol

_lock = threading.Lock()
_pending = {}  # type: Dict[str, Any]


_bell = (-1, -1)  # a pipe: readable while an update waits, so a waiting stream wakes


def start(stream: BinaryIO) -> None:
    global _bell
    if _bell[0] < 0:
        _bell = os.pipe()
        os.set_blocking(_bell[0], False)
        os.set_blocking(_bell[1], False)
    threading.Thread(target=_read, args=(stream,), daemon=True).start()


def fileno() -> int:
    """Readable while an update waits (-1 before start)."""
    return _bell[0]


def take() -> Dict[str, Any]:
    """The updates since the last call (key -> latest value); empty when none came."""
    global _pending
    with _lock:
        got, _pending = _pending, {}
        if _bell[0] >= 0:
            with contextlib.suppress(OSError):  # EAGAIN: nothing rang
                os.read(_bell[0], 4096)
    return got


def _read(stream: BinaryIO) -> None:
    limit = protocol.MAX_STREAM_INPUT
    try:
        while True:
            line = stream.readline(limit + 1)
            if not line:
                break
            if len(line) > limit:  # too long: skip to its end, then go on
                while line and not line.endswith(b"\n"):
                    line = stream.readline(limit + 1)
                continue
            _put(line)
    except OSError:
        pass
    os._exit(0)


def _put(line: bytes) -> None:
    try:
        update = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return
    if isinstance(update, dict):
        with _lock:
            _pending.update(update)
            if _bell[1] >= 0:
                with contextlib.suppress(OSError):  # EAGAIN: it rings already
                    os.write(_bell[1], b"!")
