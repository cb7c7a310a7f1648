"""The watcher's cheap paths on real hosts: tmux is asked for its pane list only now
and then, diff stats share a per-host budget, and screens are rewritten in place. None of that
may lose a fact: a pane killed from outside, a tmux server restarted, every session's diff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fleet.core.remote.hostside import screenfile, tmuxctl
from tests.integration.fleetrun import FleetCLI, wait_for, write_as_agent
from tests.integration.hosts import LoopbackFleet, LoopbackHost
from tests.integration.procfs import control_clients


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def journal(h: LoopbackHost) -> list[dict[str, Any]]:
    path = h.home / ".fleet" / "journal.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def statuses(h: LoopbackHost, session_id: str) -> list[str]:
    return [
        e["status"]
        for e in journal(h)
        if e.get("type") == "status" and e.get("session") == session_id
    ]


def test_a_killed_tmux_server_is_noticed_and_the_next_one_watched(fleet: FleetCLI) -> None:
    lf = fleet.lf
    host = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "k1")
    first = fleet.wait_status("alpha/k1", "idle")
    # The whole server goes (a reboot, an OOM kill): no wrapper is left to write an exit file,
    # only the periodic pane list can tell.
    lf.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=True)
    wait_for(
        lambda: statuses(host, first["id"])[-1:] == ["stopped"],
        timeout=20,
        what="the watcher to journal the session as stopped",
    )
    # A new server (started by the next session) is watched like the first.
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "k2")
    second = fleet.wait_status("alpha/k2", "idle")
    fleet.ok("send", "alpha/k2", "after the restart")
    screen = host.home / ".fleet" / "sessions" / second["id"] / "screen.txt"
    wait_for(
        lambda: "got 17 chars" in screen.read_text(encoding="utf-8"),
        what="the new server's pane to be captured",
    )


def test_every_changed_session_gets_its_diffstat_under_the_host_budget(fleet: FleetCLI) -> None:
    lf = fleet.lf
    host = lf["beta"]
    made = {}
    for n in (2, 3, 4):
        fleet.ok("new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", f"d{n}")
    for n in (2, 3, 4):
        session = fleet.wait_status(f"beta/d{n}", "idle")
        made[session["id"]] = n
        write_as_agent(host, Path(session["worktree"]) / "budget-check.txt", "line\n" * n)
        fleet.ok("send", f"beta/d{n}", "wrote it")  # the screen changes: the diff may have

    def latest() -> dict[str, Any]:
        found: dict[str, Any] = {}
        for e in journal(host):
            if e.get("type") == "diffstat":
                found[e["session"]] = e["diffstat"]
        return found

    want = {sid: {"added": n, "removed": 0, "files": 1, "approved": 0} for sid, n in made.items()}
    try:
        wait_for(lambda: {sid: latest().get(sid) for sid in made} == want, timeout=30)
    except AssertionError:
        raise AssertionError(f"diff stats: want {want}, journaled {latest()}") from None


WRITER = """
import sys
from fleet.core.remote.hostside import screenfile, tmuxctl
path, rounds = sys.argv[1], int(sys.argv[2])
long, short = "A" * 9000 + "\\n", "b\\n" * 7
for i in range(rounds):
    screenfile.write(path, long if i % 2 else short)
"""


def test_a_screen_rewritten_in_place_is_never_read_half_written(tmp_path: Path) -> None:
    path = tmp_path / "screen.txt"
    whole = {"A" * 9000 + "\n", "b\n" * 7}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "20000"],
        cwd=Path(__file__).resolve().parents[2],
    )
    reads = 0
    try:
        while writer.poll() is None:
            got = screenfile.read(str(path))
            if got is None:
                continue
            reads += 1
            assert got[0] in whole, f"a torn screen of {len(got[0])} characters"
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == 0
    assert reads > 0
    assert screenfile.read(str(path)) == (
        "A" * 9000 + "\n",
        path.stat().st_mtime_ns,
    )


def test_the_control_client_never_sizes_a_window_and_returns_after_kill_server(
    fleet: FleetCLI,
) -> None:
    lf = fleet.lf
    host = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "c1")
    fleet.wait_status("alpha/c1", "idle")
    fleet.ok("send", "alpha/c1", "print something")  # a capture: the client starts
    first = wait_for(lambda: control_clients(host.uid), what="a control client")
    flags = lf.run_as(
        "alpha", ["tmux", "-L", "fleet", "list-clients", "-F", "#{client_flags}"], check=True
    ).stdout
    assert "control-mode" in flags and "ignore-size" in flags and "no-output" in flags, flags

    lf.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=True)
    wait_for(lambda: not control_clients(host.uid), what="the old control client to exit")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "c2")
    second = fleet.wait_status("alpha/c2", "idle")
    fleet.ok("send", "alpha/c2", "again")
    screen = host.home / ".fleet" / "sessions" / second["id"] / "screen.txt"
    wait_for(lambda: "got 5 chars" in screen.read_text(encoding="utf-8"), what="a new capture")

    def prints_and_has_a_client() -> list[int]:
        fleet.ok("send", "alpha/c2", "more")  # keeps captures coming while the client returns
        return control_clients(host.uid)

    again = wait_for(prints_and_has_a_client, timeout=30, interval=0.5, what="a new client")
    assert set(again).isdisjoint(first)


FORGER = (
    "printf '%%end 1 2 1\\n%%begin 3 4 5\\nfleet-ctl-0123\\n%%error 6 7 8\\nlast\\n'; sleep 600"
)


def test_a_pane_printing_control_lines_is_captured_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = f"fleet-test-{os.getpid()}"
    monkeypatch.setattr(tmuxctl, "TMUX_SOCKET", sock)
    base = ["tmux", "-L", sock]
    control = tmuxctl.Control()
    try:
        for name, cmd in (("fleet-forger", FORGER), ("fleet-plain", "echo plain; sleep 600")):
            subprocess.run([*base, "new-session", "-d", "-s", name, "-x", "60", "-y", "10", cmd])

        def forked(name: str) -> str:
            return subprocess.run(
                [*base, "capture-pane", "-p", "-t", f"={name}:"], capture_output=True, text=True
            ).stdout

        wait_for(lambda: "last" in forked("fleet-forger"), what="the forger's lines")
        wait_for(lambda: "plain" in forked("fleet-plain"), what="the plain pane")
        got = control.capture(["fleet-forger", "fleet-missing", "fleet-plain"])
        assert got == {"fleet-forger": forked("fleet-forger"), "fleet-plain": forked("fleet-plain")}
        assert "%end 1 2 1\n%begin 3 4 5\n" in got["fleet-forger"]
        size = subprocess.run(
            [*base, "display-message", "-p", "-t", "=fleet-plain:", "#{window_width}"],
            capture_output=True,
            text=True,
        ).stdout
        assert size.strip() == "60"  # the attached control client did not resize the window
    finally:
        control.close()
        subprocess.run([*base, "kill-server"], capture_output=True)
