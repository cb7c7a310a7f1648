"""A session's repository: where its git state lives (recorded when the session is made and
checked before every use), and how its work reaches the person's repository.

fleet records the layout in meta.json as "git" ({layout, gitdir, commondir, shared, pointers})
and every git call for the session names it (gitops.Repo): git never follows the pointer files
the agent can reach. Before each use the pointers (`<worktree>/.git`, `<gitdir>/commondir`,
`<gitdir>/gitdir`) must still read exactly as recorded, or fleet refuses to run git for the
session and says which one changed.

Two layouts:

shared   a session without a sandbox: its worktree is a linked worktree of the person's
         repository (<repo>/.git/worktrees/NAME), as `git worktree add` makes it, and its branch
         fleet/NAME lives there. The agent runs as the person and could change anything anyway.

private  a sandboxed session: its worktree belongs to a repository of the session's own,
         ~/.fleet/sessions/ID/repo (P below), which borrows the person's objects and config:
           P/objects            the objects the agent writes (bound writable in the sandbox);
                                the person's object store is its alternate, read-only there.
                                git does not hash again what it reads, so an agent that can
                                write an object store can change what a commit contains: it
                                writes only this one, and the person's `main` stays as it is.
           P/refs/heads/fleet/  the session's branch, which the agent moves (and no other
                                session's branch: each session has its own P)
           P/worktrees/NAME     the worktree's HEAD and index (its pointer files read-only)
           P/packed-refs        the person's branches and tags as they were when the session
                                was made (or moved here), so the agent still reads main
           P/refs/fleet/        the session's checkpoints: only fleet writes them
           P/config             fleet's: it includes the repository's config, and never
                                enables extensions.worktreeConfig, so no config.worktree is
                                read; the sandbox cannot write it
         The person's repository only gets fleet/NAME at the base when the session is made.
         Work reaches it when the person lands it: approving with a commit, `fleet push` and
         `fleet land` copy the branch's commit and what it needs (`git pack-objects` in P,
         then `git index-pack --strict` in the person's repository, which hashes every object
         again, then a connectivity check there) and move fleet/NAME there, forward only.
         Diff stats, diffs and checkpoints only ever read P: nothing the agent wrote enters
         the person's repository without a person's action, and nothing there points at an
         object only P has (their `git gc`, `fsck` and `log --all` keep working).
         A session made without a sandbox moves into a private repository the first time it
         is resumed with one, and stays there.

Runs on the hosts: stdlib only, Python 3.8.
"""

from __future__ import annotations

import os
import shutil
from typing import Optional

from . import gitops
from .layout import HelperError, check_id, read_json, session_dir, session_lock

PRIVATE = "private"
SHARED = "shared"


def private_dir(session_id: str) -> str:
    return os.path.join(session_dir(session_id), "repo")


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def _write(path: str, text: str) -> None:
    tmp = path + ".fleet-tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
    os.replace(tmp, path)


def _gitfile_target(worktree: str) -> str:
    text = _read(os.path.join(worktree, ".git")) or ""
    if not text.startswith("gitdir:"):
        raise HelperError("git", "%s/.git is not a linked worktree's gitdir file" % worktree)
    target = text[len("gitdir:") :].strip()
    if not os.path.isabs(target):
        target = os.path.join(worktree, target)
    return os.path.realpath(target)


def _pointer_paths(worktree: str, gitdir: str) -> list:
    return [
        os.path.join(worktree, ".git"),
        os.path.join(gitdir, "commondir"),
        os.path.join(gitdir, "gitdir"),
    ]


def _record(layout: str, worktree: str, gitdir: str, commondir: str, shared: str) -> dict:
    """The layout of a worktree fleet has just made or moved (no agent ran in it since)."""
    pointers = {}
    for path in _pointer_paths(worktree, gitdir):
        text = _read(path)
        if text is None:
            raise HelperError("git", "%s is missing" % path)
        pointers[path] = text
    return {
        "layout": layout,
        "gitdir": gitdir,
        "commondir": commondir,
        "shared": shared,
        "pointers": pointers,
    }


def _legacy(meta: dict) -> dict:
    """The layout of a session made before fleet recorded it: the common dir from the main
    checkout (which no session can write), the worktree's git dir only when it lies in that
    repository's worktrees/ and both pointers agree."""
    worktree = meta["worktree"]
    shared = gitops.common_dir(meta["repo"])
    gitdir = _gitfile_target(worktree)
    back = (_read(os.path.join(gitdir, "gitdir")) or "").strip()
    common = (_read(os.path.join(gitdir, "commondir")) or "").strip()
    gitfile = os.path.join(worktree, ".git")
    if (
        os.path.dirname(gitdir) != os.path.join(shared, "worktrees")
        or os.path.realpath(back) != os.path.realpath(gitfile)
        or os.path.realpath(os.path.join(gitdir, common)) != shared
    ):
        raise _tampered(meta, gitfile, None)
    return _record(SHARED, worktree, gitdir, shared, shared)


def record_of(meta: dict) -> dict:
    record = meta.get("git")
    if isinstance(record, dict) and record.get("layout") in (PRIVATE, SHARED):
        return record
    return _legacy(meta)


def _tampered(meta: dict, path: str, expected: Optional[str]) -> HelperError:
    what = "should read %r" % expected.strip() if expected is not None else "does not match"
    return HelperError(
        "tampered",
        "session %s: the worktree's git pointer %s was changed (it %s): fleet runs no git "
        "for this session until it is put back, since git would follow it to a repository "
        "of someone else's making" % (meta.get("name") or meta.get("id"), path, what),
    )


def check(meta: dict, record: dict) -> None:
    """Refuse, saying which, when a pointer file no longer reads as recorded."""
    for path, text in sorted(record["pointers"].items()):
        if _read(path) != text:
            raise _tampered(meta, path, text)


def _alternate(path: str) -> str:
    """A path as GIT_ALTERNATE_OBJECT_DIRECTORIES takes it (C-quoted when it must be)."""
    if ":" not in path and not path.startswith('"'):
        return path
    return '"%s"' % path.replace("\\", "\\\\").replace('"', '\\"')


def open_repo(meta: dict) -> gitops.Repo:
    """The session's repository, as recorded, after checking its pointers."""
    worktree = meta.get("worktree") or ""
    if not os.path.isdir(worktree):
        raise HelperError("not-found", "the worktree %s is gone" % worktree)
    record = record_of(meta)
    check(meta, record)
    layout = {
        "GIT_DIR": record["gitdir"],
        "GIT_COMMON_DIR": record["commondir"],
        "GIT_WORK_TREE": worktree,
    }
    if record["layout"] == PRIVATE:
        # Also in P/objects/info/alternates, which the agent can write: named here too.
        layout["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = _alternate(
            os.path.join(record["shared"], "objects")
        )
    return gitops.Repo(worktree, layout)


def _person(common: str) -> gitops.Repo:
    return gitops.Repo(common, {"GIT_DIR": common})


def shared(meta: dict) -> gitops.Repo:
    """The person's own repository (its git directory), where the session's work lands."""
    return _person(record_of(meta)["shared"])


# -- making a session's repository ------------------------------------------------------------


def _config_text(common: str, object_format: str) -> str:
    if "\n" in common or "\0" in common:
        raise HelperError("bad-request", "the repository's path holds a newline")
    quoted = common.replace("\\", "\\\\").replace('"', '\\"')
    text = "[core]\n\trepositoryformatversion = %d\n" % (0 if object_format == "sha1" else 1)
    if object_format != "sha1":
        text += "[extensions]\n\tobjectformat = %s\n" % object_format
    text += '[include]\n\tpath = "%s/config"\n' % quoted
    # After the include, so the repository's own core.bare=false does not apply to P.
    text += "[core]\n\tbare = true\n"
    return text


def _snapshot(person: gitops.Repo, session_id: str) -> str:
    """packed-refs of the person's refs, less every session's branch and fleet's refs (but
    this session's checkpoints, for a session moving in)."""
    out = gitops.run(person, "for-each-ref", "--format=%(objectname) %(refname)").stdout
    own = "refs/fleet/checkpoints/%s/" % session_id
    lines = []
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        sha, _, ref = line.partition(" ")
        if not ref or ref.startswith("refs/heads/fleet/"):
            continue
        if ref.startswith("refs/fleet/") and not ref.startswith(own):
            continue
        lines.append((ref.encode("utf-8", "surrogateescape"), sha, ref))
    lines.sort()
    return "# pack-refs with: sorted \n" + "".join("%s %s\n" % (s, r) for _, s, r in lines)


def _init(top: str, common: str, session_id: str) -> None:
    """An empty repository at `top` borrowing `common`'s objects, config and refs."""
    person = _person(common)
    fmt = gitops.git(person, "rev-parse", "--show-object-format").strip() or "sha1"
    for sub in (
        "objects/info",
        "objects/pack",
        "refs/heads/fleet",
        "refs/tags",
        "refs/fleet",
        "logs/refs/heads/fleet",
        "info",
        "worktrees",
    ):
        os.makedirs(os.path.join(top, sub), mode=0o700, exist_ok=True)
    _write(
        os.path.join(top, "objects", "info", "alternates"), os.path.join(common, "objects") + "\n"
    )
    _write(os.path.join(top, "config"), _config_text(common, fmt))
    head = _read(os.path.join(common, "HEAD")) or ""
    _write(
        os.path.join(top, "HEAD"),
        head if head.startswith("ref: refs/heads/") else "ref: refs/heads/main\n",
    )
    exclude = os.path.join(common, "info", "exclude")
    if os.path.isfile(exclude):
        shutil.copyfile(exclude, os.path.join(top, "info", "exclude"))
    _write(os.path.join(top, "packed-refs"), _snapshot(person, session_id))


def create(repo: str, worktree: str, branch: str, base_sha: str, session_id: str, private: bool):
    """Make the session's worktree on `branch` at `base_sha`; its layout record."""
    common = gitops.common_dir(repo)
    gitops.check_branch_free(repo, branch)
    if not private:
        gitops.add_worktree(repo, worktree, branch, base_sha)
        return _record(SHARED, worktree, _gitfile_target(worktree), common, common)
    top = private_dir(session_id)
    person = _person(common)
    ref = "refs/heads/" + branch
    made_worktree, made_ref = not os.path.lexists(worktree), False
    try:
        _init(top, common, session_id)
        # The person's fleet/NAME: the base until work lands (it also takes the name).
        gitops.run(person, "update-ref", "-m", "fleet: new session", ref, base_sha, "")
        made_ref = True
        own = gitops.Repo(top, {"GIT_DIR": top})
        gitops.run(own, "worktree", "add", "-b", branch, "--", worktree, base_sha)
        gitdir = _gitfile_target(worktree)
        if os.path.dirname(gitdir) != os.path.join(os.path.realpath(top), "worktrees"):
            raise HelperError("git", "git put the worktree's git dir at %s" % gitdir)
        return _record(PRIVATE, worktree, gitdir, os.path.realpath(top), common)
    except BaseException:
        shutil.rmtree(top, ignore_errors=True)
        if made_ref:
            gitops.run(person, "update-ref", "-d", ref, base_sha, check=False)
        if made_worktree:
            shutil.rmtree(worktree, ignore_errors=True)
        raise


def undo_create(meta: dict) -> None:
    """Take back what `create` made for a session that never started (no agent ran in it):
    its worktree and its branch fleet/NAME (made by it: `create` refuses a branch that
    exists), so the person's repository is as it was. The private repository lies in the
    session's directory, which the caller removes."""
    record = meta["git"]
    worktree, ref = meta["worktree"], "refs/heads/" + meta["branch"]
    if record["layout"] == SHARED:
        gitops.git(meta["repo"], "worktree", "remove", "--force", "--", worktree, check=False)
    shutil.rmtree(worktree, ignore_errors=True)
    person = _person(record["shared"])
    if record["layout"] == SHARED:
        gitops.run(person, "worktree", "prune", check=False)
    # Only while it is still at the base: nothing else could have moved it, but never lose work.
    gitops.run(person, "update-ref", "-d", ref, meta["base_sha"], check=False)


def make_private(meta: dict) -> dict:
    """Move a shared session's worktree into a repository of its own (see the docstring);
    the record as it is after (unchanged for a private one)."""
    record = record_of(meta)
    if record["layout"] == PRIVATE:
        return record
    check(meta, record)
    worktree, sid = meta["worktree"], meta["id"]
    common, old = record["shared"], record["gitdir"]
    top = private_dir(sid)
    shutil.rmtree(top, ignore_errors=True)  # a move that stopped half way
    _init(top, common, sid)
    top = os.path.realpath(top)
    ref = "refs/heads/" + meta["branch"]
    head = tip(_person(common), ref)
    if head:
        gitops.run(gitops.Repo(top, {"GIT_DIR": top}), "update-ref", ref, head, "")
    gitdir = os.path.join(top, "worktrees", os.path.basename(worktree))
    os.makedirs(gitdir, mode=0o700)
    for name in ("HEAD", "index", "ORIG_HEAD"):
        if os.path.isfile(os.path.join(old, name)):
            shutil.copyfile(os.path.join(old, name), os.path.join(gitdir, name))
    _write(os.path.join(gitdir, "commondir"), "../..\n")
    _write(os.path.join(gitdir, "gitdir"), os.path.join(worktree, ".git") + "\n")
    _write(os.path.join(worktree, ".git"), "gitdir: %s\n" % gitdir)
    # The person's repository forgets the worktree; its fleet/NAME stays, as landed work.
    shutil.rmtree(old, ignore_errors=True)
    return _record(PRIVATE, worktree, gitdir, top, common)


# -- landing ------------------------------------------------------------------------------------


def tip(repo: str, ref: str) -> str:
    """The commit `ref` names in `repo`, or ""."""
    proc = gitops.run(repo, "rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
    return proc.stdout.decode("ascii", "replace").strip() if proc.returncode == 0 else ""


def land(meta: dict, repo: str, commit: str) -> bool:
    """Make the person's fleet/NAME `commit`, copying what it needs from the session's own
    repository, every object hashed again; True when it moved. A shared session's branch is
    already there: nothing to do."""
    record = record_of(meta)
    if record["layout"] != PRIVATE or not commit:
        return False
    person = _person(record["shared"])
    ref = "refs/heads/" + meta["branch"]
    where = meta.get("repo") or record["shared"]
    current = tip(person, ref)
    if current == commit:
        return False
    if gitops.run(person, "cat-file", "-e", commit + "^{commit}", check=False).returncode != 0:
        exclude = [c for c in (meta.get("base_sha"), current) if c]
        spec = "%s\n--not\n%s\n" % (commit, "\n".join(exclude))
        pack = gitops.run(
            repo, "pack-objects", "--revs", "--stdout", "-q", input_bytes=spec.encode(), timeout=900
        ).stdout
        proc = gitops.run(
            person, "index-pack", "--stdin", "--strict", input_bytes=pack, check=False, timeout=900
        )
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise HelperError(
                "unverified",
                "the session's objects for %s do not verify (%s): nothing was copied into %s"
                % (commit[:12], err[-1] if err else proc.returncode, where),
            )
    connected = gitops.run(
        person, "rev-list", "--objects", "--quiet", commit, "--not", "--all", check=False
    )
    if connected.returncode != 0:
        raise HelperError(
            "unverified",
            "%s is missing objects after the copy into %s: its branch was not moved"
            % (commit[:12], where),
        )
    if current:
        forward = gitops.run(person, "merge-base", "--is-ancestor", current, commit, check=False)
        if forward.returncode != 0:
            raise HelperError(
                "moved",
                "%s in %s moved outside fleet (it is at %s, which the session's branch does not "
                "contain): it was left as it is" % (meta["branch"], where, current[:12]),
            )
    gitops.run(person, "update-ref", "-m", "fleet: land", ref, commit, current)
    return True


def unland(meta: dict, old: str, new: str) -> None:
    """Put the person's fleet/NAME back at `old` when it is still at `new` (an undone commit)."""
    record = record_of(meta)
    if record["layout"] != PRIVATE or not old:
        return
    person = _person(record["shared"])
    ref = "refs/heads/" + meta["branch"]
    if tip(person, ref) == new:
        gitops.run(person, "update-ref", "-m", "fleet: undo", ref, old, new)


def op_land(args: dict) -> dict:
    """Land the session's branch as the session has it now (see the docstring)."""
    session_id = check_id(args.get("session"))
    meta = read_json(os.path.join(session_dir(session_id), "meta.json"))
    if not isinstance(meta, dict):
        raise HelperError("not-found", "no session %s on this host" % session_id)
    repo = open_repo(meta)
    ref = "refs/heads/" + meta["branch"]
    with session_lock(session_id, "review"):
        commit = tip(repo, ref)
        if not commit:
            raise HelperError(
                "not-found", "session %s has no branch %s" % (meta.get("name"), meta["branch"])
            )
        moved = land(meta, repo, commit)
    return {"branch": meta["branch"], "commit": commit, "landed": moved}
