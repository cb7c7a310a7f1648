"""Review on real hosts: diff, approve and reject hunks, commit, undo, push and land, through the
`fleet` CLI against loopback sshd hosts with real git and a recorder agent."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fleetrun import FleetCLI, git_in, received_lines, wait_for, write_as_agent
from tests.integration.hosts import NOTES_TXT, LoopbackFleet


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def git(fleet: FleetCLI, worktree: Path, *args: str) -> str:
    return git_in(fleet.lf, "alpha", worktree, *args)


write = write_as_agent


def start(fleet: FleetCLI, name: str) -> tuple[dict[str, Any], Path]:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", name)
    session = fleet.wait_status(f"alpha/{name}", "idle")
    return session, fleet.lf["alpha"].home / ".fleet/worktrees" / name


def edit_lines(text: str, changes: dict[int, str]) -> str:
    lines = text.splitlines(keepends=True)
    for n, new in changes.items():
        lines[n - 1] = new + "\n"
    return "".join(lines)


def diff_json(fleet: FleetCLI, ref: str, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = fleet.ok("diff", ref, "--json", *extra).json()
    return data


def hunks(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for f in data["files"] for h in f["hunks"]]


def test_approve_reject_commit_undo_and_land(fleet: FleetCLI, tmp_path: Path) -> None:
    h = fleet.lf["alpha"]
    session, wt = start(fleet, "rv")
    ref = "alpha/rv"
    base = git(fleet, wt, "rev-parse", "HEAD").strip()
    edited = edit_lines(NOTES_TXT, {3: "line 3, improved", 35: "line 35, broken"})
    write(h, wt / "notes.txt", edited)
    write(h, wt / "zz new file.txt", "made by the agent\n")

    seen = diff_json(fleet, ref)
    assert [(x["number"], x["path"]) for x in hunks(seen)] == [
        (1, "notes.txt"),
        (2, "notes.txt"),
        (3, "zz new file.txt"),
    ]
    assert [(x["added"], x["removed"]) for x in hunks(seen)] == [(1, 1), (1, 1), (1, 0)]
    fp = seen["fingerprint"]
    plain = fleet.ok("diff", ref)
    assert "+line 3, improved" in plain.out and "#2" in plain.out
    assert fp[:16] in plain.err
    assert "zz new file.txt" in fleet.ok("diff", ref, "--stat").out

    # Approve hunk 1: exactly it is staged; the agent's files are untouched.
    out = fleet.ok("approve", ref, "--hunk", "1", "--expect", fp).out
    assert "approved hunk 1 of" in out
    cached = git(fleet, wt, "diff", "--cached")
    assert "+line 3, improved" in cached and "line 35" not in cached and "zz new" not in cached
    assert (wt / "notes.txt").read_text() == edited

    # Reject hunk 2 with a note: the lines come back, the patch is kept, the agent is told.
    result = fleet.ok("reject", ref, "--hunk", "2", "--expect", fp, "--note", "keep line 35")
    assert (wt / "notes.txt").read_text() == edit_lines(NOTES_TXT, {3: "line 3, improved"})
    assert (wt / "zz new file.txt").exists()
    kept = h.home / ".fleet/sessions" / session["id"] / "rejected" / "2.patch"
    assert "+line 35, broken" in kept.read_text() and "line 3," not in kept.read_text()
    assert "rejected hunk 2 of" in result.out and "told the agent" in result.out
    wanted = "notes.txt line 35. Note: keep line 35"
    wait_for(
        lambda: any(wanted in line for line in received_lines(h, session["id"])),
        what="the rejection note reaching the agent",
    )
    wait_for(lambda: wanted in fleet.ok("screen", ref).out, what="the note on the agent's screen")
    decided = diff_json(fleet, ref)
    assert [(x["path"], x["approved"]) for x in hunks(decided)] == [
        ("notes.txt", True),
        ("zz new file.txt", False),
    ]
    assert diff_json(fleet, ref, "--since-review")["files"] == []

    # Approve the rest with no hunk named: everything approved is committed on fleet/rv.
    out = fleet.ok("approve", ref, "-m", "review: take line 3 and the new file").out
    assert "committed" in out
    assert git(fleet, wt, "log", "-1", "--format=%s", "fleet/rv").strip() == (
        "review: take line 3 and the new file"
    )
    assert git(fleet, wt, "show", "fleet/rv:notes.txt") == edit_lines(
        NOTES_TXT, {3: "line 3, improved"}
    )
    assert git(fleet, wt, "show", "fleet/rv:zz new file.txt") == "made by the agent\n"
    assert git(fleet, wt, "rev-parse", "fleet/rv^").strip() == base
    assert git(fleet, wt, "status", "--porcelain") == ""

    # Undo the commit: the branch is back at the base, hunk 1 staged as before, files kept.
    assert "undid approve" in fleet.ok("undo", ref).out
    assert git(fleet, wt, "rev-parse", "fleet/rv").strip() == base
    cached = git(fleet, wt, "diff", "--cached", "--name-only")
    assert cached.split("\n")[:1] == ["notes.txt"] and "zz new" not in cached
    assert (wt / "zz new file.txt").read_text() == "made by the agent\n"
    log = fleet.ok("log", ref).out
    assert "approve" in log and "reject" in log and "keep line 35" in log and "undo" in log

    # Commit again and land the branch in a local clone, over ssh.
    fleet.ok("approve", ref, "-m", "review: approved")
    tip = git(fleet, wt, "rev-parse", "fleet/rv").strip()
    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    landed = fleet.ok("land", ref, "--into", str(local)).out
    assert "fleet/alpha/rv" in landed
    got = subprocess.run(
        ["git", "-C", str(local), "rev-parse", "fleet/alpha/rv"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert got == tip
    remote = subprocess.run(
        ["git", "-C", str(local), "remote", "get-url", "alpha"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert remote == f"ssh://alpha{h.repo}"
    # Landing again after more work moves the local branch along.
    write(h, wt / "more.txt", "more\n")
    fleet.ok("approve", ref, "-m", "more")
    fleet.ok("land", ref, "--into", str(local))
    again = subprocess.run(
        ["git", "-C", str(local), "log", "-1", "--format=%s", "fleet/alpha/rv"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert again == "more"


def test_a_decision_on_lines_the_agent_changed_since_is_refused(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    session, wt = start(fleet, "race")
    ref = "alpha/race"
    write(h, wt / "notes.txt", edit_lines(NOTES_TXT, {3: "first idea", 30: "far away"}))
    seen = diff_json(fleet, ref)
    # The agent keeps working on hunk 1 after the person looked.
    changed = edit_lines(NOTES_TXT, {3: "second idea", 30: "far away"})
    write(h, wt / "notes.txt", changed)
    index = git(fleet, wt, "ls-files", "--stage")
    for verb in ("approve", "reject"):
        refused = fleet(verb, ref, "--hunk", "1", "--expect", seen["fingerprint"])
        assert refused.code == 1, refused
        assert "changed these lines since you saw them" in refused.err
        assert "notes.txt" in refused.err and "the diff now" in refused.err
        assert git(fleet, wt, "ls-files", "--stage") == index
        assert git(fleet, wt, "diff", "--cached") == ""
        assert (wt / "notes.txt").read_text() == changed
    assert not (h.home / ".fleet/sessions" / session["id"] / "review").exists()
    # Hunk 2 was not touched: deciding on it with the old fingerprint still works.
    fleet.ok("approve", ref, "--hunk", "2", "--expect", seen["fingerprint"])
    assert "+far away" in git(fleet, wt, "diff", "--cached")
    # An unknown fingerprint is a usage error.
    assert fleet("approve", ref, "--hunk", "1", "--expect", "feedface").code == 2


def test_push_to_origin_and_clear_errors(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    _, wt = start(fleet, "pushy")
    ref = "alpha/pushy"
    write(h, wt / "app.py", "print('pushed')\n")
    fleet.ok("approve", ref, "-m", "ready")
    missing = fleet("push", ref)
    assert missing.code == 1 and "no remote named origin" in missing.err
    origin = h.home / "origin.git"
    fleet.lf.run_as("alpha", ["git", "init", "-q", "--bare", str(origin)], check=True)
    fleet.lf.run_as("alpha", ["git", "-C", str(h.repo), "remote", "add", "origin", str(origin)])
    pushed = fleet.ok("push", ref)
    assert "pushed fleet/pushy" in pushed.out
    assert "gh is not installed" in pushed.err
    tip = git(fleet, wt, "rev-parse", "HEAD").strip()
    there = fleet.lf.run_as("alpha", ["git", "-C", str(origin), "rev-parse", "fleet/pushy"])
    assert there.stdout.strip() == tip


def test_a_nested_repo_the_agent_controls_cannot_make_fleets_git_run_a_program(
    fleet: FleetCLI,
) -> None:
    # A sandboxed agent can write a nested repository's config inside its worktree. fleet's own
    # git calls run outside any sandbox, so they must never run a program named there.
    h = fleet.lf["alpha"]
    _, wt = start(fleet, "nest")
    canary = h.home / "fsmonitor-ran"
    hook = h.home / "evil-fsmonitor.sh"
    write(h, hook, f"#!/bin/sh\ntouch {canary}\nexit 1\n")
    fleet.lf.run_as("alpha", ["chmod", "+x", str(hook)])
    nested = wt / "vendor" / "evil"
    fleet.lf.run_as("alpha", ["mkdir", "-p", str(nested)])
    git(fleet, nested, "init", "-q")
    write(h, nested / "a.txt", "one\n")
    git(fleet, nested, "add", "a.txt")
    git(fleet, nested, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "one")
    git(fleet, nested, "config", "core.fsmonitor", str(hook))
    write(h, nested / "a.txt", "two\n")  # dirty, so a recursing git would look inside
    git(fleet, wt, "add", "vendor/evil")  # a gitlink: git now treats it as a submodule
    write(h, wt / "notes.txt", NOTES_TXT + "one more line\n")

    seen = diff_json(fleet, "alpha/nest")
    assert "notes.txt" in [f["path"] for f in seen["files"]]
    fleet.ok("checkpoint", "alpha/nest")
    fleet.ok("ls")
    assert not canary.exists(), "fleet's git ran the fsmonitor program of a nested repository"


def test_committed_work_leaves_the_review_and_each_view_says_which_it_is(fleet: FleetCLI) -> None:
    h = fleet.lf["alpha"]
    session, wt = start(fleet, "again")
    ref = "alpha/again"
    write(h, wt / "notes.txt", edit_lines(NOTES_TXT, {10: "line 10, taken"}))
    fleet.ok("approve", ref, "-m", "take line 10")
    # The agent goes on next to the committed line, and elsewhere.
    write(h, wt / "notes.txt", edit_lines(NOTES_TXT, {10: "line 10, taken", 11: "line 11, new"}))
    fleet.ok("send", ref, "done with line 11")  # and says so on its screen

    shown = fleet.ok("diff", ref, "--json").json()
    assert [(x["added"], x["removed"], x["approved"]) for x in hunks(shown)] == [(1, 1, False)]
    assert shown["view"] == "review"
    plain = fleet.ok("diff", ref)
    assert "+line 11, new" in plain.out and " line 10, taken" in plain.out  # context only
    assert "-line 10" not in plain.out and "+line 10, taken" not in plain.out
    assert plain.err.splitlines()[0].startswith(f"{ref}: the review: what is new since the")

    whole = fleet.ok("diff", ref, "--all")
    assert "+line 10, taken" in whole.out and "+line 11, new" in whole.out
    assert "the whole branch against its base (read-only)" in whole.err.splitlines()[0]
    since = fleet.ok("diff", ref, "--since-review")
    assert "read-only" in since.err.splitlines()[0]

    # The card counts only what is new.
    def card() -> dict[str, Any] | None:
        mine = [s for s in fleet.ok("ls", "--json").json() if s["id"] == session["id"]]
        return mine[0] if mine and mine[0]["diffstat"]["added"] == 1 else None

    stat = wait_for(card, what="the card counting only the uncommitted line")["diffstat"]
    assert stat["removed"] == 1 and stat["files"] == 1

    # A rejection since the commit is counted, and the lines come back.
    fleet.ok("reject", ref, "--hunk", "1")
    after = fleet.ok("diff", ref)
    assert "1 hunk rejected (reverted) so far" in after.err.splitlines()[0]
    assert (wt / "notes.txt").read_text() == edit_lines(NOTES_TXT, {10: "line 10, taken"})


def test_an_index_the_agent_staged_is_named_as_the_reason_a_hunk_does_not_apply(
    fleet: FleetCLI,
) -> None:
    h = fleet.lf["alpha"]
    _, wt = start(fleet, "staged")
    ref = "alpha/staged"
    write(h, wt / "notes.txt", edit_lines(NOTES_TXT, {3: "first try"}))
    git(fleet, wt, "add", "notes.txt")  # the agent stages its own work
    write(h, wt / "notes.txt", edit_lines(NOTES_TXT, {3: "second try"}))
    refused = fleet("approve", ref, "--hunk", "1")
    assert refused.code == 1, refused
    assert "notes.txt that fleet did not stage" in refused.err
    assert "git restore --staged" in refused.err and "maybe" not in refused.err
    assert "+first try" in git(fleet, wt, "diff", "--cached")  # nothing was done
