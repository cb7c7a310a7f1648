"""Faults on the person's side and on a host's: the supervisor killed with -9 while it writes,
a host "rebooted" (tmux server killed, fleet's helper deleted, sshd restarted), a hook that
hangs, and the disk under fleet's database filling up.

For each: what the person sees, and proof that no event, output byte, steering message or
agent work is lost or repeated."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.core.config import load_config
from fleet.core.hooks import HookRunner
from fleet.core.remote.hostside import procs
from fleet.core.store import Store, StoreError
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import FleetCLI, received, received_lines, wait_for, write_as_agent
from tests.integration.hosts import LoopbackFleet
from tests.reliability.common import (
    Trail,
    assert_exactly_once,
    check_store_matches,
    fault_fleet,
    host_journal,
    numbers,
    stored_output,
)


def read_store(db: Path, host: str) -> tuple[bytes, list[tuple[str | None, str]]]:
    """(output of the host's first session, the audited statuses), from a fresh connection."""

    async def read() -> tuple[bytes, list[tuple[str | None, str]]]:
        async with await Store.open(db) as store:
            cached = await store.sessions(host)
            data = (await store.output(host, cached[0].session.id)).data if cached else b""
            statuses = [
                (a.session, str(a.detail["status"]))
                for a in await store.audit_log(host)
                if a.kind == "status"
            ]
            return data, statuses

    return asyncio.run(read())


def test_kill_9_of_the_supervisor_during_heavy_writes_loses_and_repeats_nothing(
    fresh_hosts: LoopbackFleet,
) -> None:
    count = 4000
    alpha = fresh_hosts["alpha"]
    fleet = fault_fleet(fresh_hosts, keepalive=None)
    db = Path(fleet.env["FLEET_HOME"]) / "fleet.db"

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "fleet", "watch", "alpha"],
            env=fleet.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # The watch starts first, so every event of the session comes after its starting point.
    watcher = start()
    wait_for(lambda: db.exists() and read_store(db, "alpha") is not None and _cursor(db), 30)
    fleet.ok(
        "new", "alpha", "--repo", "~/repo", "--agent", "counter", "--name", "count", str(count)
    )
    wait_for(lambda: len(numbers(read_store(db, "alpha")[0])) >= 300, 30, what="output stored")
    os.kill(watcher.pid, signal.SIGKILL)
    first_out, _ = watcher.communicate(timeout=10)
    watcher = start()
    try:
        data = wait_for(
            lambda: (d := read_store(db, "alpha")[0]) and b"all printed" in d and d,
            timeout=60,
            what="all output to be stored after the restart",
        )
        journal = [e for e in host_journal(alpha) if e["type"] == "status"]
        wait_for(lambda: len(read_store(db, "alpha")[1]) >= len(journal), 20, what="statuses")
    finally:
        watcher.send_signal(signal.SIGINT)
        second_out, second_err = watcher.communicate(timeout=10)
    assert_exactly_once(data, count)
    audited = read_store(db, "alpha")[1]
    assert audited == [(e["session"], e["status"]) for e in journal], "a status lost or doubled"
    # What the person saw: `fleet watch` said each status once across the two runs.
    shown = [line.split(" ", 1)[1] for line in (first_out + second_out).splitlines()]
    statuses = [
        line
        for line in shown
        if line.startswith("alpha/count ") and line.split()[1] not in ("created", "removed")
    ]
    assert statuses == [f"alpha/count {status}" for _, status in audited]
    assert "Traceback" not in second_err
    rows = {r["ref"]: r for r in fleet.ok("ls", "--json").json()}
    assert rows["alpha/count"]["unread"] >= count


def _cursor(db: Path) -> bool:
    async def read() -> bool:
        async with await Store.open(db) as store:
            return await store.watch_cursor("alpha") is not None

    return asyncio.run(read())


def test_after_a_reboot_the_work_and_checkpoints_survive_and_resume_works(
    fresh_hosts: LoopbackFleet,
) -> None:
    fleet = FleetCLI(fresh_hosts)
    h = fleet.lf["alpha"]
    fleet.ok("new", "alpha", "--repo", "~/repo", "--agent", "recorder", "--name", "boot")
    session = fleet.wait_status("alpha/boot", "idle")
    wt = h.home / ".fleet/worktrees/boot"
    write_as_agent(h, wt / "precious.txt", "hours of work\n")
    fleet.ok("checkpoint", "alpha/boot", "-m", "before the reboot")
    fleet.ok("send", "alpha/boot", "before the reboot")
    wait_for(lambda: received_lines(h, session["id"]) == ["before the reboot"])

    async def across_the_reboot() -> None:
        # A supervisor that lives through the reboot (the TUI, `fleet watch`) recovers too.
        async with Supervisor(load_config(fleet.config)) as sup:
            await sup.list_sessions()
            # The reboot: agents and tmux gone, fleet's helper gone (a fresh /home or a
            # cleaned cache), sshd restarted so every connection drops.
            fleet.lf.run_as("alpha", ["tmux", "-L", "fleet", "kill-server"], check=True)
            for helper in (h.home / ".fleet").glob("helper-*"):
                helper.unlink()
            await asyncio.to_thread(fleet.lf.restart_host, "alpha")
            listing = await sup.list_sessions()
            assert not listing.errors, listing.errors
            (boot,) = [s for s in listing.sessions if s.name == "boot"]
            assert str(boot.status) == "stopped"

    asyncio.run(across_the_reboot())
    assert list((h.home / ".fleet").glob("helper-*")), "the helper was not installed again"
    stopped = fleet.wait_status("alpha/boot", "stopped")  # what `fleet ls` shows the person
    assert stopped["worktree"] == session["worktree"]
    assert "stopped" in fleet.ok("ls").out
    assert (wt / "precious.txt").read_text() == "hours of work\n"
    rows = fleet.ok("checkpoints", "alpha/boot", "--json").json()
    assert [r["reason"] for r in rows] == ["before the reboot"]

    fleet.ok("resume", "alpha/boot")
    resumed = fleet.wait_status("alpha/boot", "idle")
    assert (resumed["id"], resumed["worktree"]) == (session["id"], session["worktree"])
    pane = f"=fleet-{session['id']}:"
    where = ["tmux", "-L", "fleet", "display-message", "-p", "-t", pane, "#{pane_current_path}"]
    assert fleet.lf.run_as("alpha", where, check=True).stdout.strip() == session["worktree"]
    fleet.ok("send", "alpha/boot", "after the reboot")
    wait_for(
        lambda: "after the reboot" in received_lines(h, session["id"]),
        what="the resumed agent to receive a message",
    )
    assert received_lines(h, session["id"]) == ["before the reboot", "after the reboot"]
    assert [r["kind"] for r in received(h, session["id"])].count("argv") == 2  # two runs
    assert (wt / "precious.txt").read_text() == "hours of work\n"


def hung_hooks() -> list[int]:
    """Pids of the hanging hook processes still alive."""
    return [pid for pid in procs.pids() if procs.cmdline(pid)[:2] == ["sleep", "600.25"]]


async def test_a_hook_that_hangs_is_stopped_and_the_rest_carry_on(
    fresh_hosts: LoopbackFleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = tmp_path / "events.jsonl"
    hooks = (
        '\n[hooks]\ntimeout = 3\nstarted = ["sleep", "600.25"]\n'
        f'"*" = ["sh", "-c", "cat >> {events}"]\n'
    )
    fleet = fault_fleet(fresh_hosts, keepalive=None, extra_toml=hooks)
    config = load_config(fleet.config)
    runner = HookRunner(config.hooks, kill_grace=1.0)
    caplog.set_level(logging.WARNING, logger="fleet.hooks")
    async with (
        await Store.open(tmp_path / "fleet.db") as store,
        Supervisor(config, store=store, hooks=runner) as sup,
    ):
        # Six sessions: six hanging hooks, more than the runner's four slots.
        made = [
            await sup.new_session("alpha", "~/repo", agent="recorder", name=f"h{i}")
            for i in range(6)
        ]
        # The supervisor answers while hooks hang: a steering message arrives.
        await sup.send("alpha/h0", "while hooks hang")
        assert hung_hooks() and runner.running <= runner.max_running
        await asyncio.to_thread(
            wait_for,
            lambda: received_lines(fresh_hosts["alpha"], made[0].id) == ["while hooks hang"],
        )
        await runner.drain(timeout=30)
        assert runner.running == 0 and runner.queued == 0
    assert not hung_hooks(), "a hanging hook was left running"
    # Every other hook ran, once per event.
    got = [json.loads(line) for line in events.read_text().splitlines()]
    started = sorted(e["session"] for e in got if e["event"] == "started")
    assert started == sorted(s.id for s in made)
    assert [e["event"] for e in got].count("steered") == 1
    # What the person finds in fleet's log: the hook by its key and line, never its command.
    timed_out = [r.getMessage() for r in caplog.records if "timed out" in r.getMessage()]
    assert len(timed_out) == 6 and all("hooks.started" in m for m in timed_out)
    assert not any("600.25" in m for m in timed_out)


@contextlib.contextmanager
def small_disk(size: str = "32m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on a fresh directory: a disk that can fill up."""
    where = Path(tempfile.mkdtemp(prefix="fleet-small-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte."""
    filler = disk / "filler"
    try:
        f = open(filler, "wb", buffering=0)  # noqa: SIM115 - closed below
    except OSError as exc:  # already full
        if exc.errno != errno.ENOSPC:
            raise
        return filler
    with f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]
                if not chunk:
                    break
    return filler


async def test_a_full_disk_holds_writes_says_so_and_loses_nothing(
    fresh_hosts: LoopbackFleet,
) -> None:
    count = 3000
    alpha = fresh_hosts["alpha"]
    with small_disk() as disk:
        disk.chmod(0o700)
        fleet = fault_fleet(fresh_hosts, keepalive=None)
        fleet.env["FLEET_HOME"] = str(disk)
        config = load_config(fleet.config)
        trail = Trail("alpha")
        async with (
            await Store.open(disk / "fleet.db") as store,
            Supervisor(config, store=store) as sup,
        ):
            session = await sup.new_session(
                "alpha", "~/repo", agent="counter", name="count", task=str(count)
            )
            filler: Path | None = None
            seen: dict[str, str] = {}

            async def disk_full() -> None:
                nonlocal filler
                filler = await asyncio.to_thread(fill, disk)
                # The mirror goes on; its writes are held (not dropped) until there is room.
                for _ in range(300):
                    if store.trouble is not None:
                        break
                    await asyncio.sleep(0.05)
                assert store.trouble is not None, "the store did not notice the full disk"
                # What the person sees meanwhile.
                ls = await asyncio.to_thread(fleet, "ls")
                send = await asyncio.to_thread(fleet, "send", "alpha/count", "unrecorded")
                seen.update(ls=ls.err, send=send.err)
                assert ls.code == 1 and send.code == 1
                filler.unlink()

            async def mirror() -> None:
                async for event in sup.mirror("alpha"):
                    trail.events.append(event)

            async def stored_lines(want: bytes | None = None, lines: int = 0) -> bytes:
                """Poll the store until it holds `want` (or `lines` lines); a flush fails
                while the disk is full, so keep asking until the deadline."""
                for _ in range(1200):
                    with contextlib.suppress(StoreError):
                        data = await stored_output(store, "alpha", session.id)
                        if (want is None or want in data) and len(numbers(data)) >= lines:
                            return data
                    await asyncio.sleep(0.05)
                raise AssertionError(f"the store never held {want!r} / {lines} lines")

            following = asyncio.create_task(mirror())
            try:
                await stored_lines(lines=300)
                await disk_full()
                data = await stored_lines(b"all printed")
            finally:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            assert filler is not None
            for _ in range(200):
                if store.trouble is None:
                    break
                await asyncio.sleep(0.05)
            assert store.trouble is None, "the store did not recover when space came back"
            assert_exactly_once(data, count)
            trail.check_against(alpha)
            await check_store_matches(store, alpha, trail)
            assert await store.check() == ["ok"]
            kinds = [a.kind for a in await store.audit_log("alpha", session.id)]
            assert "send" not in kinds
        for err in seen.values():
            last = err.strip().splitlines()[-1]  # (a logging traceback may come first: below)
            assert last.startswith("fleet: ") and "disk is full" in last, err
        assert "nothing was done (send alpha/count)" in seen["send"]
        log = alpha.home / ".fleet" / "sessions" / session.id / "output.log"
        assert b"unrecorded" not in log.read_bytes(), "a message was sent that was not audited"
        ls = fleet.ok("ls", "--json").json()  # and everything works again
        assert ls[0]["ref"] == "alpha/count"


def test_a_full_disk_shows_the_person_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text("")
    with small_disk("1m") as disk:
        disk.chmod(0o700)
        env = dict(os.environ, FLEET_HOME=str(disk), FLEET_CONFIG=str(config))
        first = subprocess.run(
            [sys.executable, "-m", "fleet", "ls", "--cached"], env=env, capture_output=True
        )
        assert first.returncode == 0, first.stderr
        log = disk / "fleet.log"
        with open(log, "ab") as f:  # end on a page boundary: the next line needs a new page
            f.write(b"\n" * (-log.stat().st_size % 4096))
        fill(disk)
        full = subprocess.run(
            [sys.executable, "-m", "fleet", "send", "alpha/x", "hi"],
            env=env,
            capture_output=True,
            text=True,
        )
    assert full.returncode != 0
    assert "Traceback" not in full.stderr, full.stderr
