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
from tests.realagents import test_aider, test_claude, test_codex, test_gemini, test_opencode
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


def reached(model: FakeModel, prompt: str) -> None:
    """The turn began at the model (else a turn that never started would match nothing)."""
    settle(lambda: prompt in model.prompts(), 90, f"{prompt!r} at the model:\n{model.transcript()}")


Matches = Callable[[dict[str, Any], dict[str, int]], bool]


def exactly(row: dict[str, Any], want: dict[str, int]) -> bool:
    return seen(row) == want


def turns_counted_once(
    fleet: FleetCLI,
    run: AgentRun,
    model: FakeModel,
    hosts: LoopbackFleet,
    counted: Callable[[Handed], bool],
    matches: Matches = exactly,
) -> None:
    """Two turns (a cut connection and a restarted follower between them): each time the
    session's usage is what the model handed out for the requests the agent records."""
    log = hosts.dir / "usage-watch.log"
    want = lambda: expected([h for h in model.handed() if counted(h)])  # noqa: E731
    ok = lambda: matches(spent(fleet, run.ref), want())  # noqa: E731
    watch = follow(fleet, log)
    try:
        model.script(finish("First turn done."))
        run.send("first turn please")
        reached(model, "first turn please")
        run.wait("idle", timeout=90)
        settle(ok, 60, f"the first turn: {want()}, seen {spent(fleet, run.ref)}")
    finally:
        stop(watch)
    hosts.stop_host("alpha")
    hosts.start_host("alpha")
    watch = follow(fleet, log)
    try:
        model.script(finish("Second turn done."))
        run.send("and a second one")
        reached(model, "and a second one")
        run.wait("idle", timeout=90)
        settle(ok, 60, f"both turns: {want()}, seen {spent(fleet, run.ref)}")
    finally:
        stop(watch)
    assert ok(), (want(), spent(fleet, run.ref))
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


def test_opencode_usage_matches_the_model(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """OpenCode records each step of a turn in its database; its title request is not
    recorded, so not counted."""
    fleet = test_opencode._fleet(hosts, model, agent_cli("opencode"), seed)
    run = start(fleet, "opencode", test_opencode.NAME)
    run.wait("idle", timeout=90)
    turns_counted_once(fleet, run, model, hosts, lambda h: h.api == "chat" and not h.helper)


def within_aiders_rounding(row: dict[str, Any], want: dict[str, int]) -> bool:
    """Aider prints what it sent (the cached part included) and received per message, as
    "1.3k": each figure of 1,000 to 9,999 within 50 of the truth, below 1,000 exact."""
    if not row.get("approximate") or int(row.get("requests", 0)) != want["requests"]:
        return False
    sent = int(row["input"]) + int(row["cache_read"])
    slack = 50 * want["requests"]
    return (
        abs(sent - (want["input"] + want["cache_read"])) <= slack
        and int(row["output"]) == want["output"]
    )


def test_aider_usage_matches_the_model_within_its_rounding(
    hosts: LoopbackFleet,
    model: FakeModel,
    agent_cli: Callable[[str], Path],
    seed: Callable[..., Path],
) -> None:
    """Aider's chat history says per message "Tokens: 1.3k sent, 22 received.": the server's
    figures when aider does not stream (streaming, it counts with its own tokenizer, README
    says so), rounded: `fleet usage` marks them approximate."""
    fleet = test_aider._fleet(hosts, model, agent_cli("aider"), seed)
    conf = hosts["alpha"].home / ".aider.conf.yml"
    seed(".aider.conf.yml", conf.read_text() + "stream: false\n")
    run = start(fleet, "aider", test_aider.NAME)
    run.wait("idle", timeout=90)
    counted = lambda h: h.api == "chat" and not h.helper  # noqa: E731
    turns_counted_once(fleet, run, model, hosts, counted, within_aiders_rounding)
