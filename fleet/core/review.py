"""Review: a session's diff as files and hunks, hunk selection -> patch text, fingerprints.

The host computes the diff (see fleet.core.remote.hostside.review for what it contains and
how decisions act on it); this module reads it into a typed model with unidiff, numbers the
hunks 1..N across files in diff order, builds the patch of a chosen set of hunks, and colours
diffs for a terminal with pygments. Splitting and fingerprints are the host helper's own
functions (hostside/difftext.py), so both sides always agree on what a hunk is and what
identifies it.

A whole-file change without text hunks (a binary file, a mode change alone, an empty new
file) is one hunk. Decisions name hunks by number in the diff the person saw; the patch sent
to the host carries the hunks' exact text, and the host refuses unless every one of them is
still in its fresh diff (by fingerprint): edits elsewhere do not invalidate a decision.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from .errors import FleetError, UsageError
from .models import Session
from .remote.hostside import difftext as hostside

__all__ = ["Diff", "FileDiff", "Hunk", "SeenDiffs", "StaleReview", "colorize", "parse"]


@dataclass(frozen=True)
class Hunk:
    number: int  # 1..N across the whole diff
    path: str
    header: str  # the "@@ -a,b +c,d @@ ..." line, or a description of a whole-file change
    old_start: int
    old_lines: int
    new_start: int
    new_lines: int
    added: int
    removed: int
    text: str  # exact text (for a whole-file change: the file's whole block)
    fingerprint: str
    whole_file: bool = False
    approved: bool = False  # staged in the session's index

    @property
    def lines(self) -> str:
        """Where the hunk is in the agent's file: "12-15", "12", or "" for a whole file."""
        if self.whole_file:
            return ""
        if self.new_lines <= 1:
            return str(max(self.new_start, 1))
        return f"{self.new_start}-{self.new_start + self.new_lines - 1}"

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "path": self.path,
            "header": self.header,
            "old_start": self.old_start,
            "old_lines": self.old_lines,
            "new_start": self.new_start,
            "new_lines": self.new_lines,
            "added": self.added,
            "removed": self.removed,
            "fingerprint": self.fingerprint,
            "whole_file": self.whole_file,
            "approved": self.approved,
        }


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str  # added, deleted, modified, binary, mode
    header: str  # exact text before the first hunk
    hunks: tuple[Hunk, ...]
    binary: bool = False
    old_mode: str = ""
    new_mode: str = ""

    @property
    def added(self) -> int:
        return sum(h.added for h in self.hunks)

    @property
    def removed(self) -> int:
        return sum(h.removed for h in self.hunks)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "binary": self.binary,
            "old_mode": self.old_mode,
            "new_mode": self.new_mode,
            "added": self.added,
            "removed": self.removed,
            "hunks": [h.to_json() for h in self.hunks],
        }


@dataclass(frozen=True)
class Diff:
    """A diff as the person saw it: its text, which hunks were approved then, and the
    session's review version it was made at. Its fingerprint names all three, so a decision
    made on it is checked against exactly what was shown."""

    text: str
    base: str = ""
    files: tuple[FileDiff, ...] = ()
    fingerprint: str = ""
    review: int = 0  # the host's review version when it was made (see hostside/decisions.py)
    view: str = "review"  # which of VIEWS it shows
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def hunks(self) -> list[Hunk]:
        return [h for f in self.files for h in f.hunks]

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def hunk(self, number: int) -> Hunk:
        hunks = self.hunks
        if not 1 <= number <= len(hunks):
            raise UsageError(f"no hunk {number}: the diff has {len(hunks)} hunk(s)")
        return hunks[number - 1]

    def choose(self, numbers: Iterable[int] = (), path: str | None = None) -> list[Hunk]:
        """Hunks by number, or every hunk of a file, or both (numbers within that file)."""
        wanted = list(numbers)
        if path is None:
            return [self.hunk(n) for n in wanted]
        in_file = [h for h in self.hunks if h.path == path]
        if not in_file:
            raise UsageError(f"{path!r} is not in the diff")
        if not wanted:
            return in_file
        chosen = [self.hunk(n) for n in wanted]
        outside = [h.number for h in chosen if h.path != path]
        if outside:
            raise UsageError(f"hunk(s) {outside} are not in {path!r}")
        return chosen

    def pending(self) -> list[Hunk]:
        return [h for h in self.hunks if not h.approved]

    def patch(self, hunks: Sequence[Hunk]) -> str:
        """The patch of these hunks: each file's header, then its chosen hunks, in diff order."""
        wanted = {h.fingerprint for h in hunks}
        return hostside.select(self.text, wanted)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "fingerprint": self.fingerprint,
            "review": self.review,
            "view": self.view,
            "added": self.added,
            "removed": self.removed,
            "files": [f.to_json() for f in self.files],
            **self.extra,
        }

    def stat(self) -> str:
        """One line per file, `git diff --stat` style, with hunk numbers."""
        lines = []
        width = max((len(f.path) for f in self.files), default=0)
        for f in self.files:
            numbers = ",".join(str(h.number) for h in f.hunks)
            change = "binary" if f.binary else f"+{f.added} -{f.removed}"
            lines.append(f"{f.path.ljust(width)}  {change:<12} {f.status:<8} hunks {numbers}")
        noun = "file" if len(self.files) == 1 else "files"
        lines.append(
            f"{len(self.files)} {noun}, {len(self.hunks)} hunks, +{self.added} -{self.removed}"
        )
        return "\n".join(lines)


def _status(block: dict[str, Any]) -> tuple[str, bool, str, str]:
    header = block["header"]
    binary = "\nGIT binary patch\n" in header or "\nBinary files " in header
    old_mode = new_mode = ""
    status = "modified"
    for line in hostside.lines_of(header):
        line = line.rstrip("\n")
        if line.startswith("new file mode "):
            status, new_mode = "added", line.rsplit(" ", 1)[1]
        elif line.startswith("deleted file mode "):
            status, old_mode = "deleted", line.rsplit(" ", 1)[1]
        elif line.startswith("old mode "):
            old_mode = line.rsplit(" ", 1)[1]
        elif line.startswith("new mode "):
            new_mode = line.rsplit(" ", 1)[1]
    if status == "modified" and old_mode and new_mode and block["whole"] and not binary:
        status = "mode"
    return status, binary, old_mode, new_mode


def _whole_header(status: str, binary: bool, old_mode: str, new_mode: str) -> str:
    if binary:
        return f"binary file {status}"
    if status == "mode":
        return f"mode {old_mode} -> {new_mode}"
    return f"empty file {status}" if status in ("added", "deleted") else status


VIEWS = ("review", "since", "all")
"""The views of a session's diff: `review` (the default, what decisions are taken on): what is
new since the last approved commit on its branch; `since`: what changed after the last
decision; `all`: the whole branch against the session's base."""
VIEW_NAMES = {"review": "review", "since": "since-the-last-decision", "all": "whole-branch"}


def fingerprint(text: str, approved: Iterable[str], review: int) -> str:
    """What names a diff as shown: its text, its approved hunks and its review version."""
    parts = [hostside.diff_fingerprint(text), *sorted(approved), f"review {review}"]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def parse(
    text: str, base: str = "", approved: Iterable[str] = (), review: int = 0, view: str = "review"
) -> Diff:
    """A `git diff` (as the host's review helper makes it) as files and numbered hunks."""
    staged = set(approved)
    blocks = hostside.split_files(text)
    try:
        patchset = PatchSet(text)
    except UnidiffParseError as exc:
        raise UsageError(f"cannot read this diff: {exc}") from None
    if len(patchset) != len(blocks):
        raise UsageError(f"cannot read this diff: {len(patchset)} files vs {len(blocks)} blocks")
    files: list[FileDiff] = []
    number = 0
    for block, pfile in zip(blocks, patchset, strict=True):
        path = hostside.block_path(block)
        status, binary, old_mode, new_mode = _status(block)
        hunks: list[Hunk] = []
        if block["whole"]:
            number += 1
            fp = hostside.hunk_fingerprint(block, block["hunks"][0])
            hunks.append(
                Hunk(
                    number=number,
                    path=path,
                    header=_whole_header(status, binary, old_mode, new_mode),
                    old_start=0,
                    old_lines=0,
                    new_start=0,
                    new_lines=0,
                    added=0,
                    removed=0,
                    text=block["hunks"][0],
                    fingerprint=fp,
                    whole_file=True,
                    approved=fp in staged,
                )
            )
        else:
            if len(pfile) != len(block["hunks"]):
                raise UsageError(f"cannot read the diff of {path}: hunks do not match")
            for text_hunk, phunk in zip(block["hunks"], pfile, strict=True):
                number += 1
                fp = hostside.hunk_fingerprint(block, text_hunk)
                hunks.append(
                    Hunk(
                        number=number,
                        path=path,
                        header=text_hunk.split("\n", 1)[0],
                        old_start=phunk.source_start,
                        old_lines=phunk.source_length,
                        new_start=phunk.target_start,
                        new_lines=phunk.target_length,
                        added=phunk.added,
                        removed=phunk.removed,
                        text=text_hunk,
                        fingerprint=fp,
                        approved=fp in staged,
                    )
                )
        files.append(
            FileDiff(path, status, block["header"], tuple(hunks), binary, old_mode, new_mode)
        )
    shown = {h.fingerprint for f in files for h in f.hunks if h.approved}
    return Diff(text, base, tuple(files), fingerprint(text, shown, review), review, view)


def printable(text: str) -> str:
    """Text safe to print: bytes that are not UTF-8 shown as replacement characters."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def colorize(text: str) -> str:
    """The diff coloured for a terminal (pygments), control characters made inert."""
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import DiffLexer

    from .textsafe import inert

    shown = []
    for line in printable(text).split("\n"):
        crlf = line.endswith("\r")
        shown.append(inert(line[:-1] if crlf else line) + ("\u240d" if crlf else ""))
    safe = "\n".join(shown)
    return str(highlight(safe, DiffLexer(), TerminalFormatter()))


class StaleReview(FleetError):
    """The agent changed the chosen lines since the person saw them; `fresh` is the new diff."""

    refused = True  # declined on purpose (the audit log says so), nothing broke

    def __init__(self, message: str, fresh: Diff | None = None) -> None:
        super().__init__(message)
        self.fresh = fresh


class SeenDiffs:
    """The diffs a person was shown, by fingerprint, so that `--expect FP` can name hunks as
    they were seen. Kept per session under fleet's state directory, the last KEEP of them."""

    KEEP = 20

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, host: str, session_id: str) -> Path:
        return self.root / "reviews" / host / session_id

    def remember(self, host: str, session_id: str, diff: Diff) -> None:
        folder = self._dir(host, session_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{diff.fingerprint}.json"
        approved = [h.fingerprint for h in diff.hunks if h.approved]
        data = {"text": diff.text, "base": diff.base, "approved": approved, "review": diff.review}
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
        kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[self.KEEP :]:
            old.unlink(missing_ok=True)

    def recall(self, host: str, session_id: str, fingerprint: str) -> Diff | None:
        folder = self._dir(host, session_id)
        matches = sorted(folder.glob(f"{fingerprint}*.json")) if fingerprint.isalnum() else []
        if len(matches) != 1:
            return None
        data = json.loads(matches[0].read_text(encoding="utf-8"))
        approved = [str(fp) for fp in data.get("approved") or []]
        review = data.get("review")
        return parse(
            str(data["text"]),
            str(data.get("base", "")),
            approved,
            review if isinstance(review, int) else 0,
        )


_REMOTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Fixed text: git runs it with a shell, and the config path travels in the environment.
_SSH_WITH_CONFIG = 'ssh -F "$FLEET_LAND_SSH_CONFIG" -o BatchMode=yes'
_SSH_PLAIN = "ssh -o BatchMode=yes"


def land(
    into: str,
    session: Session,
    user: str | None,
    host: str,
    port: int | None,
    ssh_config: Path | None,
) -> dict[str, Any]:
    """Fetch the session's branch from its host into the local clone `into` (GitPython), as
    the local branch fleet/HOST/NAME, through a remote named after the host (added, or its
    URL refreshed). Blocking: run it in a thread."""
    import git

    path = Path(into).expanduser()
    try:
        repo = git.Repo(path)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise UsageError(f"{into} is not a git repository on this machine") from None
    name = session.host
    if not _REMOTE_NAME.match(name):
        raise UsageError(f"{name!r} cannot name a git remote")
    netloc = f"{user}@{host}" if user else host
    if port:
        netloc += f":{port}"
    url = f"ssh://{netloc}{session.repo if session.repo.startswith('/') else '/' + session.repo}"
    if name in [r.name for r in repo.remotes]:
        remote = repo.remote(name)
        if remote.url != url:
            remote.set_url(url)
    else:
        remote = repo.create_remote(name, url)
    env = {"GIT_SSH_COMMAND": _SSH_PLAIN, "GIT_TERMINAL_PROMPT": "0"}
    if ssh_config is not None:
        env.update(GIT_SSH_COMMAND=_SSH_WITH_CONFIG, FLEET_LAND_SSH_CONFIG=str(ssh_config))
    tracking = f"refs/remotes/{name}/{session.branch}"
    try:
        with repo.git.custom_environment(**env):
            remote.fetch(f"+refs/heads/{session.branch}:{tracking}")
    except git.GitCommandError as exc:
        err = str(exc.stderr or exc).strip().splitlines()
        raise FleetError(
            f"cannot fetch {session.branch} from {url}: {err[-1] if err else exc}"
        ) from None
    commit = repo.commit(tracking)
    local = f"fleet/{session.host}/{session.name}"
    if local in [h.name for h in repo.heads]:
        head = repo.heads[local]
        if not repo.head.is_detached and repo.active_branch.name == local:
            raise UsageError(f"{local} is checked out in {into}: switch away, or merge {tracking}")
        head.set_commit(commit)
        made = False
    else:
        repo.create_head(local, commit)
        made = True
    return {"branch": local, "commit": commit.hexsha, "remote": name, "url": url, "new": made}
