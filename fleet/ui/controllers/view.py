"""How the fleet is viewed: the `/` filter, the `:` command line, grouping and the theme.

Both bars are hidden and disabled until their key opens them; escape (`back`) closes the one
that is open and gives the keys back to the grid.
"""

from __future__ import annotations

from fleet.ui.controllers.base import Controller
from fleet.ui.model import GroupBy
from fleet.ui.widgets.bars import COMMANDS_HELP, CommandBar, FilterBar


class ViewController(Controller):
    """The filter and command bars, and what they change."""

    # -- the filter -----------------------------------------------------------------------

    def open_filter(self) -> None:
        self.app.query_one(FilterBar).open()

    def filter_changed(self, text: str) -> None:
        self.app.model.filter_text = text
        self.app._refresh_all()

    def filter_done(self, text: str) -> None:
        """Enter in the filter: the grid takes the keys, the filter stays while it has text."""
        self.grid.focus()
        if not text:
            self.app.query_one(FilterBar).close(clear=False)

    def back(self) -> None:
        """Escape outside the diff: close the command line, else clear and close the filter."""
        command = self.app.query_one(CommandBar)
        if command.shown:
            command.close()
            self.grid.focus()
            return
        bar = self.app.query_one(FilterBar)
        if bar.shown or self.app.model.filter_text:  # `:host NAME` filters with the bar shut
            bar.close()
            self.filter_changed("")
            self.grid.focus()

    # -- the command line -----------------------------------------------------------------

    def open_command(self) -> None:
        self.app.query_one(CommandBar).open()

    def command_submitted(self, line: str) -> None:
        self.app.query_one(CommandBar).close()
        self.grid.focus()
        self.run_command(line.strip().lstrip(":"))

    def run_command(self, line: str) -> None:
        """`new`, `host NAME` (or `host` for all), `theme NAME`, `group host|status`, `q`."""
        app = self.app
        word, _, arg = line.partition(" ")
        arg = arg.strip()
        if word in ("", "q", "quit"):
            if word:
                app.exit(0)
        elif word == "new":
            app.action_new_session()
        elif word == "host":
            if arg and arg not in app.config.hosts:
                app.notify(f"unknown host {arg!r}", severity="error")
                return
            app.model.filter_text = f"host:{arg}" if arg else ""
            app._refresh_all()
        elif word == "theme":
            self.set_theme(arg)
        elif word == "group" and arg in ("host", "status"):
            self.set_grouping("host" if arg == "host" else "status")
        else:
            app.notify(f"unknown command {line!r}: {COMMANDS_HELP}", severity="error")

    def set_theme(self, name: str) -> None:
        app = self.app
        if name not in app.available_themes:
            known = ", ".join(sorted(app.available_themes))
            app.notify(f"no theme {name!r} (themes: {known})", severity="error", timeout=10)
            return
        app.theme = name

    def set_grouping(self, group_by: GroupBy) -> None:
        self.app.model.group_by = group_by
        self.grid.update_cards()
        self.app._refresh_all()
