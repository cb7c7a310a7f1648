"""The host probe (fleet.core.remote.probe): its output read back, what it refuses, and that
the command itself holds nothing but fixed text and the helper's path."""

from __future__ import annotations

import subprocess

from fleet.core.remote.probe import (
    HostProbe,
    parse_probe,
    probe_script,
    version_numbers,
)

DF = "disk /dev/sda1 41152736 20000000 19000000 52% /"


def test_a_healthy_host() -> None:
    probe = parse_probe(
        "version python3 Python 3.11.2\n"
        "version tmux tmux 3.3a\n"
        "version git git version 2.39.2\n"
        "installed\n"
        f"{DF}\n"
    )
    assert probe.missing == ()
    assert probe.versions == {
        "python3": "Python 3.11.2",
        "tmux": "tmux 3.3a",
        "git": "git version 2.39.2",
    }
    assert probe.python == (3, 11, 2)
    assert probe.installed
    assert probe.disk_free == 19000000 * 1024
    assert probe.problem() == ""


def test_missing_tools_are_named_with_how_to_install_them() -> None:
    probe = parse_probe("version python3 Python 3.12.1\nmissing tmux\nmissing git\ndisk \n")
    assert probe.missing == ("tmux", "git")
    assert not probe.installed and probe.disk_free is None
    assert probe.problem().startswith("missing tmux, git: fleet needs")
    assert "`apt-get install tmux git`" in probe.problem()


def test_an_old_python_is_refused() -> None:
    probe = parse_probe("version python3 Python 3.6.9\nversion tmux tmux 3.0\n")
    assert probe.problem() == "python3 is 3.6; fleet needs 3.8 or newer"


def test_lines_it_did_not_ask_for_are_ignored_and_what_a_host_says_is_made_inert() -> None:
    probe = parse_probe(
        "Welcome to the box!\n"
        "missing bash\n"  # not a tool the probe asks about
        "version python3 \x1b]0;owned\x07Python 3.11.0\n"
        "version python3 Python 2.7\n"  # the first answer counts
        "installedx\n"
    )
    assert probe.missing == ()
    assert "\x1b" not in probe.versions["python3"] and probe.python == (3, 11, 0)
    assert not probe.installed


def test_version_numbers() -> None:
    assert version_numbers("tmux 3.3a") == (3, 3)
    assert version_numbers("git version 2.39.2") == (2, 39, 2)
    assert version_numbers("tmux next-3.4") == (3, 4)
    assert version_numbers("no version here") == ()
    assert HostProbe().python == ()


def test_the_script_runs_in_a_plain_shell() -> None:
    out = subprocess.run(
        ["sh", "-c", probe_script(".fleet/helper-0123abcd.pyz")],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    ).stdout
    probe = parse_probe(out)
    assert set(probe.versions) | set(probe.missing) == {"python3", "tmux", "git"}
    assert probe.disk_free is not None and not probe.installed


def test_the_script_is_fixed_text_but_for_the_helper_path() -> None:
    a, b = probe_script(".fleet/helper-aa.pyz"), probe_script(".fleet/helper-bb.pyz")
    assert a.replace("helper-aa", "helper-bb") == b
    assert "test -x .fleet/helper-aa.pyz" in a
