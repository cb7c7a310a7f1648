"""Whole-screen snapshots: the grid under each theme, and the real app's empty state.

Deterministic: fixed terminal sizes, a fixed clock for the model and for the grid's time
labels ("for 3m"), sessions with fixed `status_since`, no hosts to connect to.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from fleet.core import events
from fleet.core.config import load_config
from fleet.core.models import DiffStat, Status
from fleet.core.usage import UsageRecord
from fleet.ui import app as app_module
from fleet.ui.app import FleetApp
from fleet.ui.model import FleetModel
from fleet.ui.themes import register_all
from fleet.ui.widgets import grid as grid_module
from tests.ui import GridApp, make_session
from tests.ui.conftest import UiDirs

NOW = 1_750_000_000.0  # a fixed "now" for every time label
THEMES = ["fleet-dark", "fleet-light", "fleet-high-contrast"]


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grid and the app read `time.time()` for their labels: freeze it there only."""
    frozen = SimpleNamespace(time=lambda: NOW, monotonic=time.monotonic)
    monkeypatch.setattr(grid_module, "time", frozen)
    monkeypatch.setattr(app_module, "time", frozen)


def mixed_fleet() -> FleetModel:
    """Eight sessions: two live hosts in every status, and one on a host that is unreachable."""
    m = FleetModel(clock=lambda: NOW)
    m.mark_host("gpu1", "connected")
    m.upsert_session(make_session("gpu1", 1, Status.NEEDS_INPUT, name="fix-auth", since=NOW - 190))
    m.set_screen("gpu1", "s1", "Reading files\n\nEdit auth.py?\nAllow edit? [y/n]\n")
    m.upsert_session(
        make_session(
            "gpu1", 2, Status.WORKING, name="docs", since=NOW - 45, diff=DiffStat(12, 3, 4)
        ),
        unread=5,
    )
    m.set_screen("gpu1", "s2", "Writing docs/index.md\nRunning mkdocs build\n")
    spent = UsageRecord("claude:msg_1", "claude-sonnet-4-5", NOW - 40, 1200, 3400, 40_000, 5000)
    m.apply(
        events.UsageReported(
            host="gpu1", seq=1, at=NOW, session="s2", agent="claude", records=(spent,)
        )
    )
    m.upsert_session(
        make_session(
            "gpu1", 3, Status.FAILED, name="bench", agent="codex", since=NOW - 600, exit_code=3
        )
    )
    m.set_screen("gpu1", "s3", "Traceback (most recent call last):\nRuntimeError: CUDA OOM\n")
    m.upsert_session(
        make_session("gpu1", 4, Status.EXITED, name="done", since=NOW - 7200, exit_code=0)
    )
    # gpu2 has not answered yet: its sessions come from the local cache.
    m.mark_host("gpu2", "connecting")
    m.upsert_session(make_session("gpu2", 5, Status.IDLE, name="old", since=NOW - 90_000))
    m.upsert_session(
        make_session("gpu2", 6, Status.WORKING, name="refactor", since=NOW - 20), cached=True
    )
    m.upsert_session(make_session("gpu2", 7, Status.STOPPED, name="halted", since=NOW - 3600))
    m.upsert_session(make_session("far", 8, Status.WORKING, name="remote", since=NOW - 300))
    m.mark_host("far", "unreachable", "Connection refused")
    return m


class ThemedGridApp(GridApp):
    def __init__(self, model: FleetModel, theme: str) -> None:
        super().__init__(model)
        register_all(self)
        self.theme = theme


@pytest.mark.usefixtures("fixed_clock")
@pytest.mark.parametrize("theme", THEMES)
def test_grid_snapshot(snap_compare: object, theme: str) -> None:
    app = ThemedGridApp(mixed_fleet(), theme)
    assert snap_compare(app, terminal_size=(140, 40))  # type: ignore[operator]


@pytest.mark.usefixtures("fixed_clock")
def test_empty_app_snapshot(
    snap_compare: object, ui_dirs: UiDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_CONFIG")  # the default file, absent: $XDG_CONFIG_HOME, in tmp
    config = load_config()
    assert config.path.is_relative_to(ui_dirs.config_dir)
    assert not config.exists and not config.hosts
    # The message names the config file: a fixed path, not this test's tmp dir.
    config = replace(config, path=Path("/home/you/.config/fleet/fleet.toml"))
    assert snap_compare(FleetApp(config), terminal_size=(100, 30))  # type: ignore[operator]
