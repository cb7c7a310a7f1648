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
from typing import Dict, Optional, Set

IN_MODIFY = 0x00000002
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

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
    """Files of the given names in watched directories, and when they are written.

    `watch(key, directory)` names a directory (a session's) by a key; `wait(timeout)` returns
    the keys whose files of interest were written since the last call (an empty set on
    timeout), and the key None when the parent directory gained an entry (a new session).

    The files themselves are watched, not their directories: a session's directory is
    written all the time (its output log, screen, state), and each watcher wants one of
    them; a watch on the directory would wake it for all. The directory is watched only for
    a file of interest appearing (made, or renamed into place), to watch the new one."""

    def __init__(self, names: Set[str], parent: Optional[str] = None) -> None:
        self.names = {n.encode() for n in names}
        self.fd = -1
        # wd -> its key (None: the parent); key -> its directory's wd; a directory's wd ->
        # its path; the wds that are files.
        self.keys: Dict[int, Optional[str]] = {}
        self.dirs: Dict[str, int] = {}
        self.paths: Dict[int, str] = {}
        self.files: Set[int] = set()
        self._libc = _libc()
        if self._libc is not None:
            fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
            self.fd = fd if fd >= 0 else -1
        if parent is not None and self.fd >= 0:
            wd = self._add(parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
            if wd is None:
                self.close()
            else:
                self.keys[wd] = None

    @property
    def ok(self) -> bool:
        return self.fd >= 0

    def _add(self, path: str, mask: int) -> Optional[int]:
        assert self._libc is not None
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        return wd if wd >= 0 else None

    def watch(self, key: str, directory: str) -> bool:
        """Watch `directory`'s files of interest under `key` (again is a no-op); False when
        it cannot be (gone, or out of watches: then the caller must keep polling it)."""
        if not self.ok:
            return False
        if key in self.dirs:
            return True
        wd = self._add(directory, IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_ONLYDIR)
        if wd is None:
            return False
        self.keys[wd] = key
        self.dirs[key] = wd
        self.paths[wd] = directory
        for name in self.names:
            self._watch_file(key, directory, name)  # absent yet: the directory says when
        return True

    def _watch_file(self, key: str, directory: str, name: bytes) -> None:
        wd = self._add(os.path.join(directory, os.fsdecode(name)), IN_MODIFY)
        if wd is not None:
            self.keys[wd] = key
            self.files.add(wd)

    def forget(self, key: str) -> None:
        wd = self.dirs.pop(key, None)
        if wd is None or not self.ok:
            return
        assert self._libc is not None
        for other in [w for w, k in self.keys.items() if k == key]:
            self.keys.pop(other, None)
            self.files.discard(other)
            self.paths.pop(other, None)
            self._libc.inotify_rm_watch(self.fd, other)

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
            if mask & IN_IGNORED:  # a file replaced or removed, or a session's directory
                self.keys.pop(wd, None)
                self.files.discard(wd)
                if self.paths.pop(wd, None) is not None and key is not None:
                    self.dirs.pop(key, None)
                continue
            if key is None:
                got.add(None)  # a new session
            elif wd in self.files:
                got.add(key)
            elif name in self.names and wd in self.paths:  # made or renamed into place
                self._watch_file(key, self.paths[wd], name)
                got.add(key)

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1
        self.keys.clear()
        self.dirs.clear()
