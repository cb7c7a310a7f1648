"""Where the helper keeps things on the host, and the names it accepts."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
from typing import Any

BASE = os.path.join(os.path.expanduser("~"), ".fleet")
SESSIONS = os.path.join(BASE, "sessions")
WORKTREES = os.path.join(BASE, "worktrees")
JOURNAL = os.path.join(BASE, "journal.jsonl")
WATCHER_LOCK = os.path.join(BASE, "watcher.lock")
WATCHER_INFO = os.path.join(BASE, "watcher.json")
WATCHER_LOG = os.path.join(BASE, "watcher.log")

# tmux server of our own, so fleet sessions never mix with the person's own tmux sessions.
TMUX_SOCKET = "fleet"

ID_RE = re.compile(r"^[a-z2-7]{8}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


class HelperError(Exception):
    """An error the helper reports to the client as {"ok": false, "error": ...}."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def check_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not ID_RE.match(session_id):
        raise HelperError("bad-request", "invalid session id: %r" % (session_id,))
    return session_id


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise HelperError(
            "bad-request",
            "invalid session name %r: use 1-48 letters, digits, '-' or '_', "
            "starting with a letter or digit" % (name,),
        )
    return name


def session_dir(session_id: str) -> str:
    return os.path.join(SESSIONS, check_id(session_id))


def tmux_name(session_id: str) -> str:
    return "fleet-" + check_id(session_id)


def ensure_dirs() -> None:
    for d in (BASE, SESSIONS, WORKTREES):
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)


def write_json(path: str, data: object) -> None:
    """Write atomically (tmp + rename) with mode 0600, so readers never see half a file."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True)
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


@contextlib.contextmanager
def session_lock(session_id: str, purpose: str):
    """One `purpose` operation per session at a time (the watcher and clients may race)."""
    path = os.path.join(session_dir(session_id), purpose + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
