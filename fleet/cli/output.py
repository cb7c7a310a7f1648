"""How commands print: aligned tables and JSON on stdout, notes on stderr.

Words themselves (ages, statuses, counts) come from fleet.presentation, shared with the TUI.
Each helper looks up sys.stdout / sys.stderr when called, not when imported, so a redirected
stream (a test's capture, a pipe) is the one written to.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from fleet.core.models import Session, Status


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


def status_text(session: Session) -> str:
    if session.status in (Status.EXITED, Status.FAILED) and session.exit_code is not None:
        return f"{session.status} ({session.exit_code})"
    return str(session.status)


def age(since: float) -> str:
    if not since:
        return "-"
    secs = max(0, int(time.time() - since))
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60:02d}m"
    return f"{secs // 86400}d"
