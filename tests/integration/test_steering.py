"""Steering on real loopback hosts: what reaches the agent, and what never does.

The agents here are small programs that write down each submission they get: `paster` reads
its terminal raw with bracketed paste on (as the agent CLIs do), so a newline inside a paste is
part of the message and an Enter outside one submits it.
"""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, received_lines, wait_for, write_as_agent
from tests.integration.hosts import NOTES_TXT, LoopbackFleet

PASTER = textwrap.dedent(
    """\
    import json, os, sys, tty
    path = os.path.expanduser("~/received-%s.jsonl" % os.environ.get("FLEET_SESSION", "none"))
    START, END = b"\\x1b[200~", b"\\x1b[201~"
    tty.setraw(0)
    os.write(1, b"\\x1b[?2004hpaster ready\\r\\n> ")
    pending, line, pasting = b"", b"", False
    while True:
        data = os.read(0, 4096)
        if not data:
            break
        pending += data
        while pending:
            if pending.startswith(START) or pending.startswith(END):
                pasting = pending.startswith(START)
                pending = pending[len(START):]
                continue
            if START.startswith(pending) or END.startswith(pending):
                break  # the rest of a marker is still on its way
            ch, pending = pending[:1], pending[1:]
            if ch in (b"\\r", b"\\n") and not pasting:
                with open(path, "a", encoding="utf-8") as f:
                    text = line.decode("utf-8", "replace")
                    f.write(json.dumps({"kind": "line", "value": text}) + "\\n")
                line = b""
                os.write(1, b"\\r\\ngot it\\r\\n> ")
            else:
                line += b"\\n" if ch == b"\\r" else ch
    """
)


# `asker text` asks at a text prompt, again and again; `asker choice` shows a choice dialog
# first (Enter picks its highlighted option), clears it once answered and waits at "> ".
ASKER = textwrap.dedent(
    """\
    import json, os, sys
    path = os.path.expanduser("~/received-%s.jsonl" % os.environ.get("FLEET_SESSION", "none"))
    mode = sys.argv[1] if len(sys.argv) > 1 else "text"
    while True:
        if mode == "choice":
            sys.stdout.write("Run `rm -rf build`?\\n\u276f 1. Yes\\n  2. No\\n")
            sys.stdout.write("Enter to select \u00b7 Esc to cancel ")
        else:
            sys.stdout.write("What next> " if mode == "text" else "> ")
        sys.stdout.flush()
        line = sys.stdin.buffer.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").rstrip("\\n")
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": "line", "value": text}) + "\\n")
        if mode == "choice":
            sys.stdout.write("\\x1b[2J\\x1b[H")  # the dialog goes away
            mode = "idle"
        print("took %r" % text, flush=True)
    """
)
ASKER_PROFILE = """
[agents.asker]
command = "python3 {script} {{task}}"
waiting = ['What next> ?\\Z', 'Enter to select']
idle = ['^> ?\\Z']
idle_after = 1.0
enter_delay = 0.05
prose = true
"""


def agent_script(lf: LoopbackFleet, name: str, text: str) -> Path:
    """A program the hosts' users can run (the loopback hosts share this machine's files)."""
    script = lf.dir / "agents" / f"{name}.py"
    script.parent.mkdir(exist_ok=True)
    script.parent.chmod(0o755)
    script.write_text(text)
    script.chmod(0o644)
    return script


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
