"""What every controller shares: the app it serves, the grid and panel, the selected card."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from textual.worker import Worker

from fleet.ui.diff import DiffPanel
from fleet.ui.model import Card
from fleet.ui.widgets.grid import SessionGrid

if TYPE_CHECKING:
    from fleet.core.supervisor import Supervisor
    from fleet.ui.app import FleetApp


class Controller:
    """One context's behaviour (its keys and messages), over the app's widgets and core.

    A controller holds no widget: it reads them from the app when it acts, and reads
    ``app.sup`` each time too (tests put a stand-in supervisor there)."""

    def __init__(self, app: FleetApp) -> None:
        self.app = app

    @property
    def sup(self) -> Supervisor:
        sup = self.app.sup
        assert sup is not None, "the supervisor starts when the app mounts"
        return sup

    @property
    def grid(self) -> SessionGrid:
        return self.app.session_grid

    @property
    def panel(self) -> DiffPanel:
        return self.app.query_one(DiffPanel)

    def selected(self) -> Card | None:
        """The card under the cursor; a key that needs one says so when there is none."""
        card = self.grid.selected
        if card is None:
            self.app.notify("no session selected", severity="warning")
        return card

    def mark_read(self, card: Card) -> bool:
        """The person has seen the card: the model and the store both hear it (one rule).
        Returns whether it had anything unread."""
        if not self.app.model.mark_read(card.key):
            return False
        if self.app.sup is not None:
            self.app.sup.mark_read(card.session)
        return True

    def card_of(self, ref: str) -> Card | None:
        """The card of a session by its ref (`host/name`), None when it left the grid."""
        return next((c for c in self.app.model.cards.values() if c.session.ref == ref), None)

    def run(
        self,
        work: Callable[[], Coroutine[Any, Any, None]],
        *,
        name: str,
        group: str,
        exclusive: bool = False,
    ) -> Worker[None]:
        """Run `work` in a worker of the app's (I/O never blocks the event loop); a failure
        ends that worker, not the app. The app owns the worker, so its groups can be waited
        on or cancelled from the app."""
        return self.app.run_worker(
            work, name=name, group=group, exclusive=exclusive, exit_on_error=False
        )
