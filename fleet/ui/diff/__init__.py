"""The side-panel diff: a session's files and hunks, a hunk cursor and keyboard review.

Like Textual's TextArea keeps its document apart from its widget, the panel is split by
responsibility:

- :mod:`~fleet.ui.diff.rows`: the document model, Textual-free: which rows exist, where each
  hunk is, line numbers, the hunk cursor and the decisions (tested without an app);
- :mod:`~fleet.ui.diff.text`: agent text made safe to draw, and the panel's words for it;
- :mod:`~fleet.ui.diff.lex`: lazy pygments lexing, a hunk or a chunk at a time, and its cache;
- :mod:`~fleet.ui.diff.styles`: the theme turned into Rich styles for the rows;
- :mod:`~fleet.ui.diff.paint`: one row drawn as a strip;
- :mod:`~fleet.ui.diff.view`, :mod:`~fleet.ui.diff.files`, :mod:`~fleet.ui.diff.panel`: the
  widgets (the hunks view, the file list, and the panel that holds them and owns the keys).

Added and removed lines keep their ``+`` / ``-`` sign and carry a ``▌`` bar besides their tint;
the hunk under the cursor has a ``┃`` bar down its left edge; decisions are words with a
symbol (``○ pending``, ``✓ approved``, ``✗ rejected``).

The document side (``rows``, ``text``, ``lex``) imports no Textual, and neither does importing
this package: the widgets are loaded on first use of their names (as ``textual.widgets`` does),
so a tool or a test can use the model without loading Textual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fleet.ui.diff.lex import lexer_for, warm_up
from fleet.ui.diff.rows import CHUNK, DECISIONS, SYMBOLS, Counts, Decision, DiffRows, FileRow

if TYPE_CHECKING:
    from fleet.ui.diff.files import FileList
    from fleet.ui.diff.panel import Action, DiffPanel
    from fleet.ui.diff.view import DiffView

_WIDGETS = {
    "Action": "fleet.ui.diff.panel",
    "DiffPanel": "fleet.ui.diff.panel",
    "DiffView": "fleet.ui.diff.view",
    "FileList": "fleet.ui.diff.files",
}


def __getattr__(name: str) -> Any:
    module = _WIDGETS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CHUNK",
    "DECISIONS",
    "SYMBOLS",
    "Action",
    "Counts",
    "Decision",
    "DiffPanel",
    "DiffRows",
    "DiffView",
    "FileList",
    "FileRow",
    "lexer_for",
    "warm_up",
]
