"""The processes a session started on this host, found even when they left its tmux pane.

The pane's process is a session leader (tmux starts it with setsid), so everything the agent
starts stays in that Unix session unless it calls setsid itself. Some agents do: Codex starts a
`codex app-server --managed-daemon` that way, and Node-based CLIs start detached children. Those
keep the environment, and every pane runs with FLEET_SESSION=<id> (launch.op_exec), so a scan
of this user's /proc/<pid>/environ finds them. Linux only; elsewhere only the pane's process
group is reached (see sessions.op_stop).

The readers of /proc below are also the ones fleet's demo, tests and bench use to find and
measure processes: one place that knows the file formats.

Stdlib only, Python 3.8 compatible: this runs on the hosts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

TAG = b"FLEET_SESSION="
GONE = ("Z", "X")  # states of a process that no longer runs (a zombie, a dead one)


class Proc:
    __slots__ = ("pid", "sid", "tag")

    def __init__(self, pid: int, sid: int, tag) -> None:
        self.pid = pid
        self.sid = sid
        self.tag = tag  # the FLEET_SESSION it runs with, or None


def pids() -> list:
    """Every process id in /proc; [] where there is no /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    return [int(entry) for entry in entries if entry.isdigit()]


def read(pid: int, name: str):
    """The bytes of /proc/PID/NAME, None when the process is gone or it is unreadable."""
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return None


def stat(pid: int):
    """The fields of /proc/PID/stat after the command name, None when it is gone: [0] is the
    state, [1] the parent, [3] the session id, [11:15] utime, stime, cutime, cstime (ticks)."""
    data = read(pid, "stat")
    if data is None:
        return None
    # The command name (in parentheses) may itself hold spaces and ")".
    fields = [field.decode("ascii", "replace") for field in data[data.rfind(b")") + 2 :].split()]
    return fields if len(fields) > 3 else None


def status(pid: int) -> dict:
    """/proc/PID/status as name -> value ("VmHWM" -> "1234 kB"); {} when it is gone."""
    data = read(pid, "status")
    out = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name] = value.strip()
    return out


def cmdline(pid: int) -> list:
    """The argv of pid; [] when it is gone, a zombie or a kernel thread."""
    data = read(pid, "cmdline") or b""
    if data.endswith(b"\0"):
        data = data[:-1]
    # A process that rewrote its title (sshd) may end it without a NUL: its last word stays.
    return [arg.decode("utf-8", "replace") for arg in data.split(b"\0")] if data else []


def owner(pid: int):
    """The uid owning /proc/PID (its effective uid, or root's when it is not dumpable)."""
    try:
        return os.stat("/proc/%d" % pid).st_uid
    except OSError:
        return None


def parent(pid: int):
    """The parent's pid, None when pid is gone."""
    fields = stat(pid)
    try:
        return int(fields[1]) if fields else None
    except ValueError:
        return None


def alive(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] not in GONE


def ancestors() -> set:
    """This process and its parents: never targets, even when fleet runs inside a session."""
    out = set()
    pid = os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        up = parent(pid)
        if up is None:
            break
        pid = up
    return out


def descendants(root: int) -> list:
    """The children of root, their children and so on (parents before their children)."""
    children: dict = {}
    for pid in pids():
        up = parent(pid)
        if up is not None:
            children.setdefault(up, []).append(pid)
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _tag(pid: int):
    for entry in (read(pid, "environ") or b"").split(b"\0"):
        if entry.startswith(TAG):
            return entry[len(TAG) :].decode("ascii", "replace")
    return None


def own_processes() -> list:
    """Every live process of this user (zombies left out), with its session id and tag."""
    uid = os.getuid()
    skip = ancestors()
    procs = []
    for pid in pids():
        if pid in skip or owner(pid) != uid:
            continue
        fields = stat(pid)
        if fields is None or fields[0] in GONE:
            continue
        try:
            sid = int(fields[3])
        except ValueError:
            continue
        procs.append(Proc(pid, sid, _tag(pid)))
    return procs


def terminate(targets, grace: float = 3.0) -> list:
    """SIGTERM each pid, SIGKILL what is left after `grace` seconds; the pids that got SIGKILL."""
    targets = [pid for pid in targets if pid > 1 and pid != os.getpid()]
    for pid in targets:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + grace
    left = [pid for pid in targets if alive(pid)]
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if alive(pid)]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left
