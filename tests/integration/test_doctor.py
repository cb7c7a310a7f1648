"""`fleet doctor` against real loopback hosts: a healthy one, one missing tmux, one whose host
key is not trusted, one that does not answer, and a config that does not load."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

from fleet.cli.doctor import FAIL, OK, Check, doctor
from fleet.core.config import load_config
from tests.integration.hosts import SAFE_PATH, LoopbackFleet

HOST_CHECKS = ("reachable", "host key", "login", "python3", "tmux", "git", "disk", "helper")


def by_key(checks: list[Check]) -> dict[tuple[str | None, str], Check]:
    return {(c.host, c.name): c for c in checks}


def run_doctor(lf: LoopbackFleet, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleet", "doctor", *args],
        env=lf.env(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def hide_tool(lf: LoopbackFleet, host: str, missing: str) -> None:
    """sshd runs commands with the user's shell (bash -c), which reads ~/.bashrc first: a PATH
    set at its top hides a tool from every command fleet runs there (see test_security)."""
    h = lf[host]
    tools = h.home / "tools"
    tools.mkdir()
    for tool in ("python3", "tmux", "git", "df"):
        found = shutil.which(tool, path=SAFE_PATH)
        if tool != missing and found:
            (tools / tool).symlink_to(found)
    bashrc = h.home / ".bashrc"
    bashrc.write_text(f"PATH={tools}\n" + (bashrc.read_text() if bashrc.exists() else ""))


async def test_doctor_on_healthy_hosts_says_all_is_well(fresh_hosts: LoopbackFleet) -> None:
    checks = await doctor(load_config(fresh_hosts.fleet_toml))
    found = by_key(checks)
    for host in ("alpha", "beta"):
        for name in HOST_CHECKS:
            check = found[(host, name)]
            assert check.status == OK, check
    assert found[("alpha", "tmux")].detail.startswith("tmux ")
    assert found[("alpha", "git")].detail.startswith("git version ")
    assert found[("alpha", "python3")].detail.startswith("Python 3.")
    assert "free in the home" in found[("alpha", "disk")].detail
    for name in ("fleet", "tmux", "git", "ssh", "config", "state"):
        assert found[(None, name)].status == OK, found[(None, name)]
    assert not any(c.status == FAIL for c in checks), [c for c in checks if c.status == FAIL]

    r = run_doctor(fresh_hosts)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "alpha" in r.stdout and "fail " not in r.stdout


async def test_doctor_names_a_missing_tmux_and_what_to_do(fresh_hosts: LoopbackFleet) -> None:
    hide_tool(fresh_hosts, "alpha", "tmux")
    checks = await doctor(load_config(fresh_hosts.fleet_toml))
    found = by_key(checks)
    tmux = found[("alpha", "tmux")]
    assert tmux.status == FAIL
    assert "not on the PATH" in tmux.detail and "apt-get install tmux" in tmux.fix
    assert ".bashrc" in tmux.fix  # installed but hidden from non-interactive shells
    for name in ("reachable", "host key", "login", "python3", "git"):
        assert found[("alpha", name)].status == OK, found[("alpha", name)]
    assert found[("alpha", "git")].detail.startswith("git version ")
    assert found[("alpha", "helper")].status == FAIL
    assert not (fresh_hosts["alpha"].home / ".fleet").exists(), "uploaded to a host lacking tmux"
    assert all(found[("beta", name)].status == OK for name in HOST_CHECKS)

    r = run_doctor(fresh_hosts, "--json")
    assert r.returncode == 1, r.stderr
    rows = json.loads(r.stdout)
    row = next(x for x in rows if x["host"] == "alpha" and x["check"] == "tmux")
    assert row["status"] == "fail" and row["fix"]


async def test_doctor_on_untrusted_and_silent_hosts(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    lf.known_hosts.write_text("\n".join(lf.known_hosts_lines(exclude=["alpha"])) + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    toml = lf.dir / "fleet-doctor.toml"
    toml.write_text(
        lf.fleet_toml.read_text() + f'\n[hosts.nowhere]\nssh = "127.0.0.1:{closed_port}"\n'
    )
    found = by_key(await doctor(load_config(toml)))
    key = found[("alpha", "host key")]
    assert key.status == FAIL and "not trusted" in key.detail and "ssh -F" in key.fix
    assert ("alpha", "tmux") not in found  # nothing more is tried on an untrusted host
    nowhere = found[("nowhere", "reachable")]
    assert nowhere.status == FAIL and nowhere.detail and "ssh" in nowhere.fix
    assert found[("beta", "helper")].status == OK


def test_doctor_reports_a_broken_config(fresh_hosts: LoopbackFleet) -> None:
    broken = fresh_hosts.dir / "broken.toml"
    broken.write_text("[hosts.alpha]\nssh = 42\n")
    env = fresh_hosts.env(os.environ) | {"FLEET_CONFIG": str(broken)}
    r = subprocess.run(
        [sys.executable, "-m", "fleet", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1
    assert "broken.toml:2" in r.stdout and "fix:" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_doctor_fails_wrong_keys_naming_file_and_line_and_still_checks_hosts(
    fresh_hosts: LoopbackFleet,
) -> None:
    lf = fresh_hosts
    toml = lf.dir / "fleet-keys.toml"
    text = lf.fleet_toml.read_text() + '\n[keys]\nquit = "ctrl+q"\nbogus = "z"\nhelp = "?"\n'
    text += 'stop = "h"\n'  # move-left's
    toml.write_text(text)
    lines = text.splitlines()
    bogus, stop = lines.index('bogus = "z"') + 1, lines.index('stop = "h"') + 1
    env = lf.env(os.environ) | {"FLEET_CONFIG": str(toml)}

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fleet", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    r = fleet("doctor")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"fleet-keys.toml:{bogus}: keys.bogus: unknown action 'bogus'" in r.stdout, r.stdout
    assert "the actions are: move-left, " in r.stdout
    assert f"fleet-keys.toml:{stop}: keys.stop: 'h' is already the key of 'move-left'" in r.stdout
    assert "2 failed" in r.stdout and "Traceback" not in r.stdout + r.stderr
    assert r.stdout.count("fail  keys") == 2, r.stdout

    rows = json.loads(fleet("doctor", "--json").stdout)
    keys = [x for x in rows if x["check"] == "keys"]
    assert [x["status"] for x in keys] == ["fail", "fail"] and all(x["fix"] for x in keys)
    helper = next(x for x in rows if x["host"] == "alpha" and x["check"] == "helper")
    assert helper["status"] == "ok"  # the hosts are checked all the same

    # Only the TUI needs [keys]: every other command works as before.
    ls = fleet("ls")
    assert ls.returncode == 0, ls.stderr
