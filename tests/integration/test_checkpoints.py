"""Checkpoints of a session's worktree for real: taken on the host without touching the agent's
index, rewound to and back, and taken on a schedule by the watcher. A host "reboot" is in
tests/reliability/test_local_faults.py."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fleet.core.config import load_config
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import (
    FleetCLI,
    git_in,
    wait_for,
    write_as_agent,
)
from tests.integration.hosts import LoopbackFleet


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def git(fleet: FleetCLI, worktree: Path, *args: str) -> str:
    return git_in(fleet.lf, "alpha", worktree, *args)


write = write_as_agent


def files(worktree: Path) -> dict[str, str]:
    """Every file of a worktree but git's own (`.git` is a file in a linked worktree)."""
    return {
        str(p.relative_to(worktree)): p.read_text()
        for p in sorted(worktree.rglob("*"))
        if p.is_file() and p.name != ".git"
    }


def checkpoint(fleet: FleetCLI, ref: str, reason: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with Supervisor(load_config(fleet.config)) as sup:
            made = await sup.checkpoint(ref, reason)
            return made.checkpoint.to_json()

    return asyncio.run(run())


def checkpoints(fleet: FleetCLI, ref: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = fleet.ok("checkpoints", ref, "--json").json()
    return rows


def index_fingerprint(fleet: FleetCLI, worktree: Path) -> tuple[str, int]:
    """The bytes and mtime of the worktree's real index file: proof nobody wrote it."""
    out = git(fleet, worktree, "rev-parse", "--path-format=absolute", "--git-path", "index")
    path = Path(out.strip())
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def start(fleet: FleetCLI, name: str, agent: str = "recorder") -> tuple[dict[str, Any], Path]:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", agent, "--name", name)
    session = fleet.wait_status(f"alpha/{name}", "idle")
    return session, fleet.lf["alpha"].home / ".fleet/worktrees" / name


def test_checkpoint_captures_edits_and_untracked_files_but_leaves_the_index_alone(
    fleet: FleetCLI,
) -> None:
    h = fleet.lf["alpha"]
    session, wt = start(fleet, "cp")
    write(h, wt / "app.py", (wt / "app.py").read_text() + "\n# edited by the agent\n")
    write(h, wt / "notes.txt", "staged by the agent\n")
    git(fleet, wt, "add", "notes.txt")
    write(h, wt / "src" / "new_module.py", "VALUE = 1\n")
    write(h, wt / ".gitignore", "*.log\n")
    write(h, wt / "debug.log", "ignored\n")

    status = git(fleet, wt, "status", "--porcelain", "--untracked-files=all")
    stage = git(fleet, wt, "ls-files", "--stage")
    cached = git(fleet, wt, "diff", "--cached")
    index = index_fingerprint(fleet, wt)
    assert cached and "new_module.py" in status  # a real mix of staged, unstaged, untracked

    made = checkpoint(fleet, "alpha/cp", "before review")
    assert made["n"] == 1 and made["created"]
    assert index_fingerprint(fleet, wt) == index, "the checkpoint wrote the agent's index"
    assert git(fleet, wt, "status", "--porcelain", "--untracked-files=all") == status
    assert git(fleet, wt, "ls-files", "--stage") == stage
    assert git(fleet, wt, "diff", "--cached") == cached

    ref = f"refs/fleet/checkpoints/{session['id']}/1"
    assert git(fleet, wt, "show", f"{ref}:src/new_module.py") == "VALUE = 1\n"
    assert git(fleet, wt, "show", f"{ref}:notes.txt") == "staged by the agent\n"
    assert "# edited by the agent" in git(fleet, wt, "show", f"{ref}:app.py")
    tree = git(fleet, wt, "ls-tree", "-r", "--name-only", ref).split()
    assert "debug.log" not in tree
    assert git(fleet, wt, "rev-parse", f"{ref}^") == git(fleet, wt, "rev-parse", "HEAD")

    assert checkpoint(fleet, "alpha/cp", "again")["created"] is False  # nothing changed
    rows = checkpoints(fleet, "alpha/cp")
    assert [(r["n"], r["reason"]) for r in rows] == [(1, "before review")]
    assert rows[0]["changes"] == {"files": 4, "added": 5, "removed": 40, "approved": 0}
    table = fleet.ok("checkpoints", "alpha/cp").out
    assert table.split("\n")[0].split() == ["N", "WHEN", "REASON", "CHANGES"]
    assert "before review" in table and "4 files" in table


def test_rewind_restores_files_after_checkpointing_the_current_state(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    _, wt = start(fleet, "rw")
    write(h, wt / "app.py", "print('version one')\n")
    write(h, wt / "todo.txt", "one\n")
    checkpoint(fleet, "alpha/rw", "version one")
    one = files(wt)

    write(h, wt / "app.py", "print('version two')\n")
    (wt / "todo.txt").unlink()
    (wt / "notes.txt").unlink()
    write(h, wt / "pkg" / "deep" / "later.py", "LATER = True\n")
    write(h, wt / "pkg" / "also_new.txt", "new\n")
    two = files(wt)
    head = git(fleet, wt, "rev-parse", "HEAD")
    stage = git(fleet, wt, "ls-files", "--stage")

    result = fleet.ok("rewind", "alpha/rw", "1")
    assert "checkpointed the current files of alpha/rw as checkpoint 2" in result.err
    assert "fleet rewind alpha/rw 2" in result.err
    assert "3 files restored, 2 removed" in result.err
    assert files(wt) == one
    assert not (wt / "pkg").exists(), "directories emptied by the rewind are removed"
    assert git(fleet, wt, "rev-parse", "HEAD") == head
    assert git(fleet, wt, "ls-files", "--stage") == stage

    back = fleet.ok("rewind", "alpha/rw", "2")  # the state before the rewind comes back
    assert files(wt) == two
    assert "checkpoint 3" in back.err
    rows = checkpoints(fleet, "alpha/rw")
    assert [r["reason"] for r in rows] == [
        "version one",
        "before rewind to 1",
        "before rewind to 2",
    ]

    missing = fleet("rewind", "alpha/rw", "9")
    assert missing.code == 1 and "no checkpoint 9" in missing.err
    assert "Traceback" not in missing.err


def test_the_watcher_checkpoints_a_changed_worktree_on_its_schedule(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    # The interval is a per-host setting the watcher reads (an environment variable cannot
    # reach a daemon started over SSH); one second keeps the test quick.
    write(h, h.home / ".fleet" / "settings.json", json.dumps({"checkpoint_every": 1}))
    (h.home / ".fleet").chmod(0o700)
    session, wt = start(fleet, "sched", agent="shell")
    fleet.ok("send", "alpha/sched", "echo made-by-the-agent > made.txt")

    rows = wait_for(
        lambda: checkpoints(fleet, "alpha/sched"), timeout=30, what="a scheduled checkpoint"
    )
    assert rows[0]["n"] == 1 and rows[0]["reason"] == "scheduled"
    ref = f"refs/fleet/checkpoints/{session['id']}/1"
    assert git(fleet, wt, "show", f"{ref}:made.txt") == "made-by-the-agent\n"
    journal = [
        json.loads(line) for line in (h.home / ".fleet/journal.jsonl").read_text().splitlines()
    ]
    made = [e for e in journal if e["type"] == "checkpoint"]
    assert made and made[0]["session"] == session["id"] and made[0]["n"] == 1

    fleet.ok("send", "alpha/sched", "echo more >> made.txt")
    rows = wait_for(
        lambda: len(rows := checkpoints(fleet, "alpha/sched")) > 1 and rows,
        timeout=30,
        what="a second scheduled checkpoint after another change",
    )
    assert git(fleet, wt, "show", f"{ref[:-1]}2:made.txt") == "made-by-the-agent\nmore\n"


def test_checkpoint_by_hand_and_the_audit_log(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "shell", "--name", "byhand")
    worktree = h.home / ".fleet/worktrees/byhand"
    write(h, worktree / "notes.txt", "edited by the agent\n")
    made = fleet.ok("checkpoint", "alpha/byhand", "-m", "before lunch")
    assert "checkpoint 1" in made.err
    again = fleet.ok("checkpoint", "alpha/byhand")
    assert "nothing changed since checkpoint 1" in again.err
    assert [c["reason"] for c in checkpoints(fleet, "alpha/byhand")] == ["before lunch"]
    write(h, worktree / "notes.txt", "edited again\n")
    fleet.ok("rewind", "alpha/byhand", "1")
    assert (worktree / "notes.txt").read_text() == "edited by the agent\n"
    kinds = [e["kind"] for e in fleet.ok("log", "alpha/byhand", "--json").json()]
    assert kinds.count("checkpoint") == 2 and kinds[-1] == "rewind"
