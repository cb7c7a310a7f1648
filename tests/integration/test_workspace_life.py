"""A workspace's life after `fleet new --pool`, with real podman: a stopped container started
again by `fleet resume` keeps the worktree and the session goes on; two tasks from one repo get
two containers that cannot see each other's files (looked for from inside each); a pool's
remove = "after-land" and idle_ttl remove workspaces after the work, never one holding work
that is not landed.

The image and the CLI harness are those of test_workspaces (one image per machine).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.integration.fleetrun import wait_for
from tests.integration.test_workspaces import POOL, Fleet, local_repo, podman

# The fixtures, re-exported so pytest finds them here.
from tests.integration.test_workspaces import fleet as fleet
from tests.integration.test_workspaces import image as image


def new(fleet: Fleet, repo: Path, task: str, pool: str = POOL) -> tuple[str, str]:
    made = fleet("new", "--pool", pool, "--repo", str(repo), "--agent", "recorder", task)
    assert made.code == 0, made.err
    ref = made.out.strip()
    return ref, f"fleet-{ref.split('/')[0]}"


def idle(fleet: Fleet, ref: str) -> dict[str, Any]:
    return wait_for(
        lambda: (s := fleet.session(ref)) and s["status"] == "idle" and s, 30, 0.3, "idle"
    )


def host_of(ref: str) -> str:
    return ref.split("/")[0]


def write_in(container: str, path: str, text: str) -> None:
    podman("exec", container, "python3", "-c",
           f"open({path!r}, 'w').write({text!r})", check=True)  # fmt: skip


def received(container: str, session: dict[str, Any]) -> str:
    return podman("exec", container, "cat", f"/root/received-{session['id']}.jsonl").stdout


def test_a_stopped_container_started_again_keeps_the_worktree_and_the_session(
    fleet: Fleet, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path)
    ref, container = new(fleet, repo, "first task")
    session = idle(fleet, ref)
    note = session["worktree"] + "/work-in-progress.txt"
    write_in(container, note, "half done\n")
    for _ in range(2):  # the machine rebooted, twice: each time fleet brings it back
        podman("stop", "--time=1", container, check=True)
        down = fleet("ls", "--json")  # unreachable: what fleet knew, from its cache
        assert down.code == 1 and host_of(ref) in down.err, down.err
        assert f"{container} is exited: `fleet resume SESSION` starts it again" in down.err
        assert [s["status"] for s in down.json() if s["ref"] == ref] == ["lost"], down.out
        resumed = fleet("resume", ref)
        assert resumed.code == 0, resumed.err
        assert "start its container again (it was exited)" in resumed.err, resumed.err
        state = podman("inspect", "--format={{.State.Status}}", container).stdout.strip()
        assert state == "running"
        back = idle(fleet, ref)
        assert back["id"] == session["id"] and back["worktree"] == session["worktree"]
        got = podman("exec", container, "cat", note)
        assert got.stdout == "half done\n", got.stderr
    assert "work-in-progress.txt" in fleet.ok("diff", ref, "--stat").out
    fleet.ok("send", ref, "go on")
    wait_for(lambda: "go on" in received(container, session), 15, 0.3, "the message")
    # Resuming a running one changes nothing, and says so.
    again = fleet("resume", ref)
    assert again.code == 0 and "already running" in again.err, again.err


def test_two_tasks_from_one_repo_get_containers_that_cannot_see_each_other(
    fleet: Fleet, tmp_path: Path
) -> None:
    repo = local_repo(tmp_path)
    home_marker = Path.home() / f"fleet-host-home-{tmp_path.name}.txt"
    home_marker.write_text("the host's home\n")
    try:
        made = [new(fleet, repo, f"task {n}") for n in (1, 2)]
        sessions = [idle(fleet, ref) for ref, _ in made]
        assert made[0][1] != made[1][1]
        for n, ((_, container), s) in enumerate(zip(made, sessions, strict=True)):
            write_in(container, f"{s['worktree']}/secret-{n}-{tmp_path.name}.txt", f"{n}\n")
        for n, (_, container) in enumerate(made):
            # From inside: every file on every filesystem the container has, looked for.
            found = podman(
                "exec", container, "find", "/", "(", "-path", "/proc", "-o", "-path", "/sys",
                ")", "-prune", "-o", "(", "-name", f"secret-*-{tmp_path.name}.txt", "-o",
                "-name", home_marker.name, ")", "-print",
            )  # fmt: skip
            names = sorted(Path(p).name for p in found.stdout.split())
            assert names == [f"secret-{n}-{tmp_path.name}.txt"], (container, found.stdout)
            mounts = podman("inspect", "--format={{range .Mounts}}{{.Name}} {{end}}", container)
            assert mounts.stdout.split() == [container]
    finally:
        home_marker.unlink()


def _reaping_pool(fleet: Fleet) -> None:
    text = fleet.config.read_text()
    extra = text.split(f"[pools.{POOL}]")[1].split("[agents")[0]
    fleet.config.write_text(
        text + f'\n[pools.{POOL}-reap]{extra}remove = "after-land"\nidle_ttl = 3\n'
    )


def reap(fleet: Fleet) -> dict[str, dict[str, str]]:
    done = fleet.ok("pools", "reap", "--json").json()
    return {r["workspace"]: r for r in done}


def test_after_land_and_idle_ttl_remove_workspaces_but_never_unlanded_work(
    fleet: Fleet, tmp_path: Path
) -> None:
    _reaping_pool(fleet)
    repo = local_repo(tmp_path)
    busy_ref, busy = new(fleet, repo, "real work", pool=f"{POOL}-reap")
    idle_ref, quiet = new(fleet, repo, "nothing to do", pool=f"{POOL}-reap")
    busy_s = idle(fleet, busy_ref)
    idle(fleet, idle_ref)
    write_in(busy, busy_s["worktree"] + "/app.py", "print('changed')\n")
    wait_for(lambda: "app.py" in fleet.ok("diff", busy_ref, "--stat").out, 15, 0.3, "the diff")
    fleet.ok("approve", busy_ref, "-m", "the work")
    busy_ws, quiet_ws = busy_ref.split("/")[0], idle_ref.split("/")[0]

    # The idle one: a notice first, then (while still idle) removed; the one holding an
    # approved but unlanded commit is only reported, every pass.
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while quiet_ws in [w["name"] for p in fleet.ok("pools", "--json").json() for w in
                       p["workspaces"]]:  # fmt: skip
        assert time.monotonic() < deadline, seen
        passed = reap(fleet)
        if quiet_ws in passed:
            seen.append(passed[quiet_ws]["action"])
        if busy_ws in passed:
            assert passed[busy_ws]["action"] == "kept", passed[busy_ws]
            assert "not in" in passed[busy_ws]["detail"]
        time.sleep(0.5)
    assert seen[0] == "noticed" and seen[-1] == "reaped", seen
    assert podman("container", "exists", quiet).returncode == 1
    assert podman("volume", "exists", quiet).returncode == 1
    assert podman("container", "exists", busy).returncode == 0
    log = fleet.ok("log", idle_ref).out
    assert "reap-notice" in log and "rm" in log, log

    # Landing it brings the work home, and after-land removes its workspace and the remote.
    landed = fleet("land", busy_ref, "--into", str(repo))
    assert landed.code == 0, landed.err
    assert f"workspace {busy_ws} removed" in landed.out, landed.out
    assert podman("container", "exists", busy).returncode == 1
    git = ["git", "-C", str(repo)]
    shown = subprocess.run([*git, "show", f"fleet/{busy_ref}:app.py"], capture_output=True)
    assert shown.stdout == b"print('changed')\n", shown.stderr
    remotes = subprocess.run([*git, "remote"], capture_output=True, text=True).stdout.split()
    assert busy_ws not in remotes
    assert reap(fleet) == {}
