"""Steering on real loopback hosts: what reaches the agent, and what never does (the agents:
tests/integration/steeragents.py)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, received_lines, wait_for, write_as_agent
from tests.integration.hosts import NOTES_TXT, LoopbackFleet
from tests.integration.steeragents import ASKER, ASKER_PROFILE, PASTER, agent_script


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    paster = agent_script(fresh_hosts, "paster", PASTER)
    asker = agent_script(fresh_hosts, "asker", ASKER)
    return FleetCLI(
        fresh_hosts,
        f"""
[agents.paster]
command = "python3 {paster}"
idle = ['^> ?\\Z']
idle_after = 1.0
enter_delay = 0.05
"""
        + ASKER_PROFILE.format(script=asker),
    )


def test_stdin_is_one_submission_without_an_extra_enter(fleet: FleetCLI) -> None:
    lf = fleet.lf
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "paster", "--name", "p")
    sid = fleet.wait_status("alpha/p", "idle")["id"]
    fleet.ok("send", "alpha/p", "-", input="a\nb\n")  # printf 'a\nb\n' | fleet send alpha/p -
    fleet.ok("send", "alpha/p", "-", input="msg\n")  # echo msg | fleet send alpha/p -
    fleet.ok("send", "alpha/p", "end")  # the last: what came before it is all there
    got = wait_for(
        lambda: (lines := received_lines(lf["alpha"], sid))[-1:] == ["end"] and lines,
        what="the messages",
    )
    assert got == ["a\nb", "msg", "end"], "one submission each, and no empty one"
    empty = fleet("send", "alpha/p", "-", input="")
    assert empty.code == 2 and "no message" in empty.err


def test_a_rejection_note_never_reaches_a_shell(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    pwned = Path(f"/tmp/PWNED-{secrets.token_hex(6)}")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "shell", "--name", "sh")
    fleet.wait_status("alpha/sh", "idle")
    wt = h.home / ".fleet/worktrees/sh"
    write_as_agent(h, wt / "notes.txt", NOTES_TXT.replace("line 3\n", "line 3, changed\n"))
    note = f'keep "20"; $(touch {pwned}) is just text'
    result = fleet.ok("reject", "alpha/sh", "--hunk", "1", "--note", note)
    assert "not sent: shell does not read prose" in result.out, result.out
    assert (wt / "notes.txt").read_text() == NOTES_TXT, "the rejection itself is done"
    # Keys reach a pane in order: once a later command has run, a note typed before it would
    # have run (or shown) too.
    fleet.ok("send", "alpha/sh", "echo done-$((6*7))")
    screen = wait_for(
        lambda: (text := fleet.ok("screen", "alpha/sh").out).count("done-42") and text,
        what="the later command to run",
    )
    assert "fleet review" not in screen and "just text" not in screen, screen
    assert not pwned.exists(), "the rejection note ran in the shell"
    logged = fleet.ok("log", "alpha/sh", "--json").json()
    rejects = [e for e in logged if e["kind"] == "reject"]
    assert rejects and note in rejects[-1]["detail"]["note"], "the note is kept in the record"


def test_a_text_prompt_takes_a_message_and_a_choice_only_its_answer(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "asker", "--name", "t", "text")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "asker", "--name", "c", "choice")
    text_id = fleet.wait_status("alpha/t", "needs-input")["id"]
    choice_id = fleet.wait_status("alpha/c", "needs-input")["id"]

    # It asks for text: the message is the answer it waits for.
    fleet.ok("send", "alpha/t", "add a test for the parser, then stop")
    wait_for(
        lambda: received_lines(h, text_id) == ["add a test for the parser, then stop"],
        what="the message at the text prompt",
    )
    # A choice: a sentence would pick "Yes"; a number it does not show means nothing.
    for wrong in ("please do not delete the build", "3", "y"):
        refused = fleet("send", "alpha/c", wrong)
        assert refused.code == 1 and "waiting at a prompt" in refused.err, refused
        assert "1 or 2" in refused.err and "--force" in refused.err
    fleet.ok("send", "alpha/c", "2")
    wait_for(lambda: received_lines(h, choice_id) == ["2"], what="the answer")


def test_a_note_waits_while_a_dialog_shows_and_is_typed_once_it_is_gone(fleet: FleetCLI) -> None:
    lf, h = fleet.lf, fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "asker", "--name", "q", "choice")
    sid = fleet.wait_status("alpha/q", "needs-input")["id"]
    wt = h.home / ".fleet/worktrees/q"
    write_as_agent(h, wt / "notes.txt", NOTES_TXT.replace("line 3\n", "line 3, changed\n"))

    def pane() -> str:
        argv = ["tmux", "-L", "fleet", "capture-pane", "-p", "-t", f"=fleet-{sid}:"]
        return lf.run_as("alpha", argv).stdout

    shown = pane()
    assert "❯ 1. Yes" in shown
    result = fleet.ok("reject", "alpha/q", "--hunk", "1", "--note", "keep line 3")
    assert "note queued: the agent is at a prompt" in result.out, result.out
    # The watcher looks every 0.25 s: for a dozen looks, nothing is typed into the dialog.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert pane() == shown and received_lines(h, sid) == []
        time.sleep(0.1)
    # What waits outlives the watcher (a new one starts with the next helper call).
    watcher = json.loads((h.home / ".fleet/watcher.json").read_text())["pid"]
    os.kill(watcher, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{watcher}"), what="the watcher to end")

    fleet.ok("send", "alpha/q", "1")  # the person answers: the dialog goes away
    note = "fleet review: I rejected and reverted your change to notes.txt line 3"
    note += ". Note: keep line 3"
    wait_for(lambda: received_lines(h, sid) == ["1", note], what="the note, once at the input")
    fleet.ok("send", "alpha/q", "end")
    assert wait_for(
        lambda: (got := received_lines(h, sid))[-1:] == ["end"] and got, what="the last one"
    ) == ["1", note, "end"], "the note is typed once"
