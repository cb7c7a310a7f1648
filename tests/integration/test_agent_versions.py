"""`fleet agents` asks each real host which version of each agent CLI it has.

The CLIs are small scripts in ~/bin on the host (the login shell's ~/.profile puts it on PATH,
as it would for a person's own installs), so this needs no real agent.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet, LoopbackHost


def _fake_cli(host: LoopbackHost, name: str, script: str) -> None:
    bin_dir = host.home / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir()
        os.chown(bin_dir, host.uid, host.gid)
    path: Path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    os.chown(path, host.uid, host.gid)


def _rows(out: str) -> dict[tuple[str, str], list[str]]:
    """The versions table: (host, agent) -> [version, verified, note]."""
    lines = out.split("\n\n", 1)[1].splitlines()
    assert lines[0].split() == ["HOST", "AGENT", "VERSION", "VERIFIED", "NOTE"]
    rows = {}
    for line in lines[1:]:
        host, agent, version, verified, note = line.split(maxsplit=4)
        rows[(host, agent)] = [version, verified, note]
    return rows


def test_agents_shows_each_hosts_versions_and_flags_newer_ones(
    fresh_hosts: LoopbackFleet,
) -> None:
    alpha = fresh_hosts["alpha"]
    _fake_cli(alpha, "codex", "echo 'codex-cli 0.170.2'\n")
    _fake_cli(alpha, "gemini", "echo 0.61.0\n")
    # Escapes in what a CLI prints never reach the person's terminal.
    _fake_cli(alpha, "opencode", "printf '\\033]0;pwned\\007not a version\\n'\n")
    fleet = FleetCLI(fresh_hosts)

    result = fleet.ok("agents")
    assert "\x1b" not in result.out and "\x07" not in result.out
    rows = _rows(result.out)
    assert rows[("alpha", "codex")] == [
        "0.170.2",
        "0.169.0",
        "newer than verified 0.169.0: detection may drift",
    ]
    assert rows[("alpha", "gemini")] == ["0.61.0", "0.61.0", "ok"]
    assert rows[("alpha", "opencode")][0] == "-"
    assert rows[("alpha", "opencode")][2] == "no version: not a version"
    for agent in ("codex", "gemini", "opencode"):
        assert rows[("beta", agent)][0] == "-"
        assert rows[("beta", agent)][2] == "not installed"

    profiles = {p["name"]: p for p in fleet.ok("agents", "--json").json()}
    codex = profiles["codex"]
    assert codex["verified"] == "0.169.0"
    assert codex["hosts"]["alpha"]["version"] == "0.170.2"
    assert codex["hosts"]["alpha"]["newer"] is True
    assert codex["hosts"]["beta"]["version"] is None
    assert profiles["gemini"]["hosts"]["alpha"]["newer"] is False


def test_an_unreachable_host_is_reported_not_fatal(fresh_hosts: LoopbackFleet) -> None:
    _fake_cli(fresh_hosts["alpha"], "codex", "echo 'codex-cli 0.169.0'\n")
    fresh_hosts.stop_host("beta")
    fleet = FleetCLI(fresh_hosts)
    result = fleet.ok("agents")
    rows = _rows(result.out)
    assert rows[("alpha", "codex")] == ["0.169.0", "0.169.0", "ok"]
    assert rows[("beta", "codex")][0] == "-"
    assert rows[("beta", "codex")][2] != "ok"
    # --no-hosts: the profiles alone, no host asked.
    assert "\n\n" not in fleet.ok("agents", "--no-hosts").out
