"""The processes a session started on this host, found even when they left its tmux pane.

The pane's process is a session leader (tmux starts it with setsid), so everything the agent
starts stays in that Unix session unless it calls setsid itself. Some agents do: Codex starts a
`codex app-server --managed-daemon` that way, and Node-based CLIs start detached children. Those
keep the environment, and every pane runs with FLEET_SESSION=<id> (launch.op_exec), so a scan
of this user's /proc/<pid>/environ finds them. Linux only; elsewhere only the pane's process
group is reached (see sessions.op_stop).

Stdlib only, Python 3.8 compatible: this runs on the hosts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

TAG = b"FLEET_SESSION="


class Proc:
    __slots__ = ("pid", "sid", "tag")

    def __init__(self, pid: int, sid: int, tag) -> None:
        self.pid = pid
        self.sid = sid
        self.tag = tag  # the FLEET_SESSION it runs with, or None


def _stat(pid: int):
    """(state, ppid, sid) of pid, None when it is gone or unreadable."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (in parentheses) may itself hold spaces and ")".
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode("ascii", "replace"), int(fields[1]), int(fields[3])
    except (IndexError, ValueError):
        return None


def _tag(pid: int):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read()
    except OSError:
        return None
    for entry in env.split(b"\0"):
        if entry.startswith(TAG):
            return entry[len(TAG) :].decode("ascii", "replace")
    return None


def _ancestors() -> set:
    """This helper and its parents: never targets, even when fleet runs inside a session."""
    out = set()
    pid = os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        st = _stat(pid)
        if st is None:
            break
        pid = st[1]
    return out


def own_processes() -> list:
    """Every live process of this user (zombies left out), with its session id and tag."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    uid = os.getuid()
    skip = _ancestors()
    procs = []
    for entry in entries:
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in skip:
            continue
        try:
            if os.stat("/proc/%d" % pid).st_uid != uid:
                continue
        except OSError:
            continue
        st = _stat(pid)
        if st is None or st[0] in ("Z", "X"):
            continue
        procs.append(Proc(pid, st[2], _tag(pid)))
    return procs


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def terminate(pids, grace: float = 3.0) -> list:
    """SIGTERM each pid, SIGKILL what is left after `grace` seconds; the pids that got SIGKILL."""
    pids = [pid for pid in pids if pid > 1 and pid != os.getpid()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + grace
    left = [pid for pid in pids if alive(pid)]
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left
