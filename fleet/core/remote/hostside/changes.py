"""Which session files changed, pushed by the kernel (Linux inotify, through ctypes).

The watcher learns that a pane printed from its output log growing, and the watch stream that
a screen or the journal changed, from files. Polling them on a fixed tick made every status
wait for the next tick (0.25 s on the watcher, 0.1 s on the stream); with inotify each waits
on a file descriptor and wakes when the file it cares about is written. Where inotify cannot
be had (another OS, no ctypes, the per-user limit on watches reached) `Changes.ok` is False:
`wait` is then a plain sleep and the callers poll as they did.

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import select
import struct
import time
from typing import Dict, Optional, Set  # noqa: F401 (Dict: type comments)

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WRITTEN = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_READ = 64 * 1024


def _libc() -> Optional[ctypes.CDLL]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):
        return None


class Changes:
    """Directories watched for writes to files of the given names.

    `watch(key, directory)` names a directory (a session's) by a key; `wait(timeout)` returns
    the keys whose files of interest were written since the last call (an empty set on
    timeout), and the key None when the parent directory gained an entry (a new session)."""

    def __init__(self, names: Set[str], parent: Optional[str] = None) -> None:
        self.names = {n.encode() for n in names}
        self.fd = -1
        self.keys = {}  # type: Dict[int, Optional[str]]
        self.dirs = {}  # type: Dict[str, int]
        self._libc = _libc()
        if self._libc is not None:
            fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            self.fd = fd if fd >= 0 else -1
        if parent is not None and self.fd >= 0:
            wd = self._add(parent, IN_CREATE | IN_MOVED_TO)
            if wd is None:
                self.close()
            else:
                self.keys[wd] = None

    @property
    def ok(self) -> bool:
        return self.fd >= 0

    def _add(self, directory: str, mask: int) -> Optional[int]:
        assert self._libc is not None
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory), mask | IN_ONLYDIR)
        return wd if wd >= 0 else None

    def watch(self, key: str, directory: str) -> bool:
        """Watch `directory` under `key` (again is a no-op); False when it cannot be (gone,
        or out of watches: then the caller must keep polling it)."""
        if not self.ok:
            return False
        if key in self.dirs:
            return True
        wd = self._add(directory, WRITTEN | IN_DELETE_SELF)
        if wd is None:
            return False
        self.keys[wd] = key
        self.dirs[key] = wd
        return True

    def forget(self, key: str) -> None:
        wd = self.dirs.pop(key, None)
        if wd is not None and self.ok:
            self.keys.pop(wd, None)
            assert self._libc is not None
            self._libc.inotify_rm_watch(self.fd, wd)

    def wait(self, timeout: float, extra: tuple = ()) -> Set[Optional[str]]:
        """Keys written to (None: a new entry in the parent), waiting at most `timeout`
        seconds for the first; `extra` file descriptors also end the wait when readable."""
        if not self.ok:
            fds = [fd for fd in extra if fd is not None]
            if fds:
                select.select(fds, [], [], max(0.0, timeout))
            else:
                time.sleep(max(0.0, timeout))
            return set()
        ready = select.select([self.fd, *extra], [], [], max(0.0, timeout))[0]
        return self.take() if self.fd in ready else set()

    def take(self) -> Set[Optional[str]]:
        """What was written since the last look, without waiting."""
        got = set()  # type: Set[Optional[str]]
        while True:
            try:
                data = os.read(self.fd, _READ)
            except BlockingIOError:
                return got
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                return got
            if not data:
                return got
            self._parse(data, got)

    def _parse(self, data: bytes, got: set) -> None:
        at = 0
        while at + _EVENT.size <= len(data):
            wd, mask, _cookie, size = _EVENT.unpack_from(data, at)
            name = data[at + _EVENT.size : at + _EVENT.size + size].rstrip(b"\0")
            at += _EVENT.size + size
            if wd not in self.keys:
                continue
            key = self.keys[wd]
            if mask & IN_IGNORED:  # the directory went (a session removed)
                self.keys.pop(wd, None)
                if key is not None:
                    self.dirs.pop(key, None)
                continue
            if key is None or name in self.names:
                got.add(key)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1
        self.keys.clear()
        self.dirs.clear()
