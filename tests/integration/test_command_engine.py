"""The command engine end to end: the person's own create / ssh_config / host_key / destroy
commands (here a script standing in for Coder or DevPod, which "makes" a workspace that is a
real loopback sshd host), and fleet does the rest for real: the host key trusted through the
engine's host_key command, the repository brought in as a bundle, the helper, the agent, and
`fleet rm` running destroy. Each command is an argv list: a placeholder's value stays one
argument."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet

ENGINE = """\
import json, sys
from pathlib import Path
here = Path(__file__).parent
with open(here / "engine.log", "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
what, name = sys.argv[1], sys.argv[2]
made = here / ("made-" + name)
if what == "create":
    made.write_text("yes")
elif what == "destroy":
    made.unlink(missing_ok=True)
elif what == "ssh-config":
    print("# what the engine prints\\nHost " + name)
    print({config!r})
elif what == "host-key":
    print({host_key!r})
elif what == "state":
    if not made.exists():
        sys.exit("no such workspace")
    print("running")
"""


def command_fleet(lf: LoopbackFleet, extra: str = "") -> FleetCLI:
    beta = lf["beta"]
    config = (
        f"  HostName 127.0.0.1\n  Port {beta.port}\n  User {beta.user}\n"
        f"  IdentityFile {lf.client_key}\n  ServerAliveInterval 15"
    )
    script = lf.dir / "engine.py"
    script.write_text(ENGINE.format(config=config, host_key=beta.host_key_line))
    run = f'"python3", "{script}"'
    pool = f"""
        [pools.cmd]
        engine = "command"
        image = "team/ws:1"
        create = [{run}, "create", "{{name}}", "--image={{image}}"]
        destroy = [{run}, "destroy", "{{name}}"]
        ssh_config = [{run}, "ssh-config", "{{name}}"]
        host_key = [{run}, "host-key", "{{name}}"]
        state = [{run}, "state", "{{name}}"]
        {extra}
        """
    return FleetCLI(lf, "\n".join(line.strip() for line in pool.splitlines()) + "\n")


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> FleetCLI:
    return command_fleet(fresh_hosts)


def local_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "app.py").write_text("print('hi')\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "app.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return repo


def test_a_command_engine_workspace_from_new_to_rm(fleet: FleetCLI, tmp_path: Path) -> None:
    repo = local_repo(tmp_path)

    made = fleet("new", "--pool", "cmd", "--repo", str(repo), "--agent", "recorder", "go")
    assert made.code == 0, made.err
    assert "make a command workspace from team/ws:1" in made.err, made.err
    ref = made.out.strip()
    ws = ref.split("/")[0]
    session = fleet.wait_status(ref, "idle")
    beta = fleet.lf["beta"]
    assert session["worktree"].startswith(str(beta.home))
    assert (beta.home / "app" / "app.py").read_text() == "print('hi')\n"  # the bundle, cloned
    log = fleet.lf.dir / "engine.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    name = f"fleet-{ws}"  # {name}: the workspace's name at its engine
    assert calls[0] == ["create", name, "--image=team/ws:1"]
    assert ["host-key", name] in calls
    known = (Path(fleet.env["FLEET_HOME"]) / "workspaces" / ws / "known_hosts").read_text()
    assert known == f"{ws} {beta.host_key_line}\n"
    listed = {p["pool"]: p for p in fleet.ok("pools", "--json").json()}
    assert [(w["name"], w["state"]) for w in listed["cmd"]["workspaces"]] == [(ws, "running")]

    removed = fleet("rm", ref)
    assert removed.code == 0, removed.err
    assert json.loads(log.read_text().splitlines()[-1]) == ["destroy", name]
    assert not (Path(fleet.env["FLEET_HOME"]) / "workspaces" / ws).exists()


def test_fleet_watch_gives_notice_then_reaps_an_idle_workspace(
    fresh_hosts: LoopbackFleet, tmp_path: Path
) -> None:
    fleet = command_fleet(fresh_hosts, "idle_ttl = 4")
    made = fleet("new", "--pool", "cmd", "--repo", str(local_repo(tmp_path)), "--agent",
                 "recorder", "nothing to do")  # fmt: skip
    assert made.code == 0, made.err
    ref = made.out.strip()
    ws = ref.split("/")[0]
    fleet.wait_status(ref, "idle")
    watch = subprocess.Popen(
        [sys.executable, "-m", "fleet", "watch"], env=fleet.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert watch.stdout is not None
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(watch.stdout.readline, "")),
                     daemon=True).start()  # fmt: skip
    try:
        said = lambda what: any(f"{ws} (pool cmd): {what}" in line for line in lines)  # noqa: E731
        wait_for(lambda: said("noticed"), 30, 0.2, "the notice")
        wait_for(lambda: said("reaped"), 30, 0.2, "the reaping")
        assert watch.poll() is None, watch.stderr.read() if watch.stderr else ""
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(10)
    assert watch.returncode in (0, 130)
    log = fleet.lf.dir / "engine.log"
    assert json.loads(log.read_text().splitlines()[-1]) == ["destroy", f"fleet-{ws}"]
    assert not (Path(fleet.env["FLEET_HOME"]) / "workspaces" / ws).exists()
