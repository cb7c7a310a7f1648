"""Answering what the selected agent asks, from the grid: allow, deny with a note, or one of
its dialog's options by number, without attaching or opening the diff.

Each answer carries the id of the request the card showed when the key was pressed (a deny's
note box may stay open a while): the host refuses it, typing nothing, when the agent asks
something else by then, and the refusal comes back as a toast.
"""

from __future__ import annotations

from functools import partial

from textual.worker import Worker

from fleet.core.errors import FleetError, RemoteError
from fleet.core.models import Session, Status, Waiting
from fleet.presentation import waiting_line
from fleet.ui.controllers.base import Controller
from fleet.ui.screens.prompt import PromptScreen

VERBS = {"allow": "allowed", "deny": "denied", "answer": "answered"}


class AnswerController(Controller):
    """The grid's answer keys on the selected card."""

    def _asked(self) -> tuple[Session, Waiting] | None:
        """The selected session and what it asks, or a toast saying it asks nothing."""
        card = self.selected()
        if card is None:
            return None
        session = card.session
        waiting = session.waiting
        if session.status is not Status.NEEDS_INPUT or waiting is None or not waiting.options:
            self.app.notify(
                f"{session.ref} does not wait at a dialog fleet can answer: nothing was typed "
                "(m sends it a message, t attaches)",
                severity="warning",
                timeout=6,
            )
            return None
        return session, waiting

    def allow(self) -> None:
        asked = self._asked()
        if asked is not None:
            self.answer(asked[0], "allow", expect=asked[1].id)

    def deny(self) -> None:
        """The note box first (empty: deny without one); the answer is of the request shown
        when the key was pressed."""
        asked = self._asked()
        if asked is None:
            return
        session, waiting = asked

        def done(text: str | None) -> None:
            if text is not None:
                self.answer(session, "deny", expect=waiting.id, note=text.strip())

        title = f"Deny {session.ref}: {waiting_line(waiting)}"
        hint = "what it should do instead (optional, told to it after the dialog)"
        self.app.push_screen(PromptScreen(title, hint), done)

    def option(self, n: int) -> None:
        asked = self._asked()
        if asked is None:
            return
        session, waiting = asked
        if n > len(waiting.options):
            self.app.notify(
                f"{session.ref}'s dialog has {len(waiting.options)} options: nothing was typed",
                severity="warning",
                timeout=6,
            )
            return
        key = waiting.options[n - 1].key
        self.answer(session, "answer", key, expect=waiting.id)

    def answer(
        self, session: Session, action: str, option: str = "", *, expect: str, note: str = ""
    ) -> Worker[None]:
        work = partial(self._answer, session, action, option, expect, note)
        return self.run(work, name="answer", group="actions")

    async def _answer(
        self, session: Session, action: str, option: str, expect: str, note: str
    ) -> None:
        ref = f"{session.host}/{session.id}"
        try:
            done = await self.sup.answer(
                ref, action, option, expect=expect, note=note, session=session
            )
        except RemoteError as exc:
            refused = exc.kind in ("changed", "no-dialog", "no-option")
            self.app.notify(str(exc), severity="warning" if refused else "error", timeout=10)
            return
        except FleetError as exc:
            self.app.notify(str(exc), severity="error", timeout=10)
            return
        said = f"{VERBS[action]} {session.ref}: {done.key} ({done.label})"
        if done.note:
            said += f"; note {done.note}"
        self.app.notify(said, timeout=4)
