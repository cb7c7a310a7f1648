"""The real TUI (Pilot, headless) over real loopback sshd hosts: the grid shows sessions on two
hosts, `m` delivers a steering message the agent receives, a host going down and coming back
is shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import (
    FleetCLI,
    pilot_until,
    received,
    received_lines,
    write_as_agent,
)
from tests.integration.hosts import LoopbackFleet

until = pilot_until


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return FleetCLI(fresh_hosts)


async def test_grid_steering_and_a_host_going_down_and_back(fleet: FleetCLI) -> None:
    lf = fleet.lf
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "a1"
    )
    await asyncio.to_thread(
        fleet.ok, "new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", "b1"
    )
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 45)) as pilot:
        model = app.model
        await until(
            pilot,
            lambda: {c.session.ref for c in model.visible()} >= {"alpha/a1", "beta/b1"},
            "both sessions in the grid",
        )
        await until(
            pilot,
            lambda: all(c.session.status.value == "idle" for c in model.visible()),
            "both agents idle",
        )
        grid = app.query_one(SessionGrid)
        assert grid.select(("alpha", model_key(model, "alpha/a1")))
        await pilot.press("m")
        await pilot.pause(0.2)
        for ch in "hi from the grid":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        a1 = model_key(model, "alpha/a1")
        await until(
            pilot,
            lambda: received_lines(lf["alpha"], a1) == ["hi from the grid"],
            "the agent to receive the message",
        )

        await asyncio.to_thread(lf.stop_host, "beta")
        await until(
            pilot,
            lambda: model.hosts["beta"].state in ("reconnecting", "unreachable"),
            "beta shown as down",
        )
        header = str(app.query_one("#hosts").render())
        assert "beta: " in header and ("reconnecting" in header or "unreachable" in header)
        await asyncio.to_thread(lf.start_host, "beta")
        await until(
            pilot, lambda: model.hosts["beta"].state == "connected", "beta back", timeout=40
        )
        assert "beta: connected" in str(app.query_one("#hosts").render())


def has_line(path: Path, text: str) -> bool | None:
    """Whether the file holds `text`; None while git rewrites it (between its unlink and the
    new file it is briefly absent)."""
    try:
        return text in path.read_text()
    except FileNotFoundError:
        return None


def model_key(model: object, ref: str) -> str:
    for card in model.cards.values():  # type: ignore[attr-defined]
        if card.session.ref == ref:
            return str(card.id)
    raise KeyError(ref)


async def test_new_session_from_the_form_and_commands(fleet: FleetCLI) -> None:
    from textual.widgets import Input, Select

    from fleet.ui.screens.new_session import NewSessionScreen

    lf = fleet.lf
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 45)) as pilot:
        model = app.model
        await until(
            pilot,
            lambda: all(h.state == "connected" for h in model.hosts.values()),
            "both hosts connected",
        )
        await pilot.press("colon")
        for ch in "new":
            await pilot.press(ch)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen), "the form")
        form = app.screen
        form.query_one("#host", Select).value = "beta"
        form.query_one("#repo", Input).value = "~/repo"
        form.query_one("#agent", Select).value = "recorder"
        form.query_one("#task", Input).value = "write the docs"
        form.query_one("#task", Input).focus()
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any(c.session.ref == "beta/write-the-docs" for c in model.cards.values()),
            "the new session",
        )
        sid = model_key(model, "beta/write-the-docs")
        # The card shows as soon as the host made the session; the agent starts a moment later.
        await until(pilot, lambda: received(lf["beta"], sid), "the agent to start")
        assert received(lf["beta"], sid)[:1] == [{"kind": "argv", "value": ["write the docs"]}]
        selected = app.query_one(SessionGrid).selected
        assert selected is not None and selected.session.ref == "beta/write-the-docs"

        app.run_command("host alpha")
        assert model.filter_text == "host:alpha"
        assert all(c.host == "alpha" for c in model.visible())
        app.run_command("theme fleet-light")
        assert app.theme == "fleet-light"
        app.run_command("theme nope")  # a toast, not a crash
        assert app.theme == "fleet-light"


async def test_review_from_the_diff_panel(fleet: FleetCLI) -> None:
    from fleet.ui.diff import DiffPanel

    lf = fleet.lf
    h = lf["alpha"]
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "rev"
    )
    worktree = h.home / ".fleet/worktrees/rev"
    notes = worktree / "notes.txt"
    lines = notes.read_text().splitlines()
    lines[1] = "line 2 changed by the agent"
    lines[-2] = "second to last, changed too"
    write_as_agent(h, notes, "\n".join(lines) + "\n")  # two distant hunks in one file

    def git(*args: str) -> str:
        return lf.run_as("alpha", ["git", "-C", str(worktree), *args]).stdout

    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(170, 45)) as pilot:
        model = app.model
        await until(
            pilot,
            lambda: any(
                c.session.ref == "alpha/rev" and c.session.status.value == "idle"
                for c in model.cards.values()
            ),
            "the session, idle",
        )
        sid = model_key(model, "alpha/rev")
        assert app.query_one(SessionGrid).select(("alpha", sid))
        await pilot.press("enter")
        panel = app.query_one(DiffPanel)
        await until(
            pilot,
            lambda: panel.diff is not None and len(panel.diff.hunks) == 2,
            "the diff with two hunks",
        )
        await pilot.press("a")  # approve hunk 1: staged, exactly it
        await until(pilot, lambda: "line 2 changed" in git("diff", "--cached"), "hunk 1 staged")
        assert "second to last" not in git("diff", "--cached")
        await until(
            pilot,
            lambda: panel.diff is not None and any(x.approved for x in panel.diff.hunks),
            "the fresh diff",
        )
        if panel.current_hunk is not None and panel.current_hunk.approved:
            panel.next_hunk()  # the cursor on hunk 2
        await pilot.press("x")  # reject hunk 2, with a note
        await pilot.pause(0.3)
        for ch in "keep it":
            await pilot.press(ch if ch != " " else "space")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: has_line(notes, "second to last") is False,
            "hunk 2 reverted in the worktree",
        )
        await until(
            pilot,
            lambda: any("keep it" in line for line in received_lines(h, sid)),
            "the agent told why",
        )
        # The rejected hunk left the diff but not the counts.
        await until(
            pilot,
            lambda: panel.diff is not None and len(panel.diff.hunks) == 1,
            "the diff without the rejected hunk",
        )
        assert "✓1 ✗1 ○0" in str(panel.title_bar.render())
        # Undo: the lines come back, the person is told what, and the cursor is on them.
        await pilot.press("u")
        await until(
            pilot, lambda: has_line(notes, "second to last") is True, "the rejection undone"
        )
        await until(
            pilot,
            lambda: panel.diff is not None and len(panel.diff.hunks) == 2,
            "both hunks shown again",
        )
        assert panel.current_hunk is not None and "second to last" in panel.current_hunk.text
        said = " ".join(str(n.message) for n in app._notifications)
        assert "undid the rejection of 1 hunk in notes.txt" in said
        assert "✓1 ✗0 ○1" in str(panel.title_bar.render())
        await pilot.press("x", "enter")  # and reject it again, without a note
        await until(
            pilot, lambda: has_line(notes, "second to last") is False, "hunk 2 reverted again"
        )
        # Since the last review nothing changed: the view says so, and back.
        await pilot.press("v")
        await until(
            pilot,
            lambda: panel.mode == "since" and panel.diff is not None and not panel.diff.hunks,
            "the empty since-review view",
        )
        await pilot.press("v")
        await until(
            pilot,
            lambda: panel.mode == "all" and panel.diff is not None and len(panel.diff.hunks) == 1,
            "the whole diff again (hunk 1, approved)",
        )
        await pilot.press("escape")
        await until(
            pilot, lambda: not app.query_one("#body").has_class("-review"), "the panel closed"
        )
