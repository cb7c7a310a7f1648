"""What an action on a session gave back, typed: the helper's answers, checked once in
fleet.core.remote.answers, and what the faces print (`to_json` is what `--json` prints).

Every text field here came from a host and is already inert and bounded; numbers are in range;
commits are hex; paths are text to show, never to open locally.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from .models import DiffStat, Session


def _plain(value: object) -> object:
    if isinstance(value, Session):
        return value.ref
    if isinstance(value, DiffStat):
        return value.to_json()
    if isinstance(value, Checkpoint):
        return value.to_json()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Json:
    def to_json(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Checkpoint(_Json):
    n: int
    commit: str
    time: float
    reason: str
    changes: DiffStat | None = None  # against the base when it was taken
    created: bool = True  # False: nothing had changed, this is the last one


@dataclass(frozen=True)
class Checkpointed(_Json):
    session: Session
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Checkpoints(_Json):
    session: Session
    checkpoints: tuple[Checkpoint, ...]


@dataclass(frozen=True)
class Rewound(_Json):
    session: Session
    checkpoint: Checkpoint  # the one whose files are back
    before: Checkpoint  # the current files, checkpointed first: rewind to it to come back
    restored: int
    removed: int
    exact: bool  # the files are exactly the checkpoint's


@dataclass(frozen=True)
class Approved(_Json):
    session: Session
    decision: int
    checkpoint: int  # taken before the decision
    hunks: tuple[int, ...]  # staged by it (numbers in the diff the person saw)
    branch: str
    commit: str | None = None  # made on the branch (approve all)
    message: str = ""


class Delivery(StrEnum):
    """What became of what fleet tells an agent on its own (a rejection's note)."""

    TOLD = "told"  # typed into its input
    QUEUED = "queued"  # kept on the host until the agent is back at its input
    NOT_PROSE = "not-prose"  # the agent reads no prose (a shell): kept in the record only
    NOT_RUNNING = "not-running"  # the agent is not running


@dataclass(frozen=True)
class Rejected(_Json):
    session: Session
    decision: int
    checkpoint: int
    hunks: tuple[int, ...]
    kept: str  # where the host keeps the rejected patch
    told: bool  # the agent was told (typed into its input)
    message: str  # what it was, or would have been, told
    delivery: Delivery = Delivery.TOLD
    waits: str = ""  # queued: why ("at a prompt", "working")


@dataclass(frozen=True)
class Undone(_Json):
    session: Session
    decision: int
    action: str  # what the undone decision was: approve, reject
    paths: tuple[str, ...]
    checkpoint: int  # of the state before the undo
    uncommitted: str | None = None  # the commit it took off the branch
    hunks: tuple[str, ...] = ()  # fingerprints of the hunks the undone decision acted on


@dataclass(frozen=True)
class Pushed(_Json):
    session: Session
    branch: str
    remote: str
    pr: str | None = None  # the pull request's address, when gh opened one
    pr_note: str = ""  # why there is none


@dataclass(frozen=True)
class Held(_Json):
    """Where the host holds a session's branch commit besides the branch itself (the check
    before `fleet rm`)."""

    branch: str
    commit: str  # "" when the branch is gone
    at_base: bool  # never moved from its base: removing it loses no commit
    held_by: tuple[str, ...]  # other refs on the host that contain it (a branch, a push)


@dataclass(frozen=True)
class Landed(_Json):
    session: Session
    branch: str  # the local branch, fleet/HOST/NAME
    commit: str
    remote: str
    url: str
    new: bool  # the local branch was made now (else moved)


@dataclass(frozen=True)
class Changed(_Json):
    """A session after stop or resume; `already`: it was so before (nothing was done)."""

    session: Session
    already: bool = False


@dataclass(frozen=True)
class Answered(_Json):
    """What an answer to an agent's dialog typed: the request it answered (its id), the
    option picked, and for a deny with a note whether the note went ("sent", or why not)."""

    session: Session
    action: str  # "allow", "deny" or "answer"
    request: str
    question: str
    key: str
    label: str
    note: str = ""


@dataclass(frozen=True)
class Screen(_Json):
    session: Session
    text: str  # the pane as the host captured it: NOT inert (faces make it so)
    live: bool  # captured from the live pane (else the last screen the host kept)


@dataclass(frozen=True)
class DiffAnswer:
    """A diff as the helper gave it, checked: fleet.core.review.parse makes it a Diff."""

    text: str  # NOT inert: the exact diff (faces make what they show of it inert)
    base: str
    approved: tuple[str, ...]  # fingerprints of the hunks staged
    review: int  # the session's review version
    extra: dict[str, Any]  # since, branch, committed, rejected


TMUX_STATES = ("alive", "none", "wedged", "error")


@dataclass(frozen=True)
class TmuxServer(_Json):
    """How fleet's tmux server on a host stands (the helper's hello): `alive`; `none` (no
    server yet: fine); `wedged` (`how` "closes": it closes every connection, tmux's "server
    exited unexpectedly", an exiting server waiting for clients, with no session left; or
    "silent": nothing answers, and it may still hold live agents); `error` (tmux fails)."""

    state: str
    detail: str = ""  # tmux's words, or "stale socket" for a socket file nothing listens on
    socket: str = ""
    pid: int | None = None  # the server's process, when the host could tell
    holders: tuple[int, ...] = ()  # fleet's own control clients, when it is wedged
    how: str = ""  # "closes" or "silent", when it is wedged
    stopped: bool = False  # the server's process is stopped (SIGSTOP)

    @property
    def ok(self) -> bool:
        return self.state in ("alive", "none")


@dataclass(frozen=True)
class TmuxRepair(_Json):
    """What `fleet doctor --repair` did to a host's tmux (maybe nothing), and how it is after."""

    done: tuple[str, ...]
    after: TmuxServer
