"""Shared by the fault tests and the soak: a `counter` agent that prints numbered lines, a
FleetCLI whose hosts may be reached through FaultyProxy ports, and the checks that prove
nothing was lost or repeated (output bytes, journal events, what the store recorded)."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.cli.watch import watch_line
from fleet.core import events as ev
from fleet.core.store import CachedSession, Store
from fleet.core.supervisor import Supervisor
from tests.integration.fleetrun import FleetCLI
from tests.integration.hosts import LoopbackFleet, LoopbackHost

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
NOT_JOURNAL = ("hello", "snapshot", "heartbeat", "link")

Event = dict[str, Any]


def essence(event: Event) -> tuple[Any, ...]:
    """What must arrive unchanged of a journal event (a host's journal line, or a delivered
    event as `fleet watch --json` shows it)."""
    kind = event["type"]
    body: tuple[Any, ...] = ()
    if kind == "status":
        body = (event["status"], event.get("prev"), event.get("exit_code"))
    elif kind == "diffstat":
        body = (event["diffstat"],)
    elif kind in ("checkpoint", "decision"):
        body = (event["n"],)
    return (kind, event["seq"], event.get("session"), *body)


def fault_fleet(
    lf: LoopbackFleet,
    proxies: Mapping[str, int] | None = None,
    keepalive: tuple[float, int] | None = (0.5, 2),
    extra_toml: str = "",
) -> FleetCLI:
    """A FleetCLI with `recorder` and `counter` agents. Hosts named in `proxies` are reached
    through that local port (a FaultyProxy in front of their sshd); the others directly."""
    agents = lf.dir / "agents"
    agents.mkdir(exist_ok=True)
    counter = agents / "counter.py"
    counter.write_text(COUNTER)
    counter.chmod(0o644)
    extra = f'\n[agents.counter]\ncommand = "python3 {counter} {{task}}"\nidle_after = 1.0\n'
    fleet = FleetCLI(lf, extra_toml=extra + extra_toml)
    text = fleet.config.read_text()
    if keepalive is not None:
        setting = f"[ssh]\nkeepalive = {keepalive[0]}\nkeepalive_count = {keepalive[1]}\n"
        text = text.replace("[ssh]\n", setting, 1)
    if proxies:
        known = lf.dir / "proxied.known_hosts"
        known.write_text(
            lf.known_hosts.read_text()
            + "".join(
                f"[127.0.0.1]:{port} {lf[name].host_key_line}\n" for name, port in proxies.items()
            )
        )
        blocks = []
        for h in lf.hosts:
            blocks.append(
                f"Host {h.name}\n  HostName 127.0.0.1\n  Port {proxies.get(h.name, h.port)}\n"
                f"  User {h.user}\n  IdentityFile {lf.client_key}\n  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n"
            )
        ssh_config = lf.dir / "proxied.ssh_config"
        ssh_config.write_text("\n".join(blocks))
        text = text.replace(str(lf.ssh_config), str(ssh_config))
    fleet.config.write_text(text)
    return fleet


def numbers(data: bytes) -> list[int]:
    return [int(m) for m in LINE.findall(data)]


def assert_exactly_once(data: bytes, count: int) -> None:
    got = numbers(data)
    assert got == list(range(count)), (
        f"{len(got)} lines; first problem at {next((i for i, n in enumerate(got) if n != i), None)}"
    )


def host_journal(h: LoopbackHost) -> list[Event]:
    """Every event the host's journal holds (rotated part first)."""
    events = []
    for name in ("journal.1.jsonl", "journal.jsonl"):
        path = h.home / ".fleet" / name
        if path.exists():
            events += [json.loads(line) for line in path.read_text().splitlines() if line]
    return events


@dataclass
class Trail:
    """Everything a mirror yielded, and the checks that prove it complete and unrepeated."""

    host: str
    events: list[ev.Event] = field(default_factory=list)

    def journal_events(self) -> list[Event]:
        return [ev.as_json(e) for e in self.events if isinstance(e, ev.JournalEvent)]

    def start(self) -> int:
        """The journal position the trail started from (the first hello's cursor)."""
        return next(e.seq for e in self.events if isinstance(e, ev.Hello))

    def check_against(self, h: LoopbackHost) -> list[Event]:
        """Delivered journal events == the host's journal from the start on: same events, same
        order, none twice, none missing (up to the last one delivered)."""
        got = self.journal_events()
        seqs = [e["seq"] for e in got]
        assert len(seqs) == len(set(seqs)), f"an event was delivered twice: {seqs}"
        start = self.start()
        if not got:
            return got
        want = [e for e in host_journal(h) if start < e["seq"] <= seqs[-1]]
        assert [e["seq"] for e in want] == seqs, f"delivered {seqs}, journal {want}"
        delivered = [essence(e) for e in got]
        kept = [essence(e) for e in want]
        changed = [(d, w) for d, w in zip(delivered, kept, strict=True) if d != w]
        assert not changed, f"an event arrived changed: {changed[:1]}"
        return got

    def seen_lines(self, sup: Supervisor) -> list[str]:
        """What `fleet watch` printed for these events (timestamps dropped)."""
        out = []
        for event in self.events:
            line = watch_line(sup, self.host, event, as_json=False)
            if line:
                out.append(line.split(" ", 1)[1])
        return out


async def stored_output(store: Store, host: str, session_id: str) -> bytes:
    await store.flush()
    return (await store.output(host, session_id)).data


async def stored_session(store: Store, host: str, session_id: str) -> CachedSession | None:
    """What the store holds of one session (committed writes only: flush first)."""
    return next((c for c in await store.sessions(host) if c.session.id == session_id), None)


async def follow_until(
    sup: Supervisor,
    store: Store,
    host: str,
    session_id: str,
    trail: Trail,
    faults: Callable[[int], Awaitable[None]] | None = None,
    timeout: float = 60,
) -> bytes:
    """Mirror `host` into the store until the session printed everything; run `faults(n)`
    each time more output arrived (n = lines stored so far)."""

    async def run() -> bytes:
        async for event in sup.mirror(host):
            trail.events.append(event)
            if isinstance(event, ev.OutputArrived) and event.session == session_id:
                data = await stored_output(store, host, session_id)
                if faults is not None:
                    await faults(len(numbers(data)))
                if b"all printed" in data:
                    return data
        raise AssertionError("the mirror ended")

    return await asyncio.wait_for(run(), timeout)


async def check_store_matches(store: Store, h: LoopbackHost, trail: Trail) -> None:
    """The store's cursor is the last event delivered, and each status event of the journal
    since the start is in the audit log exactly once, in order."""
    await store.flush()
    got = trail.journal_events()
    if got:
        assert await store.watch_cursor(trail.host) == got[-1]["seq"]
    start = trail.start()
    last = got[-1]["seq"] if got else start
    want = [
        (e["session"], e["status"])
        for e in host_journal(h)
        if e["type"] == "status" and start < e["seq"] <= last
    ]
    audited = [
        (a.session, a.detail["status"])
        for a in await store.audit_log(trail.host)
        if a.kind == "status"
    ]
    assert audited == want, f"audit {audited} != journal {want}"
