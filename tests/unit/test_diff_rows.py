"""The diff panel's document model and lexing, without Textual: rows, line numbers, the hunk
cursor, decisions and counts, built from a parsed :class:`review.Diff`; and what is lexed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexer import Lexer
from pygments.token import Token

from fleet.core import review
from fleet.ui.diff import lex
from fleet.ui.diff.lex import LineCache, lex_unit, unit_of
from fleet.ui.diff.rows import CHUNK, BodyLine, Counts, DiffRows, Row, cursor_after, hunk_body

ROOT = Path(__file__).resolve().parents[2]

# app.py: two hunks; gone.txt: deleted (collapsed to its header); new.txt: new, no final newline.
DIFF = """\
diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,3 +1,3 @@
 def f(x):
-    return x
+    return x * 2
 # end
@@ -10,2 +10,3 @@ def g():
 a
+b
 c
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-one
-two
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
\\ No newline at end of file
"""


@pytest.fixture
def diff() -> review.Diff:
    parsed = review.parse(DIFF)
    assert [f.path for f in parsed.files] == ["app.py", "gone.txt", "new.txt"]
    assert [h.number for h in parsed.hunks] == [1, 2, 3, 4]
    return parsed


def long_hunk_diff(n: int) -> review.Diff:
    """One modified file whose single hunk alternates context, removed and added lines."""
    body = []
    for i in range(n):
        body.append(("+", "-", " ")[i % 3] + f"line {i}")
    old = sum(1 for b in body if b[0] != "+")
    new = sum(1 for b in body if b[0] != "-")
    text = (
        "diff --git a/big.py b/big.py\nindex 1111111..2222222 100644\n--- a/big.py\n"
        f"+++ b/big.py\n@@ -5,{old} +7,{new} @@\n" + "\n".join(body) + "\n"
    )
    return review.parse(text)


# --------------------------------------------------------------------------- rows


def test_rows_of_files_hunks_and_bodies(diff: review.Diff) -> None:
    rows = DiffRows(diff)
    kinds = [rows.row_at(y) for y in range(rows.height)]
    assert kinds == [
        Row("file", file=0),
        Row("hunk", 0, 0),
        *(Row("body", 0, 0, line) for line in range(4)),
        Row("hunk", 0, 1),
        *(Row("body", 0, 1, line) for line in range(3)),
        Row("blank"),  # the gap before a file
        Row("file", file=1),
        Row("hunk", 1, 2),  # a deleted file: its header only
        Row("blank"),
        Row("file", file=2),
        Row("hunk", 2, 3),
        *(Row("body", 2, 3, line) for line in range(3)),
    ]
    assert rows.height == rows.scroll_height == 19
    assert rows.row_at(-1) == rows.row_at(19) == Row("blank")
    assert rows.hunk_files == [0, 0, 1, 2]
    assert [rows.hunk_rows(i) for i in range(4)] == [(1, 5), (6, 4), (12, 1), (15, 4)]
    # A file's first hunk comes into view with the file's heading; later hunks alone.
    assert [rows.hunk_span(i) for i in range(4)] == [(0, 6), (6, 4), (11, 2), (14, 5)]
    assert rows.digits == 3


def test_body_lines_are_numbered_per_side(diff: review.Diff) -> None:
    rows = DiffRows(diff)
    assert rows.body_lines(0, 0, 4) == [
        BodyLine(" ", "def f(x):", 1, 1),
        BodyLine("-", "    return x", 2, None),  # only the old side has it
        BodyLine("+", "    return x * 2", None, 2),
        BodyLine(" ", "# end", 3, 3),
    ]
    assert rows.body_lines(1, 1, 3) == [BodyLine("+", "b", None, 11), BodyLine(" ", "c", 11, 12)]
    assert rows.body_lines(3, 0, 3) == [
        BodyLine("+", "hello", None, 1),
        BodyLine("+", "world", None, 2),
        BodyLine("\\", "\\ No newline at end of file", None, None),
    ]


def test_a_long_hunk_is_numbered_from_checkpoints() -> None:
    diff = long_hunk_diff(CHUNK * 3 + 17)
    rows = DiffRows(diff)
    n = CHUNK * 3 + 17
    assert rows.hunk_rows(0) == (1, 1 + n)
    whole = hunk_body(diff.hunks[0]).numbered(0, n)
    assert [line.text for line in whole] == [f"line {i}" for i in range(n)]
    assert len(hunk_body(diff.hunks[0]).starts) == 4  # one per CHUNK lines
    # Any slice, from anywhere, numbers its lines as the whole walk does.
    for first, end in ((0, 10), (CHUNK, 2 * CHUNK), (CHUNK + 7, CHUNK + 9), (n - 5, n)):
        assert rows.body_lines(0, first, end) == whole[first:end]
    assert whole[0] == BodyLine("+", "line 0", None, 7)
    assert whole[1] == BodyLine("-", "line 1", 5, None)
    assert whole[2] == BodyLine(" ", "line 2", 6, 8)


def test_a_message_when_there_are_no_hunks() -> None:
    for rows in (DiffRows(None, None, "loading…\nsecond"), DiffRows(review.parse(""), 3, "x\ny")):
        assert rows.cursor is None and rows.current is None
        assert rows.scroll_height == 0  # nothing to scroll through
        assert [rows.row_at(y) for y in range(4)] == [
            Row("blank"),
            Row("message", line=0),
            Row("message", line=1),
            Row("blank"),
        ]
        assert rows.file_rows() == [] and rows.counts() == Counts(0, 0, 0)
        assert rows.step_target(1, 0, 10) is None and not rows.move_to(2)
    assert DiffRows().message_lines == []


def test_hunks_between_and_on_screen(diff: review.Diff) -> None:
    rows = DiffRows(diff)
    assert rows.hunks_between(0, 3) == [0]
    assert rows.hunks_between(5, 7) == [0, 1]
    assert rows.hunks_between(10, 12) == []  # the gap and the heading of gone.txt
    assert rows.hunks_between(10, 13) == [2]
    assert rows.hunks_between(0, 100) == [0, 1, 2, 3]
    assert rows.on_screen(2, 11, 1)  # only its file's heading shows: still on screen
    assert not rows.on_screen(2, 13, 5) and not rows.on_screen(3, 0, 14)
    assert rows.on_screen(3, 0, 15)


# --------------------------------------------------------------------------- the cursor


def test_cursor_starts_on_a_hunk_and_moves_clamped(diff: review.Diff) -> None:
    assert DiffRows(diff).cursor == 0
    assert DiffRows(diff, 2).cursor == 2
    assert DiffRows(diff, 9).cursor == 0  # out of range: the first hunk
    rows = DiffRows(diff, 1)
    assert rows.current is diff.hunks[1]
    assert rows.move_to(3) and rows.cursor == 3
    assert not rows.move_to(3) and not rows.move_to(10)  # clamped to the last: no move
    assert rows.move_to(-4) and rows.cursor == 0


def test_step_from_the_cursor_or_from_the_screen(diff: review.Diff) -> None:
    rows = DiffRows(diff)
    assert rows.step_target(1, 0, 20) == 1
    assert rows.step_target(-1, 0, 20) == 0  # the first stays the first
    rows.move_to(3)
    assert rows.step_target(1, 0, 20) == 3
    assert rows.step_target(-2, 0, 20) == 1
    # The cursor's hunk scrolled away: n or p starts from the first hunk on screen.
    rows.move_to(0)
    assert rows.step_target(1, 10, 5) == 2
    assert rows.step_target(-1, 14, 5) == 3


def test_cursor_after_a_fresh_diff(diff: review.Diff) -> None:
    hunks = diff.hunks
    assert cursor_after(hunks, None) == 0
    assert cursor_after([], hunks[0]) is None
    assert cursor_after(hunks, hunks[2]) == 2
    # Its hunk is gone: the same number (now the next hunk), or the last.
    fewer = [hunks[0], hunks[2], hunks[3]]
    assert cursor_after(fewer, hunks[1]) == 1
    assert cursor_after(fewer, hunks[3]) == 2
    assert cursor_after(hunks[:2], hunks[3]) == 1


# --------------------------------------------------------------------------- decisions


def test_decisions_marks_and_counts(diff: review.Diff) -> None:
    staged = review.parse(diff.text, approved=[diff.hunks[1].fingerprint])
    rows = DiffRows(staged)
    assert [rows.decision(h) for h in rows.hunks] == ["pending", "approved", "pending", "pending"]
    assert rows.counts() == Counts(pending=3, approved=1, rejected=0)
    assert rows.mark(rows.hunks[0].fingerprint, "rejected") == [0]
    assert rows.mark("no-such-hunk", "approved") == []
    assert rows.counts() == (2, 1, 1)
    assert rows.pending() == [rows.hunks[2], rows.hunks[3]]
    assert rows.counts(rows.hunks[:2]) == Counts(0, 1, 1)
    files = rows.file_rows()
    assert [(f.path, f.kind, f.added, f.removed, f.first_hunk) for f in files] == [
        ("app.py", "mod", 2, 1, 0),
        ("gone.txt", "del", 0, 2, 2),
        ("new.txt", "new", 2, 0, 3),
    ]
    assert [f.counts for f in files] == [(0, 1, 1), (1, 0, 0), (1, 0, 0)]
    assert rows.index_of(3) == 2 and rows.index_of(99) is None
    # A fresh model of the same diff starts from the diff again.
    assert DiffRows(staged).counts() == Counts(3, 1, 0)


# --------------------------------------------------------------------------- lexing


def test_lexing_units_of_short_and_long_hunks() -> None:
    assert unit_of(CHUNK * 3 // 2, CHUNK * 3 // 2 - 1) == lex.Span(0, 0, CHUNK * 3 // 2)
    n = CHUNK * 3 // 2 + 1
    assert unit_of(n, 0) == lex.Span(0, 0, CHUNK)
    assert unit_of(n, CHUNK) == lex.Span(1, CHUNK, n)


def test_sides_are_lexed_as_two_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    original = lex.lex_lines

    def recorded(lexer: Lexer, texts: list[str]) -> list[lex.Tokens]:
        if texts:
            seen.append(list(texts))
        return original(lexer, texts)

    monkeypatch.setattr(lex, "lex_lines", recorded)
    lines = [
        BodyLine(" ", 'S = """a', 1, 1),
        BodyLine("-", "def old(): pass", 2, None),
        BodyLine("+", "def new(): pass", None, 2),
        BodyLine(" ", '"""', 3, 3),
    ]
    out = lex_unit("m.py", lines, 512)
    assert seen == [
        ['S = """a', "def old(): pass", '"""'],  # the old side
        ['S = """a', "def new(): pass", '"""'],  # the new side
    ]
    # Inside the string on both sides: "def" is string, not a keyword.
    assert all(t in Token.Literal.String for t, _ in out[1].tokens)
    assert all(t in Token.Literal.String for t, _ in out[2].tokens)
    # A unit that only removes reads its context from the old side, and lexes once.
    seen.clear()
    out = lex_unit("m.py", [BodyLine(" ", "x = 1", 1, 1), BodyLine("-", "y = 2", 2, None)], 512)
    assert seen == [["x = 1", "y = 2"]]
    assert out[0].tokens and out[1].tokens
    seen.clear()
    lex_unit("m.py", [BodyLine(" ", "x = 1", 1, 1)], 512)
    assert seen == [["x = 1"]]


def test_lines_are_cut_cleaned_and_marked_before_lexing() -> None:
    lines = [
        BodyLine("+", "A" * 5000, None, 1),
        BodyLine("+", "windows\r", None, 2),
        BodyLine("+", "\x1b[2Jesc", None, 3),
        BodyLine("\\", "\\ No newline at end of file", None, None),
    ]
    out = lex_unit("notes.txt", lines, 600)
    assert (len(out[0].text), out[0].cut, out[0].crlf) == (600, True, False)
    assert (out[1].text, out[1].cut, out[1].crlf) == ("windows", False, True)
    assert "\x1b" not in out[2].text and "esc" in out[2].text
    assert out[3].tokens == [] and out[3].new is None
    assert [x.new for x in out] == [1, 2, 3, None]


def test_line_cache_is_bounded_by_lines() -> None:
    cache: LineCache[int, str] = LineCache(limit=10)
    cache.put(1, "a", 4)
    cache.put(2, "b", 4)
    assert cache.get(1) == "a"  # 1 is now the most recent
    cache.put(3, "c", 4)  # 12 lines: the least recent (2) goes
    assert cache.get(2) is None and cache.get(1) == "a" and cache.get(3) == "c"
    assert cache.lines == 8
    cache.put(4, "huge", 50)  # alone over the bound: kept, the others go
    assert len(cache) == 1 and cache.get(4) == "huge"
    cache.clear()
    assert len(cache) == 0 and cache.lines == 0


# --------------------------------------------------------------------------- no Textual

_PROBE = r"""
import json, sys
from fleet.core import review
from fleet.ui.diff import DiffRows, lexer_for
from fleet.ui.diff.lex import lex_unit
rows = DiffRows(review.parse(sys.stdin.read()))
lex_unit("app.py", rows.body_lines(0, 0, 4), 512)
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({"hunks": len(rows.hunks), "textual": loaded}))
"""


def test_the_model_and_lexing_load_no_textual() -> None:
    # A fresh interpreter: this one may have imported textual for other tests.
    p = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        input=DIFF,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"hunks": 4, "textual": []}


def test_the_file_lists_numbers_line_up_whatever_their_widths() -> None:
    from rich.style import Style

    from fleet.ui.diff.paint import file_columns, file_row_strip
    from fleet.ui.diff.rows import Counts, FileRow
    from fleet.ui.diff.styles import FileListStyles

    plain = FileListStyles(*(Style() for _ in range(8)))
    rows = [
        FileRow("a.py", "mod", 120, 3, False, Counts(2, 0, 0), 0),
        FileRow("b/long name.py", "new", 4, 1500, False, Counts(0, 11, 1), 2),
        FileRow("logo.png", "bin", 0, 0, True, Counts(1, 0, 0), 14),
        FileRow("c.txt", "del", 0, 7, False, Counts(0, 0, 1), 15),
    ]
    columns = file_columns(rows)
    drawn = [file_row_strip(r, i == 0, 60, plain, columns).text for i, r in enumerate(rows)]
    assert all(len(line) == 60 for line in drawn)
    numbered = [line for line, r in zip(drawn, rows, strict=True) if not r.binary]
    # "+N" ends, and "-N" ends, in the same column on every row; the decisions start together.
    plus_ends = {line.index(" ", line.rindex("+")) for line in numbered}
    minus_ends = {line.index(" ", line.rindex("-")) for line in numbered}
    assert len(plus_ends) == 1 and len(minus_ends) == 1
    assert "+120" in drawn[0] and "-1500" in drawn[1] and "✓11 ✗1" in drawn[1]
    assert "+" not in drawn[2]
