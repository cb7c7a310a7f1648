"""The TUI's key map as data: every binding has an id, so ``[keys]`` in the config can remap it.

Bindings are grouped by where they act: the grid (the selected session), answering what the
selected agent asks, the diff panel, and everywhere (global). Widgets take their group as
``BINDINGS``; the help screen lists all groups with the keys in effect after the user's keymap.

The ``[keys]`` table maps a binding id to one key or several, comma-separated::

    [keys]
    quit = "ctrl+q"
    move-down = "down,j,ctrl+n"

:func:`keymap_from_config` checks it against the known ids and returns what
``App.set_keymap`` takes, plus an error naming the file and line of each entry that is wrong.
The TUI does not start while there is one (a half-applied keymap would have a key do what the
person moved elsewhere: approve where they meant reject); `fleet doctor` reports them too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.keys import _character_to_key

from fleet.core.config import Config, ConfigError


@dataclass(frozen=True)
class BindingGroup:
    """A titled group of bindings, as the help screen shows them."""

    id: str
    title: str
    bindings: tuple[Binding, ...]


# Arrows need priority app bindings, or scroll containers take them (TEXTUAL-NOTES); h j k l
# ride along on the same ids so one [keys] entry remaps a direction.
GRID: tuple[Binding, ...] = (
    Binding("left,h", "move(-1, 0)", "Move left", id="move-left", priority=True),
    Binding("down,j", "move(0, 1)", "Move down", id="move-down", priority=True),
    Binding("up,k", "move(0, -1)", "Move up", id="move-up", priority=True),
    Binding("right,l", "move(1, 0)", "Move right", id="move-right", priority=True),
    Binding("enter,d", "open_diff", "Open diff", id="open-diff"),
    Binding("m", "message", "Message agent", id="message"),
    Binding("s", "stop", "Stop session", id="stop"),
    Binding("r", "resume", "Resume session", id="resume"),
    Binding("t", "attach", "Attach (tmux)", id="attach"),
)

# Answering what the selected agent asks, without attaching: the host refuses, typing nothing,
# when the agent asks something else by then. Shifted letters: not pressed by accident.
ANSWER: tuple[Binding, ...] = (
    Binding("Y", "allow", "Allow what it asks", id="allow"),
    Binding("N", "deny", "Deny, with a note", id="deny"),
    *(
        Binding(str(n), f"answer_option({n})", f"Answer option {n}", id=f"answer-{n}")
        for n in range(1, 10)
    ),
)
ANSWER_OPTIONS = tuple(f"answer-{n}" for n in range(1, 10))

DIFF_PANEL: tuple[Binding, ...] = (
    Binding("n", "next_hunk", "Next hunk", id="next-hunk"),
    Binding("p", "prev_hunk", "Previous hunk", id="prev-hunk"),
    Binding("a", "approve", "Approve hunk", id="approve"),
    Binding("x", "reject", "Reject hunk", id="reject"),
    Binding("A", "approve_all", "Approve all, commit", id="approve-all"),
    Binding("u", "undo", "Undo", id="undo"),
    Binding("tab", "toggle_files", "Files / hunks", id="toggle-files"),
    Binding("v", "cycle_view", "View: review/since/all", id="view"),
    Binding("escape", "back", "Back", id="back"),
)

GLOBAL: tuple[Binding, ...] = (
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("colon", "command", "Command", id="command"),
    Binding("ctrl+p", "command_palette", "Command palette", id="palette", priority=True),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
)

GROUPS: tuple[BindingGroup, ...] = (
    BindingGroup("grid", "Grid", GRID),
    BindingGroup("answer", "When the selected agent asks", ANSWER),
    BindingGroup("diff", "Diff panel", DIFF_PANEL),
    BindingGroup("global", "Everywhere", GLOBAL),
)

ALL_BINDINGS: tuple[Binding, ...] = (*GRID, *ANSWER, *DIFF_PANEL, *GLOBAL)
BINDINGS: list[BindingType] = list(ALL_BINDINGS)  # every binding, for an App's BINDINGS
BINDING_IDS: tuple[str, ...] = tuple(b.id for b in ALL_BINDINGS if b.id)

_KEY = re.compile(r"[^\s,]+")


def normalize_keys(keys: str) -> tuple[str, ...]:
    """``"?, ctrl+r"`` -> ``("question_mark", "ctrl+r")``: Textual's names for the keys."""
    parts = [part.strip() for part in keys.split(",")]
    return tuple(_character_to_key(p) if len(p) == 1 else p for p in parts)


@dataclass(frozen=True)
class KeyProblem:
    """What is wrong with one ``[keys]`` entry (``binding_id``, as written in the config)."""

    binding_id: str
    message: str


def check_keymap(keys: Mapping[str, object]) -> tuple[dict[str, str], list[KeyProblem]]:
    """Check the config's ``[keys]`` table (binding id -> key or keys).

    Returns the keymap of the good entries for ``App.set_keymap`` (normalized) and a problem
    for every entry that is not: an unknown binding id (with the nearest id and every valid
    one), an empty or malformed key list, or a key another binding has too (naming which).
    """
    problems: list[KeyProblem] = []
    keymap: dict[str, str] = {}
    for binding_id, value in keys.items():
        if binding_id not in BINDING_IDS:
            message = f"unknown action {binding_id!r}"
            close = difflib.get_close_matches(binding_id, BINDING_IDS, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            message += f"; the actions are: {', '.join(BINDING_IDS)}"
            problems.append(KeyProblem(binding_id, message))
            continue
        if not isinstance(value, str):
            problems.append(KeyProblem(binding_id, 'expected a key name like "ctrl+r"'))
            continue
        parts = normalize_keys(value)
        if not all(_KEY.fullmatch(p) for p in parts):
            message = f'{value!r} is not a key list like "ctrl+r" or "j,down"'
            problems.append(KeyProblem(binding_id, message))
            continue
        keymap[binding_id] = ",".join(dict.fromkeys(parts))
    for key, ids in _clashes(keymap):
        mine = next(i for i in ids if i in keymap)
        others = " and ".join(repr(i) for i in ids if i != mine)
        problems.append(
            KeyProblem(
                mine,
                f"{key!r} is already the key of {others}: choose another key, or give "
                f"{others} another one too",
            )
        )
        for binding_id in ids:
            keymap.pop(binding_id, None)
    return keymap, problems


def keymap_from_config(config: Config) -> tuple[dict[str, str], list[ConfigError]]:
    """The config's keymap, and each problem of its ``[keys]`` as an error naming the file
    and the line of the entry (``fleet.toml:12: keys.message: 'q' is already the key of
    'quit': ...``)."""
    keymap, problems = check_keymap(config.keys)
    return keymap, [config.error(("keys", p.binding_id), p.message) for p in problems]


def _clashes(keymap: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    owners: dict[str, list[str]] = {}
    for binding_id, key_list in effective_keys(keymap).items():
        for key in key_list:
            owners.setdefault(key, []).append(binding_id)
    return [
        (key, ids) for key, ids in owners.items() if len(ids) > 1 and any(i in keymap for i in ids)
    ]


def effective_keys(keymap: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """Binding id -> the keys in effect (Textual names), the keymap overriding the defaults."""
    keymap = keymap or {}
    result: dict[str, tuple[str, ...]] = {}
    for binding in ALL_BINDINGS:
        assert binding.id is not None
        result[binding.id] = normalize_keys(keymap.get(binding.id, binding.key))
    return result
