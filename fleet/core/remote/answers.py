"""The helper's answers to actions, checked once into fleet.core.results, like the watch stream.

A compromised host may answer with anything: escapes in a branch name, a list where a number
goes, a commit that is not hex. Each parser takes the answer object and gives the typed result
with its text inert and bounded, or raises RemoteError (kind "protocol"), logged, naming the
field. Nothing the CLI or the TUI prints of an answer comes from anywhere else.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import results
from ..errors import RemoteError
from ..models import Session
from .untrusted import (
    MAX_MESSAGE,
    MAX_SCREEN,
    Malformed,
    _branch,
    _count,
    _diffstat,
    _fingerprints,
    _text,
    _time,
)

log = logging.getLogger("fleet.remote")

_COMMIT = re.compile(r"^[0-9a-f]{4,64}\Z")
MAX_PATHS = 1000  # paths of one answer kept (the helper sends at most 100)

T = TypeVar("T")


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Malformed(f"{what} is not an object")
    return value


def _commit(value: object, what: str = "commit", optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise Malformed(f"invalid {what}")
    return value


def _flag(value: object, what: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise Malformed(f"invalid {what}: not true or false")
    return value


def _paths(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise Malformed("invalid paths: not a list")
    return tuple(_text(p, "path") for p in value[:MAX_PATHS])


def checkpoint(data: object) -> results.Checkpoint:
    raw = _object(data, "the checkpoint")
    changes = raw.get("changes")
    return results.Checkpoint(
        n=_count(raw.get("n"), "checkpoint number", None),
        commit=_commit(raw.get("commit")) or "",
        time=_time(raw.get("time"), "checkpoint time"),
        reason=_text(raw.get("reason"), "checkpoint reason", 200),
        changes=_diffstat(changes) if changes else None,
        created=_flag(raw.get("created"), "created", True),
    )


def checkpointed(session: Session, data: object) -> results.Checkpointed:
    return results.Checkpointed(session, checkpoint(data))


def checkpoints(session: Session, rows: object) -> results.Checkpoints:
    if not isinstance(rows, list):
        raise Malformed("the checkpoints are not a list")
    return results.Checkpoints(session, tuple(checkpoint(row) for row in rows))


def rewound(session: Session, data: object) -> results.Rewound:
    raw = _object(data, "the rewind")
    return results.Rewound(
        session=session,
        checkpoint=checkpoint(raw.get("checkpoint")),
        before=checkpoint(raw.get("before")),
        restored=_count(raw.get("restored"), "restored files"),
        removed=_count(raw.get("removed"), "removed files"),
        exact=_flag(raw.get("exact"), "exact", True),
    )


def approved(session: Session, data: object, hunks: list[int], message: str) -> results.Approved:
    raw = _object(data, "the approval")
    return results.Approved(
        session=session,
        decision=_count(raw.get("decision"), "decision", None),
        checkpoint=_count(raw.get("checkpoint"), "checkpoint"),
        hunks=tuple(hunks),
        branch=_branch(raw.get("branch")) or session.branch,
        commit=_commit(raw.get("commit"), optional=True),
        message=message,
    )


def rejected(session: Session, data: object, hunks: list[int]) -> results.Rejected:
    raw = _object(data, "the rejection")
    return results.Rejected(
        session=session,
        decision=_count(raw.get("decision"), "decision", None),
        checkpoint=_count(raw.get("checkpoint"), "checkpoint"),
        hunks=tuple(hunks),
        kept=_text(raw.get("kept"), "kept patch"),
        told=_flag(raw.get("told"), "told", False),
        message=_text(raw.get("message"), "message", MAX_MESSAGE + 200),
        delivery=_delivery(raw.get("delivery"), raw.get("told")),
        waits=_text(raw.get("waits"), "why the note waits", 80),
    )


def _delivery(value: object, told: object) -> results.Delivery:
    if value is None:  # a helper that only says whether it typed the note
        return results.Delivery.TOLD if told is True else results.Delivery.NOT_RUNNING
    if value not in {str(d) for d in results.Delivery}:
        raise Malformed("invalid note delivery")
    return results.Delivery(value)


def undone(session: Session, data: object) -> results.Undone:
    raw = _object(data, "the undo")
    action = raw.get("action")
    if action not in ("approve", "reject"):
        raise Malformed("invalid undone action")
    return results.Undone(
        session=session,
        decision=_count(raw.get("decision"), "decision", None),
        action=str(action),
        paths=_paths(raw.get("paths")),
        hunks=_fingerprints(raw.get("hunks")),
        checkpoint=_count(raw.get("checkpoint"), "checkpoint"),
        uncommitted=_commit(raw.get("uncommitted"), "uncommitted commit", optional=True),
    )


def pushed(session: Session, data: object) -> results.Pushed:
    raw = _object(data, "the push")
    pr = raw.get("pr")
    return results.Pushed(
        session=session,
        branch=_branch(raw.get("pushed")) or session.branch,
        remote=_text(raw.get("remote"), "remote", 200) or "origin",
        pr=_text(pr, "pull request", 500) or None,
        pr_note=_text(raw.get("pr_note"), "pull request note", MAX_MESSAGE),
    )


def answered(session: Session, action: str, data: object) -> results.Answered:
    raw = _object(data, "the answer")
    picked = _object(raw.get("picked"), "the option picked")
    return results.Answered(
        session=session,
        action=action,
        request=_text(raw.get("id"), "request id", 64),
        question=_text(raw.get("question"), "question", 200),
        key=_text(picked.get("key"), "option key", 8),
        label=_text(picked.get("label"), "option label", 200),
        note=_text(raw.get("note"), "note delivery", 200),
    )


def held(session: Session, data: object) -> results.Held:
    raw = _object(data, "the check")
    commit = raw.get("commit")
    refs = raw.get("held_by")
    if refs is not None and not isinstance(refs, list):
        raise Malformed("invalid held_by: not a list")
    return results.Held(
        branch=_branch(raw.get("branch")) or session.branch,
        commit="" if commit in (None, "") else str(_commit(commit)),
        at_base=_flag(raw.get("at_base"), "at_base", False),
        held_by=tuple(_text(r, "ref", 300) for r in (refs or [])[:20]),
    )


def screen(session: Session, data: object) -> results.Screen:
    raw = _object(data, "the screen")
    text = raw.get("text")
    if not isinstance(text, str) or len(text) > MAX_SCREEN:
        raise Malformed("a screen whose text is missing or too long")
    return results.Screen(session, text, _flag(raw.get("live"), "live", True))


def diff(data: object, view: str) -> results.DiffAnswer:
    raw = _object(data, "the diff")
    text, base = raw.get("text"), raw.get("base", "")
    if not isinstance(text, str) or not isinstance(base, str):
        raise Malformed("a diff without its text")
    version = raw.get("review", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise Malformed("a diff without its review version")
    if raw.get("view", view) != view:
        raise Malformed("a diff of another view than asked")
    approved = raw.get("approved") or []
    if not isinstance(approved, list):
        raise Malformed("invalid approved hunks")
    rejected = raw.get("rejected") or []
    if not isinstance(rejected, list):
        raise Malformed("invalid rejections")
    extra: dict[str, Any] = {
        "since": _since(raw.get("since")),
        "branch": _branch(raw.get("branch")),
        "committed": _commit(raw.get("committed"), "approved commit", optional=True),
        "rejected": [
            {
                "decision": _count(_object(r, "a rejection").get("decision"), "decision"),
                "hunks": _count(_object(r, "a rejection").get("hunks"), "rejected hunks"),
                "paths": list(_paths(_object(r, "a rejection").get("paths"))),
            }
            for r in rejected[:MAX_PATHS]
        ],
    }
    fps = tuple(fp for fp in approved if isinstance(fp, str))
    return results.DiffAnswer(text, base, fps, version, extra)


def _since(raw: object) -> dict[str, int] | None:
    """The decision the `since` view starts after: only its number is shown."""
    if not isinstance(raw, Mapping) or raw.get("decision") is None:
        return None
    return {"decision": _count(raw.get("decision"), "decision")}


def _pid(value: object, what: str) -> int | None:
    if value is None:
        return None
    pid = _count(value, what)
    if not 1 < pid < 2**31:
        raise Malformed(f"invalid {what}")
    return pid


def tmux_server(data: object) -> results.TmuxServer | None:
    """The hello's tmux_server; None from a helper that does not say (not an answer of ours)."""
    if data is None:
        return None
    raw = _object(data, "the tmux server's state")
    state, how = raw.get("state"), raw.get("how") or ""
    if state not in results.TMUX_STATES or how not in ("", "closes", "silent"):
        raise Malformed("invalid tmux server state")
    holders = raw.get("holders") or []
    if not isinstance(holders, list):
        raise Malformed("invalid tmux clients: not a list")
    return results.TmuxServer(
        state=str(state),
        detail=_text(raw.get("detail"), "tmux's words", 500),
        socket=_text(raw.get("socket"), "tmux socket", 500),
        pid=_pid(raw.get("pid"), "tmux server pid"),
        holders=tuple(p for p in (_pid(h, "tmux client pid") for h in holders[:100]) if p),
        how=str(how),
        stopped=_flag(raw.get("stopped"), "stopped", False),
    )


def tmux_repair(data: object) -> results.TmuxRepair:
    raw = _object(data, "the repair")
    done = raw.get("done") or []
    if not isinstance(done, list):
        raise Malformed("invalid repairs: not a list")
    after = tmux_server(raw.get("after"))
    if after is None:
        raise Malformed("a repair without the state after it")
    return results.TmuxRepair(tuple(_text(d, "repair", 500) for d in done[:20]), after)


def checked(host: str, what: str, parse: Callable[[], T]) -> T:
    """`parse()`, with a malformed answer as the RemoteError a caller reports."""
    try:
        return parse()
    except Malformed as exc:
        log.error("%s: rejected the helper's answer to %s: %s", host, what, exc)
        raise RemoteError(
            host, "protocol", f"the helper's answer to {what} is malformed: {exc}"
        ) from None
