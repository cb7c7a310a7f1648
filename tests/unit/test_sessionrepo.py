"""A sandboxed session's repository of its own (the host helper's sessionrepo, no sandbox): what
the agent writes stays there, the person's repository stays whole, and work reaches it only
hashed again, forward only, when the person lands it."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.core.remote.hostside import checkpoints, gitops, layout, sandbox, sessionrepo
from fleet.core.remote.hostside.layout import HelperError
from tests.localgit import GIT_ENV, git

SID = "abcdefgh"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(layout, "SESSIONS", str(tmp_path / "sessions"))
    monkeypatch.setattr(layout, "WORKTREES", str(tmp_path / "worktrees"))
    monkeypatch.setattr(checkpoints, "TMP_DIR", str(tmp_path / "tmp"))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    os.makedirs(layout.WORKTREES)
    os.makedirs(layout.session_dir(SID))
    yield tmp_path


def person_repo(root: Path) -> tuple[Path, str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "notes.txt").write_text("one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    git(repo, "tag", "v1")
    return repo, git(repo, "rev-parse", "HEAD").decode().strip()


def session(root: Path, private: bool) -> dict[str, Any]:
    repo, base = person_repo(root)
    wt = os.path.join(layout.WORKTREES, "x")
    record = sessionrepo.create(str(repo), wt, "fleet/x", base, SID, private)
    meta = {
        "id": SID,
        "name": "x",
        "worktree": wt,
        "base_sha": base,
        "branch": "fleet/x",
        "repo": str(repo),
        "git": record,
    }
    layout.write_json(os.path.join(layout.session_dir(SID), "meta.json"), meta)
    return meta


def agent_git(meta: dict[str, Any], *args: str) -> str:
    """git as the agent runs it in its worktree: following the pointer files."""
    return git(Path(meta["worktree"]), *args).decode().strip()


def person_git(meta: dict[str, Any], *args: str) -> str:
    return git(Path(meta["repo"]), *args).decode().strip()


def forge(objects: str, oid: str, data: bytes) -> None:
    path = os.path.join(objects, oid[:2], oid[2:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(zlib.compress(b"blob %d\0" % len(data) + data))


def test_a_private_session_works_in_its_own_repository(host: Path) -> None:
    meta = session(host, private=True)
    own = meta["git"]["commondir"]
    assert own == os.path.realpath(sessionrepo.private_dir(SID))
    # The agent sees main and the tags, and commits to its branch there.
    assert agent_git(meta, "rev-parse", "main") == meta["base_sha"]
    assert agent_git(meta, "tag") == "v1"
    Path(meta["worktree"], "a.txt").write_text("agent\n")
    agent_git(meta, "add", "a.txt")
    agent_git(meta, "commit", "-q", "-m", "agent commit")
    # The person's repository: fleet/x at the base, no worktree of the session, whole.
    assert person_git(meta, "rev-parse", "fleet/x") == meta["base_sha"]
    assert "x" not in person_git(meta, "worktree", "list")
    assert person_git(meta, "fsck", "--no-progress") == ""
    person_git(meta, "gc", "-q")  # nothing there points at an object only the session has
    assert person_git(meta, "log", "--all", "--format=%s") == "init"
    # Checkpoints are the session repository's refs.
    made = checkpoints.create(meta, "by hand")
    ref = f"refs/fleet/checkpoints/{SID}/1"
    assert git(Path(own), "rev-parse", ref).decode().strip() == made["commit"]
    assert person_git(meta, "for-each-ref", "refs/fleet/") == ""
    values = sandbox.values_for(meta)
    assert values["commondir"] == own and values["repogit"] == meta["git"]["shared"]
    assert values["refdir"] == os.path.join(own, "refs", "heads", "fleet")


def test_landing_copies_the_branch_hashed_again_and_only_forward(host: Path) -> None:
    meta = session(host, private=True)
    Path(meta["worktree"], "a.txt").write_text("agent\n")
    agent_git(meta, "add", "a.txt")
    agent_git(meta, "commit", "-q", "-m", "agent commit")
    tip = agent_git(meta, "rev-parse", "HEAD")
    assert sessionrepo.op_land({"session": SID}) == {
        "branch": "fleet/x",
        "commit": tip,
        "landed": True,
    }
    assert person_git(meta, "rev-parse", "fleet/x") == tip
    assert person_git(meta, "show", "fleet/x:a.txt") == "agent"
    assert person_git(meta, "fsck", "--no-progress") == ""
    assert sessionrepo.op_land({"session": SID})["landed"] is False  # already there
    # An undone commit goes back, when the branch is still at it.
    sessionrepo.unland(meta, meta["base_sha"], tip)
    assert person_git(meta, "rev-parse", "fleet/x") == meta["base_sha"]
    sessionrepo.op_land({"session": SID})
    # The person moves the branch elsewhere: fleet does not move it over their commit.
    git(Path(meta["repo"]), "branch", "-f", "fleet/x", "main")
    git(Path(meta["repo"]), "checkout", "-q", "fleet/x")
    Path(meta["repo"], "b.txt").write_text("person\n")
    git(Path(meta["repo"]), "add", "b.txt")
    git(Path(meta["repo"]), "commit", "-q", "-m", "the person's")
    theirs = person_git(meta, "rev-parse", "fleet/x")
    with pytest.raises(HelperError) as err:
        sessionrepo.op_land({"session": SID})
    assert err.value.kind == "moved" and "moved outside fleet" in err.value.message
    assert person_git(meta, "rev-parse", "fleet/x") == theirs


def test_a_forged_object_never_reaches_the_persons_repository(host: Path) -> None:
    meta = session(host, private=True)
    own = Path(meta["git"]["commondir"]) / "objects"
    # A blob under a name that is not its content's hash, in a commit on the agent's branch.
    Path(meta["worktree"], "a.txt").write_text("honest\n")
    agent_git(meta, "add", "a.txt")
    agent_git(meta, "commit", "-q", "-m", "agent commit")
    blob = agent_git(meta, "rev-parse", "HEAD:a.txt")
    forge(str(own), blob, b"forged\n")
    # And main's own notes.txt, forged in the agent's store.
    notes = agent_git(meta, "rev-parse", "main:notes.txt")
    forge(str(own), notes, b"forged main\n")
    assert agent_git(meta, "show", "main:notes.txt") == "forged main"  # its own view only
    with pytest.raises(HelperError) as err:
        sessionrepo.op_land({"session": SID})
    assert err.value.kind == "unverified" and "nothing was copied" in err.value.message
    assert person_git(meta, "rev-parse", "fleet/x") == meta["base_sha"]
    assert person_git(meta, "show", "main:notes.txt") == "one"
    assert person_git(meta, "fsck", "--no-progress") == ""


def test_a_session_moves_into_its_own_repository_when_first_sandboxed(host: Path) -> None:
    meta = session(host, private=False)
    wt = Path(meta["worktree"])
    old_gitdir = meta["git"]["gitdir"]
    (wt / "a.txt").write_text("agent\n")
    agent_git(meta, "add", "a.txt")
    agent_git(meta, "commit", "-q", "-m", "agent commit")
    (wt / "notes.txt").write_text("staged\n")
    agent_git(meta, "add", "notes.txt")
    (wt / "new.txt").write_text("untracked\n")
    made = checkpoints.create(meta, "before the move")
    status = agent_git(meta, "status", "--porcelain")
    tip = agent_git(meta, "rev-parse", "HEAD")

    meta["git"] = sessionrepo.make_private(meta)
    assert meta["git"]["layout"] == "private"
    assert sessionrepo.make_private(meta) == meta["git"]  # once
    assert agent_git(meta, "status", "--porcelain") == status
    assert agent_git(meta, "rev-parse", "HEAD") == tip
    assert not os.path.exists(old_gitdir)
    assert person_git(meta, "rev-parse", "fleet/x") == tip  # what was there stays
    assert person_git(meta, "fsck", "--no-progress") == ""
    assert checkpoints.list_checkpoints(meta)[0]["commit"] == made["commit"]
    sandbox.values_for(meta)


def test_a_private_sessions_pointers_are_checked_too(host: Path) -> None:
    meta = session(host, private=True)
    sessionrepo.open_repo(meta)
    commondir = Path(meta["git"]["gitdir"]) / "commondir"
    commondir.write_text(str(host) + "\n")
    with pytest.raises(HelperError) as err:
        sessionrepo.open_repo(meta)
    assert err.value.kind == "tampered" and str(commondir) in err.value.message
    with pytest.raises(HelperError):
        sessionrepo.op_land({"session": SID})


def test_a_session_recorded_before_layouts_gets_one_from_the_main_checkout(host: Path) -> None:
    meta = session(host, private=False)
    legacy = {k: v for k, v in meta.items() if k != "git"}
    assert sessionrepo.record_of(legacy) == meta["git"]
    repo = sessionrepo.open_repo(legacy)
    assert gitops.git(repo, "rev-parse", "--show-toplevel").strip() == meta["worktree"]
    # Its git dir must be the main checkout's worktree, pointing back at it.
    Path(meta["git"]["gitdir"], "gitdir").write_text("/elsewhere/.git\n")
    with pytest.raises(HelperError) as err:
        sessionrepo.record_of(legacy)
    assert err.value.kind == "tampered"
