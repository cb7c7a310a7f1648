"""git on the host: worktrees for sessions and cheap diff stats. Always argv lists."""

from __future__ import annotations

import os
import subprocess

from .layout import HelperError


def git(repo: str, *args: str, check: bool = True, timeout: float = 60) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", repo, *args],
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise HelperError("missing-tool", "git is not installed on this host") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HelperError("git", "git %s failed: %s" % (args[0], err or proc.returncode))
    return proc.stdout.decode("utf-8", "replace")


def repo_root(path: str) -> str:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise HelperError("not-found", "repository %s does not exist on this host" % path)
    try:
        return git(path, "rev-parse", "--show-toplevel").strip()
    except HelperError:
        raise HelperError("not-a-repo", "%s is not a git repository" % path) from None


def resolve(repo: str, ref: str) -> str:
    if ref.startswith("-"):
        raise HelperError("bad-request", "invalid base ref %r" % ref)
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", ref + "^{commit}").strip()
    except HelperError:
        raise HelperError("not-found", "base ref %r not found in %s" % (ref, repo)) from None


def add_worktree(repo: str, path: str, branch: str, base_sha: str) -> None:
    if git(repo, "branch", "--list", branch).strip():
        raise HelperError(
            "exists", "branch %s already exists in %s: choose another --name" % (branch, repo)
        )
    git(repo, "worktree", "add", "-b", branch, "--", path, base_sha)


def diffstat(worktree: str, base: str) -> dict:
    """Lines added/removed and files changed against the base, untracked files included.

    Reads only: the agent's index and files are never touched.
    """
    added = removed = files = 0
    out = git(worktree, "diff", "--numstat", "-z", base, "--", check=False, timeout=20)
    records = out.split("\0")
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if not rec:
            continue
        parts = rec.split("\t")
        if len(parts) < 3:
            continue
        if parts[2] == "":
            i += 2  # a rename: the old and new paths follow as their own records
        files += 1
        if parts[0].isdigit():
            added += int(parts[0])
        if parts[1].isdigit():
            removed += int(parts[1])
    untracked = git(
        worktree, "ls-files", "--others", "--exclude-standard", "-z", check=False, timeout=20
    )
    for rel in untracked.split("\0"):
        if not rel:
            continue
        files += 1
        added += _count_lines(os.path.join(worktree, rel))
    return {"added": added, "removed": removed, "files": files}


def _count_lines(path: str, limit: int = 8 * 1024 * 1024) -> int:
    try:
        if os.path.islink(path) or os.path.getsize(path) > limit:
            return 0
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    if b"\0" in data[:8000]:
        return 0  # binary
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def version() -> str:
    try:
        proc = subprocess.run(["git", "--version"], capture_output=True, timeout=10)
    except FileNotFoundError:
        return ""
    return proc.stdout.decode("utf-8", "replace").strip()
