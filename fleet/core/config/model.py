"""What a loaded config holds: the settings dataclasses, the sections and keys they come from,
and the error that names a file and a line."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from fleet.core.config.budgets import Budgets
from fleet.core.config.locate import KeyPath, _nearest_line, format_key
from fleet.core.models import EVENT_KINDS, PROFILE_KEYS
from fleet.core.usage import Price

if TYPE_CHECKING:
    from fleet.core.config.pools import PoolConfig

SECTIONS: Final = ("ssh", "hosts", "pools", "agents", "keys", "hooks", "ui", "prices", "budgets")
UI_KEYS: Final = ("notify",)
NOTIFY_MODES: Final = ("bell", "osc9", "osc777", "off")
HOOK_KEYS: Final = ("timeout", *EVENT_KINDS, "*")
SSH_KEYS: Final = ("config", "keepalive", "keepalive_count", "connect_timeout", "max_connects")
HOST_KEYS: Final = ("ssh", "max_sessions")
MAX_SESSIONS: Final = 500  # a host listing more is shown cut to this many, and says so
# The keys an [agents.NAME] table may set: AgentProfile's fields (fleet.core.models).
AGENT_KEYS: Final = PROFILE_KEYS

# Host names appear in session refs HOST/NAME: no "/", nothing a shell or URL would mangle.
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
NAME_RULE: Final = (
    'letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters'
)
TARGET_EXAMPLE: Final = 'a string like "alias" or "user@host:port"'
MAX_SECONDS: Final = 86400  # a day: any delay or timeout beyond it is a typo


class ConfigError(Exception):
    """A config problem: ``str(err)`` is ``"{path}:{line}: {message}"`` (or without the line)."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class SshSettings:
    config_file: Path | None = None
    keepalive: float = 5.0  # seconds between keepalives; 0 = off (discouraged)
    keepalive_count: int = 3  # missed keepalives before the connection counts as dead
    connect_timeout: float = 15.0  # seconds
    max_connects: int = 8  # connects in flight at once, across all hosts


@dataclass(frozen=True)
class HostConfig:
    name: str
    ssh: str  # validated: parse_target(ssh) does not raise
    line: int  # where [hosts.NAME] is defined; 0 if unknown
    # At most this many of its sessions are followed: a host (or whatever answers for it)
    # that lists more cannot grow fleet's memory, store and grid without bound.
    max_sessions: int = MAX_SESSIONS
    # A workspace fleet made (fleet.core.workspaces) carries its own ssh config (its port, key,
    # known_hosts) and the pool it came from; a configured host has neither.
    ssh_config: Path | None = None
    pool: str | None = None
    via: str | None = None  # a workspace made on a fleet host: reached through its connection


@dataclass(frozen=True)
class Hook:
    """One ``[hooks]`` entry. ``argv`` is what runs: ``("/bin/sh", "-c", TEXT)`` for a string
    (the person's own shell command, as written), the list itself (no shell) for a list, with
    ``~`` expanded in its first element. It may hold tokens: it is kept out of repr()."""

    event: str  # an event kind or "*"
    argv: tuple[str, ...] = field(repr=False)
    shell: bool = False
    line: int = 0  # where it is defined; 0 if unknown

    @property
    def label(self) -> str:
        """``hooks.failed`` or ``hooks."*"``: how logs name this hook (never by its command)."""
        return format_key(("hooks", self.event))


@dataclass(frozen=True)
class HookSettings:
    timeout: float = 10.0  # seconds a hook may run before its process group is killed
    # event kind or "*" -> its hooks (one per key today; a tuple so more can come).
    commands: dict[str, tuple[Hook, ...]] = field(default_factory=dict)
    cwd: Path | None = None  # hooks run here: the config file's directory

    def matching(self, kind: str) -> tuple[Hook, ...]:
        """The hooks for an event of this kind: its own, then the "*" ones."""
        return self.commands.get(kind, ()) + self.commands.get("*", ())


@dataclass(frozen=True)
class Config:
    path: Path
    exists: bool
    ssh: SshSettings = field(default_factory=SshSettings)
    hosts: dict[str, HostConfig] = field(default_factory=dict)
    # [pools.NAME]: where workspaces are made (fleet.core.config.pools).
    pools: dict[str, PoolConfig] = field(default_factory=dict)
    # agent name -> validated overrides, keys from AGENT_KEYS: str, tuple[str, ...], float,
    # int, and SendMode (a str) for send_mode. fleet.core.agents merges them into the built-ins.
    agents: dict[str, dict[str, object]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    hooks: HookSettings = field(default_factory=HookSettings)
    # [ui] notify: how the TUI gets the person's attention besides a toast.
    notify: str = "bell"
    # [prices.MODEL]: US dollars per million tokens, over fleet.core.usage.DEFAULT_PRICES.
    prices: dict[str, Price] = field(default_factory=dict)
    # [budgets]: how much may be spent, and what 100 % does (fleet.core.config.budgets).
    budgets: Budgets = field(default_factory=Budgets)
    # Where each key is defined (key names only, never values): for errors found later.
    lines: dict[KeyPath, int] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, *key: str | int) -> int | None:
        """The line defining ``key`` (or its nearest enclosing table), None if unknown."""
        return _nearest_line(self.lines, key)

    def error(self, key: Sequence[str | int], message: str) -> ConfigError:
        """A ConfigError pointing at ``key``, e.g. ``cfg.error(("agents", "x"), "no command")``
        gives ``fleet.toml:12: agents.x: no command``."""
        return ConfigError(self.path, self.line_of(*key), f"{format_key(tuple(key))}: {message}")


_INVISIBLE: Final = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def describe(value: object, limit: int = 60) -> str:
    """A short, TOML-flavoured rendering of a value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        # C1 and bidi controls JSON leaves as they are: shown as escapes, never acted on.
        text = _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        return text if len(text) <= limit else text[: limit - 4] + '..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
