"""Child processes of the benchmark, spoken to in JSON lines: the supervisor under test, the
simulated hosts, the polling baseline. Each runs apart so /proc tells their CPU apart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SLOW = 300.0  # a deadline for things that take seconds; only a hang should ever reach it


class BenchError(RuntimeError):
    """The benchmark could not go on (a child died, a fleet never came up)."""


class Child:
    """A `python -m MODULE` child: commands on stdin, JSON lines on stdout."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        # Held so the reader tasks are not garbage-collected while they run.
        self._readers: list[asyncio.Future[None]] = []
        self.stderr_tail: list[str] = []

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, module: str, args: list[str], env: Mapping[str, str]) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            cwd=REPO,
            env=dict(env),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        self._readers = [
            asyncio.ensure_future(self._read()),
            asyncio.ensure_future(self._read_err()),
        ]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                await self.events.put(data)
        await self.events.put({"event": "eof"})

    async def _read_err(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode(errors="replace").rstrip()
            self.stderr_tail = [*self.stderr_tail[-40:], text]

    async def next(self, timeout: float = SLOW) -> dict[str, Any]:
        try:
            data = await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            raise BenchError(f"{self.name}: no answer in {timeout:g} s") from None
        if data.get("event") == "eof":
            tail = "\n".join(self.stderr_tail[-25:])
            raise BenchError(f"{self.name} exited unexpectedly:\n{tail}")
        return data

    async def wait_event(self, name: str, timeout: float = SLOW) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = await self.next(max(0.1, deadline - time.monotonic()))
            if data.get("event") == name:
                return data

    async def send(self, **cmd: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def call(self, op: str, timeout: float = SLOW, **kw: Any) -> dict[str, Any]:
        await self.send(op=op, **kw)
        return await self.wait_event("reply", timeout)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.send(op="quit", quit=True)
            await asyncio.wait_for(self.proc.wait(), 20)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def wait_until(what: str, check: Any, timeout: float = SLOW, interval: float = 0.2) -> Any:
    """Poll an async `check` until it returns something truthy (deadline only for hangs)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise BenchError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
