"""Full screens and modals of the TUI."""

from fleet.ui.screens.help import HelpScreen

__all__ = ["HelpScreen"]
