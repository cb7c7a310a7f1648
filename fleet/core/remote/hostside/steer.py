"""Steering a session: typing text into its agent, and sending it keys.

Text is typed exactly as written, never read as tmux key names: over the serve helper's tmux
control client when it has one (no forks, see ctlsend.py), else with tmux send-keys -l or a
paste. At a choice dialog only one of its answers goes through, unless the person insists.
"""

from __future__ import annotations

import time
from typing import Optional

from . import ctlsend, dialog, tmux
from .classify import NEEDS_INPUT, classify
from .layout import HelperError, check_id, tmux_name
from .sessions import load_meta, string_arg
from .tmuxctl import Control

KEY_GAP = 0.2  # seconds between the keys of one `keys` request
# The serve helper's tmux control client (ctlsend.py); None in a one-shot helper, where
# attaching a client would cost more forks than it saves.
_control: Optional[Control] = None


def use_control_client(control: Optional[Control]) -> None:
    global _control
    _control = control


def send_settings(args: dict) -> dict:
    """How the session's profile types: "type" or "paste", and a pause before Enter."""
    delay = args.get("enter_delay", 0)
    return {
        "mode": "paste" if args.get("mode") == "paste" else "type",
        "enter_delay": float(delay) if isinstance(delay, (int, float)) and 0 <= delay <= 5 else 0,
    }


def multiline(text: str) -> bool:
    return "\n" in text or "\r" in text


def type_text(name: str, text: str, settings: dict, enter: bool = True) -> None:
    """Steering: the text exactly as written (never read as tmux key names), then Enter.

    A message of several lines goes as one bracketed paste whatever the profile's mode: typed,
    each newline would be an Enter and submit a line on its own. (A program that never asked
    tmux for bracketed paste still gets a line per newline: nothing else can tell it apart.)"""
    if settings.get("mode") == "paste" or multiline(text):
        tmux.paste(name, text)
    elif text:
        tmux.send_literal(name, text)
    if enter:
        if settings.get("enter_delay"):
            time.sleep(settings["enter_delay"])
        tmux.send_keys(name, ["Enter"])


def refuse_text_at_prompt(session_id: str, text: str, screen: str) -> None:
    """At a choice dialog a message typed answers it: the Enter after it picks the highlighted
    option (seen on Claude Code: "please don't" + Enter chose "Yes" and ran the command). So
    there only one of the answers it shows goes through, unless the person insists; a prompt
    that asks for text takes any (see dialog.py)."""
    rules = load_meta(session_id).get("rules") or {}
    if classify(screen, rules, float("inf")) != NEEDS_INPUT:
        return
    shown = dialog.read(screen)
    if shown.takes(text):
        return
    raise HelperError(
        "at-prompt",
        "session %s is waiting at a prompt that picks an option, and a message typed now would "
        "answer it (its Enter picks the highlighted option). Answer the prompt first (%s), or "
        "send with --force if you mean to type into it" % (session_id, shown.said()),
    )


def op_send(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    text = string_arg(args, "text", required=True)
    settings = send_settings(args)
    enter = bool(args.get("enter", True))
    force = bool(args.get("force"))
    typed = settings["mode"] == "type" and not multiline(text)
    if not (typed and _send_over_control(session_id, text, settings, enter, force)):
        name = _alive_name(session_id)
        if not force:
            refuse_text_at_prompt(session_id, text, tmux.capture(name))
        type_text(name, text, settings, enter)
    return {"sent": len(text)}


def _send_over_control(
    session_id: str, text: str, settings: dict, enter: bool, force: bool
) -> bool:
    """Typed over the control client: True when done, False when it cannot be used (nothing
    was typed then)."""
    control = _control
    if control is None:
        return False
    name = tmux_name(session_id)
    state = ctlsend.pane_state(control, name)
    if state is None:
        return False
    alive, screen = state
    if not alive:
        raise _not_running(session_id)
    if not force:
        refuse_text_at_prompt(session_id, text, screen)
    data = text.encode("utf-8")
    if settings["enter_delay"] and enter:
        ctlsend.type_bytes(control, name, data, enter=False)
        time.sleep(settings["enter_delay"])
        ctlsend.type_bytes(control, name, b"", enter=True)
    else:
        ctlsend.type_bytes(control, name, data, enter)
    return True


def op_keys(args: dict) -> dict:
    session_id = check_id(args.get("session"))
    keys = args.get("keys")
    if not isinstance(keys, list) or not keys:
        raise HelperError("bad-request", "keys must be a non-empty list of tmux key names")
    name = _alive_name(session_id)
    tmux.send_keys(name, keys[:1])
    for key in keys[1:]:
        # One key per tmux call, apart: sent together, two Escapes arrive as one sequence and
        # opencode (which wants "esc again to interrupt") saw a single press.
        time.sleep(KEY_GAP)
        tmux.send_keys(name, [key])
    return {"keys": keys}


def _not_running(session_id: str) -> HelperError:
    return HelperError("not-running", "session %s is not running" % session_id)


def _alive_name(session_id: str) -> str:
    name = tmux_name(session_id)
    pane = tmux.panes().get(name)
    if pane is None or pane.dead:
        raise _not_running(session_id)
    return name
