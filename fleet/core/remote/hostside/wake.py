"""Waking the watcher at once: a FIFO in fleet's directory that the watcher waits on between
ticks and the hook program writes a byte to after it saved a signal. A dialog an agent's hook
reports is then read within milliseconds instead of at the next tick; without the FIFO (an
older watcher, none running) the hook changes nothing and the tick finds the signal anyway.

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import time
from typing import Optional  # noqa: F401 (type comments: Python 3.8)

from .layout import BASE

WAKE = os.path.join(BASE, "wake.fifo")
MIN_GAP = 0.02
"""Seconds between two wakes at least: a burst of hooks costs a few ticks, not one each."""


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.lstat(path).st_mode)
    except OSError:
        return False


def poke() -> None:
    """Wake the watcher if one waits; never blocks, never fails."""
    if not _is_fifo(WAKE):
        return
    try:
        fd = os.open(WAKE, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: nobody reads it
        return
    try:
        os.write(fd, b"!")
    except OSError:  # EAGAIN: full, a wake is pending anyway
        pass
    finally:
        os.close(fd)


class Waiter:
    """The watcher's side: wait(timeout) returns early when poked."""

    def __init__(self) -> None:
        self.fds = None  # type: Optional[tuple]
        self.woke = 0.0
        try:
            if not _is_fifo(WAKE):
                if os.path.lexists(WAKE):
                    os.unlink(WAKE)
                os.mkfifo(WAKE, 0o600)
            read = os.open(WAKE, os.O_RDONLY | os.O_NONBLOCK)
            # A writer of its own keeps the FIFO from reading as EOF once a hook closed it.
            keep = os.open(WAKE, os.O_WRONLY | os.O_NONBLOCK)
            self.fds = (read, keep)
        except OSError:
            self.fds = None

    def wait(self, timeout: float, also: int = -1) -> bool:
        """Wait at most `timeout` seconds for a poke, or for `also` (a file descriptor, -1:
        none) to be readable; True when poked."""
        fds = [fd for fd in ((self.fds or (-1,))[0], also) if fd >= 0]
        gap = MIN_GAP - (time.time() - self.woke)
        if gap > 0 and self.fds is not None:
            time.sleep(gap)
            timeout = max(0.0, timeout - gap)
        if not fds:
            time.sleep(max(0.0, timeout))
            return False
        ready = select.select(fds, [], [], max(0.0, timeout))[0]
        if self.fds is None or self.fds[0] not in ready:
            return False
        self.woke = time.time()
        with contextlib.suppress(OSError):
            os.read(self.fds[0], 4096)
        return True

    def close(self) -> None:
        for fd in self.fds or ():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = None
