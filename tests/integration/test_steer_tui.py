"""The steering box of the real TUI (Pilot, headless) over real loopback hosts: a message to an
agent at a text prompt is typed; at a choice dialog a sentence is refused and stays in the box,
and ctrl+f sends it anyway."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.widgets import Input, Label

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.screens.steer import SteerScreen
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import FleetCLI, pilot_until, received_lines
from tests.integration.hosts import LoopbackFleet
from tests.integration.steeragents import ASKER, ASKER_PROFILE, agent_script


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    asker = agent_script(fresh_hosts, "asker", ASKER)
    return FleetCLI(fresh_hosts, ASKER_PROFILE.format(script=asker))


async def type_keys(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


async def test_the_steering_box_sends_to_a_text_prompt_and_keeps_what_a_choice_refused(
    fleet: FleetCLI,
) -> None:
    h = fleet.lf["alpha"]
    for name, mode in (("t", "text"), ("c", "choice")):
        await asyncio.to_thread(
            fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "asker", "--name", name, mode
        )
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 45)) as pilot:
        model = app.model

        def card(ref: str) -> Any:
            return next((c for c in model.cards.values() if c.session.ref == ref), None)

        await pilot_until(
            pilot,
            lambda: all(
                (c := card(ref)) is not None and c.session.status.value == "needs-input"
                for ref in ("alpha/t", "alpha/c")
            ),
            "both agents waiting",
        )
        grid = app.query_one(SessionGrid)
        text_id, choice_id = card("alpha/t").session.id, card("alpha/c").session.id

        assert grid.select(("alpha", text_id))
        await pilot.press("m")
        await pilot_until(pilot, lambda: isinstance(app.screen, SteerScreen), "the box")
        await type_keys(pilot, "use pytest")
        await pilot.press("enter")
        await pilot_until(
            pilot, lambda: received_lines(h, text_id) == ["use pytest"], "the message typed"
        )
        await pilot_until(pilot, lambda: not isinstance(app.screen, SteerScreen), "box closed")

        assert grid.select(("alpha", choice_id))
        await pilot.press("m")
        await pilot_until(pilot, lambda: isinstance(app.screen, SteerScreen), "the box")
        box = app.screen
        assert "ctrl+f" in str(box.query_one("#steer-hint", Label).render())
        await type_keys(pilot, "keep the build")
        await pilot.press("enter")
        status = box.query_one("#steer-status", Label)
        await pilot_until(pilot, lambda: "Not sent" in str(status.render()), "the refusal")
        assert app.screen is box, "the box stays open"
        assert box.query_one("#steer-text", Input).value == "keep the build"
        assert received_lines(h, choice_id) == []

        await pilot.press("ctrl+f")
        await pilot_until(
            pilot, lambda: received_lines(h, choice_id) == ["keep the build"], "the forced one"
        )
        await pilot_until(pilot, lambda: app.screen is not box, "box closed")
