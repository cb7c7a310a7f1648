"""The grid's keys on the selected session: move, steer, stop, resume, attach, and new.

Each action reads the card under the cursor and hands the work to the supervisor in a worker
("actions" group); what comes back lands in the model and repaints that card.
"""

from __future__ import annotations

import subprocess
from functools import partial
from typing import Literal

from textual.actions import SkipAction
from textual.widgets import Input
from textual.worker import Worker

from fleet.core.errors import FleetError, RemoteError
from fleet.core.models import Session, Status
from fleet.ui.controllers.base import Controller
from fleet.ui.model import Card
from fleet.ui.screens.new_session import NewSession, NewSessionScreen
from fleet.ui.screens.steer import Answered, NotSent, SteerScreen


class SessionsController(Controller):
    """Steer, stop, resume, attach and new session; the cursor and what it has read."""

    def selection_changed(self, card: Card | None) -> None:
        """What the cursor rests on is read."""
        if card is not None and self.mark_read(card):
            self.grid.update_cards([card.key])

    def move(self, dx: int, dy: int) -> None:
        # Arrow keys are priority bindings: under a modal or in a text box they are not ours.
        app = self.app
        panel = self.panel
        in_panel = app.focused is not None and (
            app.focused is panel or panel in app.focused.ancestors
        )
        if app.screen is not app.screen_stack[0] or isinstance(app.focused, Input) or in_panel:
            raise SkipAction()  # the key goes on to the text box, the modal or the diff
        self.grid.move(dx, dy)

    # -- steering -------------------------------------------------------------------------

    def message(self) -> None:
        """Open the steering box; at a prompt it takes the answer, not a message."""
        card = self.selected()
        if card is None:
            return
        session = card.session

        def send(text: str, force: bool, answered: Answered) -> None:
            self.send_message_to(session, text, force=force, answered=answered)

        at_prompt = session.status is Status.NEEDS_INPUT
        self.app.push_screen(SteerScreen(session.ref, send, at_prompt=at_prompt))

    def send_message_to(
        self, session: Session, text: str, *, force: bool = False, answered: Answered | None = None
    ) -> Worker[None]:
        """Send in a worker; how it ended goes to `answered` (the steering box, which keeps
        a message that was not sent), else to a notification."""
        work = partial(self._send, session, text, force, answered)
        return self.run(work, name="send_message_to", group="actions")

    async def _send(
        self, session: Session, text: str, force: bool, answered: Answered | None
    ) -> None:
        try:
            await self.sup.send(f"{session.host}/{session.id}", text, force=force, session=session)
        except RemoteError as exc:
            if exc.kind != "at-prompt":  # the host saw a choice dialog on the agent's screen
                self._not_sent(NotSent(str(exc)), answered)
                return
            why = (
                f"{session.ref} waits at a prompt that picks an option, and this would answer "
                "it (its Enter picks the highlighted option)."
            )
            if answered is not None and answered(
                NotSent(f"{why} Type its answer, or ctrl+f to send this anyway.")
            ):
                return
            self.app.notify(
                f"{why} Not sent. Press m and type the option (1, 2, y or n), or look first "
                "with t.",
                severity="warning",
                timeout=10,
            )
            return
        except FleetError as exc:
            self._not_sent(NotSent(str(exc)), answered)
            return
        if answered is not None:
            answered(None)
        self.app.notify(f"sent to {session.ref}", timeout=3)

    def _not_sent(self, outcome: NotSent, answered: Answered | None) -> None:
        if answered is None or not answered(outcome):
            self.app.notify(outcome.reason, severity="error", timeout=10)

    # -- the session's life ---------------------------------------------------------------

    def stop(self) -> None:
        card = self.selected()
        if card is not None:
            self._life("stop", card.session)

    def resume(self) -> None:
        card = self.selected()
        if card is not None:
            self._life("resume", card.session)

    def _life(self, what: Literal["stop", "resume"], session: Session) -> Worker[None]:
        return self.run(partial(self._change, what, session), name=what, group="actions")

    async def _change(self, what: Literal["stop", "resume"], session: Session) -> None:
        sup = self.sup
        ref = f"{session.host}/{session.id}"
        try:
            changed = await (sup.stop(ref) if what == "stop" else sup.resume(ref))
        except FleetError as exc:
            self.app.notify(str(exc), severity="error", timeout=10)
            return
        now = changed.session
        self.app.model.upsert_session(now)
        self.grid.update_cards([(now.host, now.id)])
        if changed.already:
            done = "was already stopped" if what == "stop" else "is already running"
            self.app.notify(f"{session.ref} {done}", timeout=3)
        else:
            done = "stopped" if what == "stop" else "resumed"
            self.app.notify(f"{done} {session.ref}", timeout=3)

    def attach(self) -> None:
        """The agent's tmux session in this terminal; fleet comes back when it detaches."""
        card = self.selected()
        if card is None or self.app.sup is None:
            return
        argv = self.app.sup.attach_argv(card.session)
        with self.app.suspend():
            subprocess.run(argv, check=False)

    # -- a new session --------------------------------------------------------------------

    def new_session(self) -> None:
        """The new-session form, offering the hosts, their recent repos and the agents."""
        app = self.app
        if not app.config.hosts or app.sup is None:
            app.notify("no hosts configured yet", severity="warning")
            return
        recent: dict[str, list[str]] = {}
        for card in sorted(app.model.cards.values(), key=lambda c: -c.session.created):
            repos = recent.setdefault(card.host, [])
            if card.session.repo and card.session.repo not in repos:
                repos.append(card.session.repo)
        selected = self.grid.selected
        screen = NewSessionScreen(
            list(app.config.hosts),
            list(app.sup.profiles),
            recent,
            host=selected.host if selected else None,
        )

        def done(result: NewSession | None) -> None:
            if result is not None:
                self.start_session(result)

        app.push_screen(screen, done)

    def start_session(self, request: NewSession) -> Worker[None]:
        return self.run(partial(self._start, request), name="start_session", group="actions")

    async def _start(self, request: NewSession) -> None:
        app = self.app
        app.notify(f"starting {request.agent} on {request.host}…", timeout=3)
        try:
            session = await self.sup.new_session(
                request.host, request.repo, agent=request.agent, task=request.task
            )
        except FleetError as exc:
            app.notify(str(exc), severity="error", timeout=12)
            return
        app.model.upsert_session(session)
        app._refresh_all()
        self.grid.select((session.host, session.id))
        app.notify(f"started {session.ref}", timeout=4)
