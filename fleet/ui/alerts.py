"""What interrupts the person: which statuses are loud, and how the terminal is told.

Pure words and escape sequences; the app shows the toast and writes the sequence.
"""

from __future__ import annotations

from typing import Literal

from fleet.core.models import Status
from fleet.core.textsafe import inert

Severity = Literal["information", "warning", "error"]

# Statuses that interrupt the person: a toast and the terminal's bell.
LOUD: dict[Status, str] = {
    Status.NEEDS_INPUT: "needs you",
    Status.FAILED: "failed",
    Status.EXITED: "finished",
}
_SEVERITY: dict[Status, Severity] = {
    Status.NEEDS_INPUT: "warning",
    Status.FAILED: "error",
    Status.EXITED: "information",
}


def announcement(ref: str, status: Status, code: object) -> tuple[str, Severity] | None:
    """The toast for a session (`host/name`) that reached `status`, None when it is quiet."""
    if status not in LOUD:
        return None
    suffix = f" ({code})" if code is not None else ""
    return f"{ref} {LOUD[status]}{suffix}", _SEVERITY[status]


def terminal_alert(mode: str, message: str) -> str:
    """The escape sequence for a desktop notification (OSC 9 or 777), "" for other modes."""
    text = inert(message).replace(";", ",")[:200]  # nothing that could end the sequence
    if mode == "osc9":
        return f"\x1b]9;{text}\x07"
    if mode == "osc777":
        return f"\x1b]777;notify;fleet;{text}\x07"
    return ""
