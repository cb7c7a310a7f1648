"""The git that review runs on a session's worktree: the diff, applying patches, the index.

Every call goes through gitops.run (argv only, hardened, never prompting). The diff is made
to read the same whatever the person's git config says, in the format difftext.py splits.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from . import checkpoints, gitops
from .layout import HelperError

GIT_TIMEOUT = 300
# The diff must read the same whatever the person's git config says.
DIFF_CONFIG = (
    "-c",
    "core.quotepath=off",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.suppressBlankEmpty=false",
    "-c",
    "diff.relative=false",
    "-c",
    "color.ui=false",
)
DIFF_ARGS = (
    "--binary",
    "--full-index",
    "--no-renames",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "-U3",
)


def git(worktree: str, *args: str, env=None, input_bytes=None, check: bool = True):
    return gitops.run(
        worktree, *args, env=env, input_bytes=input_bytes, check=check, timeout=GIT_TIMEOUT
    )


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# -- diffs ----------------------------------------------------------------------------------


def _diff_cached(worktree: str, against: str, index: Optional[str]) -> str:
    env = {"GIT_OPTIONAL_LOCKS": "0"}
    if index:
        env["GIT_INDEX_FILE"] = index
    args = [*DIFF_CONFIG, "diff", "--cached", *DIFF_ARGS, against, "--"]
    return decode(git(worktree, *args, env=env).stdout)


def worktree_diff(worktree: str, against: str) -> str:
    """The worktree's files (untracked included) against a commit; the real index untouched."""
    with checkpoints._temp_index(worktree, copy_real=True) as index:
        git(worktree, "add", "-A", "--", ".", env={"GIT_INDEX_FILE": index})
        return _diff_cached(worktree, against, index)


def index_diff(worktree: str, against: str) -> str:
    """The agent's real index against a commit: what is approved (staged)."""
    return _diff_cached(worktree, against, None)


# -- the worktree's state -------------------------------------------------------------------


def real_index(worktree: str) -> str:
    out = git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").stdout
    return decode(out).strip()


def head(worktree: str) -> str:
    proc = git(worktree, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return decode(proc.stdout).strip() if proc.returncode == 0 else ""


def on_branch(meta: dict) -> None:
    proc = git(meta["worktree"], "symbolic-ref", "-q", "HEAD", check=False)
    if decode(proc.stdout).strip() != "refs/heads/" + meta["branch"]:
        raise HelperError(
            "branch",
            "the worktree is not on %s any more (the agent switched branches): nothing was "
            "committed" % meta["branch"],
        )


def nothing_staged(worktree: str) -> bool:
    return git(worktree, "diff", "--cached", "--quiet", check=False).returncode == 0


# -- changing it ----------------------------------------------------------------------------


def apply(worktree: str, patch: str, *flags: str) -> None:
    git(worktree, "apply", "--whitespace=nowarn", *flags, "-", input_bytes=encode(patch))


def apply_problem(worktree: str, patch: str, *flags: str) -> str:
    """Why the patch would not apply ("" when it would); nothing is changed."""
    args = ("apply", "--check", "--whitespace=nowarn", *flags, "-")
    proc = git(worktree, *args, input_bytes=encode(patch), check=False)
    return "" if proc.returncode == 0 else decode(proc.stderr).strip()


def _identity(worktree: str) -> dict:
    env = {}
    for key, var in (("user.name", "NAME"), ("user.email", "EMAIL")):
        proc = git(worktree, "config", key, check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            for who in ("AUTHOR", "COMMITTER"):
                env["GIT_%s_%s" % (who, var)] = checkpoints.IDENTITY["GIT_AUTHOR_" + var]
    return env


def commit(worktree: str, message: str) -> str:
    """Commit the index (as the person, or as fleet when git knows no one); the new HEAD."""
    git(
        worktree,
        "commit",
        "--no-verify",
        "-q",
        "-F",
        "-",
        env=_identity(worktree),
        input_bytes=encode(message.strip() + "\n"),
    )
    return head(worktree)


def restore_index(worktree: str, saved: Optional[str], paths: List[str]) -> None:
    """The index entries of `paths` as they were in the saved copy of the index (none there:
    removed)."""
    entries: Dict[str, str] = {}
    if saved and os.path.exists(saved):
        env = {"GIT_INDEX_FILE": saved}
        spec = [p for p in paths]
        out = git(worktree, "ls-files", "-s", "-z", "--", *spec, env=env).stdout
        for rec in decode(out).split("\0"):
            if "\t" in rec:
                info, path = rec.split("\t", 1)
                entries.setdefault(path, "")
                entries[path] += info + "\t" + path + "\0"
    feed = []
    for path in paths:
        feed.append("0 %s\t%s\0" % ("0" * 40, path))  # remove, then put back what was there
        if path in entries:
            feed.append(entries[path])
    git(worktree, "update-index", "-z", "--index-info", input_bytes=encode("".join(feed)))


def restore_files(worktree: str, tree: str, paths: List[str]) -> None:
    """The files of `paths` as they are in `tree` (not in it: deleted)."""
    out = git(worktree, "ls-tree", "-r", "-z", "--name-only", tree, "--", *paths).stdout
    present = [p for p in decode(out).split("\0") if p]
    gone = [p for p in paths if p not in set(present)]
    checkpoints._remove(worktree, gone)
    if present:
        with checkpoints._temp_index(worktree, copy_real=False) as index:
            env = {"GIT_INDEX_FILE": index}
            git(worktree, "read-tree", tree, env=env)
            feed = encode("".join(p + "\0" for p in present))
            git(worktree, "checkout-index", "-f", "-z", "--stdin", env=env, input_bytes=feed)
