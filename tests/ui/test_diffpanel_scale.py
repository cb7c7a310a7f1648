"""A 10,000-line diff in the side panel: open it, page through it, highlight only what shows.

The figures are printed (run with -s to see them); tests/bench owns the targets, this
test owns correctness: only the hunks (or, in a long hunk, the chunks) with a line on screen
are ever lexed, and nothing is lexed at open beyond the first screen.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pygments.lexer import Lexer
from textual import events

from fleet.core import review
from fleet.ui.diff import CHUNK, lex
from tests.ui.frames import FrameRecorder, ms, summary, wait_frame
from tests.ui.test_diffpanel import REF, LexLoggingApp, LexLoggingView, diff_of, init_repo, write

SIZE = (160, 50)
FILES, FILE_LINES, EVERY = 40, 400, 20  # 20 one-line edits per file, far enough apart
BIG_NEW_FILE = 3000  # lines of one new file: a single long hunk, lexed a chunk at a time


def source(i: int, edited: bool) -> bytes:
    lines = []
    for n in range(FILE_LINES):
        if edited and n % EVERY == 10:
            lines.append(f"    value_{n} = compute({i}, {n}) * 2  # changed")
        else:
            lines.append(f"    value_{n} = compute({i}, {n})  # line {n}")
    return ("def module():\n" + "\n".join(lines) + "\n").encode()


def big_diff(tmp_path: Path) -> review.Diff:
    repo = tmp_path / "big"
    init_repo(repo, {f"pkg/mod{i:02d}.py": source(i, False) for i in range(FILES)})
    changes: dict[str, bytes | None] = {f"pkg/mod{i:02d}.py": source(i, True) for i in range(FILES)}
    changes["pkg/zz_new.py"] = "".join(
        f'def f{n}():\n    """doc {n}"""\n    return {n}\n' if n % 3 == 0 else f"# {n}\n"
        for n in range(BIG_NEW_FILE * 3 // 5)  # 3 lines, 1, 1, 3 lines, ...
    ).encode()
    write(repo, changes)
    return review.parse(diff_of(repo))


def check_only_visible_lexed(view: LexLoggingView) -> int:
    """Every unit lexed since the log was cleared has a line on screen; returns lines lexed."""
    top = round(view.scroll_offset.y)
    bottom = top + view.scrollable_content_region.height
    by_number = {h.number: i for i, h in enumerate(view.hunks)}
    for number, first, count in view.lex_log:
        y, _ = view.hunk_rows(by_number[number])
        start = y + 1 + first
        assert start < bottom and start + count > top, (number, first, count, top, bottom)
        assert count <= CHUNK * 3 // 2
    return sum(count for _, _, count in view.lex_log)


class LexerRuns:
    """How many times pygments ran on a non-empty text (wraps the lex module's lex_lines)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = lex.lex_lines

        def counted(lexer: Lexer, texts: list[str]) -> list[lex.Tokens]:
            self.count += bool(texts)
            return original(lexer, texts)

        monkeypatch.setattr(lex, "lex_lines", counted)


def reset(view: LexLoggingView, runs: LexerRuns) -> None:
    view.lex_log.clear()
    runs.count = 0


async def test_ten_thousand_line_diff_opens_and_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = time.perf_counter()
    diff = big_diff(tmp_path)
    parse_s = time.perf_counter() - t0
    total_lines = diff.text.count("\n")
    assert total_lines >= 10_000
    assert len(diff.hunks) == FILES * (FILE_LINES // EVERY) + 1

    runs = LexerRuns(monkeypatch)
    app = LexLoggingApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        view = app.logging_view
        height = view.scrollable_content_region.height
        await app.workers.wait_for_complete()  # the panel's pygments warm-up, on mount
        frames = FrameRecorder(app)

        # 1. show() and the first frame that shows the diff.
        await pilot.pause()
        reset(view, runs)
        before = len(frames.ends)
        start = time.perf_counter()
        panel.show(REF, diff)
        shown = time.perf_counter() - start
        opened = await wait_frame(frames, before) - start
        assert view.virtual_size.height > total_lines - 500
        lexed_open = check_only_visible_lexed(view)
        assert 0 < lexed_open <= height + 2 * CHUNK
        assert runs.count <= 2 * len(view.lex_log)  # the old side and the new side

        # 2. Page down through the real key path (the driver's key event to the frame).
        driver = app._driver
        assert driver is not None
        pages: list[float] = []
        for _ in range(30):
            await pilot.pause()
            reset(view, runs)
            before = len(frames.ends)
            start = time.perf_counter()
            key = events.Key("pagedown", None)
            key.set_sender(app)
            driver.send_message(key)
            pages.append(await wait_frame(frames, before) - start)
            assert check_only_visible_lexed(view) <= height + 2 * CHUNK
        assert round(view.scroll_offset.y) >= 30 * (height - 1)

        # 3. Into the 3,000-line new file: only the chunks on screen are lexed.
        await pilot.pause()
        reset(view, runs)
        before = len(frames.ends)
        start = time.perf_counter()
        view.move_cursor(len(view.hunks) - 1)
        y, rows = view.hunk_rows(len(view.hunks) - 1)
        assert rows == 1 + BIG_NEW_FILE
        view.scroll_to(y=y + rows // 2, animate=False, immediate=True)
        jump = await wait_frame(frames, before) - start
        big_lexed = check_only_visible_lexed(view)
        assert big_lexed <= 2 * CHUNK

        # 4. n through the hunks from the top: every step lexes at most a screen's worth.
        view.move_cursor(0)
        await pilot.pause()
        steps: list[float] = []
        for _ in range(30):
            await pilot.pause()
            reset(view, runs)
            before = len(frames.ends)
            start = time.perf_counter()
            panel.next_hunk()
            steps.append(await wait_frame(frames, before) - start)
            check_only_visible_lexed(view)
        assert panel.current_hunk is not None and panel.current_hunk.number == 31

    print(
        f"\n{total_lines:,}-line diff, {len(diff.files)} files, {len(diff.hunks)} hunks"
        f" at {SIZE[0]}x{SIZE[1]}: review.parse {ms(parse_s)}\n"
        f"  show() {ms(shown)}; show() -> first frame {ms(opened)}"
        f" ({lexed_open} lines lexed of {total_lines:,})\n"
        f"  page down (key event -> frame): {summary(pages)}\n"
        f"  jump into the 3,000-line hunk -> frame {ms(jump)} ({big_lexed} lines lexed)\n"
        f"  next hunk -> frame: {summary(steps)}"
    )
