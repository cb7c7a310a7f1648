"""The processes of a loopback host's user, read from /proc (the tests and the bench look for
fleet's helpers and tmux control clients there)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def pids_of(uid: int, match: Callable[[list[str]], bool]) -> list[int]:
    """Pids of the processes running as uid whose argv `match` accepts."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and match(argv):
            pids.append(int(entry))
    return pids


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def control_clients(uid: int) -> list[int]:
    """Pids of tmux control-mode clients (the watcher's, a serve helper's) running as uid."""
    return pids_of(uid, lambda argv: "-C" in argv and "attach-session" in argv)


def serve_processes(uid: int) -> list[int]:
    """Pids of `helper-*.pyz serve` processes running as uid."""
    return pids_of(
        uid,
        lambda argv: (
            "serve" in argv and any("/helper-" in a or a.startswith(".fleet/helper-") for a in argv)
        ),
    )
