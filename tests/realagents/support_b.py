"""Helpers shared by the Codex, Gemini CLI and opencode tests of the real-agents tier."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path

from fleet.core.remote.hostside import procs
from tests.integration.hosts import LoopbackHost

# Several lines, quotes, a backtick, a dollar and a literal backslash-n: it must reach the model
# exactly, as ONE prompt (a newline inside it must not submit the first line on its own).
STEER = (
    "Use pytest, not unittest.\n"
    "Keep `add` pure; quote 'x' & \"y\" $HOME \\n stays.\n"
    "Then say what you would change."
)
NOTES = "# Notes\n\nadd() adds.\n"


def env_command(env: Mapping[str, str], program: Path | str, *args: str) -> str:
    """`env K=V ... PROGRAM ARGS` as a person writes it in fleet.toml (args kept as written,
    so `{task}` / `{agent_session}` stay placeholders)."""
    words = ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(str(program))]
    return " ".join([*words, *args])


def agent_table(name: str, **fields: str) -> str:
    """An `[agents.NAME]` table with these string fields (TOML strings via JSON)."""
    lines = [f"\n[agents.{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def user_processes(host: LoopbackHost, needle: str) -> list[int]:
    """Live processes of the host's user whose command line holds `needle` (zombies left out)."""
    return [
        pid
        for pid in procs.pids()
        if procs.owner(pid) == host.uid
        and procs.alive(pid)
        and needle in " ".join(procs.cmdline(pid))
    ]
