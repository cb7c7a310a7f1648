"""The grid's keys on the selected session: move, steer, stop, resume, attach, and new.

Each action reads the card under the cursor and hands the work to the supervisor in a worker
("actions" group); what comes back lands in the model and repaints that card.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from functools import partial
from typing import Literal

from textual.actions import SkipAction
from textual.widgets import Input
from textual.worker import Worker

from fleet.core.agent_versions import host_versions
from fleet.core.budgets import OverBudget
from fleet.core.errors import FleetError, RemoteError
from fleet.core.models import Session, Status
from fleet.ui.controllers.base import Controller
from fleet.ui.model import Card
from fleet.ui.screens.confirm import ConfirmScreen
from fleet.ui.screens.new_session import NewSession, NewSessionScreen
from fleet.ui.screens.steer import Answered, NotSent, SteerScreen

AGENT_CHECK_TIMEOUT = 8.0  # seconds the form waits to learn which agents the host has


def session_key(session: Session) -> tuple[str, str]:
    return (session.host, session.id)


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
        self,
        session: Session,
        text: str,
        *,
        force: bool = False,
        answered: Answered | None = None,
        over_budget: bool = False,
    ) -> Worker[None]:
        """Send in a worker; how it ended goes to `answered` (the steering box, which keeps
        a message that was not sent), else to a notification."""
        work = partial(self._send, session, text, force, answered, over_budget)
        return self.run(work, name="send_message_to", group="actions")

    async def _send(
        self,
        session: Session,
        text: str,
        force: bool,
        answered: Answered | None,
        over_budget: bool = False,
    ) -> None:
        ref = f"{session.host}/{session.id}"
        try:
            await self.sup.send(ref, text, force=force, session=session, over_budget=over_budget)
        except OverBudget as exc:

            def go_on() -> None:
                self.send_message_to(
                    session, text, force=force, answered=answered, over_budget=True
                )

            def stay() -> None:
                self._not_sent(NotSent(f"not sent: {session.ref} stays paused"), answered)

            self.confirm_over_budget(exc, "Send", go_on, stay)
            return
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
        """Ask first: stopping ends the agent's run (its worktree and branch stay)."""
        card = self.selected()
        if card is None:
            return
        session = card.session

        def answered(yes: bool | None) -> None:
            if yes:
                self._life("stop", session)

        self.app.push_screen(
            ConfirmScreen(
                f"Stop {session.ref}?",
                f"This ends {session.agent}'s run; its worktree and branch stay, and r resumes it.",
                "Stop",
            ),
            answered,
        )

    def resume(self) -> None:
        card = self.selected()
        if card is not None:
            self._life("resume", card.session)

    def _life(
        self, what: Literal["stop", "resume"], session: Session, over_budget: bool = False
    ) -> Worker[None]:
        work = partial(self._change, what, session, over_budget)
        return self.run(work, name=what, group="actions")

    async def _change(
        self, what: Literal["stop", "resume"], session: Session, over_budget: bool = False
    ) -> None:
        sup = self.sup
        ref = f"{session.host}/{session.id}"
        try:
            if what == "stop":
                changed = await sup.stop(ref)
            else:
                changed = await sup.resume(ref, over_budget=over_budget)
        except OverBudget as exc:

            def go_on() -> None:
                self._life("resume", session, over_budget=True)

            self.confirm_over_budget(exc, "Resume", go_on, lambda: None)
            return
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

    def confirm_over_budget(
        self, exc: OverBudget, action: str, yes: Callable[[], None], no: Callable[[], None]
    ) -> None:
        """Ask once before a session a budget paused goes on past it (the core marks the
        answer, so the same budget is not asked about again)."""
        session = exc.session
        named = "; ".join(f"{b.name} ({b.limit.shown})" for b in exc.budgets)
        app = self.app

        def answered(go: bool | None) -> None:
            if go:
                app.model.set_held(session_key(session), "")
                self.grid.update_cards([session_key(session)])
                yes()
            else:
                no()

        app.push_screen(
            ConfirmScreen(
                f"Let {session.ref} go on past its budget?",
                f"fleet paused it when it went past {named}. Going on spends more; fleet "
                "will not ask again for this budget.",
                action,
            ),
            answered,
        )

    def attach(self) -> None:
        """The agent's tmux session in this terminal; fleet comes back when it detaches."""
        card = self.selected()
        if card is None or self.app.sup is None:
            return
        argv = self.app.sup.attach_argv(card.session)
        with self.app.suspend():
            subprocess.run(argv, check=False)

    # -- a new session --------------------------------------------------------------------

    def new_session(self, again: NewSession | None = None, problem: str = "") -> None:
        """The new-session form, offering the hosts, their recent repos and agents, and the
        agents; `again`, a request that failed, comes back with `problem` said in it."""
        app = self.app
        if not app.config.hosts or app.sup is None:
            app.notify("no hosts configured yet", severity="warning")
            return
        recent: dict[str, list[str]] = {}
        agents: dict[str, str] = {}
        for card in sorted(app.model.cards.values(), key=lambda c: -c.session.created):
            repos = recent.setdefault(card.host, [])
            agents.setdefault(card.host, card.session.agent)
            if card.session.repo and card.session.repo not in repos:
                repos.append(card.session.repo)
        selected = self.grid.selected
        screen = NewSessionScreen(
            list(app.config.hosts),
            list(app.sup.profiles),
            recent,
            host=selected.host if selected else None,
            recent_agents=agents,
            again=again,
            problem=problem,
        )

        def done(result: NewSession | None) -> None:
            if result is not None:
                self.start_session(result)

        app.push_screen(screen, done)
        if screen.host is not None:
            self.run(partial(self._agents_on, screen, screen.host), name="agents", group="agents")

    async def _agents_on(self, screen: NewSessionScreen, host: str) -> None:
        """Ask the host which agents it has, for the open form (never longer than a glance)."""
        helper = self.sup.helper(host)
        try:
            rows = await asyncio.wait_for(
                host_versions(host, helper, self.sup.profiles.values()), AGENT_CHECK_TIMEOUT
            )
        except (TimeoutError, FleetError):
            return
        missing = {r.agent for r in rows if r.note == "not installed"}
        if screen.is_attached:
            screen.host_has(host, missing)

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
            # Back in the form, with what was typed and why it failed.
            self.new_session(again=request, problem=f"Could not start it: {exc}")
            return
        app.model.upsert_session(session)
        app._refresh_all()
        self.grid.select((session.host, session.id))
        app.notify(f"started {session.ref}", timeout=4)
