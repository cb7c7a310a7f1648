"""The polling baseline, in its own process: what today's tools do, over the same SSH hosts.

Per session, every PERIOD seconds: `tmux capture-pane` and `git diff --stat` over SSH (one
connection per host, sshd's channel budget respected). Both commands go in one exec per session
per poll, which is kinder to the baseline than one exec each (fewer channels), so fleet's
ratios are, if anything, understated.

`python -m tests.bench.baseline SPEC.json`: SPEC has ssh_config and, per host alias, the
sessions' tmux names and worktrees. Commands on stdin (JSON lines): record on/off, latency
(host change -> the baseline has seen it, from the `tick n=N t=EPOCH` markers), stats, quit.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import asyncssh

PERIOD = 0.5
CHANNELS = 8  # sshd's MaxSessions is 10
MARKER = re.compile(r"tick n=(\d+) t=(\d+\.\d+)")


class Baseline:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.recording = False
        self.latency: list[float] = []
        self.polls = 0
        self.errors = 0
        self.late: list[float] = []  # how far behind its schedule each poll started
        self._last_n: dict[str, int] = {}

    async def run_host(self, alias: str, sessions: list[dict[str, str]]) -> None:
        conn = await asyncssh.connect(alias, config=[self.spec["ssh_config"]])
        gate = asyncio.Semaphore(CHANNELS)
        await asyncio.gather(*(self.poll(conn, gate, s) for s in sessions))

    async def poll(
        self, conn: asyncssh.SSHClientConnection, gate: asyncio.Semaphore, s: dict[str, str]
    ) -> None:
        command = (
            f"tmux -L fleet capture-pane -p -t {shlex.quote('=' + s['tmux'] + ':')}; "
            f"git -C {shlex.quote(s['worktree'])} diff --stat"
        )
        due = time.time()
        while True:
            self.late.append(max(0.0, time.time() - due))
            async with gate:
                try:
                    result = await conn.run(command, check=False)
                except asyncssh.ChannelOpenError:
                    self.errors += 1
                    await asyncio.sleep(0.05)
                    continue
            now = time.time()
            self.polls += 1
            self.seen(s["tmux"], str(result.stdout or ""), now)
            due += PERIOD
            await asyncio.sleep(max(0.0, due - time.time()))
            due = max(due, time.time() - PERIOD)  # behind: do not try to catch up in a burst

    def seen(self, key: str, text: str, now: float) -> None:
        last = self._last_n.get(key, 0)
        top = last
        for n_s, t_s in MARKER.findall(text):
            n = int(n_s)
            if n > last:
                if self.recording:
                    self.latency.append(now - float(t_s))
                top = max(top, n)
        self._last_n[key] = top


def say(**data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


async def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    base = Baseline(spec)
    tasks = [
        asyncio.ensure_future(base.run_host(alias, sessions))
        for alias, sessions in spec["hosts"].items()
    ]
    say(event="started")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        op = cmd.get("op")
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if op == "quit":
            break
        if op == "record":
            base.recording = bool(cmd.get("on"))
            if base.recording:
                base.latency.clear()
                base.late.clear()
                base.polls = 0
            say(event="reply", recording=base.recording)
        elif op == "latency":
            say(
                event="reply",
                latency_ms=[round(x * 1000, 1) for x in base.latency],
                polls=base.polls,
                late_ms=[round(x * 1000, 1) for x in base.late],
                errors=base.errors,
            )
        elif op == "stats":
            say(event="reply", polls=base.polls, errors=base.errors)
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
