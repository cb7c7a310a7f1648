"""What fleet types to an agent on its own, held until the agent is at its input.

Nothing fleet types on its own may answer a prompt (a rejection's note typed into a permission
dialog would pick its highlighted option). So such text, and the task of an agent that takes
it at its prompt, goes into the session's outbox (OUTBOX in its directory, written atomically:
it outlives the helper and the watcher) and is typed once the agent is at its input: idle, or
waiting for text that is not a password (dialog.py), never at a choice and never while it
works, nor while it is stuck (not logged in, out of quota: stuck.py): typed there, the text
is spent on an agent that cannot act on it (Claude Code answers "Not logged in" and drops
it), so it waits until the person fixed the agent. The watcher delivers it; a reject
delivers its note at once when it can. Entries leave the outbox before they are typed, under
the outbox lock: each is typed at most once, all that waits as one message. Queuing and
typing are journaled.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Callable, List, Optional

from . import dialog, journal, protocol, stuck, tmux
from .classify import IDLE, NEEDS_INPUT, WORKING, classify, matched
from .layout import read_json, session_dir, session_lock, tmux_name, write_json
from .steer import type_text

OUTBOX = "outbox.json"
MAX_ENTRIES = 50  # the oldest go beyond it: an agent kept at a prompt for days

# Why it waits (the reject's answer says it: "the agent is at a prompt").
AT_PROMPT = "at a prompt"
AT_SECRET = "at a password prompt"
BUSY = "working"
STUCK = "stuck"


def _path(session_id: str) -> str:
    return os.path.join(session_dir(session_id), OUTBOX)


def _entries(session_id: str) -> List[dict]:
    entries = read_json(_path(session_id), [])
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("text"), str)]


def has_mail(session_id: str) -> bool:
    """Whether something waits (a stat: the file exists only while it holds something)."""
    return os.path.exists(_path(session_id))


def put(session_id: str, what: str, text: str) -> None:
    """Keep `text` (a "note", the "task") for the agent, after what already waits."""
    with session_lock(session_id, "outbox"):
        entries = _entries(session_id)
        entries.append({"what": what, "text": text, "at": round(time.time(), 3)})
        write_json(_path(session_id), entries[-MAX_ENTRIES:])


def tell(meta: dict, what: str, text: str) -> str:
    """Put `text` in the outbox and type what waits if the agent is at its input now; ""
    when typed, else why it waits (journaled). The watcher's last status stands in for how
    long the screen has been quiet: a session it saw working is working."""
    put(meta["id"], what, text)
    state = read_json(os.path.join(session_dir(meta["id"]), "state.json"), {}) or {}
    quiet_for = float("inf") if state.get("status") in (IDLE, NEEDS_INPUT) else 0.0
    why = deliver(meta, quiet_for)
    if why:
        journal.append(protocol.queued_input(meta["id"], what, why))
    return why


def busy_because(screen: str, rules: dict, quiet_for: float, agent: object = None) -> str:
    """Why the agent cannot take text now ("" when it is at its input). `agent` is the
    profile's name, for its stuck screens."""
    status = matched(screen, rules)
    timed = status is None
    if timed:
        status = classify(screen, rules, quiet_for)
    if status == WORKING:
        return BUSY
    shown = dialog.read(screen)
    if status == NEEDS_INPUT and shown.kind == dialog.CHOICE:
        return AT_PROMPT
    if status == NEEDS_INPUT and shown.secret:
        return AT_SECRET
    # Idle by a pattern of the profile is its input box; idle by time alone is only quiet:
    # a menu of an agent without patterns is quiet too.
    if status == IDLE and timed and shown.kind == dialog.CHOICE:
        return AT_PROMPT
    found = stuck.read(screen, agent)
    return "%s (%s)" % (STUCK, found["input"]) if found is not None else ""


def deliver(
    meta: dict,
    quiet_for: float,
    seen: Optional[str] = None,
    append: Callable[[dict], object] = journal.append,
) -> str:
    """Type what waits, if the agent is at its input now (its screen captured afresh, after a
    first look at the screen last `seen` when given); "" when typed or nothing waits, else
    why it still waits. `append` journals (the watcher's own writer)."""
    session_id = meta["id"]
    name = tmux_name(session_id)
    if seen is not None:
        why = busy_because(seen, meta.get("rules") or {}, quiet_for, meta.get("agent"))
        if why:
            return why  # no capture while it plainly still waits: the watcher asks each tick
    with session_lock(session_id, "outbox"):
        entries = _entries(session_id)
        if not entries:
            _drop(session_id)
            return ""
        why = busy_because(
            tmux.capture(name), meta.get("rules") or {}, quiet_for, meta.get("agent")
        )
        if why:
            return why
        _drop(session_id)  # before typing: never twice, even if typing fails half-way
        text = "\n".join(e["text"] for e in entries)
        type_text(name, text, meta.get("send") or {})
    for what in sorted({str(e.get("what") or "note") for e in entries}):
        append(protocol.typed_input(session_id, what))
    return ""


def _drop(session_id: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(session_id))
