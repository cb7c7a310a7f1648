"""Local state for real: `fleet ls` answers from the cache when every host is down, sessions
started elsewhere are adopted and vanished ones marked, and the audit log records actions in
order. The fault tests (cuts, blackhole, sshd restart, kill -9) live in tests/reliability."""

from __future__ import annotations

from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet


def test_ls_from_the_cache_when_every_host_is_down(fresh_hosts: LoopbackFleet) -> None:
    fleet = FleetCLI(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "a1")
    fleet.ok("new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", "b1")
    fleet.wait_status("alpha/a1", "idle")
    fleet.wait_status("beta/b1", "idle")
    fresh_hosts.stop_host("alpha")
    fresh_hosts.stop_host("beta")
    result = fleet("ls", "--json")
    assert result.code == 1
    rows = {r["ref"]: r for r in result.json()}
    assert set(rows) == {"alpha/a1", "beta/b1"}
    for row in rows.values():
        assert row["cached"] and row["status"] == "lost" and row["last_status"] == "idle"
    assert "from its cache" in result.err
    table = fleet("ls")
    assert "lost (idle when last seen)" in table.out
    log = fleet.ok("log", "alpha/a1")  # the audit log needs no host
    assert "new" in log.out
    cached = fleet.ok("ls", "--cached", "--json").json()  # asks no host, so succeeds
    assert {r["ref"]: r["status"] for r in cached} == {"alpha/a1": "idle", "beta/b1": "idle"}
    assert all(r["cached"] for r in cached)


def test_sessions_started_elsewhere_are_adopted_and_vanished_ones_marked(
    fresh_hosts: LoopbackFleet, tmp_path: Path
) -> None:
    fleet = FleetCLI(fresh_hosts)
    other = FleetCLI(fresh_hosts)  # another laptop: its own state directory
    other.env["FLEET_HOME"] = str(tmp_path / "other-laptop")
    other.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "theirs")
    rows = {r["ref"]: r for r in fleet.ok("ls", "--json").json()}
    assert "alpha/theirs" in rows and not rows["alpha/theirs"]["gone"]
    session_dir = fresh_hosts["alpha"].home / ".fleet" / "sessions" / rows["alpha/theirs"]["id"]
    fresh_hosts.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=False)
    fresh_hosts.run_as("alpha", ["rm", "-rf", str(session_dir)])
    rows = {r["ref"]: r for r in fleet.ok("ls", "--json").json()}
    assert rows["alpha/theirs"]["gone"], "a session that vanished must stay listed, as gone"
    assert "gone" in fleet.ok("ls").out


def test_the_audit_log_records_actions_in_order(fresh_hosts: LoopbackFleet) -> None:
    fleet = FleetCLI(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "r")
    fleet.wait_status("alpha/r", "idle")
    fleet.ok("send", "alpha/r", "say 'hi'; $(id)")
    fleet.ok("stop", "alpha/r")
    fleet.ok("resume", "alpha/r")
    entries = fleet.ok("log", "alpha/r", "--json").json()
    kinds = [e["kind"] for e in entries]
    assert kinds[:1] == ["new"] and "send" in kinds and "stop" in kinds and "resume" in kinds
    assert kinds.index("send") < kinds.index("stop") < kinds.index("resume")
    sent = next(e for e in entries if e["kind"] == "send")
    assert sent["detail"]["text"] == "say 'hi'; $(id)"
