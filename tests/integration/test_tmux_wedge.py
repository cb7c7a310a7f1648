"""A tmux server that got stuck, on real loopback hosts.

tmux tells every control client about what happens in the session it is attached to (a window
renamed, sessions made and ended), whatever its `no-output` flag. Once told to exit
(`tmux kill-server`), the server ends every session but waits, without a timeout, until each
control client has taken all it is owed, and closes every new connection at once meanwhile:
every tmux command says "server exited unexpectedly". A control client whose output nobody
reads keeps it so forever. Here: fleet's own clients never do that; a host in that state is
reported by `fleet hosts` and `fleet doctor` (and repaired where that is safe); and a
`fleet new` that fails at its tmux step leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.core.config import load_config
from fleet.core.remote.hostside import procs
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import SAFE_PATH, LoopbackFleet, LoopbackHost
from tests.integration.procfs import control_clients, serve_processes

RENAMES = 2500  # window renames: more news than a pipe holds (64 kB) for an unread client
LOST = "server exited unexpectedly"

# A control client whose output nobody reads (as a helper of a dead connection, or one
# that reads only when it asks something, leaves it).
DEAF_READER = """
import subprocess, sys, time
client = subprocess.Popen(
    ["tmux", "-L", "fleet", "-C", "attach-session", "-t", "=" + sys.argv[1]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
)
print(client.pid, flush=True)
time.sleep(3600)
"""


@pytest.fixture
def fleet(fresh_hosts: LoopbackFleet) -> Iterator[FleetCLI]:
    yield FleetCLI(fresh_hosts)


def tmux_says(lf: LoopbackFleet, host: str, *args: str) -> str:
    """What `tmux -L fleet ARGS` prints on stderr as the host's user (a few seconds at most)."""
    try:
        done = lf.run_as(host, ["tmux", "-L", "fleet", *args], timeout=10)
    except subprocess.TimeoutExpired:
        return "(no answer)"
    return done.stderr.strip()


def flood(lf: LoopbackFleet, host: str, session: str) -> None:
    """News for every control client attached to `session`: its window renamed many times."""
    for start in range(0, RENAMES, 100):
        argv = ["tmux", "-L", "fleet"]
        for n in range(start, start + 100):
            argv += ["rename-window", "-t", f"={session}:", f"renamed-window-{n:05d}", ";"]
        lf.run_as(host, argv[:-1], check=True)


def as_user(h: LoopbackHost, argv: list[str]) -> subprocess.Popen[str]:
    env = {"HOME": str(h.home), "USER": h.user, "PATH": SAFE_PATH, "LANG": "C.UTF-8"}
    return subprocess.Popen(
        argv,
        user=h.uid,
        group=h.gid,
        extra_groups=[],
        env=env,
        cwd=h.home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wedge(lf: LoopbackFleet, host: str) -> int:
    """Leave fleet's tmux server on `host` stuck in its exit; the pid of the client holding it."""
    h = lf[host]
    lf.run_as(host, ["tmux", "-L", "fleet", "new-session", "-d", "-s", "held", "sleep 600"])
    reader = as_user(h, ["python3", "-c", DEAF_READER, "held"])
    assert reader.stdout is not None
    holder = int(reader.stdout.readline())
    wait_for(lambda: holder in control_clients(h.uid), what="the unread client to attach")
    flood(lf, host, "held")
    lf.run_as(host, ["tmux", "-L", "fleet", "kill-server"], check=True)
    wait_for(lambda: LOST in tmux_says(lf, host, "ls"), what="the server to be stuck")
    return holder


def fleet_leftovers(lf: LoopbackFleet, host: str) -> dict[str, object]:
    """What fleet made on the host: session directories, worktrees, branches, git worktrees."""
    h = lf[host]
    base = h.home / ".fleet"
    git = ["git", "-C", str(h.repo)]
    branches = lf.run_as(host, [*git, "branch", "--list", "fleet/*"], check=True).stdout.split()
    listed = lf.run_as(host, [*git, "worktree", "list", "--porcelain"], check=True).stdout
    worktrees = listed.count("worktree ")
    return {
        "sessions": sorted(p.name for p in (base / "sessions").glob("*")),
        "worktrees": sorted(p.name for p in (base / "worktrees").glob("*")),
        "branches": [b for b in branches if b != "*"],
        "git worktrees": worktrees,
    }


async def test_fleets_control_clients_never_keep_an_exiting_tmux_server(fleet: FleetCLI) -> None:
    lf = fleet.lf
    host = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "w1")
    first = fleet.wait_status("alpha/w1", "idle")
    fleet.ok("send", "alpha/w1", "hello")  # the watcher captures: its client attaches
    wait_for(lambda: control_clients(host.uid), what="the watcher's control client")
    async with Supervisor(load_config(fleet.config)) as sup:
        await sup.send("alpha/w1", "over the serve helper")  # its client attaches too
        serving = wait_for(lambda: serve_processes(host.uid), what="the serve helper")
        wait_for(lambda: len(control_clients(host.uid)) >= 2, what="both control clients")
        # Neither asks tmux anything now (the agent is idle): the news piles up for them.
        flood(lf, "alpha", f"fleet-{first['id']}")
        lf.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=True)
        said = wait_for(
            lambda: (lambda s: s if LOST not in s else None)(tmux_says(lf, "alpha", "ls")),
            timeout=15,
            what="tmux to finish exiting (not stuck: 'server exited unexpectedly')",
        )
        assert "no server running" in said or "error connecting" in said, said

        # The same serve helper steers the next server's session over a new control client.
        fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "w2")
        second = fleet.wait_status("alpha/w2", "idle")
        await sup.send("alpha/w2", "after the restart")
        wait_for(
            lambda: any(procs.parent(c) in serving for c in control_clients(host.uid)),
            what="a control client of the same serve helper on the new server",
        )
        received = host.home / f"received-{second['id']}.jsonl"
        wait_for(lambda: "after the restart" in received.read_text(), what="the steer")


def test_hosts_and_doctor_report_a_stuck_tmux_and_doctor_repairs_it(fleet: FleetCLI) -> None:
    lf = fleet.lf
    holder = wedge(lf, "alpha")

    hosts = fleet("hosts")
    assert hosts.code == 1, hosts
    rows = {line.split()[0]: line for line in hosts.out.splitlines()[1:]}
    assert "tmux stuck" in rows["alpha"] and " ok " not in rows["alpha"], hosts.out
    assert " ok " in rows["beta"], hosts.out
    as_json = {h["name"]: h for h in fleet("hosts", "--json").json()}
    assert as_json["alpha"]["tmux"]["state"] == "wedged", as_json["alpha"]
    assert as_json["alpha"]["tmux"]["holders"] == [holder], as_json["alpha"]
    assert as_json["beta"]["tmux"]["state"] in ("none", "alive"), as_json["beta"]

    doctor = fleet("doctor")
    assert doctor.code == 1, doctor.out
    line = next(x for x in doctor.out.splitlines() if "tmux server" in x and "fail" in x)
    assert LOST in line, doctor.out
    assert "fleet doctor --repair" in doctor.out, doctor.out
    assert "0 failed" not in doctor.out

    repaired = fleet("doctor", "--repair")
    assert f"ended fleet's tmux control clients {holder}" in repaired.out, repaired.out
    assert LOST not in tmux_says(lf, "alpha", "ls")
    assert fleet("hosts").code == 0


def test_new_on_a_stuck_server_held_by_fleets_own_client_repairs_it_and_starts(
    fleet: FleetCLI,
) -> None:
    wedge(fleet.lf, "alpha")
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "after")
    fleet.wait_status("alpha/after", "idle")


def test_new_refuses_on_a_server_that_does_not_answer_and_makes_nothing(fleet: FleetCLI) -> None:
    lf = fleet.lf
    lf.run_as("alpha", ["tmux", "-L", "fleet", "new-session", "-d", "-s", "mine", "sleep 600"])
    pid = int(
        lf.run_as("alpha", ["tmux", "-L", "fleet", "display", "-p", "#{pid}"], check=True).stdout
    )
    os.kill(pid, 19)  # SIGSTOP: a server that may hold live work, which fleet never kills
    try:
        refused = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "n1")
    finally:
        os.kill(pid, 18)  # SIGCONT
    assert refused.code == 1, refused
    assert "does not answer" in refused.err and "stopped" in refused.err, refused.err
    assert "nothing was made" in refused.err and "fleet doctor" in refused.err, refused.err
    assert "Traceback" not in refused.err
    assert fleet.sessions() == {}
    assert fleet_leftovers(lf, "alpha") == {
        "sessions": [],
        "worktrees": [],
        "branches": [],
        "git worktrees": 1,
    }


BROKEN_TMUX = """#!/bin/sh
for word in "$@"; do
  if [ "$word" = new-session ]; then
    echo "open terminal failed: not a terminal (broken on purpose)" >&2
    exit 1
  fi
done
exec REAL "$@"
"""


def test_a_new_that_fails_at_its_tmux_step_leaves_nothing_behind(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "kept")
    fleet.wait_status("alpha/kept", "idle")
    before = fleet_leftovers(lf, "alpha")
    # A tmux on this user's PATH that cannot start a session (sshd runs commands through
    # bash, which reads ~/.bashrc first).
    tools = h.home / "tools"
    tools.mkdir()
    real = shutil.which("tmux", path=SAFE_PATH)
    assert real is not None
    (tools / "tmux").write_text(BROKEN_TMUX.replace("REAL", real))
    (tools / "tmux").chmod(0o755)
    bashrc = h.home / ".bashrc"
    bashrc.write_text(f"PATH={tools}:$PATH\n" + (bashrc.read_text() if bashrc.exists() else ""))
    for p in (tools, tools / "tmux", bashrc):
        os.chown(p, h.uid, h.gid)

    failed = fleet("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "bad")
    assert failed.code == 1, failed
    assert "not a terminal (broken on purpose)" in failed.err, failed.err
    assert "Nothing was left behind" in failed.err, failed.err
    assert "Traceback" not in failed.err

    assert set(fleet.sessions()) == {"alpha/kept"}
    cached = fleet.ok("ls", "--cached", "--json").json()
    assert [s["ref"] for s in cached] == ["alpha/kept"], cached
    assert fleet_leftovers(lf, "alpha") == before
    # The journal never heard of it either (the TUI and `fleet watch` follow the journal).
    journal = (h.home / ".fleet" / "journal.jsonl").read_text()
    assert '"bad"' not in journal


def test_a_stale_socket_is_reported_as_no_server_and_removed_on_repair(fleet: FleetCLI) -> None:
    lf = fleet.lf
    h = lf["alpha"]
    lf.run_as("alpha", ["tmux", "-L", "fleet", "new-session", "-d", "-s", "gone", "sleep 600"])
    pid = int(
        lf.run_as("alpha", ["tmux", "-L", "fleet", "display", "-p", "#{pid}"], check=True).stdout
    )
    os.kill(pid, 9)  # killed: its socket file stays
    sock = Path(f"/tmp/tmux-{h.uid}/fleet")
    wait_for(lambda: sock.exists() and "no server running" in tmux_says(lf, "alpha", "ls"))
    alpha = {x["name"]: x for x in fleet("hosts", "--json").json()}["alpha"]
    assert alpha["tmux"]["state"] == "none" and alpha["tmux"]["detail"] == "stale socket", alpha
    assert fleet("hosts").code == 0  # fine: tmux replaces it by itself
    repaired = fleet("doctor", "--repair")
    assert "removed the stale socket" in repaired.out, repaired.out
    assert not sock.exists()
