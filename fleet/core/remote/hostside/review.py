"""Review on the host: the session's diff, and approving, rejecting and undoing hunks of it.

The diff is the worktree's files against the session's base commit, untracked files included
(ignored files not): it is computed in a temporary copy of the worktree's index (`git add -A`
there, then `git diff --cached BASE`), so the agent's own index is only ever read. Renames are
shown as a deletion and an addition (`--no-renames`), so that every hunk can be staged or
reverted on its own; binary files come as `GIT binary patch` blocks (`--binary`).

Hunks are numbered 1..N in diff order across files. A file with no text hunks (a binary file,
a mode change alone, an empty new file) is one hunk: its whole block. A hunk's fingerprint is a
sha256 over its file's `diff --git` line, its old range (`-a,b`, in base coordinates, so edits
elsewhere in the file do not change it) and its exact lines; a whole-file hunk's is over the
whole block. The diff's fingerprint is a sha256 over its exact text.

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

Each decision N is recorded in ~/.fleet/sessions/ID/review/N/ (decision.json, the index as it
was before, the patch, the fingerprints of the hunks it acted on), journaled as a "decision"
event (so every fleet watching the host sees it, whoever made it), and counted in the session's
review version: every decision and every undo makes it one higher. A diff says the version it
was made at; a decision that names it (`after`) is refused as stale when a decision since
touched one of its hunks (another fleet, the CLI, another laptop), saying which. Before acting
it takes a checkpoint "before approve N" / "before reject N"; after acting, one of the state
after it ("after approve N" / "after reject N"): that one is the review baseline. The diff
"since the last review" is the worktree against the baseline of the last decision not undone:
exactly what the agent did after the person's last decision (approvals and rejections
themselves are not in it). An agent writing in the few milliseconds between a decision and its
after-checkpoint would have that write counted as reviewed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from typing import Dict, List, Optional

from . import checkpoints, gitops, journal, layout, protocol, sessions, tmux
from .layout import HelperError, check_id, read_json, write_json

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
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_NOTE = 2000
DECIDED = "decided"  # in the session's directory: the watcher restats its diff when it moves


# -- splitting a diff into files and hunks (shared with fleet.core.review) --------------------


def lines_of(text: str) -> List[str]:
    """Lines with their "\\n" kept; only "\\n" ends a line (a "\\r" stays part of it)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def split_files(text: str) -> List[dict]:
    """The file blocks of a `git diff`: {"diff", "header", "hunks", "whole"}.

    "header" is the block's text before its first "@@" line; "hunks" the exact text of each
    hunk; a block without text hunks (binary, mode change, empty file) has "whole": True and
    its whole text as its only hunk.
    """
    blocks: List[dict] = []
    current: Optional[dict] = None
    # Lines gather in lists, joined once at the end: `text += line` on a string held in a list
    # copies it every time (quadratic: seconds for one 100,000-line hunk).
    for line in lines_of(text):
        if line.startswith("diff --git "):
            current = {"diff": line.rstrip("\n"), "header": [line], "hunks": [], "whole": False}
            blocks.append(current)
        elif current is None:
            continue  # text before the first file (none in git's output)
        elif line.startswith("@@ ") and _HUNK_RE.match(line):
            current["hunks"].append([line])
        elif current["hunks"]:
            current["hunks"][-1].append(line)
        else:
            current["header"].append(line)
    for block in blocks:
        block["header"] = "".join(block["header"])
        block["hunks"] = ["".join(lines) for lines in block["hunks"]]
        if not block["hunks"]:
            block["hunks"] = [block["header"]]
            block["whole"] = True
    return blocks


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def hunk_fingerprint(block: dict, hunk: str) -> str:
    if block["whole"]:
        return _sha("whole", hunk)
    first, _, body = hunk.partition("\n")
    match = _HUNK_RE.match(first)
    old = "%s,%s" % (match.group(1), match.group(2) or "1") if match else first
    return _sha("hunk", block["diff"], old, body)


def diff_fingerprint(text: str) -> str:
    return _sha("diff", text)


def fingerprints(text: str) -> List[str]:
    """Every hunk's fingerprint, in diff order."""
    return [hunk_fingerprint(b, h) for b in split_files(text) for h in b["hunks"]]


def unquote(path: str) -> str:
    """A path as git prints it: C-quoted ("a\\tb", octal escapes for bytes) when special."""
    if not (len(path) >= 2 and path[0] == '"' and path[-1] == '"'):
        return path
    out = bytearray()
    body = path[1:-1].encode("utf-8", "surrogateescape")
    i = 0
    simple = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b"}
    simple.update({b"f": b"\f", b"r": b"\r", b"v": b"\v"})
    while i < len(body):
        c = body[i : i + 1]
        if c == b"\\" and i + 1 < len(body):
            nxt = body[i + 1 : i + 2]
            octal = body[i + 1 : i + 4]
            # Exactly three octal digits naming a byte (git writes no other); anything else
            # (a diff from a hostile host: "\\9", "\\777") is taken as it stands.
            if len(octal) == 3 and all(48 <= b <= 55 for b in octal) and int(octal, 8) < 256:
                out.append(int(octal, 8))
                i += 4
                continue
            out += simple.get(nxt, nxt)
            i += 2
            continue
        out += c
        i += 1
    return out.decode("utf-8", "surrogateescape")


def block_path(block: dict) -> str:
    """The file a block is about (renames are off, so its old and new paths are the same)."""
    for line in lines_of(block["header"]):
        for prefix, side in (("+++ ", "b/"), ("--- ", "a/")):
            if line.startswith(prefix):
                name = line[len(prefix) :].rstrip("\n")
                if name.endswith("\t"):
                    name = name[:-1]  # git adds a tab after a name with spaces
                name = unquote(name)
                if name.startswith(side):
                    return name[len(side) :]
    rest = block["diff"][len("diff --git ") :]
    if rest.startswith('"'):
        end = rest.index('" ', 1) + 1 if '" ' in rest else len(rest)
        return unquote(rest[:end])[2:]
    size = (len(rest) - 5) // 2  # "a/X b/X"
    return rest[2 : 2 + size] if size > 0 else rest


def select(text: str, wanted) -> str:
    """The patch of the hunks whose fingerprints are in `wanted`: file headers + those hunks."""
    out = []
    for block in split_files(text):
        chosen = [h for h in block["hunks"] if hunk_fingerprint(block, h) in wanted]
        if not chosen:
            continue
        out.append(chosen[0] if block["whole"] else block["header"] + "".join(chosen))
    return "".join(out)


# -- git ----------------------------------------------------------------------------------------


def _git(worktree: str, *args: str, env=None, input_bytes=None, check: bool = True):
    return gitops.run(
        worktree, *args, env=env, input_bytes=input_bytes, check=check, timeout=GIT_TIMEOUT
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _diff_cached(worktree: str, against: str, index: Optional[str]) -> str:
    env = {"GIT_OPTIONAL_LOCKS": "0"}
    if index:
        env["GIT_INDEX_FILE"] = index
    args = [*DIFF_CONFIG, "diff", "--cached", *DIFF_ARGS, against, "--"]
    return _text(_git(worktree, *args, env=env).stdout)


def worktree_diff(worktree: str, against: str) -> str:
    """The worktree's files (untracked included) against a commit; the real index untouched."""
    with checkpoints._temp_index(worktree, copy_real=True) as index:
        _git(worktree, "add", "-A", "--", ".", env={"GIT_INDEX_FILE": index})
        return _diff_cached(worktree, against, index)


def index_diff(worktree: str, against: str) -> str:
    """The agent's real index against a commit: what is approved (staged)."""
    return _diff_cached(worktree, against, None)


# -- decisions on disk ----------------------------------------------------------------------


def _review_dir(session_id: str) -> str:
    return os.path.join(layout.session_dir(session_id), "review")


def _records(session_id: str) -> List[dict]:
    root = _review_dir(session_id)
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


def _active(session_id: str) -> List[dict]:
    return [r for r in _records(session_id) if not r.get("undone")]


def _version_of(record: dict) -> int:
    """The review version a decision made (and its undo, if undone): records from helpers
    that did not count versions use their number."""
    made = record.get("version")
    made = made if isinstance(made, int) else record.get("n", 0)
    undone = record.get("undone_version")
    if isinstance(undone, int):
        return max(made, undone)
    return made + 1 if record.get("undone") else made


def review_version(records: List[dict]) -> int:
    return max((_version_of(r) for r in records), default=0)


def _decided_since(meta: dict, after, fps) -> List[str]:
    """The decisions after review version `after` that acted on the hunks `fps`, as words."""
    if after is None:
        return []
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise HelperError("bad-request", "after must be a review version")
    said = []
    for r in _records(meta["id"]):
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


def _hunk_names(blocks: List[dict], fps) -> List[str]:
    return [
        "%s %s" % (block_path(b), h.split("\n", 1)[0][:60])
        for b in blocks
        for h in b["hunks"]
        if hunk_fingerprint(b, h) in fps
    ]


def _announce(meta: dict, record: dict, action: str, undid: int = 0) -> None:
    """Journal the decision for every fleet, and have the watcher restat the diff at once."""
    journal.append(
        protocol.decision(
            meta["id"],
            record["n"],
            action,
            record.get("hunks") or [],
            undid,
            review_version(_records(meta["id"])),
        )
    )
    marker = os.path.join(layout.session_dir(meta["id"]), DECIDED)
    with open(marker, "w") as f:
        f.write("%d\n" % record["n"])


def _meta(args: dict) -> dict:
    meta = sessions.load_meta(check_id(args.get("session")))
    checkpoints._worktree(meta)
    if not meta.get("base_sha"):
        raise HelperError("bad-request", "session %s has no base commit" % meta.get("name"))
    return meta


def _real_index(worktree: str) -> str:
    out = _git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index").stdout
    return _text(out).strip()


def _head(worktree: str) -> str:
    proc = _git(worktree, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    return _text(proc.stdout).strip() if proc.returncode == 0 else ""


# -- ops ----------------------------------------------------------------------------------------


def op_diff(args: dict) -> dict:
    """{text, base, fingerprint, approved: [hunk fingerprints staged], since: baseline or None}"""
    meta = _meta(args)
    worktree, base = meta["worktree"], meta["base_sha"]
    against, since = base, None
    if args.get("since_review"):
        decisions = _active(meta["id"])
        if decisions:
            last = decisions[-1]
            against = last["after"]["commit"]
            since = {"decision": last["n"], "action": last["action"], "commit": against}
    with layout.session_lock(meta["id"], "review"):  # the version and the diff agree
        version = review_version(_records(meta["id"]))
        text = worktree_diff(worktree, against)
        approved = set(fingerprints(index_diff(worktree, base)))
    staged = [fp for fp in fingerprints(text) if fp in approved]
    return {
        "text": text,
        "base": against,
        "fingerprint": diff_fingerprint(text),
        "approved": staged,
        "review": version,
        "since": since,
        "branch": meta.get("branch"),
    }


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
    fresh = worktree_diff(meta["worktree"], meta["base_sha"])
    missing = set(mine) - set(fingerprints(fresh))
    if missing:
        decided = _decided_since(meta, after, missing)
        what = "; ".join(_hunk_names(blocks, missing))
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
    staged = set(fingerprints(index_diff(meta["worktree"], meta["base_sha"])))
    mine = fingerprints(patch)
    done = [fp for fp in mine if fp in staged]
    return select(patch, set(mine) - set(done)) if done else patch


def _start_record(meta: dict, action: str, patch: str, extra: dict) -> dict:
    decisions = _records(meta["id"])
    n = decisions[-1]["n"] + 1 if decisions else 1
    root = os.path.join(_review_dir(meta["id"]), str(n))
    os.makedirs(root, mode=0o700)
    worktree = meta["worktree"]
    before = checkpoints.create(meta, "before %s %d" % (action, n))
    saved = os.path.join(root, "index")
    real = _real_index(worktree)
    if os.path.exists(real):
        shutil.copyfile(real, saved)
    with open(os.path.join(root, "patch"), "wb") as f:
        f.write(_bytes(patch))
    record = {
        "n": n,
        "version": review_version(decisions) + 1,
        "hunks": fingerprints(patch) if patch else [],
        "action": action,
        "time": round(time.time(), 3),
        "before": {"n": before["n"], "commit": before["commit"], "tree": before["tree"]},
        "index_saved": os.path.exists(saved),
        "head": _head(worktree),
        "paths": sorted({block_path(b) for b in split_files(patch)}),
        "undone": False,
    }
    record.update(extra)
    write_json(os.path.join(root, "decision.json"), record)
    return record


def _finish_record(meta: dict, record: dict) -> dict:
    after = checkpoints.create(meta, "after %s %d" % (record["action"], record["n"]))
    record["after"] = {"n": after["n"], "commit": after["commit"], "tree": after["tree"]}
    path = os.path.join(_review_dir(meta["id"]), str(record["n"]), "decision.json")
    write_json(path, record)
    return record


def _apply(worktree: str, patch: str, *flags: str) -> None:
    _git(worktree, "apply", "--whitespace=nowarn", *flags, "-", input_bytes=_bytes(patch))


def _apply_ok(worktree: str, patch: str, *flags: str) -> str:
    args = ("apply", "--check", "--whitespace=nowarn", *flags, "-")
    proc = _git(worktree, *args, input_bytes=_bytes(patch), check=False)
    return "" if proc.returncode == 0 else _text(proc.stderr).strip()


def _identity(worktree: str) -> dict:
    env = {}
    for key, var in (("user.name", "NAME"), ("user.email", "EMAIL")):
        proc = _git(worktree, "config", key, check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            for who in ("AUTHOR", "COMMITTER"):
                env["GIT_%s_%s" % (who, var)] = checkpoints.IDENTITY["GIT_AUTHOR_" + var]
    return env


def _on_branch(meta: dict) -> None:
    proc = _git(meta["worktree"], "symbolic-ref", "-q", "HEAD", check=False)
    if _text(proc.stdout).strip() != "refs/heads/" + meta["branch"]:
        raise HelperError(
            "branch",
            "the worktree is not on %s any more (the agent switched branches): nothing was "
            "committed" % meta["branch"],
        )


def op_approve(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    patch = args.get("patch") or ""
    commit = bool(args.get("commit"))
    message = str(args.get("message") or "")
    if commit and not message.strip():
        raise HelperError("bad-request", "a commit needs a message")
    with layout.session_lock(meta["id"], "review"):
        if patch:
            _, blocks = _check(meta, patch, args.get("expect"), args.get("after"))
            rest = _not_yet_staged(meta, patch)
            if not rest and not commit:
                fps = fingerprints(patch)
                decided = _decided_since(meta, args.get("after"), fps)
                why = " (%s since you saw the diff)" % ", ".join(decided) if decided else ""
                raise HelperError(
                    "stale",
                    "already approved: %s%s. Nothing was done"
                    % ("; ".join(_hunk_names(blocks, set(fps))), why),
                )
            patch = rest
        if patch:
            err = _apply_ok(worktree, patch, "--cached")
            if err:
                raise HelperError(
                    "conflict",
                    "these hunks do not apply to the index (it holds other changes to the "
                    "same lines, maybe staged by the agent): %s. Nothing was done" % err,
                )
        elif not commit:
            raise HelperError("bad-request", "nothing to approve: no hunk chosen")
        if commit:
            _on_branch(meta)
            if (
                not patch
                and _git(worktree, "diff", "--cached", "--quiet", check=False).returncode == 0
            ):
                raise HelperError("nothing", "nothing approved to commit on %s" % meta["branch"])
        record = _start_record(meta, "approve", patch, {"commit": None})
        if patch:
            _apply(worktree, patch, "--cached")
        if commit:
            _git(
                worktree,
                "commit",
                "--no-verify",
                "-q",
                "-F",
                "-",
                env=_identity(worktree),
                input_bytes=_bytes(message.strip() + "\n"),
            )
            record["commit"] = _head(worktree)
        record = _finish_record(meta, record)
        _announce(meta, record, "approve")
    return {
        "decision": record["n"],
        "checkpoint": record["before"]["n"],
        "commit": record["commit"],
        "branch": meta["branch"],
    }


def changed_lines(hunk: str) -> tuple:
    """(first, last) line numbers of the hunk's changes in the agent's file (the new side,
    context left out); for a pure deletion, the line where the removed lines were."""
    match = _HUNK_RE.match(hunk)
    if not match:
        return (0, 0)
    line = int(match.group(3))
    if match.group(4) == "0":
        line += 1  # "+N,0" names the line before the (empty) new side
    added: List[int] = []
    removed_at: List[int] = []
    for text in lines_of(hunk)[1:]:
        tag = text[:1]
        if tag == "+":
            added.append(line)
            line += 1
        elif tag == " ":
            line += 1
        elif tag == "-":
            removed_at.append(line)
    spots = added or removed_at or [line]
    return (min(spots), max(spots))


def _ranges(blocks: List[dict]) -> List[str]:
    out = []
    for block in blocks:
        path = block_path(block)
        for hunk in block["hunks"]:
            first, last = changed_lines(hunk)
            if block["whole"] or not first:
                out.append(path)
            elif first == last:
                out.append("%s line %d" % (path, first))
            else:
                out.append("%s lines %d-%d" % (path, first, last))
    return out


def steering_text(blocks: List[dict], note: str) -> str:
    what = ", ".join(_ranges(blocks))
    text = "fleet review: I rejected and reverted your change to %s" % what
    note = " ".join("".join(c if c.isprintable() else " " for c in note or "").split())
    if note:
        text += ". Note: " + note[:MAX_NOTE]
    return text


def op_reject(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    patch = args.get("patch") or ""
    note = str(args.get("note") or "")
    with layout.session_lock(meta["id"], "review"):
        _fresh, blocks = _check(meta, patch, args.get("expect"), args.get("after"))
        approved = set(fingerprints(index_diff(worktree, meta["base_sha"])))
        staged = select(patch, approved)
        err = _apply_ok(worktree, patch, "-R")
        if not err and staged:
            err = _apply_ok(worktree, staged, "-R", "--cached")
        if err:
            raise HelperError("conflict", "cannot revert these hunks: %s. Nothing was done" % err)
        record = _start_record(meta, "reject", patch, {"note": note, "staged": bool(staged)})
        rejected = os.path.join(layout.session_dir(meta["id"]), "rejected")
        os.makedirs(rejected, mode=0o700, exist_ok=True)
        kept = os.path.join(rejected, "%d.patch" % record["n"])
        with open(kept, "wb") as f:
            f.write(_bytes(patch))
        if staged:
            _apply(worktree, staged, "-R", "--cached")
        _apply(worktree, patch, "-R")
        record["kept"] = kept
        record = _finish_record(meta, record)
        _announce(meta, record, "reject")
    message = steering_text(blocks, note)
    told = False
    name = layout.tmux_name(meta["id"])
    pane = tmux.panes().get(name)
    if pane is not None and not pane.dead:
        sessions.type_text(name, message, meta.get("send") or {})
        told = True
    return {
        "decision": record["n"],
        "checkpoint": record["before"]["n"],
        "kept": kept,
        "told": told,
        "message": message,
    }


def _restore_index(worktree: str, saved: Optional[str], paths: List[str]) -> None:
    entries: Dict[str, str] = {}
    if saved and os.path.exists(saved):
        env = {"GIT_INDEX_FILE": saved}
        spec = [p for p in paths]
        out = _git(worktree, "ls-files", "-s", "-z", "--", *spec, env=env).stdout
        for rec in _text(out).split("\0"):
            if "\t" in rec:
                info, path = rec.split("\t", 1)
                entries.setdefault(path, "")
                entries[path] += info + "\t" + path + "\0"
    feed = []
    for path in paths:
        feed.append("0 %s\t%s\0" % ("0" * 40, path))  # remove, then put back what was there
        if path in entries:
            feed.append(entries[path])
    _git(worktree, "update-index", "-z", "--index-info", input_bytes=_bytes("".join(feed)))


def _restore_files(worktree: str, tree: str, paths: List[str]) -> None:
    out = _git(worktree, "ls-tree", "-r", "-z", "--name-only", tree, "--", *paths).stdout
    present = [p for p in _text(out).split("\0") if p]
    gone = [p for p in paths if p not in set(present)]
    checkpoints._remove(worktree, gone)
    if present:
        with checkpoints._temp_index(worktree, copy_real=False) as index:
            env = {"GIT_INDEX_FILE": index}
            _git(worktree, "read-tree", tree, env=env)
            feed = _bytes("".join(p + "\0" for p in present))
            _git(worktree, "checkout-index", "-f", "-z", "--stdin", env=env, input_bytes=feed)


def op_undo(args: dict) -> dict:
    meta = _meta(args)
    worktree = meta["worktree"]
    with layout.session_lock(meta["id"], "review"):
        decisions = _active(meta["id"])
        if not decisions:
            raise HelperError("nothing", "no decision to undo on %s" % meta.get("name"))
        rec = decisions[-1]
        root = os.path.join(_review_dir(meta["id"]), str(rec["n"]))
        if rec.get("commit") and _head(worktree) != rec["commit"]:
            raise HelperError(
                "moved",
                "the branch moved since decision %d committed (someone committed after "
                "it): nothing was undone" % rec["n"],
            )
        safety = checkpoints.create(meta, "before undo of %s %d" % (rec["action"], rec["n"]))
        if rec.get("commit") and rec.get("head"):
            ref = "refs/heads/" + meta["branch"]
            _git(worktree, "update-ref", "-m", "fleet undo", ref, rec["head"], rec["commit"])
        paths = list(rec.get("paths") or [])
        if paths:
            saved = os.path.join(root, "index") if rec.get("index_saved") else None
            _restore_index(worktree, saved, paths)
            if rec["action"] == "reject":
                _restore_files(worktree, rec["before"]["tree"], paths)
        rec["undone"] = round(time.time(), 3)
        rec["undone_version"] = review_version(_records(meta["id"])) + 1
        write_json(os.path.join(root, "decision.json"), rec)
        _announce(meta, rec, "undo", undid=rec["n"])
    return {
        "decision": rec["n"],
        "action": rec["action"],
        "paths": paths[:100],
        "checkpoint": safety["n"],
        "uncommitted": rec.get("commit"),
    }


def op_decisions(args: dict) -> list:
    meta = sessions.load_meta(check_id(args.get("session")))
    return _records(meta["id"])


def op_push(args: dict) -> dict:
    meta = _meta(args)
    worktree, branch = meta["worktree"], meta["branch"]
    remotes = _text(_git(worktree, "remote").stdout).split()
    if "origin" not in remotes:
        raise HelperError(
            "no-remote",
            "the repository %s has no remote named origin to push %s to" % (meta["repo"], branch),
        )
    ref = "refs/heads/%s" % branch
    proc = _git(worktree, "push", "--porcelain", "origin", "%s:%s" % (ref, ref), check=False)
    if proc.returncode != 0:
        err = _text(proc.stderr).strip().splitlines()
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
            cwd=worktree,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        result["pr_note"] = "gh pr create took longer than 120 s"
        return result
    if pr.returncode == 0:
        result["pr"] = _text(pr.stdout).strip().splitlines()[-1:] or None
        if result["pr"]:
            result["pr"] = result["pr"][0]
    else:
        result["pr_note"] = "gh pr create failed: %s" % _text(pr.stderr).strip()[-500:]
    return result
