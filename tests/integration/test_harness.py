"""The loopback harness itself works with real ssh, sshd, tmux, git and asyncssh."""

from __future__ import annotations

import asyncio
import subprocess
import tomllib
from pathlib import Path

import asyncssh
import pytest

from tests.integration.hosts import GIT_DATE, LoopbackFleet

NAMES = ["alpha", "beta"]


def ssh(
    lf: LoopbackFleet, host: str, *cmd: str, opts: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", str(lf.ssh_config), "-o", "BatchMode=yes", *opts, host, "--", *cmd],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("name", NAMES)
def test_ssh_logs_in_as_the_hosts_own_user(loopback_fleet: LoopbackFleet, name: str) -> None:
    h = loopback_fleet[name]
    assert ssh(loopback_fleet, name, "true").returncode == 0
    p = ssh(loopback_fleet, name, "id -un; echo $HOME; pwd")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [h.user, str(h.home), str(h.home)]


def test_hosts_are_distinct(loopback_fleet: LoopbackFleet) -> None:
    hosts = loopback_fleet.hosts
    assert [h.name for h in hosts] == NAMES
    for attr in ("port", "user", "uid", "home", "host_key_line"):
        assert len({getattr(h, attr) for h in hosts}) == len(hosts), attr
    assert all(h.user.startswith("fleet-t") and h.uid != 0 for h in hosts)


def test_client_files_and_env(loopback_fleet: LoopbackFleet) -> None:
    lf = loopback_fleet
    assert lf.dir.stat().st_mode & 0o777 == 0o755
    env = lf.env()
    assert env["FLEET_CONFIG"] == str(lf.fleet_toml)
    assert env["FLEET_HOME"] == str(lf.dir / "state")
    cfg = tomllib.loads(lf.fleet_toml.read_text())
    assert Path(cfg["ssh"]["config"]) == lf.ssh_config
    assert cfg["hosts"] == {n: {"ssh": n} for n in NAMES}
    known = lf.known_hosts.read_text().splitlines()
    assert known == [f"[127.0.0.1]:{h.port} {h.host_key_line}" for h in lf.hosts]
    assert lf.client_key.exists() and lf.client_key.with_suffix(".pub").exists()


def test_sshd_keeps_default_limits(loopback_fleet: LoopbackFleet) -> None:
    h = loopback_fleet["alpha"]
    p = subprocess.run(
        ["/usr/sbin/sshd", "-T", "-f", str(h.sshd_config), "-p", str(h.port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    eff = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    assert eff["maxsessions"] == "10"
    assert eff["maxstartups"] == "10:30:100"
    assert eff["usepam"] == "no"
    assert eff["passwordauthentication"] == "no"


def test_refused_host_key(loopback_fleet: LoopbackFleet, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts_without_alpha"
    kh.write_text("\n".join(loopback_fleet.known_hosts_lines(exclude=["alpha"])) + "\n")
    opts = ("-o", f"UserKnownHostsFile={kh}", "-o", "StrictHostKeyChecking=yes")
    p = ssh(loopback_fleet, "alpha", "true", opts=opts)
    assert p.returncode == 255
    assert "Host key verification failed" in p.stderr
    # Same file, a host whose key it holds: the refusal above is about the key, nothing else.
    assert ssh(loopback_fleet, "beta", "true", opts=opts).returncode == 0


async def test_asyncssh_refuses_unknown_host_key(
    loopback_fleet: LoopbackFleet, tmp_path: Path
) -> None:
    kh = tmp_path / "known_hosts_without_alpha"
    kh.write_text("\n".join(loopback_fleet.known_hosts_lines(exclude=["alpha"])) + "\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncio.timeout(20):
            await asyncssh.connect(
                "alpha", config=[str(loopback_fleet.ssh_config)], known_hosts=str(kh)
            )


@pytest.mark.parametrize("name", NAMES)
def test_tmux_and_git_on_host(fresh_hosts: LoopbackFleet, name: str) -> None:
    loopback_fleet = fresh_hosts
    p = ssh(loopback_fleet, name, "tmux -V && git --version && python3 --version")
    assert p.returncode == 0, p.stderr
    assert "tmux" in p.stdout and "git version" in p.stdout and "Python 3" in p.stdout
    p = ssh(loopback_fleet, name, "cd repo && git status --porcelain && git log --format=%s:%aI")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [f"init:{GIT_DATE}"]
    h = loopback_fleet[name]
    assert len((h.repo / "notes.txt").read_text().splitlines()) == 40
    assert (h.repo / "app.py").exists()
    assert {h.repo.stat().st_uid, (h.repo / ".git" / "HEAD").stat().st_uid} == {h.uid}


def test_repo_is_identical_on_every_host(fresh_hosts: LoopbackFleet) -> None:
    loopback_fleet = fresh_hosts
    heads = {
        loopback_fleet.run_as(
            h, ["git", "-C", str(h.repo), "rev-parse", "HEAD"], check=True
        ).stdout.strip()
        for h in loopback_fleet.hosts
    }
    assert len(heads) == 1


def test_run_as_uses_the_hosts_user(loopback_fleet: LoopbackFleet) -> None:
    h = loopback_fleet["beta"]
    p = loopback_fleet.run_as("beta", ["sh", "-c", 'id -un; echo "$HOME"; pwd; id -G'], check=True)
    user, home, cwd, groups = p.stdout.split("\n")[:4]
    assert (user, home, cwd) == (h.user, str(h.home), str(h.home))
    assert groups.split() == [str(h.gid)]


async def test_asyncssh_connects_with_the_ssh_config(loopback_fleet: LoopbackFleet) -> None:
    for h in loopback_fleet.hosts:
        async with asyncio.timeout(20):
            async with asyncssh.connect(h.name, config=[str(loopback_fleet.ssh_config)]) as conn:
                r = await conn.run("echo hi; id -un", check=True)
                assert r.stdout == f"hi\n{h.user}\n"


async def test_sftp_works(fresh_hosts: LoopbackFleet) -> None:
    h = fresh_hosts["alpha"]
    async with (
        asyncio.timeout(20),
        asyncssh.connect("alpha", config=[str(fresh_hosts.ssh_config)]) as conn,
        conn.start_sftp_client() as sftp,
    ):
        await sftp.makedirs(".fleet/bin")
        async with sftp.open(".fleet/bin/hello", "w") as f:
            await f.write("hello\n")
        await sftp.chmod(".fleet/bin/hello", 0o700)
    p = h.home / ".fleet" / "bin" / "hello"
    assert p.read_text() == "hello\n"
    assert (p.stat().st_uid, p.stat().st_mode & 0o777) == (h.uid, 0o700)


def test_fresh_hosts_resets_state(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    h = lf["alpha"]
    lf.run_as(h, ["tmux", "new-session", "-d", "-s", "agent", "sleep 600"], check=True)
    lf.run_as(h, ["mkdir", "-p", ".fleet/sessions/x"], check=True)
    lf.run_as(h, ["sh", "-c", "echo junk >> .bashrc && echo more >> repo/notes.txt"], check=True)
    lf.run_as(h, ["git", "-C", "repo", "checkout", "-q", "-b", "fleet/x"], check=True)
    lf.stop_host("beta")
    (lf.state_dir / "fleet.db").write_text("x")

    lf.reset()

    assert lf.run_as(h, ["tmux", "has-session", "-t", "agent"]).returncode != 0
    assert not (h.home / ".fleet").exists()
    assert "junk" not in (h.home / ".bashrc").read_text()
    p = lf.run_as(h, ["git", "-C", "repo", "status", "--porcelain", "--branch"], check=True)
    assert p.stdout == "## main\n"
    assert lf.run_as(h, ["git", "-C", "repo", "branch", "--list"]).stdout.split() == ["*", "main"]
    assert list(lf.state_dir.iterdir()) == []
    assert ssh(lf, "beta", "true").returncode == 0


async def test_restart_one_host(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    alpha = lf["alpha"]
    port = alpha.port
    lf.run_as(alpha, ["tmux", "new-session", "-d", "-s", "agent", "sleep 600"], check=True)
    async with asyncio.timeout(20):
        conn = await asyncssh.connect("alpha", config=[str(lf.ssh_config)])
        proc = await conn.create_process("sleep 600")

        lf.stop_host("alpha")

        # Live connections drop with the host, and nothing listens on its port any more.
        await conn.wait_closed()
        await proc.wait_closed()
        assert proc.exit_status is None
    assert not lf.is_running("alpha")
    down = ssh(lf, "alpha", "true")
    assert down.returncode == 255 and "refused" in down.stderr.lower()
    assert ssh(lf, "beta", "true").returncode == 0
    # The host's tmux server (its agents) outlives sshd, as on a real machine.
    assert lf.run_as(alpha, ["tmux", "has-session", "-t", "agent"]).returncode == 0

    lf.start_host("alpha")

    assert alpha.port == port
    assert lf.is_running("alpha")
    async with (
        asyncio.timeout(20),
        asyncssh.connect("alpha", config=[str(lf.ssh_config)]) as conn,
    ):
        r = await conn.run("tmux has-session -t agent && id -un", check=True)
        assert r.stdout == f"{alpha.user}\n"


async def test_new_host_key_is_refused_until_trusted(fresh_hosts: LoopbackFleet) -> None:
    lf = fresh_hosts
    old = lf["alpha"].host_key_line
    lf.restart_host("alpha", new_host_key=True)
    assert lf["alpha"].host_key_line != old
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncio.timeout(20):
            await asyncssh.connect("alpha", config=[str(lf.ssh_config)])
    lf.write_client_files()
    async with asyncio.timeout(20), asyncssh.connect("alpha", config=[str(lf.ssh_config)]):
        pass


def test_a_second_fleet_claims_other_users(loopback_fleet: LoopbackFleet) -> None:
    with LoopbackFleet(names=["solo"]) as other:
        (solo,) = other.hosts
        assert solo.user not in {h.user for h in loopback_fleet.hosts}
        p = subprocess.run(
            ["ssh", "-F", str(other.ssh_config), "-o", "BatchMode=yes", "solo", "--", "id -un"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert p.stdout.strip() == solo.user
        run_dir = other.dir
    assert not run_dir.exists()
    # The session fleet is untouched by the other one's start and stop.
    assert ssh(loopback_fleet, "alpha", "true").returncode == 0
