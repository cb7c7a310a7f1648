"""The choice reader (hostside/choices.py) against every recorded agent screen: the options of
each dialog with the key that picks each, which one allows and which denies, and no options on
a screen that asks for nothing or for typed text."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.core.remote.hostside import choices, dialog
from fleet.core.remote.hostside.choices import LETTERED, MENU, NUMBERED, ROW, YES_NO, read

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
SHARED = Path("/work/shared/agent-screens")
ALL = sorted(HERE.glob("*.txt")) + (sorted(SHARED.glob("*.txt")) if SHARED.is_dir() else [])

# stem: (style, labels (a prefix of each), allow index, deny index, keys that pick the deny)
WAITING = {
    "aider__needs-input__add-command-output": (
        LETTERED,
        ["Yes", "No", "Don't ask again"],
        0,
        1,
        ["n", "Enter"],
    ),
    "aider__needs-input__add-file-to-chat": (
        LETTERED,
        ["Yes", "No", "Don't ask again"],
        0,
        1,
        ["n", "Enter"],
    ),
    "aider__needs-input__run-shell-command": (
        LETTERED,
        ["Yes", "No", "Don't ask again"],
        0,
        1,
        ["n", "Enter"],
    ),
    "aider__needs-input__create-new-file": (LETTERED, ["Yes", "No"], 0, 1, ["n", "Enter"]),
    "aider__needs-input__synthetic-allow-edits": (LETTERED, ["Yes", "No"], 0, 1, ["n", "Enter"]),
    "claude__needs-input__ask-user-question-choice": (
        NUMBERED,
        ["pytest", "unittest", "Type something.", "Chat about this"],
        -1,
        -1,
        None,
    ),
    "claude__needs-input__bash-permission-manual-mode": (
        NUMBERED,
        ["Yes", "Yes, and don", "Yes, and switch", "No"],
        0,
        3,
        ["4"],
    ),
    "claude__needs-input__create-file-permission": (
        NUMBERED,
        ["Yes", "Yes, and switch", "No"],
        0,
        2,
        ["3"],
    ),
    "claude__needs-input__synthetic-bash-permission": (
        NUMBERED,
        ["Yes", "Yes, and don't", "No, and tell Claude"],
        0,
        2,
        ["Escape"],
    ),
    "claude__needs-input__synthetic-create-notes": (
        NUMBERED,
        ["Yes", "Yes, allow all", "No"],
        0,
        2,
        ["3"],
    ),
    "claude__needs-input__trust-folder-new-worktree": (
        MENU,
        ["No, exit", "Yes, I trust this folder"],
        1,
        0,
        ["Enter"],
    ),
    "codex__needs-input__escalated-create-notes": (
        NUMBERED,
        ["Yes, proceed", "Yes, and don't", "No, and tell Codex"],
        0,
        2,
        ["Escape"],
    ),
    "codex__needs-input__synthetic-run-command-approval": (
        NUMBERED,
        ["Yes, proceed", "Yes, and don't", "No, and tell Codex"],
        0,
        2,
        ["Escape"],
    ),
    "gemini__needs-input__apply-write-file": (
        NUMBERED,
        ["Allow once", "Allow for", "Modify", "No, suggest"],
        0,
        3,
        ["Escape"],
    ),
    "gemini__needs-input__ask-user-question-choice": (
        NUMBERED,
        ["pytest", "unittest", "Enter a custom value"],
        -1,
        -1,
        None,
    ),
    "gemini__needs-input__synthetic-allow-execution": (
        NUMBERED,
        ["Yes, allow once", "Yes, allow always", "No, suggest"],
        0,
        2,
        ["Escape"],
    ),
    "gemini__needs-input__synthetic-apply-this-change": (
        NUMBERED,
        ["Yes, allow once", "Yes, allow always", "Modify", "No, suggest"],
        0,
        3,
        ["Escape"],
    ),
    "opencode__needs-input__bash-permission-required": (
        ROW,
        ["Allow once", "Allow always", "Reject"],
        0,
        2,
        ["Right", "Right", "Enter"],
    ),
    "shell__needs-input__synthetic-apt-confirm": (YES_NO, ["Yes", "No"], 0, 1, ["n", "Enter"]),
    # First-run dialogs: options to pick, none of them a plain allow or deny.
    "codex__needs-input__trust-folder-untrusted": (
        NUMBERED,
        ["Trust and continue", "Back to Agent Command Center"],
        -1,
        -1,
        None,
    ),
    "gemini__needs-input__auth-method-no-api-key": (
        NUMBERED,
        ["Sign in with Google", "Use Gemini API Key", "Vertex AI"],
        -1,
        -1,
        None,
    ),
    "gemini__needs-input__trust-folder-untrusted": (
        NUMBERED,
        ["Trust folder (proj)", "Trust parent folder", "Don't trust"],
        -1,
        -1,
        None,
    ),
}
# Waiting for text, not a pick: an API key, a login the person does in the agent.
TEXT_PROMPTS = {"codex__needs-input__api-key-entry", "claude__needs-input__not-logged-in"}


def test_every_waiting_screen_is_known_here() -> None:
    waiting = {p.stem for p in ALL if "__needs-input__" in p.name}
    assert waiting == set(WAITING) | TEXT_PROMPTS


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_recorded_screen_gives_its_options(path: Path) -> None:
    screen = path.read_text(encoding="utf-8")
    got = read(screen)
    if path.stem not in WAITING:
        assert got is None
        return
    style, labels, allow, deny, deny_keys = WAITING[path.stem]
    assert got is not None and got.style == style
    assert len(got.options) == len(labels)
    assert all(o.label.startswith(want) for o, want in zip(got.options, labels, strict=True))
    assert (got.allow(), got.deny()) == (allow, deny)
    if deny_keys is not None:
        assert got.keys(deny) == deny_keys
    # What the reader offers agrees with what the dialog reader lets through as an answer.
    shown = dialog.read(screen)
    assert shown.kind == dialog.CHOICE
    assert all(shown.takes(o.key) for o in got.options)


def test_an_option_is_found_by_key_hotkey_or_label() -> None:
    got = read((HERE / "codex__needs-input__synthetic-run-command-approval.txt").read_text())
    assert got is not None
    assert got.find("1") == got.find("y") == got.find("YES,  proceed") == 0
    assert got.find("p") == 1
    assert got.find("7") == got.find("maybe") == -1
    assert got.keys(0) == ["y"]  # the key the dialog shows for it, over its digit


def test_a_menu_moves_from_its_highlighted_option() -> None:
    screen = "Pick a colour?\n  Red\n❯ Green\n  Blue\nEnter to select · ↑/↓ to navigate\n"
    got = read(screen)
    assert got is not None and got.style == MENU
    assert [o.label for o in got.options] == ["Red", "Green", "Blue"]
    assert got.highlighted == 1 and got.question == "Pick a colour?"
    assert got.keys(0) == ["Up", "Enter"]
    assert got.keys(2) == ["Down", "Enter"]


def test_options_scrolled_up_are_not_waiting() -> None:
    screen = "Do it?\n❯ 1. Yes\n  2. No\n" + "".join(f"line {n}\n" for n in range(12))
    assert read(screen) is None


def test_the_id_changes_with_the_dialog_and_with_the_signal() -> None:
    a = read("Run rm -rf build?\n❯ 1. Yes\n  2. No\n")
    b = read("Run rm -rf dist?\n❯ 1. Yes\n  2. No\n")
    assert a is not None and b is not None
    tool = {"kind": "tool", "tool": "Bash", "input": "rm -rf build"}
    ids = {
        choices.fingerprint(a, None, None),
        choices.fingerprint(b, None, None),
        choices.fingerprint(a, tool, 1.0),
        choices.fingerprint(a, tool, 2.0),  # the same command asked again is a new request
    }
    assert len(ids) == 4
    assert choices.fingerprint(a, tool, 1.0) == choices.fingerprint(a, dict(tool), 1.0)


def test_waiting_joins_the_signal_and_the_screen() -> None:
    shown = read("Do you want to proceed?\n❯ 1. Yes\n  2. No\n")
    sig = {"waiting": {"kind": "tool", "tool": "Bash", "input": "npm test"}, "t": 5.0}
    got = choices.waiting(shown, sig)
    assert got is not None
    assert (got["kind"], got["tool"], got["input"]) == ("tool", "Bash", "npm test")
    assert got["options"] == [{"key": "1", "label": "Yes"}, {"key": "2", "label": "No"}]
    plain = choices.waiting(shown, None)
    assert plain is not None and plain["kind"] == "choice"
    assert plain["input"] == "Do you want to proceed?" and plain["id"] != got["id"]
    assert choices.waiting(None, None) is None


def test_labels_are_bounded_and_whitespace_folded() -> None:
    got = read("Go?\n❯ 1. " + "x" * 5000 + "\n  2. No\tway\n")
    assert got is not None
    assert len(got.options[0].label) == choices.MAX_LABEL
    assert got.options[1].label == "No way"


def test_the_same_question_about_another_command_is_another_request() -> None:
    a = read("Bash command\n  touch ran-1\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n")
    b = read("Bash command\n  touch ran-2\nDo you want to proceed?\n❯ 1. Yes\n  2. No\n")
    assert a is not None and b is not None and a.to_json() == b.to_json()
    assert choices.fingerprint(a, None, None) != choices.fingerprint(b, None, None)
    c = read("Delete notes.txt?\npython3 app.py\nRun shell commands? (Y)es/(N)o [Yes]:\n")
    d = read("Delete notes.txt?\nrm -rf /\nRun shell commands? (Y)es/(N)o [Yes]:\n")
    assert c is not None and d is not None
    assert choices.fingerprint(c, None, None) != choices.fingerprint(d, None, None)


def test_a_dialog_that_shows_its_command_is_a_tool_request() -> None:
    screen = (HERE / "codex__needs-input__synthetic-run-command-approval.txt").read_text()
    got = choices.waiting(read(screen), None)
    assert got is not None
    assert (got["kind"], got["tool"]) == ("tool", "shell")
    assert got["input"] == "python3 -c 'import time; time.sleep(30)' && echo 'all 12 tests passed'"
    opencode = (HERE / "opencode__needs-input__bash-permission-required.txt").read_text()
    got = choices.waiting(read(opencode), None)
    assert got is not None and got["input"] == "python3 app.py && ls -la"


def test_aiders_run_shell_command_is_a_tool_request_for_the_commands_above_it() -> None:
    screen = (HERE / "aider__needs-input__run-shell-command.txt").read_text()
    got = choices.waiting(read(screen), None)
    assert got is not None
    assert (got["kind"], got["tool"], got["input"]) == ("tool", "shell", "touch allowed.txt")
    # Several commands (aider pads them to one width) are one request, each named.
    many = "Sure.\n\npython3 app.py \nls -la        \nRun shell commands? (Y)es/(N)o [Yes]:\n"
    got = choices.waiting(read(many), None)
    assert got is not None and got["input"] == "python3 app.py; ls -la"
    # No blank line above within reach: what is above is not known to be the commands.
    wall = "".join(f"line {n}\n" for n in range(40)) + "Run shell command? (Y)es/(N)o [Yes]:\n"
    got = choices.waiting(read(wall), None)
    assert got is not None and got["kind"] == "choice"
    # Its other questions stay plain choices.
    added = (HERE / "aider__needs-input__add-file-to-chat.txt").read_text()
    got = choices.waiting(read(added), None)
    assert got is not None and got["kind"] == "choice"


# Bottoms of real screens (Codex 0.169, opencode 1.18.33, 200 columns) asking about a command
# too long for one line: each breaks it at spaces, its further lines starting where "$" does.
CODEX_WRAPPED = (
    "  Would you like to run the following command?\n\n"
    "  Reason: Do you want to allow me to create long.txt?\n\n"
    "  $ printf %s 'yyyy yyyy' >\n"
    "  /home/u/.fleet/worktrees/cx/long.txt\n\n"
    "› 1. Yes, proceed (y)\n"
    "  2. Yes, and don't ask again for commands that start with `printf %s\n"
    "     'yyyy yyyy' > /home/u/.fleet/worktrees/cx/long.txt` (p)\n"
    "  3. No, and tell Codex what to do differently (esc)\n\n"
    "  Press enter to confirm or esc to cancel\n"
)
OPENCODE_WRAPPED = (
    "  ┃  △ Permission required\n"
    "  ┃    # Shell command\n"
    "  ┃\n"
    "  ┃  $ echo word000 word001\n"
    "  ┃  word002 word003\n"
    "  ┃  word004 > wrapped.txt\n"
    "  ┃" + " " * 60 + "~/.fleet/worktrees/oc:fleet/oc\n"
    "  ┃   Allow once   Allow always   Reject          ctrl+f fullscreen  ⇆ select  enter confirm\n"
    "  ┃" + " " * 60 + "• OpenCode 1.18.33\n"
)


def test_a_wrapped_command_is_named_whole() -> None:
    codex = choices.waiting(read(CODEX_WRAPPED), None)
    assert codex is not None
    assert codex["input"] == "printf %s 'yyyy yyyy' > /home/u/.fleet/worktrees/cx/long.txt"
    opencode = choices.waiting(read(OPENCODE_WRAPPED), None)
    assert opencode is not None
    assert opencode["input"] == "echo word000 word001 word002 word003 word004 > wrapped.txt"
