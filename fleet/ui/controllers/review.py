"""The review flow: open a session's diff, keep it loaded, and act on the panel's decisions.

The panel (:class:`~fleet.ui.diff.DiffPanel`) shows a diff and sends decisions up; this
controller fetches the diff ("diff" group, the latest load wins), applies decisions one at a
time each against the diff the person saw ("review" group), and shows the diff as it is now
when the host refuses a stale one.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker

from fleet import presentation
from fleet.core import events, review
from fleet.core.errors import FleetError
from fleet.core.models import Session
from fleet.presentation import note_delivery
from fleet.ui.controllers.base import Controller
from fleet.ui.diff import DiffPanel

if TYPE_CHECKING:
    from fleet.ui.app import FleetApp


class ReviewController(Controller):
    """The diff panel's loading and decisions."""

    def __init__(self, app: FleetApp) -> None:
        super().__init__(app)
        self._lock = asyncio.Lock()  # one decision at a time, each on the diff it saw
        # The view the person chose in the diff panel (review.VIEWS): every reload honours
        # it, even one that was already under way when they switched.
        self.mode = "review"
        # Hunks the cursor goes to in the next diff that has them (what an undo brought back):
        # kept until shown, as the host's own news of the decision may reload first.
        self.focus_next: tuple[str, ...] = ()

    @property
    def reviewing(self) -> bool:
        return self.app.query_one("#body").has_class("-review")

    def open_diff(self) -> None:
        card = self.selected()
        if card is None:
            return
        panel = self.panel
        if panel.session_ref != card.session.ref:
            self.mode = "review"
            self.focus_next = ()
        # The fetch first: it is on its way while the panel opens and the grid relays out.
        self.load_diff(card.session)
        self.app.query_one("#body").add_class("-review")
        panel.clear(f"loading the diff of {card.session.ref}…")
        panel.focus()

    def close(self) -> None:
        self.app.query_one("#body").remove_class("-review")
        self.grid.focus()

    def load_diff(self, session: Session, focus: tuple[str, ...] = ()) -> Worker[None]:
        """Fetch and show the session's diff; the cursor goes to the first hunk of `focus`
        (fingerprints) that is in it, else stays where it was."""
        if focus:
            self.focus_next = focus
        load = partial(self._load, session)
        return self.run(load, name="load_diff", group="diff", exclusive=True)

    async def _load(self, session: Session) -> None:
        panel = self.panel
        mode = self.mode
        try:
            _, diff = await self.sup.diff(f"{session.host}/{session.id}", mode, session=session)
        except FleetError as exc:
            panel.clear(f"cannot read the diff: {exc}")
            return
        if mode != self.mode:
            return  # the person switched views meanwhile: that load is the one to show
        focus = self.focus_next
        panel.show(session.ref, diff, focus)
        if focus and any(h.fingerprint in focus for h in diff.hunks):
            self.focus_next = ()
        panel.focus()

    def change_mode(self, event: DiffPanel.ModeChanged) -> None:
        card = self.card_of(self.panel.session_ref)
        if card is not None:
            self.mode = event.mode
            self.load_diff(card.session)

    def decided_elsewhere(self, event: events.Decided) -> None:
        """A decision on a session (by this fleet, the CLI or another laptop): the open
        panel shows the diff as it is now, so the next key acts on what the person sees."""
        card = self.app.model.cards.get((event.host, event.session))
        if card is None or not self.reviewing or self.panel.session_ref != card.session.ref:
            return
        self.load_diff(card.session)

    # -- decisions ------------------------------------------------------------------------

    def decide(self, event: DiffPanel.Decide) -> None:
        """A decision from the panel, for the session it names (the cursor may have moved)."""
        card = self.grid.selected
        if card is None or card.session.ref != event.session_ref:
            card = self.card_of(event.session_ref)
        if card is not None:
            self.review_decision(card.session, event)

    def review_decision(self, session: Session, event: DiffPanel.Decide) -> Worker[None]:
        return self.run(
            partial(self._decide_in_turn, session, event), name="review_decision", group="review"
        )

    async def _decide_in_turn(self, session: Session, event: DiffPanel.Decide) -> None:
        async with self._lock:
            await self._decide(session, event)

    async def _decide(self, session: Session, event: DiffPanel.Decide) -> None:
        try:
            done = await self._carry_out(session, event)
        except review.StaleReview as exc:
            self.app.notify(
                f"{exc} — here is the diff as it is now", severity="warning", timeout=10
            )
            if exc.fresh is not None:
                self.panel.show(session.ref, exc.fresh)
            return
        except FleetError as exc:
            self.app.notify(str(exc), severity="error", timeout=10)
            self.load_diff(session)
            return
        if done is None:
            return
        said, focus = done
        self.app.notify(f"{session.ref}: {said}", timeout=4)
        self.load_diff(session, focus)

    async def _carry_out(
        self, session: Session, event: DiffPanel.Decide
    ) -> tuple[str, tuple[str, ...]] | None:
        """Carry the decision out: what was done in words and the hunks the cursor goes to
        next (none: it stays); None for a decision not taken."""
        sup = self.sup
        ref = f"{session.host}/{session.id}"
        number = event.hunk.number if event.hunk is not None else None
        expect = event.fingerprint
        if event.action == "approve" and number is not None:
            await sup.approve(ref, hunks=[number], expect=expect, session=session)
            return f"approved hunk {number}", ()
        if event.action == "reject" and number is not None:
            rejected = await sup.reject(
                ref, hunks=[number], note=event.text, expect=expect, session=session
            )
            return f"rejected hunk {number}; {note_delivery(rejected)}", ()
        if event.action == "approve-all":
            result = await sup.approve(
                ref, message=event.text or None, expect=expect, session=session
            )
            return f"committed on {result.branch}: {result.message}", ()
        if event.action == "undo":
            undone = await sup.undo(ref)
            return f"undid {presentation.undone(undone)}", undone.hunks
        return None
