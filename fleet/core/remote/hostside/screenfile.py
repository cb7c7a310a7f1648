"""screen.txt: each session's last screen, rewritten in place under a lock.

The watcher rewrites every printing pane's screen about four times a second. A new file renamed
over the old one (the usual atomic write) made ext4 start writing the data out on every rename
(its auto_da_alloc safety for replace-by-rename): ten times the CPU of writing in place, and
most of the watcher's own. In place, a reader could see half a screen, so the writer holds an
exclusive flock while it writes and the watch stream a shared one while it reads. The first write
of a session still renames a whole file into place: a file created empty and locked after could be
read empty in between.
"""

from __future__ import annotations

import fcntl
import os
from typing import Optional, Tuple


def write(path: str, text: str) -> None:
    data = text.encode("utf-8", "replace")
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        _create(path, data)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)  # drops the lock


def _create(path: str, data: bytes) -> None:
    staging = f"{path}.{os.getpid()}.new"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(staging, path)


def read(path: str) -> Optional[Tuple[str, int]]:
    """(text, mtime_ns of exactly that text), or None when there is no screen yet."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        mtime = os.fstat(fd).st_mtime_ns
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace"), mtime
