"""The agents' own hooks drive their status, live: Claude Code (`--settings "$FLEET_SIGNALS"`)
and Gemini CLI (a system-defaults file of the session's own) go working -> needs-input at a
tool request -> working -> idle, and what fleet says the session waits for (the tool and its
command) can only have come from the hook: the screen does not give it. The host's journal
holds this run's signal records; a hook call that names an earlier run changes nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet, LoopbackHost
from tests.realagents import test_gemini
from tests.realagents.fakemodel import FakeModel, say, shell
from tests.realagents.harness import AgentRun, agent_table, env_command, settle, start

CLAUDE_NAME = "claude-signals"


def _signals(host: LoopbackHost, run: AgentRun) -> list[dict[str, Any]]:
    """The signal records of this session in the host's journal."""
    path = host.home / ".fleet" / "journal.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    sid = run.session["id"]
    return [r for r in records if r.get("type") == "signal" and r.get("session") == sid]


def _runs(host: LoopbackHost, run: AgentRun) -> int:
    meta = host.home / ".fleet" / "sessions" / run.session["id"] / "meta.json"
    return int(json.loads(meta.read_text())["runs"])


def _waiting(run: AgentRun) -> dict[str, Any] | None:
    return run.fleet.sessions()[run.ref].get("waiting")


def _tool_turn(run: AgentRun, model: FakeModel, command: str, answer: str) -> dict[str, Any]:
    """A prompt whose reply runs `command` after the person allows it: the statuses on the way
    and what fleet said the session waited for."""
    thinking, answering = model.gate(), model.gate()
    model.script(
        shell(command, text="Let me run it.", hold=thinking), say("Ran it.", hold=answering)
    )
    run.send("run the app")
    run.wait("working")
    thinking.open()
    run.wait("needs-input")
    # The dialog may be on screen a moment before its hook has run: what it waits for follows.
    waiting = settle(lambda: _waiting(run), what="what the session waits for")
    run.send(answer)
    run.wait("working")
    answering.open()
    run.wait("idle")
    assert run.statuses[-5:] == ["idle", "working", "needs-input", "working", "idle"]
    return waiting


def _hook_of_an_earlier_run(host: LoopbackHost, run: AgentRun, agent: str, payload: dict) -> None:
    """The real hook program, as the host's user, naming the run before this one."""
    (helper,) = (host.home / ".fleet").glob("helper-*.pyz")
    env = [
        f"HOME={host.home}",
        f"FLEET_SESSION={run.session['id']}",
        f"FLEET_RUN={_runs(host, run) - 1}",
    ]
    subprocess.run(
        ["runuser", "-u", host.user, "--", "env", *env, "python3", str(helper), "hook", agent],
        input=json.dumps(payload).encode(),
        check=True,
        timeout=30,
    )


def test_claude_hooks_drive_its_status(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    host = hosts["alpha"]
    seed(
        ".claude.json",
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "theme": "dark",
                "hasSeenAutoDefaultNotice": True,
                "customApiKeyResponses": {"approved": ["sk-ant-fake"], "rejected": []},
                "projects": {
                    str(host.home / ".fleet" / "worktrees" / CLAUDE_NAME): {
                        "hasTrustDialogAccepted": True
                    }
                },
            }
        ),
    )
    env = {
        "ANTHROPIC_BASE_URL": model.url,
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    command = env_command(
        env, agent_cli("claude"), '--settings "$FLEET_SIGNALS"', "--permission-mode", "manual"
    )
    fleet = FleetCLI(hosts, agent_table("claude", command=command))
    run = start(fleet, "claude", CLAUDE_NAME)
    run.wait("idle")

    waiting = _tool_turn(run, model, "python3 app.py", "1")
    assert {k: waiting[k] for k in ("kind", "tool", "input")} == {
        "kind": "tool",
        "tool": "Bash",
        "input": "python3 app.py",
    }
    settle(lambda: any("hello, world" in r for r in model.tool_results()), what="the tool ran")

    records = _signals(host, run)
    events = [r["event"] for r in records]
    for event in ("UserPromptSubmit", "PermissionRequest", "PostToolUse", "Stop"):
        assert event in events, events
    assert {r["run"] for r in records} == {_runs(host, run)}

    # An earlier run's agent still talking: nothing journaled, the status stays.
    before = len(records)
    ask = {"hook_event_name": "PermissionRequest", "tool_name": "Bash", "tool_input": {}}
    _hook_of_an_earlier_run(host, run, "claude", ask)
    assert len(_signals(host, run)) == before
    assert run.status() == "idle" and _waiting(run) is None


def test_gemini_hooks_drive_its_status(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    host = hosts["alpha"]
    fleet = test_gemini._fleet(hosts, model, agent_cli("gemini"), seed)
    run = start(fleet, "gemini", "gemini-signals")
    run.wait("idle")

    waiting = _tool_turn(run, model, "python3 app.py", "1")
    assert {k: waiting[k] for k in ("kind", "tool", "input")} == {
        "kind": "tool",
        "tool": "Shell",
        "input": "python3 app.py",
    }

    records = _signals(host, run)
    events = [r["event"] for r in records]
    for event in ("BeforeAgent", "Notification", "AfterTool", "AfterAgent"):
        assert event in events, events
    assert {r["run"] for r in records} == {_runs(host, run)}
    assert records[-1]["state"] == "idle"
    # fleet's file is where Gemini CLI read it; nothing of fleet's in the repo or ~/.gemini.
    assert not (run.worktree / ".gemini").exists()
    assert "fleet" not in (host.home / ".gemini" / "settings.json").read_text()
