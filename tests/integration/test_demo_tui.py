"""`fleet demo` as a person sees it, headless (Pilot): the agents progress in the grid, a
steering message gets its answer, a hunk can be approved, and nothing is left after quit."""

from __future__ import annotations

import pytest

from fleet.core.models import Status
from fleet.demo.run import start_demo
from fleet.ui.app import FleetApp
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import pilot_until
from tests.integration.test_demo_backend import ASKER, BUILDER, leftovers

PACE = 0.15


until = pilot_until


async def test_demo_in_the_tui(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = await start_demo(keep=False, pace=PACE)
    root = demo.root
    try:
        for name, value in demo.env.items():
            monkeypatch.setenv(name, value)
        app = FleetApp(demo.config)
        async with app.run_test(size=(170, 45)) as pilot:
            model = app.model

            def card(ref: str):  # type: ignore[no-untyped-def]
                return next((c for c in model.cards.values() if c.session.ref == ref), None)

            await until(pilot, lambda: len(model.cards) == 6, "six demo sessions")
            # They progress: statuses and screens move on from what was first seen.
            await until(
                pilot,
                lambda: (c := card(ASKER)) and c.session.status == Status.NEEDS_INPUT,
                "the asker to need input",
            )
            await until(
                pilot,
                lambda: (c := card(BUILDER)) and c.session.diffstat.files >= 2,
                "the builder's changes",
            )
            # Needs-input sorts first.
            assert model.visible()[0].session.status == Status.NEEDS_INPUT

            # Steer the asker from the grid; its answer shows on its card.
            asker = card(ASKER)
            assert app.query_one(SessionGrid).select(asker.key)
            await pilot.press("m")
            for ch in "yes":
                await pilot.press(ch)
            await pilot.press("enter")
            await until(
                pilot,
                lambda: (c := card(ASKER)) and c.session.status != Status.NEEDS_INPUT,
                "the asker to go on after the answer",
            )

            # Approve one of the builder's hunks (what the diff panel's `a` calls).
            assert app.sup is not None
            _, diff = await app.sup.diff(BUILDER)
            first = diff.hunks[0]
            await app.sup.approve(BUILDER, hunks=[first.number], expect=diff.fingerprint)
            _, after = await app.sup.diff(BUILDER)
            assert any(h.approved for h in after.hunks)

            await pilot.press("q")
    finally:
        await demo.close()
    assert not root.exists(), "the sandbox must be removed after quit"
    assert leftovers(root) == []
