"""The help screen: every binding, by group, with the key in effect after the user's keymap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from fleet.ui.bindings import ANSWER_OPTIONS, GROUPS, BindingGroup, effective_keys

# Which groups share a column: at 80x24 two columns fit without scrolling.
_COLUMNS: tuple[tuple[str, ...], ...] = (("grid", "global"), ("answer", "diff"))
_DIGITS = tuple((str(n),) for n in range(1, 10))


class HelpScreen(ModalScreen[None]):
    """A modal listing the key bindings; ``escape``, ``q`` or ``?`` closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
    }
    HelpScreen > #help-box {
        width: 80;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-columns {
        height: auto;
    }
    HelpScreen .help-column {
        width: 1fr;
        height: auto;
        padding: 0 1;
    }
    HelpScreen .help-group-title {
        text-style: bold;
        color: $accent;
        margin-top: 1;
    }
    HelpScreen .help-group {
        grid-size: 2;
        grid-columns: 11 1fr;
        grid-gutter: 0 1;
        height: auto;
    }
    HelpScreen .help-key {
        color: $text;
        text-style: bold;
        width: 100%;
        text-align: right;
    }
    HelpScreen .help-description {
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help", id="help-close"),
    ]

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        """``keymap``: binding id -> keys, as given to ``App.set_keymap``.

        Left out, it is read from the app, so ``HelpScreen()`` shows the keys in effect.
        """
        super().__init__()
        self._keymap = None if keymap is None else dict(keymap)

    def compose(self) -> ComposeResult:
        keymap = self._keymap
        if keymap is None:
            # Textual keeps the keymap given to set_keymap() here (normalized key names);
            # tests/ui/test_help.py fails if a Textual upgrade moves it.
            keymap = getattr(self.app, "_keymap", {})
        keys = effective_keys(keymap)
        by_id = {group.id: group for group in GROUPS}
        with VerticalScroll(id="help-box") as box:
            box.border_title = "fleet — keys"
            box.border_subtitle = "esc / q / ? close"
            with Horizontal(id="help-columns"):
                for column in _COLUMNS:
                    with Vertical(classes="help-column"):
                        for group_id in column:
                            yield from self._group(by_id[group_id], keys)

    def _group(self, group: BindingGroup, keys: Mapping[str, tuple[str, ...]]) -> ComposeResult:
        yield Static(group.title, classes="help-group-title", markup=False)
        # The nine option keys take one row while they are still the digits 1-9.
        digits = tuple(keys[i] for i in ANSWER_OPTIONS) == _DIGITS
        with Grid(classes="help-group", id=f"help-{group.id}"):
            for binding in group.bindings:
                assert binding.id is not None
                if digits and binding.id in ANSWER_OPTIONS:
                    if binding.id == ANSWER_OPTIONS[0]:
                        yield Label("1-9", classes="help-key", id="key-answer", markup=False)
                        yield Label("Answer option 1-9", classes="help-description", markup=False)
                    continue
                shown = " ".join(self.key_display(key) for key in keys[binding.id])
                yield Label(shown, classes="help-key", id=f"key-{binding.id}", markup=False)
                yield Label(binding.description, classes="help-description", markup=False)

    def key_display(self, key: str) -> str:
        """How ``key`` looks in the help: as the app shows keys in its footer."""
        return self.app.get_key_display(Binding(key, ""))

    def action_close(self) -> None:
        self.dismiss(None)
