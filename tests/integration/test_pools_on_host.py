"""A pool whose engine runs on a fleet host (`host = "podhost"`): a real loopback sshd host
whose user runs this machine's podman rootless (podhost.py). fleet's helper runs podman there
by argv, the workspace's keys travel in the helper's op, and fleet reaches the workspace
through the host's own connection. The loop a person runs: `fleet new --pool` -> the agent
works -> `fleet diff` / `approve` -> `fleet land` -> `fleet rm` -> nothing left on the host;
a bad image on the host fails naming the step and leaves nothing; a container stopped there
is started again by `fleet resume`; a host that forwards nothing is said at once; the TUI
reaps an idle workspace after its notice and only reports one holding unlanded work.

No --cpus/--memory here: rootless podman cannot apply them on this machine (podhost.py).
"""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.core.config import load_config
from fleet.core.workspaces import with_workspaces
from fleet.ui.app import FleetApp
from tests.integration.fleetrun import PoolCLI, pilot_until, wait_for
from tests.integration.hosts import LoopbackFleet
from tests.integration.podhost import HOST, pod_host, podman
from tests.integration.workspace_image import RECORDER_IN_IMAGE

POOL = "remote-pod"


@pytest.fixture(scope="module")
def podhost() -> Iterator[tuple[LoopbackFleet, str]]:
    with pod_host() as made:
        yield made


class Fleet(PoolCLI):
    """The fleet CLI with its own config and state: the host, and a pool on it."""

    def __init__(self, tmp: Path, lf: LoopbackFleet, image: str) -> None:
        self.state = tmp / "state"
        self.config = tmp / "fleet.toml"
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [ssh]
                config = "{lf.ssh_config}"

                [hosts.{HOST}]
                ssh = "{HOST}"

                [pools.{POOL}]
                engine = "podman"
                host = "{HOST}"
                image = "{image}"

                [agents.recorder]
                command = "python3 {RECORDER_IN_IMAGE} {{task}}"
                idle = ['^> ?\\Z']
                idle_after = 1.0
                enter_delay = 0.05
                """
            )
        )
        self.env = lf.env() | {"FLEET_CONFIG": str(self.config), "FLEET_HOME": str(self.state)}

    TIMEOUT = 180.0


@pytest.fixture
def fleet(tmp_path: Path, podhost: tuple[LoopbackFleet, str]) -> Iterator[Fleet]:
    lf, image = podhost
    yield Fleet(tmp_path, lf, image)
    podman(lf, "rm", "--all", "--force", "--time=1")  # whatever a failed test left
    podman(lf, "volume", "prune", "--force")


def local_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "app.py").write_text("print('hello')\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return repo


def names(lf: LoopbackFleet, *what: str) -> list[str]:
    listed = podman(lf, *what, "--format", "{{.Name}}" if what[0] == "volume" else "{{.Names}}")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.split()


def test_a_pool_on_a_fleet_host_from_new_to_rm(
    fleet: Fleet, podhost: tuple[LoopbackFleet, str], tmp_path: Path
) -> None:
    lf, _ = podhost
    repo = local_repo(tmp_path)
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "tidy up")
    assert made.code == 0, made.err
    ref = made.out.strip()
    host = ref.split("/")[0]
    container = f"fleet-{host}"
    assert f"make a podman container on host {HOST} from" in made.err, made.err
    assert f"on host {HOST})" in made.err, made.err  # the sshd reached through the host
    # The container is the host's (its user's podman), with the worktree on its own volume.
    assert container in names(lf, "ps")
    assert container in names(lf, "volume", "ls")
    # The keys went through the helper's op into a private directory, removed once copied.
    assert not list((lf.host(HOST).home / ".fleet").glob("engine-files-*"))
    session = wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle"
    )
    fleet.ok("send", ref, "make the change")
    got = f"/root/received-{session['id']}.jsonl"
    wait_for(lambda: "make the change" in podman(lf, "exec", container, "cat", got).stdout, 15)

    # Reached through the host: with its sshd down, neither fleet nor OpenSSH (what `fleet
    # land` fetches with) reaches the workspace, though its port is on this same machine.
    ssh_config = fleet.state / "workspaces" / host / "ssh_config"
    ssh = ["ssh", "-F", str(ssh_config), host, "true"]
    lf.stop_host(HOST)
    try:
        assert fleet("diff", ref, "--stat").code != 0
        assert subprocess.run(ssh, capture_output=True, timeout=30).returncode != 0
    finally:
        lf.start_host(HOST)
    assert subprocess.run(ssh, capture_output=True, timeout=30).returncode == 0

    change = "print('hello, workspace')\n"
    write = f"open({session['worktree'] + '/app.py'!r}, 'w').write({change!r})"
    podman(lf, "exec", container, "python3", "-c", write, check=True)
    wait_for(lambda: "app.py" in fleet.ok("diff", ref, "--stat").out, 15, 0.3, "the diff")
    refused = fleet("rm", ref)
    assert refused.code == 1 and "not yet approved" in refused.err, refused.err
    assert container in names(lf, "ps")

    fleet.ok("approve", ref, "-m", "the change")
    fleet.ok("land", ref, "--into", str(repo))
    landed = subprocess.run(
        ["git", "-C", str(repo), "show", f"fleet/{ref}:app.py"], capture_output=True, text=True
    )
    assert landed.stdout == change, landed.stderr

    fleet.ok("rm", ref)
    assert container not in names(lf, "ps", "-a")
    assert container not in names(lf, "volume", "ls")
    assert not (fleet.state / "workspaces" / host).exists()
    pools = fleet.ok("pools", "--json").json()
    assert [(p["pool"], p["workspaces"]) for p in pools] == [(POOL, [])]


def test_a_bad_image_on_the_host_says_which_step_failed_and_leaves_nothing(
    fleet: Fleet, podhost: tuple[LoopbackFleet, str], tmp_path: Path
) -> None:
    lf, _ = podhost
    repo = local_repo(tmp_path)
    text = fleet.config.read_text()
    fleet.config.write_text(text.replace('image = "', 'image = "localhost/fleet-no-such-', 1))
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "x")
    assert made.code == 1, made.err
    last = made.err.strip().splitlines()[-1]
    assert f"make a podman container on host {HOST} from localhost/fleet-no-such-" in last, last
    assert f"failed on host {HOST}" in last and "image not known" in last, last
    assert "Traceback" not in made.err
    name = made.err.split(": ")[1]  # "fleet: POOL-xxxxxx: make a ..." on the first line
    assert f"fleet-{name}" not in names(lf, "ps", "-a")
    assert f"fleet-{name}" not in names(lf, "volume", "ls")
    assert list((fleet.state / "workspaces").glob(f"{POOL}-*")) == []


def test_a_container_stopped_on_the_host_is_started_again_by_fleet_resume(
    fleet: Fleet, podhost: tuple[LoopbackFleet, str], tmp_path: Path
) -> None:
    lf, _ = podhost
    doctor = fleet("doctor")
    assert f"podman 4.3.1 on host {HOST} answers" in doctor.out + doctor.err, doctor.out
    repo = local_repo(tmp_path)
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "first")
    assert made.code == 0, made.err
    ref = made.out.strip()
    container = f"fleet-{ref.split('/')[0]}"
    session = wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle"
    )
    note = session["worktree"] + "/work-in-progress.txt"
    podman(lf, "exec", container, "sh", "-c", f"echo half done > {note}", check=True)
    # The host rebooted its containers: the published port may change; fleet follows it.
    podman(lf, "stop", "--time=1", container, check=True)
    down = fleet("ls", "--json")
    assert down.code == 1 and f"{container} is exited: `fleet resume SESSION`" in down.err
    resumed = fleet("resume", ref)
    assert resumed.code == 0, resumed.err
    assert "start its container again (it was exited)" in resumed.err, resumed.err
    assert f"on host {HOST})" in resumed.err, resumed.err
    back = wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle again"
    )
    assert back["id"] == session["id"] and back["worktree"] == session["worktree"]
    assert "work-in-progress.txt" in fleet.ok("diff", ref, "--stat").out
    fleet.ok("send", ref, "go on")
    got = f"/root/received-{session['id']}.jsonl"
    wait_for(lambda: "go on" in podman(lf, "exec", container, "cat", got).stdout, 15)
    removed = fleet("rm", ref, "--force")
    assert removed.code == 0, removed.err
    assert container not in names(lf, "ps", "-a")
    assert container not in names(lf, "volume", "ls")


def test_a_host_that_forwards_nothing_is_said_at_once_and_nothing_is_left(
    fleet: Fleet, podhost: tuple[LoopbackFleet, str], tmp_path: Path
) -> None:
    lf, _ = podhost
    repo = local_repo(tmp_path)
    lf.reconfigure_host(HOST, {"AllowTcpForwarding": "no"})
    try:
        made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "x")
    finally:
        lf.reconfigure_host(HOST, {})
    assert made.code == 1, made.err
    last = made.err.strip().splitlines()[-1]
    assert "connect to the workspace's sshd" in last, last
    assert f"host {HOST} refused to carry the connection" in last, last
    assert "AllowTcpForwarding" in last and "Traceback" not in made.err, made.err
    assert "did not answer within" not in last, last  # refused: not waited on to the deadline
    name = made.err.split(": ")[1]
    assert f"fleet-{name}" not in names(lf, "ps", "-a")
    assert f"fleet-{name}" not in names(lf, "volume", "ls")
    assert list((fleet.state / "workspaces").glob(f"{POOL}-*")) == []


def _new_idle(fleet: Fleet, repo: Path, task: str) -> dict[str, Any]:
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", task)
    assert made.code == 0, made.err
    ref = made.out.strip()
    return wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle"
    )


async def test_the_tui_reaps_an_idle_workspace_after_its_notice_but_never_unlanded_work(
    fleet: Fleet,
    podhost: tuple[LoopbackFleet, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lf, _ = podhost
    text = fleet.config.read_text()
    fleet.config.write_text(text.replace(f'host = "{HOST}"\n', f'host = "{HOST}"\nidle_ttl = 8\n'))
    repo = local_repo(tmp_path)
    idle = await asyncio.to_thread(_new_idle, fleet, repo, "nothing to do")
    busy = await asyncio.to_thread(_new_idle, fleet, repo, "holds work")
    idle_ws, busy_ws = idle["ref"].split("/")[0], busy["ref"].split("/")[0]
    write = f"open({busy['worktree'] + '/app.py'!r}, 'w').write('print(2)\\n')"
    podman(lf, "exec", f"fleet-{busy_ws}", "python3", "-c", write, check=True)
    await asyncio.to_thread(fleet.ok, "approve", busy["ref"], "-m", "approved, not landed")
    for name, value in fleet.env.items():
        monkeypatch.setenv(name, value)
    app = FleetApp(with_workspaces(load_config(fleet.config)))

    shown: list[str] = []

    def said() -> str:
        # Every toast shown so far (a toast expires after its timeout).
        shown.extend(m for n in app._notifications if (m := str(n.message)) not in shown)
        return " ".join(shown)

    async with app.run_test(size=(160, 40)) as pilot:
        await pilot_until(pilot, lambda: f"{idle_ws} (pool {POOL}): noticed" in said(), "notice")
        await pilot_until(pilot, lambda: f"{idle_ws} (pool {POOL}): reaped" in said(), "reaped")
        await pilot_until(pilot, lambda: f"{busy_ws} (pool {POOL}): kept" in said(), "kept")
        assert f"fleet land {busy['ref']} --into {repo}" in said(), said()
        await pilot.pause(3)  # passes run every second: the kept one stays through them
        assert f"{busy_ws} (pool {POOL}): reaped" not in said(), said()
    assert f"fleet-{idle_ws}" not in names(lf, "ps", "-a")
    assert f"fleet-{idle_ws}" not in names(lf, "volume", "ls")
    assert f"fleet-{busy_ws}" in names(lf, "ps")
    assert (fleet.state / "workspaces" / busy_ws).is_dir()
    await asyncio.to_thread(fleet.ok, "rm", busy["ref"], "--force")
