"""What the fleet spends, where a person looks: the real TUI over a real loopback host, a fake
Claude Code writing its transcript in the real format (tests/fixtures/usage). The card shows
the session's tokens and cost, the top line the fleet's day; a second turn adds exactly one
turn, and the TUI opened again starts from the store with the same figures (nothing counted
twice)."""

from __future__ import annotations

import asyncio
import html
import re

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from tests.integration.fleetrun import FleetCLI, pilot_until
from tests.integration.hosts import LoopbackFleet
from tests.integration.test_usage import fleet_with_fake_claude

ONE_TURN = "4.2k tok · $0.01"  # 4,202 tokens of claude-sonnet-4-5: $0.00933
TWO_TURNS = "8.4k tok · $0.02"
THREE_TURNS = "12.6k tok · $0.03"


def screen_text(app: FleetApp) -> str:
    """What the terminal shows, as text (from the app's own screenshot)."""
    svg = app.export_screenshot()
    return html.unescape(" ".join(re.findall(r">([^<>]*)</text>", svg))).replace("\xa0", " ")


def top_line(app: FleetApp) -> str:
    return str(app.query_one("#hosts").render())


def spent_on_card(app: FleetApp, ref: str) -> str:
    cards = [c for c in app.model.cards.values() if c.session.ref == ref]
    return cards[0].spent if cards else ""


async def test_card_and_top_line_show_what_the_session_spent(fresh_hosts: LoopbackFleet) -> None:
    fleet: FleetCLI = fleet_with_fake_claude(fresh_hosts)
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "claude", "--name", "spender"
    )
    await asyncio.to_thread(fleet.wait_status, "alpha/spender", "idle")
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot_until(
            pilot, lambda: spent_on_card(app, "alpha/spender") == "0 tok · $0.00", "a known 0"
        )
        await asyncio.to_thread(fleet.ok, "send", "alpha/spender", "one turn please")
        await pilot_until(
            pilot, lambda: spent_on_card(app, "alpha/spender") == ONE_TURN, "the first turn"
        )
        await pilot_until(pilot, lambda: f"today {ONE_TURN}" in top_line(app), "the top line")
        await asyncio.to_thread(fleet.ok, "send", "alpha/spender", "and another")
        await pilot_until(
            pilot, lambda: spent_on_card(app, "alpha/spender") == TWO_TURNS, "the second turn"
        )
        await pilot_until(pilot, lambda: f"today {TWO_TURNS}" in top_line(app), "the top line")
        assert TWO_TURNS in screen_text(app)
    # Opened again: the store's figures first, then the host's stream from the store's cursor
    # (the helper may say a record again: its id counts it once).
    again = FleetApp(load_config(fleet.config))
    async with again.run_test(size=(160, 40)) as pilot:
        await pilot_until(
            pilot, lambda: spent_on_card(again, "alpha/spender") == TWO_TURNS, "from the store"
        )
        await pilot_until(
            pilot,
            lambda: (
                again.model.hosts.get("alpha") is not None
                and again.model.hosts["alpha"].state == "connected"
            ),
            "the host connected",
        )
        await asyncio.to_thread(fleet.ok, "send", "alpha/spender", "a third")
        await pilot_until(
            pilot, lambda: spent_on_card(again, "alpha/spender") == THREE_TURNS, "the third turn"
        )
        await pilot_until(pilot, lambda: f"today {THREE_TURNS}" in top_line(again), "the day")
        assert THREE_TURNS in screen_text(again)
