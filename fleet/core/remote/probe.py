"""What a host offers before fleet's helper runs there, and what one look at a host found.

The probe is one fixed shell command (the only value in it is the helper's path, which is
fleet's own hex digest): which of python3, tmux and git are on the PATH of commands run over
ssh, what each says its version is, whether this helper is installed, and the disk free in
the home. The client runs it on first contact, to refuse a host that lacks a tool and to
upload the helper only when this version is absent; `fleet doctor` and `fleet hosts` show
what it found (`HostReport`). What a host prints is read as untrusted text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import HostError
from ..textsafe import said

REQUIRED_TOOLS = ("python3", "tmux", "git")
MIN_PYTHON = (3, 8)

# `command -v` (a builtin) decides what is missing: the probe answers on a host whose PATH
# lacks any of the tools.
_SCRIPT = (
    'if command -v python3 >/dev/null 2>&1; then echo "version python3 $(python3 -V 2>&1)"; '
    'else echo "missing python3"; fi; '
    'if command -v tmux >/dev/null 2>&1; then echo "version tmux $(tmux -V 2>&1)"; '
    'else echo "missing tmux"; fi; '
    'if command -v git >/dev/null 2>&1; then echo "version git $(git --version 2>&1)"; '
    'else echo "missing git"; fi; '
    "test -x HELPER && echo installed; "
    'echo "disk $(df -Pk . 2>/dev/null | tail -n 1)"; '
    "exit 0"
)


def probe_script(helper_path: str) -> str:
    """The probe command for a host where this helper is (or would be) `helper_path`."""
    return _SCRIPT.replace("HELPER", helper_path)


def version_numbers(text: str) -> tuple[int, ...]:
    """The first dotted version in `text`: `tmux 3.3a` -> (3, 3); () when there is none."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return ()
    return tuple(int(g) for g in m.groups() if g is not None)


@dataclass(frozen=True)
class HostProbe:
    """What the probe found on a host."""

    missing: tuple[str, ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict)  # tool -> its version line
    installed: bool = False  # this version of the helper is on the host
    disk_free: int | None = None  # bytes free in the home, when df said

    @property
    def python(self) -> tuple[int, ...]:
        return version_numbers(self.versions.get("python3", ""))

    def problem(self) -> str:
        """Why fleet cannot run on this host, or "" when it can."""
        if self.missing:
            return (
                f"missing {', '.join(self.missing)}: fleet needs ssh, tmux, git and python3 "
                f"on each host (e.g. `apt-get install {' '.join(self.missing)}`)"
            )
        if self.python and self.python[:2] < MIN_PYTHON:
            shown = ".".join(str(n) for n in self.python[:2])
            return f"python3 is {shown}; fleet needs 3.8 or newer"
        return ""


def parse_probe(out: str) -> HostProbe:
    """The probe's output, read; lines it did not ask for are ignored."""
    missing: list[str] = []
    versions: dict[str, str] = {}
    installed = False
    disk: int | None = None
    for line in out.splitlines():
        words = line.split(" ", 2)
        if words[0] == "missing" and len(words) == 2 and words[1] in REQUIRED_TOOLS:
            missing.append(words[1])
        elif words[0] == "version" and len(words) == 3 and words[1] in REQUIRED_TOOLS:
            versions.setdefault(words[1], said(words[2], 200))
        elif line.strip() == "installed":
            installed = True
        elif words[0] == "disk":
            fields = line.split()
            # df -P: disk FILESYSTEM 1024-BLOCKS USED AVAILABLE CAPACITY MOUNTED
            if len(fields) >= 5 and fields[4].isdigit():
                disk = int(fields[4]) * 1024
    return HostProbe(tuple(missing), versions, installed, disk)


Stage = Literal["connect", "probe", "helper"]


@dataclass(frozen=True)
class HostReport:
    """One look at a host, each step's failure kept as data: connect (host key, login),
    probe (the tools), then the helper (installed if absent, and its hello)."""

    host: str
    target: str
    failed_at: Stage | None = None
    error: HostError | None = None  # why the step `failed_at` failed
    connect_seconds: float = 0.0
    peer: str = ""  # address:port the connection reached
    user: str = ""  # the user it logged in as
    probe: HostProbe | None = None
    hello: Mapping[str, Any] = field(default_factory=dict)  # the helper's answer, as sent

    @property
    def ok(self) -> bool:
        return self.error is None
