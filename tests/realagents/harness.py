"""Helpers for driving a real agent through fleet: seeded homes, agent overrides, waits."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackHost
from tests.realagents.fakemodel import FakeModel, finish, say


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


def agent_toml(name: str, command: str, env: Mapping[str, str], **fields: Any) -> str:
    """An `[agents.NAME]` table whose command runs under `env` (as a person would write it).

    Only the command and the given fields change; the rest of the profile is fleet's built-in.
    """
    words = ["env", *(f"{k}={shlex.quote(v)}" for k, v in env.items())]
    table = {"command": " ".join(words) + " " + command, **fields}
    lines = [f"\n[agents.{name}]"]
    for key, value in table.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


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


def reject_notes_and_check_the_agent_is_told(
    fleet: FleetCLI, run: AgentRun, model: FakeModel
) -> None:
    """NOTES.md, which the agent wrote, is the one file in fleet's diff; rejecting it deletes it
    and the model gets one "fleet review:" prompt that ends with the person's note."""
    notes = run.worktree / "NOTES.md"
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
    fleet: FleetCLI, run: AgentRun, model: FakeModel, shows: str
) -> None:
    """`fleet interrupt` (the profile's key) ends a turn the model holds; the screen `shows` it."""
    held = model.gate()
    model.script(say("This will be cut short.", hold=held))
    run.send("explain the project")
    run.wait("working")
    fleet.ok("interrupt", run.ref)
    run.wait_screen(lambda s: shows in s, "the turn interrupted")
    run.wait("idle")
    held.open()
