"""[keys] in fleet.toml: each wrong entry is an error naming the file and the entry's line and
what is wrong (an unknown action with the valid ones, a key another action has, with which),
and the TUI does not start while there is one."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet.core.config import load_config
from fleet.core.errors import UsageError
from fleet.ui.app import run_app
from fleet.ui.bindings import BINDING_IDS, keymap_from_config

ROOT = Path(__file__).resolve().parents[2]


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    _, problems = keymap_from_config(load_config(path))
    return [str(p) for p in problems]


def test_an_unknown_action_names_the_file_line_and_every_action(tmp_path: Path) -> None:
    text = '# mine\n\n[keys]\nquit = "ctrl+q"\nbogus = "z"\naprove = "y"\n'
    bogus, aprove = problems_of(tmp_path, text)
    path = tmp_path / "fleet.toml"
    assert bogus.startswith(f"{path}:5: keys.bogus: unknown action 'bogus'; the actions are: ")
    assert bogus.endswith(", ".join(BINDING_IDS))
    assert aprove.startswith(f"{path}:6: keys.aprove: unknown action 'aprove' (did you mean ")


def test_a_key_another_action_has_names_that_action(tmp_path: Path) -> None:
    [clash] = problems_of(tmp_path, '[keys]\nmessage = "q"\n')
    assert clash == (
        f"{tmp_path / 'fleet.toml'}:2: keys.message: 'q' is already the key of 'quit': choose "
        "another key, or give 'quit' another one too"
    )
    # Moving quit away first makes q free; swapping two keys is no clash either.
    assert problems_of(tmp_path, '[keys]\nmessage = "q"\nquit = "ctrl+q"\n') == []
    assert problems_of(tmp_path, '[keys]\napprove = "x"\nreject = "a"\n') == []


def test_two_entries_given_one_key_point_at_the_first(tmp_path: Path) -> None:
    [clash] = problems_of(tmp_path, '[keys]\nstop = "F5"\n\nresume = "F5"\n')
    assert ":2: keys.stop: 'F5' is already the key of 'resume'" in clash


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[ui]\nnotify = "bell"\n\n[keys]\n"bogus" = "z"\n', 5),
        ('[keys]\n  # a comment\n  bogus   =   "z"  # trailing\n', 3),
        ('keys.bogus = "z"\n', 1),
        ('[hosts.a]\nssh = "a"\n[keys]\nquit = "ctrl+q"\nbogus = "z,y"\n', 5),
    ],
)
def test_the_line_is_found_however_the_entry_is_written(
    tmp_path: Path, text: str, line: int
) -> None:
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'fleet.toml'}:{line}: keys.bogus: "), problem


def test_the_tui_refuses_to_start_naming_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('[keys]\nbogus = "z"\nmessage = "q"\n')
    with pytest.raises(UsageError) as refused:
        run_app(load_config(path))
    message = str(refused.value)
    assert f"{path}:2: keys.bogus: unknown action" in message
    assert f"{path}:3: keys.message: 'q' is already the key of 'quit'" in message
    assert "the TUI starts once [keys]" in message and "fleet doctor" in message
    assert refused.value.exit_code == 2


def test_fleet_in_a_terminal_with_wrong_keys_exits_2_and_says_why(tmp_path: Path) -> None:
    """The real command, in a terminal (the TUI starts only there): it refuses at once."""
    path = tmp_path / "fleet.toml"
    path.write_text('[keys]\nmessage = "q"\n')
    env = dict(os.environ, FLEET_CONFIG=str(path), FLEET_HOME=str(tmp_path / "state"))
    env.update(TERM="xterm-256color")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet"],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    os.close(follower)
    try:
        code = proc.wait(timeout=30)  # a TUI that started would wait for keys: a timeout
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        _drain(leader)
    assert code == 2, err
    assert f"fleet: {path}:2: keys.message: 'q' is already the key of 'quit'" in err
    assert "Traceback" not in err


def _drain(fd: int) -> None:
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and select.select([fd], [], [], 0.05)[0]:
        try:
            if not os.read(fd, 65536):
                break
        except OSError:
            break
    os.close(fd)


def test_the_examples_keys_are_valid_once_uncommented(tmp_path: Path) -> None:
    example = (ROOT / "examples" / "fleet.toml").read_text()
    table = example[example.index("\n[keys]\n") :].split("\n\n", 1)[0]
    entries = [line[2:] for line in table.splitlines() if line.startswith("# ") and " = " in line]
    assert entries, table
    assert problems_of(tmp_path, "[keys]\n" + "\n".join(entries) + "\n") == []
