"""Answering what an agent asks: allow, deny (with a note), or pick any option of its dialog.

Stdlib only, Python 3.8: this module runs on the hosts.

The answer is typed into the dialog, for every agent alike. Claude Code's PermissionRequest
hook could return the decision itself, but only by waiting for fleet inside the hook: with
fleet disconnected (a laptop closed) the agent would hang on its hook, and a bounded wait
ends in the same dialog anyway. So fleet's hooks only report (signals.py: they never wait),
the agent's own dialog stays on its screen, and an answer is keys typed into it, exactly as a
person at the terminal would.

Right before typing, the screen and the signal are read again and the request's id computed
as the watcher does (choices.py): when it is not the id the person saw (`expect`), the agent
now asks something else and nothing is typed. A deny note is typed only once the dialog is
gone and the agent shows a prompt that takes text (never into another dialog).
"""

from __future__ import annotations

import time
from typing import List, Optional, Tuple

from . import choices, signals, steer, tmux
from .classify import IDLE, NEEDS_INPUT, classify, matched
from .layout import HelperError, check_id
from .sessions import load_meta, string_arg

KEY_GAP = 0.1  # seconds between the keys of one answer (two Escapes must not merge)
CONFIRM_WAIT = 1.0  # seconds a digit gets to pick by itself before fleet presses Enter
NOTE_WAIT = 15.0  # seconds the agent gets to leave its dialog for its prompt, after a deny
STEADY = 0.5  # seconds the prompt must stay as it is before the note is typed
POLL = 0.1
MAX_NOTE = 16 * 1024


def _now(session_id: str, name: str) -> Tuple[str, Optional[choices.Choice], Optional[dict]]:
    """The screen, the choice on it and the waiting it makes, read afresh."""
    screen = tmux.capture(name)
    runs = load_meta(session_id).get("runs", 1)
    choice = choices.read(screen)
    return screen, choice, choices.waiting(choice, choices.asked(signals.load(session_id), runs))


def _waits(session_id: str, screen: str) -> bool:
    """Whether the agent waits at its dialog, not merely shows one answered earlier above its
    prompt: its profile's patterns read needs-input, or its own hook says it waits. A custom
    command with no waiting patterns has only the dialog to go by."""
    meta = load_meta(session_id)
    rules = meta.get("rules") or {}
    if classify(screen, rules, float("inf")) == NEEDS_INPUT:
        return True
    if choices.asked(signals.load(session_id), meta.get("runs", 1)) is not None:
        return True
    return not rules.get("waiting")


def _offered(choice: choices.Choice) -> str:
    return ", ".join("%s (%s)" % (o.key, o.label) for o in choice.options)


def _pick(session_id: str, choice: choices.Choice, pick: str, option: str) -> int:
    if pick == "allow":
        index = choice.allow()
        what = "an option that allows it"
    elif pick == "deny":
        index = choice.deny()
        what = "an option that refuses it"
    else:
        index = choice.find(option)
        what = "option %r" % option[:40]
    if index < 0:
        raise HelperError(
            "no-option",
            "session %s asks %r and offers no %s; it offers %s. Nothing was typed"
            % (session_id, choice.question[:80], what, _offered(choice)),
        )
    return index


def _type_keys(name: str, keys: List[str]) -> None:
    for n, key in enumerate(keys):
        if n:
            time.sleep(KEY_GAP)
        tmux.send_keys(name, [key])


def _same(a: Optional[choices.Choice], b: choices.Choice) -> bool:
    """The same dialog, wherever its highlight is, with nothing printed below it since (an
    agent that scrolls leaves an answered dialog on screen, the answer's output under it)."""
    return a is not None and a._replace(highlighted=-1) == b._replace(highlighted=-1)


def _confirm(session_id: str, name: str, choice: choices.Choice, index: int, request: str) -> bool:
    """After a digit or a shown key: some agents pick at once, others only move the highlight
    there. Enter is pressed only when the same request (its id: the dialog and the signal)
    stays on screen with that option highlighted, never into a dialog that followed."""
    deadline = time.time() + CONFIRM_WAIT
    while True:
        time.sleep(POLL)
        _screen, now, waiting = _now(session_id, name)
        if not _same(now, choice) or waiting is None or waiting["id"] != request:
            return False  # it picked, the dialog went
        assert now is not None
        if (now.highlighted == index and index != choice.highlighted) or time.time() > deadline:
            break
    if now.highlighted != index:
        return False
    tmux.send_keys(name, ["Enter"])
    return True


def _scrolled(a: choices.Choice, b: choices.Choice) -> bool:
    """`a` is the dialog `b` with output printed below it since: answered, and left on
    screen by an agent that scrolls."""
    return a.after != b.after and a._replace(highlighted=-1, after="") == b._replace(
        highlighted=-1, after=""
    )


def _at_input(rules: dict, screen: str) -> bool:
    """The screen shows the agent's own input prompt (an idle pattern of its profile). An
    agent whose profile names none (a custom command) may only be quiet: a note typed into
    it waits in the terminal for the next thing it reads, its next question."""
    return matched(screen, rules) == IDLE


def _deliver_note(session_id: str, name: str, choice: choices.Choice, note: str, args: dict) -> str:
    """The note typed as the person's text once the dialog left for a prompt: "sent", or why
    not (the agent then shows the dialog's outcome and waits; nothing else was typed)."""
    deadline = time.time() + NOTE_WAIT
    rules = load_meta(session_id).get("rules") or {}
    last, steady_since = None, time.time()
    while time.time() < deadline:
        time.sleep(POLL)
        screen = tmux.capture(name)
        if screen != last:
            last, steady_since = screen, time.time()
            continue
        shown = choices.read(screen)
        if shown is not None and not _scrolled(shown, choice):
            if _same(shown, choice):
                continue  # still the dialog answered: the agent has not redrawn yet
            return "not sent: the agent asks something else now (%s)" % shown.question[:80]
        if time.time() - steady_since < STEADY:
            continue
        if not _at_input(rules, screen):
            continue  # quiet is not a prompt: typed now, it would answer what it asks next
        try:
            steer.refuse_text_at_prompt(session_id, note, screen)
        except HelperError:
            return "not sent: the agent waits at a dialog that picks an option"
        steer.type_text(name, note, steer.send_settings(args))
        return "sent"
    return (
        "not sent: the agent showed no input prompt of its own within %d s (a profile without "
        "`idle` patterns never does: fleet cannot tell its prompt from a pause)" % NOTE_WAIT
    )


def op_answer(args: dict) -> dict:
    """{session, pick: allow|deny|option, option, expect, note}: the answer typed, or refused."""
    session_id = check_id(args.get("session"))
    pick = args.get("pick")
    if pick not in ("allow", "deny", "option"):
        raise HelperError("bad-request", "pick must be allow, deny or option")
    option = string_arg(args, "option", "", required=pick == "option")
    expect = string_arg(args, "expect", "")
    note = string_arg(args, "note", "")
    if len(note) > MAX_NOTE:
        raise HelperError("bad-request", "a note is at most %d characters" % MAX_NOTE)
    name = steer._alive_name(session_id)
    screen, choice, waiting = _now(session_id, name)
    if choice is None or waiting is None or not _waits(session_id, screen):
        raise HelperError(
            "no-dialog",
            "session %s shows no dialog to answer now (answered already, or it moved on); "
            "nothing was typed" % session_id,
        )
    if expect and waiting["id"] != expect:
        raise HelperError(
            "changed",
            "session %s now asks something else (%r, request %s, not %s); nothing was typed: "
            "look again and answer what it asks now"
            % (session_id, choice.question[:80], waiting["id"], expect[:20]),
        )
    index = _pick(session_id, choice, pick, option)
    keys = choice.keys(index)
    _type_keys(name, keys)
    confirm = choice.style == choices.NUMBERED
    if confirm and _confirm(session_id, name, choice, index, waiting["id"]):
        keys = [*keys, "Enter"]
    out = {
        "id": waiting["id"],
        "question": choice.question,
        "picked": {"key": choice.options[index].key, "label": choice.options[index].label},
        "keys": keys,
    }
    if note and pick == "deny":
        out["note"] = _deliver_note(session_id, name, choice, note, args)
    return out
