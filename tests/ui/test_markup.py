"""No runtime text is ever parsed as Textual markup: a file named `a[/]b.txt` in a toast, a
host whose disconnect reason holds `[/]`, a session named with brackets."""

from __future__ import annotations

import pytest
from textual.widgets import Static
from textual.widgets._toast import Toast

from fleet.core import events
from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.diff import DiffPanel
from tests.ui import make_session
from tests.ui.conftest import UiDirs


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> FleetApp:
    monkeypatch.delenv("FLEET_CONFIG", raising=False)
    return FleetApp(load_config())


async def test_toasts_show_brackets_as_text(app: FleetApp) -> None:
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await pilot.pause()
        app.notify("stale review: a[/]b.txt [b]changed[/b]", severity="warning")
        app.query_one(DiffPanel).notify("hunk [/red] of x[/]y")  # a widget asks with markup on
        for _ in range(50):
            await pilot.pause(0.05)
            if len(app.screen.query(Toast)) == 2:
                break
        shown = [str(n.message) for n in app._notifications]
        assert "stale review: a[/]b.txt [b]changed[/b]" in shown
        assert "hunk [/red] of x[/]y" in shown
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 2
        drawn = [str(toast.render()) for toast in toasts]  # markup would raise MarkupError
        assert "stale review: a[/]b.txt [b]changed[/b]" in drawn


async def test_a_hostile_disconnect_reason_shows_as_text_and_the_host_is_still_followed(
    ui_dirs: UiDirs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEET_CONFIG", raising=False)
    ui_dirs.config_dir.mkdir(parents=True)
    (ui_dirs.config_dir / "fleet.toml").write_text('[hosts.h1]\nssh = "u@127.0.0.1:1"\n')
    app = FleetApp(load_config())
    monkeypatch.setattr(app, "_follow_hosts", lambda: None)  # only the events below arrive
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        app.model.upsert_session(make_session("h1", 1, name="x[/]y"))
        down = events.LinkDown(host="h1", reason="closed [/] by [b]peer", retry_in=3, failures=2)
        app._apply(down)
        await pilot.pause()
        top = str(app.query_one("#hosts", Static).render())
        assert "closed [/] by [b]peer" in top, top
        app._apply(events.Hello(host="h1", seq=0, version="dev"))
        await pilot.pause()
        assert "h1: connected" in str(app.query_one("#hosts", Static).render())
