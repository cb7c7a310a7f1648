"""The TUI's shape, checked: every module short enough to read, every function too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLEET = Path(__file__).resolve().parents[2] / "fleet"
UI_MODULES = [*sorted((FLEET / "ui").rglob("*.py")), FLEET / "presentation.py"]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80  # from the first decorator to the last line


def _long_functions(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            size = (node.end_lineno or node.lineno) - start + 1
            if size > MAX_FUNCTION_LINES:
                found.append((node.name, size))
    return found


@pytest.mark.parametrize("path", UI_MODULES, ids=lambda p: str(p.relative_to(FLEET)))
def test_ui_modules_and_functions_stay_readable(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name} is {lines} lines, over {MAX_MODULE_LINES}"
    long = _long_functions(ast.parse(text))
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


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
