"""Local state for real: the store follows hosts through cuts, silent drops, sshd restarts and
a kill -9 of the supervisor, and every line an agent prints is kept exactly once, in order."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fleet.core.config import load_config
from fleet.core.store import Store
from fleet.core.supervisor import Supervisor
from tests.integration.faults import FaultyProxy
from tests.integration.fleetrun import FleetCLI, wait_for
from tests.integration.hosts import LoopbackFleet

COUNTER = textwrap.dedent(
    """\
    import sys, time
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    for i in range(n):
        print("line %05d" % i, flush=True)
        time.sleep(0.002)
    print("all printed", flush=True)
    time.sleep(3600)
    """
)
LINE = re.compile(rb"line (\d{5})")


def counter_fleet(lf: LoopbackFleet, via_proxy: int | None = None) -> FleetCLI:
    """A FleetCLI with a `counter` agent; with via_proxy, alpha is reached through that port."""
    agents = lf.dir / "agents"
    agents.mkdir(exist_ok=True)
    counter = agents / "counter.py"
    counter.write_text(COUNTER)
    counter.chmod(0o644)
    extra = f'\n[agents.counter]\ncommand = "python3 {counter} {{task}}"\nidle_after = 1.0\n'
    fleet = FleetCLI(lf, extra_toml=extra)
    if via_proxy is not None:
        alpha = lf["alpha"]
        ssh_config = lf.dir / "proxied.ssh_config"
        known = lf.dir / "proxied.known_hosts"
        known.write_text(
            lf.known_hosts.read_text()
            + f"[127.0.0.1]:{via_proxy} {' '.join(alpha.host_key_line.split()[:2])}\n"
        )
        ssh_config.write_text(
            f"Host alpha\n  HostName 127.0.0.1\n  Port {via_proxy}\n  User {alpha.user}\n"
            f"  IdentityFile {lf.client_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {known}\n"
        )
        text = fleet.config.read_text().replace(str(lf.ssh_config), str(ssh_config))
        text = text.replace("[ssh]\n", "[ssh]\nkeepalive = 0.5\nkeepalive_count = 2\n", 1)
        fleet.config.write_text(text)
    return fleet


def numbers(data: bytes) -> list[int]:
    return [int(m) for m in LINE.findall(data)]


async def stored_output(store: Store, host: str, session_id: str) -> bytes:
    await store.flush()
    _, data = await store.output(host, session_id)
    return data


async def follow_until(
    sup: Supervisor,
    store: Store,
    host: str,
    session_id: str,
    count: int,
    faults: Any = None,
    timeout: float = 60,
) -> bytes:
    """Mirror `host` into the store until the session printed everything; run `faults(n)`
    each time more output arrived (n = lines stored so far)."""

    async def run() -> bytes:
        async for event in sup.mirror(host):
            if event.get("type") == "output" and event.get("session") == session_id:
                data = await stored_output(store, host, session_id)
                if faults is not None:
                    await faults(len(numbers(data)))
                if b"all printed" in data:
                    return data
        raise AssertionError("the mirror ended")

    return await asyncio.wait_for(run(), timeout)


def assert_exactly_once(data: bytes, count: int) -> None:
    got = numbers(data)
    assert got == list(range(count)), (
        f"{len(got)} lines; first problem at {next((i for i, n in enumerate(got) if n != i), None)}"
    )


@pytest.mark.parametrize("fault", ["fin", "rst", "blackhole"])
async def test_output_survives_a_network_fault_exactly_once(
    fresh_hosts: LoopbackFleet, tmp_path: Path, fault: str
) -> None:
    count = 2500
    with FaultyProxy(fresh_hosts["alpha"].port) as proxy:
        fleet = counter_fleet(fresh_hosts, via_proxy=proxy.port)
        config = load_config(fleet.config)
        async with (
            await Store.open(tmp_path / "fleet.db") as store,
            Supervisor(config, store=store) as sup,
        ):
            session = await sup.new_session(
                "alpha", "~/repo", agent="counter", name="count", task=str(count)
            )
            done = False

            async def faults(lines: int) -> None:
                nonlocal done
                if done or lines < 300:
                    return
                done = True
                if fault == "blackhole":
                    proxy.blackhole()
                    # keepalive 0.5 s x 2: the silent drop is noticed, then the network heals.
                    await asyncio.sleep(2.5)
                    proxy.heal()
                else:
                    proxy.cut(rst=fault == "rst")

            data = await follow_until(sup, store, "alpha", session.id, count, faults)
            assert done
            assert proxy.connections >= 2, "the fault should have forced a reconnect"
            assert_exactly_once(data, count)


async def test_output_survives_an_sshd_restart(fresh_hosts: LoopbackFleet, tmp_path: Path) -> None:
    count = 2500
    fleet = counter_fleet(fresh_hosts)
    config = load_config(fleet.config)
    async with (
        await Store.open(tmp_path / "fleet.db") as store,
        Supervisor(config, store=store) as sup,
    ):
        session = await sup.new_session(
            "alpha", "~/repo", agent="counter", name="count", task=str(count)
        )
        restarted = False

        async def faults(lines: int) -> None:
            nonlocal restarted
            if not restarted and lines >= 300:
                restarted = True
                await asyncio.to_thread(fresh_hosts.restart_host, "alpha")

        data = await follow_until(sup, store, "alpha", session.id, count, faults)
        assert restarted and sup.links["alpha"].connects >= 2
        assert_exactly_once(data, count)
        # What changed since the person last looked: every new line counts once.
        cached = await store.session("alpha", session.id)
        assert cached is not None and cached.unread >= count
        sup.mark_read(cached.session)
        await store.flush()
        cached = await store.session("alpha", session.id)
        assert cached is not None and cached.unread == 0


def test_output_survives_kill_9_of_the_supervisor(fresh_hosts: LoopbackFleet) -> None:
    count = 4000
    fleet = counter_fleet(fresh_hosts)
    fleet.ok(
        "new", "alpha", "--repo", "~/repo", "--agent", "counter", "--name", "count", str(count)
    )
    db = Path(fleet.env["FLEET_HOME"]) / "fleet.db"

    def stored() -> bytes:
        async def read() -> bytes:
            async with await Store.open(db) as store:
                cached = await store.sessions("alpha")
                if not cached:
                    return b""
                return (await store.output("alpha", cached[0].session.id))[1]

        return asyncio.run(read())

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "fleet", "watch", "alpha"],
            env=fleet.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    watcher = start()
    wait_for(lambda: len(numbers(stored())) >= 300, timeout=30, what="output to be stored")
    os.kill(watcher.pid, signal.SIGKILL)
    watcher.wait(10)
    watcher = start()
    try:
        data = wait_for(
            lambda: (d := stored()) and b"all printed" in d and d,
            timeout=60,
            what="all output to be stored after the restart",
        )
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(10)
    assert_exactly_once(data, count)


def test_ls_from_the_cache_when_every_host_is_down(fresh_hosts: LoopbackFleet) -> None:
    fleet = FleetCLI(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "a1")
    fleet.ok("new", "beta", "--repo", "~/repo", "--agent", "recorder", "--name", "b1")
    fleet.wait_status("alpha/a1", "idle")
    fleet.wait_status("beta/b1", "idle")
    fresh_hosts.stop_host("alpha")
    fresh_hosts.stop_host("beta")
    result = fleet("ls", "--json")
    assert result.code == 1
    rows = {r["ref"]: r for r in result.json()}
    assert set(rows) == {"alpha/a1", "beta/b1"}
    for row in rows.values():
        assert row["cached"] and row["status"] == "lost" and row["last_status"] == "idle"
    assert "from its cache" in result.err
    table = fleet("ls")
    assert "lost (idle when last seen)" in table.out
    log = fleet.ok("log", "alpha/a1")  # the audit log needs no host
    assert "new" in log.out
    cached = fleet.ok("ls", "--cached", "--json").json()  # asks no host, so succeeds
    assert {r["ref"]: r["status"] for r in cached} == {"alpha/a1": "idle", "beta/b1": "idle"}
    assert all(r["cached"] for r in cached)


def test_sessions_started_elsewhere_are_adopted_and_vanished_ones_marked(
    fresh_hosts: LoopbackFleet, tmp_path: Path
) -> None:
    fleet = FleetCLI(fresh_hosts)
    other = FleetCLI(fresh_hosts)  # another laptop: its own state directory
    other.env["FLEET_HOME"] = str(tmp_path / "other-laptop")
    other.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "theirs")
    rows = {r["ref"]: r for r in fleet.ok("ls", "--json").json()}
    assert "alpha/theirs" in rows and not rows["alpha/theirs"]["gone"]
    session_dir = fresh_hosts["alpha"].home / ".fleet" / "sessions" / rows["alpha/theirs"]["id"]
    fresh_hosts.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=False)
    fresh_hosts.run_as("alpha", ["rm", "-rf", str(session_dir)])
    rows = {r["ref"]: r for r in fleet.ok("ls", "--json").json()}
    assert rows["alpha/theirs"]["gone"], "a session that vanished must stay listed, as gone"
    assert "gone" in fleet.ok("ls").out


def test_the_audit_log_records_actions_in_order(fresh_hosts: LoopbackFleet) -> None:
    fleet = FleetCLI(fresh_hosts)
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "r")
    fleet.wait_status("alpha/r", "idle")
    fleet.ok("send", "alpha/r", "say 'hi'; $(id)")
    fleet.ok("stop", "alpha/r")
    fleet.ok("resume", "alpha/r")
    entries = fleet.ok("log", "alpha/r", "--json").json()
    kinds = [e["kind"] for e in entries]
    assert kinds[:1] == ["new"] and "send" in kinds and "stop" in kinds and "resume" in kinds
    assert kinds.index("send") < kinds.index("stop") < kinds.index("resume")
    sent = next(e for e in entries if e["kind"] == "send")
    assert sent["detail"]["text"] == "say 'hi'; $(id)"
