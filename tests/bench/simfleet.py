"""Simulated hosts at the watch-stream boundary: many SSH hosts in one process (its own).

One 2-core machine cannot run a thousand real agents, so for the supervisor-side figures at
scale each host here is an asyncssh server that answers fleet's helper protocol itself: the
install probe, `hello`, `list`, `diff` (a 10,000-line diff) and the `watch` stream (snapshot,
hello, screens, raw output, heartbeats) exactly as the real helper frames them. The supervisor
under test cannot tell: it runs its real SSH, watch, store and UI code.

A busy session changes its screen every PERIOD seconds (the real watcher's capture cadence for
a printing pane); each change carries a marker `tick n=N t=EPOCH` so the supervisor side can
measure host-change -> model / -> painted card latency. Runs as
`python -m tests.bench.simfleet DIR HOSTS SESSIONS`; writes ssh_config, known_hosts and
fleet.toml into DIR, prints one JSON line when ready, then takes commands on stdin:
{"busy": N} (the first N sessions in the grid's order print), {"quit": true}.

With FLEET_BENCH_USAGE=1 in its environment a busy session also journals a usage event (one
request, its own record id) every 2 s, the real helper's pace for a spending agent: run the
bench with and without it to compare the supervisor's CPU and memory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from fleet.core.remote.hostside import protocol

PERIOD = 0.5  # seconds between screen changes of a busy session
POLL = 0.1  # the real watch stream's poll interval
OUTPUT_HIDDEN_EVERY = 2.0  # the real stream's batching of output nobody is shown
HEARTBEAT = 15.0
SCREEN_LINES = 24
USAGE = os.environ.get("FLEET_BENCH_USAGE") == "1"
USAGE_EVERY_CHANGES = 4  # a usage event every 2 s of a busy session: the real helper's pace
JOURNAL_KEEP = 20_000  # usage events a sim host keeps for a stream that reconnects
DIFF_FILES, DIFF_HUNKS = 40, 28  # 40 x 28 hunks x 9 lines: just over 10,000 lines


@dataclass
class SimSession:
    id: str
    name: str
    n: int = 0
    lines: list[str] = field(default_factory=list)
    text: str = ""
    digest: str = ""
    size: int = 0  # bytes of raw output so far
    output: bytearray = field(default_factory=bytearray)  # raw output not yet trimmed
    out_base: int = 0  # offset of output[0]
    next_change: float = 0.0

    def change(self, now: float) -> None:
        self.n += 1
        line = f"tick n={self.n} t={now:.6f} {self.name} building step {self.n}"
        self.lines = [*self.lines[-(SCREEN_LINES - 1) :], line]
        self.text = "\n".join(self.lines) + "\n"
        self.digest = protocol.screen_hash(self.text)
        data = (line + "\r\n").encode()
        self.output += data
        self.size += len(data)
        if len(self.output) > 64 * 1024:
            cut = len(self.output) - 32 * 1024
            del self.output[:cut]
            self.out_base += cut

    def row(self, host: str) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "agent": "shell",
            "branch": f"fleet/{self.name}",
            "worktree": f"/home/sim/.fleet/worktrees/{self.name}",
            "repo": "/home/sim/repo",
            "base": "main",
            "task": f"simulated task of {self.name} on {host}",
            "created": 1_700_000_000.0,
            "status": "working",
            "exit_code": None,
            "status_since": time.time() - 120,
            "diffstat": {"added": 3, "removed": 1, "files": 1},
            "agent_session_id": None,
        }


@dataclass
class SimHost:
    name: str
    sessions: dict[str, SimSession]
    seq: int = 0
    journal: list[dict[str, object]] = field(default_factory=list)  # usage events (USAGE)

    def spend(self, s: SimSession, now: float) -> None:
        self.seq += 1
        record = protocol.usage_record(
            f"claude:msg_{s.id}_{s.n}",
            "claude-sonnet-5-5",
            now,
            input=1200,
            output=80,
            cache_read=30_000,
            cache_write=400,
        )
        event = dict(protocol.usage(s.id, "claude", [record]), seq=self.seq, t=round(now, 3))
        self.journal.append(event)
        del self.journal[:-JOURNAL_KEEP]


def session_id(i: int) -> str:
    """An id of the helper's form: 8 characters of [a-z2-7]."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[(i >> (5 * k)) & 31] for k in range(7, -1, -1))


def big_diff() -> str:
    out: list[str] = []
    for f in range(DIFF_FILES):
        path = f"pkg/mod{f:02d}.py"
        out += [f"diff --git a/{path} b/{path}", "index 1111111..2222222 100644"]
        out += [f"--- a/{path}", f"+++ b/{path}"]
        for h in range(DIFF_HUNKS):
            start = 10 + h * 20
            out.append(f"@@ -{start},7 +{start},7 @@ def module_{f}():")
            out += [f"     value_{start + i} = compute({f}, {start + i})" for i in range(3)]
            out.append(f"-    value_{start + 3} = compute({f}, {start + 3})")
            out.append(f"+    value_{start + 3} = compute({f}, {start + 3}) * 2  # changed")
            out += [f"     value_{start + 4 + i} = compute({f}, {start + 4 + i})" for i in range(3)]
    return "\n".join(out) + "\n"


class SimFleet:
    def __init__(self, hosts: int, sessions: int) -> None:
        self.hosts: dict[str, SimHost] = {}
        width = max(2, len(str(hosts - 1)))
        for h in range(hosts):
            name = f"sim{h:0{width}d}"
            self.hosts[name] = SimHost(name, {})
        names = list(self.hosts)
        for i in range(sessions):
            host = self.hosts[names[i % hosts]]
            sid = session_id(i)
            s = SimSession(sid, f"task-{i:04d}")
            s.lines = [f"$ agent {s.name}", f"  working on {s.name}", "> idle"]
            s.text = "\n".join(s.lines) + "\n"
            s.digest = protocol.screen_hash(s.text)
            host.sessions[sid] = s
        self.busy: list[tuple[SimHost, SimSession]] = []
        self.diff = big_diff()
        self.streams = 0

    def set_busy(self, n: int) -> None:
        """The first n sessions in the grid's order (host, then name) print."""
        ordered = [
            (self.hosts[h], s)
            for h in sorted(self.hosts)
            for s in sorted(self.hosts[h].sessions.values(), key=lambda s: s.name)
        ]
        now = time.time()
        for _, s in ordered[:n]:
            s.next_change = now + random.uniform(0, PERIOD)
        self.busy = ordered[:n]

    async def ticker(self) -> None:
        while True:
            now = time.time()
            for host, s in self.busy:
                if s.next_change <= now:
                    s.change(now)
                    if USAGE and s.n % USAGE_EVERY_CHANGES == 0:
                        host.spend(s, now)
                    s.next_change = now + PERIOD * random.uniform(0.8, 1.2)
            await asyncio.sleep(0.02)

    # -- the helper protocol ------------------------------------------------------------------

    async def handle(self, host: SimHost, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        try:
            if "command -v" in command:  # the install probe
                process.stdout.write(b"python 3 11\ninstalled\n")
                process.exit(0)
                return
            if not command.startswith("python3 .fleet/helper-"):
                process.stderr.write(b"simulated host: unknown command\n")
                process.exit(127)
                return
            if command.endswith(" serve"):  # plain calls share one channel, answered by id
                while line := await process.stdin.readline():
                    request = json.loads(line.decode())
                    answer = self.answer(host, request.get("op"), request.get("args") or {})
                    answer = {"id": request.get("id"), **answer}
                    process.stdout.write((json.dumps(answer) + "\n").encode())
                process.exit(0)
                return
            line = await process.stdin.readline()
            request = json.loads(line.decode())
            op, args = request.get("op"), request.get("args") or {}
            if op == "watch":
                await self.watch(host, process, args)
                return
            process.stdout.write((json.dumps(self.answer(host, op, args)) + "\n").encode())
            process.exit(0)
        except (asyncssh.Error, OSError, ConnectionError):
            return

    def answer(self, host: SimHost, op: object, args: dict[str, object]) -> dict[str, object]:
        result = self.plain(host, str(op), args)
        if result is None:
            return protocol.answer_error("bad-request", str(op))
        return protocol.answer_ok(result)

    def plain(self, host: SimHost, op: str, args: dict[str, object]) -> object:
        if op == "hello":
            return {
                "protocol": protocol.VERSION,
                "helper": "sim",
                "python": "3.11",
                "tmux": "tmux 3.3a",
                "git": "git 2.39",
                "home": "/home/sim",
                "disk_free": 1 << 40,
            }
        if op == "list":
            return [s.row(host.name) for s in host.sessions.values()]
        if op == "screen":
            s = host.sessions.get(str(args.get("session")))
            return {"text": s.text if s else ""}
        if op == "send":
            return {"sent": len(str(args.get("text", "")))}
        if op == "diff":
            return {
                "text": self.diff,
                "base": "0" * 40,
                "fingerprint": "sim",
                "approved": [],
                "review": 0,
                "since": None,
                "branch": "fleet/sim",
            }
        return None

    async def watch(
        self, host: SimHost, process: asyncssh.SSHServerProcess[bytes], args: dict[str, object]
    ) -> None:
        self.streams += 1
        out = process.stdout

        def emit(event: dict[str, object]) -> None:
            out.write((json.dumps(event, sort_keys=True) + "\n").encode())

        since = args.get("since")
        if not isinstance(since, int) or since > host.seq or since < 0:
            rows = [s.row(host.name) for s in host.sessions.values()]
            emit(protocol.snapshot(host.seq, rows, False))
        emit(protocol.hello(host.seq, "sim"))
        raw_known = args.get("screens")
        known = dict(raw_known) if isinstance(raw_known, dict) else {}
        raw_offsets = args.get("output")
        offsets: dict[str, int] | None = None
        if isinstance(raw_offsets, dict):
            offsets = {}
            for s in host.sessions.values():
                offset = raw_offsets.get(s.id)
                offsets[s.id] = offset if isinstance(offset, int) else s.size
                if offsets[s.id] > s.size:  # a store from an earlier run: continue from there
                    s.size = s.out_base = offsets[s.id]
                    s.output.clear()
        visible = protocol.visible_ids(args.get("visible"))
        updates: dict[str, object] = {}
        closed = asyncio.ensure_future(_updates(process, updates))
        last_beat = output_all_at = time.time()
        sent = since if isinstance(since, int) and since <= host.seq else host.seq
        try:
            while not closed.done():
                for event in host.journal[-(host.seq - sent) :] if host.seq > sent else ():
                    emit(event)
                sent = host.seq
                if "visible" in updates:
                    visible = protocol.visible_ids(updates.pop("visible"))
                now = time.time()
                # As the real helper: the screens of the sessions shown only, and the others'
                # output in rarer batches (see hostside/watch.py).
                all_due = visible is None or now - output_all_at >= OUTPUT_HIDDEN_EVERY
                if all_due:
                    output_all_at = now
                for s in host.sessions.values():
                    shown = visible is None or s.id in visible
                    if offsets is not None and offsets[s.id] < s.size and (shown or all_due):
                        start = max(offsets[s.id], s.out_base)
                        data = bytes(s.output[start - s.out_base :])
                        emit(protocol.output(s.id, start, base64.b64encode(data).decode("ascii")))
                        offsets[s.id] = s.size
                    if shown and known.get(s.id) != s.digest:
                        known[s.id] = s.digest
                        emit(protocol.screen(s.id, s.digest, s.text, now))
                if now - last_beat >= HEARTBEAT:
                    emit(protocol.heartbeat(host.seq, now))
                    last_beat = now
                await out.drain()
                await asyncio.sleep(POLL)
        finally:
            closed.cancel()
            self.streams -= 1
            process.exit(0)


async def _updates(process: asyncssh.SSHServerProcess[bytes], into: dict[str, object]) -> None:
    """The client's updates on the running stream (hostside/inbox.py), until it leaves."""
    try:
        while line := await process.stdin.readline():
            try:
                update = json.loads(line)
            except ValueError:
                continue
            if isinstance(update, dict):
                into.update(update)
    except (asyncssh.Error, OSError):
        pass


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True


async def serve(root: Path, hosts: int, sessions: int) -> None:
    fleet = SimFleet(hosts, sessions)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = root / "client_key"
    key_path.write_bytes(client_key.export_private_key())
    key_path.chmod(0o600)
    authorized = asyncssh.import_authorized_keys(
        client_key.export_public_key("openssh").decode("ascii")
    )
    ports: dict[str, int] = {}
    for host in fleet.hosts.values():

        async def handle(process: asyncssh.SSHServerProcess[bytes], host: SimHost = host) -> None:
            await fleet.handle(host, process)

        acceptor = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=_Server,
            server_host_keys=[host_key],
            authorized_client_keys=authorized,
            process_factory=handle,
            encoding=None,
            line_editor=False,
            allow_scp=False,
            keepalive_interval=0,
            config=[],
        )
        ports[host.name] = acceptor.get_port()
    write_client_files(root, ports, host_key.export_public_key("openssh").decode())
    ticker = asyncio.ensure_future(fleet.ticker())
    print(json.dumps({"ready": True, "ports": ports}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command.get("quit"):
            break
        if "busy" in command:
            fleet.set_busy(int(command["busy"]))
            print(json.dumps({"busy": len(fleet.busy)}), flush=True)
    ticker.cancel()


def write_client_files(root: Path, ports: dict[str, int], host_pub: str) -> None:
    """ssh_config, known_hosts and fleet.toml for the supervisor under test."""
    pub = " ".join(host_pub.split()[:2])
    (root / "known_hosts").write_text(
        "".join(f"[127.0.0.1]:{port} {pub}\n" for port in ports.values())
    )
    blocks = [
        f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User sim\n"
        f"  IdentityFile {root / 'client_key'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {root / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        for name, port in ports.items()
    ]
    (root / "ssh_config").write_text("\n".join(blocks))
    toml = f'[ssh]\nconfig = "{root / "ssh_config"}"\nmax_connects = 8\n'
    for name in ports:
        toml += f'\n[hosts.{name}]\nssh = "{name}"\n'
    (root / "fleet.toml").write_text(toml)


def main() -> None:
    root, hosts, sessions = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    asyncio.run(serve(root, hosts, sessions))


if __name__ == "__main__":
    main()
