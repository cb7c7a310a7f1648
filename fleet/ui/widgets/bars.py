"""The one-line bars at the bottom: `/` filters the grid, `:` takes a command.

A bar is hidden and disabled until opened: hidden, it must never take keys meant for the grid.
"""

from __future__ import annotations

from textual.widgets import Input

COMMANDS_HELP = ":new · :host NAME · :theme NAME · :group host|status · :q"


class _Bar(Input):
    def open(self) -> None:
        """Show the bar and give it the keys."""
        self.disabled = False
        self.add_class("-shown")
        self.focus()

    def close(self, *, clear: bool = True) -> None:
        """Hide the bar and take the keys back (the text stays unless `clear`)."""
        if clear:
            self.value = ""
        self.remove_class("-shown")
        self.disabled = True

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")


class FilterBar(_Bar):
    """`/` filter: text, or host:NAME, agent:NAME, status:NAME."""

    def __init__(self) -> None:
        super().__init__(
            placeholder="filter: text, host:NAME, agent:NAME, status:NAME", disabled=True
        )


class CommandBar(_Bar):
    """`:` commands: new, host NAME, theme NAME, group host|status, quit."""

    def __init__(self) -> None:
        super().__init__(placeholder=COMMANDS_HELP, disabled=True)


__all__ = ["COMMANDS_HELP", "CommandBar", "FilterBar"]
