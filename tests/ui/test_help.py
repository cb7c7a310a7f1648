"""Key bindings (ids, the [keys] keymap) and the help screen, with snapshots per theme."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Label, Static

from fleet.ui.bindings import (
    ALL_BINDINGS,
    BINDING_IDS,
    DIFF_PANEL,
    GLOBAL,
    GROUPS,
    check_keymap,
    effective_keys,
)
from fleet.ui.screens import HelpScreen
from fleet.ui.themes import STATUS_VARIABLES, register_all

# --------------------------------------------------------------------------- the key map

DEFAULT_KEYS = {
    "move-left": ("left", "h"),
    "move-down": ("down", "j"),
    "move-up": ("up", "k"),
    "move-right": ("right", "l"),
    "open-diff": ("enter", "d"),
    "next-hunk": ("n",),
    "prev-hunk": ("p",),
    "approve": ("a",),
    "reject": ("x",),
    "approve-all": ("A",),
    "undo": ("u",),
    "toggle-files": ("tab",),
    "view": ("v",),
    "back": ("escape",),
    "message": ("m",),
    "stop": ("s",),
    "resume": ("r",),
    "attach": ("t",),
    "allow": ("Y",),
    "deny": ("N",),
    **{f"answer-{n}": (str(n),) for n in range(1, 10)},
    "filter": ("slash",),
    "command": ("colon",),
    "palette": ("ctrl+p",),
    "help": ("question_mark",),
    "quit": ("q",),
}


def test_every_binding_has_a_unique_id_a_description_and_a_group() -> None:
    assert len(set(BINDING_IDS)) == len(BINDING_IDS) == len(ALL_BINDINGS)
    assert all(b.description for b in ALL_BINDINGS)
    assert [b for g in GROUPS for b in g.bindings] == list(ALL_BINDINGS)
    assert effective_keys() == DEFAULT_KEYS
    assert all(b.priority for b in ALL_BINDINGS if b.id and b.id.startswith("move-"))


def test_a_keymap_from_config_is_validated_and_normalized() -> None:
    keymap, problems = check_keymap({"help": "?, f1", "quit": "ctrl+q", "move-down": "down,j,j"})
    assert problems == []
    assert keymap == {"help": "question_mark,f1", "quit": "ctrl+q", "move-down": "down,j"}
    assert check_keymap({}) == ({}, [])
    # moving a key from one binding to another is not a clash
    assert check_keymap({"approve": "y", "reject": "a"}) == (
        {"approve": "y", "reject": "a"},
        [],
    )


def test_an_unknown_binding_id_names_it_and_the_valid_ids() -> None:
    keymap, problems = check_keymap({"aprove": "y", "quit": "ctrl+q"})
    assert keymap == {"quit": "ctrl+q"}  # the good entries, for an app made with the problems
    [problem] = problems
    assert problem.binding_id == "aprove"
    assert "unknown action 'aprove'" in problem.message
    assert "did you mean 'approve'?" in problem.message
    assert all(binding_id in problem.message for binding_id in BINDING_IDS)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"quit": ""}, "'' is not a key list"),
        ({"quit": "ctrl+q,,q"}, "not a key list"),
        ({"quit": "ctrl q"}, "not a key list"),
        ({"quit": 3}, 'expected a key name like "ctrl+r"'),
        ({"approve": "x"}, "'x' is already the key of 'reject'"),
        ({"quit": "?"}, "'question_mark' is already the key of 'help'"),
        ({"message": "q"}, "'q' is already the key of 'quit': choose another key"),
    ],
)
def test_bad_keys_are_left_out_with_a_clear_message(
    keys: Mapping[str, object], problem: str
) -> None:
    keymap, problems = check_keymap(keys)
    assert keymap == {}
    assert len(problems) == 1 and problem in problems[0].message, problems
    assert problems[0].binding_id == next(iter(keys))


def test_every_problem_is_reported_at_once() -> None:
    keymap, problems = check_keymap({"nope": "a", "quit": "", "zzz": "b", "undo": "z"})
    assert keymap == {"undo": "z"}
    assert len(problems) == 3


# --------------------------------------------------------------------------- the help screen


class HelpApp(App[None]):
    """A stand-in for the real app: fleet's themes and global keys, status swatches behind."""

    CSS = "\n".join(
        [
            f".{name} {{ color: ${name}; width: auto; margin-right: 1; }}"
            for name in STATUS_VARIABLES
        ]
        + ["#swatches { dock: bottom; height: 1; }"]
    )
    BINDINGS: ClassVar[list[BindingType]] = [*GLOBAL, *DIFF_PANEL]

    def __init__(
        self,
        theme: str = "fleet-dark",
        keys: Mapping[str, str] | None = None,
        open_help: bool = False,
    ) -> None:
        super().__init__()
        self.warnings = register_all(self)
        self.theme = theme
        self.keymap, problems = check_keymap(keys or {})
        assert problems == []
        self.set_keymap(self.keymap)
        self.open_help = open_help
        self.actions: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("fleet · 3 hosts · 12 sessions")
        with Horizontal(id="swatches"):
            for name in STATUS_VARIABLES:
                yield Label(name.removeprefix("status-"), classes=name)

    def on_mount(self) -> None:
        if self.open_help:
            self.action_help()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())  # reads the app's keymap

    def action_approve_all(self) -> None:
        self.actions.append("approve_all")

    def action_approve(self) -> None:
        self.actions.append("approve")


def shown_key(app: App[None], binding_id: str) -> str:
    return str(app.screen.query_one(f"#key-{binding_id}", Label).render())


async def test_the_help_screen_lists_every_binding_and_closes() -> None:
    app = HelpApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        options = {f"answer-{n}" for n in range(1, 10)}
        for binding in ALL_BINDINGS:
            assert binding.id is not None
            assert binding.id in options or shown_key(app, binding.id)
        assert shown_key(app, "answer") == "1-9"  # the nine digits, one row
        assert shown_key(app, "move-left") == "← h"
        assert shown_key(app, "approve-all") == "A"
        assert shown_key(app, "help") == "?"
        descriptions = {str(w.render()) for w in app.screen.query(".help-description")}
        wanted = {b.description for b in ALL_BINDINGS if b.id not in options}
        assert wanted | {"Answer option 1-9"} == descriptions
        # everything fits at 80x24: nothing needs scrolling
        box = app.screen.query_one("#help-box")
        assert box.max_scroll_y == 0
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.press("q")  # q closes the help, it does not quit
        assert not isinstance(app.screen, HelpScreen) and app.is_running
        await pilot.press("question_mark", "question_mark")
        assert not isinstance(app.screen, HelpScreen)


async def test_the_help_shows_the_keys_in_effect_after_the_keymap() -> None:
    app = HelpApp(keys={"help": "f1", "quit": "ctrl+q", "approve": "y,a"})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")  # no longer bound
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("y", "A")
        assert app.actions == ["approve", "approve_all"]
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert shown_key(app, "help") == "f1"
        assert shown_key(app, "quit") == "^q"
        assert shown_key(app, "approve") == "y a"
        assert shown_key(app, "reject") == "x"
        # an explicit keymap wins over the app's
        await pilot.press("escape")
        app.push_screen(HelpScreen({"quit": "f10"}))
        await pilot.pause()
        assert shown_key(app, "quit") == "f10" and shown_key(app, "help") == "?"


# --------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("theme", ["fleet-dark", "fleet-light", "fleet-high-contrast"])
def test_help_screen_snapshot(snap_compare: object, theme: str) -> None:
    assert snap_compare(HelpApp(theme=theme, open_help=True), terminal_size=(80, 24))  # type: ignore[operator]
