"""The host's file-change waits (hostside/changes.py) against the real kernel: a write to a
watched file ends the wait with its directory's key, other files do not, a new directory in
the parent says so, a removed directory is forgotten, and without inotify nothing breaks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.core.remote.hostside import changes


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[changes.Changes]:
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2").mkdir()
    files = changes.Changes({"screen.txt"}, parent=str(tmp_path))
    assert files.ok
    assert files.watch("s1", str(tmp_path / "s1")) and files.watch("s2", str(tmp_path / "s2"))
    yield files
    files.close()


def test_a_write_ends_the_wait_with_its_directorys_key(
    watched: changes.Changes, tmp_path: Path
) -> None:
    assert watched.wait(0.05) == set()
    (tmp_path / "s2" / "screen.txt").write_text("hello")
    began = time.monotonic()
    assert watched.wait(10.0) == {"s2"}
    assert time.monotonic() - began < 5.0  # woken by the write, not by the timeout
    assert watched.take() == set()  # taken once


def test_other_files_do_not_count_and_a_rename_into_place_does(
    watched: changes.Changes, tmp_path: Path
) -> None:
    (tmp_path / "s1" / "output.log").write_text("x")
    assert watched.wait(0.1) == set()
    staging = tmp_path / "s1" / "screen.txt.new"
    staging.write_text("y")
    os.replace(staging, tmp_path / "s1" / "screen.txt")  # how a screen file is first made
    assert watched.wait(5.0) == {"s1"}


def test_a_new_directory_says_none_and_a_removed_one_is_forgotten(
    watched: changes.Changes, tmp_path: Path
) -> None:
    (tmp_path / "s3").mkdir()
    assert watched.wait(5.0) == {None}
    (tmp_path / "s1" / "screen.txt").write_text("z")
    (tmp_path / "s1" / "screen.txt").unlink()
    (tmp_path / "s1").rmdir()
    deadline = time.monotonic() + 5.0
    while "s1" in watched.dirs and time.monotonic() < deadline:
        watched.wait(0.1)
    assert "s1" not in watched.dirs


def test_another_file_descriptor_ends_the_wait_too(watched: changes.Changes) -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"!")
        began = time.monotonic()
        assert watched.wait(10.0, (read,)) == set()
        assert time.monotonic() - began < 5.0
    finally:
        os.close(read)
        os.close(write)


def test_without_inotify_waits_are_sleeps_and_nothing_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "_libc", lambda: None)
    files = changes.Changes({"screen.txt"}, parent=str(tmp_path))
    assert not files.ok
    assert not files.watch("s", str(tmp_path))
    began = time.monotonic()
    assert files.wait(0.05) == set()
    assert time.monotonic() - began >= 0.04


def test_a_file_made_after_the_watch_is_followed_and_only_it_wakes(
    watched: changes.Changes, tmp_path: Path
) -> None:
    """The files are watched, not the directory: a session's other files (its output log,
    its state) written all the time never wake a wait that is for its screen."""
    screen = tmp_path / "s1" / "screen.txt"
    screen.write_text("first")  # made after the watch began
    assert watched.wait(5.0) == {"s1"}
    watched.take()
    for _ in range(20):
        (tmp_path / "s1" / "output.log").open("a").write("a line\n")
    assert watched.wait(0.2) == set()
    with screen.open("r+") as f:  # how the watcher rewrites a screen: in place
        f.write("again")
    assert watched.wait(5.0) == {"s1"}
