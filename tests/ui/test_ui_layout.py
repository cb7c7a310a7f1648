"""The TUI's shape, checked: card drawing stays free of widgets (module and function sizes
are checked for all of fleet/ in tests/unit/test_layout.py)."""

from __future__ import annotations

import ast
from pathlib import Path

FLEET = Path(__file__).resolve().parents[2] / "fleet"


def test_the_card_is_drawn_without_textual_widgets() -> None:
    """Card drawing stays pure: strips from data, no widget, app or timer to reach for."""
    tree = ast.parse((FLEET / "ui" / "widgets" / "card.py").read_text(encoding="utf-8"))
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    textual = {name for name in imported if name.startswith("textual")}
    assert textual == {"textual.strip.Strip"}, textual
