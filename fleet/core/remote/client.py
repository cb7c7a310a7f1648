"""Calls into the helper on a host: install it on first contact, then JSON in, JSON out.

The remote command line is always fixed text (the helper's hash is hex); every argument
travels as JSON on the channel's stdin, so nothing a user or an agent wrote is ever
interpreted by a remote shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

import asyncssh

from ..errors import HostError, HostSetupError, HostUnreachable, RemoteError
from ..ssh import HostLink
from ..textsafe import said
from . import untrusted
from .bundle import Bundle, bundle
from .hostside import protocol
from .hostside.protocol import MAX_ANSWER
from .probe import HostProbe, HostReport, parse_probe, probe_script
from .untrusted import LineSplitter, decode_line

log = logging.getLogger("fleet.remote")
T = TypeVar("T")

CALL_TIMEOUT = 120.0
CHANNEL_ATTEMPTS = 6
MAX_STDERR = 64 * 1024  # only its last line is ever shown
READ_CHUNK = 256 * 1024
INLINE_LINE = 64 * 1024
"""Stream lines longer than this are decoded and parsed on a thread, off the event loop."""
CALL_ATTEMPTS = 2


# The kind of RemoteError for an operation that may or may not have been done.
UNCONFIRMED = "unconfirmed"


class StreamInput:
    """Lines for a running stream, after its request (hostside/inbox.py reads them): updates
    of what the stream was asked, the latest of each key winning."""

    def __init__(self) -> None:
        self._write: Callable[[bytes], object] | None = None
        self._pending: bytes | None = None  # the latest update no stream took yet

    def attach(self, write: Callable[[bytes], object] | None) -> None:
        """A stream started (its writer) or ended (None). A stream that starts gets the last
        update sent while none ran: its request may have been built before it."""
        self._write = write
        if write is not None and self._pending is not None:
            write(self._pending)
            self._pending = None

    def send(self, update: dict[str, Any]) -> None:
        line = (json.dumps(update) + "\n").encode()
        if len(line) > protocol.MAX_STREAM_INPUT:
            raise ValueError(f"a stream update of {len(line)} bytes")
        if self._write is None:
            self._pending = line
        else:
            self._write(line)


def helper_error(host: str, error: object) -> RemoteError:
    """The error a helper reported, its words made inert and bounded (a host may be hostile)."""
    fields = error if isinstance(error, dict) else {}
    return RemoteError(
        host, said(fields.get("kind", "error"), 40), said(fields.get("message", "failed"))
    )


class HelperClient:
    """The helper on one host, reached through that host's shared connection."""

    def __init__(self, link: HostLink, helper: Bundle | None = None) -> None:
        self.link = link
        self.bundle = helper or bundle()
        self._ready = False
        self._install_lock = asyncio.Lock()
        self._serve: _ServeChannel | None = None
        self._serve_lock = asyncio.Lock()

    @property
    def host(self) -> str:
        return self.link.name

    @property
    def command(self) -> str:
        return f"python3 {self.bundle.remote_path}"

    async def probe(self, timeout: float = CALL_TIMEOUT) -> HostProbe:
        """What the host has (tools and their versions, this helper, disk free), without
        installing anything: see fleet.core.remote.probe."""
        try:
            async with self.link.channel() as conn:
                command = probe_script(self.bundle.remote_path)
                result = await asyncio.wait_for(conn.run(command, check=False), timeout)
        except (asyncssh.Error, OSError) as exc:
            self.link.drop()
            raise HostUnreachable(self.host, f"connection lost: {_reason(exc)}") from None
        except TimeoutError:
            self.link.drop()
            why = f"no answer to the probe within {timeout:g} s"
            raise HostUnreachable(self.host, why) from None
        return parse_probe(str(result.stdout or ""))

    async def ensure_installed(self, probed: HostProbe | None = None) -> None:
        """Check the host has what fleet needs and upload the helper if this version is absent.
        `probed`: what a probe over the current connection just found (not asked again)."""
        if self._ready and self.link.connected:
            return
        async with self._install_lock:
            if self._ready and self.link.connected:
                return
            found = probed if probed is not None else await self.probe()
            problem = found.problem()
            if problem:
                raise HostSetupError(self.host, problem)
            if not found.installed:
                try:
                    await self._upload()
                except (asyncssh.Error, OSError) as exc:
                    self.link.drop()
                    raise HostUnreachable(
                        self.host, f"connection lost while installing the helper: {_reason(exc)}"
                    ) from None
            self._ready = True

    async def examine(self, timeout: float = CALL_TIMEOUT) -> HostReport:
        """Connect, probe, install the helper if absent and ask its hello: how far that got
        and why it stopped, as data (for `fleet doctor` and `fleet hosts`)."""
        report = HostReport(self.host, self.link.target)
        started = time.monotonic()
        try:
            conn = await self.link.connection()
        except HostError as exc:
            return replace(report, failed_at="connect", error=exc)
        where = conn.get_extra_info("peername")
        report = replace(
            report,
            connect_seconds=time.monotonic() - started,
            peer=f"{where[0]}:{where[1]}" if isinstance(where, tuple) and len(where) >= 2 else "",
            user=str(conn.get_extra_info("username") or ""),
        )
        try:
            found = await self.probe(timeout)
        except HostError as exc:
            return replace(report, failed_at="probe", error=exc)
        report = replace(report, probe=found)
        try:
            await self.ensure_installed(found)
            hello = await self.call("hello", timeout=timeout)
        except HostError as exc:
            return replace(report, failed_at="helper", error=exc)
        return replace(report, hello=hello)

    async def _upload(self) -> None:
        """SFTP where the host offers it; else the same bytes through `cat` on a fixed command."""
        log.info("%s: uploading helper %s", self.host, self.bundle.digest)
        async with self.link.channel() as conn:
            try:
                sftp = await conn.start_sftp_client()
            except (asyncssh.ChannelOpenError, asyncssh.SFTPError, asyncssh.ProcessError) as exc:
                log.info("%s: no SFTP (%s); uploading through the shell", self.host, _reason(exc))
            else:
                async with sftp:
                    await self._upload_sftp(sftp)
                return
        await self._upload_shell()

    async def _upload_sftp(self, sftp: asyncssh.SFTPClient) -> None:
        path = self.bundle.remote_path
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        try:
            await sftp.makedirs(".fleet", exist_ok=True)
            await sftp.chmod(".fleet", 0o700)
            async with sftp.open(tmp, "wb", asyncssh.SFTPAttrs(permissions=0o700)) as f:
                await f.write(self.bundle.data)
            await sftp.chmod(tmp, 0o700)
            await sftp.posix_rename(tmp, path)
        except asyncssh.SFTPError as exc:
            raise HostSetupError(
                self.host, f"cannot install the helper in ~/.fleet: {exc.reason}"
            ) from None

    async def _upload_shell(self) -> None:
        path = self.bundle.remote_path
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        script = (
            f"umask 077 && mkdir -p .fleet && chmod 700 .fleet && cat > {tmp} && "
            f"chmod 700 {tmp} && mv -f {tmp} {path}"
        )
        async with self.link.channel() as conn:
            result = await conn.run(script, input=self.bundle.data, encoding=None, check=False)
        if result.exit_status != 0:
            stderr = result.stderr or b""
            err = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
            raise HostSetupError(self.host, f"cannot install the helper in ~/.fleet: {err.strip()}")

    async def _refused(self, exc: asyncssh.ChannelOpenError, attempt: int) -> None:
        """sshd turned a channel down (its MaxSessions counts channels still closing, or
        another client shares the connection): nothing ran, so wait a moment and ask again.
        The connection itself is fine; only the last refusal is an error."""
        if attempt == CHANNEL_ATTEMPTS - 1:
            raise HostUnreachable(self.host, f"the host keeps refusing channels: {_reason(exc)}")
        log.debug("%s: channel refused (%s), retrying", self.host, _reason(exc))
        await asyncio.sleep(0.05 * 2**attempt)

    async def call(
        self, op: str, args: dict[str, Any] | None = None, timeout: float = CALL_TIMEOUT
    ) -> Any:
        """One request, one answer, over the host's shared `serve` channel.

        A read-only op whose channel died is asked again on a new one; any other op is
        asked again only when it certainly never left (it may have run: steering must
        not be typed twice), else the caller gets HostUnreachable."""
        spec = _spec(op, args, streaming=False)
        await self.ensure_installed()
        body = json.dumps({"op": op, "args": args or {}})
        if len(body) > protocol.MAX_REQUEST_BODY:
            raise RemoteError(
                self.host, "bad-request", f"the request for {op} is larger than the helper takes"
            )
        try:
            for attempt in range(CALL_ATTEMPTS):
                try:
                    answer = await asyncio.wait_for(self._ask(op, body), timeout)
                    break
                except _Lost as lost:
                    if attempt == CALL_ATTEMPTS - 1 or (lost.sent and not spec.read_only):
                        raise HostUnreachable(
                            self.host, f"connection lost during {op}: {lost.reason}"
                        ) from None
                    log.info("%s: helper channel lost (%s); asking again", self.host, lost.reason)
                except _Ended:
                    # The serve process ended under the request (killed, or it had just
                    # exited): a new one answers a read-only op; anything else may have run.
                    if attempt == CALL_ATTEMPTS - 1 or not spec.read_only:
                        raise
        except TimeoutError:
            raise HostUnreachable(self.host, f"no answer to {op} within {timeout:g} s") from None
        except _Ended as ended:
            lines = ended.stderr.decode("utf-8", "replace").strip().splitlines()
            log.error(
                "%s: the helper gave no answer to %s (exit status %s)", self.host, op, ended.status
            )
            why = f": {said(lines[-1])}" if lines else f" (exit status {ended.status})"
            if not spec.read_only:  # it may have run before the helper ended
                raise RemoteError(
                    self.host, UNCONFIRMED, f"the helper ended before it answered {op}{why}"
                ) from None
            raise RemoteError(
                self.host, "protocol", f"the helper gave no answer to {op}{why}"
            ) from None
        except _TooLarge:
            log.error("%s: the helper's answer to %s is over %d bytes", self.host, op, MAX_ANSWER)
            raise RemoteError(
                self.host,
                "protocol",
                f"the helper's answer to {op} is larger than {MAX_ANSWER // 2**20} MB: refused",
            ) from None
        if not answer.get("ok"):
            raise helper_error(self.host, answer.get("error"))
        result = answer.get("result")
        shape = list if spec.answers == "list" else dict
        if not isinstance(result, shape):
            log.error("%s: the helper answered %s with a %s", self.host, op, type(result).__name__)
            raise RemoteError(
                self.host,
                "protocol",
                f"the helper answered {op} with a {type(result).__name__}, "
                f"not a{'' if shape is list else 'n'} {'list' if shape is list else 'object'}",
            )
        return result

    async def _ask(self, op: str, body: str) -> dict[str, Any]:
        channel = await self._channel(op)
        return await channel.ask(body)

    async def _channel(self, op: str) -> _ServeChannel:
        """The open serve channel, opened (once, for every caller waiting) when there is none."""
        if self._serve is not None and not self._serve.closed:
            return self._serve
        async with self._serve_lock:
            if self._serve is not None and not self._serve.closed:
                return self._serve
            slot = contextlib.AsyncExitStack()
            try:
                for attempt in range(CHANNEL_ATTEMPTS):
                    conn = await slot.enter_async_context(self.link.channel())
                    try:
                        process = await conn.create_process(f"{self.command} serve", encoding=None)
                        break
                    except asyncssh.ChannelOpenError as exc:
                        await slot.aclose()
                        await self._refused(exc, attempt)
            except (asyncssh.Error, OSError) as exc:
                await slot.aclose()
                self.link.drop()
                raise _Lost(f"cannot start the helper: {_reason(exc)}", sent=False) from None
            except BaseException:
                await slot.aclose()
                raise
            self._serve = _ServeChannel(self.host, self.link, process, slot)
            return self._serve

    async def close(self) -> None:
        """End the serve channel (the host's serve process ends when its stdin closes)."""
        serve, self._serve = self._serve, None
        if serve is not None:
            await serve.close()

    def _read_line(
        self, op: str, line: bytes, parse: Callable[[dict[str, Any]], Any] | None
    ) -> Any:
        """One stream line as an event (parsed, when `parse`), or None when it is malformed
        (logged); a line saying the stream itself failed raises that error."""
        event = decode_line(line)
        if event is None:
            log.error("%s: ignored a malformed %s line", self.host, op)
            return None
        failed = untrusted.stream_failure(event)
        if failed is not None:
            raise helper_error(self.host, failed)
        return parse(event) if parse is not None else event

    async def stream(
        self,
        op: str,
        args: dict[str, Any] | None = None,
        parse: Callable[[dict[str, Any]], T | None] | None = None,
        updates: StreamInput | None = None,
    ) -> AsyncIterator[Any]:
        """A long-lived call: yields events until the helper ends or the caller stops; with
        `parse`, what it makes of each (None: skip); `updates` writes to the running stream.
        A long line (a snapshot of a large host) is decoded and parsed on a thread: one host
        must never stall the event loop every other host and the person's keys share."""
        _spec(op, args, streaming=True)
        await self.ensure_installed()
        request = json.dumps({"op": op, "args": args or {}}) + "\n"
        async with self.link.channel() as conn:
            try:
                for attempt in range(CHANNEL_ATTEMPTS):
                    try:
                        process = await conn.create_process(self.command, encoding=None)
                        break
                    except asyncssh.ChannelOpenError as exc:
                        await self._refused(exc, attempt)
            except (asyncssh.Error, OSError) as exc:
                self.link.drop()
                raise HostUnreachable(self.host, f"cannot start {op}: {_reason(exc)}") from None
            lines = LineSplitter()
            try:
                process.stdin.write(request.encode())
                if updates is not None:
                    updates.attach(process.stdin.write)
                while chunk := await process.stdout.read(READ_CHUNK):
                    dropped = lines.dropped
                    for line in lines.feed(chunk):
                        if not line.strip():
                            continue
                        if len(line) > INLINE_LINE:
                            event = await asyncio.to_thread(self._read_line, op, line, parse)
                        else:
                            event = self._read_line(op, line, parse)
                        if event is not None:
                            yield event
                    if lines.dropped != dropped:
                        log.error("%s: ignored a %s line over %d bytes", self.host, op, lines.limit)
                await process.wait()
            except (asyncssh.Error, OSError) as exc:
                self.link.drop()
                raise HostUnreachable(
                    self.host, f"connection lost during {op}: {_reason(exc)}"
                ) from None
            else:
                if process.exit_status is None:
                    # A cut connection ends the stream without an exit status.
                    self.link.drop()
                    raise HostUnreachable(self.host, f"connection lost during {op}")
            finally:
                if updates is not None:
                    updates.attach(None)
                process.close()


def _spec(op: str, args: dict[str, Any] | None, *, streaming: bool) -> protocol.Op:
    """The protocol's entry for a call fleet is about to make; a call the protocol does not
    have is a bug in fleet, refused before anything is sent."""
    spec = protocol.OPS.get(op)
    if spec is None or spec.streaming != streaming:
        raise ValueError(f"the helper has no {'stream' if streaming else 'call'} {op!r}")
    unknown = set(args or ()) - spec.params
    if unknown:
        raise ValueError(f"{op} takes no {', '.join(sorted(unknown))}")
    return spec


async def _read_tail(reader: asyncssh.SSHReader[bytes], keep: int) -> bytes:
    """Everything until EOF, keeping only the last `keep` bytes."""
    tail = b""
    while chunk := await reader.read(READ_CHUNK):
        tail = (tail + chunk)[-keep:]
    return tail


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return said(reason or exc or type(exc).__name__)


class _Lost(Exception):
    """The serve channel went away before the answer came. `sent`: the request may have run."""

    def __init__(self, reason: str, sent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent


class _Ended(Exception):
    """The serve process ended, the connection still up, without answering."""

    def __init__(self, status: int | None, stderr: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.stderr = stderr


class _TooLarge(Exception):
    """An answer line over MAX_ANSWER bytes (refused as it arrives, never kept whole)."""


# The helper writes the id first, so even an answer too long to parse names its request.
_ID_PREFIX = re.compile(rb'\A\s*\{\s*"id"\s*:\s*(\d{1,16})\s*[,}]')


class _ServeChannel:
    """One `helper serve` process on the host: requests tagged by id, answers matched to them.

    It holds one slot of the link's channel budget for as long as it is open."""

    def __init__(
        self,
        host: str,
        link: HostLink,
        process: asyncssh.SSHClientProcess[bytes],
        slot: contextlib.AsyncExitStack,
    ) -> None:
        self.host = host
        self.link = link
        self.process = process
        self.closed = False
        self._slot = slot
        self._closing = False
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._last_id = 0
        # stderr drains alongside, so a chatty helper cannot stall on a full channel window.
        self._stderr = asyncio.ensure_future(_read_tail(process.stderr, MAX_STDERR))
        self._reader = asyncio.ensure_future(self._read())

    async def ask(self, body: str) -> dict[str, Any]:
        """`body` is the request object as JSON; the answer object comes back."""
        if self.closed:
            raise _Lost("the helper's channel closed", sent=False)
        self._last_id += 1
        rid = self._last_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            try:
                self.process.stdin.write(f'{{"id": {rid}, {body[1:]}\n'.encode())
            except (asyncssh.Error, OSError) as exc:
                raise _Lost(_reason(exc), sent=False) from None
            return await future
        finally:
            self._pending.pop(rid, None)

    async def close(self) -> None:
        self._closing = True
        self.closed = True
        self.process.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._reader), 5)

    async def _read(self) -> None:
        failure: Exception
        try:
            await self._lines()
            self.closed = True
            failure = await self._ended()
        except (asyncssh.Error, OSError) as exc:
            failure = self._lost(_reason(exc))
        except _TooLarge as exc:  # and no id says whose: every waiting call is refused
            failure = exc
        except asyncio.CancelledError:
            failure = _Lost("the helper's channel was closed", sent=True)
        self.closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(failure)
        self.process.close()
        self._stderr.cancel()
        await self._slot.aclose()

    def _lost(self, reason: str) -> _Lost:
        if not self._closing:
            self.link.drop()  # a cut connection: the next use reconnects
        return _Lost(reason, sent=True)

    async def _ended(self) -> Exception:
        with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
            await asyncio.wait_for(self.process.wait_closed(), 5)
        if self.process.exit_status is None and self.process.exit_signal is None:
            # A cut connection ends the channel without an exit status.
            return self._lost("connection lost")
        stderr = b""
        with contextlib.suppress(Exception, asyncio.CancelledError):
            stderr = await asyncio.wait_for(asyncio.shield(self._stderr), 1)
        return _Ended(self.process.exit_status, stderr)

    async def _lines(self) -> None:
        """Every answer line as it completes; a line over MAX_ANSWER is skipped as it comes."""
        buf = bytearray()
        skipping = False
        while chunk := await self.process.stdout.read(READ_CHUNK):
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                piece = chunk[start:] if end < 0 else chunk[start:end]
                if skipping:
                    pass
                elif len(buf) + len(piece) > MAX_ANSWER:
                    self._too_large((bytes(buf[:64]) + piece[:64])[:64])
                    buf.clear()
                    skipping = True
                else:
                    buf += piece
                if end < 0:
                    break
                if not skipping:
                    self._deliver(bytes(buf))
                buf.clear()
                skipping = False
                start = end + 1

    def _too_large(self, head: bytes) -> None:
        match = _ID_PREFIX.match(head)
        future = self._pending.get(int(match.group(1))) if match else None
        if future is None:
            raise _TooLarge()
        if not future.done():
            future.set_exception(_TooLarge())

    def _deliver(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            value = json.loads(line.decode("utf-8", "replace"))
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            value = None
        if not isinstance(value, dict):
            log.error("%s: ignored a malformed line from the helper", self.host)
            return
        rid = value.get("id")
        future = self._pending.get(rid) if type(rid) is int else None
        if future is None:
            # An answer to a call that timed out, or to nothing: nobody waits for it.
            log.info("%s: ignored an answer to no pending request", self.host)
            return
        if not future.done():
            future.set_result(value)
