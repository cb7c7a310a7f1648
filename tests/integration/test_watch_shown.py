"""Spend where the person looks, over real SSH to a real helper: the watch stream sends screens
only for the sessions the supervisor says are shown, every byte of everyone's output still
comes (once), and a session shown again gets its latest screen at once: what the person sees
after a scroll is what is on the host."""

from __future__ import annotations

import asyncio
from typing import Any

from fleet.core import events as ev
from fleet.core.config import load_config
from fleet.core.remote.hostside import protocol
from fleet.core.supervisor import Supervisor
from fleet.ui.app import FleetApp
from fleet.ui.model import Card, screen_tail
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import FleetCLI, pilot_until, wait_for
from tests.integration.hosts import LoopbackFleet
from tests.integration.test_watch import collect_until, status_of, supervisor_config

__all__ = ["supervisor_config"]  # the fixture, shared with test_watch


def screens_of(events: list[ev.Event], session: str) -> list[ev.ScreenChanged]:
    return [e for e in events if isinstance(e, ev.ScreenChanged) and e.session == session]


def output_of(events: list[ev.Event], session: str) -> bytes:
    """The session's raw output as it came, checked to be contiguous (nothing twice)."""
    data = b""
    for e in events:
        if isinstance(e, ev.OutputArrived) and e.session == session:
            assert e.offset == len(data), f"output at {e.offset}, expected {len(data)}"
            data += e.data
    return data


def host_file(hosts: LoopbackFleet, session: str, name: str) -> str:
    got = hosts.run_as("alpha", ["cat", f".fleet/sessions/{session}/{name}"])
    return got.stdout if got.returncode == 0 else ""


async def test_hidden_sessions_send_output_not_screens_and_catch_up_when_shown(
    fresh_hosts: LoopbackFleet, supervisor_config: Any
) -> None:
    async with Supervisor(supervisor_config) as sup:
        seen = await sup.new_session("alpha", "~/repo", agent="recorder", name="seen")
        unseen = await sup.new_session("alpha", "~/repo", agent="recorder", name="unseen")
        sup.show_only({("alpha", seen.id)})
        stream = sup.watch("alpha", output={})
        events = await collect_until(
            stream,
            lambda got: (
                status_of(got, seen.id) == "idle"
                and status_of(got, unseen.id) == "idle"
                and any("recorder ready" in e.text for e in screens_of(got, seen.id))
            ),
        )
        # A stream that starts while the session is hidden never sends its screen.
        assert not screens_of(events, unseen.id)

        # The hidden one prints; its screen file on the host has it before the shown one
        # prints: the stream reads every screen file in one pass, so had it not held the
        # hidden screen back, it would have come no later than the shown one's.
        await sup.send(f"alpha/{unseen.id}", "words-while-hidden")
        await asyncio.to_thread(
            wait_for,
            lambda: "got 18 chars" in host_file(fresh_hosts, unseen.id, "screen.txt"),
            what="the hidden session's screen on the host",
        )
        await sup.send(f"alpha/{seen.id}", "words-while-shown")
        events += await collect_until(
            stream,
            lambda got: (
                any("got 17 chars" in e.text for e in screens_of(got, seen.id))
                and b"got 18 chars" in output_of(events + got, unseen.id)
            ),
        )
        assert not screens_of(events, unseen.id), "a hidden session's screen was sent"

        # Shown again (a scroll): its latest screen comes at once, the one on the host.
        sup.show_only({("alpha", seen.id), ("alpha", unseen.id)})
        events += await collect_until(
            stream, lambda got: any("got 18 chars" in e.text for e in screens_of(got, unseen.id))
        )
        caught_up = screens_of(events, unseen.id)[-1]
        on_host = host_file(fresh_hosts, unseen.id, "screen.txt")
        assert caught_up.digest == protocol.screen_hash(on_host)

        # Every byte of the hidden session's output came, once, in order.
        await stream.aclose()
        log = fresh_hosts.run_as(
            "alpha", ["cat", f".fleet/sessions/{unseen.id}/output.log"], text=False
        )
        got = output_of(events, unseen.id)
        assert got and log.stdout.startswith(got)


async def test_the_grid_shows_the_hosts_screen_of_a_card_scrolled_into_view(
    fresh_hosts: LoopbackFleet,
) -> None:
    """The person's loop: cards far down the grid print while off screen; scrolling down to
    them shows what is on the host, and they keep updating while shown; back up, the same."""
    fleet = FleetCLI(fresh_hosts)
    for i in range(8):
        await asyncio.to_thread(
            fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", f"s{i}"
        )
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(60, 20)) as pilot:  # one column, two cards on screen
        model = app.model
        grid = app.query_one(SessionGrid)
        await pilot_until(
            pilot,
            lambda: (
                len(model.visible()) == 8
                and all(c.session.status.value == "idle" for c in model.visible())
                and all(model.cards[k].tail for k in grid.visible_keys())
            ),
            "eight idle agents, the cards on screen with their screens",
        )
        first, last = model.visible()[0], model.visible()[-1]
        assert last.key not in grid.shown_keys(), "the grid is too short to hide a card"

        async def says(card: Card, text: str) -> None:
            await app.sup.send(f"alpha/{card.key[1]}", text)  # type: ignore[union-attr]
            want = f"got {len(text)} chars"
            await asyncio.to_thread(
                wait_for,
                lambda: want in host_file(fresh_hosts, card.key[1], "screen.txt"),
                what=f"{want} on the host",
            )

        def as_on_host(card: Card, text: str) -> bool:
            on_host = screen_tail(host_file(fresh_hosts, card.key[1], "screen.txt"))
            return any(text in line for line in card.tail) and card.tail == on_host

        await says(last, "printed while off screen")
        while grid.selected is None or grid.selected.key != last.key:
            await pilot.press("down")  # a person scrolling down, a card at a time
        await pilot_until(pilot, lambda: as_on_host(last, "got 24 chars"), "the card caught up")

        await says(last, "printed while shown")
        await pilot_until(pilot, lambda: as_on_host(last, "got 19 chars"), "the shown card")

        await says(first, "first, printed while off screen")
        while grid.selected is None or grid.selected.key != first.key:
            await pilot.press("up")
        await pilot_until(pilot, lambda: as_on_host(first, "got 31 chars"), "the first again")
