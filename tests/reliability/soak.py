"""Soak: fleet follows two hosts for minutes while sessions come and go and the connection to
one host is cut every `--cut-every` seconds (FIN and RST in turn). Prints figures: the
supervisor's memory and open file descriptors after warm-up and at the end, journal events
sent by the hosts / received / duplicated / lost, output bytes compared, cuts made.

    python -m tests.reliability.soak --minutes 10

Needs what the integration tests need (root, sshd, tmux, git); runs its own LoopbackFleet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fleet.core import events as ev
from fleet.core.config import load_config
from fleet.core.errors import FleetError, HostUnreachable
from fleet.core.remote.hostside import procs
from fleet.core.store import Store
from fleet.core.supervisor import Supervisor
from tests.integration.faults import FaultyProxy
from tests.integration.hosts import LoopbackFleet
from tests.reliability.common import NOT_JOURNAL, Event, fault_fleet, host_journal

HOSTS = ("alpha", "beta")
LIVE_SESSIONS = 4  # per run: the oldest is stopped when a new one would pass this
LINES_PER_SESSION = 300


@dataclass
class Figures:
    minutes: float
    cut_every: float
    cuts: int = 0
    sessions_started: int = 0
    sessions_stopped: int = 0
    events_sent: int = 0  # journal events the hosts wrote while fleet followed them
    events_received: int = 0  # distinct ones fleet delivered
    events_duplicated: int = 0
    events_lost: int = 0
    output_bytes: int = 0
    output_sessions_wrong: int = 0  # sessions whose stored output differs from the host's log
    reconnects: int = 0
    rss_kb_start: int = 0
    rss_kb_end: int = 0
    fds_start: int = 0
    fds_end: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.events_duplicated
            and not self.events_lost
            and not self.output_sessions_wrong
            and not self.errors
        )


def rss_kb() -> int:
    rss = procs.status(os.getpid()).get("VmRSS")
    return int(rss.split()[0]) if rss else 0


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


async def soak(lf: LoopbackFleet, minutes: float, cut_every: float, seed: int = 1) -> Figures:
    figures = Figures(minutes=minutes, cut_every=cut_every)
    rng = random.Random(seed)
    with FaultyProxy(lf["alpha"].port) as proxy:
        fleet = fault_fleet(lf, {"alpha": proxy.port})
        config = load_config(fleet.config)
        db = Path(tempfile.mkdtemp(prefix="fleet-soak-")) / "fleet.db"
        trails: dict[str, list[Event]] = {h: [] for h in HOSTS}
        async with await Store.open(db) as store, Supervisor(config, store=store) as sup:

            async def follow(host: str) -> None:
                async for event in sup.mirror(host):
                    trails[host].append(ev.as_json(event))

            mirrors = [asyncio.create_task(follow(h)) for h in HOSTS]
            live: list[tuple[str, str]] = []
            started: list[tuple[str, str]] = []
            end = time.monotonic() + minutes * 60
            warm = time.monotonic() + min(30.0, minutes * 60 * 0.2)
            next_cut = time.monotonic() + cut_every
            try:
                while time.monotonic() < end:
                    host = rng.choice(HOSTS)
                    try:
                        s = await sup.new_session(
                            host, "~/repo", agent="counter", task=str(LINES_PER_SESSION)
                        )
                        live.append((host, s.id))
                        started.append((host, s.id))
                        figures.sessions_started += 1
                        if len(live) > LIVE_SESSIONS:
                            old_host, old_id = live.pop(0)
                            await sup.stop(f"{old_host}/{old_id}")
                            figures.sessions_stopped += 1
                    except HostUnreachable:
                        pass  # a cut landed on this action: the person would see it and retry
                    except FleetError as exc:
                        figures.errors.append(f"churn: {exc}")
                    await asyncio.sleep(rng.uniform(1.0, 3.0))
                    if not figures.rss_kb_start and time.monotonic() >= warm:
                        figures.rss_kb_start, figures.fds_start = rss_kb(), fd_count()
                    if time.monotonic() >= next_cut:
                        proxy.cut(rst=figures.cuts % 2 == 1)
                        figures.cuts += 1
                        next_cut += cut_every
                await settle(sup, store, lf, started)
                figures.rss_kb_end, figures.fds_end = rss_kb(), fd_count()
            finally:
                for task in mirrors:
                    task.cancel()
                await asyncio.gather(*mirrors, return_exceptions=True)
            for host in HOSTS:
                sent, received, dup = account(trails[host], host_journal(lf[host]))
                figures.events_sent += sent
                figures.events_received += received
                figures.events_duplicated += dup
                figures.events_lost += sent - received
                figures.reconnects += sup.links[host].connects - 1
            for host, sid in started:
                want = output_log(lf, host, sid)
                got = (await store.output(host, sid)).data
                figures.output_bytes += len(got)
                if got != want:
                    figures.output_sessions_wrong += 1
    return figures


def account(trail: list[Event], journal: list[Event]) -> tuple[int, int, int]:
    """(sent, received, duplicated): journal events after the first hello, and deliveries."""
    start = next(int(e["seq"]) for e in trail if e.get("type") == "hello")
    delivered = [
        int(e["seq"])
        for e in trail
        if isinstance(e.get("seq"), int) and e.get("type") not in NOT_JOURNAL
    ]
    sent = {int(e["seq"]) for e in journal if int(e["seq"]) > start}
    got = set(delivered)
    return len(sent), len(got & sent), len(delivered) - len(got)


def output_log(lf: LoopbackFleet, host: str, sid: str) -> bytes:
    path = lf[host].home / ".fleet" / "sessions" / sid / "output.log"
    return path.read_bytes() if path.exists() else b""


async def settle(
    sup: Supervisor, store: Store, lf: LoopbackFleet, started: list[tuple[str, str]]
) -> None:
    """Wait (up to a minute) until the store caught up with every host's journal and logs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await store.flush()
        behind = False
        for host in HOSTS:
            journal = host_journal(lf[host])
            last = journal[-1]["seq"] if journal else 0
            behind = behind or (await store.watch_cursor(host) or 0) < last
        for host, sid in started:
            size = len(output_log(lf, host, sid))
            behind = behind or (await store.output_cursors(host)).get(sid, 0) < size
        if not behind:
            return
        await asyncio.sleep(0.5)


def run(minutes: float, cut_every: float) -> Figures:
    with LoopbackFleet(names=list(HOSTS)) as lf:
        env = lf.env()
        saved = {k: os.environ.get(k) for k in ("FLEET_CONFIG", "FLEET_HOME")}
        os.environ.update({k: env[k] for k in saved})
        try:
            return asyncio.run(soak(lf, minutes, cut_every))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def report(f: Figures) -> str:
    lines = [
        f"soak: {f.minutes:g} min, a cut every {f.cut_every:g} s: {f.cuts} cuts, "
        f"{f.reconnects} reconnects",
        f"sessions: {f.sessions_started} started, {f.sessions_stopped} stopped",
        f"events: {f.events_sent} sent, {f.events_received} received, "
        f"{f.events_duplicated} duplicated, {f.events_lost} lost",
        f"output: {f.output_bytes} bytes stored, {f.output_sessions_wrong} sessions differing",
        f"memory (RSS): {f.rss_kb_start / 1024:.1f} MB after warm-up -> "
        f"{f.rss_kb_end / 1024:.1f} MB at the end",
        f"file descriptors: {f.fds_start} -> {f.fds_end}",
    ]
    lines += [f"error: {e}" for e in f.errors[:10]]
    lines.append("OK" if f.ok else "FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--cut-every", type=float, default=30.0, help="seconds between cuts")
    parser.add_argument("--json", action="store_true", help="figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.minutes, args.cut_every)
    if args.json:
        print(json.dumps(asdict(figures) | {"ok": figures.ok}, indent=2))
    else:
        print(report(figures))
    return 0 if figures.ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
