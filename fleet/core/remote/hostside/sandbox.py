"""An agent profile's `sandbox`: the wrapper its command runs inside, as argv, never a shell line.

The profile gives shell words (split by the client, checked by both sides with check_words);
each placeholder is replaced inside its word by a plain string substitution, so a path with
spaces or quotes stays one argument and nothing is ever read by a shell. A sandboxed session
works in a repository of its own (sessionrepo.py: its objects, its branch, its worktree's git
dir), and the values come from fleet's record of it, never from files the agent can write:

    {worktree}   the session's worktree (the only tree the agent should write)
    {gitdir}     the worktree's git directory (HEAD, index; its `commondir` and `gitdir`
                 pointer files must stay read-only)
    {commondir}  the session's own repository (~/.fleet/sessions/<id>/repo: objects, refs)
    {refdir}     the directory holding the session's branch (<commondir>/refs/heads/fleet)
    {logdir}     the directory holding the branch's reflog (<commondir>/logs/refs/heads/fleet)
    {repogit}    the main checkout's git directory (<repo>/.git), whose objects and config the
                 session's repository borrows: read-only
    {branch}     the session's branch, fleet/<name>
    {repo}       the repository's main checkout
    {home}       the host user's home
    {session}    the session id

Runs on the hosts: stdlib only, Python 3.8.
"""

from __future__ import annotations

import os
import re
import shutil

PLACEHOLDERS = (
    "worktree",
    "gitdir",
    "commondir",
    "branch",
    "refdir",
    "logdir",
    "repogit",
    "repo",
    "home",
    "session",
)
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_words(words: object) -> str:
    """What is wrong with `words` as a sandbox argv template; the empty string if nothing."""
    if not isinstance(words, list) or not words:
        return "expected a non-empty list of words"
    for word in words:
        if not isinstance(word, str):
            return "every word must be a string"
        if "\0" in word:
            return "a word contains a NUL character"
        for name in _PLACEHOLDER_RE.findall(word):
            if name not in PLACEHOLDERS:
                known = ", ".join("{%s}" % p for p in PLACEHOLDERS)
                return "unknown placeholder {%s} (known: %s)" % (name, known)
    if not words[0].strip() or _PLACEHOLDER_RE.search(words[0]):
        return "the first word must name the wrapper program (bwrap, podman, docker ...)"
    return ""


def expand(words: list, values: dict) -> list:
    """The template with each placeholder replaced by its value, word by word."""
    return [_PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], word) for word in words]


def values_for(meta: dict) -> dict:
    """The placeholder values for a session, from its meta.json (a sandboxed session's layout
    record is always a private repository's: see sessions.op_new and op_resume)."""
    record = meta.get("git")
    if not isinstance(record, dict) or record.get("layout") != "private":
        raise ValueError("session %s has no repository of its own to sandbox" % meta.get("id"))
    commondir = record["commondir"]
    branch = meta["branch"]
    parent = os.path.dirname(branch)  # "fleet" for fleet/<name>
    return {
        "worktree": meta["worktree"],
        "gitdir": record["gitdir"],
        "commondir": commondir,
        "branch": branch,
        "refdir": os.path.join(commondir, "refs", "heads", parent),
        "logdir": os.path.join(commondir, "logs", "refs", "heads", parent),
        "repogit": record["shared"],
        "repo": meta["repo"],
        "home": os.path.expanduser("~"),
        "session": meta["id"],
    }


def prepare(values: dict) -> None:
    """Make the branch's ref and reflog directories exist: a sandbox can bind only what exists,
    and git cannot create them inside a read-only refs/ (they go after `git pack-refs`)."""
    for key in ("refdir", "logdir"):
        os.makedirs(values[key], mode=0o755, exist_ok=True)


def missing_program(words: list) -> str:
    """The wrapper program when it is not installed here, else ""."""
    program = words[0]
    if os.sep in program:
        return "" if os.access(program, os.X_OK) else program
    return "" if shutil.which(program) else program
