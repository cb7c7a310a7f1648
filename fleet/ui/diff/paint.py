"""One row of the diff, drawn: pure functions from the model's data and the styles to strips.

Every strip is exactly the width it is given (cut with … or ›, padded with the row's style),
so a narrow panel never wraps or leaves stale cells. The widgets decide what to cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from fleet.core import review
from fleet.ui.diff.lex import LexedLine
from fleet.ui.diff.rows import SYMBOLS, Counts, Decision, FileColumns, FileRow
from fleet.ui.diff.styles import DiffStyles, FileListStyles
from fleet.ui.diff.text import file_description, fit, fit_left, hunk_title, safe_label


def spread(left: list[Segment], right: list[Segment], width: int, fill: Style) -> Strip:
    """`left` then `right` pushed to the right edge; left is cut first, right dropped if the
    width cannot hold both."""
    right_w = sum(cell_len(s.text) for s in right)
    if right_w + 4 > width:
        right, right_w = [], 0
    room = width - right_w - (1 if right_w else 0)
    head = Strip(left)
    if head.cell_length > room:
        head = head.crop(0, max(0, room - 1))
        head = Strip([*head, Segment("…", fill)])
    body = head.crop_extend(0, width - right_w, fill)
    return Strip([*body, *right]).crop_extend(0, width, fill)


def cursor_bar(cursor: bool, styles: DiffStyles) -> Segment:
    """The left column: ┃ down the hunk under the cursor (a shape, not only a colour)."""
    return Segment("┃", styles.cursor_bar) if cursor else Segment(" ", styles.base)


def message_strip(text: str, width: int, styles: DiffStyles) -> Strip:
    shown = fit(safe_label(text), max(0, width - 2))
    return Strip([Segment("  " + shown, styles.muted)]).crop_extend(0, width, styles.base)


def file_strip(f: review.FileDiff, width: int, styles: DiffStyles) -> Strip:
    """A file's heading: ``── path · what happened · +a -r ───``; the path's start is cut
    first, and a narrow panel keeps only the path."""
    desc = f" · {file_description(f)} "
    path = safe_label(f.path, 4096)
    room = max(0, width - 3 - cell_len(desc) - 2)
    if room < 8:
        desc = " "
        room = max(0, width - 4)
    shown = fit_left(path, room)
    fill = max(0, width - 3 - cell_len(shown) - cell_len(desc))
    return Strip(
        [
            Segment("── ", styles.rule),
            Segment(shown, styles.file),
            Segment(desc, styles.rule),
            Segment("─" * fill, styles.rule),
        ]
    ).crop_extend(0, width, styles.rule)


def hunk_header_strip(
    f: review.FileDiff,
    hunk: review.Hunk,
    decision: Decision,
    cursor: bool,
    width: int,
    styles: DiffStyles,
) -> Strip:
    """``┃ #3 @@ -1,5 +1,5 @@ ...      ✓ approved``: the decision in words, at the right."""
    style = styles.hunk_cursor if cursor else styles.hunk
    left = [Segment(f" #{hunk.number} ", style), Segment(hunk_title(f, hunk), style)]
    right = [Segment(f"{SYMBOLS[decision]} {decision} ", style + styles.decision[decision])]
    header = spread(left, right, width - 1, style)
    return Strip([cursor_bar(cursor, styles), *header], width)


def line_numbers(old: int | None, new: int | None, digits: int) -> str:
    """The two number columns, old then new (as delta and lazygit show them): a removed line
    has only the old number, an added line only the new one."""
    left = f"{old:>{digits}}" if old is not None else " " * digits
    right = f"{new:>{digits}}" if new is not None else " " * digits
    return f"{left} {right} "


def body_segments(line: LexedLine, width: int, digits: int, styles: DiffStyles) -> list[Segment]:
    """A body line after the cursor column, exactly `width` cells: its old and new numbers,
    the ``▌+`` / ``▌-`` sign (not colour alone), the highlighted code cut with › when it does
    not fit."""
    kind = line.kind
    room = max(0, width - (2 * digits + 2 + 3))
    lead = Segment(line_numbers(line.old, line.new, digits), styles.number)
    line_style = styles.line[kind]
    if kind == "\\":
        segments = [lead, Segment("   ", styles.base), Segment(line.text, styles.meta)]
        return list(Strip(segments).crop_extend(0, width, styles.base))
    code = [Segment(v, styles.token(t, kind)) for t, v in line.tokens]
    if line.crlf:
        code.append(Segment("␍", line_style + styles.muted))
    used = sum(cell_len(seg.text) for seg in code)
    if line.cut or used > room:
        code = [*Strip(code).crop(0, max(0, room - 1)), Segment("›", styles.more)]
        used = sum(cell_len(seg.text) for seg in code)
    mark = Segment("▌" + kind + " " if kind != " " else "   ", styles.sign[kind])
    segments = [lead, mark, *code]
    if used < room:
        segments.append(Segment(" " * (room - used), line_style))
    elif used > room:  # a wide character at the edge
        segments = list(Strip(segments).crop_extend(0, width, line_style))
    return segments


def decision_counts(counts: Counts) -> list[tuple[int, str]]:
    """The decisions a file row shows, in order (only those it has): (count, decision)."""
    pending, approved, rejected = counts
    shown = ((approved, "approved"), (rejected, "rejected"), (pending, "pending"))
    return [(n, d) for n, d in shown if n]


def file_columns(rows: Sequence[FileRow]) -> FileColumns:
    """Widths that make every row's ``+N -N`` and decisions line up."""
    added = max((len(f"+{r.added}") for r in rows if not r.binary), default=0)
    removed = max((len(f"-{r.removed}") for r in rows if not r.binary), default=0)
    decided = max(
        (sum(len(f"{SYMBOLS[d]}{n} ") for n, d in decision_counts(r.counts)) for r in rows),
        default=0,
    )
    return FileColumns(added, removed, decided)


def file_row_strip(
    row: FileRow, on: bool, width: int, s: FileListStyles, columns: FileColumns | None = None
) -> Strip:
    """A file list row: ``▶ mod  path      +4 -1  ✓1 ○2``; the path's start is cut first.
    With `columns` (:func:`file_columns` of all rows) the numbers of every row line up."""
    base = s.cursor if on else s.base
    cols = columns or file_columns([row])
    right: list[Segment] = []
    if not row.binary:
        right += [
            Segment(f"+{row.added}".rjust(cols.added), base + s.added),
            Segment(" ", base),
            Segment(f"-{row.removed}".rjust(cols.removed), base + s.removed),
            Segment("  ", base),
        ]
    elif cols.added:
        right.append(Segment(" " * (cols.added + cols.removed + 3), base))
    styles = {"approved": s.approved, "rejected": s.rejected, "pending": s.muted}
    used = 0
    for n, decision in decision_counts(row.counts):
        text = f"{SYMBOLS[decision]}{n}"
        right += [Segment(text, base + styles[decision]), Segment(" ", base)]
        used += len(text) + 1
    if used < cols.decided:
        right.append(Segment(" " * (cols.decided - used), base))
    right_w = sum(cell_len(seg.text) for seg in right)
    room = max(0, width - 2 - 5 - right_w - 1)
    left = [
        Segment("▶ " if on else "  ", s.bar if on else base),
        Segment(f"{row.kind:<4} ", base + s.muted),
        Segment(fit_left(row.path, room), base),
    ]
    return spread(left, right, width, base)


__all__ = [
    "body_segments",
    "cursor_bar",
    "file_columns",
    "file_row_strip",
    "file_strip",
    "hunk_header_strip",
    "message_strip",
    "spread",
]
