"""Full screens and modals of the TUI."""

from fleet.ui.screens.help import HelpScreen
from fleet.ui.screens.steer import SteerScreen

__all__ = ["HelpScreen", "SteerScreen"]
