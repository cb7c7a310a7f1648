"""Following the hosts: one worker per host turns its events into the model and the grid.

Events come from `Supervisor.mirror`; each lands in the FleetModel and repaints only the
cards it touched. A status the person must see is announced (a toast and the terminal's own
notification); a decision made elsewhere refreshes the open diff.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker

from fleet.core import events
from fleet.core.errors import FleetError
from fleet.core.models import Status
from fleet.presentation import HELD, crossing_words
from fleet.ui.alerts import announcement, terminal_alert
from fleet.ui.controllers.base import Controller

if TYPE_CHECKING:
    from fleet.core.store import Store

log = logging.getLogger("fleet.ui")


class HostsController(Controller):
    """The host links' side of the app: the cached fleet first, then every host's events."""

    async def load_cached(self, store: Store) -> None:
        """The sessions and screens fleet remembers, shown before any host answers."""
        model = self.app.model
        hosts = self.app.config.hosts
        screens = await store.screens()
        spent = await store.session_usage()
        for cached in await store.sessions():
            if cached.session.host in hosts:
                model.upsert_session(
                    cached.session,
                    cached=True,
                    gone=cached.gone,
                    unread=cached.unread,
                    output_cursor=cached.output_cursor,
                    usage=spent.get(cached.state.key),
                )
                screen = screens.get((cached.session.host, cached.session.id))
                if screen:
                    model.set_screen(cached.session.host, cached.session.id, screen)

    def follow(self, host: str) -> Worker[None]:
        return self.run(partial(self._follow, host), name="follow_host", group="hosts")

    async def _follow(self, host: str) -> None:
        try:
            async for event in self.sup.mirror(host):
                try:
                    self.apply(event)
                except Exception:  # a bug in showing one event must not stop the host
                    log.exception("%s: could not show a %s event", host, event.kind)
        except FleetError as exc:
            self.app.model.mark_host(host, "unreachable", str(exc))
            self.app._refresh_hosts()

    def apply(self, event: events.Event) -> None:
        """One event into the model, then repaint what it changed (all of it when the order
        or the hosts changed, else only the cards it touched)."""
        grid = self.grid
        model = self.app.model
        before = model.order_version
        spent = model.usage_version
        touched = model.apply(event)
        match event:
            case events.StatusChanged():
                self.announce(event.host, event.session, event.status, event.exit_code)
            case events.Decided():
                self.app.review.decided_elsewhere(event)
            case events.Hello():
                self.app.heap.answered(event.host)
        selected = grid.selected
        if selected is not None and selected.key in touched:
            self.mark_read(selected)  # what the person is looking at is read as it arrives
            self.app._show_keys()  # its answer keys come and go with what it waits for
        hosts = isinstance(event, events.Hello | events.LinkDown | events.Snapshot)
        if hosts or model.order_version != before:
            self.app._refresh_all()
        elif touched:
            grid.update_cards(touched)
        if model.usage_version != spent:  # the top line's day follows on the next tick
            self.check_budgets(touched)

    # -- budgets ---------------------------------------------------------------------------

    def check_budgets(self, keys: set[tuple[str, str]]) -> None:
        """The budgets of the sessions whose spending moved, acted on (once) by the core;
        the person hears of each crossing (a toast, the terminal's notification, the card)."""
        if self.app.config.budgets and keys:
            work = partial(self._check_budgets, set(keys))
            self.run(work, name="check_budgets", group="budgets")

    async def _check_budgets(self, keys: set[tuple[str, str]]) -> None:
        try:
            news = await self.sup.check_budgets(self.app.model.fleet, keys)
        except FleetError as exc:
            log.error("budgets: %s", exc)
            return
        for item in news:
            message = crossing_words(item.crossing, item.who, item.paused)
            warning = item.crossing.level == "warning"
            self.app.notify(message, severity="warning" if warning else "error", timeout=20)
            self.alert(message)
        if any(n.crossing.budget.limit.action == "pause" for n in news):
            await self.show_held()

    async def show_held(self) -> None:
        """Mark the cards of the sessions a budget paused (and unmark the others)."""
        model = self.app.model
        held = await self.sup.held(c.session for c in list(model.cards.values()))
        changed = [
            key for key in list(model.cards) if model.set_held(key, HELD if key in held else "")
        ]
        if changed:
            self.grid.update_cards(changed)

    def announce(self, host: str, sid: str, status: Status, code: object) -> None:
        card = self.app.model.cards.get((host, sid))
        said = announcement(f"{host}/{card.session.name if card else sid}", status, code)
        if said is None:
            return
        message, severity = said
        self.app.notify(message, severity=severity, timeout=8)
        self.alert(message)

    def alert(self, message: str) -> None:
        """The terminal's own notification, as [ui] notify says: bell, OSC 9, OSC 777 or off."""
        app = self.app
        if app.config.notify == "bell":
            app.bell()
            return
        sequence = terminal_alert(app.config.notify, message)
        driver = getattr(app, "_driver", None)
        if sequence and driver is not None and not app.is_headless:
            driver.write(sequence)
