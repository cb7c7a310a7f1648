"""Network faults between fleet and its hosts: a connection cut (FIN, RST) or silently dropped
(blackhole, found by keepalive) mid-stream, sshd restarted, a steering message or a review
decision cut in flight, and one host answering in seconds while the others do not wait for it.

For each: what the person sees (what `fleet watch` prints, `fleet ls`, the TUI's model), and
proof that no event, output byte, steering message or decision is lost or applied twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fleet.core.config import load_config
from fleet.core.errors import FleetError, HostUnreachable, UsageError
from fleet.core.store import CachedHost, Store
from fleet.core.supervisor import Supervisor
from fleet.ui.app import FleetApp
from fleet.ui.widgets.grid import SessionGrid
from tests.integration.faults import FaultyProxy, cut_once_it_arrived
from tests.integration.fleetrun import (
    FleetCLI,
    git_in,
    pilot_until,
    received_lines,
    wait_for,
    write_as_agent,
)
from tests.integration.hosts import LoopbackFleet
from tests.reliability.common import (
    Trail,
    assert_exactly_once,
    check_store_matches,
    fault_fleet,
    follow_until,
    stored_session,
)


def text_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def store_path(fleet: FleetCLI) -> Path:
    """The store the CLI uses too, so `fleet ls` shows what the test's supervisor recorded."""
    return Path(fleet.env["FLEET_HOME"]) / "fleet.db"


async def check_ls_after(fleet: FleetCLI, ref: str, count: int) -> None:
    """What the person sees afterwards: the session live (not lost, not cached), every line
    counted once as new."""
    rows = {r["ref"]: r for r in (await asyncio.to_thread(fleet.ok, "ls", "--json")).json()}
    row = rows[ref]
    assert not row["cached"] and not row["gone"] and row["status"] in ("working", "idle")
    assert row["unread"] >= count + 1  # every line once, plus the "all printed" line


@pytest.mark.parametrize("fault", ["fin", "rst", "blackhole"])
async def test_output_and_events_survive_a_network_fault_exactly_once(
    fresh_hosts: LoopbackFleet, fault: str
) -> None:
    count = 2500
    alpha = fresh_hosts["alpha"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port})
        config = load_config(fleet.config)
        trail = Trail("alpha")
        async with (
            await Store.open(store_path(fleet)) as store,
            Supervisor(config, store=store) as sup,
        ):
            session = await sup.new_session(
                "alpha", "~/repo", agent="counter", name="count", task=str(count)
            )
            done = False
            during: list[CachedHost] = []
            hole: asyncio.Task[None] | None = None

            async def blackhole() -> None:
                # keepalive 0.5 s x 2 notices the silent drop: the store (what `fleet ls`
                # and the TUI read) says the host is unreachable, and why; then it heals.
                proxy.blackhole()
                for _ in range(300):
                    await store.flush()
                    state = (await store.hosts())["alpha"]
                    if state.state == "unreachable":
                        during.append(state)
                        break
                    await asyncio.sleep(0.05)
                proxy.heal()

            async def faults(lines: int) -> None:
                nonlocal done, hole
                if done or lines < 300:
                    return
                done = True
                if fault == "blackhole":
                    hole = asyncio.create_task(blackhole())  # the mirror must keep running
                else:
                    proxy.cut(rst=fault == "rst")

            data = await follow_until(sup, store, "alpha", session.id, trail, faults)
            if hole is not None:
                await hole
            assert done and proxy.connections >= 2, "the fault should have forced a reconnect"
            assert_exactly_once(data, count)
            trail.check_against(alpha)
            await check_store_matches(store, alpha, trail)

            seen = trail.seen_lines(sup)
            down = next(i for i, line in enumerate(seen) if line.startswith("alpha unreachable:"))
            assert "retry in" in seen[down]
            assert "alpha connected" in seen[down:], f"no reconnection shown: {seen}"
            if fault == "blackhole":
                assert during and during[0].state == "unreachable" and during[0].reason
            await store.flush()
        await check_ls_after(fleet, "alpha/count", count)


async def test_output_and_events_survive_an_sshd_restart(fresh_hosts: LoopbackFleet) -> None:
    count = 2500
    alpha = fresh_hosts["alpha"]
    fleet = fault_fleet(fresh_hosts)
    config = load_config(fleet.config)
    trail = Trail("alpha")
    async with (
        await Store.open(store_path(fleet)) as store,
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

        data = await follow_until(sup, store, "alpha", session.id, trail, faults)
        assert restarted and sup.links["alpha"].connects >= 2
        assert_exactly_once(data, count)
        trail.check_against(alpha)
        await check_store_matches(store, alpha, trail)
        assert any(line.startswith("alpha unreachable:") for line in trail.seen_lines(sup))
        # What changed since the person last looked: every new line counts once.
        cached = await stored_session(store, "alpha", session.id)
        assert cached is not None and cached.unread >= count
        await store.flush()
    await check_ls_after(fleet, "alpha/count", count)
    async with await Store.open(store_path(fleet)) as store:
        cached = await stored_session(store, "alpha", session.id)
        assert cached is not None
        Supervisor(config, store=store).mark_read(cached.session)
        await store.flush()
        cached = await stored_session(store, "alpha", session.id)
        assert cached is not None and cached.unread == 0


async def start_recorder(fleet: FleetCLI, name: str, host: str = "alpha") -> dict[str, Any]:
    await asyncio.to_thread(
        fleet.ok, "new", host, "--repo", "~/repo", "--agent", "recorder", "--name", name
    )
    session: dict[str, Any] = await asyncio.to_thread(fleet.wait_status, f"{host}/{name}", "idle")
    return session


async def test_a_steering_message_cut_in_flight_arrives_once_or_fails_clearly(
    fresh_hosts: LoopbackFleet,
) -> None:
    alpha = fresh_hosts["alpha"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port}, keepalive=(5, 3))
        sid = (await start_recorder(fleet, "r"))["id"]
        config = load_config(fleet.config)
        async with (
            await Store.open(store_path(fleet)) as store,
            Supervisor(config, store=store) as sup,
        ):
            await sup.list_sessions()

            # 1. Cut before the message leaves: it must fail, and nothing reaches the agent.
            proxy.blackhole()
            first = asyncio.create_task(sup.send("alpha/r", "first"))
            await asyncio.sleep(
                0.3
            )  # let it get stuck in flight; the outcome must not depend on it
            proxy.refuse()  # and the host stays away for a moment: a reconnect fails too
            proxy.cut()
            with pytest.raises(HostUnreachable) as lost:
                await first
            assert str(lost.value).startswith("alpha: ") and "Traceback" not in str(lost.value)
            proxy.heal()

            # 2. Cut after the host typed it, before the answer came back: the person is told
            # it may have arrived (so they look before sending again); it arrived once.
            second = await cut_once_it_arrived(
                proxy, alpha, sid, "second", sup.send("alpha/r", "second")
            )
            with pytest.raises(HostUnreachable) as unsure:
                await second
            assert "may or may not have reached alpha/r" in str(unsure.value)
            assert "fleet screen alpha/r" in str(unsure.value)
            proxy.heal()

            await sup.send("alpha/r", "third")  # the link works again
            await asyncio.to_thread(
                wait_for, lambda: "third" in received_lines(alpha, sid), 20, 0.1, "third"
            )
            assert received_lines(alpha, sid) == ["second", "third"]
            await store.flush()
            log = [(a.kind, a.detail) for a in await store.audit_log("alpha", sid)]
            sends = [d.get("text") for k, d in log if k == "send"]
            assert sends == ["second", "third"], "every message sent is audited, once"
            assert [k for k, _ in log].count("send-unconfirmed") == 1


async def test_a_review_decision_cut_in_flight_is_applied_once(fresh_hosts: LoopbackFleet) -> None:
    alpha = fresh_hosts["alpha"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port}, keepalive=(5, 3))
        sid = (await start_recorder(fleet, "rv"))["id"]
        wt = alpha.home / ".fleet/worktrees/rv"
        lines = (wt / "notes.txt").read_text().splitlines(keepends=True)
        lines[1] = "line 2 changed by the agent\n"
        lines[35] = "line 36 changed by the agent\n"
        write_as_agent(alpha, wt / "notes.txt", "".join(lines))
        config = load_config(fleet.config)

        def staged() -> str:
            return git_in(fresh_hosts, "alpha", wt, "diff", "--cached")

        async with (
            await Store.open(store_path(fleet)) as store,
            Supervisor(config, store=store) as sup,
        ):
            _, seen = await sup.diff("alpha/rv")
            assert [h.number for h in seen.hunks] == [1, 2]

            # Approve hunk 1; the connection is cut after the host staged it.
            proxy.slow(0.6, "down")
            approve = asyncio.create_task(sup.approve("alpha/rv", [1], expect=seen.fingerprint))
            await asyncio.to_thread(wait_for, staged, 20, 0.02, "the hunk to be staged")
            assert not approve.done()
            proxy.cut(rst=True)
            with pytest.raises(HostUnreachable):
                await approve
            proxy.heal()
            # The person tries again: refused, never staged twice.
            with pytest.raises(FleetError):
                await sup.approve("alpha/rv", [1], expect=seen.fingerprint)
            with pytest.raises(UsageError, match="already approved"):
                await sup.approve("alpha/rv", [1])
            assert staged().count("line 2 changed by the agent") == 1
            assert "line 36" not in staged()

            # Reject hunk 2; cut after the host reverted it.
            proxy.slow(0.6, "down")
            reject = asyncio.create_task(
                sup.reject("alpha/rv", [2], note="not this", expect=seen.fingerprint)
            )
            await asyncio.to_thread(
                wait_for,
                # git apply removes and recreates the file: absent is not yet reverted.
                lambda: "line 36\n" in text_or_empty(wt / "notes.txt"),
                20,
                0.02,
                "the hunk to be reverted",
            )
            assert not reject.done()
            proxy.cut(rst=True)
            with pytest.raises(HostUnreachable):
                await reject
            proxy.heal()
            with pytest.raises(FleetError):
                await sup.reject("alpha/rv", [2], expect=seen.fingerprint)

            text = (wt / "notes.txt").read_text()
            assert "line 2 changed by the agent" in text and "line 36\n" in text
            told = lambda: [x for x in received_lines(alpha, sid) if "I rejected" in x]  # noqa: E731
            await asyncio.to_thread(wait_for, told, 20, 0.1, "the agent to be told")
            decisions = await sup.helper("alpha").call("decisions", {"session": sid})
            assert [d["action"] for d in decisions] == ["approve", "reject"]
            assert len(told()) == 1, "the agent was told about the rejection twice"
            await store.flush()
            kinds = [a.kind for a in await store.audit_log("alpha", sid)]
            assert kinds.count("approve") == 2 and kinds.count("reject") == 2  # tries, audited


async def test_a_slow_host_does_not_hold_up_the_rest_of_the_fleet(
    fresh_hosts: LoopbackFleet,
) -> None:
    alpha, beta = fresh_hosts["alpha"], fresh_hosts["beta"]
    with FaultyProxy(alpha.port) as proxy:
        fleet = fault_fleet(fresh_hosts, {"alpha": proxy.port}, keepalive=(5, 3))
        a1 = (await start_recorder(fleet, "a1"))["id"]
        b1 = (await start_recorder(fleet, "b1", host="beta"))["id"]
        app = FleetApp(load_config(fleet.config))
        async with app.run_test(size=(160, 45)) as pilot:
            model = app.model
            await pilot_until(
                pilot,
                lambda: {c.session.ref for c in model.visible()} >= {"alpha/a1", "beta/b1"},
                "both sessions in the grid",
            )
            # alpha now answers in seconds: each chunk 0.3 s late each way.
            proxy.slow(0.3)
            alpha_session = next(c.session for c in model.visible() if c.session.id == a1)
            app.send_message_to(alpha_session, "to the slow host")
            alpha_done = lambda: "to the slow host" in received_lines(alpha, a1)  # noqa: E731

            # Meanwhile the person steers beta with the keyboard, and sees beta answer.
            grid = app.query_one(SessionGrid)
            assert grid.select(("beta", b1))
            await pilot.press("m")
            await pilot.pause(0.1)
            for ch in "fast":
                await pilot.press(ch)
            await pilot.press("enter")
            await pilot_until(
                pilot, lambda: received_lines(beta, b1) == ["fast"], "beta to get its message"
            )
            await pilot_until(
                pilot,
                lambda: any("got 4 chars" in line for line in model.cards[("beta", b1)].tail),
                "beta's answer on its card",
            )
            assert not alpha_done(), "alpha answered first: it was not slow"

            # The slow host gets there too, exactly once.
            await pilot_until(pilot, alpha_done, "the slow host to get its message", 60)
            await pilot_until(
                pilot,
                lambda: any("got 16 chars" in line for line in model.cards[("alpha", a1)].tail),
                "alpha's answer on its card",
                60,
            )
            assert received_lines(alpha, a1) == ["to the slow host"]
            assert received_lines(beta, b1) == ["fast"]
            assert model.hosts["alpha"].state == "connected"
