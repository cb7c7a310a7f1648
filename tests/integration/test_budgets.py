"""Budgets, for real: a fake Claude Code on a loopback host writes its transcript in the real
format (tests/fixtures/usage) as it works, one request per step; `fleet watch` mirrors it and
measures the session against `[budgets] session`. At 80 % the budget-warning hook runs; at
100 % the agent gets its profile's interrupt key (the host's agent writes down that it did),
the budget-exceeded hook runs, and `fleet send` refuses until told --over-budget. A restart of
`fleet watch` fires nothing again, though the session spends on."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from fleet.core.config import load_config
from fleet.presentation import HELD
from fleet.ui.app import FleetApp
from fleet.ui.model import Card
from fleet.ui.screens.confirm import ConfirmScreen
from fleet.ui.screens.steer import SteerScreen
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.fleetrun import FleetCLI, pilot_until, wait_for
from tests.integration.hosts import LoopbackFleet

FIXTURE = Path(__file__).parent.parent / "fixtures" / "usage" / "claude-transcript.jsonl"
STEP_TOKENS = 4202  # one request of the fixture: input, output, cache write and read
LIMIT = 10_000  # two steps: 84 % (a warning); three: 126 % (exceeded)

# "two": a turn of two requests, then the prompt. Any other line: requests until interrupted.
# Each request appends the fixture (its ids and times its own) where Claude Code writes.
FAKE_CLAUDE = textwrap.dedent(
    """\
    import os, re, signal, sys, time
    fixture = open(sys.argv[1]).read()
    cwd = os.getcwd()
    folder = os.path.expanduser("~/.claude/projects/" + re.sub("[^A-Za-z0-9]", "-", cwd))
    os.makedirs(folder, exist_ok=True)
    marks = os.path.expanduser("~/interrupts-%s.log" % os.environ.get("FLEET_SESSION"))
    state = {"interrupted": False}
    def interrupted(*_):
        state["interrupted"] = True
        with open(marks, "a") as f:
            f.write("interrupt\\n")
    signal.signal(signal.SIGINT, interrupted)
    step = 0
    while True:
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        state["interrupted"] = False
        steps = 2 if line.strip() == "two" else 40
        for _ in range(steps):
            if state["interrupted"]:
                break
            step += 1
            text = fixture.replace("/WORKTREE", cwd).replace("msg_01", "msg_%03d" % step)
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            text = re.sub('"timestamp":"[^"]*"', '"timestamp":"%s.000Z"' % now, text)
            with open(os.path.join(folder, "3f1c2a9e.jsonl"), "a") as f:
                f.write(text)
            for tick in range(10):  # working: the screen moves while the request "runs"
                if state["interrupted"]:
                    break
                print("step %d %s" % (step, "." * tick), flush=True)
                time.sleep(0.3)
        print("interrupted" if state["interrupted"] else "turn over", flush=True)
    """
)


def budget_fleet(lf: LoopbackFleet) -> tuple[FleetCLI, Path]:
    agents = lf.dir / "agents"
    agents.mkdir(exist_ok=True)
    agent = agents / "budgetclaude.py"
    agent.write_text(FAKE_CLAUDE)
    agent.chmod(0o644)
    fixture = agents / "claude-transcript.jsonl"
    fixture.write_text(FIXTURE.read_text())
    fixture.chmod(0o644)
    hooks = lf.dir / "budget-hooks"
    hooks.mkdir(exist_ok=True)
    toml = f"""
    [agents.claude]
    command = "python3 {agent} {fixture}"
    idle = ['^> ?\\\\Z']
    waiting = []
    working = []
    idle_after = 2.0
    enter_delay = 0.05
    interrupt = ["C-c"]

    [budgets]
    session = {{ limit = {LIMIT}, action = "pause" }}

    [hooks]
    budget-warning = "cat >> {hooks}/warning.jsonl"
    budget-exceeded = "cat >> {hooks}/exceeded.jsonl"
    """
    return FleetCLI(lf, textwrap.dedent(toml)), hooks


def fired(hooks: Path, level: str) -> list[dict[str, Any]]:
    path = hooks / f"{level}.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def total(fleet: FleetCLI) -> int:
    return int(fleet.ok("usage", "--json").json()["total"]["total"])


def start_watch(fleet: FleetCLI, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_watch(watch: subprocess.Popen[bytes]) -> None:
    watch.send_signal(signal.SIGINT)  # it closes as a person's ^C does: hooks drained first
    watch.wait(timeout=30)


def test_a_session_over_its_budget_is_paused_and_the_hook_fires_once(
    fresh_hosts: LoopbackFleet,
) -> None:
    fleet, hooks = budget_fleet(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "claude", "--name", "spender")
    sid = fleet.wait_status("alpha/spender", "idle")["id"]
    host = fresh_hosts["alpha"]
    interrupts = host.home / f"interrupts-{sid}.log"
    log = fresh_hosts.dir / "budget-watch.log"
    watch = start_watch(fleet, log)
    try:
        fleet.ok("send", "alpha/spender", "two")
        wait_for(lambda: fired(hooks, "warning"), 90, 0.3, "the budget-warning hook")
        [warning] = fired(hooks, "warning")
        assert warning["session"] == sid and warning["detail"]["spent"] == 2 * STEP_TOKENS
        assert not interrupts.exists()  # a warning pauses nothing
        fleet.wait_status("alpha/spender", "idle")

        fleet.ok("send", "alpha/spender", "go on")  # under the limit still: sent
        wait_for(interrupts.exists, 90, 0.3, "the agent's interrupt key on the host")
        assert interrupts.read_text() == "interrupt\n"  # once: the profile's key, C-c
        wait_for(lambda: fired(hooks, "exceeded"), 20, 0.3, "the budget-exceeded hook")
        [exceeded] = fired(hooks, "exceeded")
        assert exceeded["detail"]["paused"] == ["alpha/spender"]
        assert exceeded["detail"]["spent"] >= LIMIT
        fleet.wait_status("alpha/spender", "idle")
    finally:
        stop_watch(watch)
    said = log.read_text()
    assert "alpha/spender went past its session budget" in said, said
    assert "paused alpha/spender" in said

    # Held: sending needs the person's word, once for this budget.
    refused = fleet("send", "alpha/spender", "more")
    assert refused.code == 2 and "--over-budget" in refused.err, refused.err
    assert "its session budget (10,000 tokens)" in refused.err

    # A restart: the same store, the session spends on; nothing fires again.
    watch = start_watch(fleet, log)
    try:
        spent = total(fleet)
        fleet.ok("send", "alpha/spender", "more", "--over-budget")
        fleet.ok("send", "alpha/spender", "again")  # asked once: this goes without the flag
        wait_for(lambda: total(fleet) >= spent + 2 * STEP_TOKENS, 40, 0.3, "more requests")
    finally:
        stop_watch(watch)
    assert len(fired(hooks, "warning")) == 1 and len(fired(hooks, "exceeded")) == 1
    assert interrupts.read_text() == "interrupt\n"
    kinds = [e["kind"] for e in fleet.ok("log", "alpha/spender", "--json").json()]
    for kind in ("budget-warning", "budget-exceeded", "budget-pause", "budget-allowed"):
        assert kinds.count(kind) == 1, (kind, kinds)


def sends(fleet: FleetCLI) -> list[str]:
    entries = fleet.ok("log", "alpha/spender", "--json").json()
    return [e["detail"]["text"] for e in entries if e["kind"] == "send"]


async def test_the_tui_pauses_says_why_and_asks_once_before_going_on(
    fresh_hosts: LoopbackFleet,
) -> None:
    """The loop a person runs: the TUI follows, the budget pauses the agent and the card says
    so; m sends only after the dialog's yes, and the next m asks nothing."""
    fleet, _ = budget_fleet(fresh_hosts)
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "claude", "--name", "spender"
    )
    await asyncio.to_thread(fleet.wait_status, "alpha/spender", "idle")
    app = FleetApp(load_config(fleet.config))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot_until(pilot, lambda: card(app) is not None, "the card")
        await asyncio.to_thread(fleet.ok, "send", "alpha/spender", "go")
        await pilot_until(pilot, lambda: card(app).held == HELD, "the card saying why", 60)
        sid = card(app).id
        assert (fresh_hosts["alpha"].home / f"interrupts-{sid}.log").read_text() == "interrupt\n"
        await pilot_until(pilot, lambda: card(app).session.status.value == "idle", "idle")
        assert app.query_one(SessionGrid).select(card(app).key)

        async def steer(text: str) -> None:
            await pilot.press("m")
            await pilot_until(pilot, lambda: isinstance(app.screen, SteerScreen), "the box")
            for ch in text:
                await pilot.press(ch)
            await pilot.press("enter")

        await steer("more")
        await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert await asyncio.to_thread(sends, fleet) == ["go"]  # nothing typed before the yes
        await pilot.press("y")
        await pilot_until(pilot, lambda: card(app).held == "", "the card cleared")
        await pilot_until(
            pilot, lambda: sends(fleet) == ["go", "more"], "the message after the yes"
        )
        await pilot_until(pilot, lambda: not isinstance(app.screen, SteerScreen), "box closed")
        await steer("again")  # the same budget: not asked again
        await pilot_until(pilot, lambda: sends(fleet) == ["go", "more", "again"], "sent at once")
        assert not isinstance(app.screen, ConfirmScreen)


def card(app: FleetApp) -> Card | None:
    return next((c for c in app.model.cards.values() if c.session.ref == "alpha/spender"), None)
