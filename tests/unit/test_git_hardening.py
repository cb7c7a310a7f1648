"""fleet's own git on a host runs no program a repository the agent writes names, and follows no
git pointer the agent can rewrite (the host helper's functions called directly, no sandbox).

The session here is a shared one (a linked worktree of the person's repository, as a session
without a sandbox has): its git dir's config.worktree is read by git (the repository has
extensions.worktreeConfig, as sparse checkouts do), so every config-driven program the agent
names there reaches fleet's git, and only the -c overrides stand in the way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.core import review
from fleet.core.remote.hostside import (
    checkpoints,
    gitops,
    journal,
    layout,
    sessionrepo,
)
from fleet.core.remote.hostside import review as hostside
from fleet.core.remote.hostside.layout import HelperError
from tests.localgit import GIT_ENV, git

SID = "abcdefgh"
HOOKS = (
    "pre-commit",
    "commit-msg",
    "post-commit",
    "pre-push",
    "post-checkout",
    "reference-transaction",
    "post-index-change",
    "pre-auto-gc",
)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(layout, "SESSIONS", str(tmp_path / "sessions"))
    monkeypatch.setattr(layout, "WORKTREES", str(tmp_path / "worktrees"))
    monkeypatch.setattr(checkpoints, "TMP_DIR", str(tmp_path / "tmp"))
    for name in ("JOURNAL", "ROTATED", "LOCK"):
        path = getattr(journal, name)
        monkeypatch.setattr(journal, name, str(tmp_path / path.rsplit("/", 1)[-1]))
    monkeypatch.setattr(journal, "_writer", None)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    yield tmp_path


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def hostile_config(root: Path, marker: Path) -> str:
    """What an agent would write into a config git reads: a program for everything."""
    evil = root / "evil"
    (evil / "hooks").mkdir(parents=True)
    program, passes = evil / "run.sh", evil / "filter.sh"
    executable(program, f'#!/bin/sh\necho "$0 $*" >> {marker}\nexit 0\n')
    executable(passes, f'#!/bin/sh\necho "$0 $*" >> {marker}\nexec cat\n')
    for hook in HOOKS:
        executable(evil / "hooks" / hook, program.read_text())
    return (
        f"[core]\n\thooksPath = {evil}/hooks\n\tfsmonitor = {program}\n\tpager = {program}\n"
        f"\tsshCommand = {program}\n\teditor = {program}\n\taskPass = {program}\n"
        f'[filter "evil"]\n\tclean = {passes}\n\tsmudge = {passes}\n\trequired = true\n'
        f'[filter "Evil.Two"]\n\tprocess = {program}\n'
        f'[diff "evil"]\n\ttextconv = {program}\n\tcommand = {program}\n'
        f"[diff]\n\texternal = {program}\n"
        f'[merge "evil"]\n\tdriver = {program}\n'
        f"[credential]\n\thelper = {program}\n"
        f"[gpg]\n\tprogram = {program}\n[commit]\n\tgpgSign = true\n"
        f"[maintenance]\n\tauto = true\n[gc]\n\tauto = 1\n"
    )


class Session:
    """The person's repository, with a session made by the helper and a hostile config."""

    def __init__(self, root: Path) -> None:
        self.repo = root / "repo"
        self.repo.mkdir()
        git(self.repo, "init", "-q", "-b", "main")
        (self.repo / "notes.txt").write_text("".join(f"line {i}\n" for i in range(1, 41)))
        git(self.repo, "add", "-A")
        git(self.repo, "commit", "-q", "-m", "init")
        git(self.repo, "config", "extensions.worktreeConfig", "true")
        self.origin = root / "origin.git"
        git(root, "init", "-q", "--bare", str(self.origin))
        git(self.repo, "remote", "add", "origin", str(self.origin))
        base = git(self.repo, "rev-parse", "HEAD").decode().strip()
        self.wt = Path(layout.WORKTREES) / "x"
        os.makedirs(layout.WORKTREES)
        os.makedirs(layout.session_dir(SID))
        record = sessionrepo.create(str(self.repo), str(self.wt), "fleet/x", base, SID, False)
        self.meta: dict[str, Any] = {
            "id": SID,
            "name": "x",
            "worktree": str(self.wt),
            "base_sha": base,
            "branch": "fleet/x",
            "repo": str(self.repo),
            "git": record,
        }
        layout.write_json(os.path.join(layout.session_dir(SID), "meta.json"), self.meta)
        self.gitdir = Path(record["gitdir"])
        self.marker = root / "ran"
        (self.gitdir / "config.worktree").write_text(hostile_config(self.gitdir, self.marker))
        (self.wt / "b.bin").write_text("x\n")
        (self.wt / ".gitattributes").write_text(
            "* filter=evil diff=evil merge=evil\n*.bin filter=Evil.Two\n"
        )

    def ran(self) -> str:
        return self.marker.read_text() if self.marker.exists() else ""

    def diff(self) -> review.Diff:
        data = hostside.op_diff({"session": SID})
        return review.parse(data["text"], data["base"], data["approved"])


def test_the_hostile_config_runs_its_programs_in_plain_git(host: Path) -> None:
    """The control: without fleet's hardening, the same repository runs the agent's program."""
    s = Session(host)
    (s.wt / "notes.txt").write_text("changed\n")
    git(s.wt, "diff", "--stat", env={"HOME": str(host / "home")})
    assert s.ran(), "the test's hostile config ran nothing: it proves nothing"


def test_fleets_git_runs_no_program_the_agents_config_names(host: Path) -> None:
    s = Session(host)
    text = (s.wt / "notes.txt").read_text().replace("line 3\n", "line 3, new\n")
    (s.wt / "notes.txt").write_text(text.replace("line 30\n", "line 30, new\n"))
    repo = sessionrepo.open_repo(s.meta)
    stat_ = gitops.diffstat(repo, s.meta["base_sha"])
    assert stat_["files"] >= 3
    checkpoints.create(s.meta, "by hand")
    d = s.diff()
    notes = [h for f in d.files if f.path == "notes.txt" for h in f.hunks]
    assert len(notes) == 2
    args = {"session": SID, "patch": d.patch(notes[:1]), "expect": [notes[0].fingerprint]}
    hostside.op_approve(args)
    d = s.diff()
    rest = [h for f in d.files if f.path == "notes.txt" for h in f.hunks if not h.approved]
    hostside.op_reject({"session": SID, "patch": d.patch(rest), "note": "no"})
    hostside.op_approve({"session": SID, "commit": True, "message": "take line 3"})
    hostside.op_undo({"session": SID})
    hostside.op_approve({"session": SID, "commit": True, "message": "take line 3"})
    checkpoints.rewind(s.meta, 1)
    pushed = hostside.op_push({"session": SID})
    assert pushed["pushed"] == "fleet/x"
    assert sessionrepo.op_land({"session": SID})["landed"] is False  # shared: already there
    assert s.ran() == "", "fleet's git ran a program the agent's config names"
    # The commit is fleet's, unsigned, on the branch; the origin got it.
    log = git(s.repo, "log", "-1", "--format=%s %G?", "fleet/x").decode().strip()
    assert log == "take line 3 N"
    assert git(s.origin, "rev-parse", "fleet/x") == git(s.repo, "rev-parse", "fleet/x")


def test_inherited_git_variables_do_not_redirect_fleets_git(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Session(host)
    (s.wt / "notes.txt").write_text("changed\n")
    monkeypatch.setenv("GIT_DIR", str(host / "nowhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(host / "nowhere-index"))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", str(s.gitdir / "evil" / "run.sh"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='%s'" % (host / "x"))
    assert gitops.diffstat(sessionrepo.open_repo(s.meta), s.meta["base_sha"])["files"] >= 1
    assert "changed" in s.diff().patch(s.diff().hunks)
    assert s.ran() == ""


@pytest.mark.parametrize("pointer", ["commondir", "gitdir", "worktree .git"])
def test_a_changed_git_pointer_stops_every_git_call_with_a_clear_error(
    host: Path, pointer: str
) -> None:
    s = Session(host)
    fake = host / "fake"
    fake.mkdir()
    path = s.wt / ".git" if pointer == "worktree .git" else s.gitdir / pointer
    path.write_text(f"gitdir: {fake}\n" if pointer == "worktree .git" else f"{fake}\n")
    calls = [
        lambda: sessionrepo.open_repo(s.meta),
        lambda: hostside.op_diff({"session": SID}),
        lambda: hostside.op_approve({"session": SID, "commit": True, "message": "m"}),
        lambda: hostside.op_reject({"session": SID, "patch": "x"}),
        lambda: hostside.op_push({"session": SID}),
        lambda: checkpoints.op_checkpoint({"session": SID}),
        lambda: sessionrepo.op_land({"session": SID}),
    ]
    for call in calls:
        with pytest.raises(HelperError) as err:
            call()
        assert err.value.kind == "tampered", err.value.message
        assert str(path) in err.value.message and "was changed" in err.value.message
    assert s.ran() == ""


def test_a_plain_path_in_fleets_own_directories_is_refused(host: Path) -> None:
    s = Session(host)
    with pytest.raises(HelperError) as err:
        gitops.run(str(s.wt), "status")
    assert err.value.kind == "internal"
    with pytest.raises(HelperError) as err:
        gitops.repo_root(str(s.wt))
    assert err.value.kind == "bad-request" and "fleet's own directories" in err.value.message


def test_every_named_driver_is_turned_off_and_an_unnameable_one_refused() -> None:
    names = [
        "filter.lfs.clean",
        "filter.lfs.smudge",
        "filter.a.b.process",
        "diff.pdf.textconv",
        "merge.ours.driver",
        "core.fsmonitor",
        "diff.external",
        "user.name",
    ]
    got = dict(gitops.driver_overrides(names))
    assert got == {
        "filter.lfs.clean": "",
        "filter.lfs.smudge": "",
        "filter.lfs.process": "",
        "filter.lfs.required": "false",
        "filter.a.b.clean": "",
        "filter.a.b.smudge": "",
        "filter.a.b.process": "",
        "filter.a.b.required": "false",
        "diff.pdf.textconv": "",
        "diff.pdf.command": "",
        "merge.ours.driver": "",
    }
    with pytest.raises(HelperError) as err:
        gitops.driver_overrides(["filter.a=b.clean"])
    assert err.value.kind == "unsafe-config"


def test_the_forced_settings_cover_every_program_git_would_start() -> None:
    keys = {k.lower() for k, _ in gitops.FORCED + gitops.NO_TRANSPORT}
    for key in (
        "core.hookspath",
        "core.fsmonitor",
        "core.pager",
        "core.editor",
        "sequence.editor",
        "diff.external",
        "submodule.recurse",
        "protocol.ext.allow",
        "core.alternaterefscommand",
        "uploadpack.packobjectshook",
        "commit.gpgsign",
        "gpg.program",
        "gpg.ssh.program",
        "core.sshcommand",
        "core.askpass",
        "credential.helper",
        "maintenance.auto",
        "gc.auto",
    ):
        assert key in keys, key
