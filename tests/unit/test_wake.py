"""The watcher's wake FIFO (hostside/wake.py): a hook's poke ends the watcher's wait at once;
with nobody waiting, or something else at the FIFO's path, a poke does nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fleet.core.remote.hostside import wake


@pytest.fixture
def fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wake.fifo"
    monkeypatch.setattr(wake, "WAKE", str(path))
    return path


def test_a_poke_ends_the_wait_at_once(fifo: Path) -> None:
    waiter = wake.Waiter()
    try:
        assert oct(fifo.stat().st_mode & 0o777) == "0o600"
        timer = threading.Timer(0.05, wake.poke)
        timer.start()
        t0 = time.monotonic()
        waiter.wait(30.0)
        assert time.monotonic() - t0 < 10.0  # 30 s without the poke
        timer.join()
        # Drained: the next wait lasts its timeout (a hook that closed does not read as EOF).
        t0 = time.monotonic()
        waiter.wait(0.2)
        assert time.monotonic() - t0 >= 0.19
    finally:
        waiter.close()


def test_a_poke_with_nobody_waiting_or_no_fifo_does_nothing(fifo: Path) -> None:
    wake.poke()  # no FIFO
    waiter = wake.Waiter()
    waiter.close()
    wake.poke()  # a FIFO nobody reads: ENXIO, ignored
    fifo.unlink()
    fifo.write_text("mine")
    wake.poke()  # a regular file is left alone
    assert fifo.read_text() == "mine"
    # The watcher makes it a FIFO again.
    waiter = wake.Waiter()
    try:
        assert waiter.fds is not None
    finally:
        waiter.close()
