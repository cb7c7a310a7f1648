"""The shared vocabulary of fleet: plain dataclasses and enums, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # results builds on this module's types
    from .results import TmuxServer


class Status(StrEnum):
    STARTING = "starting"
    WORKING = "working"
    NEEDS_INPUT = "needs-input"
    IDLE = "idle"
    EXITED = "exited"
    FAILED = "failed"
    LOST = "lost"
    STOPPED = "stopped"


class SendMode(StrEnum):
    """How steering text reaches an agent's input box."""

    TYPE = "type"  # tmux send-keys -l: typed literally
    PASTE = "paste"  # tmux paste-buffer -p: one bracketed paste


class ProfileValue(StrEnum):
    """What an agent-profile field holds, so one check serves every source of profile values:
    fleet.core.config checks an `[agents.NAME]` table with it (errors at the key's line) and
    fleet.core.agents the overrides it is given in code."""

    COMMAND = "command"  # a non-empty command line
    TEMPLATE = "template"  # a command line; "" for none
    TEXT = "text"  # any string
    VERSION = "version"  # a version string like "1.2.3"
    PATTERNS = "patterns"  # a list of regexes (re.MULTILINE)
    SESSION_ID = "session-id"  # a regex with exactly one group
    SECONDS = "seconds"  # a number of seconds >= 0
    LINES = "lines"  # a whole number of lines >= 1
    SEND_MODE = "send-mode"  # a SendMode
    KEYS = "keys"  # a list of tmux key names
    WRAPPER = "wrapper"  # shell words a command runs inside (see fleet.core.sandbox)
    FLAG = "flag"  # true or false


def _holds(value: ProfileValue) -> dict[str, ProfileValue]:
    """The metadata that makes a field of AgentProfile a key of `[agents.NAME]`."""
    return {"profile": value}


@dataclass(frozen=True)
class AgentProfile:
    """How to start, resume, steer and read one kind of agent.

    Every field but `name` is a key an `[agents.NAME]` table may set, checked as its
    ProfileValue says: a new key is a new field here. A field whose default is None takes ""
    for None ("this agent cannot resume", "no sandbox").
    """

    name: str
    command: str = field(metadata=_holds(ProfileValue.COMMAND))
    resume: str | None = field(default=None, metadata=_holds(ProfileValue.TEMPLATE))
    # Regexes (re.MULTILINE) over the bottom `scope` non-blank lines of the screen.
    waiting: tuple[str, ...] = field(default=(), metadata=_holds(ProfileValue.PATTERNS))
    working: tuple[str, ...] = field(default=(), metadata=_holds(ProfileValue.PATTERNS))
    idle: tuple[str, ...] = field(default=(), metadata=_holds(ProfileValue.PATTERNS))
    # A screen that has not changed for this long while no pattern matches counts as idle.
    idle_after: float = field(default=5.0, metadata=_holds(ProfileValue.SECONDS))
    scope: int = field(default=30, metadata=_holds(ProfileValue.LINES))
    send_mode: SendMode = field(default=SendMode.TYPE, metadata=_holds(ProfileValue.SEND_MODE))
    # Pause between the text and Enter: some TUIs take a fast Enter as part of a paste.
    enter_delay: float = field(default=0.0, metadata=_holds(ProfileValue.SECONDS))
    interrupt: tuple[str, ...] = field(default=("C-c",), metadata=_holds(ProfileValue.KEYS))
    # The agent reads prose: what fleet types on its own (a rejection note) goes to it. Not a
    # shell, where a note would run as a command; a custom agent only when its profile says so.
    prose: bool = field(default=False, metadata=_holds(ProfileValue.FLAG))
    description: str = field(default="", metadata=_holds(ProfileValue.TEXT))
    # The agent's own conversation id, when its screen shows one (a regex with one group), and
    # the resume command that takes it as {agent_session}; `resume` is used without one.
    session_id: str | None = field(default=None, metadata=_holds(ProfileValue.SESSION_ID))
    resume_session: str | None = field(default=None, metadata=_holds(ProfileValue.TEMPLATE))
    # A wrapper the agent runs inside on its host (bwrap, podman, docker ...): shell words
    # with {worktree}, {gitdir}, {commondir}, {repogit}, {branch}, {repo}, {home}, {session}
    # placeholders (and more), the agent's own command appended after them. See
    # fleet.core.remote.hostside.sandbox.
    sandbox: str | None = field(default=None, metadata=_holds(ProfileValue.WRAPPER))
    # Whose lifecycle hooks fleet installs for each run ("claude", "codex", "opencode",
    # "aider"; None: none, the screen alone). Claude Code and Codex take them from a flag the
    # command passes: `--settings "$FLEET_SIGNALS"`, `-c "$FLEET_SIGNALS"`.
    signals: str | None = field(default=None, metadata=_holds(ProfileValue.TEXT))
    # How to ask the installed CLI its version on a host (`fleet agents`), and the version
    # these patterns were last checked against: a newer one may have moved its screens.
    version_command: str | None = field(default=None, metadata=_holds(ProfileValue.TEMPLATE))
    verified: str | None = field(default=None, metadata=_holds(ProfileValue.VERSION))

    def rules(self) -> dict[str, Any]:
        """What the host needs to classify this agent's screen (sent as JSON)."""
        return {
            "waiting": list(self.waiting),
            "working": list(self.working),
            "idle": list(self.idle),
            "idle_after": self.idle_after,
            "scope": self.scope,
            "session_id": self.session_id,
        }


PROFILE_VALUES: dict[str, ProfileValue] = {
    f.name: f.metadata["profile"] for f in fields(AgentProfile) if "profile" in f.metadata
}
"""The keys an `[agents.NAME]` table may set, in AgentProfile's order, and what each holds."""
PROFILE_KEYS: tuple[str, ...] = tuple(PROFILE_VALUES)


@dataclass(frozen=True)
class DiffStat:
    """A session's changes against its base (fleet.presentation says them in words)."""

    added: int = 0
    removed: int = 0
    files: int = 0
    approved: int = 0  # changed lines staged in the session's index: approved in review

    def to_json(self) -> dict[str, int]:
        return {
            "added": self.added,
            "removed": self.removed,
            "files": self.files,
            "approved": self.approved,
        }


@dataclass(frozen=True)
class WaitingOption:
    """One answer a dialog offers: the key a person names it by ("1", "y") and its label."""

    key: str
    label: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "label": self.label}


@dataclass(frozen=True)
class Waiting:
    """What a needs-input session waits for: a tool call (and what it will do: a Bash
    command, a file) or a question, as its agent's own hook said; a choice read off its
    screen; a login or an error to deal with. `options` are the dialog's answers on screen,
    `id` names this one request (what the dialog shows + the signal that caused it): an
    answer carries the id the person saw, and the host refuses it when the agent now asks
    something else."""

    kind: str  # "tool", "question", "choice", "login" or "error"
    tool: str = ""
    input: str = ""  # one line: the command, the file, the question, the error message
    options: tuple[WaitingOption, ...] = ()
    id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "tool": self.tool,
            "input": self.input,
            "options": [o.to_json() for o in self.options],
            "id": self.id,
        }


WAITING_KINDS = ("tool", "question", "choice", "login", "error")


@dataclass
class Session:
    """One agent run on one host, as the host describes it."""

    id: str
    name: str
    host: str
    agent: str
    status: Status
    branch: str
    worktree: str
    repo: str
    base: str = ""
    task: str = ""
    created: float = 0.0
    status_since: float = 0.0
    exit_code: int | None = None
    diffstat: DiffStat = field(default_factory=DiffStat)
    agent_session_id: str | None = None
    waiting: Waiting | None = None

    @property
    def ref(self) -> str:
        return f"{self.host}/{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "ref": self.ref,
            "agent": self.agent,
            "status": str(self.status),
            "exit_code": self.exit_code,
            "branch": self.branch,
            "worktree": self.worktree,
            "repo": self.repo,
            "base": self.base,
            "task": self.task,
            "created": self.created,
            "status_since": self.status_since,
            "diffstat": self.diffstat.to_json(),
            "agent_session_id": self.agent_session_id,
            "waiting": self.waiting.to_json() if self.waiting else None,
        }


@dataclass(frozen=True)
class HostCheck:
    """Whether a host is usable, and why not."""

    name: str
    target: str
    reachable: bool
    reason: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    tmux: TmuxServer | None = None  # how its tmux server stands, when the helper said

    @property
    def usable(self) -> bool:
        """Reachable, and its tmux can start sessions."""
        return self.reachable and (self.tmux is None or self.tmux.ok)


EVENT_KINDS: tuple[str, ...] = (
    "needs-input",
    "idle",
    "working",
    "exited",
    "failed",
    "stopped",
    "lost",  # the host became unreachable
    "back",  # the host is reachable again
    "approved",
    "rejected",
    "steered",
    "started",
    "resumed",
    "checkpoint",
    "budget-warning",  # 80 % of a budget spent
    "budget-exceeded",  # 100 %: and paused, for a budget with action = "pause"
)
"""Every kind of :class:`DomainEvent`, in the order the docs list them."""


@dataclass(frozen=True)
class DomainEvent:
    """Something a person may want to hear about: a status change, a decision, a steer.

    The supervisor emits these; hooks (fleet.core.hooks) receive :meth:`to_json` on stdin.
    Host-level events ("lost", "back") have no session and no name.
    """

    kind: str  # one of EVENT_KINDS
    host: str
    session: str | None  # the session id
    name: str | None  # the session name
    at: float  # unix time
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

    @property
    def ref(self) -> str:
        """``host/name`` like Session.ref, or just ``host`` for a host-level event."""
        return f"{self.host}/{self.name}" if self.name else self.host

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.kind,
            "host": self.host,
            "session": self.session,
            "name": self.name,
            "ref": self.ref,
            "at": self.at,
            "detail": self.detail,
        }
