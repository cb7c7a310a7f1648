"""Plain helper calls share one long-lived `helper serve` process per host (client.py,
hostside/serve.py), on real sshd hosts: many calls at once over one channel, a read-only
call after the connection was cut works, and a steering message cut in flight is never
typed twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess

import pytest

from fleet.core.config import load_config
from fleet.core.errors import HostUnreachable, RemoteError
from fleet.core.remote.hostside import procs, protocol
from fleet.core.supervisor import Supervisor
from tests.integration.faults import FaultyProxy, cut_once_it_arrived
from tests.integration.fleetrun import FleetCLI, received_lines, wait_for
from tests.integration.hosts import LoopbackFleet
from tests.integration.procfs import control_clients, serve_processes
from tests.reliability.common import fault_fleet


async def start_recorder(fleet: FleetCLI, name: str) -> str:
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", name
    )
    session = await asyncio.to_thread(fleet.wait_status, f"alpha/{name}", "idle")
    return str(session["id"])


async def test_many_concurrent_calls_share_one_channel(fresh_hosts: LoopbackFleet) -> None:
    fleet = FleetCLI(fresh_hosts)
    sid = await start_recorder(fleet, "c")
    alpha = fresh_hosts["alpha"]
    async with Supervisor(load_config(fleet.config)) as sup:
        helper = sup.helper("alpha")
        calls = [helper.call("screen", {"session": sid}) for _ in range(40)]
        calls += [helper.call("hello") for _ in range(20)]
        calls += [helper.call("list") for _ in range(20)]
        answers = await asyncio.gather(*calls)
        assert all("text" in a for a in answers[:40])
        assert all(a["protocol"] == protocol.VERSION for a in answers[40:60])
        assert all(any(row["id"] == sid for row in a) for a in answers[60:])
        # One serve process on the host for all 80 calls, on the one connection.
        assert len(serve_processes(alpha.uid)) == 1, serve_processes(alpha.uid)
        assert sup.links["alpha"].connects == 1
    # The client closed its side: the serve process ends with it.
    await asyncio.to_thread(
        wait_for, lambda: not serve_processes(alpha.uid), 20, 0.05, "the serve process to end"
    )


async def test_a_read_only_call_after_a_cut_works(fresh_hosts: LoopbackFleet) -> None:
    alpha = fresh_hosts["alpha"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port}, keepalive=(5, 3))
        sid = await start_recorder(fleet, "rd")
        async with Supervisor(load_config(fleet.config)) as sup:
            helper = sup.helper("alpha")
            await helper.call("screen", {"session": sid})
            for rst in (False, True):
                proxy.cut(rst=rst)
                # Right after the cut, before the client may have noticed: asked again on
                # a new connection, never an error for the person.
                answer = await helper.call("screen", {"session": sid})
                assert isinstance(answer.get("text"), str)
            assert sup.links["alpha"].connects == 3


async def test_a_send_cut_in_flight_is_never_sent_twice(fresh_hosts: LoopbackFleet) -> None:
    alpha = fresh_hosts["alpha"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port}, keepalive=(5, 3))
        sid = await start_recorder(fleet, "s")
        async with Supervisor(load_config(fleet.config)) as sup:
            helper = sup.helper("alpha")
            await helper.call("hello")  # the serve channel is open before the fault

            # The host typed it; the answer is cut on its way back.
            args = {"session": sid, "text": "once", "enter": True}
            send = await cut_once_it_arrived(proxy, alpha, sid, "once", helper.call("send", args))
            with pytest.raises(HostUnreachable, match="connection lost during send"):
                await send
            proxy.heal()

            # Through the supervisor the person is told it may have arrived.
            proxy.slow(0.6, "down")
            steer = asyncio.create_task(sup.send(f"alpha/{sid}", "twice?"))
            await asyncio.to_thread(
                wait_for, lambda: "twice?" in received_lines(alpha, sid), 20, 0.02, "twice?"
            )
            assert not steer.done()
            proxy.cut(rst=True)
            with pytest.raises(HostUnreachable, match="may or may not have reached"):
                await steer
            proxy.heal()

            # A later message arrives after them: had either been sent again, it would show.
            await helper.call("send", {"session": sid, "text": "after", "enter": True})
            await asyncio.to_thread(
                wait_for, lambda: "after" in received_lines(alpha, sid), 20, 0.05, "after"
            )
            assert received_lines(alpha, sid) == ["once", "twice?", "after"]


STEERS = ["plain", "ends with a semicolon;", "ends escaped \\;", "$(id) `x` #{pane_pid} %s"]


async def test_a_steer_types_over_the_serve_helpers_control_client(
    fresh_hosts: LoopbackFleet,
) -> None:
    fleet = FleetCLI(fresh_hosts)
    sid = await start_recorder(fleet, "ctl")
    alpha = fresh_hosts["alpha"]
    async with Supervisor(load_config(fleet.config)) as sup:
        helper = sup.helper("alpha")
        for text in STEERS:
            await helper.call("send", {"session": sid, "text": text})
        got = await asyncio.to_thread(
            wait_for,
            lambda: (lines := received_lines(alpha, sid)) == STEERS and lines,
            15,
            0.05,
            "every steer",
        )
        assert got == STEERS
        serving = set(serve_processes(alpha.uid))
        ours = [pid for pid in control_clients(alpha.uid) if procs.parent(pid) in serving]
        assert len(ours) == 1, (ours, serving)
    # A one-shot helper (no control client) types the same text by forking tmux.
    helper_file = next((alpha.home / ".fleet").glob("helper-*.pyz"))
    request = {"op": "send", "args": {"session": sid, "text": STEERS[2]}}
    answer = await asyncio.to_thread(
        subprocess.run,
        [
            "ssh",
            "-F",
            str(fresh_hosts.ssh_config),
            "-o",
            "BatchMode=yes",
            "alpha",
            f"python3 .fleet/{helper_file.name}",
        ],
        input=(json.dumps(request) + "\n").encode(),
        capture_output=True,
        timeout=60,
    )
    assert json.loads(answer.stdout)["ok"] is True, answer
    await asyncio.to_thread(
        wait_for,
        lambda: received_lines(alpha, sid) == [*STEERS, STEERS[2]],
        15,
        0.05,
        "the forked steer",
    )


async def test_a_send_whose_helper_dies_midway_may_or_may_not_have_arrived(
    fresh_hosts: LoopbackFleet,
) -> None:
    recorder = fresh_hosts.dir / "agents" / "recorder.py"
    # The recorder with a long pause before Enter: the send is under way for seconds.
    fleet = FleetCLI(
        fresh_hosts,
        f"""
[agents.slow]
command = "python3 {recorder} {{task}}"
idle = ['^> ?\\\\Z']
idle_after = 1.0
enter_delay = 4.0
""",
    )
    sid = await start_recorder(fleet, "r")  # makes the recorder script on the host
    await asyncio.to_thread(
        fleet.ok, "new", "alpha", "--repo", "~/repo", "--agent", "slow", "--name", "slow"
    )
    await asyncio.to_thread(fleet.wait_status, "alpha/slow", "idle")
    alpha = fresh_hosts["alpha"]
    async with Supervisor(load_config(fleet.config)) as sup:
        session = await sup.find("alpha/slow")
        steer = asyncio.create_task(sup.send("alpha/slow", "half typed"))

        async def typed() -> bool:
            screen = await sup.helper("alpha").call("screen", {"session": session.id})
            return "half typed" in screen["text"]

        deadline = asyncio.get_running_loop().time() + 20
        while not await typed():
            assert asyncio.get_running_loop().time() < deadline, "the text was never typed"
            await asyncio.sleep(0.05)
        assert not steer.done()
        for pid in serve_processes(alpha.uid):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(RemoteError, match="may or may not have reached alpha/slow"):
            await steer
    assert received_lines(alpha, sid) == []  # the other session got nothing
