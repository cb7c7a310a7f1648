"""1,000 sessions on 50 hosts: time a selection move and a burst of 1,000 status updates.

The figures are printed (run with -s to see them); tests/bench owns the targets, this
test owns correctness: every card in order, the right card selected, only what is on screen
drawn. Sessions are simulated at the model's boundary (what the supervisor's events become).
"""

from __future__ import annotations

import time

from textual import events
from textual.binding import Binding

from fleet.core.models import DiffStat, Status
from fleet.ui.model import FleetModel, rank
from fleet.ui.widgets.grid import CARD_HEIGHT
from tests.ui import CountingGridApp, make_session, status_event
from tests.ui.frames import FrameRecorder, ms, summary, wait_frame

N, HOSTS = 1000, 50
SIZE = (200, 50)
STATUSES = (Status.WORKING, Status.IDLE, Status.WORKING, Status.STARTING, Status.EXITED)


class KeyedGridApp(CountingGridApp):
    BINDINGS = [  # noqa: RUF012  (Textual's own idiom)
        Binding("j", "move(0, 1)", "down", id="down"),
        Binding("k", "move(0, -1)", "up", id="up"),
        Binding("l", "move(1, 0)", "right", id="right"),
        Binding("h", "move(-1, 0)", "left", id="left"),
    ]

    def action_move(self, dx: int, dy: int) -> None:
        self.grid.move(dx, dy)


def big_fleet() -> FleetModel:
    m = FleetModel()
    for i in range(N):
        host = f"host{i % HOSTS:02d}"
        m.upsert_session(
            make_session(host, i, STATUSES[i % len(STATUSES)], diff=DiffStat(i, i % 7, i % 5))
        )
        m.set_screen(host, f"s{i}", f"$ make test\nrunning {i}\n> waiting\n")
    return m


def check_order(m: FleetModel) -> None:
    cards = m.visible()
    assert len(cards) == N
    keys = [(rank(c), c.host, c.session.name, c.id) for c in cards]
    assert keys == sorted(keys)


async def test_thousand_sessions_move_and_burst() -> None:
    t0 = time.perf_counter()
    m = big_fleet()
    fill = time.perf_counter() - t0
    app = KeyedGridApp(m)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        grid = app.counting_grid
        height = grid.scrollable_content_region.height
        check_order(m)
        assert grid.columns == 4
        assert grid.virtual_size.height > 200 * CARD_HEIGHT  # 250 rows + headings
        frames = FrameRecorder(app)
        order = [c.key for c in m.visible()]

        # 1. Selection move: move() (what a key binding calls) to the end of the frame.
        moved: list[float] = []
        renders: list[int] = []
        for _ in range(60):
            await pilot.pause()
            before = len(frames.ends)
            grid.render_count = 0
            start = time.perf_counter()
            grid.move(0, 1)
            moved.append(await wait_frame(frames, before) - start)
            renders.append(grid.render_count)
        assert max(renders) <= height, renders  # never more than a screen of lines
        assert 0 < min(renders) <= 2 * CARD_HEIGHT  # a move inside the screen: two cards
        assert grid.selected is not None and grid.selected.key == order[60 * 4]
        compose = frames.costs[-60:]

        # 2. Selection move through the real key path: the driver's key event to the frame.
        keyed: list[float] = []
        driver = app._driver
        assert driver is not None
        for i in range(60):
            await pilot.pause()
            before = len(frames.ends)
            grid.render_count = 0
            start = time.perf_counter()
            name = "lkhk"[i % 4]  # right, up, left, up: every key moves the cursor
            key = events.Key(name, name)
            key.set_sender(app)
            driver.send_message(key)
            keyed.append(await wait_frame(frames, before) - start)
            renders.append(grid.render_count)
        assert max(renders) <= height, renders
        assert grid.selected.key == order[(60 - 30) * 4]  # 30 rows up, same column

        # 3. A burst of 1,000 status updates, then one flush and one frame.
        await pilot.pause()
        selected = grid.selected.key
        flushes = grid.flush_count
        before = len(frames.ends)
        grid.render_count = 0
        start = time.perf_counter()
        for i, key in enumerate(order):
            status = Status.NEEDS_INPUT if i % 97 == 0 else Status.IDLE
            m.apply(status_event(*key, status, time.time()))
            grid.update_cards([key])
        queued = time.perf_counter() - start
        await wait_frame(frames, before)
        burst = time.perf_counter() - start
        assert grid.flush_count == flushes + 1
        assert grid.render_count <= height
        check_order(m)
        needing = [c.key for c in m.visible() if c.session.status == Status.NEEDS_INPUT]
        assert len(needing) == len(range(0, N, 97)) and m.visible()[0].key == needing[0]
        assert grid.selected is not None and grid.selected.key == selected  # followed its key

        # 4. A burst of 1,000 screen updates (no reorder): only on-screen cards repaint.
        await pilot.pause()
        before = len(frames.ends)
        grid.render_count = 0
        start = time.perf_counter()
        for i, key in enumerate(order):
            m.set_screen(*key, f"line {i}\nnew output {i}\n")
            grid.update_cards([key])
        await wait_frame(frames, before)
        screens = time.perf_counter() - start
        assert grid.render_count <= height

    print(
        f"\n1,000 cards / 50 hosts at {SIZE[0]}x{SIZE[1]}: model fill {ms(fill)}\n"
        f"  move() -> frame drawn:         {summary(moved)}\n"
        f"  compose of those frames:       {summary(compose)}\n"
        f"  key event -> frame drawn:      {summary(keyed)}\n"
        f"  1,000 status updates: queued {ms(queued)}, -> frame {ms(burst)}"
        f" (1 flush, {grid.render_count} lines max/frame <= {height})\n"
        f"  1,000 screen updates -> frame {ms(screens)}\n"
        f"  render_line calls per move frame: min {min(renders)} max {max(renders)}"
        f" (screen {height})"
    )
