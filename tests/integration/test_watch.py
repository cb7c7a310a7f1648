"""The watch stream over real SSH: events pushed from the host, resumed from a cursor after a
disconnect or an sshd restart with nothing repeated and nothing dropped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fleet.core import events as ev
from fleet.core.config import load_config
from fleet.core.remote.hostside import protocol
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet

Event = ev.Event


@pytest.fixture
def supervisor_config(fresh_hosts: LoopbackFleet) -> Any:
    return load_config(FleetCLI(fresh_hosts).config)


async def collect_until(
    stream: AsyncIterator[Event], done: Callable[[list[Event]], bool], timeout: float = 20
) -> list[Event]:
    events: list[Event] = []

    async def run() -> None:
        async for event in stream:
            events.append(event)
            if done(events):
                return

    try:
        await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise AssertionError(f"watch did not deliver in {timeout} s; got {events}") from None
    return events


def status_of(events: list[Event], session: str) -> str | None:
    """The session's latest status: from status events, or the snapshot (a fast host may have
    made the change before the stream started)."""
    statuses: list[str] = []
    for e in events:
        if isinstance(e, ev.Snapshot):
            statuses += [str(s.status) for s in e.sessions if s.id == session]
        elif isinstance(e, ev.StatusChanged) and e.session == session:
            statuses.append(str(e.status))
    return statuses[-1] if statuses else None


def journal_seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events if isinstance(e, ev.JournalEvent)]


async def test_watch_pushes_changes_and_resumes_from_its_cursor(supervisor_config: Any) -> None:
    async with Supervisor(supervisor_config) as sup:
        first = await sup.new_session("alpha", "~/repo", agent="recorder", name="w1")
        stream = sup.watch("alpha")
        events = await collect_until(
            stream,
            lambda got: (
                status_of(got, first.id) == "idle"
                and any(
                    isinstance(e, ev.ScreenChanged)
                    and e.session == first.id
                    and "recorder ready" in e.text
                    for e in got
                )
            ),
        )
        assert isinstance(events[0], ev.Snapshot)  # a fresh client gets the whole picture first
        await stream.aclose()
        cursor = max(journal_seqs(events) or [events[0].seq])
        screens = {e.session: e.digest for e in events if isinstance(e, ev.ScreenChanged)}

        # While nobody watches, things happen on the host.
        await sup.send(f"alpha/{first.id}", "exit 4")
        second = await sup.new_session("alpha", "~/repo", agent="recorder", name="w2")

        stream = sup.watch("alpha", since=cursor, screens=screens)
        later = await collect_until(
            stream,
            lambda got: (
                status_of(got, first.id) == "failed" and status_of(got, second.id) == "idle"
            ),
        )
        await stream.aclose()
        hello = later[0]
        assert isinstance(hello, ev.Hello) and hello.seq == cursor
        seqs = journal_seqs(later)
        assert seqs == list(range(cursor + 1, cursor + 1 + len(seqs))), "a gap or a repeat"
        failed = [e for e in later if isinstance(e, ev.StatusChanged) and e.status == "failed"]
        assert failed[0].exit_code == 4
        assert any(isinstance(e, ev.SessionCreated) and e.session == second.id for e in later)
        # The first session's screen changed ("exit 4" typed, pane dead) so it comes again;
        # but the unchanged parts of what we had are not resent with the same hash.
        resent = [e for e in later if isinstance(e, ev.ScreenChanged) and e.session == first.id]
        assert all(e.digest != screens[first.id] for e in resent)


async def test_watch_reconnects_after_sshd_restart_without_losing_events(
    fresh_hosts: LoopbackFleet, supervisor_config: Any
) -> None:
    async with Supervisor(supervisor_config) as sup:
        session = await sup.new_session("alpha", "~/repo", agent="recorder", name="r1")
        stream = sup.watch("alpha")
        events = await collect_until(stream, lambda got: status_of(got, session.id) == "idle")

        fresh_hosts.stop_host("alpha")  # kills sshd and every connection: the stream drops
        # The agent keeps running on the host (tmux does not care about sshd) and exits.
        fresh_hosts.run_as(
            "alpha",
            ["tmux", "-L", "fleet", "send-keys", "-t", f"=fleet-{session.id}:", "-l", "exit 5"],
        )
        fresh_hosts.run_as(
            "alpha", ["tmux", "-L", "fleet", "send-keys", "-t", f"=fleet-{session.id}:", "Enter"]
        )
        fresh_hosts.start_host("alpha")

        events += await collect_until(
            stream, lambda got: status_of(got, session.id) == "failed", timeout=30
        )
        await stream.aclose()
        links = [e for e in events if isinstance(e, ev.LinkDown)]
        assert links, "the outage should be reported"
        assert links[0].host == "alpha" and links[0].retry_in > 0
        seqs = journal_seqs(events)
        assert len(seqs) == len(set(seqs)), "an event was delivered twice"
        assert seqs == sorted(seqs)
        failed = [e for e in events if isinstance(e, ev.StatusChanged) and e.status == "failed"]
        assert failed[0].exit_code == 5


async def test_more_concurrent_calls_than_sshd_allows_channels_share_one_connection(
    supervisor_config: Any,
) -> None:
    # sshd's default MaxSessions is 10: without a channel budget, 30 calls at once fail.
    async with Supervisor(supervisor_config) as sup:
        helper = sup.helper("alpha")
        answers = await asyncio.gather(*(helper.call("hello") for _ in range(30)))
        assert len(answers) == 30 and all(a["protocol"] == protocol.VERSION for a in answers)
        assert sup.links["alpha"].connects == 1


async def test_a_host_back_after_an_outage_is_followed_again_within_seconds(
    fresh_hosts: LoopbackFleet, supervisor_config: Any
) -> None:
    async with Supervisor(supervisor_config) as sup:
        stream = sup.watch("alpha")
        await collect_until(stream, lambda got: any(isinstance(e, ev.Hello) for e in got))

        async def outage(seconds: float) -> list[Event]:
            """Stop alpha's sshd for `seconds` (the watch keeps retrying), then start it."""
            fresh_hosts.stop_host("alpha")
            until = time.monotonic() + seconds
            tries = await collect_until(
                stream, lambda _: time.monotonic() >= until, timeout=seconds + 30
            )
            fresh_hosts.start_host("alpha")
            return tries

        # Down 16 s: doubling alone (1, 2, 4, 8, 16 s) would try next 15 s after it is back.
        tries = await outage(16)
        assert [e for e in tries if isinstance(e, ev.LinkDown)], "the outage is reported"
        back = time.monotonic()
        await collect_until(
            stream, lambda got: any(isinstance(e, ev.Hello) for e in got), timeout=7
        )
        print(f"\nfollowed again {time.monotonic() - back:.1f} s after sshd answered")

        # Down again. Just after a failed try, the host comes back and the person acts on it
        # at once: the watch follows then, before its own next try was due.
        fresh_hosts.stop_host("alpha")
        tries = await collect_until(
            stream, lambda got: sum(isinstance(e, ev.LinkDown) for e in got) >= 3, timeout=40
        )
        due = time.monotonic() + [e for e in tries if isinstance(e, ev.LinkDown)][-1].retry_in
        fresh_hosts.start_host("alpha")
        back = time.monotonic()
        await sup.list_host("alpha")
        await collect_until(
            stream,
            lambda got: any(isinstance(e, ev.Hello) for e in got),
            timeout=max(0.5, due - time.monotonic() - 0.2),
        )
        print(f"followed again {time.monotonic() - back:.1f} s after the person acted")
        await stream.aclose()
