"""How commands print: aligned tables, lines and JSON on stdout, notes on stderr.

Every line goes out through here, inert (fleet.core.textsafe): whatever a host or an agent put
into it, no escape sequence or control character reaches the terminal. JSON is escaped by its
encoder (ASCII only). Words themselves (ages, statuses, counts) come from fleet.presentation,
shared with the TUI. Each helper looks up sys.stdout / sys.stderr when called, not when
imported, so a redirected stream (a test's capture, a pipe) is the one written to.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from fleet.core.textsafe import inert
from fleet.launch import note as note  # the CLI's modules print their notes from here


def table(rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Columns padded to their widest cell, two spaces apart; the first row is the header."""
    stream = out if out is not None else sys.stdout
    rows = [[" ".join(inert(c).split("\n")) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        stream.write(inert(line.rstrip()) + "\n")


def print_json(value: Any, out: TextIO | None = None) -> None:
    """`value` as indented JSON with sorted keys (what every --json prints)."""
    stream = out if out is not None else sys.stdout
    stream.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def say(text: str) -> None:
    """A line of the command's output, on stdout."""
    sys.stdout.write(inert(text) + "\n")
    sys.stdout.flush()  # a follower (fleet watch | grep) sees each line as it comes
