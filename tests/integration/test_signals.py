"""Agents' own signals on a real loopback host: fleet installs its hooks for the run, a fake
agent calls them the way Claude Code 2.1.328 does (each hook's command through a shell, the
payload JSON on stdin), and the laptop sees the status and what the agent waits for."""

from __future__ import annotations

import textwrap
import time
from typing import Any

from fleet.core.remote.hostside import signals
from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet

# Reads `--settings FILE` like Claude Code; its screen never matches the profile's waiting
# patterns, so only the hooks can tell fleet it waits.
FAKE_CLAUDE = r"""
import json, subprocess, sys

hooks = json.load(open(sys.argv[sys.argv.index("--settings") + 1]))["hooks"]
sid = "0d2c4e8a-1111-2222-3333-444455556666"

def hook(event, **fields):
    payload = dict(fields, session_id=sid, hook_event_name=event, cwd=".")
    for entry in hooks.get(event, []):
        for h in entry["hooks"]:
            done = subprocess.run(["sh", "-c", h["command"]], input=json.dumps(payload).encode(),
                                  capture_output=True, timeout=h["timeout"])
            assert done.stdout == b"", done.stdout  # a hook's stdout would reach the model

hook("SessionStart", source="startup")
print("fake claude ready", flush=True)
while True:
    print("> ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        break
    hook("UserPromptSubmit", prompt=line.strip())
    bash = {"command": "npm test", "description": "Run the tests"}
    hook("PreToolUse", tool_name="Bash", tool_input=bash, tool_use_id="t1")
    hook("PermissionRequest", tool_name="Bash", tool_input=bash)
    print("tool call pending", flush=True)
    sys.stdin.readline()
    hook("PostToolUse", tool_name="Bash", tool_input=bash, tool_response={"stdout": "ok"})
    print("ran it; thinking", flush=True)
    sys.stdin.readline()
    hook("Stop", last_assistant_message="done")
    print("done", flush=True)
"""


def _fleet(lf: LoopbackFleet) -> FleetCLI:
    script = lf.dir / "agents" / "fakeclaude.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(FAKE_CLAUDE)
    script.chmod(0o644)
    extra = textwrap.dedent(
        f"""
        [agents.fakeclaude]
        command = 'python3 {script} --settings "$FLEET_SIGNALS"'
        signals = "claude"
        idle = ['^> ?\\Z']
        idle_after = 1.0
        enter_delay = 0.05
        """
    )
    return FleetCLI(lf, extra)


def test_hooks_drive_the_status_and_say_what_the_agent_waits_for(
    fresh_hosts: LoopbackFleet,
) -> None:
    fleet = _fleet(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "fakeclaude", "--name", "sig")
    ref = "alpha/sig"
    fleet.wait_status(ref, "idle")
    fleet.ok("send", ref, "go")

    session = fleet.wait_status(ref, "needs-input")
    waiting = session["waiting"]
    assert {k: waiting[k] for k in ("kind", "tool", "input")} == {
        "kind": "tool",
        "tool": "Bash",
        "input": "npm test",
    }
    # No dialog on its screen: no options, and a request id from the signal alone.
    assert waiting["options"] == [] and len(waiting["id"]) == 16
    assert session["agent_session_id"] == "0d2c4e8a-1111-2222-3333-444455556666"
    shown = fleet.ok("screen", ref, "--json").json()
    assert shown["waiting"] == session["waiting"] and shown["status"] == "needs-input"

    # The screen goes quiet ("tool call pending", no prompt): past the timing rule's idle_after
    # and the signal's grace it still reads needs-input, never idle.
    quiet_until = time.time() + 1.0 + signals.SCREEN_GRACE + 1.0
    while time.time() < quiet_until:
        assert fleet.sessions()[ref]["status"] == "needs-input"
        time.sleep(0.3)

    fleet.ok("send", ref, "1")
    working = fleet.wait_status(ref, "working")
    assert working["waiting"] is None
    fleet.ok("send", ref, "y")
    assert fleet.wait_status(ref, "idle")["waiting"] is None


def test_a_hook_that_fails_leaves_the_agent_running(fresh_hosts: LoopbackFleet) -> None:
    """The helper gone (a newer fleet replaced it): the hooks fail, the agent goes on."""
    fleet = _fleet(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "fakeclaude", "--name", "nohelp")
    fleet.wait_status("alpha/nohelp", "idle")
    host = fresh_hosts["alpha"]
    for helper in (host.home / ".fleet").glob("helper-*.pyz"):
        fresh_hosts.run_as(host.name, ["rm", "-f", str(helper)])
    fleet.ok("send", "alpha/nohelp", "go")

    def screen() -> Any:
        text = fleet.ok("screen", "alpha/nohelp").out
        return text if "tool call pending" in text else None

    wait_for(screen, 20, 0.3, "the agent to go on without its hooks")
