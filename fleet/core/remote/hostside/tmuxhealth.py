"""How fleet's tmux server on this host stands, and the repairs that are safe to make.

    alive    it answers
    none     no server runs (fine: the next session starts one); a socket file may be left
             over from a server that was killed, and tmux replaces it by itself
    wedged   a server holds the socket but is of no use: it accepts and at once closes every
             connection ("server exited unexpectedly": told to exit, it has ended every
             session and waits for a client that never leaves), or nothing answers at all (a
             stopped or hung server, which may still hold live agents)
    error    tmux fails otherwise (permissions, a broken tmux on PATH): its words say why

Safe repairs (`repair`): removing a socket file no process listens on, and ending fleet's own
control clients (tmuxctl.py) that keep a server in its exit. A server itself is never killed
here: the answer names it, for the person to decide.

Linux finds the server's process and the clients through /proc; elsewhere they are unknown.
Stdlib only, Python 3.8: this runs on the hosts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import subprocess
import time
from typing import Any, Dict, List, Optional

from . import procs
from .layout import TMUX_SOCKET

ALIVE, NONE, WEDGED, ERROR = "alive", "none", "wedged", "error"
CLOSES, SILENT = "closes", "silent"  # how a wedged server behaves
ANSWER_TIMEOUT = 3.0  # seconds a live server takes at most to list its sessions
LOST = ("server exited unexpectedly", "lost server")
ABSENT = ("no server running", "error connecting to")
# A server exiting by itself (its last session ended) closes connections for a moment too:
# only a server that keeps doing it over this many looks, this far apart, is wedged.
LOOKS, LOOK_GAP = 3, 0.3


def socket_path() -> str:
    """Where `tmux -L fleet` keeps its socket: $TMUX_TMPDIR (or /tmp)/tmux-UID/fleet."""
    base = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return os.path.join(base, "tmux-%d" % os.getuid(), TMUX_SOCKET)


def _ask() -> tuple:
    """(returncode or None on timeout, stderr) of one cheap question to the server."""
    try:
        proc = subprocess.run(
            ["tmux", "-N", "-L", TMUX_SOCKET, "list-sessions", "-F", "#{pid}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=ANSWER_TIMEOUT,
        )
    except FileNotFoundError:
        return 127, "tmux is not installed on this host"
    except OSError as e:
        return 126, "cannot run tmux: %s" % e
    except subprocess.TimeoutExpired:
        return None, ""
    return proc.returncode, proc.stderr.decode("utf-8", "replace").strip()


def _socket_state(path: str) -> str:
    """ "absent", "listening", "stale" (a socket or file nothing listens on) or "unknown"."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    except OSError:
        return "unknown"
    if not stat.S_ISSOCK(st.st_mode):
        return "stale"
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError as e:
        return "stale" if e.errno == errno.ECONNREFUSED else "unknown"
    finally:
        probe.close()
    return "listening"


def probe() -> dict:
    """{state, detail, socket, pid, holders, how}: see the module's docstring."""
    path = socket_path()
    code, err = _ask()
    for _ in range(LOOKS - 1):
        if code is None or code == 0 or not any(w in err for w in LOST):
            break
        time.sleep(LOOK_GAP)
        code, err = _ask()
    answer: Dict[str, Any] = {
        "state": ALIVE,
        "detail": "",
        "socket": path,
        "pid": None,
        "holders": [],
        "how": "",
        "stopped": False,
    }
    if code == 0:
        answer["pid"] = server_pid(path)
        return answer
    if code is not None and any(w in err for w in ABSENT):
        stale = _socket_state(path) == "stale"
        answer.update(state=NONE, detail="stale socket" if stale else "")
        return answer
    if code is not None and not any(w in err for w in LOST):
        answer.update(state=ERROR, detail=err[:500] or "tmux exited %d" % code)
        return answer
    pid = server_pid(path)
    fields = procs.stat(pid) if pid else None
    answer.update(
        state=WEDGED,
        how=CLOSES if code is not None else SILENT,
        detail=err[:500] if code is not None else "no answer in %g s" % ANSWER_TIMEOUT,
        pid=pid,
        holders=own_clients(),
        stopped=bool(fields and fields[0] in ("T", "t")),
    )
    return answer


def trouble(health: dict) -> str:
    """What is wrong with tmux here, in a sentence, for an error message."""
    if health["state"] == ERROR:
        return "tmux does not work on this host: %s" % health["detail"]
    pid = " (pid %d)" % health["pid"] if health["pid"] else ""
    if health["how"] == CLOSES:
        what = (
            "fleet's tmux server on this host%s is stuck: it closes every connection (tmux "
            'says "server exited unexpectedly")' % pid
        )
    else:
        stopped = ", stopped" if health["stopped"] else ""
        what = "fleet's tmux server on this host%s does not answer%s" % (pid, stopped)
    return what + "; `fleet doctor` says how to fix it"


def _listening_inodes(path: str) -> set:
    """The inodes of the Unix sockets listening at `path` (from /proc/net/unix)."""
    inodes = set()
    paths = {path, os.path.realpath(path)}  # tmux binds the resolved path of its directory
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
            next(f, None)
            for line in f:
                fields = line.split(None, 7)
                # Num RefCount Protocol Flags Type St Inode Path; flag 0x10000: listening
                if len(fields) < 8 or fields[7].strip() not in paths:
                    continue
                if int(fields[3], 16) & 0x10000:
                    inodes.add(fields[6])
    except (OSError, ValueError):
        pass
    return inodes


def server_pid(path: str) -> Optional[int]:
    """The process (of this user) that listens at `path`, if /proc says."""
    inodes = _listening_inodes(path)
    if not inodes:
        return None
    wanted = {"socket:[%s]" % inode for inode in inodes}
    for proc in procs.own_processes():
        try:
            fds = os.listdir("/proc/%d/fd" % proc.pid)
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink("/proc/%d/fd/%s" % (proc.pid, fd)) in wanted:
                    return proc.pid
    return None


def own_clients() -> List[int]:
    """fleet's control clients on its tmux socket: `tmux ... -L fleet ... -C ...` of this
    user (the helpers of every version ran them so)."""
    found = []
    for proc in procs.own_processes():
        argv = procs.cmdline(proc.pid)
        if not argv or os.path.basename(argv[0]) != "tmux" or "-C" not in argv:
            continue
        if any(argv[i] == "-L" and argv[i + 1] == TMUX_SOCKET for i in range(len(argv) - 1)):
            found.append(proc.pid)
    return sorted(found)


def repair() -> dict:
    """The safe repairs for what `probe` finds: {"done": [what was done], "after": probe()}."""
    before = probe()
    done = []
    if before["state"] == NONE and _socket_state(before["socket"]) == "stale":
        with contextlib.suppress(OSError):
            os.unlink(before["socket"])
            done.append("removed the stale socket %s (nothing listened on it)" % before["socket"])
    elif before["state"] == WEDGED and before["how"] == CLOSES and before["holders"]:
        # A server in its exit has ended every session already: its clients hold nothing.
        procs.terminate(before["holders"], grace=1.0)
        done.append(
            "ended fleet's tmux control clients %s, which kept the exiting server waiting"
            % ", ".join(str(p) for p in before["holders"])
        )
        deadline = time.time() + 5
        while time.time() < deadline and probe()["state"] == WEDGED:
            time.sleep(0.1)
    return {"done": done, "after": probe() if done else before}


def op_tmux_repair(args: dict) -> dict:
    return repair()
