"""A full disk while the TUI runs: the top line says writes are held, and clears when they land."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from fleet.core.config import load_config
from fleet.core.store import StoreError
from fleet.ui.app import FleetApp


async def test_held_writes_show_on_the_top_line_until_they_land(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLEET_CONFIG", raising=False)
    app = FleetApp(load_config())
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        assert app.store is not None
        top = app.query_one("#hosts", Static)
        assert "local store" not in str(top.render())
        # What the store's writer sets when the disk refuses a batch (see Store.trouble).
        monkeypatch.setattr(type(app.store), "trouble", StoreError("fleet.db: the disk is full"))
        app._tick()
        await pilot.pause()
        assert "local store: fleet.db: the disk is full" in str(top.render())
        monkeypatch.setattr(type(app.store), "trouble", None)
        app._tick()
        await pilot.pause()
        assert "local store" not in str(top.render())
