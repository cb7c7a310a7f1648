"""Removing a session from this host for good (`fleet rm`): its tmux session, its worktree, its
branch fleet/NAME and its directory, so that it is gone, not stale.

`held` says what removing it would throw away: the branch's commit and which other refs of the
person's repository hold it (another branch, a pushed remote-tracking branch, a tag). The laptop
adds what only it knows (a local clone the branch was landed into) and asks `remove` only when
nothing would be lost, naming the commit it checked: a branch that moved since is refused.

Runs on the hosts: stdlib only, Python 3.8.
"""

from __future__ import annotations

import os
import shutil

from . import gitops, sessionrepo, sessions, tmux
from .layout import HelperError, check_id, session_dir, session_lock, tmux_name


def _tip(meta: dict) -> str:
    """The session's branch as the session has it (its own repository for a private layout),
    or as the person's repository has it when the worktree is already gone."""
    ref = "refs/heads/" + meta["branch"]
    try:
        return sessionrepo.tip(sessionrepo.open_repo(meta), ref)
    except HelperError as exc:
        if exc.kind != "not-found":
            raise
    return sessionrepo.tip(sessionrepo.shared(meta), ref)


def _holders(meta: dict, commit: str) -> list:
    """The refs of the person's repository other than the session's branch that contain
    `commit` (none when it does not even have the commit)."""
    person = sessionrepo.shared(meta)
    proc = gitops.run(
        person, "for-each-ref", "--contains", commit, "--format=%(refname)",
        "refs/heads", "refs/remotes", "refs/tags", check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return []
    own = "refs/heads/" + meta["branch"]
    names = proc.stdout.decode("utf-8", "replace").splitlines()
    return [n for n in names if n and n != own][:20]


def op_held(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    meta = sessions.load_meta(session_id)
    commit = _tip(meta)
    base = meta.get("base_sha") or ""
    return {
        "branch": meta["branch"],
        "commit": commit,
        "base_sha": base,
        # The branch never moved from its base: removing it loses no commit.
        "at_base": bool(commit) and commit == base,
        "held_by": _holders(meta, commit) if commit else [],
    }


def op_remove(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    expect = sessions.string_arg(args, "commit", "")
    force = args.get("force") is True
    meta = sessions.load_meta(session_id)
    with session_lock(session_id, "review"):
        commit = _tip(meta)
        if commit != expect and not force:
            raise HelperError(
                "moved",
                "%s moved since it was checked (it is at %s now): nothing was removed; "
                "look again" % (meta["branch"], commit[:12] or "nothing"),
            )
        # Stopped first (recorded, so the watcher does not read it as a failure).
        sessions.op_stop({"session": session_id})
        tmux.kill(tmux_name(session_id))
        _remove_worktree(meta, commit, force)
        shutil.rmtree(session_dir(session_id), ignore_errors=True)
    return {"id": session_id, "branch": meta["branch"], "commit": commit, "removed": True}


def _remove_worktree(meta: dict, commit: str, force: bool) -> None:
    """The worktree and the branch in the person's repository (unless forced, only while the
    branch there is within the commit checked: what moved it elsewhere was not checked)."""
    record = sessionrepo.record_of(meta)
    person = sessionrepo.shared(meta)
    worktree = meta["worktree"]
    if record["layout"] == sessionrepo.SHARED and os.path.isdir(worktree):
        gitops.run(person, "worktree", "remove", "--force", "--", worktree, check=False)
    shutil.rmtree(worktree, ignore_errors=True)
    gitops.run(person, "worktree", "prune", check=False)
    ref = "refs/heads/" + meta["branch"]
    there = sessionrepo.tip(person, ref)
    if not there:
        return
    within = there in (commit, meta.get("base_sha")) or (
        bool(commit)
        and gitops.run(person, "merge-base", "--is-ancestor", there, commit, check=False).returncode
        == 0
    )
    if within or force:
        gitops.run(person, "update-ref", "-d", ref, there, check=False)
