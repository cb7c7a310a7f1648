"""Review on the host: the session's diff, and approving, rejecting and undoing hunks of it.

The diff is the worktree's files against the session's base commit, untracked files included
(ignored files not): it is computed in a temporary copy of the worktree's index (`git add -A`
there, then `git diff --cached BASE`), so the agent's own index is only ever read. Renames are
shown as a deletion and an addition (`--no-renames`), so that every hunk can be staged or
reverted on its own; binary files come as `GIT binary patch` blocks (`--binary`). How its text
splits into hunks, and their fingerprints: difftext.py; the git behind it: reviewgit.py.

Decisions (each under a per-session lock, each checked first: every hunk of the patch the
person chose must still be in the fresh diff, by fingerprint, or nothing happens):
- approve: `git apply --cached` of the patch onto the agent's real index (the approved set is
  the index); with commit, `git commit` of the index on the session's branch. Files untouched.
- reject: the patch is kept in ~/.fleet/sessions/ID/rejected/N.patch, reverse-applied to the
  worktree (and to the index, for hunks that were approved before), and the agent is told.
- undo: puts back what the last decision changed and only that: the index entries of its paths
  (from the copy of the index saved before the decision), the files of its paths for a reject
  (from the checkpoint taken before it), and the branch for a commit (when still at fleet's
  commit). A checkpoint "before undo" is taken first.

Each decision is recorded, journaled and counted in the session's review version (see
decisions.py). A diff says the version it was made at; a decision that names it (`after`) is
refused as stale when a decision since touched one of its hunks (another fleet, the CLI,
another laptop), saying which. Before acting it takes a checkpoint "before approve N" /
"before reject N"; after acting, one of the state after it ("after approve N" / "after reject
N"): that one is the review baseline. The diff "since the last review" is the worktree against
the baseline of the last decision not undone: exactly what the agent did after the person's
last decision (approvals and rejections themselves are not in it). An agent writing in the few
milliseconds between a decision and its after-checkpoint would have that write counted as
reviewed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from . import checkpoints, decisions, gitops, layout, outbox, reviewgit, sessionrepo, sessions, tmux
from .difftext import (
    block_path,
    diff_fingerprint,
    fingerprints,
    hunk_fingerprint,
    hunk_names,
    select,
    split_files,
    steering_text,
)
from .layout import HelperError, check_id
from .reviewgit import decode, encode, git, index_diff, worktree_diff


def _meta(args: dict) -> dict:
    meta = sessions.load_meta(check_id(args.get("session")))
    # From here on, git for this session runs with its recorded layout (a gitops.Repo).
    meta["worktree"] = checkpoints._worktree(meta)
    if not meta.get("base_sha"):
        raise HelperError("bad-request", "session %s has no base commit" % meta.get("name"))
    return meta


VIEWS = ("review", "since", "all")
"""What a diff can show: `review` (the default: what is new since the last approved commit on
the session's branch, the only view decisions are taken on), `since` (what changed after the
last decision), `all` (the whole branch against the session's base)."""


def op_diff(args: dict) -> dict:
    """{text, base, fingerprint, approved: [hunk fingerprints staged], review: version,
    view, since: {decision, action, commit} of the last decision (the `since` view)}"""
    meta = _meta(args)
    worktree = meta["worktree"]
    view = args.get("view") or "review"
    if view not in VIEWS:
        raise HelperError("bad-request", "unknown view %r (views: %s)" % (view, ", ".join(VIEWS)))
    with layout.session_lock(meta["id"], "review"):  # the version and the diff agree
        version = decisions.review_version(decisions.records(meta["id"]))
        against, since = _against(meta, worktree, view)
        text = worktree_diff(worktree, against)
        approved = set(fingerprints(index_diff(worktree, against)))
    staged = [fp for fp in fingerprints(text) if fp in approved]
    return {
        "text": text,
        "base": against,
        "fingerprint": diff_fingerprint(text),
        "approved": staged,
        "review": version,
        "view": view,
        "since": since,
        "committed": decisions.approved_commit(meta, worktree) or None,
        "rejected": _rejected_here(meta),
        "branch": meta.get("branch"),
    }


def _against(meta: dict, worktree, view: str) -> tuple:
    """(the commit a view compares the worktree against, the decision it starts from)."""
    if view == "all":
        return meta["base_sha"], None
    if view == "since":
        active = decisions.active(meta["id"])
        if active:
            last = active[-1]
            commit = last["after"]["commit"]
            return commit, {"decision": last["n"], "action": last["action"], "commit": commit}
    return decisions.review_base(meta, worktree), None


def _rejected_here(meta: dict) -> list:
    """The rejections (not undone) since the last approved commit: what they reverted, for
    the counts a diff shows ({decision, paths, hunks: number of hunks})."""
    out = []  # type: list
    for rec in decisions.active(meta["id"]):
        if rec.get("action") == "approve" and rec.get("commit"):
            out = []  # what was rejected before a commit belongs to an earlier review
        elif rec.get("action") == "reject":
            hunks = rec.get("hunks") or []
            out.append({"decision": rec["n"], "paths": rec.get("paths") or [], "hunks": len(hunks)})
    return out


# -- checks before a decision -----------------------------------------------------------------


def _check(meta: dict, patch: str, expect, after=None) -> tuple:
    """(fresh diff text, the patch's blocks) once every hunk of the patch is still current.
    A hunk that is not says why: a decision since the diff the person saw (`after`, its review
    version) acted on it, or else the agent changed its lines."""
    if not isinstance(patch, str) or not patch.strip():
        raise HelperError("bad-request", "the patch is empty: no hunk chosen")
    blocks = split_files(patch)
    if not blocks:
        raise HelperError("bad-request", "the patch holds no file")
    mine = [hunk_fingerprint(b, h) for b in blocks for h in b["hunks"]]
    if expect is not None and (not isinstance(expect, list) or sorted(expect) != sorted(mine)):
        raise HelperError("bad-request", "the patch does not hold the expected hunks")
    fresh = worktree_diff(meta["worktree"], decisions.review_base(meta, meta["worktree"]))
    missing = set(mine) - set(fingerprints(fresh))
    if missing:
        decided = decisions.decided_since(meta, after, missing)
        what = "; ".join(hunk_names(blocks, missing))
        if decided:
            raise HelperError(
                "stale",
                "%s: decided since you saw the diff (%s). Nothing was done; look at the "
                "fresh diff and decide again" % (what, ", ".join(decided)),
            )
        raise HelperError(
            "stale",
            "the agent changed these lines since you saw them: %s. Nothing was done; "
            "look at the fresh diff and decide again" % what,
        )
    return fresh, blocks


def _not_yet_staged(meta: dict, patch: str) -> str:
    """The patch without the hunks the index already holds (approved since the person saw
    the diff: what they asked for is done)."""
    against = decisions.review_base(meta, meta["worktree"])
    staged = set(fingerprints(index_diff(meta["worktree"], against)))
    mine = fingerprints(patch)
    done = [fp for fp in mine if fp in staged]
    return select(patch, set(mine) - set(done)) if done else patch


# -- approve ------------------------------------------------------------------------------------


def op_approve(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    commit = bool(args.get("commit"))
    message = str(args.get("message") or "")
    if commit and not message.strip():
        raise HelperError("bad-request", "a commit needs a message")
    with layout.session_lock(meta["id"], "review"):
        patch = _to_stage(meta, args, commit)
        if commit:
            _check_committable(meta, patch)
        record = decisions.start_record(meta, "approve", patch, {"commit": None})
        if patch:
            reviewgit.apply(worktree, patch, "--cached")
        if commit:
            record["commit"] = reviewgit.commit(worktree, message)
        record = decisions.finish_record(meta, record)
        decisions.announce(meta, record, "approve")
        if record["commit"]:
            _land(meta, worktree, record)
    return {
        "decision": record["n"],
        "checkpoint": record["before"]["n"],
        "commit": record["commit"],
        "branch": meta["branch"],
    }


def _land(meta: dict, worktree: str, record: dict) -> None:
    """A commit fleet made reaches the person's repository (a sandboxed session's own
    repository holds it until then: see sessionrepo.py)."""
    try:
        sessionrepo.land(meta, worktree, record["commit"])
    except HelperError as e:
        raise HelperError(
            e.kind,
            "decision %d committed %s on the session's branch, but %s"
            % (record["n"], record["commit"][:12], e.message),
        ) from None


def _to_stage(meta: dict, args: dict, commit: bool) -> str:
    """What of the chosen patch is left to stage ("" for none), refused unless it applies to
    the index; no hunk chosen is only right for a commit of what is already approved."""
    patch = args.get("patch") or ""
    if patch:
        patch = _not_yet_approved(meta, patch, args, commit)
    if patch:
        problem = reviewgit.apply_problem(meta["worktree"], patch, "--cached")
        if problem:
            raise HelperError("conflict", _conflict(meta, patch, problem))
    elif not commit:
        raise HelperError("bad-request", "nothing to approve: no hunk chosen")
    return patch


def _conflict(meta: dict, patch: str, problem: str) -> str:
    """Why a patch does not apply to the index, in words: changes there that fleet did not
    stage (a `git add` in the worktree), or else approvals of fleet's own on the same lines."""
    worktree = meta["worktree"]
    staged = {
        block_path(b)
        for b in split_files(index_diff(worktree, decisions.review_base(meta, worktree)))
    }
    approved: set = set()
    for rec in decisions.active(meta["id"]):
        if rec.get("action") == "approve" and not rec.get("commit"):
            approved.update(rec.get("paths") or [])
    mine = {block_path(b) for b in split_files(patch)}
    foreign = sorted((staged - approved) & mine) or sorted(staged - approved)
    if foreign:
        why = (
            "the index holds changes to %s that fleet did not stage (a git add in the "
            "worktree, by the agent or by hand); unstage them there (git restore --staged) or "
            "approve the diff as it is now" % ", ".join(foreign[:5])
        )
    else:
        why = (
            "they overlap changes already approved on the same lines; undo that approval or "
            "look at the diff as it is now"
        )
    return "these hunks do not apply to the index: %s (%s). Nothing was done" % (why, problem)


def _not_yet_approved(meta: dict, patch: str, args: dict, commit: bool) -> str:
    """The chosen hunks, each checked current, less those approved since the person saw them;
    refused when that leaves nothing to do (no hunk to stage and no commit to make)."""
    _, blocks = _check(meta, patch, args.get("expect"), args.get("after"))
    rest = _not_yet_staged(meta, patch)
    if rest or commit:
        return rest
    fps = fingerprints(patch)
    decided = decisions.decided_since(meta, args.get("after"), fps)
    why = " (%s since you saw the diff)" % ", ".join(decided) if decided else ""
    raise HelperError(
        "stale",
        "already approved: %s%s. Nothing was done" % ("; ".join(hunk_names(blocks, set(fps))), why),
    )


def _check_committable(meta: dict, patch: str) -> None:
    """A commit goes on the session's branch, and only with something approved."""
    reviewgit.on_branch(meta)
    if not patch and reviewgit.nothing_staged(meta["worktree"]):
        raise HelperError("nothing", "nothing approved to commit on %s" % meta["branch"])


# -- reject -------------------------------------------------------------------------------------


def op_reject(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    patch = args.get("patch") or ""
    note = str(args.get("note") or "")
    with layout.session_lock(meta["id"], "review"):
        _fresh, blocks = _check(meta, patch, args.get("expect"), args.get("after"))
        against = decisions.review_base(meta, worktree)
        approved = set(fingerprints(index_diff(worktree, against)))
        staged = select(patch, approved)
        problem = reviewgit.apply_problem(worktree, patch, "-R")
        if not problem and staged:
            problem = reviewgit.apply_problem(worktree, staged, "-R", "--cached")
        if problem:
            raise HelperError(
                "conflict", "cannot revert these hunks: %s. Nothing was done" % problem
            )
        record = decisions.start_record(
            meta, "reject", patch, {"note": note, "staged": bool(staged)}
        )
        kept = _keep_rejected(meta, record["n"], patch)
        if staged:
            reviewgit.apply(worktree, staged, "-R", "--cached")
        reviewgit.apply(worktree, patch, "-R")
        record["kept"] = kept
        record = decisions.finish_record(meta, record)
        decisions.announce(meta, record, "reject")
    message = steering_text(blocks, note)
    told, why = _tell_agent(meta, message, args.get("prose") is True)
    return {
        "decision": record["n"],
        "checkpoint": record["before"]["n"],
        "kept": kept,
        "told": told == TOLD,
        "delivery": told,
        "waits": why,
        "message": message,
    }


def _keep_rejected(meta: dict, n: int, patch: str) -> str:
    """The rejected patch, kept where the person can find it: its path."""
    rejected = os.path.join(layout.session_dir(meta["id"]), "rejected")
    os.makedirs(rejected, mode=0o700, exist_ok=True)
    kept = os.path.join(rejected, "%d.patch" % n)
    with open(kept, "wb") as f:
        f.write(encode(patch))
    return kept


# What became of the note to the agent (a reject's "delivery").
TOLD = "told"
QUEUED = "queued"  # in the outbox until the agent is at its input (see outbox.py)
NOT_PROSE = "not-prose"  # the agent reads no prose (a shell): a note would run there
NOT_RUNNING = "not-running"


def _tell_agent(meta: dict, message: str, prose: bool) -> tuple:
    """(what became of the message, why it waits): typed when the agent reads prose, runs
    and is at its input; kept in its outbox while it is at a prompt or working."""
    if not prose:
        return NOT_PROSE, ""
    pane = tmux.panes().get(layout.tmux_name(meta["id"]))
    if pane is None or pane.dead:
        return NOT_RUNNING, ""
    why = outbox.tell(meta, "note", message)
    return (QUEUED, why) if why else (TOLD, "")


# -- undo ---------------------------------------------------------------------------------------


def op_undo(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    with layout.session_lock(meta["id"], "review"):
        active = decisions.active(meta["id"])
        if not active:
            raise HelperError("nothing", "no decision to undo on %s" % meta.get("name"))
        rec = active[-1]
        root = os.path.join(decisions.review_dir(meta["id"]), str(rec["n"]))
        if rec.get("commit") and reviewgit.head(worktree) != rec["commit"]:
            raise HelperError(
                "moved",
                "the branch moved since decision %d committed (someone committed after "
                "it): nothing was undone" % rec["n"],
            )
        safety = checkpoints.create(meta, "before undo of %s %d" % (rec["action"], rec["n"]))
        if rec.get("commit") and rec.get("head"):
            ref = "refs/heads/" + meta["branch"]
            git(worktree, "update-ref", "-m", "fleet undo", ref, rec["head"], rec["commit"])
            sessionrepo.unland(meta, rec["head"], rec["commit"])
        paths = list(rec.get("paths") or [])
        if paths:
            saved = os.path.join(root, "index") if rec.get("index_saved") else None
            reviewgit.restore_index(worktree, saved, paths)
            if rec["action"] == "reject":
                reviewgit.restore_files(worktree, rec["before"]["tree"], paths)
        rec["undone"] = round(time.time(), 3)
        rec["undone_version"] = decisions.review_version(decisions.records(meta["id"])) + 1
        decisions.save(meta, rec)
        decisions.announce(meta, rec, "undo", undid=rec["n"])
    return {
        "decision": rec["n"],
        "action": rec["action"],
        "paths": paths[:100],
        "hunks": list(rec.get("hunks") or [])[:100],
        "checkpoint": safety["n"],
        "uncommitted": rec.get("commit"),
    }


def op_decisions(args: dict) -> list:
    meta = sessions.load_meta(check_id(args.get("session")))
    return decisions.records(meta["id"])


# -- push ---------------------------------------------------------------------------------------


def op_push(args: dict) -> dict:
    meta = _meta(args)
    worktree, branch = meta["worktree"], meta["branch"]
    # The push runs in the person's own repository, with its own remote settings, once the
    # branch has landed there.
    person = sessionrepo.shared(meta)
    remotes = decode(git(person, "remote").stdout).split()
    if "origin" not in remotes:
        raise HelperError(
            "no-remote",
            "the repository %s has no remote named origin to push %s to" % (meta["repo"], branch),
        )
    ref = "refs/heads/%s" % branch
    with layout.session_lock(meta["id"], "review"):
        sessionrepo.land(meta, worktree, sessionrepo.tip(worktree, ref))
    spec = "%s:%s" % (ref, ref)
    proc = gitops.run(
        person, "push", "--porcelain", "origin", spec, check=False, timeout=300, transport=True
    )
    if proc.returncode != 0:
        err = decode(proc.stderr).strip().splitlines()
        raise HelperError("push", "git push origin %s failed: %s" % (branch, " ".join(err[-3:])))
    result = {"pushed": branch, "remote": "origin", "pr": None, "pr_note": ""}
    gh = shutil.which("gh")
    if not gh:
        result["pr_note"] = "gh is not installed on this host: no pull request opened"
        return result
    title = str(args.get("title") or branch)
    body = str(args.get("body") or "")
    try:
        pr = subprocess.run(
            [gh, "pr", "create", "--head", branch, "--title", title or branch, "--body", body],
            cwd=meta["repo"],  # gh runs git where it starts: the main checkout, not the agent's
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        result["pr_note"] = "gh pr create took longer than 120 s"
        return result
    if pr.returncode == 0:
        result["pr"] = decode(pr.stdout).strip().splitlines()[-1:] or None
        if result["pr"]:
            result["pr"] = result["pr"][0]
    else:
        result["pr_note"] = "gh pr create failed: %s" % decode(pr.stderr).strip()[-500:]
    return result
