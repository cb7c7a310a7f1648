"""The bottom line: the keys of the view that has the focus, as many as fit, never cut.

Textual's Footer shows every binding of the app at once (the grid's moves while the diff
panel has the keys) and cuts the line at the edge. This bar shows one context's keys, each a
key and a word, in the order a person needs them, drops whole items from the end when the
line is narrow, and always keeps ``? all keys`` so the rest is one key away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static

Context = Literal["grid", "diff", "filter", "command", "none"]

# (binding ids, word) in the order they are offered; several ids share one item (the moves).
ITEMS: dict[Context, tuple[tuple[tuple[str, ...], str], ...]] = {
    "grid": (
        (("move-left", "move-down", "move-up", "move-right"), "move"),
        (("open-diff",), "diff"),
        (("message",), "message"),
        (("stop",), "stop"),
        (("resume",), "resume"),
        (("attach",), "attach"),
        (("filter",), "filter"),
        (("command",), "command"),
        (("quit",), "quit"),
    ),
    "none": (
        (("palette",), "palette"),
        (("quit",), "quit"),
    ),
    "diff": (
        (("next-hunk", "prev-hunk"), "next/prev"),
        (("approve",), "approve"),
        (("reject",), "reject"),
        (("approve-all",), "approve all"),
        (("undo",), "undo"),
        (("view",), "view"),
        (("toggle-files",), "files"),
        (("back",), "back"),
    ),
}
FIXED: dict[Context, tuple[tuple[str, str], ...]] = {
    "filter": (("enter", "keep the filter"), ("esc", "clear it")),
    "command": (("enter", "run"), ("esc", "cancel")),
}
# Shown first, and only while the selected session waits at a dialog with options.
ANSWER_ITEMS = ((("allow",), "allow"), (("deny",), "deny"))
HELP = ("help", "all keys")
GAP = "  "


def items_for(
    context: Context,
    keys: Mapping[str, Sequence[str]],
    show: Callable[[str], str],
    options: int = 0,
) -> list[tuple[str, str]]:
    """(key shown, word) for each item of `context`, with the keys in effect (`keys`: binding
    id -> its keys) shown by `show` (the app's key display). `options`: how many options the
    selected session's dialog offers (0: it waits for nothing a key answers)."""
    if context in FIXED:
        return list(FIXED[context])
    out: list[tuple[str, str]] = []
    items = ITEMS.get(context, ())
    waits = context == "grid" and options > 0
    if waits:
        items = ANSWER_ITEMS + items
    for ids, word in items:
        # One key per binding: the last is the letter where a binding has an arrow and a
        # letter (h j k l), which reads best joined.
        shown = "".join(show(keys[i][-1]) for i in ids if keys.get(i))
        if shown:
            out.append((shown, word))
    if waits:
        ends = [keys.get(f"answer-{n}") for n in (1, min(options, 9))]
        if all(ends):
            shown = "-".join(dict.fromkeys(show(k[-1]) for k in ends if k))
            out.insert(min(len(ANSWER_ITEMS), len(out)), (shown, "answer"))
    return out


def fit(items: Sequence[tuple[str, str]], width: int, last: tuple[str, str] | None) -> Content:
    """As many whole items as fit in `width` cells, with `last` always at the end."""

    def cells(item: tuple[str, str]) -> int:
        return Content(f"{item[0]} {item[1]}").cell_length

    room = width - 1 - (cells(last) + len(GAP) if last else 0)
    chosen: list[tuple[str, str]] = []
    for item in items:
        need = cells(item) + (len(GAP) if chosen else 0)
        if need > room:
            break
        chosen.append(item)
        room -= need
    if last is not None:
        chosen.append(last)
    parts: list[Content | tuple[str, str] | str] = [" "]
    for i, (key, word) in enumerate(chosen):
        if i:
            parts.append(GAP)
        parts += [(key, "bold $accent"), (f" {word}", "$text-muted")]
    return Content.assemble(*parts)


class KeyBar(Static):
    """One line of keys for the focused view; the app tells it the context and the keys."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)
        self.context: Context = "none"
        self.keys: Mapping[str, Sequence[str]] = {}
        self.options = 0

    def show_context(
        self, context: Context, keys: Mapping[str, Sequence[str]], options: int = 0
    ) -> None:
        if context != self.context or keys is not self.keys or options != self.options:
            self.context, self.keys, self.options = context, keys, options
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        app = self.app

        def show(key: str) -> str:
            return app.get_key_display(Binding(key, ""))

        items = items_for(self.context, self.keys, show, self.options)
        help_key = self.keys.get(HELP[0])
        last = (show(help_key[0]), HELP[1]) if help_key and self.context in ITEMS else None
        self.update(fit(items, self.size.width, last))


__all__ = ["KeyBar", "fit", "items_for"]
