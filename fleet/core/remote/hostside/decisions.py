"""The records of review decisions, and the session's review version.

Each decision N is recorded in ~/.fleet/sessions/ID/review/N/ (decision.json, the index as it
was before, the patch, the fingerprints of the hunks it acted on), journaled as a "decision"
event (so every fleet watching the host sees it, whoever made it), and counted in the session's
review version: every decision and every undo makes it one higher. Each has a checkpoint of
the worktree before it ("before approve N") and one after ("after approve N"): the one after
is the review baseline the diff "since the last review" starts from.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import List

from . import checkpoints, gitops, journal, layout, protocol
from .difftext import block_path, fingerprints, split_files
from .layout import HelperError, read_json, write_json
from .reviewgit import encode, head, real_index

DECIDED = "decided"  # in the session's directory: the watcher restats its diff when it moves


def review_dir(session_id: str) -> str:
    return os.path.join(layout.session_dir(session_id), "review")


def records(session_id: str) -> List[dict]:
    """Every decision of the session, oldest first, undone ones included."""
    root = review_dir(session_id)
    try:
        names = sorted((int(n) for n in os.listdir(root) if n.isdigit()))
    except OSError:
        return []
    out = []
    for n in names:
        rec = read_json(os.path.join(root, str(n), "decision.json"))
        if isinstance(rec, dict):
            out.append(rec)
    return out


def active(session_id: str) -> List[dict]:
    """The decisions not undone, oldest first."""
    return [r for r in records(session_id) if not r.get("undone")]


def _version_of(record: dict) -> int:
    """The review version a decision made (and its undo, if undone): records from helpers
    that did not count versions use their number."""
    made = record.get("version")
    made = made if isinstance(made, int) else record.get("n", 0)
    undone = record.get("undone_version")
    if isinstance(undone, int):
        return max(made, undone)
    return made + 1 if record.get("undone") else made


def review_version(decisions: List[dict]) -> int:
    return max((_version_of(r) for r in decisions), default=0)


def decided_since(meta: dict, after, fps) -> List[str]:
    """The decisions after review version `after` that acted on the hunks `fps`, as words."""
    if after is None:
        return []
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise HelperError("bad-request", "after must be a review version")
    said = []
    for r in records(meta["id"]):
        if not set(r.get("hunks") or ()) & set(fps):
            continue
        made = r.get("version")
        if (made if isinstance(made, int) else r.get("n", 0)) > after:
            verb = "approved" if r.get("action") == "approve" else "rejected"
            said.append("%s by decision %d" % (verb, r["n"]))
        undone = r.get("undone_version")
        if r.get("undone") and (not isinstance(undone, int) or undone > after):
            said.append("decision %d (%s) undone" % (r["n"], r.get("action")))
    return said


def start_record(meta: dict, action: str, patch: str, extra: dict) -> dict:
    """Record decision N before it acts: its checkpoint "before", the index as it is, the
    patch. The record, with `extra` in it."""
    decisions = records(meta["id"])
    n = decisions[-1]["n"] + 1 if decisions else 1
    root = os.path.join(review_dir(meta["id"]), str(n))
    os.makedirs(root, mode=0o700)
    worktree = meta["worktree"]
    before = checkpoints.create(meta, "before %s %d" % (action, n))
    saved = os.path.join(root, "index")
    real = real_index(worktree)
    if os.path.exists(real):
        shutil.copyfile(real, saved)
    with open(os.path.join(root, "patch"), "wb") as f:
        f.write(encode(patch))
    record = {
        "n": n,
        "version": review_version(decisions) + 1,
        "hunks": fingerprints(patch) if patch else [],
        "action": action,
        "time": round(time.time(), 3),
        "before": {"n": before["n"], "commit": before["commit"], "tree": before["tree"]},
        "index_saved": os.path.exists(saved),
        "head": head(worktree),
        "paths": sorted({block_path(b) for b in split_files(patch)}),
        "undone": False,
    }
    record.update(extra)
    save(meta, record)
    return record


def finish_record(meta: dict, record: dict) -> dict:
    """Once the decision acted: its checkpoint "after", the review baseline."""
    after = checkpoints.create(meta, "after %s %d" % (record["action"], record["n"]))
    record["after"] = {"n": after["n"], "commit": after["commit"], "tree": after["tree"]}
    save(meta, record)
    return record


def save(meta: dict, record: dict) -> None:
    write_json(os.path.join(review_dir(meta["id"]), str(record["n"]), "decision.json"), record)


def announce(meta: dict, record: dict, action: str, undid: int = 0) -> None:
    """Journal the decision for every fleet, and have the watcher restat the diff at once."""
    journal.append(
        protocol.decision(
            meta["id"],
            record["n"],
            action,
            record.get("hunks") or [],
            undid,
            review_version(records(meta["id"])),
        )
    )
    marker = os.path.join(layout.session_dir(meta["id"]), DECIDED)
    with open(marker, "w") as f:
        f.write("%d\n" % record["n"])


def approved_commit(meta: dict, worktree) -> str:
    """The last commit fleet made on the session's branch for an approval (not undone) that
    the branch still contains; "" when there is none. What the person reviews is what is new
    since it: committed work never comes back for review."""
    for rec in reversed(active(meta["id"])):
        commit = rec.get("commit")
        if rec.get("action") == "approve" and commit and _contains(worktree, commit):
            return commit
    return ""


def _contains(worktree, commit: str) -> bool:
    proc = gitops.run(worktree, "merge-base", "--is-ancestor", commit, "HEAD", check=False)
    return proc.returncode == 0


def review_base(meta: dict, worktree) -> str:
    """What the default review compares against: the last approved commit, else the base."""
    return approved_commit(meta, worktree) or meta["base_sha"]
