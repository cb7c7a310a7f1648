"""What the TUI tells the person when the local store holds writes, or when a message is refused."""

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


async def test_a_message_refused_at_a_prompt_says_what_to_do_in_the_tui(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fleet.core.errors import RemoteError
    from tests.ui import make_session

    class RefusingSupervisor:
        async def send(self, ref: str, text: str, **kw: object) -> None:
            raise RemoteError("h1", "at-prompt", "session s1 is waiting at a prompt (host words)")

        async def close(self) -> None:
            pass

    monkeypatch.delenv("FLEET_CONFIG", raising=False)
    app = FleetApp(load_config())
    async with app.run_test(size=(120, 20)) as pilot:
        await pilot.pause()
        real = app.sup
        app.sup = RefusingSupervisor()  # type: ignore[assignment]
        session = make_session("h1", 1)
        await app.send_message_to(session, "please do not").wait()
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert any("waits at a prompt" in m and "Press m" in m for m in shown), shown
        assert not any("--force" in m for m in shown), shown
        app.sup = real
