"""Claude Code 2.1.328 as a fleet session, against the scripted model (see README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents.fakemodel import FakeModel, finish, say, shell, write
from tests.realagents.harness import (
    NOTES,
    agent_table,
    allow_deny_and_refuse_a_stale_answer,
    answer,
    env_command,
    reject_notes_and_check_the_agent_is_told,
    resume_and_ask,
    settle,
    start,
    steer,
    turn_ends_with_one_prompt,
)

NAME = "claude-run"
# Several lines, quotes, a backtick, a dollar and a literal backslash-n: it must reach the model
# exactly, as ONE prompt (a typed newline must not submit the first line on its own).
STEER = (
    "Use pytest, not unittest.\n"
    "Keep `add` pure; quote 'x' & \"y\" $HOME \\n stays.\n"
    "Then run the app to check it."
)


def _fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    claude: Path,
    seed: Callable[..., Path],
    name: str = NAME,
    hooks: tuple[str, ...] = (),
) -> FleetCLI:
    home = hosts["alpha"].home
    # What a person does once per machine: onboarding done, the API key approved, and the
    # session's worktree trusted (Claude Code asks per folder; parents do not count).
    seed(
        ".claude.json",
        json.dumps(
            {
                "hasCompletedOnboarding": True,
                "theme": "dark",
                "hasSeenAutoDefaultNotice": True,
                "customApiKeyResponses": {"approved": ["sk-ant-fake"], "rejected": []},
                "projects": {
                    str(home / ".fleet" / "worktrees" / name): {"hasTrustDialogAccepted": True}
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
    # manual: the default "auto" mode lets a model-based classifier approve tools. fleet's
    # hooks (the built-in command's --settings) only where the test is about them.
    manual = ("--permission-mode", "manual", *hooks)
    toml = agent_table(
        "claude",
        command=env_command(env, claude, *manual, "{task}"),
        resume=env_command(env, claude, *manual, "--continue"),
    )
    return FleetCLI(hosts, toml)


def test_claude_steer_permission_diff_reject_resume(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = _fleet(hosts, model, agent_cli("claude"), seed)
    run = start(fleet, "claude", NAME)
    run.wait("idle")

    # Steering reaches the model once and complete; the held reply keeps the agent working.
    thinking, answering = model.gate(), model.gate()
    model.script(
        shell("python3 app.py", text="Let me run the app.", hold=thinking),
        say("It printed hello, world.", hold=answering),
    )
    steer(run, model, STEER)

    # A permission prompt, answered through fleet ("1" picks "Yes").
    answer(run, thinking, "Do you want to proceed?", "1")
    settle(lambda: any("hello, world" in r for r in model.tool_results()), what="the tool ran")
    turn_ends_with_one_prompt(run, model, answering, STEER)

    # A file the agent writes (after its own permission prompt) is a hunk in fleet's diff.
    model.script(write("NOTES.md", NOTES, text="Writing notes."), finish())
    run.send("write the notes")
    run.wait("needs-input")
    assert "Do you want to create NOTES.md?" in run.screen()
    run.send("1")
    run.wait("idle")
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Stopped and resumed, it continues the same conversation.
    fleet.ok("stop", run.ref)
    run.wait("stopped")
    last = resume_and_ask(fleet, run, model)
    assert last.history > 2, "resume must bring the earlier conversation back"


def test_claude_tool_requests_answered_from_fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Its PermissionRequest hook names the tool and the command; fleet types the answer into
    its dialog (allow, a stale one refused, deny with a note told as the next prompt)."""
    hooks = ("--settings", '"$FLEET_SIGNALS"')
    fleet = _fleet(hosts, model, agent_cli("claude"), seed, name="claude-answer", hooks=hooks)
    run = start(fleet, "claude", "claude-answer")
    run.wait("idle")
    allow_deny_and_refuse_a_stale_answer(fleet, run, model, tool="Bash")
