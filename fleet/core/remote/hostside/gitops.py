"""git on the host: worktrees for sessions and cheap diff stats. Always argv lists."""

from __future__ import annotations

import os
import subprocess

from .layout import HelperError

# Variables that would point git at another repository, index or object store than asked.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")
GIT_TIMEOUT = 120
# The agent can write a nested repository's config inside its worktree: never let git run a
# program named there (a sandboxed agent would escape through the helper's git calls).
_HARDENING = ("-c", "core.fsmonitor=false", "-c", "diff.ignoreSubmodules=all")


def run(
    repo: str,
    *args: str,
    env=None,
    input_bytes=None,
    check: bool = True,
    timeout: float = GIT_TIMEOUT,
):
    """git in `repo`, argv only, never prompting, paths literal; raises HelperError on failure."""
    full_env = {k: v for k, v in os.environ.items() if k not in _REDIRECTS}
    full_env["GIT_LITERAL_PATHSPECS"] = "1"
    full_env["GIT_TERMINAL_PROMPT"] = "0"
    full_env.update(env or {})
    try:
        proc = subprocess.run(
            ["git", "-C", repo, *_HARDENING, *args],
            input=input_bytes if input_bytes is not None else b"",
            capture_output=True,
            env=full_env,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise HelperError("missing-tool", "git is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise HelperError("git", "git %s took longer than %d s" % (args[0], timeout)) from None
    if check and proc.returncode != 0:
        name = next((a for a in args if not a.startswith("-") and "=" not in a), "")
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise HelperError("git", "git %s failed: %s" % (name, err or proc.returncode))
    return proc


def git(repo: str, *args: str, check: bool = True, timeout: float = 60) -> str:
    return run(repo, *args, check=check, timeout=timeout).stdout.decode("utf-8", "replace")


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


def _numstat(worktree: str, *args: str) -> tuple:
    """(added, removed, files) of a `git diff --numstat` against what `args` name."""
    added = removed = files = 0
    out = git(worktree, "diff", "--numstat", "-z", *args, "--", check=False, timeout=20)
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
    return added, removed, files


def diffstat(worktree: str, base: str) -> dict:
    """Lines added/removed and files changed against the base, untracked files included, and
    how many of those lines are approved (staged in the index).

    Reads only: the agent's index and files are never touched.
    """
    added, removed, files = _numstat(worktree, base)
    staged_added, staged_removed, _ = _numstat(worktree, "--cached", base)
    untracked = git(
        worktree, "ls-files", "--others", "--exclude-standard", "-z", check=False, timeout=20
    )
    for rel in untracked.split("\0"):
        if not rel:
            continue
        files += 1
        added += _count_lines(os.path.join(worktree, rel))
    approved = staged_added + staged_removed
    return {"added": added, "removed": removed, "files": files, "approved": approved}


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
