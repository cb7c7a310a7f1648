"""SessionGrid: cards drawn with the Line API, cursor by key, coalesced updates."""

from __future__ import annotations

import re
import time

from rich.segment import Segment
from textual.theme import Theme

from fleet.core.models import DiffStat, Status
from fleet.ui.model import FleetModel
from fleet.ui.widgets.grid import CARD_HEIGHT, SessionGrid
from tests.ui import CountingGridApp, GridApp, make_session, status_event

UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def lines(grid: SessionGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.scrollable_content_region.height)]


def screen_text(grid: SessionGrid) -> str:
    return "\n".join(lines(grid))


def fleet(n: int = 8, hosts: int = 2) -> FleetModel:
    m = FleetModel()
    for i in range(n):
        m.upsert_session(make_session(f"h{i % hosts}", i))
    return m


async def test_renders_cards_with_status_words_symbols_and_marks() -> None:
    m = FleetModel()
    now = time.time()
    m.upsert_session(make_session("gpu1", 1, Status.NEEDS_INPUT, name="fix-auth", since=now - 190))
    m.upsert_session(
        make_session("gpu1", 2, Status.WORKING, name="docs", diff=DiffStat(12, 3, 4)), unread=5
    )
    m.upsert_session(
        make_session("gpu2", 3, Status.FAILED, name="bench", agent="codex", exit_code=3)
    )
    m.upsert_session(make_session("gpu2", 4, Status.EXITED, name="done", exit_code=0))
    m.upsert_session(make_session("gpu3", 5, Status.IDLE, name="old"), cached=True)
    m.upsert_session(make_session("gpu3", 6, Status.STOPPED, name="halted"))
    m.upsert_session(make_session("gpu3", 7, Status.WORKING, name="vanished"), gone=True)
    m.upsert_session(make_session("gpu4", 8, Status.WORKING, name="far"))
    m.mark_host("gpu4", "unreachable", "Connection refused")
    m.set_screen("gpu1", "s1", "Reading files\n\nAllow edit to auth.py? [y/n]\n")
    app = GridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app.grid)
    assert "gpu1/fix-auth" in text and "claude" in text and "codex" in text
    assert "◆ needs-input · for 3m" in text
    assert "● working" in text and "+12 -3 · 4 files" in text and "5 new" in text
    assert "✗ failed (3)" in text and "✓ exited (0)" in text
    assert "○ idle" in text and "(cached)" in text
    assert "■ stopped" in text and "⊘ gone" in text
    assert "⚠ lost · unreachable: Connection refused" in text
    assert "Allow edit to auth.py? [y/n]" in text and "Reading files" in text
    assert "── needs input · 1" in text and "── failed · 1" in text
    # needs-input is drawn first, on the first row of cards.
    first = text.splitlines()
    assert "needs input" in first[0] and "gpu1/fix-auth" in first[1]


async def test_columns_adapt_to_width() -> None:
    app = GridApp(fleet(12))
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid
        width = grid.scrollable_content_region.width
        assert grid.columns == width // 44 == 4
        row = lines(grid)[1]
        assert row.count("╭") + row.count("┏") == 4 and len(row) == width  # stretched to fill
        await pilot.resize_terminal(100, 50)
        await pilot.pause()
        assert grid.columns == 2
        assert lines(grid)[1].count("╭") + lines(grid)[1].count("┏") == 2
        await pilot.resize_terminal(50, 40)
        await pilot.pause()
        assert grid.columns == 1
        await pilot.resize_terminal(30, 40)  # narrower than a card: still one, cut to fit
        await pilot.pause()
        assert grid.columns == 1
        for strip in (grid.render_line(y) for y in range(20)):
            assert strip.cell_length == grid.scrollable_content_region.width


async def test_cursor_moves_by_column_and_row_and_posts_selected() -> None:
    m = fleet(10, hosts=1)  # one group: "running" heading, then rows of 4
    app = GridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid
        order = [c.key for c in m.visible()]
        assert grid.selected is not None and grid.selected.key == order[0]
        assert app.selected == [order[0]]  # the first selection is announced too
        grid.move(1, 0)
        assert grid.selected.key == order[1]
        grid.move(0, 1)
        assert grid.selected.key == order[5]
        grid.move(5, 0)  # clamped at the row's end
        assert grid.selected.key == order[7]
        grid.move(0, 1)  # the last row has 2 cards: the column is clamped
        assert grid.selected.key == order[9]
        grid.move(0, -2)  # back up: the wanted column comes back
        assert grid.selected.key == order[3]
        grid.move(-9, -9)
        assert grid.selected.key == order[0]
        assert grid.select(order[6]) and grid.selected.key == order[6]
        assert not grid.select(("nope", "x"))
        await pilot.press("down", "right", "pagedown", "end")  # the app owns every key
        assert grid.selected.key == order[6] and grid.scroll_offset.y == 0
        await pilot.pause()
        assert app.selected == [order[i] for i in (0, 1, 5, 7, 9, 3, 0, 6)]


async def test_selection_follows_the_card_across_resorts() -> None:
    m = fleet(12)
    app = GridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid
        key = m.visible()[6].key
        grid.select(key)
        # Another card jumps to the top, then ours does, then it is filtered away.
        other = m.visible()[9].key
        m.apply(status_event(*other, Status.NEEDS_INPUT))
        grid.update_cards([other])
        await pilot.pause()
        assert grid.selected is not None and grid.selected.key == key
        assert m.visible()[0].key == other
        m.apply(status_event(*key, Status.FAILED, exit_code=1))
        grid.update_cards([key])
        await pilot.pause()
        assert grid.selected.key == key and m.visible()[1].key == key
        region = grid.card_region(key)
        assert region is not None and region.y > 0
        m.group_by = "host"
        grid.update_cards()
        await pilot.pause()
        assert grid.selected.key == key
        m.filter_text = f"host:{other[0]}"
        if key[0] != other[0]:
            grid.update_cards()
            await pilot.pause()
            # Gone from view: the cursor goes to the card now at its place, and says so.
            assert grid.selected is not None and grid.selected.key != key
            assert app.selected[-1] == grid.selected.key
        m.filter_text = "matches-nothing"
        grid.update_cards()
        await pilot.pause()
        assert grid.selected is None and app.selected[-1] is None
        assert all(line.strip() == "" for line in lines(grid))  # empty: draws nothing


async def test_updates_are_coalesced_into_one_flush() -> None:
    m = fleet(40, hosts=4)
    app = CountingGridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.counting_grid
        before = grid.flush_count
        for i in range(1000):
            key = (f"h{i % 4}", f"s{i % 40}")
            m.set_screen(*key, f"step {i}\n")
            grid.update_cards([key])
        assert grid.flush_count == before  # nothing drawn yet: one flush per loop turn
        await pilot.pause()
        assert grid.flush_count == before + 1
        text = screen_text(grid)
        first = m.visible()[0].key
        last = max(i for i in range(1000) if (f"h{i % 4}", f"s{i % 40}") == first)
        assert f"step {last}" in text  # the latest screen, not a queue of them


async def test_off_screen_updates_repaint_nothing() -> None:
    m = fleet(400, hosts=10)
    app = CountingGridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.counting_grid
        off = [k for k in (c.key for c in m.visible()) if k not in set(grid.visible_keys())]
        grid.render_count = 0
        for key in off[:200]:
            m.set_screen(*key, "hidden change\n")
        grid.update_cards(off[:200])
        await pilot.pause()
        assert grid.render_count == 0
        on = grid.visible_keys()[0]
        m.set_screen(*on, "visible change\n")
        grid.update_cards([on])
        # New content only: painted at the end of FLUSH_INTERVAL after the last repaint.
        for _ in range(40):
            await pilot.pause(0.05)
            if grid.render_count:
                break
        assert 0 < grid.render_count <= CARD_HEIGHT
        assert "visible change" in screen_text(grid)


async def test_hostile_text_is_inert_and_cut_to_the_card() -> None:
    m = FleetModel()
    evil = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b]0;title\x07ev\u202eil\x9b31m\ud800"
    m.upsert_session(
        make_session(
            "h\x1b[31m1",
            1,
            Status.NEEDS_INPUT,
            name=evil + "修复认证🚀" * 2000,  # wide characters: cut by cells, not chars
            agent="a\x07gent\u2066",
        )
    )
    screen = f"{evil}\n" + "y\t" * 600_000 + "\n\x1b[1A\x1b[K\u2028z\n" + "宽" * 900
    m.set_screen("h\x1b[31m1", "s1", screen)
    app = GridApp(m)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        grid = app.grid
        width = grid.scrollable_content_region.width
        seen = ""
        for y in range(30):
            strip = grid.render_line(y)
            assert strip.cell_length == width
            for seg in strip:
                assert isinstance(seg, Segment) and not seg.control
                assert not UNSAFE.search(seg.text), repr(seg.text)
                assert "\ud800" not in seg.text
            seen += strip.text + "\n"
        assert "h1/evil" in seen and "agent" in seen and "…" in seen
        assert "y   y   y" in seen and "z" in seen and "宽宽" in seen  # tabs are spaces


async def test_needs_input_pulses_once() -> None:
    m = fleet(4, hosts=1)
    app = GridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid
        key = m.visible()[2].key

        def reversed_lines() -> int:
            top = grid.card_region(key)
            assert top is not None
            strips = [grid.render_line(y) for y in range(top.y, top.y + CARD_HEIGHT)]
            x = top.x + 2
            return sum(1 for s in strips if (st := s.crop(x, x + 1)) and st.text and _rev(st))

        assert reversed_lines() == 0
        m.apply(status_event(*key, Status.NEEDS_INPUT))
        grid.update_cards([key])
        await pilot.pause()
        assert grid.card_region(key).y == 1  # it sorted first
        assert reversed_lines() == CARD_HEIGHT  # pulsing
        grid.update_cards([key])  # more updates while it still needs input: no new pulse
        await pilot.pause(1.3)
        assert reversed_lines() == 0
        grid.update_cards([key])
        await pilot.pause()
        assert reversed_lines() == 0


def _rev(strip: object) -> bool:
    return any(seg.style is not None and seg.style.reverse for seg in strip)  # type: ignore[attr-defined]


async def test_status_colours_come_from_the_theme() -> None:
    app = GridApp(fleet(2))
    app.register_theme(
        Theme(
            name="grid-test",
            primary="#0000ff",
            dark=True,
            variables={"status-working": "#ff00ff", "status-needs-input": "#00ff00"},
        )
    )
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid

        def working_colour() -> str:
            for y in range(10):
                for seg in grid.render_line(y):
                    if seg.text.startswith("● working") and seg.style and seg.style.color:
                        return str(seg.style.color.triplet.hex)  # type: ignore[union-attr]
            raise AssertionError("no working status drawn")

        default = working_colour()
        app.theme = "grid-test"
        await pilot.pause()
        await pilot.pause()
        assert working_colour() == "#ff00ff" != default


async def test_click_selects_a_card() -> None:
    m = fleet(8, hosts=1)
    app = GridApp(m)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        grid = app.grid
        target = m.visible()[5]  # second row, second column
        region = grid.card_region(target.key)
        assert region is not None
        await pilot.click(SessionGrid, offset=(region.x + 3, region.y + 2))
        await pilot.pause()
        assert grid.selected is not None and grid.selected.key == target.key
