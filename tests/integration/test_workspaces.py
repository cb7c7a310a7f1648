"""Workspaces on demand with real podman: `fleet new --pool` makes a container from an image of
Debian's packages, the agent works in it, its diff is approved, `fleet land` brings the branch
home, and `fleet rm` removes the container and its volume (refusing while work would be lost);
a bad image fails naming the step and leaves nothing behind.

One container lifecycle per test; the image is built once per machine (workspace_image).
Without podman, runc or mmdebstrap these tests skip locally and FAIL under CI=true.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.integration import workspace_image
from tests.integration.conftest import skip_or_fail
from tests.integration.fleetrun import PoolCLI, wait_for

POOL = "wstest"


@pytest.fixture(scope="module")
def image() -> str:
    missing = workspace_image.missing_tools()
    if missing:
        skip_or_fail("workspace tests need: " + ", ".join(missing))
    return workspace_image.ensure_image()


class Fleet(PoolCLI):
    """The fleet CLI with its own config and state, a pool of the test image."""

    def __init__(self, tmp: Path, image: str) -> None:
        self.state = tmp / "state"
        self.config = tmp / "fleet.toml"
        recorder = workspace_image.RECORDER_IN_IMAGE
        self.config.write_text(
            textwrap.dedent(
                f"""\
                [ssh]
                config = ""

                [pools.{POOL}]
                engine = "podman"
                image = "{image}"
                cpus = 1
                memory = "512m"

                [agents.recorder]
                command = "python3 {recorder} {{task}}"
                idle = ['^> ?\\Z']
                idle_after = 1.0
                enter_delay = 0.05
                """
            )
        )
        self.env = workspace_image.podman_env() | {
            "FLEET_CONFIG": str(self.config),
            "FLEET_HOME": str(self.state),
        }


def podman(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=workspace_image.podman_env(), capture_output=True, text=True,
        check=check, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path, image: str) -> Any:
    fl = Fleet(tmp_path, image)
    yield fl
    for ws in (fl.state / "workspaces").glob(f"{POOL}-*"):  # whatever a failed test left
        podman("rm", "--force", f"fleet-{ws.name}")
        podman("volume", "rm", "--force", f"fleet-{ws.name}")


def local_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "app.py").write_text("print('hello')\n")
    subprocess.run([*git, "add", "app.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return repo


def test_a_pool_session_from_new_to_rm(fleet: Fleet, tmp_path: Path) -> None:
    repo = local_repo(tmp_path)
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "tidy up")
    assert made.code == 0, made.err
    ref = made.out.strip()
    host = ref.split("/")[0]
    container = f"fleet-{host}"
    for step in ("make a podman container", "bring the repository in", "start the agent"):
        assert step in made.err, made.err
    # A container with the pool's limits, the worktree on a volume, the host's home not in it.
    inspect = json.loads(podman("inspect", container, check=True).stdout)[0]
    assert inspect["HostConfig"]["NanoCpus"] == 1_000_000_000
    assert inspect["HostConfig"]["Memory"] == 512 * 1024**2
    mounts = inspect["Mounts"]
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounts] == [
        ("volume", container, "/root")
    ]
    session = wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle"
    )
    fleet.ok("send", ref, "make the change")
    got = f"/root/received-{session['id']}.jsonl"
    wait_for(lambda: "make the change" in podman("exec", container, "cat", got).stdout, 15)
    # The agent's work (as the agent would write it), in the worktree inside the container.
    change = "print('hello, workspace')\n"
    worktree = session["worktree"]
    podman("exec", container, "python3", "-c",
           f"open({worktree + '/app.py'!r}, 'w').write({change!r})", check=True)  # fmt: skip
    wait_for(lambda: "app.py" in fleet.ok("diff", ref, "--stat").out, 15, 0.3, "the diff")

    refused = fleet("rm", ref)
    assert refused.code == 1 and "not yet approved" in refused.err, refused.err
    assert podman("container", "exists", container).returncode == 0

    fleet.ok("approve", ref, "-m", "the change")
    refused = fleet("rm", ref)
    assert refused.code == 1 and f"fleet land {ref} --into {repo}" in refused.err, refused.err

    fleet.ok("land", ref, "--into", str(repo))
    branch = f"fleet/{ref}"
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", f"{branch}:app.py"], capture_output=True, text=True
    )
    assert shown.stdout == change, shown.stderr

    removed = fleet("rm", ref)
    assert removed.code == 0, removed.err
    assert podman("container", "exists", container).returncode == 1
    assert podman("volume", "exists", container).returncode == 1
    assert not (fleet.state / "workspaces" / host).exists()
    pools = fleet.ok("pools", "--json").json()
    assert [(p["pool"], p["workspaces"]) for p in pools] == [(POOL, [])]


def test_a_bad_image_says_which_step_failed_and_leaves_nothing(
    fleet: Fleet, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path)
    text = fleet.config.read_text()
    fleet.config.write_text(text.replace('image = "', 'image = "localhost/fleet-no-such-', 1))
    made = fleet("new", "--pool", POOL, "--repo", str(repo), "--agent", "recorder", "x")
    assert made.code == 1, made.err
    last = made.err.strip().splitlines()[-1]
    assert "make a podman container from localhost/fleet-no-such-" in last, made.err
    assert "image not known" in last, made.err
    assert "Traceback" not in made.err
    # Nothing left: no container, no volume, no record (the record dir would name them).
    labelled = podman("ps", "-a", "--filter", f"label=fleet.pool={POOL}", "--format", "{{.Names}}")
    recorded = list((fleet.state / "workspaces").glob(f"{POOL}-*"))
    assert recorded == [], recorded
    name = made.err.split(": ")[1]  # "fleet: POOL-xxxxxx: make a ..." on the first line
    assert f"fleet-{name}" not in labelled.stdout.split()
    assert podman("volume", "exists", f"fleet-{name}").returncode == 1
