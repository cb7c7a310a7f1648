"""What the fleet spends, for real: a fake Claude Code writes its transcript (the real format,
tests/fixtures/usage) where Claude Code would for its worktree; the host's helper reads it,
`fleet watch` mirrors it into the store, and `fleet usage --json` / `fleet ls --json` show the
tokens and the cost. A connection cut and a second mirror count nothing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet

FIXTURE = Path(__file__).parent.parent / "fixtures" / "usage" / "claude-transcript.jsonl"

# On each line typed, one turn: the fixture's records (ids and times made the turn's own)
# appended to ~/.claude/projects/<its cwd, non-alphanumerics as '-'>/<session>.jsonl.
FAKE_CLAUDE = textwrap.dedent(
    """\
    import os, re, sys, time
    fixture = open(sys.argv[1]).read()
    cwd = os.getcwd()
    folder = os.path.expanduser("~/.claude/projects/" + re.sub("[^A-Za-z0-9]", "-", cwd))
    os.makedirs(folder, exist_ok=True)
    turn = 0
    while True:
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        turn += 1
        text = fixture.replace("/WORKTREE", cwd).replace("msg_01", "msg_%02d" % turn)
        now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        text = re.sub('"timestamp":"[^"]*"', '"timestamp":"%s.000Z"' % now, text)
        with open(os.path.join(folder, "3f1c2a9e.jsonl"), "a") as f:
            f.write(text)
        print("turn %d done" % turn, flush=True)
    """
)
TURN_TOKENS = 150 + 52 + 2000 + 2000  # input, output, cache write, cache read of one turn
TURN_COST = (150 * 3.0 + 52 * 15.0 + 2000 * 3.75 + 2000 * 0.30) / 1e6  # claude-sonnet-4-5


def fleet_with_fake_claude(lf: LoopbackFleet) -> FleetCLI:
    agent = lf.dir / "agents" / "fakeclaude.py"
    agent.parent.mkdir(exist_ok=True)
    agent.write_text(FAKE_CLAUDE)
    agent.chmod(0o644)
    fixture = lf.dir / "agents" / "claude-transcript.jsonl"
    fixture.write_text(FIXTURE.read_text())
    fixture.chmod(0o644)
    toml = f"""
    [agents.claude]
    command = "python3 {agent} {fixture}"
    idle = ['^> ?\\\\Z']
    waiting = []
    working = []
    idle_after = 1.0
    enter_delay = 0.05
    """
    return FleetCLI(lf, textwrap.dedent(toml))


def spent(fleet: FleetCLI) -> dict[str, object]:
    total: dict[str, object] = fleet.ok("usage", "--json").json()["total"]
    return total


def test_usage_from_a_claude_transcript_counted_once(fresh_hosts: LoopbackFleet) -> None:
    fleet = fleet_with_fake_claude(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "claude", "--name", "spender")
    fleet.wait_status("alpha/spender", "idle")
    watch = subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fleet.ok("send", "alpha/spender", "one turn please")
        wait_for(lambda: spent(fleet)["total"] == TURN_TOKENS, 30, 0.5, "the first turn's usage")
        fresh_hosts.stop_host("alpha")  # the connection is cut mid-watch
        fresh_hosts.start_host("alpha")
        fleet.ok("send", "alpha/spender", "another")
        wait_for(lambda: spent(fleet)["total"] == 2 * TURN_TOKENS, 45, 0.5, "the second turn")
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
    # A second follower from the same store's cursors, and a journal replayed from scratch
    # (the cursor forgotten), add nothing.
    again = subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: fleet.ok("ls", "--json").json(), 20, 0.5, "the host back")
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=20)
    total = spent(fleet)
    assert total["total"] == 2 * TURN_TOKENS
    assert abs(float(total["cost"]) - 2 * TURN_COST) < 1e-9  # type: ignore[arg-type]
    [row] = [r for r in fleet.ok("ls", "--json").json() if r["ref"] == "alpha/spender"]
    assert row["usage"]["known"] and row["usage"]["total"] == 2 * TURN_TOKENS
    by_model = fleet.ok("usage", "--by", "model", "--json").json()["rows"]
    assert [r["model"] for r in by_model] == ["claude-sonnet-4-5-20250929"]
    assert "alpha/spender" in fleet.ok("usage").out


def test_usage_without_a_follower_catches_up_from_the_hosts(fresh_hosts: LoopbackFleet) -> None:
    """No TUI and no `fleet watch`: `fleet usage` reads what the host journaled since the
    store's cursor; with the host down it shows what it stored and names the host."""
    fleet = fleet_with_fake_claude(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "claude", "--name", "spender")
    fleet.wait_status("alpha/spender", "idle")
    fleet.ok("send", "alpha/spender", "one turn please")
    wait_for(lambda: spent(fleet)["total"] == TURN_TOKENS, 30, 0.5, "the turn, caught up")
    [row] = [r for r in fleet.ok("ls", "--json").json() if r["ref"] == "alpha/spender"]
    assert row["usage"]["total"] == TURN_TOKENS  # in the store: every command sees it

    fleet.ok("send", "alpha/spender", "another")
    fleet.wait_status("alpha/spender", "idle")
    wait_for(lambda: spent(fleet)["total"] == 2 * TURN_TOKENS, 30, 0.5, "the second turn")
    fresh_hosts.stop_host("alpha")
    try:
        down = fleet.ok("usage", "--json", timeout=30)
        assert down.json()["total"]["total"] == 2 * TURN_TOKENS
        assert "alpha" in down.err and "what fleet stored" in down.err
        assert "beta" not in down.err  # reached: nothing to say
        assert fleet.ok("usage", "--cached", "--json").json()["total"]["total"] == 2 * TURN_TOKENS
    finally:
        fresh_hosts.start_host("alpha")
    # A follower afterwards applies the whole journal (the cursor was left alone): the turns
    # it applies again count once.
    watch = subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"],
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: fleet.ok("ls", "--json").json() and not fleet("usage", "--json").err,
            30,
            0.5,
            "the host back",
        )
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=20)
    assert fleet.ok("usage", "--cached", "--json").json()["total"]["total"] == 2 * TURN_TOKENS
