"""OpenCode's usage, read from its own SQLite database on the host.

opencode 1.18 keeps its sessions in ~/.local/share/opencode/opencode.db ($XDG_DATA_HOME moves
it; another release channel names it opencode-<channel>.db). Each request to the model ends
with a "step-finish" part carrying that step's tokens (input without the cached part, output
without the reasoning, reasoning, cache read and write); its message names the model. The same
file holds the person's account and provider tokens, so it is opened read-only, with a short
busy timeout, and an authorizer that lets a statement read the session, message and part
tables and nothing else. A locked or half-written database is tried again at the next look.

Incremental: the state keeps the creation time (ms) of the newest step read and the ids of
the steps read within MARGIN_MS before it (a step written a little late, by a second opencode
in the same worktree, is still found, and none is counted twice). opencode's part ids begin
with their time, so a look visits only the parts written since (measured: 2.6 ms with nothing
new in a 300 MB database of 20,000 parts, against 31 ms scanning the session's parts).

Stdlib only, Python 3.8: this module runs on the hosts.
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import sys
import time
from typing import Dict, List, Optional, Tuple
from urllib.parse import quote

from . import protocol

TABLES = frozenset({"session", "message", "part"})
TIMEOUT = 0.05  # seconds to wait for opencode's own write to finish: else next look
ROWS = 100  # new steps read per look at most (a backlog takes several looks)
MARGIN_MS = 10_000
MAX_DATA = 65536  # bytes of one part's or message's JSON; a longer one is not read

# The range on part ids lets SQLite visit only the parts written since the cursor (the
# primary key's index), not every part of a long session.
_QUERY = """
SELECT p.id, p.time_created, p.data, m.data FROM part AS p
JOIN session AS s ON s.id = p.session_id
JOIN message AS m ON m.id = p.message_id
WHERE p.id >= ? AND p.id < 'prt_g' AND s.directory IN (?, ?) AND p.time_created >= ?
  AND p.data LIKE '%"step-finish"%' AND length(p.data) <= ? AND length(m.data) <= ?
ORDER BY p.time_created, p.id LIMIT ?
"""
_ID_WRAP = 1 << 48

_ALLOWED = (
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    getattr(sqlite3, "SQLITE_FUNCTION", 31),
)


def _warn(message: str) -> None:
    sys.stderr.write("fleet watcher: usage: %s\n" % message)  # the watcher's log


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def databases() -> List[str]:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return sorted(glob.glob(os.path.join(glob.escape(base), "opencode", "opencode*.db")))


def _authorize(action: int, arg1: Optional[str], *_: object) -> int:
    """Only reads of the three tables fleet needs: the account tables stay unread."""
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and arg1 not in TABLES:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(
        "file:%s?mode=ro" % quote(path), uri=True, timeout=TIMEOUT, isolation_level=None
    )
    db.set_authorizer(_authorize)
    return db


def id_floor(since: int, now: int) -> str:
    """The smallest part id opencode gives from `since` ms on: "prt_" and 12 hex digits of
    (ms * 4096 + a counter) mod 2**48, then random letters. The value wraps every 2.2 years:
    across a wrap every id is looked at, once."""
    low, high = (since * 0x1000) % _ID_WRAP, (now * 0x1000) % _ID_WRAP
    return "prt_%012x" % low if low <= high else "prt_"


def steps(path: str, worktree: str, since: int, limit: int) -> List[Tuple]:
    """The step-finish rows of the worktree's sessions created at `since` ms or later."""
    floor = id_floor(since, int(time.time() * 1000) + 86400000)
    db = connect(path)
    try:
        return db.execute(
            _QUERY,
            (floor, worktree, os.path.realpath(worktree), since, MAX_DATA, MAX_DATA, limit),
        ).fetchall()
    finally:
        db.close()


def record(part_id: str, created: int, part: dict, message: dict) -> Optional[dict]:
    """One step's usage: reasoning is billed as output."""
    tokens = part.get("tokens")
    if part.get("type") != "step-finish" or not isinstance(tokens, dict):
        return None
    found = tokens.get("cache")
    cache = found if isinstance(found, dict) else {}  # type: dict
    model = message.get("modelID")
    return protocol.usage_record(
        "opencode:" + part_id[:160],
        model[:200] if isinstance(model, str) else "",
        created / 1000.0,
        input=_count(tokens.get("input")),
        output=_count(tokens.get("output")) + _count(tokens.get("reasoning")),
        cache_read=_count(cache.get("read")),
        cache_write=_count(cache.get("write")),
    )


def _parse(raw: object) -> dict:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def read_db(path: str, worktree: str, memo: dict) -> List[dict]:
    """The steps after those memo names; memo is moved on."""
    found_cursor = memo.get("cursor")
    cursor = found_cursor if isinstance(found_cursor, int) else 0  # type: int
    found_seen = memo.get("seen")
    seen = found_seen if isinstance(found_seen, dict) else {}  # type: Dict[str, int]
    try:
        rows = steps(path, worktree, max(0, cursor - MARGIN_MS), ROWS + len(seen))
    except sqlite3.Error as e:
        if "locked" not in str(e) and "busy" not in str(e):
            _warn("cannot read %s: %s" % (path, e))
        return []
    out = []
    for part_id, created, part, message in rows:
        if not isinstance(part_id, str) or not isinstance(created, int) or part_id in seen:
            continue
        seen[part_id[:200]] = created
        cursor = max(cursor, created)
        found = record(part_id, created, _parse(part), _parse(message))
        if found is not None:
            out.append(found)
    memo["cursor"] = cursor
    memo["seen"] = {i: t for i, t in seen.items() if t >= cursor - MARGIN_MS}
    return out


def read_session(meta: dict, memos: Dict[str, dict]) -> Tuple[List[dict], bool]:
    """(the new records of the session's worktree in every opencode database, moved on?)"""
    worktree = meta.get("worktree") or ""
    out: List[dict] = []
    moved = False
    for path in databases():
        memo = memos.setdefault(path, {})
        before = json.dumps(memo, sort_keys=True)
        out += read_db(path, worktree, memo)
        moved = moved or json.dumps(memo, sort_keys=True) != before
    return out, moved
