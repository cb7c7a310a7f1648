"""Review: parsing, fingerprints, hunk selection, and the host's decisions on a real local git
worktree (the host helper's functions called directly, no ssh), with hypothesis property tests:
approving any subset of hunks and rejecting the rest leaves index and worktree exactly as
expected."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.core import review
from fleet.core.errors import UsageError
from fleet.core.remote.hostside import checkpoints, decisions, difftext, journal, layout
from fleet.core.remote.hostside import review as hostside
from fleet.core.remote.hostside.layout import HelperError
from tests.localgit import GIT_ENV, git

SID = "abcdefgh"


class Repo:
    """A repo with a session worktree and the helper's directories in a temp dir."""

    def __init__(self, root: Path, files: dict[str, bytes]) -> None:
        self.root = root
        repo = root / "repo"
        repo.mkdir(parents=True)
        git(repo, "init", "-q", "-b", "main")
        for rel, data in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (repo / ".keep").write_text("")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "init")
        self.base = git(repo, "rev-parse", "HEAD").decode().strip()
        self.wt = root / "wt"
        git(repo, "worktree", "add", "-q", "-b", "fleet/x", str(self.wt), self.base)
        sdir = root / "sessions" / SID
        sdir.mkdir(parents=True)
        self.meta = {
            "id": SID,
            "name": "x",
            "worktree": str(self.wt),
            "base_sha": self.base,
            "branch": "fleet/x",
            "repo": str(repo),
        }
        layout.write_json(str(sdir / "meta.json"), self.meta)

    def write(self, rel: str, data: bytes | None) -> None:
        path = self.wt / rel
        if data is None:
            path.unlink()
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def diff(self, view: str = "review") -> review.Diff:
        data = hostside.op_diff({"session": SID, "view": view})
        return review.parse(data["text"], data["base"], data["approved"])

    def approve(self, d: review.Diff, hunks: list[review.Hunk], **kw: Any) -> dict[str, Any]:
        args = {"session": SID, "patch": d.patch(hunks), **kw}
        args["expect"] = [h.fingerprint for h in hunks]
        result: dict[str, Any] = hostside.op_approve(args)
        return result

    def reject(self, d: review.Diff, hunks: list[review.Hunk], note: str = "") -> dict[str, Any]:
        args = {"session": SID, "patch": d.patch(hunks), "note": note}
        result: dict[str, Any] = hostside.op_reject(args)
        return result

    def index_files(self) -> dict[str, bytes]:
        names = git(self.wt, "ls-files", "-z").decode("utf-8", "surrogateescape").split("\0")
        return {n: git(self.wt, "show", f":{n}") for n in names if n and n != ".keep"}

    def worktree_files(self) -> dict[str, bytes]:
        out = {}
        for p in sorted(self.wt.rglob("*")):
            rel = str(p.relative_to(self.wt))
            if p.is_file() and rel not in (".git", ".keep"):
                out[rel] = p.read_bytes()
        return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(layout, "SESSIONS", str(tmp_path / "sessions"))
    monkeypatch.setattr(checkpoints, "TMP_DIR", str(tmp_path / "tmp"))
    # Decisions are journaled: into this test's directory, never the real ~/.fleet.
    for name in ("JOURNAL", "ROTATED", "LOCK"):
        path = getattr(journal, name)
        monkeypatch.setattr(journal, name, str(tmp_path / path.rsplit("/", 1)[-1]))
    monkeypatch.setattr(journal, "_writer", None)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    yield tmp_path


NUMBERS = b"".join(b"line %d\n" % i for i in range(1, 41))


def test_parse_numbers_hunks_across_files_and_handles_odd_files(sandbox: Path) -> None:
    r = Repo(
        sandbox,
        {
            "num.txt": NUMBERS,
            "crlf.txt": b"a\r\nb\r\nc\r\n",
            "nonl.txt": b"x\ny",
            "sp ace.txt": b"one\n",
            "\u00fcn\u00ef.txt": b"h\xc3\xa9llo\n",
            "bin.dat": b"a\0b\0",
            "gone.txt": b"bye\n",
            "run.sh": b"echo\n",
            "latin1.txt": b"caf\xe9\n",
        },
    )
    r.write("num.txt", NUMBERS.replace(b"line 2\n", b"TWO\n").replace(b"line 30\n", b"XXX\n"))
    r.write("crlf.txt", b"a\r\nB\r\nc\r\n")
    r.write("nonl.txt", b"x\nz")
    r.write("sp ace.txt", b"two\n")
    r.write("\u00fcn\u00ef.txt", b"h\xc3\xa4llo\n")
    r.write("bin.dat", b"\0\1\2")
    r.write("gone.txt", None)
    os.chmod(r.wt / "run.sh", 0o755)
    r.write("new dir/new file.txt", b"fresh\n")
    r.write("latin1.txt", b"th\xe9\n")
    d = r.diff()
    assert [h.number for h in d.hunks] == list(range(1, 12))
    by_path = {f.path: f for f in d.files}
    assert set(by_path) == {
        "bin.dat",
        "crlf.txt",
        "gone.txt",
        "latin1.txt",
        "new dir/new file.txt",
        "nonl.txt",
        "num.txt",
        "run.sh",
        "sp ace.txt",
        "\u00fcn\u00ef.txt",
    }
    assert by_path["bin.dat"].binary and by_path["bin.dat"].hunks[0].whole_file
    assert by_path["gone.txt"].status == "deleted"
    assert by_path["new dir/new file.txt"].status == "added"
    assert by_path["run.sh"].status == "mode" and by_path["run.sh"].new_mode == "100755"
    num = by_path["num.txt"]
    assert [(h.old_start, h.added, h.removed) for h in num.hunks] == [(1, 1, 1), (27, 1, 1)]
    assert num.hunks[1].lines == "27-33"
    assert "B\r\n" in by_path["crlf.txt"].hunks[0].text
    assert d.fingerprint == review.fingerprint(d.text, (), 0)
    # The fingerprint names the diff as shown: its approvals and review version too.
    approved = review.parse(d.text, d.base, [num.hunks[0].fingerprint], 0)
    assert (
        approved.fingerprint != d.fingerprint and approved.hunks[num.hunks[0].number - 1].approved
    )
    assert review.parse(d.text, d.base, (), 3).fingerprint not in (
        d.fingerprint,
        approved.fingerprint,
    )
    assert len({h.fingerprint for h in d.hunks}) == len(d.hunks)
    # The selection of every hunk is the diff itself.
    assert d.patch(d.hunks) == d.text
    assert "+XXX" in d.patch([num.hunks[1]]) and "TWO" not in d.patch([num.hunks[1]])
    assert d.choose(path="num.txt") == list(num.hunks)
    with pytest.raises(UsageError):
        d.hunk(99)
    with pytest.raises(UsageError):
        d.choose([1], path="num.txt")
    shown = review.colorize(d.text)
    assert "\x1b[" in shown and "\u240d" in shown and "caf\ufffd" in shown
    assert "num.txt" in d.stat() and "11 hunks" in d.stat()
    # Approve everything, reject nothing: the index is the worktree.
    r.approve(d, d.hunks)
    assert r.index_files() == r.worktree_files()
    assert all(h.approved for h in r.diff().hunks)


def test_a_hunk_fingerprint_survives_edits_elsewhere_but_not_to_its_lines(sandbox: Path) -> None:
    r = Repo(sandbox, {"num.txt": NUMBERS})
    r.write("num.txt", NUMBERS.replace(b"line 2\n", b"TWO\n").replace(b"line 30\n", b"XXX\n"))
    seen = r.diff()
    # The agent adds lines to hunk 1 (shifting hunk 2) and a new file: hunk 2 is still hunk 2.
    r.write("num.txt", (r.wt / "num.txt").read_bytes().replace(b"TWO\n", b"TWO\nTOO\n"))
    r.write("other.txt", b"x\n")
    fresh = r.diff()
    assert fresh.fingerprint != seen.fingerprint
    assert seen.hunk(2).fingerprint == fresh.hunk(2).fingerprint
    assert seen.hunk(1).fingerprint != fresh.hunk(1).fingerprint
    r.approve(seen, [seen.hunk(2)])
    assert b"XXX" in git(r.wt, "show", ":num.txt") and b"TWO" not in git(r.wt, "show", ":num.txt")
    index_before = r.index_files()
    files_before = r.worktree_files()
    with pytest.raises(HelperError) as err:
        r.approve(seen, [seen.hunk(1)])
    assert err.value.kind == "stale" and "num.txt" in err.value.message
    with pytest.raises(HelperError):
        r.reject(seen, [seen.hunk(1)])
    assert r.index_files() == index_before and r.worktree_files() == files_before


def test_reject_reverts_keeps_the_patch_and_undo_puts_it_back(sandbox: Path) -> None:
    r = Repo(sandbox, {"num.txt": NUMBERS})
    edited = NUMBERS.replace(b"line 2\n", b"TWO\n").replace(b"line 30\n", b"XXX\n")
    r.write("num.txt", edited)
    r.write("new.txt", b"brand new\n")
    d = r.diff()
    assert [h.path for h in d.hunks] == ["new.txt", "num.txt", "num.txt"]
    r.approve(d, [d.hunk(2)])
    result = r.reject(d, [d.hunk(1), d.hunk(3)], note="keep line 30\nplease")
    assert not result["told"]  # no tmux here
    assert result["message"].startswith("fleet review: I rejected and reverted your change to")
    assert "change to new.txt line 1, num.txt line 30." in result["message"]
    assert result["message"].endswith("Note: keep line 30 please")
    assert Path(result["kept"]).read_bytes() == d.patch([d.hunk(1), d.hunk(3)]).encode()
    assert not (r.wt / "new.txt").exists()
    after_reject = NUMBERS.replace(b"line 2\n", b"TWO\n")
    assert (r.wt / "num.txt").read_bytes() == after_reject
    assert git(r.wt, "show", ":num.txt") == after_reject
    # Since the last review: nothing yet; then the agent writes something.
    assert hostside.op_diff({"session": SID, "view": "since"})["text"] == ""
    r.write("later.txt", b"later\n")
    since = review.parse(hostside.op_diff({"session": SID, "view": "since"})["text"])
    assert [f.path for f in since.files] == ["later.txt"]
    # Undo the reject: the files come back, the agent's later file stays.
    undone = hostside.op_undo({"session": SID})
    assert undone["action"] == "reject"
    assert (r.wt / "num.txt").read_bytes() == edited
    assert (r.wt / "new.txt").read_bytes() == b"brand new\n"
    assert (r.wt / "later.txt").exists()
    # Undo the approval: the index is back to the base.
    assert hostside.op_undo({"session": SID})["action"] == "approve"
    assert git(r.wt, "diff", "--cached", "--name-only") == b""
    with pytest.raises(HelperError):
        hostside.op_undo({"session": SID})


def journaled() -> list[dict[str, Any]]:
    path = Path(journal.JOURNAL)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_decision_is_journaled_and_counted_in_the_review_version(sandbox: Path) -> None:
    r = Repo(sandbox, {"num.txt": NUMBERS})
    r.write("num.txt", NUMBERS.replace(b"line 2\n", b"TWO\n").replace(b"line 30\n", b"XXX\n"))
    seen = hostside.op_diff({"session": SID})
    assert seen["review"] == 0
    d = review.parse(seen["text"], seen["base"], seen["approved"], seen["review"])
    marker = Path(layout.SESSIONS) / SID / decisions.DECIDED
    assert not marker.exists()
    r.approve(d, [d.hunk(1)], after=d.review)
    r.reject(d, [d.hunk(2)])
    hostside.op_undo({"session": SID})
    events = journaled()
    assert [(e["type"], e["action"], e["n"], e["undid"], e["version"]) for e in events] == [
        ("decision", "approve", 1, 0, 1),
        ("decision", "reject", 2, 0, 2),
        ("decision", "undo", 2, 2, 3),
    ]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[0]["hunks"] == [d.hunk(1).fingerprint]
    assert marker.exists()  # the watcher restats the diff when this moves
    assert hostside.op_diff({"session": SID})["review"] == 3


def test_a_decision_on_an_outdated_diff_says_what_happened_since(sandbox: Path) -> None:
    r = Repo(sandbox, {"num.txt": NUMBERS})
    r.write("num.txt", NUMBERS.replace(b"line 2\n", b"TWO\n").replace(b"line 30\n", b"XXX\n"))
    d = r.diff()
    r.reject(d, [d.hunk(2)])  # made elsewhere, after the person saw `d`
    with pytest.raises(HelperError, match="rejected by decision 1") as info:
        r.approve(d, [d.hunk(2)], after=d.review)
    assert info.value.kind == "stale" and "agent changed" not in info.value.message
    # Without knowing what the person saw, the host can only say the lines changed.
    with pytest.raises(HelperError, match="agent changed these lines"):
        r.approve(d, [d.hunk(2)])
    # A hunk approved elsewhere since: approving it again is refused, approving all with it
    # stages only what is left, and commits.
    r.approve(d, [d.hunk(1)])
    with pytest.raises(HelperError, match="already approved") as info:
        r.approve(d, [d.hunk(1)], after=d.review)
    assert "approved by decision 2" in info.value.message
    assert git(r.wt, "diff", "--cached", "--name-only") == b"num.txt\n"


def test_approve_all_commits_and_undo_moves_the_branch_back(sandbox: Path) -> None:
    r = Repo(sandbox, {"num.txt": NUMBERS})
    r.write("num.txt", NUMBERS.replace(b"line 2\n", b"TWO\n"))
    r.write("new.txt", b"n\n")
    d = r.diff()
    out = r.approve(d, d.pending(), commit=True, message="fleet: approved work")
    log = git(r.wt, "log", "-1", "--format=%s %H").decode().split()
    assert log[-1] == out["commit"] and " ".join(log[:-1]) == "fleet: approved work"
    assert git(r.wt, "status", "--porcelain") == b""
    # committed work leaves the review; the whole branch still shows it, approved
    assert not r.diff().hunks
    whole = r.diff("all").hunks
    assert whole and all(h.approved for h in whole)
    with pytest.raises(HelperError) as err:
        hostside.op_approve({"session": SID, "commit": True, "message": "again"})
    assert err.value.kind == "nothing"
    hostside.op_undo({"session": SID})
    assert git(r.wt, "rev-parse", "HEAD").decode().strip() == r.base
    assert git(r.wt, "diff", "--cached", "--name-only") == b""
    assert (r.wt / "new.txt").exists()


# -- property: any subset approved, the rest rejected ------------------------------------------

WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "", "  indented", "x\r", "\u00fc"])
NAMES = ["a.txt", "dir/b c.txt", "\u00fc.txt", "deep/er/d.txt"]


def _text(lines: list[str], newline_at_end: bool) -> bytes:
    body = "\n".join(lines)
    return (body + ("\n" if newline_at_end and lines else "")).encode()


@st.composite
def scenario(draw: st.DrawFn) -> tuple[dict[str, bytes], dict[str, bytes | None], list[bool]]:
    base: dict[str, bytes] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)):
        lines = draw(st.lists(WORDS, min_size=0, max_size=40))
        base[name] = _text(lines, draw(st.booleans()))
    edits: dict[str, bytes | None] = {}
    for name, data in base.items():
        kind = draw(st.sampled_from(["keep", "edit", "edit", "delete"]))
        if kind == "delete":
            edits[name] = None
        elif kind == "edit":
            lines = data.decode().split("\n")
            for _ in range(draw(st.integers(1, 4))):
                at = draw(st.integers(0, len(lines)))
                op = draw(st.sampled_from(["insert", "replace", "remove"]))
                if op == "insert" or not lines or at >= len(lines):
                    lines.insert(at, draw(WORDS))
                elif op == "replace":
                    lines[at] = draw(WORDS) + "!"
                else:
                    del lines[at]
            edits[name] = "\n".join(lines).encode()
    if draw(st.booleans()):
        edits["new/made.txt"] = _text(draw(st.lists(WORDS, min_size=0, max_size=5)), True)
    if draw(st.booleans()):
        edits["blob.bin"] = bytes(draw(st.lists(st.integers(0, 255), max_size=20))) + b"\0"
    choices = draw(st.lists(st.booleans(), min_size=60, max_size=60))
    return base, edits, choices


def apply_hunks(before: bytes, hunks: list[review.Hunk]) -> bytes:
    """A tiny independent patcher: each hunk replaces its old lines by its new ones."""
    lines = difftext.lines_of(before.decode("utf-8", "surrogateescape"))
    for hunk in sorted(hunks, key=lambda h: h.old_start, reverse=True):
        old: list[str] = []
        new: list[str] = []
        last = ""
        for line in difftext.lines_of(hunk.text)[1:]:
            tag, rest = line[:1], line[1:]
            if tag == "\\":  # "\ No newline at end of file": the line before has no "\n"
                for side in (old, new) if last == " " else (old,) if last == "-" else (new,):
                    side[-1] = side[-1][:-1]
                continue
            if tag in (" ", "-"):
                old.append(rest)
            if tag in (" ", "+"):
                new.append(rest)
            last = tag
        start = max(hunk.old_start - 1, 0) if hunk.old_lines else hunk.old_start
        assert lines[start : start + len(old)] == old, (hunk.text, lines)
        lines[start : start + len(old)] = new
    return "".join(lines).encode("utf-8", "surrogateescape")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenario())
def test_approving_a_subset_and_rejecting_the_rest(
    sandbox: Path, case: tuple[dict[str, bytes], dict[str, bytes | None], list[bool]]
) -> None:
    base, edits, choices = case
    root = sandbox / f"case-{os.urandom(4).hex()}"
    layout.SESSIONS = str(root / "sessions")  # the fixture's monkeypatch restores it
    r = Repo(root, base)
    for name, data in edits.items():
        r.write(name, data)
    d = r.diff()
    approved = [h for h in d.hunks if choices[(h.number - 1) % len(choices)]]
    rejected = [h for h in d.hunks if h not in approved]
    # Decisions are made on the diff as first seen, in two batches each, interleaved.
    for batch in (approved[::2], rejected[::2], approved[1::2], rejected[1::2]):
        if not batch:
            continue
        if batch[0] in approved:
            r.approve(d, batch)
        else:
            r.reject(d, batch)
    expected: dict[str, bytes] = {}
    for name in sorted(set(base) | set(edits)):
        f = next((f for f in d.files if f.path == name), None)
        if f is None:
            expected[name] = base[name]
            continue
        mine = [h for h in f.hunks if h in approved]
        if f.hunks[0].whole_file:
            content = edits.get(name) if mine else base.get(name)
            if content is not None:
                expected[name] = content
        elif f.status == "deleted":
            if not mine:
                expected[name] = base[name]
        else:
            expected[name] = apply_hunks(base.get(name, b""), mine)
            if f.status == "added" and not mine:
                del expected[name]
    assert r.index_files() == expected
    assert r.worktree_files() == expected


def test_a_same_size_edit_in_the_second_of_the_last_index_write_is_seen(sandbox: Path) -> None:
    # Git trusts an index entry's cached stat only for files changed before the index file's
    # mtime. The helper diffs with a copy of the worktree's index: stamped with the time of the
    # copy, it vouched for an edit made in the same second as the real index write.
    r = Repo(sandbox, {"num.txt": NUMBERS})
    time.sleep(1 - time.time() % 1)  # a second begins: index write and edit fit in it
    second = int(time.time())
    r.write("notes.txt", b"one\n")
    git(r.wt, "add", "notes.txt")  # the real index is written (as an approval does)
    with open(r.wt / "notes.txt", "r+b") as f:
        f.write(b"two\n")  # the same size, in place: only the racy check can tell
    assert int(time.time()) == second, "too slow to stay in one second: run again"
    time.sleep(1 - time.time() % 1)  # the diff runs in a later second
    d = r.diff()
    assert [h.text.splitlines()[-1] for h in d.hunks if h.path == "notes.txt"] == ["+two"]
    tree = checkpoints.snapshot_tree(str(r.wt))
    assert git(r.wt, "show", f"{tree}:notes.txt") == b"two\n"
