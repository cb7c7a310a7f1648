"""Gemini CLI 0.61.0 as a fleet session, against the scripted model (see README.md).

Gemini CLI relaunches itself as a node child of its node process; `fleet stop` must end both.
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
    reject_notes_and_check_the_agent_is_told,
    resume_and_ask,
    settle,
    start,
    steer,
    stop_ends_every_process,
    turn_ends_with_one_prompt,
    user_processes,
)

NAME = "gemini-run"


def _fleet(
    hosts: LoopbackFleet, model: FakeModel, gemini: Path, seed: Callable[..., Path]
) -> FleetCLI:
    home = hosts["alpha"].home
    # What a person sets up once: API-key auth chosen, no auto-update, and fleet's worktrees
    # trusted (folders inside a trusted one are trusted too).
    seed(
        ".gemini/settings.json",
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "general": {"disableAutoUpdate": True},
                "privacy": {"usageStatisticsEnabled": False},
            }
        ),
    )
    seed(
        ".gemini/trustedFolders.json",
        json.dumps({str(home / ".fleet" / "worktrees"): "TRUST_FOLDER"}),
    )
    env = {"GEMINI_API_KEY": "fake", "GOOGLE_GEMINI_BASE_URL": model.url}
    toml = agent_table(
        "gemini",
        command=env_command(env, gemini, "--prompt-interactive={task}"),
        resume=env_command(env, gemini, "--resume", "latest"),
        resume_session=env_command(env, gemini, "--resume", "{agent_session}"),
    )
    return FleetCLI(hosts, toml)


def test_gemini_steer_permission_diff_reject_interrupt_stop_resume(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = _fleet(hosts, model, agent_cli("gemini"), seed)
    host = hosts["alpha"]
    run = start(fleet, "gemini", NAME)
    run.wait("idle")

    # Steering (typed, newlines included) reaches the model once and complete.
    thinking, answering = model.gate(), model.gate()
    model.script(
        write("NOTES.md", NOTES, hold=thinking),
        say("Wrote the notes file.", hold=answering),
    )
    steer(run, model, STEER)

    # write_file asks "Apply this change?"; "1" (Allow once) answered through fleet.
    answer(run, thinking, "Apply this change?", "1")
    settle(lambda: (run.worktree / "NOTES.md").exists(), what="the approved write")
    turn_ends_with_one_prompt(run, model, answering, STEER)

    # The file is a hunk in fleet's diff; rejecting it reverts it and tells the agent.
    reject_notes_and_check_the_agent_is_told(fleet, run, model)

    # Interrupt (Escape) cancels a turn that is still waiting for the model.
    interrupt_a_turn_waiting_for_the_model(fleet, run, model, "Request cancelled")

    # Stopping ends Gemini CLI and its relaunched node child.
    assert len(user_processes(host, "gemini")) >= 2, "no relaunched child: the quirk changed?"
    stop_ends_every_process(fleet, run, host, "gemini", "Gemini CLI")

    # Resumed (`gemini --resume latest` in the worktree), it continues the same conversation.
    last = resume_and_ask(fleet, run, model)
    assert last.history > 2, "resume must bring the earlier conversation back"


def test_gemini_tool_requests_answered_from_fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Its hooks (fleet's system-defaults file) name the tool and the command; fleet types the
    answer into its dialog (allow, a stale one refused, deny with a note told to the model)."""
    fleet = _fleet(hosts, model, agent_cli("gemini"), seed)
    run = start(fleet, "gemini", "gemini-answer")
    run.wait("idle")
    allow_deny_and_refuse_a_stale_answer(fleet, run, model, tool="Shell")
