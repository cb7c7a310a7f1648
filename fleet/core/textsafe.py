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
# C0 (but \n and \t), DEL, C1, and every Unicode Bidi_Control: the overrides and isolates
# (Trojan Source) and the marks (ALM, LRM, RLM), which reorder text just as well.
_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
# A lone surrogate (from a JSON "\\udc80" escape) cannot be written to a UTF-8 terminal at all.
_SURROGATES = re.compile("[\ud800-\udfff]")


def inert(text: str) -> str:
    """Printable text only: escape sequences and control characters removed."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    return _SURROGATES.sub("\ufffd", text)


def inert_bytes(data: bytes) -> str:
    return inert(data.decode("utf-8", errors="replace"))


def said(text: object, limit: int = 2000) -> str:
    """What someone else said (a host, an SSH server, an agent), as a person may read it:
    inert, on one line, at most `limit` characters."""
    raw = str(text)
    if len(raw) > 4 * limit:
        raw = raw[: 4 * limit]
    shown = " ".join(inert(raw).split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
