"""`fleet stop` ends everything a session started, daemons that left its tmux pane included; so
does an agent's own exit.

The agent here is a small script that does what real CLIs do (Codex's detached app-server, the
node children of Gemini CLI): it starts a plain child, and double-forks a daemon that calls
setsid, ignores SIGHUP and (on request) SIGTERM too, so neither the pane's process group nor
tmux's kill-session reaches it. Every process writes its pid down, so the test checks the real
processes on the host.
"""

from __future__ import annotations

import textwrap

import pytest

from fleet.core.remote.hostside import procs
from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet, LoopbackHost

AGENT = textwrap.dedent(
    """\
    import os, signal, sys, time
    session = os.environ["FLEET_SESSION"]
    stubborn = "--stubborn" in sys.argv

    def note(kind):
        path = os.path.expanduser("~/pids-%s" % session)
        with open(path, "a") as f:
            f.write("%s %d %d\\n" % (kind, os.getpid(), os.getsid(0)))

    if os.fork() == 0:  # a plain child: stays in the pane's process group
        note("child")
        while True:
            time.sleep(1)
    first = os.fork()
    if first == 0:  # a daemon: setsid, then fork again so it is nobody's child
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            if stubborn:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            note("daemon")
            while True:
                time.sleep(1)
        os._exit(0)
    os.waitpid(first, 0)
    note("agent")
    print("daemonic agent ready", flush=True)
    while True:
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line or line.strip() == "quit":
            break
    """
)


def _fleet(lf: LoopbackFleet) -> FleetCLI:
    script = lf.dir / "agents" / "daemonic.py"
    script.parent.mkdir(exist_ok=True)
    script.parent.chmod(0o755)
    script.write_text(AGENT)
    script.chmod(0o644)
    toml = textwrap.dedent(
        f"""
        [agents.daemonic]
        command = "python3 {script}"
        idle = ['^> ?\\Z']
        idle_after = 1.0

        [agents.stubborn]
        command = "python3 {script} --stubborn"
        idle = ['^> ?\\Z']
        idle_after = 1.0
        """
    )
    return FleetCLI(lf, toml)


def _pids(host: LoopbackHost, session_id: str) -> dict[str, tuple[int, int]]:
    """kind -> (pid, sid) as the agent's processes wrote them down."""
    path = host.home / f"pids-{session_id}"
    out: dict[str, tuple[int, int]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            kind, pid, sid = line.split()
            out[kind] = (int(pid), int(sid))
    return out


def _alive(pid: int, uid: int) -> bool:
    """Running as the host's user (a zombie waiting for its reaper does not count)."""
    return procs.owner(pid) == uid and procs.alive(pid)


def _start(fleet: FleetCLI, host: LoopbackHost, agent: str, name: str) -> tuple[str, dict]:
    session = fleet.ok(
        "new", host.name, "--repo", "~/repo", "--agent", agent, "--name", name, "--json"
    )
    session = session.json()
    ref = f"{host.name}/{name}"
    fleet.wait_status(ref, "idle")

    def all_three() -> dict[str, tuple[int, int]] | None:
        pids = _pids(host, session["id"])
        return pids if len(pids) == 3 else None

    pids = wait_for(all_three, what=f"{ref}'s three processes")
    for kind, (pid, _sid) in pids.items():
        assert _alive(pid, host.uid), f"{kind} {pid} is not running"
    return ref, pids


@pytest.mark.parametrize("agent", ["daemonic", "stubborn"])
def test_stop_ends_the_pane_and_the_daemon_that_left_it(
    fresh_hosts: LoopbackFleet, agent: str
) -> None:
    fleet = _fleet(fresh_hosts)
    host = fresh_hosts["alpha"]
    ref, pids = _start(fleet, host, agent, "busy")
    # The daemon really escaped: its own Unix session, not the pane's.
    assert pids["daemon"][1] != pids["agent"][1]
    assert pids["child"][1] == pids["agent"][1]

    stopped = fleet.ok("stop", ref)
    assert "stopped" in stopped.err
    for kind, (pid, _sid) in pids.items():
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 10, what=f"{kind} {pid} to end")
    assert fleet.sessions()[ref]["status"] == "stopped"


def test_a_daemon_other_sessions_of_the_agent_still_use_outlives_until_the_last_stop(
    fresh_hosts: LoopbackFleet,
) -> None:
    # Codex's app-server serves every Codex of the user: ending it under a running one breaks
    # that one's turns. So it goes with the last session of that agent on the host.
    fleet = _fleet(fresh_hosts)
    host = fresh_hosts["alpha"]
    first, first_pids = _start(fleet, host, "daemonic", "first")
    second, second_pids = _start(fleet, host, "daemonic", "second")
    other, other_pids = _start(fleet, host, "stubborn", "other-agent")

    fleet.ok("stop", first)
    for kind in ("agent", "child"):
        pid = first_pids[kind][0]
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 10, what=f"first {kind} to end")
    assert _alive(first_pids["daemon"][0], host.uid), "a daemon still in use was ended"
    for pid, _sid in (*second_pids.values(), *other_pids.values()):
        assert _alive(pid, host.uid), "a running session lost a process"

    fleet.ok("stop", second)
    for pid, _sid in (*first_pids.values(), *second_pids.values()):
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 10, what=f"{pid} to end")
    for pid, _sid in other_pids.values():
        assert _alive(pid, host.uid), "another agent's session lost a process"

    fleet.ok("stop", other)
    for pid, _sid in other_pids.values():
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 10, what=f"{pid} to end")


def test_processes_tagged_for_a_running_session_are_never_touched(
    fresh_hosts: LoopbackFleet,
) -> None:
    fleet = _fleet(fresh_hosts)
    host = fresh_hosts["alpha"]
    keep, keep_pids = _start(fleet, host, "stubborn", "keep")
    gone, gone_pids = _start(fleet, host, "daemonic", "gone")
    fleet.ok("stop", gone)
    for pid, _sid in gone_pids.values():
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 10, what=f"{pid} to end")
    for pid, _sid in keep_pids.values():
        assert _alive(pid, host.uid)
    assert fleet.sessions()[keep]["status"] == "idle"


def test_an_agent_that_exits_by_itself_leaves_no_daemon(fresh_hosts: LoopbackFleet) -> None:
    # Codex quitting on its own left its app-server running until the next `fleet stop`.
    fleet = _fleet(fresh_hosts)
    host = fresh_hosts["alpha"]
    quits, quits_pids = _start(fleet, host, "stubborn", "quits")
    keep, keep_pids = _start(fleet, host, "daemonic", "keep")
    fleet.ok("send", quits, "quit")
    fleet.wait_status(quits, "exited")
    for kind, (pid, _sid) in quits_pids.items():
        wait_for(lambda pid=pid: not _alive(pid, host.uid), 15, what=f"{kind} {pid} to end")
    for pid, _sid in keep_pids.values():
        assert _alive(pid, host.uid), "another session lost a process"
    assert fleet.sessions()[keep]["status"] == "idle"
