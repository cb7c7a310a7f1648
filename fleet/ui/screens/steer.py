"""The steering box: one line to the selected agent, or the answer to its prompt.

The box stays open until the host has answered: a message that was not sent (refused at a
prompt, the host unreachable) stays in it with the reason, to edit and send again, and
ctrl+f sends it anyway (the CLI's --force)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


@dataclass(frozen=True)
class NotSent:
    """Why a message did not go (refused at a prompt, the host unreachable, ...)."""

    reason: str


Answered = Callable[[NotSent | None], bool]
"""Told how a send ended (None: sent); False when the box is gone and cannot show it."""
Send = Callable[[str, bool, Answered], object]
"""Starts sending (text, force, where to answer)."""

HINT = "enter sends · ctrl+f sends anyway, even into a prompt · escape cancels"


class SteerScreen(ModalScreen[None]):
    """One line to the selected agent: enter sends, ctrl+f forces, escape cancels."""

    DEFAULT_CSS = """
    SteerScreen { align: center bottom; }
    SteerScreen > Vertical {
        width: 90%; height: auto; padding: 0 1; margin-bottom: 2;
        border: round $accent; background: $panel;
    }
    SteerScreen #steer-status { color: $warning; width: 1fr; }
    SteerScreen #steer-hint { color: $text-muted; width: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"),
        Binding("ctrl+f", "force", "send anyway"),
    ]
    AUTO_FOCUS = "#steer-text"

    def __init__(self, ref: str, on_send: Send, *, at_prompt: bool = False) -> None:
        super().__init__()
        self.ref = ref
        self.on_send = on_send
        self.at_prompt = at_prompt
        self.sending = False

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.at_prompt:
                # At a choice only its answer is taken; a prompt that asks for text takes any.
                yield Label(
                    f"{self.ref} waits at a prompt: answer it. Where it offers options "
                    "(1, 2, y, n) only one of them is taken, since a message would pick the "
                    "highlighted one; where it asks for text, type it.",
                    markup=False,
                )
                yield Input(placeholder="the answer", id="steer-text")
            else:
                yield Label(f"Message to {self.ref}", markup=False)
                yield Input(placeholder="what should the agent do?", id="steer-text")
            yield Label("", id="steer-status", markup=False)
            yield Label(HINT, id="steer-hint", markup=False)

    @on(Input.Submitted)
    def send(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.dismiss(None)
            return
        self._start(event.value, force=False)

    def action_force(self) -> None:
        text = self.query_one("#steer-text", Input).value
        if text.strip():
            self._start(text, force=True)

    def _start(self, text: str, force: bool) -> None:
        if self.sending:
            return
        self.sending = True
        self.query_one("#steer-status", Label).update("sending…")
        self.on_send(text, force, self.answered)

    def answered(self, outcome: NotSent | None) -> bool:
        if not self.is_attached or self not in self.app.screen_stack:
            return False  # cancelled meanwhile
        self.sending = False
        if outcome is None:
            self.dismiss(None)
            return True
        self.query_one("#steer-status", Label).update(f"Not sent: {outcome.reason}")
        self.query_one("#steer-text", Input).focus()
        return True

    def action_cancel(self) -> None:
        self.dismiss(None)
