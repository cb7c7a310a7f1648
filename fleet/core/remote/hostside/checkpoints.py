"""Checkpoints: snapshots of a session's worktree, kept as git commits, and rewinding to one.

A checkpoint is a commit whose tree is the worktree's files as they were (tracked edits and
untracked files; ignored files are not part of it), whose parent is the worktree's HEAD at the
time, made by "fleet", and kept under refs/fleet/checkpoints/<session id>/<n> (n = 1, 2, ...).
Those refs live in the session's repository (sessionrepo.py), so `git gc` keeps them, and they
outlive the tmux server and the watcher: for a session without a sandbox, the person's
repository (they outlive fleet's own files too); for a sandboxed one, its own repository in
~/.fleet/sessions/<id>/repo, where the agent cannot write refs/fleet/ (taking one is a read of
the agent's work: nothing enters the person's repository).

Taking one never touches the agent: the tree is built in a temporary copy of the worktree's
index (~/.fleet/tmp/), so the agent's index, its files, HEAD and its branch stay exactly as they
were (`git status` and `git diff --cached` read the same before and after). A checkpoint
whose tree equals the last one's is not made twice: the last one is returned.

Rewinding to checkpoint N first checkpoints the current state ("before rewind to N", so the
person can come back), then makes the worktree's FILES equal N's tree: files that differ are
rewritten from N, files N does not have (tracked or untracked, not ignored) are deleted, and
directories left empty by that are removed. HEAD, the branch and the agent's index are never
touched, and ignored files stay (they were never in a checkpoint): afterwards `git status`
shows the rewound files as changes against HEAD, exactly what a person expects after putting
files back, and anything staged (approved hunks) stays staged. Nothing is lost: every state
that was rewound away is itself a checkpoint, and commits stay on the branch.

The watcher takes scheduled checkpoints (`Schedule`): for a session whose diff stat changed
since its last checkpoint, at most every `checkpoint_every` seconds (600 by default; set it per
host in ~/.fleet/settings.json, e.g. {"checkpoint_every": 300}; 0 or less turns them off).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from typing import Optional

from . import gitops, layout, protocol, sessionrepo
from .layout import BASE, HelperError, check_id, read_json
from .sessions import load_meta

REF_PREFIX = "refs/fleet/checkpoints/"
TMP_DIR = os.path.join(BASE, "tmp")
SETTINGS = os.path.join(BASE, "settings.json")
DEFAULT_EVERY = 600.0
SETTINGS_EVERY = 5.0  # the watcher re-reads settings.json at most this often
GIT_TIMEOUT = 300
MAX_PATHS = 100  # paths named in a rewind's answer (the counts are always complete)
# Checkpoints are fleet's commits, whoever the host's git thinks the user is (or if unset).
IDENTITY = {
    "GIT_AUTHOR_NAME": "fleet",
    "GIT_AUTHOR_EMAIL": "fleet@localhost",
    "GIT_COMMITTER_NAME": "fleet",
    "GIT_COMMITTER_EMAIL": "fleet@localhost",
}
_GITLINK = "160000"
_FORMAT = "%(refname)%00%(objectname)%00%(tree)%00%(committerdate:unix)%00%(contents)%1e"
_CHANGES_RE = re.compile(r"^Fleet-Changes: (\d+) files? \+(\d+) -(\d+)$", re.M)


def _git(worktree: str, *args: str, env=None, input_bytes=None) -> bytes:
    return gitops.run(worktree, *args, env=env, input_bytes=input_bytes, timeout=GIT_TIMEOUT).stdout


def _worktree(meta: dict) -> str:
    """The session's worktree as a gitops.Repo: its recorded layout, its pointers checked."""
    return sessionrepo.open_repo(meta)


@contextlib.contextmanager
def _temp_index(worktree: str, copy_real: bool):
    """A private index file; with copy_real, a copy of the worktree's own (its stat cache makes
    `git add -A` rehash only what changed). The worktree's real index is only ever read."""
    os.makedirs(TMP_DIR, mode=0o700, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="index-", dir=TMP_DIR)
    os.close(fd)
    os.unlink(path)  # git reads a missing index as empty; an empty file would be corrupt
    try:
        if copy_real:
            real = _git(worktree, "rev-parse", "--git-path", "index").decode().strip()
            with contextlib.suppress(FileNotFoundError):
                source = os.path.join(worktree, real)
                shutil.copyfile(source, path)
                # Git trusts an entry's cached stat only when the file changed before the
                # index was written (its "racy git" check reads the index file's mtime). A
                # copy stamped now would vouch for a same-size edit made in the same second
                # as the real index: the edit was missing from diffs and checkpoints.
                st = os.stat(source)
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        yield path
    finally:
        for leftover in (path, path + ".lock"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def snapshot_tree(worktree: str) -> str:
    """The tree object of the worktree's files now (untracked included, ignored not)."""
    with _temp_index(worktree, copy_real=True) as index:
        env = {"GIT_INDEX_FILE": index}
        _git(worktree, "add", "-A", "--", ".", env=env)
        return _git(worktree, "write-tree", env=env).decode().strip()


def _records(worktree: str, session_id: str) -> list:
    """Every checkpoint of a session, oldest first (one git call)."""
    prefix = REF_PREFIX + check_id(session_id) + "/"
    out = _git(worktree, "for-each-ref", "--format=" + _FORMAT, prefix).decode("utf-8", "replace")
    records: list = []
    for raw in out.split("\x1e"):
        parts = raw.lstrip("\n").split("\0")
        if len(parts) != 5 or not parts[0].startswith(prefix):
            continue
        ref, commit, tree, when, message = parts
        n = ref[len(prefix) :]
        if not n.isdigit():
            continue
        subject = message.split("\n", 1)[0]
        reason = subject.split(": ", 1)[1] if ": " in subject else subject
        found = _CHANGES_RE.search(message)
        changes = None
        if found:
            files, added, removed = (int(x) for x in found.groups())
            changes = {"files": files, "added": added, "removed": removed}
        records.append(
            {
                "n": int(n),
                "commit": commit,
                "tree": tree,
                "time": int(when) if when.isdigit() else 0,
                "reason": reason,
                "changes": changes,
            }
        )
    records.sort(key=lambda r: r["n"])
    return records


def _changes(worktree: str, base: str, tree: str) -> dict:
    """Files, lines added and removed from the base to a tree (tree to tree: no file reads)."""
    out = _git(worktree, "diff-tree", "-r", "--numstat", "--no-renames", base, tree)
    files = added = removed = 0
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split("\t", 2)
        if len(parts) < 3:
            continue
        files += 1
        added += int(parts[0]) if parts[0].isdigit() else 0
        removed += int(parts[1]) if parts[1].isdigit() else 0
    return {"files": files, "added": added, "removed": removed}


def _clean_reason(reason) -> str:
    text = reason if isinstance(reason, str) else ""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:200] or "checkpoint"


def _create_locked(meta: dict, reason: str) -> dict:
    worktree = _worktree(meta)
    records = _records(worktree, meta["id"])
    tree = snapshot_tree(worktree)
    if records and records[-1]["tree"] == tree:
        return dict(records[-1], created=False)
    n = records[-1]["n"] + 1 if records else 1
    try:
        head = _git(worktree, "rev-parse", "--verify", "-q", "HEAD^{commit}").decode().strip()
    except HelperError:
        head = ""
    base = meta.get("base_sha") or head
    changes = _changes(worktree, base, tree) if base else None
    message = "fleet checkpoint %d: %s\n" % (n, reason)
    if changes is not None:
        message += "\nFleet-Changes: %d file%s +%d -%d\n" % (
            changes["files"],
            "" if changes["files"] == 1 else "s",
            changes["added"],
            changes["removed"],
        )
    parents = ["-p", head] if head else []
    commit = (
        _git(worktree, "commit-tree", tree, *parents, env=IDENTITY, input_bytes=message.encode())
        .decode()
        .strip()
    )
    ref = "%s%s/%d" % (REF_PREFIX, meta["id"], n)
    # The empty old value makes git refuse if the ref exists: a checkpoint is never replaced.
    _git(worktree, "update-ref", "-m", "fleet checkpoint", ref, commit, "")
    return {
        "n": n,
        "commit": commit,
        "tree": tree,
        "time": int(time.time()),
        "reason": reason,
        "changes": changes,
        "created": True,
    }


def create(meta: dict, reason) -> dict:
    """Checkpoint the session's worktree now; the last checkpoint when nothing changed since."""
    with layout.session_lock(meta["id"], "checkpoints"):
        return _create_locked(meta, _clean_reason(reason))


def list_checkpoints(meta: dict) -> list:
    """The session's checkpoints, oldest first: n, commit, tree, time, reason, changes."""
    return _records(_worktree(meta), meta["id"])


def _tree_diff(worktree: str, old: str, new: str) -> list:
    """(status, old mode, new mode, path) for each file that differs between two trees."""
    out = _git(worktree, "diff-tree", "-r", "-z", "--no-renames", old, new)
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    i = 0
    while i + 1 < len(fields):
        head, path = fields[i], fields[i + 1]
        i += 2
        if not head.startswith(":"):
            continue
        old_mode, new_mode, _, _, status = head[1:].split(" ")
        entries.append((status[:1], old_mode, new_mode, path))
    return entries


def _safe_path(worktree: str, rel: str) -> Optional[str]:
    """The file's path when no directory on the way to it is a symlink out of the worktree."""
    full = os.path.join(worktree, rel)
    parent = os.path.dirname(full)
    expected = os.path.normpath(os.path.join(os.path.realpath(worktree), os.path.dirname(rel)))
    if os.path.realpath(parent) != expected:
        return None
    return full


def _remove(worktree: str, rels: list) -> list:
    removed = []
    for rel in rels:
        full = _safe_path(worktree, rel)
        if full is None:
            continue
        try:
            os.unlink(full)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        removed.append(rel)
        parent = os.path.dirname(full)
        top = os.path.realpath(worktree)
        while os.path.realpath(parent) != top and parent.startswith(worktree):
            try:
                os.rmdir(parent)  # only when empty: ignored files keep their directory
            except OSError:
                break
            parent = os.path.dirname(parent)
    return removed


def _find(records: list, n, meta: dict) -> dict:
    if isinstance(n, bool) or not isinstance(n, int):
        raise HelperError("bad-request", "the checkpoint number must be an integer")
    for record in records:
        if record["n"] == n:
            return record
    name = meta.get("name") or meta["id"]
    if not records:
        raise HelperError("not-found", "session %s has no checkpoints yet" % name)
    have = ", ".join(str(r["n"]) for r in records[-10:])
    raise HelperError("not-found", "session %s has no checkpoint %s (latest: %s)" % (name, n, have))


def rewind(meta: dict, n) -> dict:
    """Checkpoint the current state, then make the worktree's files those of checkpoint n."""
    worktree = _worktree(meta)
    with layout.session_lock(meta["id"], "checkpoints"):
        target = _find(_records(worktree, meta["id"]), n, meta)
        before = _create_locked(meta, "before rewind to %d" % target["n"])
        restore, remove, skipped = [], [], []
        diff = _tree_diff(worktree, target["tree"], before["tree"])
        for status, old_mode, new_mode, path in diff:
            if _GITLINK in (old_mode, new_mode):
                skipped.append(path)  # a nested repository: not ours to rewrite
            elif status == "A":  # made since the checkpoint
                remove.append(path)
            elif status == "D":  # deleted since
                restore.append(path)
            else:  # changed since, or changed type (a file became a link)
                if status == "T":
                    remove.append(path)
                restore.append(path)
        # Removals first: a file may have to make way for a directory, or the other way round.
        removed = _remove(worktree, remove)
        if restore:
            with _temp_index(worktree, copy_real=False) as index:
                env = {"GIT_INDEX_FILE": index}
                _git(worktree, "read-tree", target["tree"], env=env)
                paths = "".join(p + "\0" for p in restore).encode("utf-8", "surrogateescape")
                _git(worktree, "checkout-index", "-f", "-z", "--stdin", env=env, input_bytes=paths)
        exact = snapshot_tree(worktree) == target["tree"]
    return {
        "checkpoint": target,
        "before": before,
        "restored": len(restore),
        "removed": len(removed),
        "paths": {"restored": restore[:MAX_PATHS], "removed": removed[:MAX_PATHS]},
        "skipped": skipped[:MAX_PATHS],
        # False when the files are not exactly the checkpoint's (e.g. a .gitignore change
        # made an ignored file visible again, or the agent wrote meanwhile).
        "exact": exact,
    }


# -- ops (registered in main.PLAIN) -----------------------------------------------------------


def op_checkpoint(args: dict) -> dict:
    meta = load_meta(check_id(args.get("session")))
    return create(meta, args.get("reason") or "by hand")


def op_checkpoints(args: dict) -> list:
    return list_checkpoints(load_meta(check_id(args.get("session"))))


def op_rewind(args: dict) -> dict:
    meta = load_meta(check_id(args.get("session")))
    return rewind(meta, args.get("n"))


# -- the watcher's schedule -------------------------------------------------------------------


def every_from_settings() -> float:
    settings = read_json(SETTINGS, {})
    value = settings.get("checkpoint_every") if isinstance(settings, dict) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return DEFAULT_EVERY


class Schedule:
    """Scheduled checkpoints, for the watcher: per session, at most one every `every` seconds,
    and only after its diff stat changed since the last one. Costs a dict comparison per tick;
    git runs only when a checkpoint is due."""

    def __init__(self) -> None:
        self.seen: dict = {}  # session id -> the diff stat at its last checkpoint (or start)
        self.last: dict = {}  # session id -> when its last checkpoint was made
        self.every = DEFAULT_EVERY
        self.every_at = 0.0

    def tick(self, meta: dict, diffstat, now: float) -> Optional[dict]:
        """The journal event of a checkpoint made now, or None."""
        sid = meta["id"]
        if diffstat is None:
            return None
        if sid not in self.seen:
            self.seen[sid] = diffstat  # the state this watcher found: a change starts a wait
            return None
        if diffstat == self.seen[sid]:
            return None
        if now - self.every_at >= SETTINGS_EVERY:
            self.every, self.every_at = every_from_settings(), now
        if self.every <= 0:
            return None
        if sid not in self.last:
            try:
                records = list_checkpoints(meta)
            except HelperError:
                records = []
            self.last[sid] = records[-1]["time"] if records else 0.0
        if now - self.last[sid] < self.every:
            return None
        self.seen[sid], self.last[sid] = diffstat, now
        try:
            made = create(meta, "scheduled")
        except Exception as e:
            return protocol.error(sid, "checkpoint: %s" % e)
        if not made.get("created"):
            return None
        return protocol.checkpoint(sid, made["n"])
