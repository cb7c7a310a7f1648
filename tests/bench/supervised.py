"""The supervisor under test, in its own process: the real FleetApp, headless, instrumented.

`python -m tests.bench.supervised --t0 EPOCH --expect N` (FLEET_CONFIG / FLEET_HOME in the
environment) runs the same app a person runs (its Supervisor, SSH links, watch streams, store
and grid) under `App.run_test`, so the parent can read this process's CPU and memory from
/proc without the hosts or the baseline in them. It reports on stdout (JSON lines) and takes
commands on stdin; see `Probe.command`.

What it measures inside:
- frames: the end of every compositor refresh (when a repaint is complete);
- first paint: the first frame that shows the grid with all N cards (t0 = before exec);
- status latency: screens carry `tick n=N t=EPOCH` markers written on the host at the moment
  of the change; the model's `set_screen` (host -> model) and the grid's card drawing
  (host -> painted card, at the end of that frame) each record now - t for every new marker;
- keystrokes: a key event through the driver -> the end of the first frame begun after the
  cursor moved;
- diff open: the open-diff key -> the end of the first frame begun after the panel got it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.screen import Screen
from textual.widgets import Input

from fleet.core import review
from fleet.core.config import load_config
from fleet.ui.app import FleetApp
from fleet.ui.diff import DiffPanel
from fleet.ui.model import Card
from fleet.ui.screens.steer import SteerScreen
from fleet.ui.widgets.card import TAIL_SHOWN
from fleet.ui.widgets.grid import SessionGrid

MARKER = re.compile(r"tick n=(\d+) t=(\d+\.\d+)")
SIZE = (200, 50)

_frames: list[tuple[float, float]] = []  # (start, end) in time.time()
_frame_hooks: list[Callable[[float, float], None]] = []


def _install_frame_recorder() -> None:
    original = Screen._compositor_refresh

    def recorded(self: Screen[Any]) -> None:
        start = time.time()
        original(self)
        end = time.time()
        _frames.append((start, end))
        for hook in list(_frame_hooks):
            hook(start, end)

    Screen._compositor_refresh = recorded  # type: ignore[method-assign]


def say(**data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


class Probe:
    def __init__(self, app: FleetApp, t0: float, expect: int) -> None:
        self.app = app
        self.t0 = t0
        self.expect = expect
        self.painted: float | None = None
        self.recording = False
        self.since = 0.0  # when recording began
        self.model_lat: list[float] = []
        self.render_lat: list[float] = []
        self._model_n: dict[tuple[str, str], int] = {}
        self._drawn_n: dict[tuple[str, str], int] = {}
        self._drawn_pending: list[float] = []
        # A status's time per stage (see _arrived_screen), in seconds, while recording.
        self.stages: dict[str, list[float]] = {"host": [], "wire": [], "supervisor": []}
        self._arrived: dict[tuple[str, int], float] = {}
        self._arrived_n: dict[str, int] = {}
        self._hooked = False
        self.sends: list[tuple[float, float]] = []  # (call began, call returned) per steer
        self.handed: list[float] = []  # when the steering box handed its text to the app
        self.needs_input: dict[tuple[str, str], list[float]] = {}  # when each card became it
        _frame_hooks.append(self._on_frame)

    # -- hooks ------------------------------------------------------------------------------

    def _grid(self) -> SessionGrid | None:
        try:
            return self.app.query_one(SessionGrid)
        except Exception:
            return None

    def _on_frame(self, start: float, end: float) -> None:
        if self._drawn_pending:
            self.render_lat += [end - t for t in self._drawn_pending]
            self._drawn_pending.clear()
        if self.painted is None:
            grid = self._grid()
            if grid is not None and grid.display and len(grid._order) >= self.expect:
                self.painted = end
                say(event="painted", ms=round((end - self.t0) * 1000, 1), cards=len(grid._order))
        if not self._hooked:
            self._hook()

    def _hook(self) -> None:
        grid = self._grid()
        if grid is None:
            return
        self._hooked = True
        model = self.app.model
        set_screen = model.set_screen

        def timed_set_screen(host: str, id: str, text: str) -> bool:
            changed = set_screen(host, id, text)
            if self.recording:
                now = time.time()
                last = self._model_n.get((host, id), 0)
                top = last
                for n_s, t_s in MARKER.findall(text):
                    n = int(n_s)
                    if n > last and float(t_s) >= self.since:
                        self.model_lat.append(now - float(t_s))
                        top = max(top, n)
                        arrived = self._arrived.pop((id, n), None)
                        if arrived is not None:
                            self.stages["supervisor"].append(now - arrived)
                self._model_n[(host, id)] = top
            return changed

        model.set_screen = timed_set_screen  # type: ignore[method-assign]
        from fleet.core.remote import client  # after the first paint, as the app loads it

        decode = client.decode_line

        def timed_decode(line: bytes) -> dict[str, Any] | None:
            event = decode(line)
            if self.recording and event is not None and event.get("type") == "screen":
                self._arrived_screen(event, time.time())
            return event

        client.decode_line = timed_decode  # type: ignore[assignment]
        apply = model.apply

        shown: dict[tuple[str, str], str] = {}  # each card's status as last applied

        def timed_apply(event: Any) -> set[tuple[str, str]]:
            # Only the cards the event touched: a snapshot of all 10,000 per event made the
            # probe itself quadratic and starved the supervisor's loop at the scale tier.
            touched = apply(event)
            now = time.time()
            for key in touched:
                card = model.cards.get(key)
                status = card.shown_status if card else ""
                if status == "needs-input" != shown.get(key):
                    self.needs_input.setdefault(key, []).append(now)
                shown[key] = status
            return touched

        model.apply = timed_apply  # type: ignore[method-assign]
        draw = grid._draw_card

        def timed_draw(card: Card, signature: tuple[object, ...], styles: Any) -> Any:
            if self.recording:
                last = self._drawn_n.get(card.key, 0)
                top = last
                for line in card.tail[-TAIL_SHOWN:]:
                    for n_s, t_s in MARKER.findall(line):
                        n = int(n_s)
                        if n > last and float(t_s) >= self.since:
                            self._drawn_pending.append(float(t_s))
                            top = max(top, n)
                self._drawn_n[card.key] = top
            return draw(card, signature, styles)

        grid._draw_card = timed_draw  # type: ignore[method-assign]

    def _arrived_screen(self, event: dict[str, Any], now: float) -> None:
        """Where a marker's time went before the model: printed -> captured on the host
        (the event's `t`) -> decoded here; the model's hook adds decoded -> model."""
        sid, text, captured = event.get("session"), event.get("text"), event.get("t")
        if not isinstance(sid, str) or not isinstance(text, str):
            return
        last = self._arrived_n.get(sid, 0)
        top = last
        for n_s, t_s in MARKER.findall(text):
            n = int(n_s)
            if n > last and float(t_s) >= self.since:
                top = max(top, n)
                self._arrived[(sid, n)] = now
                if isinstance(captured, (int, float)):
                    self.stages["host"].append(captured - float(t_s))
                    self.stages["wire"].append(now - captured)
        self._arrived_n[sid] = top

    async def frame_after(self, t: float, timeout: float = 30.0) -> float:
        """The end of the first frame that began at or after t."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for start, end in _frames[-200:]:
                if start >= t:
                    return end
            await asyncio.sleep(0.001)
        return float("nan")

    # -- commands -----------------------------------------------------------------------------

    def connected(self) -> dict[str, Any]:
        model = self.app.model
        hosts = model.hosts.values()
        up = sum(1 for h in hosts if h.state == "connected")
        # Live: its host answered and its status is current. Screens come for the cards the
        # person may see (SessionGrid.Shown); `screens` counts the cards that have one.
        live = sum(1 for c in model.cards.values() if not c.cached)
        screens = sum(1 for c in model.cards.values() if not c.cached and c.tail)
        grid = self._grid()
        return {
            "hosts_up": up,
            "hosts": len(model.hosts),
            "cards": len(model.cards),
            "live": live,
            "screens": screens,
            "laid_out": len(grid._pos) if grid is not None else 0,
            "grid_size": str(grid.size) if grid is not None else "",
        }

    async def keys(self, n: int) -> dict[str, Any]:
        grid = self._grid()
        driver = self.app._driver
        assert grid is not None and driver is not None
        moved_at: list[float] = []
        move = grid._move_cursor

        def timed_move(*args: Any, **kw: Any) -> None:
            moved_at.append(time.time())
            move(*args, **kw)

        grid._move_cursor = timed_move  # type: ignore[method-assign]
        lat: list[float] = []
        try:
            for i in range(n):
                await asyncio.sleep(0.03 + 0.02 * (i % 3))
                name = "down" if i % 2 == 0 else "up"
                moved_at.clear()
                sent = time.time()
                key = events.Key(name, None)
                key.set_sender(self.app)
                driver.send_message(key)
                while not moved_at and time.time() - sent < 30:
                    await asyncio.sleep(0.0005)
                if moved_at:
                    end = await self.frame_after(moved_at[0])
                    lat.append(end - sent)
        finally:
            grid._move_cursor = move  # type: ignore[method-assign]
        return {"keys_ms": [round(x * 1000, 2) for x in lat]}

    async def open_diff(self) -> dict[str, Any]:
        panel = self.app.query_one(DiffPanel)
        grid = self._grid()
        driver = self.app._driver
        assert grid is not None and driver is not None
        grid.focus()
        shown_at: list[float] = []
        show = panel.show

        def timed_show(*args: Any, **kw: Any) -> None:
            show(*args, **kw)
            shown_at.append(time.time())

        panel.show = timed_show  # type: ignore[method-assign]
        parsed: list[tuple[float, float]] = []
        parse = review.parse

        def timed_parse(*args: Any, **kw: Any) -> Any:
            began = time.time()
            try:
                return parse(*args, **kw)
            finally:
                parsed.append((began, time.time()))

        review.parse = timed_parse  # type: ignore[assignment]
        try:
            await asyncio.sleep(0.05)
            sent = time.time()
            key = events.Key("d", "d")
            key.set_sender(self.app)
            driver.send_message(key)
            while not shown_at and time.time() - sent < 120:
                await asyncio.sleep(0.001)
            end = await self.frame_after(shown_at[0]) if shown_at else float("nan")
        finally:
            panel.show = show  # type: ignore[method-assign]
            review.parse = parse  # type: ignore[assignment]
        lines = panel.view.virtual_size.height if hasattr(panel, "view") else 0
        self.app.query_one("#body").remove_class("-review")
        grid.focus()
        await asyncio.sleep(0.1)
        return {
            "diff_ms": round((end - sent) * 1000, 1),
            "fetched_ms": round((shown_at[0] - sent) * 1000, 1) if shown_at else None,
            "parse_began_ms": round((parsed[0][0] - sent) * 1000, 1) if parsed else None,
            "parse_ms": round((parsed[0][1] - parsed[0][0]) * 1000, 1) if parsed else None,
            "rows": lines,
        }

    async def steer(self, ref: str, text: str) -> dict[str, Any]:
        host, _, sid = ref.partition("/")
        grid = self._grid()
        driver = self.app._driver
        assert grid is not None and driver is not None
        if not grid.select((host, sid)):
            return {
                "error": f"no card {ref}",
                "cards": len(grid._pos),
                "screen": str(self.app.screen),
                "filter": self.app.model.filter_text,
                "focused": str(self.app.focused),
            }
        self.app.action_message()
        deadline = time.time() + 30
        box: Input | None = None
        while time.time() < deadline:
            screen = self.app.screen
            if isinstance(screen, SteerScreen):
                found = screen.query("#steer-text")
                box = found.first(Input) if found else None
                if box is not None and box.has_focus:
                    break
            await asyncio.sleep(0.005)
        if box is None or not box.has_focus:
            return {"error": "the steering box did not open"}
        self._time_sends()
        box.value = text
        await asyncio.sleep(0.05)
        sent = time.time()
        key = events.Key("enter", "\r")
        key.set_sender(self.app)
        driver.send_message(key)
        return {
            "enter_at": sent,
            "filter": self.app.model.filter_text,
            "focused": str(self.app.focused),
        }

    def _time_sends(self) -> None:
        """Record when the app's Supervisor.send began and returned (the steer's breakdown)."""
        sup = self.app.sup
        if sup is None or getattr(sup, "_bench_timed", False):
            return
        send = sup.send

        async def timed(*args: Any, **kw: Any) -> Any:
            began = time.time()
            try:
                return await send(*args, **kw)
            finally:
                self.sends.append((began, time.time()))

        sup.send = timed  # type: ignore[method-assign]
        sup._bench_timed = True  # type: ignore[attr-defined]
        # The steering box hands its text to the sessions controller, which starts the send.
        sessions = self.app.sessions
        start_worker = sessions.send_message_to

        def handed_over(*args: Any, **kw: Any) -> Any:
            self.handed.append(time.time())
            return start_worker(*args, **kw)

        sessions.send_message_to = handed_over  # type: ignore[method-assign]

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any] | None:
        op = cmd.get("op")
        if op == "status":
            return self.connected()
        if op == "record":
            self.recording = bool(cmd.get("on"))
            if self.recording:
                # Markers printed before this are not counted: still on screen, the first
                # screen recorded would count them as just arrived (a second late).
                self.since = time.time()
                self.model_lat.clear()
                self.render_lat.clear()
                self._drawn_pending.clear()
                self._arrived.clear()
                for times in self.stages.values():
                    times.clear()
            return {"recording": self.recording}
        if op == "latency":
            return {
                "model_ms": [round(x * 1000, 1) for x in self.model_lat],
                "render_ms": [round(x * 1000, 1) for x in self.render_lat],
                "stages_ms": {k: [round(x * 1000, 1) for x in v] for k, v in self.stages.items()},
            }
        if op == "keys":
            return await self.keys(int(cmd.get("n", 50)))
        if op == "diff":
            return await self.open_diff()
        if op == "steer":
            return await self.steer(str(cmd["ref"]), str(cmd["text"]))
        if op == "sends":
            return {"sends": [list(x) for x in self.sends], "handed": self.handed}
        if op == "needs_input":  # the first time the card became needs-input after `after`
            key = tuple(cmd["key"])
            after = float(cmd.get("after", 0.0))
            times = [t for t in self.needs_input.get(key, []) if t >= after]  # type: ignore[arg-type]
            return {"t": times[0] if times else None}
        if op == "card_status":
            card = self.app.model.cards.get(tuple(cmd["key"]))  # type: ignore[arg-type]
            return {"status": card.shown_status if card else None}
        if op == "heap":  # what the collector tracks, by type (a diagnostic, slow)
            import collections
            import gc

            kinds = collections.Counter(type(o).__name__ for o in gc.get_objects())
            return {
                "tracked": sum(kinds.values()),
                "frozen": gc.get_freeze_count(),
                "answered": len(self.app.heap._answered),
                "waiting": self.app.heap._waiting,
                "top": kinds.most_common(12),
            }
        if op == "visible":
            grid = self._grid()
            return {"keys": [list(k) for k in grid.visible_keys()] if grid else []}
        return {"error": f"unknown op {op!r}"}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--t0", type=float, required=True)
    parser.add_argument("--expect", type=int, required=True)
    args = parser.parse_args()
    _install_frame_recorder()
    app = FleetApp(load_config())
    probe = Probe(app, args.t0, args.expect)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with app.run_test(size=SIZE):
        say(event="started")
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd.get("op") == "quit":
                break
            reply = await probe.command(cmd)
            say(event="reply", op=cmd.get("op"), **(reply or {}))
    say(event="exited")


if __name__ == "__main__":
    asyncio.run(main())
