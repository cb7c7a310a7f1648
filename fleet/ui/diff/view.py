"""The hunks view: a Line-API ScrollView that draws only the rows on screen.

The rows, the cursor and the decisions are a :class:`~fleet.ui.diff.rows.DiffRows`; this widget
maps a screen line to a row, draws it (:mod:`fleet.ui.diff.paint`) and keeps what it drew.
Body lines are lexed a unit at a time (:mod:`fleet.ui.diff.lex`) the first time one of them
is drawn; a unit's styled lines and its finished strips (with and without the cursor bar) are
cached per (hunk, chunk, width, styles generation), so an unchanged line is the same Strip
frame after frame and a cursor move repaints without lexing again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.theme import Theme

from fleet.core import review
from fleet.ui.diff import paint
from fleet.ui.diff.lex import (
    RAW_LIMIT,
    LexedLine,
    LineCache,
    Span,
    chunk_of,
    lex_unit,
    unit_of,
)
from fleet.ui.diff.rows import Decision, DiffRows
from fleet.ui.diff.styles import DiffStyles, diff_styles

FILE_STRIPS = 256  # file headings kept (they are cheap: a reset, not an LRU)


@dataclass
class _Unit:
    """Styled lines of one lexing unit, and the finished strips made from them on first draw."""

    first: int
    lines: list[list[Segment]]  # each line's segments after the cursor column
    strips: dict[bool, list[Strip | None]]  # is-cursor -> finished strips, made when drawn


class DiffView(ScrollView):
    """The hunks (Line API): file headings, hunk headers with their decision, body lines."""

    DEFAULT_CSS = """
    DiffView {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        height: 1fr;
    }
    """

    class CursorMoved(Message):
        """The hunk cursor moved (for the panel's title and file list)."""

        def __init__(self, view: DiffView) -> None:
            self.view = view
            super().__init__()

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows = DiffRows()
        self._units: LineCache[tuple[int, int, int, int], _Unit] = LineCache()
        self._file_strips: dict[tuple[int, int, int], Strip] = {}
        self._styles: DiffStyles | None = None
        self._gen = 0

    # -- data ----------------------------------------------------------------------------------

    def set_diff(self, diff: review.Diff | None, cursor: int | None, message: str = "") -> None:
        """Show `diff` (None: only `message`) with the cursor on hunk index `cursor`."""
        self.rows = DiffRows(diff, cursor, message)
        self._units.clear()
        self._file_strips.clear()
        self.virtual_size = Size(self._width(), self.rows.scroll_height)
        self.refresh()
        self.post_message(self.CursorMoved(self))

    @property
    def diff(self) -> review.Diff | None:
        return self.rows.diff

    @property
    def hunks(self) -> list[review.Hunk]:
        return self.rows.hunks

    @property
    def hunk_files(self) -> list[int]:
        """The file index of each hunk."""
        return self.rows.hunk_files

    @property
    def message(self) -> str:
        return self.rows.message

    @property
    def cursor(self) -> int | None:
        return self.rows.cursor

    @property
    def current(self) -> review.Hunk | None:
        return self.rows.current

    def decision(self, hunk: review.Hunk) -> Decision:
        return self.rows.decision(hunk)

    def mark(self, fingerprint: str, decision: Decision) -> None:
        """Show `decision` on the hunk with `fingerprint` (until the next diff)."""
        for index in self.rows.mark(fingerprint, decision):
            self._refresh_virtual(self.rows.hunk_rows(index)[0], 1)

    def mark_all(self, hunks: list[review.Hunk], decision: Decision) -> None:
        for hunk in hunks:
            self.rows.mark(hunk.fingerprint, decision)
        self.refresh()

    # -- cursor --------------------------------------------------------------------------------

    def hunk_rows(self, index: int) -> tuple[int, int]:
        """(first row, number of rows) of hunk `index` in the virtual space: its header, then
        its body lines."""
        return self.rows.hunk_rows(index)

    def hunk_region(self, index: int) -> Region:
        """Where hunk `index` is in the virtual space (with its file heading when first)."""
        y, height = self.rows.hunk_span(index)
        return Region(0, y, max(1, self._width()), height)

    def _top(self) -> int:
        return round(self.scroll_offset.y)

    def on_screen(self, index: int) -> bool:
        return self.rows.on_screen(index, self._top(), self.scrollable_content_region.height)

    def hunks_on_screen(self) -> list[int]:
        """Indices of the hunks with at least one row on screen."""
        top = self._top()
        return self.rows.hunks_between(top, top + self.scrollable_content_region.height)

    def scroll_to_hunk(self, index: int) -> None:
        region = self.hunk_region(index)
        room = self.scrollable_content_region.height
        if room <= 0:  # not laid out yet: once it is
            self.call_after_refresh(self._scroll_later, index)
            return
        if region.height > room:
            region = Region(region.x, region.y, region.width, room)
        self.scroll_to_region(region, animate=False, immediate=True, force=True)

    def _scroll_later(self, index: int) -> None:
        if self.cursor == index and self.scrollable_content_region.height > 0:
            self.scroll_to_hunk(index)

    def move_cursor(self, index: int, scroll: bool = True) -> None:
        if not self.hunks:
            return
        index = self.rows.clamp(index)
        if scroll:
            self.scroll_to_hunk(index)
        if self.rows.move_to(index):
            self.refresh()
            self.post_message(self.CursorMoved(self))

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) hunk; from the first hunk on screen when the cursor's
        hunk has been scrolled away."""
        target = self.rows.step_target(delta, self._top(), self.scrollable_content_region.height)
        if target is not None:
            self.move_cursor(target)

    # -- lifecycle -----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _on_theme_changed(self, theme: Theme) -> None:
        self._invalidate_styles()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate_styles()

    def _invalidate_styles(self) -> None:
        self._styles = None
        self._gen += 1
        self._units.clear()
        self._file_strips.clear()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._width(), self.rows.scroll_height)
        self.refresh()

    def _width(self) -> int:
        return max(0, self.scrollable_content_region.width)

    # A page jumps at once: an animated scroll would draw (and lex) every line it passes.
    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)

    def _refresh_virtual(self, y: int, height: int) -> None:
        """Repaint rows [y, y+height) of the virtual space, if any of them is on screen."""
        top = self._top()
        lo, hi = max(y, top), min(y + height, top + self.scrollable_content_region.height)
        if lo < hi:
            self.refresh(Region(0, lo - top, max(1, self._width()), hi - lo))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.rows.row_at(offset.y + self._top())
        if row.kind in ("hunk", "body"):
            self.move_cursor(row.hunk, scroll=False)

    # -- drawing -------------------------------------------------------------------------------

    def _get_styles(self) -> DiffStyles:
        if self._styles is None:
            self._styles = diff_styles(self)
        return self._styles

    def render_line(self, y: int) -> Strip:
        styles = self._get_styles()
        width = self._width()
        if width < 2:
            return Strip.blank(width, styles.base)
        rows = self.rows
        row = rows.row_at(y + self._top())
        kind = row.kind
        if kind == "body":  # most rows: first
            return self._body_line(row.hunk, row.line, width, styles)
        if kind == "hunk":
            assert rows.diff is not None
            hunk = rows.hunks[row.hunk]
            cursor = row.hunk == rows.cursor
            f = rows.diff.files[row.file]
            return paint.hunk_header_strip(f, hunk, rows.decision(hunk), cursor, width, styles)
        if kind == "file":
            return self._file_line(row.file, width, styles)
        if kind == "message":
            return paint.message_strip(rows.message_lines[row.line], width, styles)
        return Strip.blank(width, styles.base)

    def _file_line(self, fi: int, width: int, styles: DiffStyles) -> Strip:
        key = (fi, width, self._gen)
        strip = self._file_strips.get(key)
        if strip is None:
            assert self.rows.diff is not None
            strip = paint.file_strip(self.rows.diff.files[fi], width, styles)
            if len(self._file_strips) > FILE_STRIPS:
                self._file_strips.clear()
            self._file_strips[key] = strip
        return strip

    def _body_line(self, index: int, line: int, width: int, styles: DiffStyles) -> Strip:
        rows = self.rows
        n_body = rows.hunk_rows(index)[1] - 1
        key = (index, chunk_of(n_body, line), width, self._gen)
        unit = self._units.get(key)
        if unit is None:
            span = unit_of(n_body, line)
            lexed = self._lex(index, span, width - 1)
            lines = [paint.body_segments(x, width - 1, rows.digits, styles) for x in lexed]
            unit = _Unit(span.first, lines, {True: [None] * len(lines), False: [None] * len(lines)})
            self._units.put(key, unit, len(lines))
        cursor = index == rows.cursor
        i = line - unit.first
        made = unit.strips[cursor]
        strip = made[i]
        if strip is None:
            bar = paint.cursor_bar(cursor, styles)
            strip = made[i] = Strip([bar, *unit.lines[i]], width)
        return strip

    def _lex(self, index: int, span: Span, width: int) -> list[LexedLine]:
        """Body lines [span.first, span.end) of hunk `index`, numbered and lexed; each cut to a
        few times the `width` first, so a 1 MB line costs what a screenful does."""
        lines = self.rows.body_lines(index, span.first, span.end)
        return lex_unit(self.rows.hunks[index].path, lines, max(RAW_LIMIT, width * 4))


__all__ = ["DiffView"]
