"""fleet's own entries in Textual's command palette (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class FleetCommands(Provider):
    """New session, grouping, filter, help, and every theme by name."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        from fleet.ui.app import FleetApp  # the app names this provider: import it late

        app = self.app
        assert isinstance(app, FleetApp)
        view = app.view
        entries: list[tuple[str, str, Callable[[], Any]]] = [
            ("New session", "start an agent on a host", app.action_new_session),
            ("Group by status", "needs-input first", partial(view.set_grouping, "status")),
            ("Group by host", "one block per host", partial(view.set_grouping, "host")),
            ("Filter sessions", "text, host:NAME, agent:NAME, status:NAME", app.action_filter),
            ("Help", "every key", app.action_help),
        ]
        for name in sorted(app.available_themes):
            entries.append((f"Theme: {name}", "switch and remember", partial(view.set_theme, name)))
        return entries

    async def discover(self) -> Hits:
        for name, help_text, command in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, help=help_text)
