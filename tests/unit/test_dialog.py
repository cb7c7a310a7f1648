"""The dialog reader (hostside/dialog.py) against every recorded agent screen: a choice, whose
Enter picks the highlighted option, told apart from a prompt that asks for typed text."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.core.agents import BUILTIN_PROFILES
from fleet.core.remote.hostside import outbox
from fleet.core.remote.hostside.dialog import CHOICE, PLACES, TEXT, Dialog, read

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
ALL = sorted(SCREENS.glob("*.txt"))

PLACES = set(PLACES)
NUMBERS_4 = {"1", "2", "3", "4"}
NUMBERS_3 = {"1", "2", "3"}
AIDER = {"y", "yes", "n", "no", "d", "don't"}
# Every screen that waits for the person, with the answers its dialog offers.
WAITING = {
    "aider__needs-input__add-command-output": AIDER,
    "aider__needs-input__add-file-to-chat": AIDER,
    "aider__needs-input__run-shell-command": AIDER,
    "aider__needs-input__create-new-file": {"y", "yes", "n", "no"},
    "aider__needs-input__synthetic-allow-edits": {"y", "yes", "n", "no"},
    "claude__needs-input__ask-user-question-choice": NUMBERS_4,
    "claude__needs-input__bash-permission-manual-mode": NUMBERS_4,
    "claude__needs-input__create-file-permission": NUMBERS_3,
    "claude__needs-input__synthetic-bash-permission": NUMBERS_3,
    "claude__needs-input__synthetic-create-notes": NUMBERS_3,
    "claude__needs-input__trust-folder-new-worktree": PLACES,  # unnumbered: by place
    "codex__needs-input__trust-folder-untrusted": {"1", "2"},
    "codex__needs-input__escalated-create-notes": NUMBERS_3 | {"y", "p"},
    "codex__needs-input__synthetic-run-command-approval": NUMBERS_3 | {"y", "p"},
    "gemini__needs-input__apply-write-file": NUMBERS_4,
    "gemini__needs-input__auth-method-no-api-key": NUMBERS_3,
    "gemini__needs-input__trust-folder-untrusted": NUMBERS_3,
    "gemini__needs-input__ask-user-question-choice": NUMBERS_3,
    "gemini__needs-input__synthetic-allow-execution": NUMBERS_3,
    "gemini__needs-input__synthetic-apply-this-change": NUMBERS_4,
    "opencode__needs-input__bash-permission-required": PLACES,  # buttons: by place
    "shell__needs-input__synthetic-apt-confirm": {"y", "yes", "n", "no"},
}
TEXT_PROMPTS = {"codex__needs-input__api-key-entry"}  # "Paste or type your API key"
# Waiting with no dialog: the input box is there, the agent cannot go on ("Not logged in").
STUCK_AT_INPUT = {"claude__needs-input__not-logged-in"}


def test_every_waiting_screen_is_known_here() -> None:
    waiting = {p.stem for p in ALL if "__needs-input__" in p.name}
    assert waiting == set(WAITING) | TEXT_PROMPTS | STUCK_AT_INPUT


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_each_recorded_screen_reads_as_it_should(path: Path) -> None:
    shown = read(path.read_text(encoding="utf-8"))
    if path.stem in WAITING:
        assert shown.kind == CHOICE and shown.answers == frozenset(WAITING[path.stem])
        assert not shown.takes("please do not run that")
        assert all(shown.takes(a) for a in WAITING[path.stem])
    elif path.stem in TEXT_PROMPTS:
        assert shown == Dialog(TEXT, secret=True)
        assert shown.takes("any words")
    else:
        # Idle and working screens hold no dialog: model prose, past prompts, input boxes.
        assert shown == Dialog(TEXT), path.stem


@pytest.mark.parametrize(
    ("screen", "kind", "answers"),
    [
        ("agent ready\nWhat next> ", TEXT, set()),
        ("Which file should I start with?\n> ", TEXT, set()),
        ("Continue? [Y/n] ", CHOICE, {"y", "n", "yes", "no"}),
        ("Overwrite it (yes/no)?", CHOICE, {"y", "n", "yes", "no"}),
        ("Pick one:\n❯ 1. red\n  2. blue\n", CHOICE, {"1", "2"}),
        ("Pick one:\n  1. red\n› 2. blue\n  3. green\n", CHOICE, {"1", "2", "3"}),
        ("  1. red\n  2. blue\nEnter to select · Esc to cancel", CHOICE, {"1", "2"}),
        ("│ Allow?\n│ ● 1. Yes │\n│   2. No  │\n╰──────────╯", CHOICE, {"1", "2"}),
        # A numbered list in the model's prose, with nothing to pick it: text.
        ("Plan:\n1. read the code\n2. fix the bug\n> ", TEXT, set()),
        # A dialog answered earlier, scrolled far up: not waiting any more.
        ("❯ 1. Yes\n  2. No\n" + "".join(f"output {i}\n" for i in range(12)) + "> ", TEXT, set()),
        # Numbers out of order are not options.
        ("❯ 3. later\n  1. first\n> ", TEXT, set()),
        ("Enter passphrase for key '/home/me/.ssh/id_ed25519': ", TEXT, set()),
    ],
)
def test_made_up_screens(screen: str, kind: str, answers: set[str]) -> None:
    shown = read(screen)
    assert (shown.kind, set(shown.answers)) == (kind, answers)


def test_answers_are_taken_loosely_and_said_in_order() -> None:
    shown = read("  1. a\n❯ 2. b\n  3. c (y)\nEnter to confirm")
    assert shown.takes(" 2 ") and shown.takes("Y") and not shown.takes("4")
    assert shown.said() == "1, 2, 3 or y"
    assert read("Really? [y/N] ").said() == "n or y"
    assert read("Enter passphrase: ").secret
    assert read("menu\nEnter to select").said() == "an option's place: 1 for the first"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_nothing_fleet_types_on_its_own_goes_into_a_recorded_dialog(path: Path) -> None:
    # The outbox types a note only at the agent's input: never at any of these dialogs.
    agent, status, _ = path.stem.split("__")
    rules = BUILTIN_PROFILES[agent].rules()
    why = outbox.busy_because(path.read_text(encoding="utf-8"), rules, float("inf"), agent)
    expected = {
        "needs-input": outbox.AT_SECRET if path.stem in TEXT_PROMPTS else outbox.AT_PROMPT,
        # Its input box takes text, but the agent cannot act on it until a person logs in.
        "stuck": outbox.STUCK,
        "working": outbox.BUSY,
        "idle": "",
    }["stuck" if path.stem in STUCK_AT_INPUT else status]
    assert why.split(" (")[0] == expected


@pytest.mark.parametrize(
    ("screen", "why"),
    [
        ("ready\nWhat next> ", ""),  # a custom agent's own prompt, which its waiting matches
        ("Allow it?\n❯ 1. Yes\n  2. No", outbox.AT_PROMPT),
        ("printing and printing", outbox.BUSY),  # no pattern, and the screen still moves
    ],
)
def test_a_custom_agent_is_at_its_input_only_at_a_text_prompt(screen: str, why: str) -> None:
    rules = {"waiting": [r"What next> ?\Z", r"Allow it\?"], "idle_after": 5.0}
    assert outbox.busy_because(screen, rules, 1.0) == why
    # Quiet for long, with no pattern matching, a menu still is not an input box.
    assert outbox.busy_because("❯ 1. Yes\n  2. No", {}, 60.0) == outbox.AT_PROMPT
