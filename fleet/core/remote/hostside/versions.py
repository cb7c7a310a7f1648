"""Which version of each agent CLI this host has (`fleet agents`).

Each profile's version command runs under the person's login shell, as the agent itself would
(launch.op_exec), all at once with a deadline: a CLI that hangs or is missing costs one
timeout, not one per agent. The command text comes from fleet's profiles (the person's config),
never from an agent; it travels as an argument, not inside a shell string of ours.

Stdlib only, Python 3.8 compatible: this runs on the hosts.
"""

from __future__ import annotations

import subprocess
import time

from .launch import login_shell
from .layout import HelperError

TIMEOUT = 20.0
MAX_AGENTS = 32
MAX_OUTPUT = 200  # characters of the first output line sent back


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:MAX_OUTPUT]
    return ""


def op_agent_versions(args: dict) -> dict:
    """{"commands": {agent: command}} -> {agent: {"output", "code"} or {"error"}}."""
    commands = args.get("commands")
    if not isinstance(commands, dict) or len(commands) > MAX_AGENTS:
        raise HelperError("bad-request", "commands must be an object of at most 32 agents")
    running = {}
    out: dict = {}
    for agent, command in commands.items():
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            out[agent] = {"error": "no version command"}
            continue
        try:
            running[agent] = subprocess.Popen(
                [login_shell(), "-lc", command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            out[agent] = {"error": "cannot run the login shell: %s" % e.strerror}
    deadline = time.time() + TIMEOUT
    for agent, proc in running.items():
        try:
            stdout, stderr = proc.communicate(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            out[agent] = {"error": "no answer in %d s" % TIMEOUT}
            continue
        out[agent] = {
            "code": proc.returncode,
            "output": _first_line(stdout) or _first_line(stderr),
        }
    return out
