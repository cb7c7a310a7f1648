"""One session card drawn as strips: pure functions of a card, its styles and a width.

The grid (:mod:`fleet.ui.widgets.grid`) decides where a card goes, whether it is the cursor or
pulsing, and caches what is drawn here; nothing here knows about scrolling, timers or widgets.
A card is :data:`CARD_HEIGHT` lines: the top border (host/name, agent), the status, the diff
stat, the last lines of the agent's screen, and the bottom border.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from fleet.presentation import approved_label, plural, status_label, unread_label, waiting_line
from fleet.ui.model import Card, safe_line
from fleet.ui.themes import theme_colour

CARD_HEIGHT = 7  # top border, status, diff stat, 3 screen lines, bottom border
TAIL_SHOWN = CARD_HEIGHT - 4

SYMBOLS: dict[str, str] = {
    "needs-input": "◆",
    "working": "●",
    "idle": "○",
    "starting": "◌",
    "failed": "✗",
    "exited": "✓",
    "stopped": "■",
    "lost": "⚠",
    "gone": "⊘",
}
# Theme variable per shown status, then the Textual variables and a literal to fall back on.
_STATUS_COLOURS: dict[str, tuple[str, ...]] = {
    "starting": ("status-starting", "secondary", "#7aa2f7"),
    "working": ("status-working", "success", "#4ebf71"),
    "needs-input": ("status-needs-input", "warning", "#ffa62b"),
    "idle": ("status-idle", "primary", "#0178d4"),
    "exited": ("status-exited", "foreground-muted", "#a0a0a0"),
    "failed": ("status-failed", "error", "#ba3c5b"),
    "lost": ("status-lost", "warning", "#d08770"),
    "stopped": ("status-stopped", "foreground-muted", "#a0a0a0"),
    "gone": ("status-stopped", "foreground-muted", "#808080"),
}
_ROUND = ("╭", "─", "╮", "│", "╰", "╯")
_HEAVY = ("┏", "━", "┓", "┃", "┗", "┛")  # the cursor: a different shape, not only a colour


@dataclass(frozen=True)
class CardStyles:
    """Rich styles resolved once per theme (and per CSS refresh), not per line."""

    base: Style
    border: Style
    cursor: Style
    title: Style
    muted: Style
    tail: Style
    header: Style
    added: Style
    removed: Style
    unread: Style
    status: dict[str, Style]


def card_styles(base: Style, variables: Mapping[str, str]) -> CardStyles:
    """The cards' styles over `base` (the grid's own style), from the theme's variables."""

    def colour(*names: str) -> RichColor | None:
        found = theme_colour(variables, *names)
        return found.rich_color if found is not None else None

    muted = Style(color=colour("foreground-muted", "text-muted", "#909090"))
    accent = colour("accent", "primary", "#ffa62b")
    return CardStyles(
        base=base,
        border=base + Style(color=colour("border", "panel", "foreground-muted", "#707070")),
        cursor=base + Style(color=accent, bold=True),
        title=base + Style(bold=True),
        muted=base + muted,
        tail=base + muted + Style(dim=True),
        header=base + Style(color=accent, bold=True),
        added=base + Style(color=colour("text-success", "success", "#4ebf71")),
        removed=base + Style(color=colour("text-error", "error", "#ba3c5b")),
        unread=base + Style(color=accent, bold=True),
        status={
            name: base + Style(color=colour(*names), bold=True)
            for name, names in _STATUS_COLOURS.items()
        },
    )


def draw_card(
    card: Card, styles: CardStyles, width: int, *, cursor: bool, pulsing: bool, dynamic: str
) -> list[Strip]:
    """The card's :data:`CARD_HEIGHT` strips, each `width` cells wide.

    `cursor` draws heavy borders, `pulsing` reverses the whole card (attention just began),
    `dynamic` is the part that changes with time alone ("for 3m", "reconnecting in 4s")."""
    tl, h, tr, v, bl, br = _HEAVY if cursor else _ROUND
    edge = styles.cursor if cursor else styles.border
    inner = max(0, width - 4)
    base = styles.base

    def boxed(parts: list[Segment]) -> Strip:
        body = Strip(parts).crop_extend(0, inner, base)
        return Strip([Segment(v + " ", edge), *body, Segment(" " + v, edge)])

    # What the agent waits for takes the first line of the tail, the newest lines stay.
    wants = waiting_line(card.session.waiting) if card.shown_status == "needs-input" else ""
    shown = TAIL_SHOWN - 1 if wants else TAIL_SHOWN
    tail = card.tail[-shown:] if shown else []
    tail_lines = [
        boxed([Segment(_fit(line, inner), styles.tail)]) if line else boxed([])
        for line in (*tail, *([""] * (shown - len(tail))))
    ]
    if wants:
        style = styles.status.get("needs-input", styles.title)
        tail_lines.insert(0, boxed([Segment(_fit(safe_line(wants, 400), inner), style)]))
    strips = [
        _top_border(card, styles, width, (tl, h, tr), edge),
        boxed(_status_line(card, styles, inner, dynamic)),
        boxed(_diff_line(card, styles, inner)),
        *tail_lines,
        Strip([Segment(bl + h * max(0, width - 2) + br, edge)], width),
    ]
    if pulsing:
        strips = [s.apply_style(Style(reverse=True)) for s in strips]
    elif card.gone:
        strips = [s.apply_style(Style(dim=True)) for s in strips]
    return [s.crop_extend(0, width, base) for s in strips]


def _fit(text: str, room: int) -> str:
    return text if cell_len(text) <= room else set_cell_size(text, max(0, room - 1)) + "…"


def _top_border(
    card: Card, styles: CardStyles, width: int, corners: tuple[str, str, str], edge: Style
) -> Strip:
    """host/name on the left, the agent on the right, in the border itself."""
    tl, h, tr = corners
    title = safe_line(f"{card.host}/{card.session.name}", 200)
    agent = safe_line(card.session.agent, 40)
    room = max(0, width - 8)
    agent = _fit(agent, max(0, room // 3)) if agent else ""
    title = _fit(title, room - cell_len(agent))
    fill = max(0, room - cell_len(title) - cell_len(agent))
    return Strip(
        [
            Segment(f"{tl}{h} ", edge),
            Segment(title, styles.title),
            Segment(" " + h * fill + " ", edge),
            Segment(agent, styles.muted),
            Segment(f" {h}{tr}", edge),
        ]
    ).crop_extend(0, width, styles.base)


def _status_line(card: Card, styles: CardStyles, inner: int, dynamic: str) -> list[Segment]:
    """Symbol and words (never colour alone), the time in it, unread on the right."""
    shown = card.shown_status
    status = f"{SYMBOLS.get(shown, '?')} {status_label(shown, card.session.exit_code)}"
    left = [Segment(status, styles.status.get(shown, styles.title))]
    if card.held:  # fleet paused it: why, before the time
        left.append(Segment(" · " + card.held, styles.status.get("needs-input", styles.title)))
    if dynamic:
        left.append(Segment(" · " + safe_line(dynamic, 200), styles.muted))
    return spread(left, unread_label(card.unread), styles.unread, inner, styles.base)


def _diff_line(card: Card, styles: CardStyles, inner: int) -> list[Segment]:
    """The diff stat and how much is approved; what it spent, gone or cached on the right."""
    d = card.session.diffstat
    if d.files:
        diff = [
            Segment(f"+{d.added}", styles.added),
            Segment(" ", styles.base),
            Segment(f"-{d.removed}", styles.removed),
            Segment(f" · {plural(d.files, 'file')}", styles.muted),
        ]
        if d.approved:
            diff.append(Segment(f" · {approved_label(d)}", styles.added))
    else:
        diff = [Segment("no changes", styles.muted)]
    mark = "gone" if card.gone else "(cached)" if card.cached else ""
    right = " · ".join(p for p in (card.spent, mark) if p)
    if cell_len(right) + 2 > inner // 2:  # the diff stat comes first: a narrow card drops spend
        right = mark
    return spread(diff, right, styles.muted, inner, styles.base)


def spread(
    left: list[Segment], right: str, right_style: Style, inner: int, base: Style
) -> list[Segment]:
    """`left` then `right` pushed to the right edge; left is cut first if too long."""
    right_w = cell_len(right)
    if right_w and right_w + 2 > inner:
        right, right_w = "", 0
    room = inner - (right_w + 1 if right_w else 0)
    out: list[Segment] = []
    used = 0
    for seg in left:
        w = cell_len(seg.text)
        if used + w > room:
            cut = set_cell_size(seg.text, max(0, room - used - 1)) + "…"
            out.append(Segment(cut if room - used > 0 else "", seg.style))
            used = room
            break
        out.append(seg)
        used += w
    if right_w:
        out.append(Segment(" " * (inner - used - right_w), base))
        out.append(Segment(right, right_style))
    return out


__all__ = [
    "CARD_HEIGHT",
    "SYMBOLS",
    "TAIL_SHOWN",
    "CardStyles",
    "card_styles",
    "draw_card",
    "spread",
]
