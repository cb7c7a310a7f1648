"""Decisions made elsewhere reach an open TUI: the CLI (or another laptop) approves or rejects
a hunk while the person has the session's diff open, and the panel and the card show it. A
panel that could not hear of it (its host's stream stopped) has its next decision refused as
stale, with the fresh diff shown, and nothing done on the host."""

from __future__ import annotations

import asyncio
import time

import pytest

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.diff import DiffPanel
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import FleetCLI, pilot_until, write_as_agent
from tests.integration.hosts import LoopbackFleet
from tests.integration.test_tui import model_key


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


async def two_hunks(fleet: FleetCLI, name: str) -> None:
    """A session whose agent changed two distant lines of notes.txt (two hunks)."""
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", name
    )
    h = fleet.lf["alpha"]
    notes = h.home / ".fleet/worktrees" / name / "notes.txt"
    lines = notes.read_text().splitlines()
    lines[1] = "line 2 changed by the agent"
    lines[-2] = "second to last, changed too"
    write_as_agent(h, notes, "\n".join(lines) + "\n")


async def open_diff(app: FleetApp, pilot: object, ref: str) -> tuple[str, DiffPanel]:
    model = app.model
    await pilot_until(
        pilot,
        lambda: any(
            c.session.ref == ref and c.session.status.value == "idle" for c in model.cards.values()
        ),
        f"{ref} idle",
    )
    sid = model_key(model, ref)
    assert app.query_one(SessionGrid).select(("alpha", sid))
    await pilot.press("enter")  # type: ignore[attr-defined]
    panel = app.query_one(DiffPanel)
    await pilot_until(
        pilot, lambda: panel.diff is not None and len(panel.diff.hunks) == 2, "the two hunks"
    )
    return sid, panel


async def test_decisions_from_the_cli_show_in_the_open_panel_and_on_the_card(
    fleet: FleetCLI,
) -> None:
    await two_hunks(fleet, "live")
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(170, 45)) as pilot:
        sid, panel = await open_diff(app, pilot, "alpha/live")
        card = app.model.cards[("alpha", sid)]
        assert panel.diff is not None and not any(h.approved for h in panel.diff.hunks)
        assert card.session.diffstat.approved == 0

        started = time.monotonic()
        await asyncio.to_thread(fleet.ok, "approve", "alpha/live", "--hunk", "1")
        await pilot_until(
            pilot,
            lambda: panel.diff is not None and panel.diff.hunks[0].approved,
            "the panel to show hunk 1 approved",
            timeout=10,
        )
        shown_in = time.monotonic() - started
        await pilot_until(
            pilot, lambda: card.session.diffstat.approved == 2, "the card to count it", timeout=10
        )
        on_card = time.monotonic() - started
        print(
            f"\nthe CLI approved: in the panel after {shown_in:.2f} s, on the card {on_card:.2f} s"
        )
        assert not panel.diff.hunks[1].approved

        removed_before = card.session.diffstat.removed
        await asyncio.to_thread(fleet.ok, "reject", "alpha/live", "--hunk", "2", "--note", "no")
        await pilot_until(
            pilot,
            lambda: panel.diff is not None and len(panel.diff.hunks) == 1,
            "the panel without the rejected hunk",
            timeout=10,
        )
        await pilot_until(
            pilot,
            lambda: card.session.diffstat.removed == removed_before - 1,
            "the card's counts without it",
            timeout=10,
        )
        # The person's next key acts on what they see: approving all commits hunk 1 alone.
        await pilot.press("A")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot_until(
            pilot,
            lambda: "committed" in " ".join(str(n.message) for n in app._notifications),
            "the commit",
        )
        log = fleet.lf.run_as(
            "alpha", ["git", "-C", str(fleet.lf["alpha"].repo), "log", "-1", "-p", "fleet/live"]
        ).stdout
        assert "line 2 changed by the agent" in log and "second to last" not in log


async def test_a_decision_on_an_outdated_panel_is_refused_with_the_fresh_diff(
    fleet: FleetCLI,
) -> None:
    await two_hunks(fleet, "stale")
    h = fleet.lf["alpha"]
    worktree = h.home / ".fleet/worktrees/stale"

    def staged() -> str:
        return fleet.lf.run_as("alpha", ["git", "-C", str(worktree), "diff", "--cached"]).stdout

    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(170, 45)) as pilot:
        _, panel = await open_diff(app, pilot, "alpha/stale")
        # The panel stops hearing from the host (a lagging stream, a second laptop), then the
        # CLI rejects hunk 2: the panel still shows it.
        app.workers.cancel_group(app, "hosts")
        await asyncio.to_thread(fleet.ok, "reject", "alpha/stale", "--hunk", "2")
        assert panel.diff is not None and len(panel.diff.hunks) == 2
        panel.next_hunk()
        assert panel.current_hunk is not None and panel.current_hunk.number == 2
        await pilot.press("a")  # approve the hunk the CLI already rejected
        await pilot_until(
            pilot,
            lambda: panel.diff is not None and len(panel.diff.hunks) == 1,
            "the fresh diff in the panel",
        )
        said = " ".join(str(n.message) for n in app._notifications)
        assert "rejected by decision 1" in said, said
        assert "agent changed" not in said  # it says what really happened
        assert staged() == ""  # nothing was approved
