"""Make text written by agents inert before it reaches a person's terminal.

Agent output is untrusted: escape sequences could set the clipboard (OSC 52), retitle the
window, move the cursor or hide text; bidi overrides can make text read differently than it
is. What remains is printable text, newlines and tabs.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI ... final byte
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?      # OSC ... BEL or ST
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?           # DCS, SOS, PM, APC ... ST
  | \x1b[ -/]*[0-~]                         # other two-byte escapes (charset, keypad ...)
  | \x1b                                    # a lone ESC
  | \x9b[0-?]*[ -/]*[@-~]                   # 8-bit CSI
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """Printable text only: escape sequences and control characters removed."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)


def inert_bytes(data: bytes) -> str:
    return inert(data.decode("utf-8", errors="replace"))
