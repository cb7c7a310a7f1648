"""Hostile diffs, end to end: a real git worktree on a real loopback host where the "agent"
(the host's user) adds a binary file, a 100,000-line file, renames a file, creates files
named with a newline, a leading dash, option-like text, unicode and a tab, and symlinks that
point outside the worktree. `fleet diff` must show each correctly, approve and reject must
work on each (or refuse clearly), and nothing outside the worktree may ever be written: a
canary file outside (that the symlinks point at, writable by the agent's user) and a listing
of the user's home outside fleet's own directory are compared before and after.

Renames are shown as a deletion and an addition (the host's diff uses --no-renames, so each
half can be approved or rejected on its own); this test pins that behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fleetrun import FleetCLI, Result, git_in
from tests.integration.hosts import LoopbackFleet, LoopbackHost

BIG_LINES = 100_000
NAMES = {
    "newline": "new\nline.txt",
    "dash": "-rf",
    "option": "--output=pwned.txt",
    "unicode": "ünïcødé ✓ 漢字.txt",
    "tab": "tab\tname.txt",
    "quote": 'q"uo\\te.txt',
}
BINARY = bytes(range(256)) * 64 + b"\x00\xff"


def as_user(h: LoopbackHost, path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chown(path, h.uid, h.gid)


def home_listing(h: LoopbackHost) -> dict[str, tuple[int, int]]:
    """Everything in the user's home but fleet's own ~/.fleet and git's ~/repo/.git, with
    size and mtime: what an escape from the worktree would change."""
    out = {}
    skip = (h.home / ".fleet", h.repo / ".git")
    for dirpath, dirnames, filenames in os.walk(h.home):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in skip]
        for n in filenames + dirnames:
            if n.startswith("received-"):
                continue  # the recorder agent's own record of what it was told
            st = (d / n).lstat()
            out[str(d / n)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def setup(fresh_hosts: LoopbackFleet) -> Iterator[tuple[FleetCLI, LoopbackHost, Path, Path]]:
    fleet = FleetCLI(fresh_hosts)
    h = fresh_hosts["alpha"]
    outside = Path(tempfile.mkdtemp(prefix="fleet-canary-"))
    outside.chmod(0o755)
    canary = outside / "canary.txt"
    as_user(h, canary, b"canary\n")
    os.chown(outside, h.uid, h.gid)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "d1")
    fleet.wait_status("alpha/d1", "idle", timeout=60)
    wt = h.home / ".fleet" / "worktrees" / "d1"
    yield fleet, h, wt, canary
    shutil.rmtree(outside, ignore_errors=True)


def hostile_changes(h: LoopbackHost, wt: Path, canary: Path) -> None:
    as_user(h, wt / "bin.dat", BINARY)
    as_user(h, wt / "big.txt", "".join(f"line {i}\n" for i in range(BIG_LINES)).encode())
    notes = (wt / "notes.txt").read_bytes()
    (wt / "notes.txt").unlink()
    as_user(h, wt / "notes-renamed.txt", notes + b"one more line\n")
    for key, name in NAMES.items():
        as_user(h, wt / name, f"{key}\n".encode())
    for link, target in (("escape", str(canary)), ("up", "../../../..")):
        os.symlink(target, wt / link)
        os.lchown(wt / link, h.uid, h.gid)


def diff_json(fleet: FleetCLI) -> dict[str, Any]:
    data = fleet.ok("diff", "alpha/d1", "--json", timeout=120).json()
    assert isinstance(data, dict)
    return data


def hunks_of(data: dict[str, Any], path: str) -> list[int]:
    return [h["number"] for f in data["files"] if f["path"] == path for h in f["hunks"]]


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.err + r.out, r.err


def test_hostile_worktree_diff_approve_reject_never_write_outside(
    setup: tuple[FleetCLI, LoopbackHost, Path, Path],
) -> None:
    fleet, h, wt, canary = setup
    hostile_changes(h, wt, canary)
    before = home_listing(h)
    repo_files = sorted(p.name for p in h.repo.iterdir())

    data = diff_json(fleet)
    files = {f["path"]: f for f in data["files"]}
    want = {"bin.dat", "big.txt", "notes.txt", "notes-renamed.txt", "escape", "up"}
    assert want | set(NAMES.values()) == set(files), sorted(files)
    assert files["bin.dat"]["binary"] and files["bin.dat"]["status"] == "added"
    assert files["big.txt"]["added"] == BIG_LINES and len(files["big.txt"]["hunks"]) == 1
    # The rename: a deletion and an addition, each decidable on its own.
    assert files["notes.txt"]["status"] == "deleted"
    assert files["notes-renamed.txt"]["status"] == "added"
    assert files["notes-renamed.txt"]["added"] == 41
    for link in ("escape", "up"):
        assert files[link]["new_mode"] == "120000", files[link]
    for name in NAMES.values():
        assert files[name]["status"] == "added" and files[name]["added"] == 1, files[name]

    # The human view: every name shown, inert, the big file present, no traceback.
    shown = fleet.ok("diff", "alpha/d1", timeout=120)
    for name in ("-rf", "--output=pwned.txt", "ünïcødé ✓ 漢字.txt", "notes-renamed.txt"):
        assert name in shown.out, name
    assert "\x1b]" not in shown.out and "\x07" not in shown.out

    fp = data["fingerprint"]
    # Approve: the files with hostile names, the binary, a symlink, the added half of the rename.
    approve = [
        *(n for name in NAMES.values() for n in hunks_of(data, name)),
        *hunks_of(data, "bin.dat"),
        *hunks_of(data, "escape"),
        *hunks_of(data, "notes-renamed.txt"),
    ]
    args = [a for n in approve for a in ("--hunk", str(n))]
    r = fleet("approve", "alpha/d1", *args, "--expect", fp)
    no_traceback(r)
    assert r.code == 0, r.err
    staged = git_in(fleet.lf, "alpha", wt, "diff", "--cached", "--name-only", "-z")
    assert set(staged.split("\0")) - {""} == {
        *NAMES.values(),
        "bin.dat",
        "escape",
        "notes-renamed.txt",
    }
    blob = fleet.lf.run_as(
        "alpha", ["git", "-C", str(wt), "cat-file", "blob", ":bin.dat"], text=False
    ).stdout
    assert blob == BINARY

    # Reject: the 100k-line file, the other symlink, the deletion half of the rename.
    data = diff_json(fleet)
    reject = [*hunks_of(data, "big.txt"), *hunks_of(data, "up"), *hunks_of(data, "notes.txt")]
    args = [a for n in reject for a in ("--hunk", str(n))]
    r = fleet("reject", "alpha/d1", *args, "--expect", data["fingerprint"], "--note", "no")
    no_traceback(r)
    assert r.code == 0, r.err
    assert not (wt / "big.txt").exists() and not (wt / "up").is_symlink()
    assert (wt / "notes.txt").read_text().startswith("line 1\n")  # the deletion undone
    assert (wt / "escape").is_symlink()  # approved, untouched

    # Approve all: commits what is approved and the rest pending, on the session's branch.
    r = fleet("approve", "alpha/d1", "-m", "hostile names")
    no_traceback(r)
    assert r.code == 0, r.err
    tree = git_in(fleet.lf, "alpha", wt, "ls-tree", "-r", "-z", "--name-only", "HEAD")
    assert {*NAMES.values(), "bin.dat", "escape", "notes.txt"} <= set(tree.split("\0"))
    assert git_in(fleet.lf, "alpha", wt, "status", "--porcelain") == ""

    # Undo the commit and the reject: files come back, still nothing outside.
    for _ in range(2):
        r = fleet("undo", "alpha/d1")
        no_traceback(r)
        assert r.code == 0, r.err
    assert (wt / "big.txt").exists()

    assert canary.read_bytes() == b"canary\n"
    assert home_listing(h) == before, set(home_listing(h)) ^ set(before)
    assert sorted(p.name for p in h.repo.iterdir()) == repo_files
    assert not (h.home / "pwned.txt").exists() and not (wt / "pwned.txt").exists()


def test_decisions_on_symlinks_and_paths_outside_are_refused(
    setup: tuple[FleetCLI, LoopbackHost, Path, Path],
) -> None:
    """A patch naming a path outside the worktree (crafted, as a compromised client could
    send it to the helper) is refused: it is not in the fresh diff, and git apply would not
    leave the worktree anyway. The canary stays."""
    fleet, h, wt, canary = setup
    hostile_changes(h, wt, canary)
    data = diff_json(fleet)
    base = data["base"]
    patch = (
        "diff --git a/../../canary.txt b/../../canary.txt\n"
        "--- a/../../canary.txt\n+++ b/../../canary.txt\n@@ -1 +1 @@\n-canary\n+pwned\n"
    )
    request = {"op": "approve", "args": {"session": sid_of(fleet), "patch": patch}}
    out = helper_call(fleet, h, request)
    assert out["ok"] is False and out["error"]["kind"] in ("stale", "bad-request"), out
    request["op"] = "reject"
    out = helper_call(fleet, h, request)
    assert out["ok"] is False, out
    assert canary.read_bytes() == b"canary\n"
    assert base and (wt / "escape").is_symlink()


def sid_of(fleet: FleetCLI) -> str:
    return str(fleet.sessions()["alpha/d1"]["id"])


def helper_call(fleet: FleetCLI, h: LoopbackHost, request: dict[str, Any]) -> dict[str, Any]:
    helper = next((h.home / ".fleet").glob("helper-*.pyz"))
    proc = fleet.lf.run_as(
        "alpha", ["python3", str(helper)], input=json.dumps(request) + "\n", stdin=None
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
