"""How commands print: aligned tables and JSON on stdout, notes on stderr.

Words themselves (ages, statuses, counts) come from fleet.presentation, shared with the TUI.
Each helper looks up sys.stdout / sys.stderr when called, not when imported, so a redirected
stream (a test's capture, a pipe) is the one written to.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def table(rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Columns padded to their widest cell, two spaces apart; the first row is the header."""
    stream = out if out is not None else sys.stdout
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        stream.write(line.rstrip() + "\n")


def print_json(value: Any, out: TextIO | None = None) -> None:
    """`value` as indented JSON with sorted keys (what every --json prints)."""
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def note(text: str) -> None:
    """A line for the person, not for a pipe: on stderr."""
    print(text, file=sys.stderr)
