"""`fleet rm` for a session on a configured host (not a pool's): refused while work would be
lost, then its worktree, branch, tmux session and directory go and the session shows gone;
landed work stays in the local clone as fleet/HOST/NAME. Real sshd, tmux and git on loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, git_in, write_as_agent
from tests.integration.hosts import LoopbackFleet


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def host_git(fleet: FleetCLI, *args: str) -> subprocess.CompletedProcess[str]:
    h = fleet.lf["alpha"]
    return fleet.lf.run_as("alpha", ["git", "-C", str(h.repo), *args], check=False)


def local_git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def test_rm_a_host_session_refuses_until_landed_then_it_is_gone(
    fleet: FleetCLI, tmp_path: Path
) -> None:
    h = fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "rmme")
    session = fleet.wait_status("alpha/rmme", "idle")
    ref, worktree = "alpha/rmme", h.home / ".fleet/worktrees/rmme"
    write_as_agent(h, worktree / "notes.txt", "rewritten by the agent\n")

    refused = fleet("rm", ref)
    assert refused.code == 1 and "not yet approved" in refused.err, refused.err
    fleet.ok("approve", ref, "-m", "the agent's work")
    refused = fleet("rm", ref)
    assert refused.code == 1, refused.err
    assert "not in a local repository, or pushed" in refused.err, refused.err
    assert f"fleet land {ref} --into REPO" in refused.err, refused.err
    assert worktree.is_dir() and host_git(fleet, "rev-parse", "fleet/rmme").returncode == 0

    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    fleet.ok("land", ref, "--into", str(local))
    tip = git_in(fleet.lf, "alpha", worktree, "rev-parse", "HEAD").strip()

    removed = fleet("rm", ref)
    assert removed.code == 0, removed.err
    assert f"removed {ref}: its worktree and branch fleet/rmme" in removed.out
    assert not worktree.exists()
    assert host_git(fleet, "rev-parse", "--verify", "-q", "fleet/rmme").returncode == 1
    assert "rmme" not in host_git(fleet, "worktree", "list").stdout
    assert not (h.home / ".fleet/sessions" / session["id"]).exists()
    tmux = fleet.lf.run_as("alpha", ["tmux", "-L", "fleet", "ls"], check=False).stdout
    assert f"fleet-{session['id']}" not in tmux
    # Gone (kept in the listing as gone, not stale), and the landed work stays at home.
    listed = {s["ref"]: s for s in fleet.ok("ls", "--json").json()}
    assert listed[ref]["gone"] is True, listed[ref]
    assert local_git(local, "rev-parse", "fleet/alpha/rmme").stdout.strip() == tip
    tracking = local_git(local, "rev-parse", "--verify", "-q", "refs/remotes/alpha/fleet/rmme")
    assert tracking.returncode == 1, "the tracking ref `fleet land` fetched into stays behind"
    again = fleet("rm", ref)
    assert again.code != 0 and "Traceback" not in again.err


def test_rm_a_session_that_made_nothing_and_one_whose_work_is_merged(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "idle1")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "merged")
    fleet.wait_status("alpha/idle1", "idle")
    fleet.wait_status("alpha/merged", "idle")
    assert fleet("rm", "alpha/idle1").code == 0  # at its base: nothing to lose
    write_as_agent(h, h.home / ".fleet/worktrees/merged/extra.txt", "kept\n")
    fleet.ok("approve", "alpha/merged", "-m", "extra")
    # The person merged it into another branch on the host: held there, so nothing is lost.
    host_git(fleet, "branch", "kept-work", "fleet/merged")
    removed = fleet("rm", "alpha/merged")
    assert removed.code == 0, removed.err
    assert host_git(fleet, "rev-parse", "--verify", "-q", "fleet/merged").returncode == 1
    assert host_git(fleet, "show", "kept-work:extra.txt").stdout == "kept\n"
