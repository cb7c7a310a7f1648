"""Steering over the serve helper's tmux control client, without forking tmux.

Forked, one steer took four tmux processes (list-panes, capture-pane for the prompt guard,
send-keys for the text and for Enter): on a host busy with printing agents, most of a steer's
time. Over the control client the same commands cost only the tmux server's work.

The text is spelled in hex (`send-keys -H`, one byte per key), so tmux never parses any of it:
it types exactly what `send-keys -l` types, without -l's reading of a trailing ";".
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from .layout import HelperError
from .tmuxctl import Control, safe_arg

CHUNK = 1024  # text bytes per send-keys command: a command line of about 3 kB


def pane_state(control: Control, name: str) -> Optional[Tuple[bool, str]]:
    """(alive, screen) in one round trip; None when the control client cannot be used (then
    nothing was done and the caller forks tmux instead)."""
    if not safe_arg(name):
        return None
    out = control.run(
        name,
        ['list-panes -t =%s: -F "#{pane_dead}"' % name, "capture-pane -p -t =%s:" % name],
    )
    if out is None:
        return None
    dead, screen = out
    return dead is not None and dead.strip() == "0", screen or ""


def type_bytes(control: Control, name: str, data: bytes, enter: bool) -> None:
    commands: List[str] = []
    for start in range(0, len(data), CHUNK):
        spelled = " ".join("%02x" % b for b in data[start : start + CHUNK])
        commands.append("send-keys -t =%s: -H %s" % (name, spelled))
    if enter:
        commands.append("send-keys -t =%s: Enter" % name)
    if not commands:
        return
    out = control.run(name, commands)
    if out is None:
        # Never typed again by forking: part of it may be in the agent's input box already.
        raise HelperError(
            "tmux",
            "the connection to tmux broke while typing, so the message may be partly typed: "
            "look at the session before sending it again",
        )
    if any(o is None for o in out):
        raise HelperError("tmux", "tmux refused to type into %s (did it just end?)" % name)
