"""The diff panel's document model: its rows, the hunk cursor and the decisions.

No Textual here (plain dataclasses and functions, like textual's own TextArea keeps its
document apart from its widget): :class:`DiffRows` is built from a :class:`review.Diff` and
answers what the widget needs to draw one row at a time without looking at the rest.

The rows, top to bottom: for each file a blank gap (not before the first), the file's heading,
then for each of its hunks a header row and the hunk's body lines (none for a collapsed hunk:
a whole-file change or a deleted file). A diff without hunks shows its message instead, one
line a row under a blank one. Body lines are numbered from checkpoints every :data:`CHUNK`
lines, so a row deep in a long hunk costs at most ``CHUNK`` steps, not the whole hunk.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from fleet.core import review
from fleet.ui.diff.text import file_kind, safe_label

Decision = Literal["pending", "approved", "rejected"]
LineKind = Literal[" ", "+", "-", "\\"]
RowKind = Literal["blank", "file", "hunk", "body", "message"]

DECISIONS: tuple[Decision, ...] = ("pending", "approved", "rejected")
SYMBOLS: dict[str, str] = {"pending": "○", "approved": "✓", "rejected": "✗"}
CHUNK = 200  # body lines per checkpoint, and per lexing unit of a long hunk
BODY_CACHE = 64  # hunks whose split body lines are kept


@dataclass(frozen=True)
class Block:
    """A run of rows: a blank gap, a file's heading, or a hunk (header + body)."""

    y: int
    kind: Literal["gap", "file", "hunk"]
    file: int
    hunk: int = -1  # index into DiffRows.hunks
    height: int = 1


class Row(NamedTuple):
    """What one row shows (a named tuple: one is made per row drawn, and this is the cheapest
    typed record to make)."""

    kind: RowKind
    file: int = -1
    hunk: int = -1
    line: int = -1  # a body row: its line in the hunk's body; a message row: its message line


BLANK = Row("blank")


@dataclass(frozen=True)
class BodyLine:
    """One line of a hunk's body, as the view numbers and lexes it."""

    kind: LineKind
    text: str  # without its sign (a "\\ No newline" line whole); a trailing CR kept
    old: int | None  # its number on the old side (context, removed), else None
    new: int | None  # its number on the new side (context, added), else None


class Counts(NamedTuple):
    """How many hunks wait for a decision, and how many have one."""

    pending: int = 0
    approved: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class FileRow:
    """One line of the file list."""

    path: str  # made safe to draw
    kind: str  # new, del, mod, bin, mode
    added: int
    removed: int
    binary: bool
    counts: Counts
    first_hunk: int  # index of the file's first hunk


class FileColumns(NamedTuple):
    """Widths of the file list's number columns, shared by all its rows so they line up."""

    added: int  # of "+N"
    removed: int  # of "-N"
    decided: int  # of the decision counts


def _advance(sign: str, old: int, new: int) -> tuple[int, int]:
    """The (old, new) line numbers after a body line starting with `sign`."""
    if sign == "+":
        return old, new + 1
    if sign == "-":
        return old + 1, new
    if sign == "\\":
        return old, new
    return old + 1, new + 1


@dataclass(frozen=True)
class HunkBody:
    """A hunk's body lines (with their signs) and the line numbers at every CHUNK-th one."""

    lines: list[str]
    starts: list[tuple[int, int]]  # (old, new) numbers of body line k * CHUNK

    def numbered(self, first: int, end: int) -> list[BodyLine]:
        """Body lines [first, end) with their kinds and line numbers."""
        k = min(first // CHUNK, len(self.starts) - 1)
        old, new = self.starts[k]
        for raw in self.lines[k * CHUNK : first]:
            old, new = _advance(raw[:1], old, new)
        out: list[BodyLine] = []
        for raw in self.lines[first:end]:
            sign = raw[:1]
            if sign == "\\":
                out.append(BodyLine("\\", raw, None, None))
            elif sign == "+":
                out.append(BodyLine("+", raw[1:], None, new))
            elif sign == "-":
                out.append(BodyLine("-", raw[1:], old, None))
            else:
                out.append(BodyLine(" ", raw[1:], old, new))
            old, new = _advance(sign, old, new)
        return out


def hunk_body(hunk: review.Hunk) -> HunkBody:
    lines = hunk.text.split("\n")[1:]
    if hunk.text.endswith("\n"):
        lines.pop()
    starts: list[tuple[int, int]] = []
    old, new = hunk.old_start, hunk.new_start
    for i, raw in enumerate(lines):
        if i % CHUNK == 0:
            starts.append((old, new))
        old, new = _advance(raw[:1], old, new)
    if not starts:
        starts.append((old, new))
    return HunkBody(lines, starts)


def body_count(hunk: review.Hunk) -> int:
    """Lines in a hunk's body (after its @@ header), counted without splitting its text."""
    text = hunk.text
    n = text.count("\n")
    return n - 1 if text.endswith("\n") else n


def collapsed(f: review.FileDiff, hunk: review.Hunk) -> bool:
    """A hunk drawn as its header row only: a whole-file change, or a deleted file."""
    return hunk.whole_file or f.status == "deleted"


def cursor_after(hunks: Sequence[review.Hunk], old: review.Hunk | None) -> int | None:
    """Where the cursor goes in a fresh diff of the same session: on the hunk it was on when
    that is still there, else on the same number (the next hunk, when its own went)."""
    if not hunks:
        return None
    if old is None:
        return 0
    by_fp = {h.fingerprint: i for i, h in enumerate(hunks)}
    return by_fp.get(old.fingerprint, min(old.number, len(hunks)) - 1)


class DiffRows:
    """A diff as rows, with a hunk cursor and the decisions taken here since it came."""

    def __init__(
        self, diff: review.Diff | None = None, cursor: int | None = None, message: str = ""
    ) -> None:
        self.diff = diff
        self.message = message
        self.marks: dict[str, Decision] = {}  # decisions taken here, by hunk fingerprint
        self.hunks: list[review.Hunk] = []
        self.hunk_files: list[int] = []  # file index of each hunk
        self.blocks: list[Block] = []
        self.height = 0  # rows of files and hunks
        self.digits = 3  # width of each line-number column (old, new)
        self._hunk_block: list[int] = []
        self._bodies: OrderedDict[int, HunkBody] = OrderedDict()
        self._lay_out(diff.files if diff is not None else ())
        self._starts = [b.y for b in self.blocks]
        self.cursor: int | None = None
        if self.hunks:
            self.cursor = cursor if cursor is not None and 0 <= cursor < len(self.hunks) else 0

    def _lay_out(self, files: Iterable[review.FileDiff]) -> None:
        y = 0
        last_line = 1
        for fi, f in enumerate(files):
            if fi:
                self.blocks.append(Block(y, "gap", fi))
                y += 1
            self.blocks.append(Block(y, "file", fi))
            y += 1
            for hunk in f.hunks:
                body = 0 if collapsed(f, hunk) else body_count(hunk)
                self._hunk_block.append(len(self.blocks))
                self.blocks.append(Block(y, "hunk", fi, len(self.hunks), 1 + body))
                self.hunks.append(hunk)
                self.hunk_files.append(fi)
                y += 1 + body
                end = max(hunk.old_start + hunk.old_lines, hunk.new_start + hunk.new_lines)
                last_line = max(last_line, end)
        self.height = y
        self.digits = max(3, len(str(last_line)))

    # -- rows ----------------------------------------------------------------------------------

    @property
    def scroll_height(self) -> int:
        """Rows to scroll through: none when only a message shows."""
        return self.height if self.hunks else 0

    @property
    def message_lines(self) -> list[str]:
        return self.message.split("\n") if self.message else []

    def row_at(self, y: int) -> Row:
        """What row `y` (from the top of the whole diff) shows."""
        if not self.hunks:
            if 1 <= y <= len(self.message_lines):
                return Row("message", line=y - 1)
            return BLANK
        if not 0 <= y < self.height:
            return BLANK
        block = self.blocks[bisect_right(self._starts, y) - 1]
        if block.kind == "gap":
            return BLANK
        if block.kind == "file":
            return Row("file", file=block.file)
        line = y - block.y
        if line == 0:
            return Row("hunk", block.file, block.hunk)
        return Row("body", block.file, block.hunk, line - 1)

    def hunk_rows(self, index: int) -> tuple[int, int]:
        """(first row, number of rows) of hunk `index`: its header, then its body lines."""
        block = self.blocks[self._hunk_block[index]]
        return block.y, block.height

    def hunk_span(self, index: int) -> tuple[int, int]:
        """(first row, number of rows) of hunk `index` with its file's heading when it is the
        file's first hunk: what scrolling to the hunk brings into view."""
        bi = self._hunk_block[index]
        block = self.blocks[bi]
        if bi and self.blocks[bi - 1].kind == "file":
            return block.y - 1, block.height + 1
        return block.y, block.height

    def on_screen(self, index: int, top: int, height: int) -> bool:
        """Whether hunk `index` (with its heading) shares a row with rows [top, top+height)."""
        y, rows = self.hunk_span(index)
        return y < top + max(1, height) and top < y + rows

    def hunks_between(self, top: int, bottom: int) -> list[int]:
        """Indices of the hunks with at least one row in [top, bottom)."""
        if not self.blocks:
            return []
        out: list[int] = []
        k = max(0, bisect_right(self._starts, top) - 1)
        while k < len(self.blocks) and self.blocks[k].y < bottom:
            if self.blocks[k].kind == "hunk":
                out.append(self.blocks[k].hunk)
            k += 1
        return out

    def body_lines(self, index: int, first: int, end: int) -> list[BodyLine]:
        """Body lines [first, end) of hunk `index`, numbered."""
        body = self._bodies.get(index)
        if body is None:
            body = self._bodies[index] = hunk_body(self.hunks[index])
            if len(self._bodies) > BODY_CACHE:
                self._bodies.popitem(last=False)
        else:
            self._bodies.move_to_end(index)
        return body.numbered(first, end)

    # -- cursor --------------------------------------------------------------------------------

    @property
    def current(self) -> review.Hunk | None:
        return self.hunks[self.cursor] if self.cursor is not None else None

    def clamp(self, index: int) -> int:
        return max(0, min(len(self.hunks) - 1, index))

    def move_to(self, index: int) -> bool:
        """Put the cursor on hunk `index` (clamped); whether it moved."""
        if not self.hunks:
            return False
        index = self.clamp(index)
        if index == self.cursor:
            return False
        self.cursor = index
        return True

    def step_target(self, delta: int, top: int, height: int) -> int | None:
        """The hunk `delta` hunks from the cursor; the first hunk on screen (rows [top,
        top+height)) when the cursor's hunk has been scrolled away. None without hunks."""
        if not self.hunks:
            return None
        if self.cursor is None or not self.on_screen(self.cursor, top, height):
            seen = self.hunks_between(top, top + height)
            return seen[0] if seen else 0
        return self.clamp(self.cursor + delta)

    # -- decisions -----------------------------------------------------------------------------

    def decision(self, hunk: review.Hunk) -> Decision:
        """A decision taken here, else what the diff says (staged hunks are approved)."""
        mark = self.marks.get(hunk.fingerprint)
        if mark is not None:
            return mark
        return "approved" if hunk.approved else "pending"

    def mark(self, fingerprint: str, decision: Decision) -> list[int]:
        """Take `decision` on the hunk with `fingerprint`; the indices of the hunks it shows on."""
        self.marks[fingerprint] = decision
        return [i for i, h in enumerate(self.hunks) if h.fingerprint == fingerprint]

    def index_of(self, number: int) -> int | None:
        """The index of hunk number `number`, None when the diff has no such hunk."""
        for i, hunk in enumerate(self.hunks):
            if hunk.number == number:
                return i
        return None

    def pending(self) -> list[review.Hunk]:
        return [h for h in self.hunks if self.decision(h) == "pending"]

    def counts(self, hunks: Iterable[review.Hunk] | None = None) -> Counts:
        """Decisions over `hunks` (all of them by default)."""
        pending = approved = rejected = 0
        for h in self.hunks if hunks is None else hunks:
            d = self.decision(h)
            if d == "approved":
                approved += 1
            elif d == "rejected":
                rejected += 1
            else:
                pending += 1
        return Counts(pending, approved, rejected)

    def file_rows(self) -> list[FileRow]:
        """The file list: one row per file (none while only a message shows)."""
        if self.diff is None or not self.hunks:
            return []
        rows: list[FileRow] = []
        first = 0
        for f in self.diff.files:
            path = safe_label(f.path, 4096)
            counts = self.counts(f.hunks)
            rows.append(FileRow(path, file_kind(f), f.added, f.removed, f.binary, counts, first))
            first += len(f.hunks)
        return rows


__all__ = [
    "CHUNK",
    "DECISIONS",
    "SYMBOLS",
    "BodyLine",
    "Counts",
    "Decision",
    "DiffRows",
    "FileColumns",
    "FileRow",
    "Row",
    "cursor_after",
    "hunk_body",
]
