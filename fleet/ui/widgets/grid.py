"""The session grid: one Line-API ScrollView that draws only the cards on screen.

Card data lives in :class:`fleet.ui.model.FleetModel` (plain dataclasses). The grid lays the
visible cards out in rows of as many columns as the width fits, with a one-line heading per
group, and draws a line by joining the cached strips of the cards in that row. A card's strips
are cached by (version, is-cursor, pulsing, width, time label, styles generation): an update
bumps the version and repaints that card's region only when it is on screen. What one card
looks like is :mod:`fleet.ui.widgets.card` (pure drawing); this module is where cards go.

The app owns the keys: it calls :meth:`SessionGrid.move` and :meth:`SessionGrid.select`, and
feeds updates with :meth:`SessionGrid.update_cards` (coalesced, flushed once per loop turn).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.theme import Theme
from textual.timer import Timer

from fleet.presentation import age, host_label
from fleet.ui.model import Card, FleetModel, group_title, safe_line
from fleet.ui.themes import css_variables
from fleet.ui.widgets.card import CARD_HEIGHT, CardStyles, card_styles, draw_card

Key = tuple[str, str]

CARD_MIN_WIDTH = 44
PULSE_SECONDS = 1.0
# Agents printing all at once change cards many times a second: repaint at most 10 times a
# second (a key press repaints at once, outside this), so a busy fleet costs frames, not CPU.
FLUSH_INTERVAL = 0.1
PULSE_RECENT = 5.0  # pulse only for attention that started this recently (not old cache)
_BLOCK_CACHE = 512  # cards' strips kept (a few screens' worth)


@dataclass(frozen=True)
class _Row:
    y: int
    cards: tuple[Card, ...]  # empty for a heading
    title: str = ""  # a heading's group
    count: int = 0  # a heading's number of cards


class SessionGrid(ScrollView, inherit_bindings=False):
    """A grid of session cards (Line API): only what is on screen is drawn.

    No key bindings here (the app owns them): ScrollView's scrolling bindings are not
    inherited, so arrow keys reach the app's bindings.
    """

    DEFAULT_CSS = """
    SessionGrid {
        background: $surface;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
    }
    """

    class Shown(Message):
        """The cards whose screens the person may see changed: those on screen, a screen's
        height of cards above and below (so a page scroll shows current screens at once) and
        the selected one. The app tells the hosts; the others' screens catch up when shown."""

        def __init__(self, grid: SessionGrid, keys: frozenset[Key]) -> None:
            self.grid = grid
            self.keys = keys
            super().__init__()

        @property
        def control(self) -> SessionGrid:
            return self.grid

    class Selected(Message):
        """The selected card changed (None: nothing left to select)."""

        def __init__(self, grid: SessionGrid, card: Card | None) -> None:
            self.grid = grid
            self.card = card
            super().__init__()

        @property
        def control(self) -> SessionGrid:
            return self.grid

    def __init__(
        self,
        model: FleetModel,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model = model
        self._rows: list[_Row] = []
        self._row_starts: list[int] = []
        self._card_rows: list[int] = []  # indices into _rows of the rows of cards
        self._pos: dict[Key, tuple[int, int]] = {}  # key -> (row index, column)
        self._order: list[Key] = []
        self._signature: tuple[object, ...] = ()
        self._col_x: list[int] = []
        self._col_w: list[int] = []
        self._width = 0
        self._height = 0
        self._layout_order_version = -1
        self._cursor: Key | None = None
        self._want_col = 0
        self._blocks: dict[Key, tuple[tuple[object, ...], list[Strip]]] = {}
        self._styles: CardStyles | None = None
        self._styles_gen = 0
        self._pending: set[Key] = set()
        self._flush_scheduled = False
        self._last_flush = 0.0
        self._pulse_until: dict[Key, float] = {}
        self._pulsed: dict[Key, float] = {}  # attention_since we already pulsed for
        self._pulse_timer: Timer | None = None
        self._headers_drawn: dict[int, str] = {}
        self._shown: frozenset[Key] | None = None

    # -- public API ----------------------------------------------------------------------------

    @property
    def selected(self) -> Card | None:
        if self._cursor is None or self._cursor not in self._pos:
            return None
        return self.model.cards.get(self._cursor)

    @property
    def columns(self) -> int:
        return len(self._col_w)

    def update_cards(self, keys: Iterable[Key] = ()) -> None:
        """Cards changed (or the order, filter or grouping did): repaint once this loop turn.
        Only new content in cards that keep their places (agents printing) waits for the end of
        FLUSH_INTERVAL after the last repaint; a change of order or view is painted at once."""
        content_only = bool(keys) and self.model.order_version == self._layout_order_version
        self._pending.update(keys)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            wait = self._last_flush + FLUSH_INTERVAL - time.monotonic()
            if content_only and wait > 0:
                self.set_timer(wait, self._flush)
            else:
                self.call_later(self._flush)

    def select(self, key: Key) -> bool:
        """Put the cursor on a card; returns False when it is not in the grid."""
        if key not in self._pos:
            return False
        self._move_cursor(key, scroll=True)
        return True

    def move(self, dx: int = 0, dy: int = 0) -> None:
        """Move the cursor by `dx` columns and `dy` rows (clamped at the edges)."""
        if not self._order:
            return
        if self._cursor is None or self._cursor not in self._pos:
            self._move_cursor(self._order[0], scroll=True)
            return
        row_i, col = self._pos[self._cursor]
        if dx:
            cards = self._rows[row_i].cards
            col = max(0, min(len(cards) - 1, col + dx))
            self._want_col = col
        if dy:
            k = bisect_right(self._card_rows, row_i) - 1
            k = max(0, min(len(self._card_rows) - 1, k + dy))
            row_i = self._card_rows[k]
            col = min(self._want_col, len(self._rows[row_i].cards) - 1)
        self._move_cursor(self._rows[row_i].cards[col].key, scroll=True, want=False)

    def card_region(self, key: Key) -> Region | None:
        """Where a card is in the grid's virtual space (None when not laid out)."""
        pos = self._pos.get(key)
        if pos is None:
            return None
        row_i, col = pos
        return Region(self._col_x[col], self._rows[row_i].y, self._col_w[col], CARD_HEIGHT)

    def visible_keys(self) -> list[Key]:
        """The cards at least partly on screen, in order."""
        return [c.key for _, row in self._rows_on_screen() for c in row.cards]

    def shown_keys(self) -> frozenset[Key]:
        """What SessionGrid.Shown reports: on screen, a screen above and below, the cursor."""
        height = self.scrollable_content_region.height
        keys = {c.key for _, row in self._rows_on_screen(height) for c in row.cards}
        if self._cursor is not None and self._cursor in self._pos:
            keys.add(self._cursor)
        return frozenset(keys)

    def _report_shown(self) -> None:
        if not self.is_mounted:
            return
        keys = self.shown_keys()
        if keys != self._shown:
            self._shown = keys
            self.post_message(self.Shown(self, keys))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._report_shown()

    # -- lifecycle -----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.set_interval(1.0, self._tick)
        self._relayout()

    def _on_theme_changed(self, theme: Theme) -> None:
        self._invalidate_styles()
        self.refresh()

    def _invalidate_styles(self) -> None:
        self._styles = None
        self._styles_gen += 1
        self._blocks.clear()

    def on_resize(self, event: events.Resize) -> None:
        if self._relayout(force=True):
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate_styles()

    # -- layout --------------------------------------------------------------------------------

    def _relayout(self, force: bool = False) -> bool:
        """Lay the visible cards out; returns whether anything moved (a full repaint)."""
        model = self.model
        width = max(0, self.scrollable_content_region.width)
        cards = model.visible()
        self._layout_order_version = model.order_version
        group_by = model.group_by
        titles = [group_title(c, group_by) for c in cards]
        signature = (width, group_by, tuple(c.key for c in cards), tuple(titles))
        if not force and signature == self._signature:
            return False
        self._signature = signature
        was_on_screen = self._cursor is not None and self._cursor in set(self.visible_keys())
        old_index = self._order.index(self._cursor) if self._cursor in self._pos else 0

        cols = max(1, width // CARD_MIN_WIDTH) if width else 1
        base_w, extra = divmod(width, cols)
        self._col_w = [base_w + (1 if i < extra else 0) for i in range(cols)]
        self._col_x = [sum(self._col_w[:i]) for i in range(cols)]
        rows: list[_Row] = []
        pos: dict[Key, tuple[int, int]] = {}
        y = 0
        i = 0
        n = len(cards)
        while i < n:
            title = titles[i]
            j = i
            while j < n and titles[j] == title:
                j += 1
            rows.append(_Row(y, (), title, j - i))
            y += 1
            for start in range(i, j, cols):
                chunk = tuple(cards[start : min(start + cols, j)])
                for col, card in enumerate(chunk):
                    pos[card.key] = (len(rows), col)
                rows.append(_Row(y, chunk))
                y += CARD_HEIGHT
            i = j
        self._rows = rows
        self._row_starts = [r.y for r in rows]
        self._card_rows = [k for k, r in enumerate(rows) if r.cards]
        self._pos = pos
        self._order = [c.key for c in cards]
        self._width = width
        self._height = y
        self._headers_drawn.clear()
        self.virtual_size = Size(width, y)

        # The cursor follows its card's key; if the card left, the one now at its place.
        if self._cursor in pos:
            if was_on_screen:
                self._scroll_to_card(self._cursor)
        elif self._order:
            key = self._order[min(old_index, len(self._order) - 1)]
            self._move_cursor(key, scroll=was_on_screen, repaint=False)
        elif self._cursor is not None:
            self._cursor = None
            self.post_message(self.Selected(self, None))
        self._report_shown()
        return True

    def _rows_on_screen(self, margin: int = 0) -> Iterable[tuple[int, _Row]]:
        """The rows on screen (and `margin` lines above and below)."""
        top = max(0, round(self.scroll_offset.y) - margin)
        bottom = round(self.scroll_offset.y) + self.scrollable_content_region.height + margin
        k = max(0, bisect_right(self._row_starts, top) - 1)
        while k < len(self._rows) and self._rows[k].y < bottom:
            yield k, self._rows[k]
            k += 1

    def _refresh_card(self, key: Key) -> None:
        """Repaint one card if it is on screen (off-screen updates cost nothing)."""
        region = self.card_region(key)
        if region is None:
            return
        top = round(self.scroll_offset.y)
        view = Region(0, top, self._width, self.scrollable_content_region.height)
        visible = region.intersection(view)
        if visible:
            self.refresh(visible.translate((0, -top)))

    def _scroll_to_card(self, key: Key) -> None:
        region = self.card_region(key)
        if region is None:
            return
        row_i = self._pos[key][0]
        if row_i > 0 and not self._rows[row_i - 1].cards:
            region = Region(region.x, region.y - 1, region.width, region.height + 1)
        self.scroll_to_region(region, animate=False, immediate=True, force=True)

    def _move_cursor(
        self, key: Key, *, scroll: bool, want: bool = True, repaint: bool = True
    ) -> None:
        old = self._cursor
        if want and key in self._pos:
            self._want_col = self._pos[key][1]
        if scroll:
            self._scroll_to_card(key)
        if old == key:
            return
        self._cursor = key
        if repaint:
            if old is not None:
                self._refresh_card(old)
            self._refresh_card(key)
        self.post_message(self.Selected(self, self.model.cards.get(key)))
        self._report_shown()

    # -- updates -------------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._last_flush = time.monotonic()
        pending, self._pending = self._pending, set()
        now = time.time()
        pulse_started = False
        cards = self.model.cards
        for key in pending:
            card = cards.get(key)
            if card is None or card.attention_since is None:
                continue
            since = card.attention_since
            if self._pulsed.get(key) != since and now - since < PULSE_RECENT:
                self._pulsed[key] = since
                self._pulse_until[key] = now + PULSE_SECONDS
                pulse_started = True
        if pulse_started and self._pulse_timer is None:
            self._pulse_timer = self.set_timer(PULSE_SECONDS, self._end_pulses)
        if self.model.order_version != self._layout_order_version and self._relayout():
            self.refresh()
            return
        if not self._headers_drawn and any(not r.cards for _, r in self._rows_on_screen()):
            for _, row in self._rows_on_screen():
                if not row.cards:
                    self._refresh_virtual_line(row.y)
        for key in pending:
            if key in self._pos:
                self._refresh_card(key)

    def _refresh_virtual_line(self, y: int) -> None:
        top = round(self.scroll_offset.y)
        if 0 <= y - top < self.scrollable_content_region.height:
            self.refresh(Region(0, y - top, max(1, self._width), 1))

    def _end_pulses(self) -> None:
        self._pulse_timer = None
        now = time.time()
        done = [k for k, until in self._pulse_until.items() if until <= now + 0.02]
        for key in done:
            del self._pulse_until[key]
            self._refresh_card(key)
        if self._pulse_until:
            wait = max(0.02, min(self._pulse_until.values()) - now)
            self._pulse_timer = self.set_timer(wait, self._end_pulses)

    def _tick(self) -> None:
        """Once a second: repaint on-screen cards whose time label changed, and headings."""
        now = time.time()
        for _, row in self._rows_on_screen():
            if not row.cards:
                if self._headers_drawn.get(row.y) != self._header_text(row, now):
                    self._refresh_virtual_line(row.y)
                continue
            for card in row.cards:
                entry = self._blocks.get(card.key)
                if entry is not None and entry[0][4] != self._dynamic(card, now):
                    self._refresh_card(card.key)

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        styles = self._get_styles()
        width = self._width
        vy = y + round(self.scroll_offset.y)
        if not self._rows or vy >= self._height or vy < 0:
            return Strip.blank(width, styles.base)
        row = self._rows[bisect_right(self._row_starts, vy) - 1]
        if not row.cards:
            return self._header_strip(row, styles)
        line = vy - row.y
        now = time.time()
        strips = [self._block(card, col, styles, now)[line] for col, card in enumerate(row.cards)]
        used = self._col_x[len(strips) - 1] + self._col_w[len(strips) - 1]
        if used < width:
            strips.append(Strip.blank(width - used, styles.base))
        return Strip.join(strips)

    def _get_styles(self) -> CardStyles:
        if self._styles is None:
            self._styles = card_styles(self.rich_style, css_variables(self.app))
        return self._styles

    def _header_text(self, row: _Row, now: float) -> str:
        title = safe_line(row.title, 200)
        if self.model.group_by == "host":
            host = self.model.hosts.get(row.title)
            if host is not None:
                return f"{title} · {host_label(host, now)} · {row.count}"
        return f"{title} · {row.count}"

    def _header_strip(self, row: _Row, styles: CardStyles) -> Strip:
        text = self._header_text(row, time.time())
        self._headers_drawn[row.y] = text
        width = self._width
        head = set_cell_size(f"── {text} ", max(0, width))
        fill = "─" * max(0, width - cell_len(head))
        return Strip([Segment(head, styles.header), Segment(fill, styles.border)], width)

    def _dynamic(self, card: Card, now: float) -> str:
        """The part of a card that changes with time alone."""
        if card.lost:
            host = self.model.hosts.get(card.host)
            return host_label(host, now) if host is not None else ""
        since = card.session.status_since
        return f"for {age(now - since)}" if since else ""

    def _block(self, card: Card, col: int, styles: CardStyles, now: float) -> list[Strip]:
        key = card.key
        pulsing = key in self._pulse_until
        signature = (
            card.version,
            key == self._cursor,
            pulsing,
            self._col_w[col],
            self._dynamic(card, now),
            self._styles_gen,
        )
        entry = self._blocks.get(key)
        if entry is not None and entry[0] == signature:
            return entry[1]
        strips = self._draw_card(card, signature, styles)
        if len(self._blocks) >= _BLOCK_CACHE:
            for old in list(self._blocks)[: _BLOCK_CACHE // 2]:
                del self._blocks[old]
        self._blocks[key] = (signature, strips)
        return strips

    def _draw_card(
        self, card: Card, signature: tuple[object, ...], styles: CardStyles
    ) -> list[Strip]:
        """Draw one card for its cache signature (the bench wraps this to time card drawing)."""
        _, is_cursor, pulsing, width, dynamic, _ = signature
        assert isinstance(width, int) and isinstance(dynamic, str)
        return draw_card(
            card, styles, width, cursor=bool(is_cursor), pulsing=bool(pulsing), dynamic=dynamic
        )

    # -- mouse ---------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or not self._rows:
            return
        vy = offset.y + round(self.scroll_offset.y)
        if vy >= self._height:
            return
        row = self._rows[bisect_right(self._row_starts, vy) - 1]
        if not row.cards:
            return
        col = bisect_right(self._col_x, offset.x) - 1
        if 0 <= col < len(row.cards):
            self.select(row.cards[col].key)


__all__ = ["CARD_HEIGHT", "CARD_MIN_WIDTH", "SessionGrid"]
