"""A small modal that asks for one line: a reject note, a commit message.

``PromptScreen(title, placeholder)`` is dismissed with the text typed (enter; empty allowed)
or ``None`` (escape). Push it with a callback, or ``await app.push_screen_wait(...)`` in a
worker.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from fleet.core.textsafe import inert

MAX_LENGTH = 2000  # the host keeps notes up to this many characters


class PromptScreen(ModalScreen[str | None]):
    """One line of text: ``enter`` = ok (empty allowed), ``escape`` = cancel (``None``)."""

    DEFAULT_CSS = """
    PromptScreen {
        align: center middle;
        background: $background 50%;
    }
    PromptScreen > Vertical {
        width: 80%;
        max-width: 100;
        height: auto;
        padding: 0 1;
        border: round $accent;
        background: $panel;
    }
    PromptScreen #prompt-title {
        text-style: bold;
        width: 1fr;
    }
    PromptScreen #prompt-hint {
        color: $text-muted;
        width: 1fr;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False),
    ]
    AUTO_FOCUS = "#prompt-input"

    def __init__(self, title: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.prompt_title = " ".join(inert(title).split())
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.prompt_title, id="prompt-title", markup=False)
            yield Input(
                self.value,
                placeholder=self.placeholder,
                max_length=MAX_LENGTH,
                id="prompt-input",
            )
            yield Label("enter: ok · escape: cancel", id="prompt-hint", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = ["PromptScreen"]
