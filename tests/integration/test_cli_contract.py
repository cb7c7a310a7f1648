"""What every command promises, on real hosts through the real `fleet` process: one rule for
exit codes, --json wherever data is printed, every action's outcome in the audit log (done,
refused or failed, with why), and a repository path the local shell expanded taken as meant."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fleetrun import FleetCLI, git_in, write_as_agent
from tests.integration.hosts import LoopbackFleet


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def started(fleet: FleetCLI, name: str) -> Path:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", name)
    fleet.wait_status(f"alpha/{name}", "idle")
    return fleet.lf["alpha"].home / ".fleet/worktrees" / name


def test_exit_codes_follow_one_rule(fleet: FleetCLI) -> None:
    started(fleet, "codes")
    # 2: the command cannot mean anything as written.
    for args in (
        ("new", "nowhere", "--repo", "~/repo", "x"),
        ("new", "alpha", "--repo", "~/repo", "--agent", "no-such-agent", "x"),
        ("screen", "alpha/no-such-session"),
        ("stop", "nosuchid"),
        ("ls", "--bogus-flag"),
    ):
        r = fleet(*args)
        assert r.code == 2, (args, r)
        assert "Traceback" not in r.err
    # 0: done, or already so, and it says so.
    resumed = fleet("resume", "alpha/codes")
    assert resumed.code == 0 and "already running" in resumed.err, resumed
    assert fleet("stop", "alpha/codes").code == 0
    again = fleet("stop", "alpha/codes")
    assert again.code == 0 and "already stopped" in again.err, again
    # 1: fleet tried and it failed (there is no origin to push to).
    failed = fleet("push", "alpha/codes")
    assert failed.code == 1 and "origin" in failed.err, failed


def test_every_command_that_prints_data_takes_json(fleet: FleetCLI, tmp_path: Path) -> None:
    h = fleet.lf["alpha"]
    wt = started(fleet, "shapes")
    notes = wt / "notes.txt"
    lines = notes.read_text().splitlines()
    lines[1], lines[-2] = "line 2 changed", "second to last changed"
    write_as_agent(h, notes, "\n".join(lines) + "\n")

    screen: dict[str, Any] = fleet.ok("screen", "alpha/shapes", "--json").json()
    assert screen["session"] == "alpha/shapes" and isinstance(screen["text"], str)
    approved = fleet.ok("approve", "alpha/shapes", "--hunk", "1", "--json").json()
    assert approved["hunks"] == [1] and approved["decision"] == 1 and approved["commit"] is None
    rejected = fleet.ok("reject", "alpha/shapes", "--hunk", "2", "--note", "no", "--json").json()
    assert rejected["hunks"] == [2] and rejected["kept"].endswith("2.patch")
    undone = fleet.ok("undo", "alpha/shapes", "--json").json()
    assert undone["action"] == "reject" and undone["decision"] == 2
    made = fleet.ok("checkpoint", "alpha/shapes", "--json").json()
    rewound = fleet.ok("rewind", "alpha/shapes", str(made["checkpoint"]["n"]), "--json").json()
    assert rewound["checkpoint"]["n"] == made["checkpoint"]["n"]
    committed = fleet.ok("approve", "alpha/shapes", "-m", "take it", "--json").json()
    assert committed["commit"] and committed["message"] == "take it"
    origin = h.home / "origin.git"
    fleet.lf.run_as("alpha", ["git", "init", "-q", "--bare", str(origin)], check=True)
    fleet.lf.run_as("alpha", ["git", "-C", str(h.repo), "remote", "add", "origin", str(origin)])
    pushed = fleet.ok("push", "alpha/shapes", "--json").json()
    assert pushed["branch"] == "fleet/shapes" and pushed["remote"] == "origin"
    local = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    landed = fleet.ok("land", "alpha/shapes", "--into", str(local), "--json").json()
    assert landed["branch"] == "fleet/alpha/shapes" and landed["commit"] == committed["commit"]


def test_the_audit_log_says_how_each_action_ended(fleet: FleetCLI, tmp_path: Path) -> None:
    started(fleet, "outcomes")
    assert fleet("push", "alpha/outcomes").code == 1  # no origin: refused by the host
    assert fleet("rewind", "alpha/outcomes", "99").code == 1  # no such checkpoint: refused
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    assert fleet("land", "alpha/outcomes", "--into", str(not_a_repo)).code == 2  # refused
    fleet.ok("send", "alpha/outcomes", "hello")  # done
    h = fleet.lf["alpha"]
    fleet.lf.run_as("alpha", ["git", "-C", str(h.repo), "remote", "add", "origin", "/nowhere"])
    assert fleet("push", "alpha/outcomes").code == 1  # git push itself fails: failed
    entries = fleet.ok("log", "alpha/outcomes", "--json").json()
    pushes = [e for e in entries if e["kind"] == "push"]
    assert [p["outcome"] for p in pushes] == ["refused", "failed"], pushes
    assert "no remote named origin" in pushes[0]["reason"] and "failed" in pushes[1]["reason"]
    log = {e["kind"]: e for e in entries}
    assert log["rewind"]["outcome"] == "refused", log["rewind"]
    assert log["land"]["outcome"] == "refused" and "not a git repository" in log["land"]["reason"]
    assert log["send"]["outcome"] == "done" and log["send"]["reason"] is None
    assert "outcome" not in log  # outcomes are folded into their actions
    shown = fleet.ok("log", "alpha/outcomes").out
    assert "[failed: " in shown and "[refused: " in shown and "[done]" in shown


def test_a_path_under_this_machines_home_is_taken_as_under_the_hosts(
    fleet: FleetCLI, tmp_path: Path
) -> None:
    laptop_home = tmp_path / "laptop-home"
    laptop_home.mkdir()
    fleet.env["HOME"] = str(laptop_home)
    # What `fleet new alpha --repo ~/repo` becomes after the local shell expanded `~`.
    r = fleet.ok("new", "alpha", "--repo", f"{laptop_home}/repo", "--agent", "recorder", "x")
    assert "as ~/repo on the host" in r.err, r.err
    session = fleet.wait_status("alpha/x", "idle")
    assert git_in(fleet.lf, "alpha", Path(session["worktree"]), "rev-parse", "--show-toplevel")
