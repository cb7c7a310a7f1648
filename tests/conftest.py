"""Shared test setup: keep every test away from the developer's own files.

- HOME, XDG_* dirs point into a session temp dir, so nothing reads or writes the real
  ~/.ssh/config, ~/.ssh/known_hosts, ~/.ssh/id_* or ~/.config/fleet (asyncssh reads
  ~/.ssh/config and default keys by itself when not told otherwise). The ssh agent is hidden
  too. Subprocesses inherit all of this.
- FLEET_CONFIG / FLEET_HOME point to a fresh, per-test location (the config file does not exist
  until a test writes it), so a test never sees the developer's fleet config or state.
- Tests that talk to real hosts still pass explicit paths: `ssh -F <ssh_config>` and
  `asyncssh.connect(..., config=[<ssh_config>])`; see tests/integration/hosts.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# A developer's agent, X display, enclosing tmux (running pytest inside tmux!) or git hook
# environment must not steer what the tests' ssh, tmux and git do.
_HIDDEN = (
    "SSH_AUTH_SOCK", "SSH_AGENT_PID", "SSH_ASKPASS", "DISPLAY",
    "TMUX", "TMUX_PANE", "TMUX_TMPDIR",
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL",
)  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        for var, sub in (
            ("XDG_CONFIG_HOME", ".config"),
            ("XDG_DATA_HOME", ".local/share"),
            ("XDG_STATE_HOME", ".local/state"),
            ("XDG_CACHE_HOME", ".cache"),
        ):
            (home / sub).mkdir(parents=True)
            mp.setenv(var, str(home / sub))
        for var in [*_HIDDEN, *(v for v in os.environ if v.startswith("FLEET_"))]:
            mp.delenv(var, raising=False)
        yield home


@pytest.fixture(autouse=True)
def _isolated_fleet_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_CONFIG", str(tmp_path / "_fleet" / "fleet.toml"))
    monkeypatch.setenv("FLEET_HOME", str(tmp_path / "_fleet" / "home"))


@pytest.fixture(autouse=True)
def _fleet_logs_reach_caplog() -> Iterator[None]:
    """fleet's setup_logging turns propagation off for the "fleet" logger, in whatever test of a
    worker first runs the CLI in-process: keep it on during each test so `caplog` sees fleet's
    records whatever ran before (the test order differs between workers)."""
    logger = logging.getLogger("fleet")
    old = logger.propagate
    logger.propagate = True
    try:
        yield
    finally:
        logger.propagate = old
