"""The steering box: one line to the selected agent, or the answer to its prompt."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class SteerScreen(ModalScreen[None]):
    """One line to the selected agent: enter sends, escape cancels.

    Enter hands the text to `on_send` before the box closes: the send is under way while the
    screen below repaints, not after (on a busy grid that repaint alone is tens of ms)."""

    DEFAULT_CSS = """
    SteerScreen { align: center bottom; }
    SteerScreen > Vertical {
        width: 90%; height: auto; padding: 0 1; margin-bottom: 2;
        border: round $accent; background: $panel;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "cancel", "cancel")]
    AUTO_FOCUS = "#steer-text"

    def __init__(
        self, ref: str, on_send: Callable[[str], object], *, at_prompt: bool = False
    ) -> None:
        super().__init__()
        self.ref = ref
        self.on_send = on_send
        self.at_prompt = at_prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.at_prompt:
                # Whatever is typed at a dialog answers it; the host refuses anything else.
                yield Label(
                    f"Answer {self.ref}'s prompt, e.g. 1, 2, y or n (enter sends, escape "
                    "cancels). A message would answer the prompt too, so it is refused here.",
                    markup=False,
                )
                yield Input(placeholder="the option to pick", id="steer-text")
            else:
                yield Label(f"Message to {self.ref} (enter sends, escape cancels)", markup=False)
                yield Input(placeholder="what should the agent do?", id="steer-text")

    @on(Input.Submitted)
    def send(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.on_send(event.value)
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
