"""Answering what an agent asks, on a real loopback host: a scripted agent in tmux shows a real
choice dialog (read key by key from its terminal, like the agent CLIs), fleet reads its options
into `waiting`, and `fleet allow` / `fleet deny --note` / `fleet answer` type the answer. A
request that changed since the person saw it is refused and nothing is typed."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.screens.prompt import PromptScreen
from fleet.ui.widgets.grid import SessionGrid
from fleet.ui.widgets.keybar import KeyBar
from tests.integration.fleetrun import FleetCLI, pilot_until, wait_for
from tests.integration.hosts import LoopbackFleet

# Each prompt line makes one request: may it run `touch ran-N` in its folder? Keys: a digit picks at
# once, the arrows move the highlight, Enter picks the highlighted one, Esc picks "No".
# After "No" it asks what to do instead and keeps that line in told.txt.
CHOICE_AGENT = r"""
import os, subprocess, sys, termios, tty

def key():
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        return os.read(fd, 16).decode()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)

OPTIONS = ["Yes", "No, and tell me what to do differently (esc)"]

def ask(command):
    at = 0
    while True:
        print("\nBash command\n  " + command + "\nDo you want to proceed?")
        for i, label in enumerate(OPTIONS):
            print(("❯ " if i == at else "  ") + "%d. %s" % (i + 1, label))
        print("Enter to select · ↑/↓ to navigate · Esc to cancel", flush=True)
        k = key()
        if k in ("1", "2"):
            return int(k) - 1
        if k == "\x1b":
            return 1
        if k in ("\r", "\n"):
            return at
        if k == "\x1b[A":
            at = max(0, at - 1)
        if k == "\x1b[B":
            at = min(len(OPTIONS) - 1, at + 1)

n = 0
print("choice agent ready", flush=True)
while True:
    line = input("> ")
    n += 1
    command = "touch ran-%d" % n
    if ask(command) == 0:
        subprocess.run(command.split(), check=True)
        print("ran " + command, flush=True)
    else:
        print("denied. What should I do instead?", flush=True)
        note = input("> ")
        with open("told.txt", "a") as f:
            f.write(note + "\n")
        print("noted: " + note, flush=True)
"""


def _fleet(lf: LoopbackFleet) -> FleetCLI:
    script = lf.dir / "agents" / "choiceagent.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(CHOICE_AGENT)
    script.chmod(0o644)
    extra = textwrap.dedent(
        f"""
        [agents.choiceagent]
        command = 'python3 {script}'
        waiting = ['Enter to select.*\\Z']
        idle = ['^> ?\\Z']
        idle_after = 1.0
        """
    )
    return FleetCLI(lf, extra)


def _asks(fleet: FleetCLI, ref: str, command: str) -> dict[str, Any]:
    """The session waits at the dialog about `command`, its options and its id in ls --json."""

    def check() -> dict[str, Any] | None:
        session = fleet.sessions()[ref]
        waiting = session.get("waiting") or {}
        shown = fleet.ok("screen", ref).out
        asks = session["status"] == "needs-input" and waiting.get("id") and command in shown
        return session if asks else None

    return wait_for(check, 20, 0.2, f"{ref} to ask about {command}")


OPTIONS = [
    {"key": "1", "label": "Yes"},
    {"key": "2", "label": "No, and tell me what to do differently"},
]


def test_allow_deny_and_answer_from_the_cli(fresh_hosts: LoopbackFleet) -> None:
    fleet = _fleet(fresh_hosts)
    ref = "alpha/ask"
    made = fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "choiceagent", "--name", "ask")
    assert made.code == 0
    worktree = Path(fleet.wait_status(ref, "idle")["worktree"])

    # 1. allow: what ls --json shows is answered, and the command runs.
    fleet.ok("send", ref, "go")
    session = _asks(fleet, ref, "touch ran-1")
    waiting = session["waiting"]
    assert waiting["kind"] == "choice" and waiting["input"] == "Do you want to proceed?"
    assert waiting["options"] == OPTIONS
    shown = fleet.ok("screen", ref, "--json").json()
    assert shown["waiting"] == waiting
    done = fleet.ok("allow", ref, "--expect", waiting["id"], "--json").json()
    assert (done["key"], done["label"], done["request"]) == ("1", "Yes", waiting["id"])
    wait_for(lambda: (worktree / "ran-1").exists(), 10, 0.1, "the allowed command to run")
    assert fleet.wait_status(ref, "idle")["waiting"] is None

    # 2. The agent asks again: a stale id (the first request's) is refused, nothing typed.
    fleet.ok("send", ref, "again")
    second = _asks(fleet, ref, "touch ran-2")["waiting"]
    assert second["id"] != waiting["id"]
    stale = fleet("allow", ref, "--expect", waiting["id"])
    assert stale.code == 1 and "now asks something else" in stale.err, stale.err
    assert "nothing was typed" in stale.err
    assert fleet.sessions()[ref]["status"] == "needs-input"
    assert not (worktree / "ran-2").exists()
    # ... and the id it asks now is answered (by label here).
    fleet.ok("answer", ref, "Yes", "--expect", second["id"])
    wait_for(lambda: (worktree / "ran-2").exists(), 10, 0.1, "the second command to run")
    fleet.wait_status(ref, "idle")

    # 3. deny --note: not run, and the agent is told the note as the person's text.
    fleet.ok("send", ref, "once more")
    third = _asks(fleet, ref, "touch ran-3")["waiting"]
    out = fleet.ok("deny", ref, "--note", "use make test instead").err
    assert "denied alpha/ask: 2 (No, and tell me what to do differently)" in out
    assert f"[request {third['id']}]" in out and "note sent" in out
    notes = worktree / "told.txt"
    wait_for(lambda: notes.exists() and notes.read_text(), 10, 0.1, "the note at the agent")
    assert notes.read_text() == "use make test instead\n"
    assert not (worktree / "ran-3").exists()
    fleet.wait_status(ref, "idle")

    # Nothing to answer now: refused, nothing typed.
    idle = fleet("allow", ref)
    assert idle.code == 1 and "shows no dialog to answer" in idle.err

    # Each answer is in the audit log with the request it was for, and how it ended.
    log = fleet.ok("log", ref, "--json").json()
    answers = [(e["kind"], e["detail"].get("expect"), e["outcome"]) for e in log]
    answers = [a for a in answers if a[0] in ("allow", "deny", "answer")]
    assert answers == [
        ("allow", waiting["id"], "done"),
        ("allow", waiting["id"], "refused"),
        ("answer", second["id"], "done"),
        ("deny", third["id"], "done"),
        ("allow", "", "refused"),
    ], answers
    denied = next(e for e in log if e["kind"] == "deny")
    assert denied["detail"]["note"] == "use make test instead"


def test_an_option_the_dialog_does_not_offer_is_refused(fresh_hosts: LoopbackFleet) -> None:
    fleet = _fleet(fresh_hosts)
    ref = "alpha/opt"
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "choiceagent", "--name", "opt")
    worktree = Path(fleet.wait_status(ref, "idle")["worktree"])
    fleet.ok("send", ref, "go")
    _asks(fleet, ref, "touch ran-1")
    wrong = fleet("answer", ref, "7")
    assert wrong.code == 1 and "offers no option '7'" in wrong.err
    assert "1 (Yes), 2 (No, and tell me" in wrong.err
    assert fleet.sessions()[ref]["status"] == "needs-input"
    fleet.ok("answer", ref, "1")  # without --expect: the request just listed
    wait_for(lambda: (worktree / "ran-1").exists(), 10, 0.1, "the command to run")


async def test_the_grid_keys_answer_the_selected_agent(fresh_hosts: LoopbackFleet) -> None:
    """Y allows, N denies with a note box, a digit picks an option; each time the agent asks
    again the next key answers that; a request that changed behind the card is refused in a
    toast and nothing is typed."""
    fleet = _fleet(fresh_hosts)
    ref = "alpha/tui"
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "choiceagent", "--name", "tui"
    )
    worktree = Path((await asyncio.to_thread(fleet.wait_status, ref, "idle"))["worktree"])
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 45)) as pilot:

        def card() -> Any:
            return next((c for c in app.model.cards.values() if c.session.ref == ref), None)

        def asks(seen: set[str]) -> bool:
            c = card()
            w = c.session.waiting if c is not None else None
            return bool(
                c is not None
                and c.session.status.value == "needs-input"
                and w is not None
                and w.options
                and w.id not in seen
            )

        def toasts() -> str:
            return " ".join(str(n.message) for n in app._notifications)

        def keybar() -> str:
            return str(app.query_one(KeyBar).render())

        await pilot_until(pilot, lambda: card() is not None, "the card")
        assert app.query_one(SessionGrid).select(("alpha", card().session.id))
        await pilot_until(pilot, lambda: "allow" not in keybar(), "the key bar, idle")
        seen: set[str] = set()

        # 1. Y allows: the command runs.
        await asyncio.to_thread(fleet.ok, "send", ref, "go")
        await pilot_until(pilot, lambda: asks(seen), "the first request on the card")
        seen.add(card().session.waiting.id)
        await pilot_until(pilot, lambda: "Y allow" in keybar(), "Y allow in the key bar")
        assert "N deny" in keybar() and "1-2 answer" in keybar()
        await pilot.press("Y")
        await pilot_until(pilot, lambda: (worktree / "ran-1").exists(), "the command ran")
        await pilot_until(pilot, lambda: "allowed alpha/tui: 1 (Yes)" in toasts(), "its toast")

        # 2. It asks again: N opens the note box, and the note reaches the agent.
        await asyncio.to_thread(fleet.ok, "send", ref, "again")
        await pilot_until(pilot, lambda: asks(seen), "the second request on the card")
        seen.add(card().session.waiting.id)
        await pilot.press("N")
        await pilot_until(pilot, lambda: isinstance(app.screen, PromptScreen), "the note box")
        for ch in "try make":
            await pilot.press("space" if ch == " " else ch)
        await pilot.press("enter")
        told = worktree / "told.txt"
        await pilot_until(pilot, lambda: told.exists() and told.read_text(), "the note told")
        assert told.read_text() == "try make\n"
        assert not (worktree / "ran-2").exists()

        # 3. It asks again; the card still shows the request before (the person saw that
        # one): the digit is refused in a toast, nothing typed.
        await asyncio.to_thread(fleet.ok, "send", ref, "third")
        await pilot_until(pilot, lambda: asks(seen), "the third request on the card")
        current = card().session.waiting
        before = type(current)(current.kind, current.tool, "older", current.options, "0" * 16)
        card().session.waiting = before
        await pilot.press("1")
        await pilot_until(pilot, lambda: "now asks something else" in toasts(), "the refusal")
        assert not (worktree / "ran-3").exists()
        assert (await asyncio.to_thread(fleet.sessions))[ref]["status"] == "needs-input"
        # ... and with what it asks now shown, the digit answers it.
        card().session.waiting = current
        await pilot.press("1")
        await pilot_until(pilot, lambda: (worktree / "ran-3").exists(), "the third command ran")


# A custom command that asks with a bare `(y/n)` and has no input prompt of its own: after an
# answer it pauses, then asks again. Every line it reads is kept in read.txt.
ASKER = r"""
import subprocess, time
n = 0
while True:
    n += 1
    print("Working on step %d..." % n, flush=True)
    time.sleep(1.5)
    answer = input("Run command touch ran-%d? (y/n) " % n)
    with open("read.txt", "a") as f:
        f.write(answer + "\n")
    if answer == "y":
        subprocess.run(["touch", "ran-%d" % n], check=True)
"""


def test_a_deny_note_never_answers_a_prompt_less_agents_next_question(
    fresh_hosts: LoopbackFleet,
) -> None:
    """The person denies a custom agent's question with a note. The agent names no input
    prompt of its own, so a pause is all fleet can see after the answer: the note is not
    typed (it would wait in the terminal and answer the next question), and the next
    question is asked, as needs-input, unanswered."""
    script = fresh_hosts.dir / "agents" / "asker.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(ASKER)
    script.chmod(0o644)
    fleet = FleetCLI(fresh_hosts, f"\n[agents.asker]\ncommand = 'python3 {script}'\n")
    ref = "alpha/asker"
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "asker", "--name", "asker")
    first = _asks(fleet, ref, "touch ran-1?")["waiting"]
    assert first["options"] == [{"key": "y", "label": "Yes"}, {"key": "n", "label": "No"}]
    denied = fleet("deny", ref, "--note", "try something else", "--expect", first["id"])
    assert denied.code == 0, denied.err
    assert "note not sent" in denied.err, denied.err
    second = _asks(fleet, ref, "touch ran-2?")["waiting"]
    assert second["id"] != first["id"]
    worktree = Path(fleet.sessions()[ref]["worktree"])
    assert (worktree / "read.txt").read_text() == "n\n"  # the note answered nothing
    fleet.ok("allow", ref, "--expect", second["id"])
    wait_for(lambda: (worktree / "ran-2").exists(), 10, 0.1, "the allowed command to run")
