"""Helpers for driving a real agent through fleet: seeded homes, agent overrides, waits, and
the steps every agent's test takes (steer, answer, reject, interrupt, stop, resume)."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fleet.core.remote.hostside import procs
from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackHost
from tests.realagents.fakemodel import FakeModel, Gate, Request, Step, finish, say, shell

# Several lines, quotes, a backtick, a dollar and a literal backslash-n: it must reach the model
# exactly, as ONE prompt (a newline inside it must not submit the first line on its own).
STEER = (
    "Use pytest, not unittest.\n"
    "Keep `add` pure; quote 'x' & \"y\" $HOME \\n stays.\n"
    "Then say what you would change."
)
NOTES = "# Notes\n\nadd() adds.\n"  # what the scripted model writes, and fleet reviews


def seed_file(host: LoopbackHost, relpath: str, text: str) -> Path:
    """Write ~/relpath on the host as its user (parents included), as the person set it up."""
    path = host.home / relpath
    missing = [p for p in reversed(path.parents) if host.home in p.parents and not p.exists()]
    for d in missing:
        d.mkdir()
        os.chown(d, host.uid, host.gid)
    path.write_text(text)
    os.chown(path, host.uid, host.gid)
    return path


def env_command(env: Mapping[str, str], program: Path | str, *args: str) -> str:
    """`env K=V ... PROGRAM ARGS` as a person writes it in fleet.toml (args kept as written,
    so `{task}` / `{agent_session}` stay placeholders)."""
    words = ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(str(program))]
    return " ".join([*words, *args])


def agent_table(name: str, **fields: str) -> str:
    """An `[agents.NAME]` table with these string fields (TOML strings via JSON); the rest of
    the profile is fleet's built-in."""
    lines = [f"\n[agents.{name}]"] + [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def user_processes(host: LoopbackHost, needle: str) -> list[int]:
    """Live processes of the host's user whose command line holds `needle` (zombies left out)."""
    return [
        pid
        for pid in procs.pids()
        if procs.owner(pid) == host.uid
        and procs.alive(pid)
        and needle in " ".join(procs.cmdline(pid))
    ]


class AgentRun:
    """One fleet session of a real agent, driven with the `fleet` CLI."""

    def __init__(self, fleet: FleetCLI, ref: str, session: dict[str, Any]) -> None:
        self.fleet = fleet
        self.ref = ref
        self.session = session
        self.statuses: list[str] = []

    @property
    def worktree(self) -> Path:
        return Path(self.session["worktree"])

    def screen(self) -> str:
        return self.fleet.ok("screen", self.ref).out

    def status(self) -> str:
        session = self.fleet.sessions().get(self.ref)
        status = session["status"] if session else "gone"
        if not self.statuses or self.statuses[-1] != status:
            self.statuses.append(status)
        return status

    def wait(self, *statuses: str, timeout: float = 60) -> str:
        """Until fleet reports one of `statuses`; the screen is in the failure message."""
        try:
            return wait_for(
                lambda: (s := self.status()) in statuses and s,
                timeout,
                0.3,
                f"{self.ref} to be {' or '.join(statuses)} (seen: {' -> '.join(self.statuses)})",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nscreen:\n{self._screen_or_why()}") from None

    def wait_screen(self, check: Callable[[str], bool], what: str, timeout: float = 60) -> str:
        last = ""

        def probe() -> str | None:
            nonlocal last
            last = self.screen()
            return last if check(last) else None

        try:
            return wait_for(probe, timeout, 0.3, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nscreen:\n{last}") from None

    def send(self, text: str) -> None:
        self.fleet.ok("send", self.ref, text)

    def _screen_or_why(self) -> str:
        try:
            return self.screen()
        except AssertionError as exc:
            return str(exc)


def start(fleet: FleetCLI, agent: str, name: str, task: str = "") -> AgentRun:
    args = ["new", "alpha", "--repo", "~/repo", "--agent", agent, "--name", name, "--json"]
    if task:
        args.append(task)
    session = fleet.ok(*args, timeout=90).json()
    return AgentRun(fleet, f"alpha/{name}", session)


def settle(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """wait_for with the tier's default deadline."""
    return wait_for(condition, timeout, 0.2, what)


def elapsed(since: float) -> float:
    return time.monotonic() - since


def steer(run: AgentRun, model: FakeModel, text: str) -> None:
    """`fleet send` while the model holds its reply: the agent works, and the model got the
    text once and complete as the person's only prompt."""
    run.send(text)
    run.wait("working")
    settle(lambda: model.prompts() == [text], what="the steering message at the model")


def answer(run: AgentRun, thinking: Gate, shows: str, key: str) -> None:
    """Let the model go on to its tool call: the agent asks (its screen `shows` the question),
    and `key` sent through fleet answers it; the agent works again."""
    thinking.open()
    run.wait("needs-input")
    assert shows in run.screen()
    run.send(key)
    run.wait("working")


def turn_ends_with_one_prompt(run: AgentRun, model: FakeModel, held: Gate, text: str) -> None:
    """The `held` reply goes: the agent is idle again after working, asking and working, and
    the model saw `text` as the person's only prompt (the answer was not one)."""
    held.open()
    run.wait("idle")
    assert run.statuses[-5:] == ["idle", "working", "needs-input", "working", "idle"]
    assert model.prompts() == [text], "the answer must not reach the model as a prompt"


def reject_notes_and_check_the_agent_is_told(
    fleet: FleetCLI, run: AgentRun, model: FakeModel
) -> None:
    """NOTES.md, which the agent wrote, is the one file in fleet's diff; rejecting it deletes it
    and the model gets one "fleet review:" prompt that ends with the person's note."""
    notes = run.worktree / "NOTES.md"
    assert notes.read_text() == NOTES
    diff = fleet.ok("diff", run.ref, "--json").json()
    assert [f["path"] for f in diff["files"]] == ["NOTES.md"], diff
    model.script(finish("Understood, no notes file."))
    fleet.ok("reject", run.ref, "--file", "NOTES.md", "--note", "no notes file please")
    assert not notes.exists()
    told = settle(
        lambda: [p for p in model.prompts() if p.startswith("fleet review:")],
        what="the rejection at the model",
    )
    assert len(told) == 1 and "NOTES.md" in told[0], told
    assert told[0].endswith("Note: no notes file please"), told
    run.wait("idle")


def interrupt_a_turn_waiting_for_the_model(
    fleet: FleetCLI, run: AgentRun, model: FakeModel, shows: str | None = None
) -> None:
    """`fleet interrupt` (the profile's key) ends a turn the model holds; the screen `shows` it
    (when given)."""
    held = model.gate()
    model.script(say("This will be cut short.", hold=held))
    run.send("explain the project")
    run.wait("working")
    fleet.ok("interrupt", run.ref)
    if shows is not None:
        run.wait_screen(lambda s: shows in s, "the turn interrupted")
    run.wait("idle")
    held.open()


def stop_ends_every_process(
    fleet: FleetCLI, run: AgentRun, host: LoopbackHost, needle: str, what: str
) -> None:
    """`fleet stop`, and no process of the host's user whose command line holds `needle` is
    left, also those that left the session's pane."""
    fleet.ok("stop", run.ref)
    run.wait("stopped")
    settle(lambda: not user_processes(host, needle), what=f"every {what} process to end")


def resume_and_ask(
    fleet: FleetCLI, run: AgentRun, model: FakeModel, timeout: float = 60
) -> Request:
    """`fleet resume` of a stopped session, then a prompt: the model's request for it (its
    history and context say whether the earlier conversation came back)."""
    fleet.ok("resume", run.ref)
    run.wait("idle", timeout=timeout)
    model.script(finish("Still here."))
    run.send("are you back?")
    settle(lambda: model.prompts()[-1:] == ["are you back?"], what="the prompt after resume")
    return [r for r in model.requests() if r.prompt == "are you back?"][-1]


def touch(name: str, hold: Gate) -> Step:
    """A tool call that makes the file `name` (a shell command the agent asks to run)."""
    return shell(f"touch {name}", text=f"Let me make {name}.", hold=hold)


def long_touch(name: str, hold: Gate) -> Step:
    """`touch name` after a command too long for one line of the pane: the dialog wraps it,
    and `name` is only on a line after the first."""
    words = " ".join(f"word{n:03d}" for n in range(40))
    return shell(f"echo {words} > /dev/null && touch {name}", text=f"Making {name}.", hold=hold)


def allow_deny_and_refuse_a_stale_answer(
    fleet: FleetCLI,
    run: AgentRun,
    model: FakeModel,
    tool: str,
    request: Callable[[str, Gate], Step] = touch,
    tool_loop: bool = True,
) -> None:
    """The loop of answering from fleet: a tool request (`request` makes the file it names)
    is needs-input with `tool` and the command in `waiting`; an answer with a stale --expect
    is refused (nothing typed, nothing run); `fleet allow` runs the real command; the next
    request, `fleet deny --note`, is not run and the model gets the note as the person's
    prompt. `tool_loop`: the agent gives the model the command's result for a reply (aider
    does not: its turn ends with the command)."""
    allowed, denied = run.worktree / "allowed.txt", run.worktree / "denied.txt"
    thinking = model.gate()
    model.script(request("allowed.txt", thinking), *([finish("Made it.")] if tool_loop else []))
    run.send("make the marker")
    run.wait("working")
    thinking.open()
    run.wait("needs-input")
    waiting = settle(
        lambda: (w := run.fleet.sessions()[run.ref].get("waiting")) and w.get("options") and w,
        what="waiting with the dialog's options",
    )
    assert (waiting["kind"], waiting["tool"]) == ("tool", tool), waiting
    assert "allowed.txt" in waiting["input"], waiting
    stale = fleet("allow", run.ref, "--expect", "0" * 16)
    assert stale.code == 1 and "now asks something else" in stale.err, stale.err
    assert run.status() == "needs-input" and not allowed.exists()
    done = fleet.ok("allow", run.ref, "--expect", waiting["id"], "--json").json()
    assert done["request"] == waiting["id"], done
    settle(allowed.exists, what="the allowed command to run")
    run.wait("idle")

    note = "do not make files; just say hello"
    thinking = model.gate()
    model.script(request("denied.txt", thinking), say("Hello! No files then."))
    run.send("make another marker")
    run.wait("working")
    thinking.open()
    run.wait("needs-input")
    settle(
        lambda: (
            "denied.txt" in (run.fleet.sessions()[run.ref].get("waiting") or {}).get("input", "")
        ),
        what="the second request in waiting",
    )
    said = fleet.ok("deny", run.ref, "--note", note).err
    assert "note sent" in said, said
    # The person's next prompt is the note (Claude Code puts its own "[Request interrupted by
    # user for tool use]" line before it).
    told = settle(
        lambda: [p for p in model.prompts() if p.endswith(note)],
        what="the note at the model as the person's prompt",
    )
    assert len(told) == 1 and told[0].splitlines()[-1] == note, told
    run.wait("idle")
    assert not denied.exists()
