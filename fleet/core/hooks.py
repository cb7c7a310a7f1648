"""Run the person's ``[hooks]`` when domain events happen, without ever slowing fleet down.

Each hook that matches an event (its own kind, then ``"*"``) runs as a subprocess in a new
session (its own process group) with the event as one line of JSON on stdin and
``FLEET_EVENT``, ``FLEET_HOST``, ``FLEET_SESSION`` and ``FLEET_NAME`` added to the person's
environment. Event data never goes into a command line: a string hook is run by ``/bin/sh -c``
exactly as the person wrote it, a list hook is exec'd as it is.

:meth:`HookRunner.emit` only queues: at most ``max_running`` hooks run at once, at most
``max_queued`` wait (when full, the oldest waiting run is dropped, and that is logged), and a
hook still running after the timeout has its whole process group terminated, then killed.

Commands may hold tokens (a Slack webhook URL) and output may echo them: logs name a hook by its
config key and line (``hooks.failed``, line 12), never by its command, and show at most a short
first line of its output, with the command's words redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fleet.core.config import Hook, HookSettings
from fleet.core.models import DomainEvent
from fleet.core.textsafe import inert_bytes

__all__ = ["HookRunner", "event_line"]

log = logging.getLogger("fleet.hooks")

OUTPUT_CAP: Final = 16 * 1024  # bytes kept of a hook's stdout and of its stderr
LOGGED_CHARS: Final = 120  # at most this much of a failing hook's first output line is logged
EOF_GRACE: Final = 0.5  # seconds to collect output after a hook exits (a child may hold the pipe)
_IDENT_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,127}")
_WORD_SPLIT: Final = re.compile(r"[\s'\"=]+")


def event_line(event: DomainEvent) -> bytes:
    """What a hook reads on stdin: ``event.to_json()`` as one line of UTF-8 JSON."""
    text = json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)
    # A lone surrogate (from undecodable terminal bytes) becomes a JSON escape, still valid.
    return text.encode("utf-8", "backslashreplace") + b"\n"


def _ident(value: str | None) -> str:
    """Only identifiers go into the environment; anything else is left empty (the JSON has it)."""
    return value if value is not None and _IDENT_RE.fullmatch(value) else ""


@dataclass(frozen=True)
class _Job:
    hook: Hook
    index: int  # the hook's place among the hooks matching this event
    event: DomainEvent
    payload: bytes

    def where(self) -> str:
        event = self.event
        return (
            f"hook {self.hook.label} (#{self.index}, line {self.hook.line}) for event "
            f"{event.kind} host={event.host} session={event.session or '-'}"
        )


class _Capture(asyncio.Protocol):
    """Keeps the first ``cap`` bytes from a pipe and reads (and drops) the rest, so a chatty
    hook never blocks on a full pipe."""

    def __init__(self, cap: int, closed: asyncio.Future[None]) -> None:
        self.cap = cap
        self.data = bytearray()
        self.closed = closed

    def data_received(self, data: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += data[:room]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class HookRunner:
    """Runs hooks for domain events in the background of the running asyncio loop.

    ``emit`` never blocks and never raises; ``drain`` waits for queued and running hooks (at
    CLI exit, in tests); ``close`` drops what is queued and stops what runs.
    """

    def __init__(
        self,
        settings: HookSettings,
        *,
        max_running: int = 4,
        max_queued: int = 256,
        kill_grace: float = 2.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if max_running < 1 or max_queued < 1:
            raise ValueError("max_running and max_queued must be >= 1")
        self.settings = settings
        self.max_running = max_running
        self.max_queued = max_queued
        self.kill_grace = kill_grace  # seconds between SIGTERM and SIGKILL
        self._env = env  # None: os.environ at the time the hook starts
        self._queue: deque[_Job] = deque()
        self._workers: set[asyncio.Task[None]] = set()
        self._running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.dropped = 0  # queued runs dropped because the queue was full, in total
        self._dropped_in_burst = 0

    @property
    def running(self) -> int:
        """Hooks running right now."""
        return self._running

    @property
    def queued(self) -> int:
        """Hook runs waiting for a free slot."""
        return len(self._queue)

    # ---- emitting

    def emit(self, event: DomainEvent) -> None:
        """Queue the hooks matching ``event``; returns at once. Safe to call from another
        thread once the runner has seen its loop."""
        try:
            hooks = self.settings.matching(event.kind)
            if not hooks:
                return
            if self._closed:
                log.debug("closed: hooks for event %s not run", event.kind)
                return
            jobs = [_Job(hook, i, event, event_line(event)) for i, hook in enumerate(hooks)]
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None and (self._loop in (None, loop) or self._loop_closed()):
                if self._loop is not loop:
                    self._loop, self._workers, self._running = loop, set(), 0
                self._enqueue(jobs)
            elif self._loop is not None and not self._loop_closed():
                self._loop.call_soon_threadsafe(self._enqueue, jobs)
            else:
                log.warning(
                    "no event loop: %d hook(s) for event %s host=%s session=%s not run",
                    len(jobs),
                    event.kind,
                    event.host,
                    event.session or "-",
                )
        except Exception as err:  # never let a hook problem reach the supervisor
            log.error("hooks for event %s not run: %s", event.kind, type(err).__name__)

    def _loop_closed(self) -> bool:
        return self._loop is not None and self._loop.is_closed()

    def _enqueue(self, jobs: list[_Job]) -> None:
        if self._closed or self._loop is None:
            return
        for job in jobs:
            if len(self._queue) >= self.max_queued:
                oldest = self._queue.popleft()
                self.dropped += 1
                self._dropped_in_burst += 1
                if self._dropped_in_burst == 1:
                    log.warning(
                        "hook queue full (%d waiting, %d running): dropped the oldest, %s",
                        len(self._queue) + 1,
                        self._running,
                        oldest.where(),
                    )
            self._queue.append(job)
        idle = len(self._workers) - self._running  # started workers about to take a job
        while len(self._workers) < self.max_running and idle < len(self._queue):
            task = self._loop.create_task(self._worker(), name="fleet-hook")
            self._workers.add(task)
            idle += 1

    def _report_drops(self) -> None:
        if self._dropped_in_burst:
            log.warning(
                "hook queue overflowed: %d hook run(s) dropped in that burst (%d in total)",
                self._dropped_in_burst,
                self.dropped,
            )
            self._dropped_in_burst = 0

    async def _worker(self) -> None:
        task = asyncio.current_task()
        try:
            while self._queue and not self._closed:
                job = self._queue.popleft()
                self._running += 1
                try:
                    await self._run(job)
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.error("%s: failed inside fleet: %s", job.where(), type(err).__name__)
                finally:
                    self._running -= 1
            self._report_drops()
        finally:
            if task is not None:
                self._workers.discard(task)

    # ---- waiting and stopping

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until nothing is queued or running (or ``timeout`` seconds have passed)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._workers:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                log.info(
                    "hooks still busy after %.1fs: %d running, %d queued",
                    timeout,
                    self._running,
                    len(self._queue),
                )
                return
            await asyncio.wait(set(self._workers), timeout=remaining)

    async def close(self) -> None:
        """Stop taking events, drop what is queued, and stop running hooks (SIGTERM, then
        SIGKILL after ``kill_grace``). Call ``drain`` first to let them finish."""
        self._closed = True
        if self._queue:
            log.info("closing: %d queued hook run(s) dropped", len(self._queue))
            self._queue.clear()
        workers = set(self._workers)
        for task in workers:
            task.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    # ---- one hook

    def _environment(self, event: DomainEvent) -> dict[str, str]:
        env = dict(os.environ if self._env is None else self._env)
        env["FLEET_EVENT"] = event.kind
        env["FLEET_HOST"] = _ident(event.host)
        env["FLEET_SESSION"] = _ident(event.session)
        env["FLEET_NAME"] = _ident(event.name)
        return env

    async def _run(self, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        timeout = self.settings.timeout
        cwd = self.settings.cwd if self.settings.cwd and self.settings.cwd.is_dir() else None
        captures: list[_Capture] = []
        transports: list[asyncio.BaseTransport] = []
        write_ends: list[int] = []
        proc: asyncio.subprocess.Process | None = None
        feeder: asyncio.Task[None] | None = None
        try:
            for _ in range(2):  # stdout, stderr: our own pipes, so we can close them any time
                read_end, write_end = os.pipe()
                write_ends.append(write_end)
                transport, capture = await _capture(loop, read_end)
                captures.append(capture)
                transports.append(transport)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *job.hook.argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=write_ends[0],
                    stderr=write_ends[1],
                    env=self._environment(job.event),
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError as err:  # str(err) would name the program: say only why
                log.warning(
                    "%s: could not start: %s", job.where(), err.strerror or type(err).__name__
                )
                return
            finally:
                for fd in write_ends:
                    os.close(fd)
                write_ends.clear()
            feeder = loop.create_task(_feed(proc, job.payload))
            timed_out = False
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                timed_out = True
                await self._stop(proc)
            # A child the hook left behind may hold the pipes open: do not wait on it for long.
            await asyncio.wait([c.closed for c in captures], timeout=EOF_GRACE)
            self._report(job, proc, timed_out, loop.time() - started, captures)
        except asyncio.CancelledError:
            if proc is not None and proc.returncode is None:
                await self._stop(proc)
            raise
        finally:
            for fd in write_ends:
                os.close(fd)
            if feeder is not None:
                feeder.cancel()
            for transport in transports:
                transport.close()

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the hook's process group, SIGKILL to whatever is left after the grace."""
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), self.kill_grace)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5.0)

    def _report(
        self,
        job: _Job,
        proc: asyncio.subprocess.Process,
        timed_out: bool,
        elapsed: float,
        captures: list[_Capture],
    ) -> None:
        code = proc.returncode
        if not timed_out and code == 0:
            log.debug("%s: ok (ran %.2fs)", job.where(), elapsed)
            return
        if timed_out:
            outcome = f"timed out after {self.settings.timeout:g}s, process group stopped"
        elif code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            outcome = f"killed by {name}"
        else:
            outcome = f"exited with code {code}"
        line = _first_line(captures[1].data, job.hook) or _first_line(captures[0].data, job.hook)
        shown = f": {json.dumps(line, ensure_ascii=False)}" if line else ""
        log.warning("%s: %s (ran %.2fs)%s", job.where(), outcome, elapsed, shown)


async def _capture(
    loop: asyncio.AbstractEventLoop, read_end: int
) -> tuple[asyncio.BaseTransport, _Capture]:
    capture = _Capture(OUTPUT_CAP, loop.create_future())
    transport, _ = await loop.connect_read_pipe(
        lambda: capture, os.fdopen(read_end, "rb", buffering=0)
    )
    return transport, capture


async def _feed(proc: asyncio.subprocess.Process, payload: bytes) -> None:
    """Write the event to the hook's stdin and close it; a hook that does not read is fine."""
    stdin = proc.stdin
    if stdin is None:
        return
    try:
        stdin.write(payload)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        stdin.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _first_line(data: bytes | bytearray, hook: Hook) -> str:
    """The first non-blank line of some output, made inert, with the command's words redacted
    (an error message may echo a URL or token from the command), cut to LOGGED_CHARS."""
    text = inert_bytes(bytes(data[: 4 * LOGGED_CHARS]))
    line = next((part.strip() for part in text.split("\n") if part.strip()), "")
    words = {w for arg in hook.argv for w in _WORD_SPLIT.split(arg) if len(w) >= 8}
    for word in sorted(words, key=len, reverse=True):
        line = line.replace(word, "[redacted]")
    if len(line) > LOGGED_CHARS:
        line = line[: LOGGED_CHARS - 1] + "…"
    return line
