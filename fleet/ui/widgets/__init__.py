"""fleet's Textual widgets."""

from fleet.ui.widgets.grid import SessionGrid

__all__ = ["SessionGrid"]
