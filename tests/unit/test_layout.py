"""The shape of the code, checked: every module of fleet/ short enough to read (600 lines),
every function too (80, from its first decorator to its last line), and neither face reaching
into the supervisor's links or helpers (they call the supervisor)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

FLEET = Path(__file__).resolve().parents[2] / "fleet"
MODULES = sorted(FLEET.rglob("*.py"))
FACES = [*sorted((FLEET / "cli").glob("*.py")), *sorted((FLEET / "ui").rglob("*.py"))]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _functions(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            found.append((node.name, (node.end_lineno or node.lineno) - start + 1))
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(FLEET)))
def test_modules_and_functions_stay_readable(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} is over {MAX_MODULE_LINES}"
    long = [(n, size) for n, size in _functions(ast.parse(text)) if size > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


# `.helper(...).call(` is a raw helper op; `.links` / `.helpers` are the supervisor's insides.
REACHING_IN = re.compile(r"\.helper\([^)]*\)\s*\.\s*(call|stream)\(|\bsup\w*\.(links|helpers)\b")


@pytest.mark.parametrize("path", FACES, ids=lambda p: str(p.relative_to(FLEET)))
def test_faces_call_the_supervisor_not_its_helpers(path: Path) -> None:
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if REACHING_IN.search(line)
    ]
    assert not found, found
