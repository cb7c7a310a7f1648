"""What a newcomer meets in the TUI at 80×24 on real loopback hosts, in the order they meet it:
the key bar of the focused view, the `:new` form (its default agent, its tab order, a failure
said inside it), `s` asking first, toasts that never pile up or cover a dialog, the header with
a `:host` filter, and a filter that matches nothing."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Select, Static

from fleet.core.config import load_config
from fleet.ui.app import MAX_TOASTS, FleetApp
from fleet.ui.screens.confirm import ConfirmScreen
from fleet.ui.screens.new_session import NewSessionScreen
from fleet.ui.widgets.grid import SessionGrid
from fleet.ui.widgets.keybar import KeyBar
from tests.integration.fleetrun import FleetCLI, pilot_until
from tests.integration.hosts import LoopbackFleet

until = pilot_until
SIZE = (80, 24)


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


def bar_text(app: FleetApp) -> str:
    return str(app.query_one(KeyBar).render())


def tmux_has(fleet: FleetCLI, host: str, sid: str) -> bool:
    probe = ["tmux", "-L", "fleet", "has-session", "-t", f"=fleet-{sid}"]
    return fleet.lf.run_as(host, probe, check=False).returncode == 0


async def test_a_newcomers_first_minutes_at_80x24(fleet: FleetCLI) -> None:
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=SIZE) as pilot:
        model = app.model
        await until(
            pilot,
            lambda: all(h.state == "connected" for h in model.hosts.values()),
            "both hosts connected",
        )
        # :new opens the form; the host has no claude, so the form offers one it has.
        app.run_command("new")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen), "the form")
        form = app.screen
        assert isinstance(form, NewSessionScreen)
        await until(pilot, lambda: "claude" in form.missing, "the host's agents checked")
        assert form.query_one("#agent", Select).value != "claude"
        # Tab order ends on the action.
        buttons = [w for w in form.focus_chain if isinstance(w, Button)]
        assert [b.id for b in buttons] == ["cancel", "start"]
        # A failure comes back inside the form, with what was typed, in the form's words.
        form.query_one("#host", Select).value = "alpha"
        form.query_one("#repo", Input).value = "~/no-such-repo"
        form.query_one("#agent", Select).value = "recorder"
        form.query_one("#task", Input).value = "tidy up"
        form.query_one("#task", Input).focus()
        await pilot.press("enter")
        await until(
            pilot,
            lambda: isinstance(app.screen, NewSessionScreen) and app.screen is not form,
            "the form again, after the failure",
        )
        again = app.screen
        problem = str(again.query_one("#problem", Static).render())
        assert problem.startswith("Could not start it:") and "no-such-repo" in problem
        assert " --" not in problem
        assert again.query_one("#task", Input).value == "tidy up"
        again.query_one("#repo", Input).value = "~/repo"
        again.query_one("#task", Input).focus()
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any(c.session.ref == "alpha/tidy-up" for c in model.cards.values()),
            "the session started",
        )
        card = next(c for c in model.cards.values() if c.session.ref == "alpha/tidy-up")
        sid = card.session.id
        await until(pilot, lambda: tmux_has(fleet, "alpha", sid), "its tmux session")

        # The key bar: the grid's keys, whole, ending with the way to all of them.
        grid_keys = bar_text(app)
        assert "m message" in grid_keys and grid_keys.rstrip().endswith("? all keys")
        assert len(grid_keys) <= SIZE[0] and "approve" not in grid_keys

        # s asks first; n keeps it running, y stops it. Toasts wait while the dialog is up.
        grid = app.query_one(SessionGrid)
        await until(pilot, lambda: grid.select(card.key), "the new card in the grid")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the stop question")
        for n in range(4):
            app.notify(f"news {n}")
        await pilot.pause()
        over = [str(t.message) for t in app._notifications]
        assert over == [], over  # nothing over the dialog
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")
        await until(pilot, lambda: len(app._notifications) > 0, "the held toasts")
        assert len(app._notifications) <= MAX_TOASTS
        assert "news 3" in [str(t.message) for t in app._notifications]
        assert tmux_has(fleet, "alpha", sid)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: not tmux_has(fleet, "alpha", sid), "the agent stopped")
        assert len(app._notifications) <= MAX_TOASTS

        # :host filters show in the header's counts; esc clears them.
        app.run_command("host beta")
        await pilot.pause()
        header = str(app.query_one("#hosts", Static).render())
        assert "filter 'host:beta': 0 of 1" in header and "alpha" in header
        empty = str(app.query_one("#empty", Static).render())
        assert "No session matches the filter 'host:beta'" in empty and "esc clears" in empty
        await pilot.press("escape")
        await until(pilot, lambda: not model.filter_text, "the filter cleared")
        assert app.query_one(SessionGrid).display
        assert "filter" not in str(app.query_one("#hosts", Static).render())

        # In the diff panel the bar shows the panel's keys.
        await pilot.press("d")
        await until(pilot, lambda: "approve" in bar_text(app), "the diff panel's keys")
        assert "m message" not in bar_text(app) and len(bar_text(app)) <= SIZE[0]
