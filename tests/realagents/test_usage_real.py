"""What the real agents' own records say they spent, read by fleet, against what the scripted
model handed out (fakemodel.Handed: every response its own counts). `fleet watch` follows the
host; after real turns `fleet usage --json` per session must equal the sum over the requests
the agent records (README "What the fleet spends" says which those are per agent). A restart
of the follower and a cut connection between turns change nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet
from tests.realagents import test_claude, test_codex, test_gemini
from tests.realagents.fakemodel import FakeModel, Handed, finish
from tests.realagents.harness import AgentRun, settle, start

KEYS = ("input", "output", "cache_read", "cache_write")


def spent(fleet: FleetCLI, ref: str) -> dict[str, Any]:
    rows = fleet.ok("usage", "--json").json()["rows"]
    return next((r for r in rows if r["session"] == ref), {})


def expected(handed: list[Handed]) -> dict[str, int]:
    return {k: sum(getattr(h, k) for h in handed) for k in KEYS} | {"requests": len(handed)}


def seen(row: dict[str, Any]) -> dict[str, int]:
    return {k: int(row.get(k, 0)) for k in (*KEYS, "requests")}


def follow(fleet: FleetCLI, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(watch: subprocess.Popen[bytes]) -> None:
    watch.send_signal(signal.SIGINT)
    watch.wait(timeout=30)


def turns_counted_once(
    fleet: FleetCLI,
    run: AgentRun,
    model: FakeModel,
    hosts: LoopbackFleet,
    counted: Callable[[Handed], bool],
) -> None:
    """Two turns (a cut connection and a restarted follower between them): each time the
    session's usage is exactly what the model handed out for the requests the agent records."""
    log = hosts.dir / "usage-watch.log"
    watch = follow(fleet, log)
    try:
        model.script(finish("First turn done."))
        run.send("first turn please")
        run.wait("idle", timeout=90)
        want = lambda: expected([h for h in model.handed() if counted(h)])  # noqa: E731
        settle(lambda: seen(spent(fleet, run.ref)) == want(), 60, f"the first turn: {want()}")
    finally:
        stop(watch)
    hosts.stop_host("alpha")
    hosts.start_host("alpha")
    watch = follow(fleet, log)
    try:
        model.script(finish("Second turn done."))
        run.send("and a second one")
        run.wait("idle", timeout=90)
        settle(lambda: seen(spent(fleet, run.ref)) == want(), 60, f"both turns: {want()}")
    finally:
        stop(watch)
    assert seen(spent(fleet, run.ref)) == want()
    assert want()["requests"] >= 2


def test_claude_code_usage_matches_the_model(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = test_claude._fleet(hosts, model, agent_cli("claude"), seed)
    run = start(fleet, "claude", test_claude.NAME)
    run.wait("idle", timeout=90)
    turns_counted_once(fleet, run, model, hosts, lambda h: h.api == "anthropic" and not h.helper)


def test_codex_usage_matches_the_model(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    fleet = test_codex._fleet(hosts, model, agent_cli("codex"), seed)
    run = start(fleet, "codex", test_codex.NAME)
    run.wait("idle", timeout=90)
    turns_counted_once(fleet, run, model, hosts, lambda h: h.api == "responses" and not h.helper)


def test_gemini_cli_usage_matches_the_model(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Gemini CLI records its main requests; its router's (a flash-lite model asked which
    model to use) are not in the recording, so not counted."""
    fleet = test_gemini._fleet(hosts, model, agent_cli("gemini"), seed)
    run = start(fleet, "gemini", test_gemini.NAME)
    run.wait("idle", timeout=90)
    turns_counted_once(fleet, run, model, hosts, lambda h: h.api == "gemini" and not h.helper)
