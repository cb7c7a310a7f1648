"""A small modal that asks yes or no before something that cannot be taken back lightly."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from fleet.core.textsafe import inert


class ConfirmScreen(ModalScreen[bool]):
    """``y`` / enter on the action = yes; ``n`` / escape = no. The action is focused last in
    the tab order, and no key but these answers it."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; background: $background 50%; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 90%; height: auto; padding: 0 1;
        border: round $warning; background: $panel;
    }
    ConfirmScreen #confirm-title { text-style: bold; width: 1fr; }
    ConfirmScreen #confirm-detail { color: $text-muted; width: 1fr; }
    ConfirmScreen #confirm-buttons { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "answer(False)", "No", show=False),
        Binding("y", "answer(True)", "Yes", show=False),
    ]
    AUTO_FOCUS = "#confirm-yes"

    def __init__(self, title: str, detail: str, action: str) -> None:
        super().__init__()
        self.confirm_title = " ".join(inert(title).split())
        self.detail = " ".join(inert(detail).split())
        self.action_word = action

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.confirm_title, id="confirm-title", markup=False)
            yield Label(self.detail, id="confirm-detail", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel (n)", id="confirm-no")
                yield Button(f"{self.action_word} (y)", variant="warning", id="confirm-yes")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


__all__ = ["ConfirmScreen"]
