"""aider 0.86.2 as a fleet session, against the scripted model (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents.fakemodel import FakeModel, shell, write
from tests.realagents.harness import (
    NOTES,
    agent_table,
    env_command,
    reject_notes_and_check_the_agent_is_told,
    resume_and_ask,
    settle,
    start,
    steer,
)

NAME = "aider-run"
STEER = (
    "Use pytest, not unittest.\n"
    "Keep `add` pure; quote 'x' & \"y\" $HOME \\n stays.\n"
    "Then run a quick check."
)


def _fleet(
    hosts: LoopbackFleet, model: FakeModel, aider: Path, seed: Callable[..., Path]
) -> FleetCLI:
    # aider reads ~/.aider.conf.yml: what a person sets once per machine. No auto-commits: fleet's
    # review is where changes are accepted. No update check or analytics (no network here).
    seed(
        ".aider.conf.yml",
        f"openai-api-base: {model.url}/v1\n"
        "openai-api-key: sk-fake\n"
        "model: openai/fake\n"
        "edit-format: diff\n"
        "auto-commits: false\n"
        "check-update: false\n"
        "show-model-warnings: false\n"
        "analytics: false\n"
        "show-release-notes: false\n"
        "gitignore: false\n"
        "auto-lint: false\n",
    )
    # aider keeps its chat history and tags cache in the repo as .aider*: ignored globally, so
    # they stay out of the session's diff without touching the project's .gitignore.
    seed(".config/git/ignore", ".aider*\n")
    toml = agent_table(
        "aider",
        command=env_command({}, aider),
        resume=env_command({}, aider, "--restore-chat-history"),
    )
    return FleetCLI(hosts, toml)


def test_aider_steer_permission_diff_reject_resume(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = _fleet(hosts, model, agent_cli("aider"), seed)
    run = start(fleet, "aider", NAME)
    run.wait("idle")

    # Several lines arrive as ONE prompt (bracketed paste), exactly as written.
    thinking = model.gate()
    # The command runs until the test makes this file: "working" lasts as long as it needs.
    gate_file = f"/tmp/fleet-realagents-{hosts['alpha'].user}-go"
    Path(gate_file).unlink(missing_ok=True)
    command = f"while [ ! -e {gate_file} ]; do sleep 0.1; done; echo fleet-check-ok"
    model.script(shell(command, text="Running a quick check.", hold=thinking))
    steer(run, model, STEER)

    # "Run shell command?" answered through fleet; the command works; then aider asks whether
    # to add its output to the chat.
    thinking.open()
    run.wait("needs-input")
    assert "Run shell command?" in run.screen()
    run.send("y")
    run.wait("working")
    Path(gate_file).touch()
    run.wait_screen(lambda s: "Add command output to the chat?" in s, "the output question")
    assert run.status() == "needs-input"
    run.send("y")
    run.wait("idle")
    Path(gate_file).unlink()
    assert run.statuses[-6:] == ["idle", "working", "needs-input", "working", "needs-input", "idle"]
    assert model.prompts() == [STEER], "the answers must not reach the model as prompts"

    # A new file (after "Create new file?") is a hunk in fleet's diff.
    model.script(write("NOTES.md", NOTES, text="Writing notes."))
    run.send("write the notes")
    run.wait_screen(lambda s: "Create new file?" in s, "the new-file question")
    assert run.status() == "needs-input"
    run.send("y")
    run.wait("idle")
    notes = run.worktree / "NOTES.md"
    settle(lambda: notes.exists(), what="NOTES.md written")
    asked = [r for r in model.requests() if r.prompt == "write the notes"][-1]
    assert "fleet-check-ok" in asked.context, "the command output was added to the chat"
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Stopped and resumed with its chat history restored.
    fleet.ok("stop", run.ref)
    run.wait("stopped")
    last = resume_and_ask(fleet, run, model)
    assert "fleet-check-ok" in last.context, "the chat history must come back"
