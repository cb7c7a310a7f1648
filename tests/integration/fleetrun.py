"""Run fleet against a LoopbackFleet the way a person does: the real `fleet` CLI in a process.

Also: a recorder agent (a tiny interactive program that writes down exactly what it receives)
and `wait_for`, which polls a condition until a deadline instead of sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.integration.hosts import LoopbackFleet, LoopbackHost

T = TypeVar("T")

RECORDER = textwrap.dedent(
    """\
    import json, os, sys
    session = os.environ.get("FLEET_SESSION", "none")
    path = os.path.expanduser("~/received-%s.jsonl" % session)
    def record(kind, value):
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, "value": value}) + "\\n")
    record("argv", sys.argv[1:])
    print("recorder ready; conversation conv-%d" % os.getpid(), flush=True)
    while True:
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = sys.stdin.buffer.readline()
        if not line:
            break
        text = line.decode("utf-8", "replace").rstrip("\\n")
        record("line", text)
        if text.startswith("exit "):
            sys.exit(int(text.split()[1]))
        print("got %d chars" % len(text), flush=True)
    """
)


def wait_for(
    condition: Callable[[], T | None],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class PoolCLI:
    """`python -m fleet` with the env a pool test gives it (its own config and state);
    stdin closed, so nothing waits on a prompt. Subclasses write the config and set `env`."""

    env: dict[str, str]
    TIMEOUT = 120.0

    def __call__(self, *args: str, timeout: float | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout or self.TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"fleet {' '.join(args)} failed ({result.code}): {result.err}"
        return result

    def session(self, ref: str) -> dict[str, Any] | None:
        return next((s for s in self.ok("ls", "--json").json() if s["ref"] == ref), None)


class FleetCLI:
    """The fleet CLI pointed at a loopback fleet, with a `recorder` agent profile added (it
    stands in for an agent CLI: it reads prose)."""

    def __init__(self, lf: LoopbackFleet, extra_toml: str = "") -> None:
        self.lf = lf
        agents = lf.dir / "agents"
        agents.mkdir(exist_ok=True)
        agents.chmod(0o755)
        recorder = agents / "recorder.py"
        recorder.write_text(RECORDER)
        recorder.chmod(0o644)
        self.config = lf.dir / "fleet-test.toml"
        self.config.write_text(
            lf.fleet_toml.read_text()
            + textwrap.dedent(
                f"""
                [agents.recorder]
                command = "python3 {recorder} {{task}}"
                session_id = 'conversation (conv-[0-9]+)'
                resume_session = "python3 {recorder} --resumed {{agent_session}}"
                idle = ['^> ?\\Z']
                idle_after = 1.0
                enter_delay = 0.05
                interrupt = ["C-c"]
                prose = true
                """
            )
            + extra_toml
        )
        self.env = lf.env(os.environ)
        self.env["FLEET_CONFIG"] = str(self.config)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kw: Any) -> Result:
        result = self(*args, **kw)
        assert result.code == 0, f"fleet {' '.join(args)} failed ({result.code}): {result.err}"
        return result

    def sessions(self) -> dict[str, dict[str, Any]]:
        return {s["ref"]: s for s in self.ok("ls", "--json").json()}

    def wait_status(self, ref: str, *statuses: str, timeout: float = 20) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            session = self.sessions().get(ref)
            return session if session and session["status"] in statuses else None

        try:
            return wait_for(check, timeout, 0.2, f"{ref} to be {' or '.join(statuses)}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnose(ref)}") from None

    def diagnose(self, ref: str) -> str:
        """What the host knows, for a failure message: tmux panes and the journal's tail."""
        host = self.lf[ref.split("/")[0]]
        fmt = "#{session_name} dead=#{pane_dead} status=#{pane_dead_status} pid=#{pane_pid}"
        panes = self.lf.run_as(
            host.name, ["tmux", "-L", "fleet", "list-panes", "-a", "-F", fmt], check=False
        )
        journal = host.home / ".fleet" / "journal.jsonl"
        tail = journal.read_text().splitlines()[-8:] if journal.exists() else []
        return "tmux panes:\n" + panes.stdout + "journal tail:\n" + "\n".join(tail)


def received(host: LoopbackHost, session_id: str) -> list[dict[str, Any]]:
    """What the recorder agent of a session has received so far."""
    path = host.home / f"received-{session_id}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines]


def received_lines(host: LoopbackHost, session_id: str) -> list[str]:
    return [r["value"] for r in received(host, session_id) if r["kind"] == "line"]


def write_as_agent(h: LoopbackHost, path: Path, text: str) -> None:
    """Write a file in a worktree as the host's user would (the agent owns its files)."""
    for d in reversed([p for p in path.parents if h.home in p.parents]):
        if not d.exists():
            d.mkdir()
            os.chown(d, h.uid, h.gid)
    path.write_text(text)
    os.chown(path, h.uid, h.gid)


def git_in(lf: LoopbackFleet, host: str, worktree: Path, *args: str) -> str:
    """git in a worktree, as the host's user."""
    return lf.run_as(host, ["git", "-C", str(worktree), *args], check=True).stdout


async def pilot_until(
    pilot: Any, condition: Callable[[], object], what: str, timeout: float = 30
) -> None:
    """wait_for inside a Textual Pilot test: let the app run between checks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
