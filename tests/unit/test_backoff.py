"""How long a link waits before it tries a host again: a host back after a short outage is
found within a few seconds of answering; a host down for long costs a try a minute at most."""

from __future__ import annotations

import asyncio

from fleet.core.config import SshSettings
from fleet.core.ssh import BACKOFF_MAX, FAST_RETRY, HostLink


def link() -> HostLink:
    return HostLink("h", "u@127.0.0.1:1", SshSettings(), asyncio.Semaphore(1))


def waits(link: HostLink, down_for: float, failures: int) -> list[float]:
    link.failures, link.failing_since = failures, 1000.0
    return [link.retry_in(now=1000.0 + down_for) for _ in range(200)]


def test_no_wait_before_the_first_try() -> None:
    assert link().retry_in() == 0.0


def test_the_first_tries_back_off_then_stay_within_five_seconds_for_a_minute() -> None:
    ln = link()
    assert min(waits(ln, 1, 1)) >= 0.75 and max(waits(ln, 1, 1)) <= 1.25
    assert min(waits(ln, 3, 2)) >= 1.5 and max(waits(ln, 3, 2)) <= 2.5
    for failures in (4, 6, 10):  # 8, 32, 512 s by the doubling alone
        got = waits(ln, 45, failures)
        assert max(got) <= FAST_RETRY and min(got) >= 0.75 * FAST_RETRY, failures


def test_after_a_minute_down_the_backoff_grows_to_its_cap() -> None:
    ln = link()
    assert min(waits(ln, 61, 4)) >= 6.0 and max(waits(ln, 61, 4)) <= 10.0
    got = waits(ln, 600, 20)
    assert max(got) <= 1.25 * BACKOFF_MAX and min(got) >= 0.75 * BACKOFF_MAX


async def test_a_waiting_retry_wakes_when_someone_connects_and_not_before() -> None:
    ln = link()

    async def connected() -> None:  # what connection() does once a connect succeeds
        ln.connects += 1
        async with ln._connected:
            ln._connected.notify_all()

    waiting = asyncio.create_task(ln.wait_reconnect(30, after=ln.connects))
    await asyncio.sleep(0.05)
    async with ln._connected:
        ln._connected.notify_all()  # a notification alone (no new connection) wakes nothing
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await connected()
    await asyncio.wait_for(waiting, 1)
    # A connection made before the wait began counts too (the person acted first).
    await asyncio.wait_for(ln.wait_reconnect(30, after=ln.connects - 1), 1)
