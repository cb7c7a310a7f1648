"""The side-panel diff: a session's files and hunks, a hunk cursor and keyboard review.

:class:`DiffPanel` holds a one-line title, a :class:`FileList` (``tab`` toggles it with the
hunks) and the hunks themselves in :class:`DiffView`, a Line-API ScrollView that draws only
the lines on screen. Highlighting is lazy: a hunk is lexed (pygments, the file's lexer) the
first time one of its lines is drawn, whole, so multi-line strings come out right; a hunk
longer than ``CHUNK * 3 // 2`` lines is lexed ``CHUNK`` lines at a time. The old side
(context and removed lines) and the new side (context and added lines) are lexed as two
texts, so each reads as the code it is. Styled lines are cached per (hunk, chunk, width,
theme) in an LRU of about ``CACHE_LINES`` lines; nothing is lexed at open.

Added and removed lines keep their ``+`` / ``-`` sign and carry a ``▌`` bar besides their tint;
the hunk under the cursor has a ``┃`` bar down its left edge; decisions are words with a
symbol (``○ pending``, ``✓ approved``, ``✗ rejected``). Everything an agent wrote (paths,
lines, hunk headers) is made inert and cut to the width before it is drawn.

Data goes down (:meth:`DiffPanel.show`, :meth:`DiffPanel.clear`, :meth:`DiffPanel.mark`);
decisions go up as :class:`DiffPanel.Decide` messages, escape as :class:`DiffPanel.Closed`.
The panel never calls the supervisor.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from pygments.lexer import Lexer
from pygments.lexers import find_lexer_class_for_filename
from pygments.lexers.special import TextLexer
from pygments.token import Token, _TokenType
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.theme import Theme
from textual.widget import Widget
from textual.widgets import Static

from fleet.core import review
from fleet.core.textsafe import inert
from fleet.ui.bindings import DIFF_PANEL
from fleet.ui.screens.prompt import PromptScreen
from fleet.ui.themes import css_variables, readable, theme_colour

Decision = Literal["pending", "approved", "rejected"]
Action = Literal["approve", "reject", "approve-all", "undo"]

CHUNK = 200  # lines lexed at a time in a long hunk (a hunk up to 1.5 x this is lexed whole)
CACHE_LINES = 1024  # styled lines kept (a few screens' worth)
RAW_LIMIT = 512  # characters of a line kept before lexing, at least (4 x the width if more)
SYMBOLS: dict[str, str] = {"pending": "○", "approved": "✓", "rejected": "✗"}
DECISIONS: tuple[Decision, ...] = ("pending", "approved", "rejected")


# --------------------------------------------------------------------------- text and lexing


def clean(text: str, limit: int) -> tuple[str, bool]:
    """One line safe to draw: at most `limit` characters, inert, tabs expanded; and whether
    it was cut. A carriage return inside the line shows as ␍."""
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if text.isascii() and text.isprintable():
        return text, cut
    try:
        text = review.printable(text)
    except UnicodeError:  # a lone surrogate that surrogateescape cannot carry
        text = text.encode("utf-8", "replace").decode("utf-8")
    text = inert(text).replace("\n", "␍")
    if "\u2028" in text or "\u2029" in text:  # line/paragraph separators break a cell row
        text = text.replace("\u2028", "␤").replace("\u2029", "␤")
    if "\t" in text:
        text = text.expandtabs(4)
    return text, cut


def safe_label(text: str, limit: int = 400) -> str:
    """A path or header for one line: inert, no line breaks."""
    shown, _ = clean(text, limit)
    return shown


@functools.lru_cache(maxsize=64)
def _lexer_of_class(cls: type[Lexer]) -> Lexer:
    return cls(stripnl=False, stripall=False, ensurenl=True)


@functools.lru_cache(maxsize=512)
def lexer_for(path: str) -> Lexer:
    """The shared lexer for a file name (by its base name); plain text when none fits."""
    name = path.rsplit("/", 1)[-1]
    try:
        cls = find_lexer_class_for_filename(name)
    except Exception:  # a lexer plugin that fails to load must not break the panel
        cls = None
    return _lexer_of_class(cls or TextLexer)


def warm_up() -> None:
    """Pay pygments' first-use costs (its file-name patterns, ~120 ms; a lexer's rules, ~30
    ms) ahead of the first diff. Blocking: the panel runs it in a thread when mounted."""
    lex_lines(lexer_for("warm_up.py"), ["def f(x: int) -> str:", '    return f"{x}"  # done'])


def lex_lines(lexer: Lexer, texts: list[str]) -> list[list[tuple[_TokenType, str]]]:
    """Lex `texts` as one text and split the tokens back into lines."""
    out: list[list[tuple[_TokenType, str]]] = [[] for _ in texts]
    if not texts:
        return out
    last = len(out) - 1
    row = 0
    try:
        tokens = list(lexer.get_tokens("\n".join(texts) + "\n"))
    except Exception:  # pygments should not raise; if it does, show plain text
        return [[(Token.Text, t)] if t else [] for t in texts]
    for ttype, value in tokens:
        if "\n" not in value:
            if value:
                out[row].append((ttype, value))
            continue
        for i, part in enumerate(value.split("\n")):
            if i:
                row = min(row + 1, last)
            if part:
                out[row].append((ttype, part))
    return out


# Token type -> role in the palette; a type not listed takes its nearest listed parent's role.
_ROLES: dict[_TokenType, str] = {
    Token.Comment: "comment",
    Token.Keyword: "keyword",
    Token.Operator.Word: "keyword",
    Token.Name.Builtin: "builtin",
    Token.Name.Function: "function",
    Token.Name.Class: "function",
    Token.Name.Decorator: "function",
    Token.Name.Tag: "keyword",
    Token.Name.Attribute: "function",
    Token.Literal.String: "string",
    Token.Literal.Number: "number",
    Token.Error: "error",
    Token.Generic.Error: "error",
}


@functools.lru_cache(maxsize=1024)
def _role(ttype: _TokenType) -> str:
    t: _TokenType | None = ttype
    while t is not None:
        role = _ROLES.get(t)
        if role is not None:
            return role
        t = t.parent
    return ""


# --------------------------------------------------------------------------- theme


def _colour(
    variables: Mapping[str, str], *names: str, fallback: str, over: Color | None = None
) -> Color:
    found = theme_colour(variables, *names, over=over)
    return found if found is not None else Color.parse(fallback)


class _Theme:
    """The colours a widget draws with, from the app's theme variables."""

    def __init__(self, widget: Widget) -> None:
        self.variables = css_variables(widget.app)
        base = widget.rich_style
        self.base = base
        self.background = (
            Color.from_rich_color(base.bgcolor)
            if base.bgcolor is not None
            else _colour(self.variables, "surface", "background", fallback="#1e1e1e")
        )
        self.foreground = (
            Color.from_rich_color(base.color)
            if base.color is not None
            else self.colour("foreground", fallback="#e0e0e0")
        )

    def colour(self, *names: str, fallback: str = "#808080") -> Color:
        """The first of the theme variables `names` that is a colour, over the background."""
        return _colour(self.variables, *names, fallback=fallback, over=self.background)

    def text(self, *names: str, fallback: str = "#808080") -> Color:
        """A colour for text: readable on this background."""
        return readable(self.colour(*names, fallback=fallback), self.background, self.foreground)

    def tint(self, *names: str, amount: float = 0.16) -> Color:
        return self.background.blend(self.colour(*names), amount)

    def style(
        self,
        colour: Color | None = None,
        bg: Color | None = None,
        *,
        bold: bool | None = None,
        dim: bool | None = None,
        italic: bool | None = None,
    ) -> Style:
        return self.base + Style(
            color=colour.rich_color if colour is not None else None,
            bgcolor=bg.rich_color if bg is not None else None,
            bold=bold,
            dim=dim,
            italic=italic,
        )


@dataclass
class _Styles:
    """Rich styles resolved once per theme, not per line."""

    base: Style
    muted: Style
    number: Style
    file: Style
    rule: Style
    hunk: Style
    hunk_cursor: Style
    cursor_bar: Style
    meta: Style
    more: Style
    line: dict[str, Style]  # line kind (" ", "+", "-", "\\") -> the line's style (its tint)
    sign: dict[str, Style]  # line kind -> the ▌ bar and sign
    decision: dict[str, Style]
    roles: dict[str, Style]
    _tokens: dict[tuple[_TokenType, str], Style] = field(default_factory=dict)

    def token(self, ttype: _TokenType, kind: str) -> Style:
        key = (ttype, kind)
        style = self._tokens.get(key)
        if style is None:
            role = _role(ttype)
            style = self.line[kind] + self.roles[role] if role else self.line[kind]
            self._tokens[key] = style
        return style


def _resolve_styles(widget: Widget) -> _Styles:
    t = _Theme(widget)
    base = t.base
    muted = t.text("foreground-muted", "text-muted", fallback="#909090")
    added_bg = t.tint("success", "text-success")
    removed_bg = t.tint("error", "text-error")
    added = t.text("text-success", "success", fallback="#4ebf71")
    removed = t.text("text-error", "error", fallback="#ba3c5b")
    accent = t.text("accent", "primary", fallback="#ffa62b")
    header_bg = t.colour("panel", "surface-lighten-1", fallback="#2d2d2d")
    cursor_bg = t.background.blend(t.colour("accent", "primary"), 0.30)
    line = {
        " ": base,
        "+": t.style(bg=added_bg),
        "-": t.style(bg=removed_bg),
        "\\": base,
    }
    return _Styles(
        base=base,
        muted=t.style(muted),
        number=t.style(muted, dim=True),
        file=t.style(t.foreground, header_bg, bold=True),
        rule=t.style(muted, header_bg),
        hunk=t.style(t.text("text-primary", "primary"), bold=True),
        hunk_cursor=t.style(t.foreground, cursor_bg, bold=True),
        cursor_bar=t.style(accent, bold=True),
        meta=t.style(muted, italic=True),
        more=t.style(accent, bold=True),
        line=line,
        sign={
            " ": base,
            "+": t.style(added, added_bg, bold=True),
            "-": t.style(removed, removed_bg, bold=True),
            "\\": base,
        },
        decision={
            "pending": Style(color=muted.rich_color),
            "approved": Style(color=added.rich_color, bold=True),
            "rejected": Style(color=removed.rich_color, bold=True),
        },
        roles={
            "comment": Style(color=muted.rich_color, italic=True),
            "keyword": Style(color=t.text("text-primary", "primary").rich_color),
            "builtin": Style(color=t.text("text-primary", "primary").rich_color),
            "function": Style(color=t.text("text-accent", "accent").rich_color),
            "string": Style(color=t.text("text-warning", "warning").rich_color),
            "number": Style(color=t.text("text-secondary", "secondary").rich_color),
            "error": Style(color=removed.rich_color, underline=True),
        },
    )


def _fit(text: str, room: int) -> str:
    """`text` in at most `room` cells, cut with … when longer."""
    if room <= 0:
        return ""
    if cell_len(text) <= room:
        return text
    return set_cell_size(text, room - 1) + "…"


def _fit_left(text: str, room: int) -> str:
    """`text` in at most `room` cells, its start cut with … (for paths: the name stays)."""
    if room <= 0:
        return ""
    if cell_len(text) <= room:
        return text
    used = 0
    start = len(text)
    while start > 0:
        w = cell_len(text[start - 1])
        if used + w > room - 1:
            break
        used += w
        start -= 1
    return "…" + text[start:]


def _spread(left: list[Segment], right: list[Segment], width: int, fill: Style) -> Strip:
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


def file_description(f: review.FileDiff) -> str:
    """What happened to a file, in words: new file, deleted, binary, mode 100644 → 100755 ..."""
    parts: list[str] = []
    renamed = ""
    for line in f.header.split("\n"):
        if line.startswith("rename from "):
            renamed = line[len("rename from ") :]
    if f.binary:
        parts.append(f"binary, {'new' if f.status == 'added' else f.status}")
    elif f.status == "added":
        parts.append("new file")
    elif f.status == "deleted":
        parts.append("deleted")
    elif f.status == "mode":
        parts.append(f"mode {f.old_mode} → {f.new_mode}")
    else:
        parts.append("modified")
    if f.status == "modified" and f.old_mode and f.new_mode and f.old_mode != f.new_mode:
        parts.append(f"mode {f.old_mode} → {f.new_mode}")
    if renamed:
        parts.append(f"renamed from {safe_label(renamed)}")
    if not f.binary and (f.added or f.removed):
        parts.append(f"+{f.added} -{f.removed}")
    return " · ".join(parts)


def _collapsed(f: review.FileDiff, hunk: review.Hunk) -> bool:
    """A hunk drawn as its header line only: a whole-file change, or a deleted file."""
    return hunk.whole_file or f.status == "deleted"


def hunk_title(f: review.FileDiff, hunk: review.Hunk) -> str:
    if hunk.whole_file:
        return safe_label(hunk.header)
    if f.status == "deleted":
        noun = "line" if hunk.removed == 1 else "lines"
        return f"file deleted · {hunk.removed} {noun} removed"
    return safe_label(hunk.header)


# --------------------------------------------------------------------------- the hunks view


@dataclass(frozen=True)
class _Block:
    """A run of rows in the view: a blank gap, a file's header, or a hunk (header + body)."""

    y: int
    kind: Literal["gap", "file", "hunk"]
    file: int
    hunk: int = -1  # index into DiffView.hunks
    height: int = 1


@dataclass
class _Unit:
    """Styled lines of one lexing unit; the finished strips (with the cursor column) are
    made on first draw and kept, so an unchanged line is the same Strip frame after frame."""

    first: int
    lines: list[list[Segment]]  # each line's segments after the cursor column
    strips: dict[bool, list[Strip | None]]  # is-cursor -> finished strips


@dataclass
class _Body:
    lines: list[str]  # the hunk's lines after its @@ header, with their sign
    numbers: list[tuple[int, int]]  # (old, new) line number at the start of each chunk


def _body_count(hunk: review.Hunk) -> int:
    text = hunk.text
    n = text.count("\n")
    return n - 1 if text.endswith("\n") else n


def _unit(n_body: int, line: int) -> tuple[int, int, int]:
    """(chunk, first line, end) of the lexing unit holding body line `line`."""
    if n_body <= CHUNK * 3 // 2:
        return 0, 0, n_body
    chunk = line // CHUNK
    return chunk, chunk * CHUNK, min(n_body, (chunk + 1) * CHUNK)


class DiffView(ScrollView):
    """The hunks (Line API): file headers, hunk headers with their decision, body lines."""

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
        self.diff: review.Diff | None = None
        self.hunks: list[review.Hunk] = []
        self.hunk_files: list[int] = []  # file index of each hunk
        self.message = ""
        self.cursor: int | None = None
        self.marks: dict[str, Decision] = {}  # local decisions, by hunk fingerprint
        self._blocks: list[_Block] = []
        self._starts: list[int] = []
        self._hunk_block: list[int] = []
        self._height = 0
        self._digits = 3
        self._bodies: OrderedDict[int, _Body] = OrderedDict()
        self._units: OrderedDict[tuple[int, int, int, int], _Unit] = OrderedDict()
        self._unit_lines = 0
        self._file_strips: dict[tuple[int, int, int], Strip] = {}
        self._styles: _Styles | None = None
        self._gen = 0
        # Counters for tests and benchmarks.
        self.render_count = 0
        self.lex_calls = 0
        self.lexed_lines = 0
        self.lex_log: list[tuple[int, int, int]] = []  # (hunk number, first body line, count)

    # -- data ----------------------------------------------------------------------------------

    def set_diff(self, diff: review.Diff | None, cursor: int | None, message: str = "") -> None:
        """Show `diff` (None: only `message`) with the cursor on hunk index `cursor`."""
        self.diff = diff
        self.message = message
        self.marks = {}
        self._bodies.clear()
        self._units.clear()
        self._unit_lines = 0
        self._file_strips.clear()
        blocks: list[_Block] = []
        hunks: list[review.Hunk] = []
        hunk_files: list[int] = []
        hunk_block: list[int] = []
        y = 0
        last_line = 1
        for fi, f in enumerate(diff.files if diff is not None else ()):
            if fi:
                blocks.append(_Block(y, "gap", fi))
                y += 1
            blocks.append(_Block(y, "file", fi))
            y += 1
            for hunk in f.hunks:
                body = 0 if _collapsed(f, hunk) else _body_count(hunk)
                hunk_block.append(len(blocks))
                blocks.append(_Block(y, "hunk", fi, len(hunks), 1 + body))
                hunks.append(hunk)
                hunk_files.append(fi)
                y += 1 + body
                last_line = max(
                    last_line, hunk.old_start + hunk.old_lines, hunk.new_start + hunk.new_lines
                )
        self.hunks = hunks
        self.hunk_files = hunk_files
        self._blocks = blocks
        self._starts = [b.y for b in blocks]
        self._hunk_block = hunk_block
        self._height = y
        self._digits = max(3, len(str(last_line)))
        self.cursor = cursor if cursor is not None and 0 <= cursor < len(hunks) else None
        if self.cursor is None and hunks:
            self.cursor = 0
        self.virtual_size = Size(self._width(), y if hunks else 0)
        self.refresh()
        self.post_message(self.CursorMoved(self))

    def decision(self, hunk: review.Hunk) -> Decision:
        mark = self.marks.get(hunk.fingerprint)
        if mark is not None:
            return mark
        return "approved" if hunk.approved else "pending"

    def mark(self, fingerprint: str, decision: Decision) -> None:
        self.marks[fingerprint] = decision
        for i, hunk in enumerate(self.hunks):
            if hunk.fingerprint == fingerprint:
                self._refresh_virtual(self._blocks[self._hunk_block[i]].y, 1)

    @property
    def current(self) -> review.Hunk | None:
        return self.hunks[self.cursor] if self.cursor is not None else None

    # -- cursor --------------------------------------------------------------------------------

    def hunk_rows(self, index: int) -> tuple[int, int]:
        """(first row, number of rows) of hunk `index` in the virtual space: its header, then
        its body lines."""
        block = self._blocks[self._hunk_block[index]]
        return block.y, block.height

    def hunk_region(self, index: int) -> Region:
        """Where hunk `index` is in the virtual space (with its file header when first)."""
        bi = self._hunk_block[index]
        block = self._blocks[bi]
        y, height = block.y, block.height
        if bi and self._blocks[bi - 1].kind == "file":
            y, height = y - 1, height + 1
        return Region(0, y, max(1, self._width()), height)

    def on_screen(self, index: int) -> bool:
        top = round(self.scroll_offset.y)
        view = Region(0, top, max(1, self._width()), max(1, self.scrollable_content_region.height))
        return self.hunk_region(index).overlaps(view)

    def hunks_on_screen(self) -> list[int]:
        """Indices of the hunks with at least one row on screen."""
        if not self._blocks:
            return []
        top = round(self.scroll_offset.y)
        bottom = top + self.scrollable_content_region.height
        out: list[int] = []
        k = max(0, bisect_right(self._starts, top) - 1)
        while k < len(self._blocks) and self._blocks[k].y < bottom:
            if self._blocks[k].kind == "hunk":
                out.append(self._blocks[k].hunk)
            k += 1
        return out

    def scroll_to_hunk(self, index: int) -> None:
        region = self.hunk_region(index)
        room = self.scrollable_content_region.height
        if room <= 0:
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
        index = max(0, min(len(self.hunks) - 1, index))
        if scroll:
            self.scroll_to_hunk(index)
        if index != self.cursor:
            self.cursor = index
            self.refresh()
            self.post_message(self.CursorMoved(self))

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) hunk; from the first hunk on screen when the cursor's
        hunk has been scrolled away."""
        if not self.hunks:
            return
        if self.cursor is None or not self.on_screen(self.cursor):
            seen = self.hunks_on_screen()
            self.move_cursor(seen[0] if seen else 0)
            return
        self.move_cursor(self.cursor + delta)

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
        self._unit_lines = 0
        self._file_strips.clear()

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._width(), self._height if self.hunks else 0)
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
        top = round(self.scroll_offset.y)
        view_h = self.scrollable_content_region.height
        lo, hi = max(y, top), min(y + height, top + view_h)
        if lo < hi:
            self.refresh(Region(0, lo - top, max(1, self._width()), hi - lo))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self._blocks:
            return
        vy = offset.y + round(self.scroll_offset.y)
        if not 0 <= vy < self._height:
            return
        block = self._blocks[bisect_right(self._starts, vy) - 1]
        if block.kind == "hunk":
            self.move_cursor(block.hunk, scroll=False)

    # -- drawing -------------------------------------------------------------------------------

    def _get_styles(self) -> _Styles:
        if self._styles is None:
            self._styles = _resolve_styles(self)
        return self._styles

    def render_line(self, y: int) -> Strip:
        self.render_count += 1
        styles = self._get_styles()
        width = self._width()
        vy = y + round(self.scroll_offset.y)
        if width < 2:
            return Strip.blank(width, styles.base)
        if not self.hunks:
            return self._message_line(vy, width, styles)
        if not 0 <= vy < self._height:
            return Strip.blank(width, styles.base)
        block = self._blocks[bisect_right(self._starts, vy) - 1]
        if block.kind == "gap":
            return Strip.blank(width, styles.base)
        if block.kind == "file":
            return self._file_line(block.file, width, styles)
        cursor = block.hunk == self.cursor
        line = vy - block.y
        if line == 0:
            bar = Segment("┃", styles.cursor_bar) if cursor else Segment(" ", styles.base)
            header = self._hunk_header(block, cursor, width - 1, styles)
            return Strip([bar, *header], width)
        return self._body_line(block.hunk, line - 1, cursor, width, styles)

    def _message_line(self, vy: int, width: int, styles: _Styles) -> Strip:
        lines = self.message.split("\n") if self.message else []
        if 1 <= vy <= len(lines):
            text = _fit(safe_label(lines[vy - 1]), max(0, width - 2))
            return Strip([Segment("  " + text, styles.muted)]).crop_extend(0, width, styles.base)
        return Strip.blank(width, styles.base)

    def _file_line(self, fi: int, width: int, styles: _Styles) -> Strip:
        key = (fi, width, self._gen)
        strip = self._file_strips.get(key)
        if strip is not None:
            return strip
        assert self.diff is not None
        f = self.diff.files[fi]
        desc = f" · {file_description(f)} "
        path = safe_label(f.path, 4096)
        room = max(0, width - 3 - cell_len(desc) - 2)
        if room < 8:  # narrow: the path first
            desc = " "
            room = max(0, width - 4)
        shown = _fit_left(path, room)
        fill = max(0, width - 3 - cell_len(shown) - cell_len(desc))
        strip = Strip(
            [
                Segment("── ", styles.rule),
                Segment(shown, styles.file),
                Segment(desc, styles.rule),
                Segment("─" * fill, styles.rule),
            ]
        ).crop_extend(0, width, styles.rule)
        if len(self._file_strips) > 256:
            self._file_strips.clear()
        self._file_strips[key] = strip
        return strip

    def _hunk_header(self, block: _Block, cursor: bool, width: int, styles: _Styles) -> Strip:
        assert self.diff is not None
        hunk = self.hunks[block.hunk]
        f = self.diff.files[block.file]
        style = styles.hunk_cursor if cursor else styles.hunk
        decision = self.decision(hunk)
        title = hunk_title(f, hunk)
        left = [Segment(f" #{hunk.number} ", style), Segment(title, style)]
        right = [
            Segment(f"{SYMBOLS[decision]} {decision} ", style + styles.decision[decision]),
        ]
        return _spread(left, right, width, style)

    def _body(self, index: int) -> _Body:
        body = self._bodies.get(index)
        if body is not None:
            self._bodies.move_to_end(index)
            return body
        hunk = self.hunks[index]
        lines = hunk.text.split("\n")[1:]
        if hunk.text.endswith("\n"):
            lines.pop()
        numbers: list[tuple[int, int]] = []
        old, new = hunk.old_start, hunk.new_start
        chunked = len(lines) > CHUNK * 3 // 2
        for i, raw in enumerate(lines):
            if i % CHUNK == 0 and (chunked or i == 0):
                numbers.append((old, new))
            sign = raw[:1]
            if sign == "+":
                new += 1
            elif sign == "-":
                old += 1
            elif sign != "\\":
                old += 1
                new += 1
        if not numbers:
            numbers.append((old, new))
        body = _Body(lines, numbers)
        self._bodies[index] = body
        if len(self._bodies) > 64:
            self._bodies.popitem(last=False)
        return body

    def _body_line(self, index: int, line: int, cursor: bool, width: int, styles: _Styles) -> Strip:
        body_n = self._blocks[self._hunk_block[index]].height - 1
        chunk, first, end = _unit(body_n, line)
        key = (index, chunk, width, self._gen)
        unit = self._units.get(key)
        if unit is None:
            lines = self._build_unit(index, chunk, first, end, width - 1, styles)
            unit = _Unit(first, lines, {True: [None] * len(lines), False: [None] * len(lines)})
            self._units[key] = unit
            self._unit_lines += len(lines)
            while self._unit_lines > CACHE_LINES and len(self._units) > 1:
                _, old = self._units.popitem(last=False)
                self._unit_lines -= len(old.lines)
        else:
            self._units.move_to_end(key)
        i = line - first
        made = unit.strips[cursor]
        strip = made[i]
        if strip is None:
            bar = Segment("┃", styles.cursor_bar) if cursor else Segment(" ", styles.base)
            strip = made[i] = Strip([bar, *unit.lines[i]], width)
        return strip

    def _build_unit(
        self, index: int, chunk: int, first: int, end: int, width: int, styles: _Styles
    ) -> list[list[Segment]]:
        """Lex body lines [first, end) of hunk `index` (old and new side) and style them:
        each line's segments, exactly `width` cells."""
        hunk = self.hunks[index]
        body = self._body(index)
        old, new = body.numbers[min(chunk, len(body.numbers) - 1)]
        limit = max(RAW_LIMIT, width * 4)
        kinds: list[str] = []
        texts: list[str] = []
        flags: list[tuple[bool, bool]] = []  # (cut, crlf)
        numbers: list[int | None] = []
        for raw in body.lines[first:end]:
            sign = raw[:1]
            if sign == "+":
                kind, number = "+", new
                new += 1
            elif sign == "-":
                kind, number = "-", old
                old += 1
            elif sign == "\\":
                kind, number = "\\", None
            else:
                kind, number = " ", new
                old += 1
                new += 1
            text = raw if kind == "\\" else raw[1:]
            crlf = text.endswith("\r")
            if crlf:
                text = text[:-1]
            shown, cut = clean(text, limit)
            kinds.append(kind)
            texts.append(shown)
            flags.append((cut, crlf))
            numbers.append(number)
        lexer = lexer_for(hunk.path)
        # Context lines are read from the new side, or from the old side when the unit adds
        # nothing; a side with no lines of its own is not lexed at all.
        has_old, has_new = "-" in kinds, "+" in kinds
        context_side = "+" if has_new or not has_old else "-"
        old_side = [
            t for t, k in zip(texts, kinds, strict=True) if k == "-" or (k == " " and has_old)
        ]
        new_side = [
            t
            for t, k in zip(texts, kinds, strict=True)
            if k == "+" or (k == " " and context_side == "+")
        ]
        self.lex_calls += bool(old_side) + bool(new_side)
        self.lexed_lines += end - first
        self.lex_log.append((hunk.number, first, end - first))
        old_tokens = iter(lex_lines(lexer, old_side))
        new_tokens = iter(lex_lines(lexer, new_side))

        digits = self._digits
        gutter = digits + 1 + 3
        room = max(0, width - gutter)
        blank_number = " " * (digits + 1)
        out: list[list[Segment]] = []
        for kind, text, (cut, crlf), number in zip(kinds, texts, flags, numbers, strict=True):
            lead = Segment(f"{number:>{digits}} " if number is not None else blank_number,
                           styles.number)  # fmt: skip
            line_style = styles.line[kind]
            if kind == "\\":
                segments = [lead, Segment("   ", styles.base), Segment(text, styles.meta)]
                out.append(list(Strip(segments).crop_extend(0, width, styles.base)))
                continue
            if kind == "-":
                tokens = next(old_tokens, [])
            elif kind == "+":
                tokens = next(new_tokens, [])
            elif context_side == "+":
                tokens = next(new_tokens, [])
                if has_old:
                    next(old_tokens, None)
            else:
                tokens = next(old_tokens, [])
            code = [Segment(v, styles.token(t, kind)) for t, v in tokens]
            if crlf:
                code.append(Segment("␍", line_style + styles.muted))
            used = sum(cell_len(seg.text) for seg in code)
            if cut or used > room:
                code = [*Strip(code).crop(0, max(0, room - 1)), Segment("›", styles.more)]
                used = sum(cell_len(seg.text) for seg in code)
            mark = Segment("▌" + kind + " " if kind != " " else "   ", styles.sign[kind])
            segments = [lead, mark, *code]
            if used < room:
                segments.append(Segment(" " * (room - used), line_style))
            elif used > room:  # a wide character at the edge
                segments = list(Strip(segments).crop_extend(0, width, line_style))
            out.append(segments)
        return out


# --------------------------------------------------------------------------- the file list


@dataclass(frozen=True)
class FileRow:
    path: str
    kind: str  # new, del, mod, bin, mode
    added: int
    removed: int
    binary: bool
    counts: tuple[int, int, int]  # pending, approved, rejected
    first_hunk: int  # index of the file's first hunk


def _kind(f: review.FileDiff) -> str:
    if f.binary:
        return "bin"
    return {"added": "new", "deleted": "del", "mode": "mode"}.get(f.status, "mod")


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
        self.cursor = 0
        self._styles: dict[str, Style] | None = None

    def set_rows(self, rows: list[FileRow], cursor: int | None = None) -> None:
        self.rows = rows
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

    def _get_styles(self) -> dict[str, Style]:
        if self._styles is None:
            t = _Theme(self)
            cursor_bg = t.background.blend(t.colour("accent", "primary"), 0.30)
            self._styles = {
                "base": t.base,
                "cursor": t.style(t.foreground, cursor_bg, bold=True),
                "bar": t.style(t.text("accent", "primary"), bold=True),
                "muted": t.style(t.text("foreground-muted", "text-muted")),
                "added": t.style(t.text("text-success", "success")),
                "removed": t.style(t.text("text-error", "error")),
                "approved": t.style(t.text("text-success", "success"), bold=True),
                "rejected": t.style(t.text("text-error", "error"), bold=True),
            }
        return self._styles

    def render_line(self, y: int) -> Strip:
        s = self._get_styles()
        width = max(0, self.scrollable_content_region.width)
        i = y + round(self.scroll_offset.y)
        if not 0 <= i < len(self.rows):
            return Strip.blank(width, s["base"])
        row = self.rows[i]
        on = i == self.cursor
        base = s["cursor"] if on else s["base"]
        pending, approved, rejected = row.counts
        right: list[Segment] = []
        if not row.binary:
            right += [
                Segment(f"+{row.added}", base + s["added"]),
                Segment(" ", base),
                Segment(f"-{row.removed}", base + s["removed"]),
                Segment("  ", base),
            ]
        for n, name, symbol in (
            (approved, "approved", "✓"),
            (rejected, "rejected", "✗"),
            (pending, "muted", "○"),
        ):
            if n:
                right += [Segment(f"{symbol}{n}", base + s[name]), Segment(" ", base)]
        right_w = sum(cell_len(seg.text) for seg in right)
        room = max(0, width - 2 - 5 - right_w - 1)
        left = [
            Segment("▶ " if on else "  ", s["bar"] if on else base),
            Segment(f"{row.kind:<4} ", base + s["muted"]),
            Segment(_fit_left(row.path, room), base),
        ]
        return _spread(left, right, width, base)


# --------------------------------------------------------------------------- the panel


class DiffPanel(Vertical):
    """A session's diff with a hunk cursor; review decisions go up as messages.

    ``show(ref, diff, since_review)`` puts a diff in (the cursor stays on the same hunk when it
    is still there, else on the same number); ``clear(message)`` empties it. The keys are
    ``DIFF_PANEL`` (n, p, a, x, A, u, tab, escape). ``a`` / ``x`` mark the hunk at once and
    move to the next; ``x`` asks for an optional note, ``A`` for a commit message (both with
    :class:`PromptScreen`; escape there cancels). The "since last review" view is read-only.
    """

    DEFAULT_CSS = """
    DiffPanel {
        width: 1fr;
        min-width: 40;
        height: 1fr;
        background: $surface;
        border-left: vkey $primary 50%;
    }
    DiffPanel > #diff-title {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $foreground;
        text-style: bold;
    }
    DiffPanel > FileList { display: none; }
    DiffPanel.-files > FileList { display: block; }
    DiffPanel.-files > DiffView { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = list(DIFF_PANEL)

    class Decide(Message):
        """The person decided: approve or reject `hunk`, approve all (and commit), or undo.

        `fingerprint` is the fingerprint of the diff the person saw (pass it as `expect`);
        `text` is the reject note or the commit message ("" = none / generated)."""

        def __init__(
            self,
            action: Action,
            hunk: review.Hunk | None,
            fingerprint: str,
            *,
            text: str = "",
            session_ref: str = "",
            since_review: bool = False,
            panel: DiffPanel | None = None,
        ) -> None:
            self.action: Action = action
            self.hunk = hunk
            self.fingerprint = fingerprint
            self.text = text
            self.session_ref = session_ref
            self.since_review = since_review
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    class SinceReviewToggled(Message):
        """`v`: the person wants the whole diff, or only what changed since the last review."""

        def __init__(self, since_review: bool, panel: DiffPanel | None = None) -> None:
            self.since_review = since_review
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    class Closed(Message):
        """Escape: the person is done with the panel."""

        def __init__(self, panel: DiffPanel | None = None) -> None:
            self.panel = panel
            super().__init__()

        @property
        def control(self) -> DiffPanel | None:
            return self.panel

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.session_ref = ""
        self.since_review = False
        self.view = DiffView(id="diff-view")
        self.files = FileList(id="diff-files")
        self.title_bar = Static("", id="diff-title", markup=False)

    def compose(self) -> ComposeResult:
        yield self.title_bar
        yield self.files
        yield self.view

    def on_mount(self) -> None:
        self._update_title()
        self.run_worker(warm_up, thread=True, group="diff-warm-up", exit_on_error=False)

    # -- data in -------------------------------------------------------------------------------

    @property
    def diff(self) -> review.Diff | None:
        return self.view.diff

    @property
    def current_hunk(self) -> review.Hunk | None:
        return self.view.current

    def show(self, session_ref: str, diff: review.Diff, since_review: bool = False) -> None:
        """Show `diff` of `session_ref`. Local marks are dropped: the diff is the truth."""
        view = self.view
        same = session_ref == self.session_ref and since_review == self.since_review
        old = view.current if same else None
        hunks = diff.hunks
        cursor: int | None = None
        if hunks:
            cursor = 0
            if old is not None:
                by_fp = {h.fingerprint: i for i, h in enumerate(hunks)}
                cursor = by_fp.get(old.fingerprint, min(old.number, len(hunks)) - 1)
        self.session_ref = session_ref
        self.since_review = since_review
        empty = "no changes since the last review" if since_review else "no changes"
        view.set_diff(diff, cursor, "" if hunks else empty)
        if not same:
            view.scroll_to(0, 0, animate=False, immediate=True)
        if view.cursor is not None:
            view.scroll_to_hunk(view.cursor)
        self._update_files()
        self._update_title()

    def clear(self, message: str) -> None:
        """No diff: show `message` ("loading…", "no changes", an error) instead."""
        self.view.set_diff(None, None, message)
        self.view.scroll_to(0, 0, animate=False, immediate=True)
        self._update_files()
        self._update_title(message)

    def mark(self, number: int, decision: Decision) -> None:
        """Show a decision on hunk `number` right away (until the next show())."""
        for hunk in self.view.hunks:
            if hunk.number == number:
                self._mark(hunk, decision)
                return

    def _mark(self, hunk: review.Hunk, decision: Decision) -> None:
        self.view.mark(hunk.fingerprint, decision)
        self._update_files()
        self._update_title()

    # -- cursor --------------------------------------------------------------------------------

    def action_toggle_since_review(self) -> None:
        self.post_message(self.SinceReviewToggled(not self.since_review, self))

    def next_hunk(self) -> None:
        self.view.step(1)

    def prev_hunk(self) -> None:
        self.view.step(-1)

    @on(DiffView.CursorMoved)
    def _cursor_moved(self, event: DiffView.CursorMoved) -> None:
        event.stop()
        view = self.view
        if view.cursor is not None and self.files.rows:
            self.files.move(view.hunk_files[view.cursor])
        self._update_title()

    @on(FileList.Chosen)
    def _file_chosen(self, event: FileList.Chosen) -> None:
        event.stop()
        self.show_files(False)
        self.view.move_cursor(event.row.first_hunk)
        self.view.scroll_to_hunk(event.row.first_hunk)

    def show_files(self, shown: bool) -> None:
        """Show the file list (True) or the hunks (False); focus follows when inside."""
        had_focus = self.has_focus_within
        self.set_class(shown, "-files")
        if shown:
            cursor = self.view.cursor
            self.files.move(self.view.hunk_files[cursor] if cursor is not None else 0)
        if had_focus or shown:
            (self.files if shown else self.view).focus()
        elif self.view.cursor is not None:
            self.call_after_refresh(self.view.scroll_to_hunk, self.view.cursor)

    @property
    def files_shown(self) -> bool:
        return self.has_class("-files")

    def focus(self, scroll_visible: bool = True) -> DiffPanel:
        """Focus the hunks (or the file list when it is shown)."""
        (self.files if self.files_shown else self.view).focus(scroll_visible)
        return self

    # -- derived text --------------------------------------------------------------------------

    def _counts(self, hunks: Iterable[review.Hunk]) -> tuple[int, int, int]:
        pending = approved = rejected = 0
        for h in hunks:
            d = self.view.decision(h)
            if d == "approved":
                approved += 1
            elif d == "rejected":
                rejected += 1
            else:
                pending += 1
        return pending, approved, rejected

    def _update_files(self) -> None:
        diff = self.view.diff
        rows: list[FileRow] = []
        first = 0
        for f in diff.files if diff is not None and self.view.hunks else ():
            rows.append(
                FileRow(
                    safe_label(f.path, 4096),
                    _kind(f),
                    f.added,
                    f.removed,
                    f.binary,
                    self._counts(f.hunks),
                    first,
                )
            )
            first += len(f.hunks)
        self.files.set_rows(rows)

    def _update_title(self, message: str = "") -> None:
        view = self.view
        parts = [safe_label(self.session_ref, 200)] if self.session_ref else []
        diff = view.diff
        if diff is None or not view.hunks:
            parts.append(safe_label(message or view.message, 200))
        else:
            parts.append("since last review (read-only)" if self.since_review else "whole diff")
            nfiles = len(diff.files)
            parts.append(f"{nfiles} file{'s' if nfiles != 1 else ''} +{diff.added} -{diff.removed}")
            if view.cursor is not None:
                parts.append(f"hunk {view.cursor + 1}/{len(view.hunks)}")
            pending, approved, rejected = self._counts(view.hunks)
            parts.append(f"✓{approved} ✗{rejected} ○{pending}")
        self.title_bar.update(" · ".join(p for p in parts if p), layout=False)

    # -- actions -------------------------------------------------------------------------------

    def action_next_hunk(self) -> None:
        self.next_hunk()

    def action_prev_hunk(self) -> None:
        self.prev_hunk()

    def action_toggle_files(self) -> None:
        self.show_files(not self.files_shown)

    def action_back(self) -> None:
        self.post_message(self.Closed(self))

    def _decision_target(self, verb: str) -> review.Hunk | None:
        """The hunk a decision is about, or None (and a notice saying why not)."""
        hunk = self.view.current
        diff = self.view.diff
        if hunk is None or diff is None:
            self.notify(f"nothing to {verb}", severity="warning", timeout=3)
            return None
        if self.since_review:
            self.notify(
                "the diff since the last review is read-only: decide on the whole diff",
                severity="warning",
                timeout=5,
            )
            return None
        if self.files_shown:
            self.notify("press tab to see the hunks first", severity="warning", timeout=3)
            return None
        return hunk

    def _post(self, action: Action, hunk: review.Hunk | None, text: str = "") -> None:
        diff = self.view.diff
        self.post_message(
            self.Decide(
                action,
                hunk,
                diff.fingerprint if diff is not None else "",
                text=text,
                session_ref=self.session_ref,
                since_review=self.since_review,
                panel=self,
            )
        )

    def _advance_from(self, hunk: review.Hunk) -> None:
        current = self.view.current
        if current is not None and current.fingerprint == hunk.fingerprint:
            self.view.move_cursor((self.view.cursor or 0) + 1)

    def action_approve(self) -> None:
        hunk = self._decision_target("approve")
        if hunk is None:
            return
        decision = self.view.decision(hunk)
        if decision != "pending":
            self.notify(f"hunk #{hunk.number} is already {decision}", timeout=3)
            return
        self._mark(hunk, "approved")
        self._post("approve", hunk)
        self._advance_from(hunk)

    def action_reject(self) -> None:
        hunk = self._decision_target("reject")
        if hunk is None:
            return
        if self.view.decision(hunk) == "rejected":
            self.notify(f"hunk #{hunk.number} is already rejected", timeout=3)
            return
        where = f"{hunk.path}:{hunk.lines}" if hunk.lines else hunk.path
        diff = self.view.diff
        seen = diff.fingerprint if diff is not None else ""
        ref, since = self.session_ref, self.since_review

        def done(note: str | None) -> None:
            if note is None:
                return
            self._mark(hunk, "rejected")
            self.post_message(
                self.Decide(
                    "reject",
                    hunk,
                    seen,
                    text=note.strip(),
                    session_ref=ref,
                    since_review=since,
                    panel=self,
                )
            )
            self._advance_from(hunk)

        self.app.push_screen(
            PromptScreen(
                f"Reject hunk #{hunk.number} ({where})",
                "a note for the agent (optional): why, or what to do instead",
            ),
            done,
        )

    def action_approve_all(self) -> None:
        diff = self.view.diff
        if diff is None or not self.view.hunks:
            self.notify("nothing to approve", severity="warning", timeout=3)
            return
        if self.since_review:
            self._decision_target("approve")  # says why not
            return
        pending = [h for h in self.view.hunks if self.view.decision(h) == "pending"]
        seen = diff.fingerprint
        ref = self.session_ref

        def done(message: str | None) -> None:
            if message is None:
                return
            for h in pending:
                self.view.marks[h.fingerprint] = "approved"
            self.view.refresh()
            self._update_files()
            self._update_title()
            self.post_message(
                self.Decide(
                    "approve-all", None, seen, text=message.strip(), session_ref=ref, panel=self
                )
            )

        noun = "hunk" if len(pending) == 1 else "hunks"
        self.app.push_screen(
            PromptScreen(
                f"Approve {len(pending)} pending {noun} and commit on the session's branch",
                "commit message (empty: a generated one)",
            ),
            done,
        )

    def action_undo(self) -> None:
        if not self.session_ref:
            self.notify("nothing to undo", severity="warning", timeout=3)
            return
        self._post("undo", None)


__all__ = [
    "CHUNK",
    "DECISIONS",
    "SYMBOLS",
    "DiffPanel",
    "DiffView",
    "FileList",
    "FileRow",
    "lexer_for",
    "warm_up",
]
