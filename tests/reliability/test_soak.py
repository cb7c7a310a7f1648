"""The soak's short version (CI): one minute of session churn with a connection cut every
15 s; every journal event delivered once, every output byte stored once, memory and file
descriptors flat. The long one: `python -m tests.reliability.soak --minutes 10`."""

from __future__ import annotations

import asyncio

import pytest

from tests.reliability.soak import report, run

# A minute of wall time on its own: a CI phase of its own, beside the main suite's budget.
pytestmark = pytest.mark.soak

RSS_GROWTH_KB = 16 * 1024  # after warm-up; a leak of a few kB per event passes this in minutes
FD_GROWTH = 6


async def test_one_minute_soak(_integration_requirements: None) -> None:
    figures = await asyncio.to_thread(run, 1.0, 15.0)
    text = report(figures)
    print(text)
    assert figures.cuts >= 3 and figures.sessions_stopped >= 1, text
    assert figures.events_sent > 0 and figures.output_bytes > 0, text
    assert figures.events_duplicated == 0 and figures.events_lost == 0, text
    assert figures.events_received == figures.events_sent, text
    assert figures.output_sessions_wrong == 0, text
    assert not figures.errors, text
    assert figures.rss_kb_end - figures.rss_kb_start < RSS_GROWTH_KB, text
    assert figures.fds_end - figures.fds_start <= FD_GROWTH, text
