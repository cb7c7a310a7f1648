"""aider 0.86.2 as a fleet session, against the scripted model (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents.fakemodel import FakeModel, finish, say, shell, write
from tests.realagents.harness import (
    NOTES,
    AgentRun,
    agent_table,
    allow_deny_and_refuse_a_stale_answer,
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


def _asks(run: AgentRun, question: str) -> dict:
    """What fleet says the session waits for, once it is aider's `question`."""
    return settle(
        lambda: (
            (w := run.fleet.sessions()[run.ref].get("waiting")) and w.get("input") == question and w
        ),
        what=f"waiting for {question!r}",
    )


def test_aider_questions_answered_from_fleet(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """aider says nothing of what it asks (no hook payload): its "Run shell command?" is read
    from the screen, the command from the lines it shows above it. Allowed, it runs; a stale
    answer is refused; denied with a note, it does not run and the model gets the note. Its
    other questions (add a file, add the command's output) are answered with `fleet answer`."""
    fleet = _fleet(hosts, model, agent_cli("aider"), seed)
    run = start(fleet, "aider", "aider-answer")
    run.wait("idle")
    allow_deny_and_refuse_a_stale_answer(fleet, run, model, tool="shell", tool_loop=False)

    # A reply that names a repo file aider has not got in its chat: it asks to add it.
    model.script(say("The entry point is app.py."), finish("Read it."))
    run.send("where does it start?")
    run.wait("needs-input")
    added = _asks(run, "Add file to the chat?")
    assert [o["key"] for o in added["options"]][:2] == ["y", "n"], added
    fleet.ok("answer", run.ref, "y", "--expect", added["id"])
    settle(
        lambda: any(
            p.startswith("I added these files to the chat: app.py") for p in model.prompts()
        ),
        what="aider telling the model it added app.py",
    )
    run.wait("idle")

    # A command with output: allowed, then "Add command output to the chat?" answered No:
    # it ran, and the model's next request does not hold its output.
    model.script(shell("echo fleet-said-$((6 * 7))", text="Checking."))
    run.send("check it")
    run.wait("needs-input")
    fleet.ok("allow", run.ref)
    output = _asks(run, "Add command output to the chat?")
    assert "fleet-said-42" in run.screen()
    fleet.ok("answer", run.ref, "No", "--expect", output["id"])
    run.wait("idle")
    model.script(finish("Nothing else."))
    run.send("anything else?")
    settle(lambda: model.prompts()[-1:] == ["anything else?"], what="the next prompt")
    assert "fleet-said-42" not in model.requests()[-1].context
