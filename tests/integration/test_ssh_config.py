"""The person's ssh config is honoured: Include, ProxyJump, user@host:port targets, and hosts
that offer no SFTP subsystem still get the helper."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet


def write_config(lf: LoopbackFleet, name: str, ssh_config: str, hosts: dict[str, str]) -> Path:
    cfg = lf.dir / f"{name}.ssh_config"
    cfg.write_text(textwrap.dedent(ssh_config))
    toml = lf.dir / f"{name}.toml"
    toml.write_text(
        f'[ssh]\nconfig = "{cfg}"\n'
        + "".join(f'\n[hosts.{h}]\nssh = "{target}"\n' for h, target in hosts.items())
    )
    return toml


def hosts_json(fleet: FleetCLI, toml: Path) -> dict[str, dict[str, object]]:
    result = fleet("--config", str(toml), "hosts", "--json")
    return {h["name"]: h for h in result.json()}


def test_include_and_proxyjump_are_followed(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    alpha = lf["alpha"]
    fleet = FleetCLI(lf)
    common = (
        f"  IdentityFile {lf.client_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {lf.known_hosts}\n"
    )
    (lf.dir / "included.conf").write_text(
        f"Host hopped\n  HostName 127.0.0.1\n  Port {alpha.port}\n  User {alpha.user}\n"
        f"{common}  ProxyJump beta\n\n"
        f"Host badhop\n  HostName 127.0.0.1\n  Port {alpha.port}\n  User {alpha.user}\n"
        f"{common}  ProxyJump nojump\n\n"
        f"Host nojump\n  HostName 127.0.0.1\n  Port 1\n"
    )
    toml = write_config(
        lf,
        "jump",
        f"Include {lf.dir}/included.conf\n\n{lf.ssh_config.read_text()}",
        {"hopped": "hopped", "badhop": "badhop"},
    )
    hosts = hosts_json(fleet, toml)
    assert hosts["hopped"]["reachable"], hosts["hopped"]
    # The same host through a jump host that does not answer: proof the jump is really taken.
    assert not hosts["badhop"]["reachable"]
    # And a session made through the jump lands on alpha.
    fleet.ok(
        "--config",
        str(toml),
        "new",
        "hopped",
        "--repo",
        "~/repo",
        "--agent",
        "shell",
        "--name",
        "via-jump",
    )
    assert (alpha.home / ".fleet" / "worktrees" / "via-jump").is_dir()


def test_user_at_host_colon_port_targets(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    alpha = lf["alpha"]
    toml = write_config(
        lf,
        "plain",
        f"Host *\n  IdentityFile {lf.client_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {lf.known_hosts}\n",
        {"direct": f"{alpha.user}@127.0.0.1:{alpha.port}"},
    )
    hosts = hosts_json(FleetCLI(lf), toml)
    assert hosts["direct"]["reachable"], hosts["direct"]


def test_helper_is_installed_on_a_host_without_sftp() -> None:
    with LoopbackFleet(names=["nosftp"], sshd_options={"Subsystem": "sftp /nonexistent"}) as lf:
        fleet = FleetCLI(lf)
        fleet.ok("hosts")
        helpers = list((lf["nosftp"].home / ".fleet").glob("helper-*.pyz"))
        assert len(helpers) == 1
        assert helpers[0].stat().st_mode & 0o777 == 0o700
        fleet.ok("new", "nosftp", "--repo", "~/repo", "--agent", "shell", "--name", "ok")


def test_a_missing_identity_file_is_a_clear_error(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    alpha = lf["alpha"]
    toml = write_config(
        lf,
        "nokey",
        f"Host gone\n  HostName 127.0.0.1\n  Port {alpha.port}\n  User {alpha.user}\n"
        f"  IdentityFile {lf.dir}/no-such-key\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {lf.known_hosts}\n",
        {"gone": "gone"},
    )
    result = FleetCLI(lf)("--config", str(toml), "hosts", "--json")
    assert result.code == 1 and "Traceback" not in result.err
    host = result.json()[0]
    assert not host["reachable"] and "no-such-key" in host["reason"]
