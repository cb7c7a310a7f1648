"""The raw output of a session's pane (its pipe-pane log), streamed from an offset."""

from __future__ import annotations

import base64
import os
import time

from . import protocol, tmux
from .layout import check_id, session_dir, tmux_name
from .sessions import load_meta


def op_tail(args: dict, emit) -> None:
    """Stream the raw output log from an offset; with follow, until the client goes away."""
    session_id = check_id(args.get("session"))
    load_meta(session_id)
    path = os.path.join(session_dir(session_id), "output.log")
    offset = args.get("offset")
    lines = args.get("lines")
    follow = bool(args.get("follow"))
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if not isinstance(offset, int) or offset < 0:
        offset = _offset_of_last_lines(path, size, lines if isinstance(lines, int) else 50)
    offset = min(offset, size)
    name = tmux_name(session_id)
    while True:
        chunk = b""
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(protocol.TAIL_CHUNK)
        except OSError:
            pass
        if chunk:
            emit(protocol.tail_data(offset, base64.b64encode(chunk).decode("ascii")))
            offset += len(chunk)
            continue
        if not follow:
            break
        pane = tmux.panes().get(name)
        if pane is None or pane.dead:
            # Drain what the pane wrote before it ended, then say so.
            with open(path, "rb") as f:
                f.seek(offset)
                if f.read(1):
                    continue
            emit(protocol.tail_end(offset))
            break
        time.sleep(0.2)


def _offset_of_last_lines(path: str, size: int, lines: int) -> int:
    if lines <= 0:
        return size
    try:
        with open(path, "rb") as f:
            start = max(0, size - 256 * 1024)
            f.seek(start)
            data = f.read(size - start)
    except OSError:
        return 0
    pos = len(data)
    if data.endswith(b"\n"):
        pos -= 1
    for _ in range(lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return start
    return start + pos + 1
