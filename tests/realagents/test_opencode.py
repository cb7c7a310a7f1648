"""opencode 1.18.33 as a fleet session, against the scripted model (see README.md).

It runs with no network beyond the model: the provider package its config names
(@ai-sdk/openai-compatible) is bundled in 1.18.33, and nothing was fetched at first start
(~/.config/opencode holds only its .gitignore afterwards).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents.fakemodel import FakeModel, say, write
from tests.realagents.harness import (
    NOTES,
    STEER,
    agent_table,
    allow_deny_and_refuse_a_stale_answer,
    answer,
    env_command,
    interrupt_a_turn_waiting_for_the_model,
    long_touch,
    reject_notes_and_check_the_agent_is_told,
    resume_and_ask,
    settle,
    start,
    steer,
    stop_ends_every_process,
    turn_ends_with_one_prompt,
)

NAME = "opencode-run"
ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
}


def _fleet(
    hosts: LoopbackFleet, model: FakeModel, opencode: Path, seed: Callable[..., Path]
) -> FleetCLI:
    # What a person sets up once: a provider for the model, and asking before edits and
    # commands (opencode's default allows both).
    seed(
        ".config/opencode/opencode.json",
        json.dumps(
            {
                "provider": {
                    "fake": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "Fake Local",
                        "options": {"baseURL": f"{model.url}/v1", "apiKey": "sk-fake"},
                        "models": {"fake-model": {"name": "Fake Model"}},
                    }
                },
                "model": "fake/fake-model",
                "small_model": "fake/fake-model",
                "autoupdate": False,
                "share": "disabled",
                "permission": {"bash": "ask", "edit": "ask"},
            }
        ),
    )
    toml = agent_table(
        "opencode",
        command=env_command(ENV, opencode, "--prompt={task}"),
        resume=env_command(ENV, opencode, "--continue"),
        resume_session=env_command(ENV, opencode, "-s", "{agent_session}"),
    )
    return FleetCLI(hosts, toml)


def test_opencode_steer_permission_diff_reject_interrupt_stop_resume(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = _fleet(hosts, model, agent_cli("opencode"), seed)
    host = hosts["alpha"]
    run = start(fleet, "opencode", NAME)
    run.wait("idle", timeout=90)

    # Steering reaches the model once and complete; a held reply keeps the agent working.
    thinking, answering = model.gate(), model.gate()
    model.script(
        write("NOTES.md", NOTES, hold=thinking),
        say("Wrote the notes file.", hold=answering),
    )
    steer(run, model, STEER)

    # The edit asks "△ Permission required"; answered through fleet.
    answer(run, thinking, "Permission required", "1")
    settle(lambda: (run.worktree / "NOTES.md").exists(), what="the approved write")
    turn_ends_with_one_prompt(run, model, answering, STEER)

    # The file is a hunk in fleet's diff; rejecting it reverts it and tells the agent.
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Interrupt (Escape) ends a turn that is still waiting for the model.
    interrupt_a_turn_waiting_for_the_model(fleet, run, model)

    stop_ends_every_process(fleet, run, host, "opencode", "opencode")

    # Resumed (`opencode --continue` in the worktree), it continues the same conversation.
    last = resume_and_ask(fleet, run, model, timeout=90)
    assert last.history > 2, "resume must bring the earlier conversation back"


def test_opencode_tool_requests_answered_from_fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Its permission dialog (buttons) shows the command ("$ echo ..." over three lines: all of
    it is what the session waits for); fleet moves to the button and confirms (allow, a stale
    one refused, reject with a note told to the model)."""
    fleet = _fleet(hosts, model, agent_cli("opencode"), seed)
    run = start(fleet, "opencode", "opencode-answer")
    run.wait("idle", timeout=90)
    allow_deny_and_refuse_a_stale_answer(fleet, run, model, "shell", long_touch)
