"""The host helper's checkpoint plumbing against a real git worktree in a temp directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.core.remote.hostside import checkpoints, layout
from fleet.core.remote.hostside.layout import HelperError
from tests import localgit

SID = "abcdefgh"


def git(cwd: Path, *args: str) -> str:
    return localgit.git(cwd, *args).decode()


@pytest.fixture
def meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(layout, "SESSIONS", str(tmp_path / "sessions"))
    monkeypatch.setattr(checkpoints, "TMP_DIR", str(tmp_path / "tmp"))
    (tmp_path / "sessions" / SID).mkdir(parents=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "b.txt").write_text("bee\n")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "fleet/x", str(worktree), base)
    return {"id": SID, "name": "x", "worktree": str(worktree), "base_sha": base, "repo": str(repo)}


def state(wt: Path) -> tuple[str, str, str]:
    return (
        git(wt, "status", "--porcelain", "--untracked-files=all"),
        git(wt, "ls-files", "--stage", "--debug"),
        git(wt, "diff", "--cached"),
    )


def files(wt: Path) -> dict[str, str]:
    return {
        str(p.relative_to(wt)): p.read_text()
        for p in sorted(wt.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_checkpoint_captures_edits_and_untracked_files_without_touching_the_index(
    meta: dict[str, Any],
) -> None:
    wt = Path(meta["worktree"])
    (wt / "a.txt").write_text("one\ntwo\n")
    (wt / "new.txt").write_text("fresh\n")
    (wt / "build.log").write_text("ignored\n")
    (wt / "sub" / "b.txt").write_text("staged\n")
    git(wt, "add", "sub/b.txt")
    before = state(wt)

    made = checkpoints.create(meta, "first\nline\x1b[31m")
    assert made["created"] and made["n"] == 1
    assert made["reason"] == "first line [31m"
    assert state(wt) == before  # status, index (stat data included) and staged diff unchanged
    tree = git(wt, "ls-tree", "-r", "--name-only", made["commit"]).split()
    assert sorted(tree) == [".gitignore", "a.txt", "new.txt", "sub/b.txt"]
    assert git(wt, "show", f"{made['commit']}:a.txt") == "one\ntwo\n"
    assert git(wt, "rev-parse", f"{made['commit']}^") == git(wt, "rev-parse", "HEAD")

    again = checkpoints.create(meta, "nothing changed")
    assert not again["created"] and again["n"] == 1
    listed = checkpoints.list_checkpoints(meta)
    assert [c["n"] for c in listed] == [1]
    assert listed[0]["reason"] == "first line [31m"
    assert listed[0]["changes"] == {"files": 3, "added": 3, "removed": 1}
    assert not list(Path(checkpoints.TMP_DIR).iterdir()), "temp index left behind"


def test_rewind_restores_files_and_checkpoints_the_current_state_first(
    meta: dict[str, Any],
) -> None:
    wt = Path(meta["worktree"])
    (wt / "a.txt").write_text("v1\n")
    (wt / "kept.txt").write_text("kept\n")
    one = checkpoints.create(meta, "one")
    snapshot = files(wt)

    (wt / "a.txt").write_text("v2\n")
    (wt / "kept.txt").unlink()
    (wt / "sub" / "b.txt").unlink()
    (wt / "deep" / "er").mkdir(parents=True)
    (wt / "deep" / "er" / "new.txt").write_text("later\n")
    (wt / "later.log").write_text("ignored stays\n")
    head = git(wt, "rev-parse", "HEAD")
    index = git(wt, "ls-files", "--stage")
    later = files(wt)

    result = checkpoints.rewind(meta, one["n"])
    assert result["exact"]
    assert result["before"]["n"] == 2 and result["before"]["reason"] == "before rewind to 1"
    assert (result["restored"], result["removed"]) == (3, 1)
    assert files(wt) == {**snapshot, "later.log": "ignored stays\n"}
    assert not (wt / "deep").exists(), "emptied directories are removed"
    assert git(wt, "rev-parse", "HEAD") == head
    assert git(wt, "ls-files", "--stage") == index

    back = checkpoints.rewind(meta, 2)  # the state before the rewind comes back
    assert back["exact"] and back["before"]["n"] == 3
    assert files(wt) == later

    with pytest.raises(HelperError, match="no checkpoint 9"):
        checkpoints.rewind(meta, 9)


def test_schedule_waits_for_a_change_and_the_interval(
    meta: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoints, "every_from_settings", lambda: 100.0)
    wt = Path(meta["worktree"])
    schedule = checkpoints.Schedule()
    stat = {"added": 0, "removed": 0, "files": 0}
    assert schedule.tick(meta, stat, 1000.0) is None  # the baseline
    assert schedule.tick(meta, stat, 2000.0) is None  # no change
    (wt / "n.txt").write_text("x\n")
    changed = {"added": 1, "removed": 0, "files": 1}
    event = schedule.tick(meta, changed, 2001.0)
    assert event == {"type": "checkpoint", "session": SID, "n": 1}
    (wt / "n.txt").write_text("x\ny\n")
    more = {"added": 2, "removed": 0, "files": 1}
    assert schedule.tick(meta, more, 2050.0) is None  # too soon
    assert schedule.tick(meta, more, 2102.0) == {"type": "checkpoint", "session": SID, "n": 2}
