"""Timing what a person sees in the UI scale tests: when each frame was composed, its cost, and
the figures they print."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from textual.app import App


class FrameRecorder:
    """When the screen finished composing each frame (the end of a repaint), and its cost."""

    def __init__(self, app: App[Any]) -> None:
        self.ends: list[float] = []
        self.costs: list[float] = []
        screen = app.screen
        original: Callable[[], None] = screen._compositor_refresh

        def recorded() -> None:
            start = time.perf_counter()
            original()
            end = time.perf_counter()
            self.ends.append(end)
            self.costs.append(end - start)

        screen._compositor_refresh = recorded  # type: ignore[method-assign]


async def wait_frame(frames: FrameRecorder, after: int, timeout: float = 5.0) -> float:
    """When frame number `after` (counting from 0) ended, waiting for it to be drawn."""
    deadline = time.perf_counter() + timeout
    while len(frames.ends) <= after:
        if time.perf_counter() > deadline:
            raise AssertionError("no frame drawn")
        await asyncio.sleep(0)
    return frames.ends[after]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(samples: list[float]) -> str:
    s = sorted(samples)
    p99 = s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]
    return f"p50 {ms(statistics.median(s))}  p99 {ms(p99)}  max {ms(s[-1])}  (n={len(s)})"
