"""The processes of a loopback host's user (the tests and the bench look for fleet's helpers and
tmux control clients there), read with the host helper's own /proc readers."""

from __future__ import annotations

from collections.abc import Callable

from fleet.core.remote.hostside import procs


def pids_of(uid: int, match: Callable[[list[str]], bool]) -> list[int]:
    """Pids of the processes running as uid whose argv `match` accepts."""
    found = []
    for pid in procs.pids():
        if procs.owner(pid) != uid:
            continue
        argv = [arg for arg in procs.cmdline(pid) if arg]
        if argv and match(argv):
            found.append(pid)
    return found


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
