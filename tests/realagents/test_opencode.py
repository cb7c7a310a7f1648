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
from tests.realagents.fakemodel import FakeModel, finish, say, write
from tests.realagents.harness import reject_notes_and_check_the_agent_is_told, settle, start
from tests.realagents.support_b import NOTES, STEER, agent_table, env_command, user_processes

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
    run.send(STEER)
    run.wait("working")
    settle(lambda: model.prompts() == [STEER], what="the steering message at the model")

    # The edit asks "△ Permission required"; answered through fleet.
    thinking.open()
    run.wait("needs-input")
    assert "Permission required" in run.screen()
    run.send("1")
    run.wait("working")
    settle(lambda: (run.worktree / "NOTES.md").exists(), what="the approved write")
    answering.open()
    run.wait("idle")
    assert run.statuses[-5:] == ["idle", "working", "needs-input", "working", "idle"]
    assert model.prompts() == [STEER], "the answer must not reach the model as a prompt"

    # The file is a hunk in fleet's diff; rejecting it reverts it and tells the agent.
    notes = run.worktree / "NOTES.md"
    assert notes.read_text() == NOTES
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Interrupt (Escape) ends a turn that is still waiting for the model.
    held = model.gate()
    model.script(say("This will be cut short.", hold=held))
    run.send("explain the project")
    run.wait("working")
    fleet.ok("interrupt", run.ref)
    run.wait("idle")
    held.open()

    fleet.ok("stop", run.ref)
    run.wait("stopped")
    settle(lambda: not user_processes(host, "opencode"), what="every opencode process to end")

    # Resumed (`opencode --continue` in the worktree), it continues the same conversation.
    fleet.ok("resume", run.ref)
    run.wait("idle", timeout=90)
    model.script(finish("Still here."))
    run.send("are you back?")
    settle(lambda: model.prompts()[-1:] == ["are you back?"], what="the prompt after resume")
    last = [r for r in model.requests() if r.prompt == "are you back?"][-1]
    assert last.history > 2, "resume must bring the earlier conversation back"
