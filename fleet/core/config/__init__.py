"""fleet's TOML config: loaded, validated, and every error names the file and the line.

The format (every section optional)::

    [ssh]
    config = "~/.ssh/config"      # "" = read no ssh config
    keepalive = 5
    keepalive_count = 3
    connect_timeout = 15
    max_connects = 8

    [hosts.alpha]
    ssh = "alpha"                 # ssh config alias, "user@host:port", "user@host", "host:port"

    [agents.myagent]              # merged into the built-in profiles by fleet.core.agents
    command = "myagent --yes {task}"
    waiting = ['^Continue\\? \\[y/N\\]']
    sandbox = "bwrap --ro-bind / / --bind {worktree} {worktree} --"   # see examples/sandbox

    [keys]                        # reserved for the TUI: action -> key
    quit = "q"

    [hooks]                       # event kind (or "*") -> a command that gets the event JSON
    timeout = 10                  # seconds a hook may run
    needs-input = "notify-send fleet 'an agent needs you'"   # a string: run by /bin/sh -c
    failed = ["~/bin/page-me", "--urgent"]                 # a list: argv, no shell

tomllib gives no line numbers for values, so :class:`_Locator` scans the raw text for table
headers and ``key =`` lines to point errors at the right line. Config files may hold secrets:
nothing here logs the contents, and errors quote only the offending value, shortened.
"""

from __future__ import annotations

from fleet.core.config.checks import ValueChecks
from fleet.core.config.loader import _Loader, load_config
from fleet.core.config.locate import KeyPath, _Locator, format_key
from fleet.core.config.model import (
    AGENT_KEYS,
    HOOK_KEYS,
    HOST_KEYS,
    MAX_SECONDS,
    NAME_RE,
    NAME_RULE,
    NOTIFY_MODES,
    SECTIONS,
    SSH_KEYS,
    TARGET_EXAMPLE,
    UI_KEYS,
    Config,
    ConfigError,
    Hook,
    HookSettings,
    HostConfig,
    SshSettings,
    describe,
)
from fleet.core.config.targets import parse_target

__all__ = [
    "AGENT_KEYS",
    "HOOK_KEYS",
    "HOST_KEYS",
    "MAX_SECONDS",
    "NAME_RE",
    "NAME_RULE",
    "NOTIFY_MODES",
    "SECTIONS",
    "SSH_KEYS",
    "TARGET_EXAMPLE",
    "UI_KEYS",
    "Config",
    "ConfigError",
    "Hook",
    "HookSettings",
    "HostConfig",
    "KeyPath",
    "SshSettings",
    "ValueChecks",
    "_Loader",
    "_Locator",
    "describe",
    "format_key",
    "load_config",
    "parse_target",
]
