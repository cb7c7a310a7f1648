"""The side-panel diff: rendering of a real `git diff`, the hunk cursor, review messages.

Diffs come from real git repositories (made here with subprocess git, diffed exactly as the
host helper diffs a worktree) and are read with `review.parse`, as the supervisor does.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import ClassVar

import pytest
from textual import on
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input

from fleet.core import review
from fleet.core.remote.hostside.reviewgit import DIFF_ARGS, DIFF_CONFIG
from fleet.ui.diff import DiffPanel, DiffView, FileList
from fleet.ui.diff.lex import RAW_LIMIT, LexedLine, Span
from fleet.ui.screens.prompt import PromptScreen
from fleet.ui.themes import register_all
from tests.localgit import git

SIZE = (160, 50)
REF = "devbox/s1"

# --------------------------------------------------------------------------- real diffs


def init_repo(repo: Path, files: dict[str, bytes]) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "core.autocrlf", "false")
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")


def write(repo: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        path = repo / name
        if data is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def diff_of(repo: Path) -> str:
    """The worktree against HEAD, untracked files included: as the host helper computes it."""
    env = {"GIT_INDEX_FILE": str(repo / ".git" / "fleet-test-index")}
    git(repo, "read-tree", "HEAD", env=env)
    git(repo, "add", "-A", "--", ".", env=env)
    out = git(repo, *DIFF_CONFIG, "diff", "--cached", *DIFF_ARGS, "HEAD", "--", env=env)
    return out.decode("utf-8", "surrogateescape")


APP_BASE = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(20)).encode()


def edited_app() -> bytes:
    lines = APP_BASE.decode().split("\n")
    lines[1] = "    return x * 2  # doubled"
    lines[45:45] = ['DOC = """a string', "over lines: def not_code(): pass", '"""']
    return "\n".join(lines).encode()


def make_real_diff(tmp_path: Path) -> review.Diff:
    """Two hunks in app.py, a new file with spaces and unicode in its path, a binary file, a
    file without a newline at its end, a deleted file, a mode change, and CRLF lines."""
    repo = tmp_path / "repo"
    init_repo(
        repo,
        {
            "app.py": APP_BASE,
            "old.txt": b"one\ntwo\nthree\n",
            "noeol.txt": b"a\nb",
            "run.sh": b"#!/bin/sh\necho hi\n",
            "win.txt": b"first\r\nsecond\r\nthird\r\n",
        },
    )
    write(
        repo,
        {
            "app.py": edited_app(),
            "docs/new file é.md": b"# Title\n\nsome *text*\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            "noeol.txt": b"a\nB",
            "old.txt": None,
            "win.txt": b"first\r\nSECOND\r\nthird\r\n",
        },
    )
    (repo / "run.sh").chmod(0o755)
    return review.parse(diff_of(repo))


@pytest.fixture
def real_diff(tmp_path: Path) -> review.Diff:
    return make_real_diff(tmp_path)


# --------------------------------------------------------------------------- the test app


class LexLoggingView(DiffView):
    """The hunks view, logging what it lexes (the real view keeps no log)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lex_log: list[tuple[int, int, int]] = []  # (hunk number, first body line, count)
        self.longest_lexed = 0  # characters of the longest line handed to the lexer

    def _lex(self, index: int, span: Span, width: int) -> list[LexedLine]:
        lexed = super()._lex(index, span, width)
        self.lex_log.append((self.hunks[index].number, span.first, span.end - span.first))
        self.longest_lexed = max([self.longest_lexed, *(len(line.text) for line in lexed)])
        return lexed

    @property
    def lexed_lines(self) -> int:
        return sum(count for _, _, count in self.lex_log)


class LexLoggingPanel(DiffPanel):
    """The panel around a :class:`LexLoggingView`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = LexLoggingView(id="diff-view")


class PanelApp(App[None]):
    """Just the panel, under fleet's themes."""

    PANEL: ClassVar[type[DiffPanel]] = DiffPanel

    def __init__(self, diff: review.Diff | None = None, theme: str = "fleet-dark") -> None:
        super().__init__()
        self.initial = diff
        self.initial_theme = theme
        self.decisions: list[DiffPanel.Decide] = []
        self.closed = 0

    def compose(self) -> ComposeResult:
        yield self.PANEL(id="panel")

    def on_mount(self) -> None:
        register_all(self)
        self.theme = self.initial_theme
        if self.initial is not None:
            self.panel.show(REF, self.initial)
        self.panel.focus()

    @property
    def panel(self) -> DiffPanel:
        return self.query_one(DiffPanel)

    @on(DiffPanel.Decide)
    def _decide(self, event: DiffPanel.Decide) -> None:
        self.decisions.append(event)

    @on(DiffPanel.Closed)
    def _closed(self, event: DiffPanel.Closed) -> None:
        self.closed += 1


class LexLoggingApp(PanelApp):
    """The panel app whose hunks view logs what it lexes."""

    PANEL = LexLoggingPanel

    @property
    def logging_view(self) -> LexLoggingView:
        return self.query_one(LexLoggingView)


def view_lines(view: DiffView) -> list[str]:
    """Every row of the hunks view as text (scrolling through it), then back where it was."""
    height = view.scrollable_content_region.height
    total = view.virtual_size.height
    saved = view.scroll_offset.y
    out: list[str] = []
    top = 0
    while top < max(total, 1):
        view.scroll_to(y=top, animate=False, force=True, immediate=True)
        start = round(view.scroll_offset.y)
        for y in range(height):
            if start + y == len(out) and start + y < max(total, 1):
                out.append(view.render_line(y).text)
        top += height
        if start + height >= total:
            break
    view.scroll_to(y=saved, animate=False, force=True, immediate=True)
    return out


def screen_lines(view: DiffView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


def header_of(lines: list[str], number: int) -> str:
    found = [line for line in lines if re.search(rf"^. #{number} ", line)]
    assert len(found) == 1, (number, found)
    return found[0]


# --------------------------------------------------------------------------- rendering


async def test_renders_files_hunks_markers_and_decisions(real_diff: review.Diff) -> None:
    paths = [f.path for f in real_diff.files]
    assert paths == [
        "app.py",
        "docs/new file é.md",
        "logo.png",
        "noeol.txt",
        "old.txt",
        "run.sh",
        "win.txt",
    ]
    assert [h.number for h in real_diff.hunks] == list(range(1, 9))
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.panel.view
        lines = view_lines(view)
        text = "\n".join(lines)
        width = view.scrollable_content_region.width
        assert all(len(line) == width for line in lines)

        # File headers: path, what happened, +/- counts.
        assert any(line.startswith("── app.py · modified · +4 -1 ──") for line in lines)
        assert "── docs/new file é.md · new file · +3 -0 ─" in text
        assert "── logo.png · binary, new ─" in text
        assert "── old.txt · deleted · +0 -3 ─" in text
        assert "── run.sh · mode 100644 → 100755 ─" in text
        # Hunk headers: number, header, decision in words with a symbol.
        assert header_of(lines, 1).startswith("┃ #1 @@ -1,5 +1,5 @@")  # the cursor's hunk
        assert header_of(lines, 2).startswith("  #2 @@ -43,6 +43,9 @@")
        for n in range(1, 9):
            assert header_of(lines, n).rstrip().endswith("○ pending")
        assert "#3 @@ -0,0 +1,3 @@" in header_of(lines, 3)
        assert "#4 binary file added" in header_of(lines, 4)
        assert "#6 file deleted · 3 lines removed" in header_of(lines, 6)
        assert "#7 mode 100644 -> 100755" in header_of(lines, 7)
        # Body lines: line numbers, the +/- sign with a bar (not colour alone), context.
        # Two number columns, old then new: a removed line has only the old, an added only
        # the new.
        assert re.search(r"^┃  2 {5}▌- {5}return x \+ 0 *$", text, re.M)
        assert re.search(r"^┃ {6}2 ▌\+ {5}return x \* 2  # doubled *$", text, re.M)
        assert re.search(r"^┃  1   1    def f0\(x\): *$", text, re.M)
        assert re.search(r"^ +46 ▌\+ DOC = \"\"\"a string *$", text, re.M)
        # CRLF shown, a missing newline at the end said, the deleted file collapsed.
        assert re.search(r"^ +2 ▌\+ SECOND␍ *$", text, re.M)
        assert "\\ No newline at end of file" in text
        assert "three" not in text
        # Decisions from the diff: an approved hunk says so.
        approved = review.parse(real_diff.text, approved=[real_diff.hunks[1].fingerprint])
        app.panel.show(REF, approved)
        await pilot.pause()
        assert header_of(view_lines(view), 2).rstrip().endswith("✓ approved")
        assert app.panel.title_bar.visual is not None
        title = str(app.panel.title_bar.render())
        assert "devbox/s1 · review · 7 files +" in title and "✓1 ✗0 ○7" in title


async def test_multiline_string_highlighted_as_one_hunk(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.panel.view
        view.move_cursor(1)
        await pilot.pause()
        lines = [view.render_line(y) for y in range(view.scrollable_content_region.height)]
        inside = next(s for s in lines if "over lines: def not_code" in s.text)
        opening = next(s for s in lines if 'DOC = """a string' in s.text)
        string_colour = next(seg.style.color for seg in opening if "a string" in seg.text)
        # The whole line inside the string has the string's colour: "def" is not a keyword.
        coloured = [seg for seg in inside if "def" in seg.text]
        assert coloured and all(seg.style.color == string_colour for seg in coloured)


async def test_hostile_content_is_inert_and_cut(tmp_path: Path) -> None:
    repo = tmp_path / "hostile"
    init_repo(repo, {"notes.txt": b"calm\n"})
    evil = (
        b"calm\n"
        b"\x1b]52;c;cGF5bG9hZA==\x07clipboard\n"
        b"\x1b[2J\x1b[Hcleared \x1b[31mred\x1b[0m\n"
        b"bell\x07 nul-free \x9b31m c1 \xe2\x80\xae evil bidi\n"
        b"carriage\rreturn\n" + b"A" * 1_000_000 + b"\n"
    )
    write(repo, {"notes.txt": evil, "\x1b[31mred-name.txt": b"x\n"})
    diff = review.parse(diff_of(repo))
    app = LexLoggingApp(diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.logging_view
        width = view.scrollable_content_region.width
        lines = view_lines(view)
        text = "\n".join(lines)
        for line in lines:
            assert len(line) == width
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", line), line
        assert "clipboard" in text and "cleared red" in text
        assert "carriage␍return" in text
        long_line = next(line for line in lines if "AAAA" in line)
        assert long_line.rstrip().endswith("›")  # cut to the width, and says so
        assert "── red-name.txt · new file" in text  # the path, its escape sequence gone
        # The 1 MB line was cut before lexing.
        assert view.lexed_lines < 50
        assert 0 < view.longest_lexed <= max(RAW_LIMIT, 4 * width)
        files = app.panel.files
        assert all("\x1b" not in row.path for row in files.rows)


async def test_narrow_panel_keeps_every_line_to_the_width(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        for width in (60, 41, 30):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            view = app.panel.view
            room = view.scrollable_content_region.width
            lines = view_lines(view)
            assert lines and all(len(line) == room for line in lines), width
            assert any("#2 " in line for line in lines)
            await pilot.press("tab")
            await pilot.pause()
            files = app.panel.files
            room = files.scrollable_content_region.width
            rows = [files.render_line(y) for y in range(len(files.rows))]
            assert all(row.cell_length == room for row in rows), width
            assert "app.py" in rows[0].text
            await pilot.press("tab")


# --------------------------------------------------------------------------- the cursor


async def test_n_and_p_move_the_cursor_across_files(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=(160, 12)) as pilot:
        await pilot.pause()
        panel = app.panel
        assert panel.current_hunk is not None and panel.current_hunk.number == 1
        seen = []
        for _ in range(9):
            await pilot.press("n")
            assert panel.current_hunk is not None
            seen.append((panel.current_hunk.number, panel.current_hunk.path))
            assert panel.view.on_screen(panel.view.cursor or 0)  # scrolled into view
        assert [n for n, _ in seen] == [2, 3, 4, 5, 6, 7, 8, 8, 8]
        assert seen[1][1] == "docs/new file é.md" and seen[6][1] == "win.txt"
        await pilot.press("p", "p")
        assert panel.current_hunk.number == 6
        lines = screen_lines(panel.view)
        assert header_of(lines, 6).startswith("┃ #6 ")  # the cursor's bar
        assert all(not line.startswith("┃") for line in lines if "#7 " in line)
        await pilot.pause()
        assert "hunk 6/8" in str(panel.title_bar.render())


async def test_show_keeps_the_cursor_on_the_same_hunk(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    init_repo(repo, {"a.py": APP_BASE})
    lines = APP_BASE.decode().split("\n")
    for i in (1, 16, 31, 46):
        lines[i] = f"    return x - {i}"
    write(repo, {"a.py": "\n".join(lines).encode()})
    first = review.parse(diff_of(repo))
    assert len(first.hunks) == 4
    app = PanelApp(first)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        await pilot.press("n", "n")
        assert panel.current_hunk is not None and panel.current_hunk.number == 3
        # Re-shown as is: same hunk.
        panel.show(REF, review.parse(first.text))
        assert panel.current_hunk is not None and panel.current_hunk.number == 3
        # Hunk 1 went (rejected, say): the cursor follows its hunk, now number 2.
        kept = first.hunks[2].fingerprint
        lines[1] = "    return x + 0"
        write(repo, {"a.py": "\n".join(lines).encode()})
        panel.show(REF, review.parse(diff_of(repo)))
        assert panel.current_hunk is not None
        assert (panel.current_hunk.number, panel.current_hunk.fingerprint) == (2, kept)
        # Its own hunk went: the same number, now the next hunk.
        lines[31] = "    return x + 10"
        write(repo, {"a.py": "\n".join(lines).encode()})
        panel.show(REF, review.parse(diff_of(repo)))
        assert panel.current_hunk is not None and panel.current_hunk.number == 2
        assert panel.current_hunk.old_start > 40
        # Another session: the first hunk.
        panel.show("devbox/other", first)
        assert panel.current_hunk is not None and panel.current_hunk.number == 1


async def test_clear_shows_a_message(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        panel.clear("loading…")
        await pilot.pause()
        assert panel.current_hunk is None and panel.diff is None
        assert screen_lines(panel.view)[1].strip() == "loading…"
        assert panel.files.rows == []
        await pilot.press("n", "a")
        assert app.decisions == []
        panel.show(REF, review.parse(""))
        await pilot.pause()
        assert screen_lines(panel.view)[1].strip() == "nothing new to review"


# --------------------------------------------------------------------------- decisions


async def test_keys_post_decisions_with_hunk_and_fingerprint(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        fp = real_diff.fingerprint
        await pilot.press("n", "a")  # approve hunk 2: marked at once, the cursor moves on
        await pilot.pause()
        d = app.decisions[-1]
        assert (d.action, d.hunk, d.fingerprint, d.session_ref) == (
            "approve",
            real_diff.hunks[1],
            fp,
            REF,
        )
        assert d.control is panel
        assert panel.current_hunk is not None and panel.current_hunk.number == 3
        assert header_of(view_lines(panel.view), 2).rstrip().endswith("✓ approved")
        await pilot.press("p", "a")  # already approved: said, not sent
        await pilot.pause()
        assert len(app.decisions) == 1

        await pilot.press("n", "x")  # reject hunk 3: asks for a note
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"too risky")
        await pilot.press("enter")
        await pilot.pause()
        d = app.decisions[-1]
        assert (d.action, d.hunk, d.fingerprint, d.text) == (
            "reject",
            real_diff.hunks[2],
            fp,
            "too risky",
        )
        assert header_of(view_lines(panel.view), 3).rstrip().endswith("✗ rejected")
        assert panel.current_hunk is not None and panel.current_hunk.number == 4

        await pilot.press("x", "escape")  # cancelled: nothing sent, nothing marked
        await pilot.pause()
        assert len(app.decisions) == 2 and not isinstance(app.screen, PromptScreen)
        assert header_of(view_lines(panel.view), 4).rstrip().endswith("○ pending")

        await pilot.press("A")  # approve all: asks for a commit message (empty allowed)
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        await pilot.pause()
        d = app.decisions[-1]
        assert (d.action, d.hunk, d.fingerprint, d.text) == ("approve-all", None, fp, "")
        lines = view_lines(panel.view)
        assert header_of(lines, 3).rstrip().endswith("✗ rejected")
        assert all(header_of(lines, n).rstrip().endswith("✓ approved") for n in (1, 4, 8))

        await pilot.press("u")
        await pilot.pause()
        d = app.decisions[-1]
        assert (d.action, d.hunk, d.fingerprint) == ("undo", None, fp)

        await pilot.press("escape")
        await pilot.pause()
        assert app.closed == 1
        # A fresh diff is the truth: local marks go.
        panel.show(REF, review.parse(real_diff.text))
        assert header_of(view_lines(panel.view), 3).rstrip().endswith("○ pending")


async def test_commit_message_is_passed_up(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await pilot.pause()
        app.screen.query_one(Input).value = "Land the doubling"
        await pilot.press("enter")
        await pilot.pause()
        assert [(d.action, d.text) for d in app.decisions] == [("approve-all", "Land the doubling")]


async def test_since_review_is_read_only(real_diff: review.Diff) -> None:
    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        app.panel.show(REF, dataclasses.replace(real_diff, view="since"))
        await pilot.pause()
        await pilot.press("a", "x", "A")
        await pilot.pause()
        assert app.decisions == [] and not isinstance(app.screen, PromptScreen)
        assert "since the last decision (none yet), read-only" in str(app.panel.title_bar.render())
        await pilot.press("u")
        await pilot.pause()
        assert [(d.action, d.mode) for d in app.decisions] == [("undo", "since")]


async def test_mark_updates_the_shown_decision(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        panel.mark(2, "rejected")
        await pilot.pause()
        assert header_of(view_lines(panel.view), 2).rstrip().endswith("✗ rejected")
        assert panel.files.rows[0].counts == (1, 0, 1)
        panel.mark(2, "approved")
        assert header_of(view_lines(panel.view), 2).rstrip().endswith("✓ approved")
        panel.mark(2, "pending")
        assert header_of(view_lines(panel.view), 2).rstrip().endswith("○ pending")
        panel.mark(99, "approved")  # not in the diff: nothing happens


# --------------------------------------------------------------------------- the file list


async def test_tab_toggles_the_file_list(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.panel
        files = panel.files
        assert not files.display or not panel.files_shown
        await pilot.press("tab")
        await pilot.pause()
        assert panel.files_shown and isinstance(app.focused, FileList) and not panel.view.display
        rows = [files.render_line(y).text for y in range(len(real_diff.files))]
        assert rows[0].startswith("▶ mod  app.py") and "+4 -1  ○2" in rows[0]
        assert rows[1].startswith("  new  docs/new file é.md")
        assert rows[2].startswith("  bin  logo.png") and "+" not in rows[2]
        assert rows[4].startswith("  del  old.txt")
        assert rows[5].startswith("  mode run.sh")
        # The +N -N columns line up down the list: the signs in the same cells on every row.
        numbered = [r for r in rows if re.search(r"\+\d+ +-\d+", r)]
        assert len(numbered) >= 4
        assert len({r.rindex("+") for r in numbered}) == 1
        assert len({r.rindex("-") for r in numbered}) == 1
        await pilot.press("a")  # no deciding on hunks you cannot see
        await pilot.pause()
        assert app.decisions == []
        await pilot.press("down", "down", "enter")  # logo.png: its hunk, back to the hunks
        await pilot.pause()
        assert not panel.files_shown and app.focused is panel.view
        assert panel.current_hunk is not None and panel.current_hunk.number == 4
        await pilot.press("tab")
        await pilot.pause()
        assert files.cursor == 2
        await pilot.press("tab")
        await pilot.pause()
        assert not panel.files_shown and app.focused is panel.view


async def test_theme_change_restyles(real_diff: review.Diff) -> None:
    app = PanelApp(real_diff)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.panel.view
        dark = view.render_line(3)
        app.theme = "fleet-light"
        await pilot.pause()
        light = view.render_line(3)
        assert dark.text == light.text
        assert [s.style for s in dark] != [s.style for s in light]


# --------------------------------------------------------------------------- snapshot


def test_diff_panel_snapshot(snap_compare: object, tmp_path: Path) -> None:
    diff = make_real_diff(tmp_path)

    async def before(pilot: Pilot[None]) -> None:
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(PanelApp(diff), terminal_size=(100, 40), run_before=before)  # type: ignore[operator]
