"""Codex CLI 0.169.0 as a fleet session, against the scripted model (see README.md).

Codex quirks this covers: while a reply streams its "Working" line is gone (the profile reads
the streaming cell instead); fast typing is taken for a paste, so fleet pastes (bracketed) and
then presses Enter; and the turns run in a detached `codex app-server --managed-daemon` that
outlives the TUI, which `fleet stop` must end.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents.fakemodel import FakeModel, Gate, Step, say, write
from tests.realagents.harness import (
    NOTES,
    STEER,
    agent_table,
    allow_deny_and_refuse_a_stale_answer,
    answer,
    env_command,
    interrupt_a_turn_waiting_for_the_model,
    reject_notes_and_check_the_agent_is_told,
    resume_and_ask,
    settle,
    start,
    steer,
    stop_ends_every_process,
    user_processes,
)

NAME = "codex-run"
REPLY = (
    "Wrote the notes file for you. It says that add() adds two numbers, which is all the "
    "project does so far; tell me if it should say more."
)


def _fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    codex: Path,
    seed: Callable[..., Path],
    name: str = NAME,
) -> FleetCLI:
    home = hosts["alpha"].home
    worktree = home / ".fleet" / "worktrees" / name
    # What a person sets up once: the model provider, and the session's worktree trusted
    # (else Codex asks "Do you trust the contents of this directory?").
    seed(
        ".codex/config.toml",
        f"""model = "fake-model"
model_provider = "fake"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake local"
base_url = "{model.url}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"

[analytics]
enabled = false

[projects."{worktree}"]
trust_level = "trusted"
""",
    )
    env = {"CODEX_HOME": str(home / ".codex"), "OPENAI_API_KEY": "sk-fake"}
    toml = agent_table(
        "codex",
        command=env_command(env, codex, "{task}"),
        resume=env_command(env, codex, "resume", "--last"),
        resume_session=env_command(env, codex, "resume", "{agent_session}"),
    )
    return FleetCLI(hosts, toml)


def test_codex_steer_permission_diff_reject_interrupt_stop_resume(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = _fleet(hosts, model, agent_cli("codex"), seed)
    host = hosts["alpha"]
    run = start(fleet, "codex", NAME)
    run.wait("idle")

    # Steering reaches the model once and complete; a held reply keeps the agent working.
    thinking, answering = model.gate(), model.gate()
    model.script(
        write("NOTES.md", NOTES, hold=thinking),
        say(REPLY, slow=12, hold=answering),
    )
    steer(run, model, STEER)

    # Codex writes with its shell, outside its sandbox: it asks first. Answered through fleet.
    answer(run, thinking, "Would you like to run the following command?", "y")
    settle(lambda: (run.worktree / "NOTES.md").exists(), what="the approved command to run")
    # The reply streams for 12 s with no "Working" line: still working until the turn ends.
    answering.open()
    streaming = run.wait_screen(lambda s: "Wrote the notes" in s, "the reply streaming")
    assert "Worked for" not in streaming
    assert run.status() == "working", streaming
    run.wait("idle")
    assert run.statuses[-5:] == ["idle", "working", "needs-input", "working", "idle"]
    assert model.prompts() == [STEER], "the answer must not reach the model as a prompt"

    # The file is a hunk in fleet's diff; rejecting it reverts it and tells the agent.
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Interrupt (the profile's key) ends a turn that is still waiting for the model.
    interrupt_a_turn_waiting_for_the_model(fleet, run, model, "Conversation interrupted")

    # Codex ran its turns in a detached app-server; stopping the session ends it too.
    assert user_processes(host, "app-server"), "no Codex app-server: the quirk changed?"
    stop_ends_every_process(fleet, run, host, "codex", "Codex")

    # Resumed (`codex resume --last` in the worktree), it continues the same conversation.
    last = resume_and_ask(fleet, run, model)
    assert last.history > 2, "resume must bring the earlier conversation back"


def test_codex_tool_requests_answered_from_fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Its notify says nothing of a request: the dialog on screen is read (the command from its
    "$ ..." line), and fleet types the answer (allow, a stale one refused, deny with a note)."""
    fleet = _fleet(hosts, model, agent_cli("codex"), seed, name="codex-answer")
    run = start(fleet, "codex", "codex-answer")
    run.wait("idle")
    allow_deny_and_refuse_a_stale_answer(fleet, run, model, "shell", _escalated_write)


def _escalated_write(name: str, hold: Gate) -> Step:
    """Codex writes with its shell; asking for escalation makes it ask the person. The content
    makes the command too long for one line: the file's path is on a wrapped line."""
    return write(name, "marker " * 30, text=f"Let me make {name}.", hold=hold)
