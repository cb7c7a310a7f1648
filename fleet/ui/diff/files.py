"""The file list: one row per file of the diff, what changed and the decisions per file."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.theme import Theme

from fleet.ui.diff.paint import file_columns, file_row_strip
from fleet.ui.diff.rows import FileColumns, FileRow
from fleet.ui.diff.styles import FileListStyles, file_list_styles


class FileList(ScrollView, inherit_bindings=False):
    """A compact list of the diff's files: what changed, +/- counts, decisions per file."""

    DEFAULT_CSS = """
    FileList {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        height: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Previous file", show=False),
        Binding("down", "cursor(1)", "Next file", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1000000000)", "First file", show=False),
        Binding("end", "cursor(1000000000)", "Last file", show=False),
        Binding("enter", "choose", "Show file", show=False),
    ]

    class Chosen(Message):
        """The person chose a file (enter or click): show its first hunk."""

        def __init__(self, file_list: FileList, row: FileRow) -> None:
            self.file_list = file_list
            self.row = row
            super().__init__()

        @property
        def control(self) -> FileList:
            return self.file_list

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[FileRow] = []
        self.columns = FileColumns(0, 0, 0)
        self.cursor = 0
        self._styles: FileListStyles | None = None

    def set_rows(self, rows: list[FileRow], cursor: int | None = None) -> None:
        self.rows = rows
        self.columns = file_columns(rows)
        if cursor is not None:
            self.cursor = cursor
        self.cursor = max(0, min(len(rows) - 1, self.cursor))
        self.virtual_size = Size(max(0, self.scrollable_content_region.width), len(rows))
        self.refresh()

    def move(self, cursor: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, cursor))
        width = max(1, self.scrollable_content_region.width)
        self.scroll_to_region(
            Region(0, self.cursor, width, 1), animate=False, immediate=True, force=True
        )
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_choose(self) -> None:
        if self.rows:
            self.post_message(self.Chosen(self, self.rows[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = offset.y + round(self.scroll_offset.y)
        if 0 <= row < len(self.rows):
            self.move(row)
            self.action_choose()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)

    def _on_theme_changed(self, theme: Theme) -> None:
        self._styles = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(max(0, self.scrollable_content_region.width), len(self.rows))

    def render_line(self, y: int) -> Strip:
        if self._styles is None:
            self._styles = file_list_styles(self)
        width = max(0, self.scrollable_content_region.width)
        i = y + round(self.scroll_offset.y)
        if not 0 <= i < len(self.rows):
            return Strip.blank(width, self._styles.base)
        return file_row_strip(self.rows[i], i == self.cursor, width, self._styles, self.columns)


__all__ = ["FileList"]
