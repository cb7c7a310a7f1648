"""UI tests: hermetic config and state dirs per test (on top of tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class UiDirs:
    config_dir: Path  # $XDG_CONFIG_HOME/fleet: fleet.toml's default folder
    theme_dir: Path  # user themes
    state_dir: Path  # $FLEET_HOME: ui.json, the store


@pytest.fixture(autouse=True)
def ui_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> UiDirs:
    """Point XDG config/data and FLEET_HOME into this test's tmp dir (none of them created)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("FLEET_HOME", str(tmp_path / "state"))
    config_dir = tmp_path / "config" / "fleet"
    return UiDirs(config_dir, config_dir / "themes", tmp_path / "state")
