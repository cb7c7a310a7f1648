"""Calls into the helper on a host: install it on first contact, then JSON in, JSON out.

The remote command line is always fixed text (the helper's hash is hex); every argument
travels as JSON on the channel's stdin, so nothing a user or an agent wrote is ever
interpreted by a remote shell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncssh

from ..errors import HostSetupError, HostUnreachable, RemoteError
from ..ssh import HostLink
from .bundle import Bundle, bundle
from .untrusted import LineSplitter, decode_line, said

log = logging.getLogger("fleet.remote")

REQUIRED_TOOLS = ("python3", "tmux", "git")
MIN_PYTHON = (3, 8)
CALL_TIMEOUT = 120.0
CHANNEL_ATTEMPTS = 6
MAX_ANSWER = 128 * 1024 * 1024
"""Bytes of one answer read from a helper (a diff with big binary files fits); more is refused."""
MAX_STDERR = 64 * 1024  # only its last line is ever shown
READ_CHUNK = 256 * 1024
LIST_OPS = frozenset({"list", "checkpoints", "decisions"})  # every other op answers an object

_PROBE = (
    'for t in python3 tmux git; do command -v "$t" >/dev/null 2>&1 || echo "missing $t"; '
    "done; python3 -c 'import sys; print(\"python %d %d\" % sys.version_info[:2])' 2>/dev/null; "
    "test -x {path} && echo installed; exit 0"
)


class HelperClient:
    """The helper on one host, reached through that host's shared connection."""

    def __init__(self, link: HostLink, helper: Bundle | None = None) -> None:
        self.link = link
        self.bundle = helper or bundle()
        self._ready = False
        self._install_lock = asyncio.Lock()

    @property
    def host(self) -> str:
        return self.link.name

    @property
    def command(self) -> str:
        return f"python3 {self.bundle.remote_path}"

    async def ensure_installed(self) -> None:
        """Check the host has what fleet needs and upload the helper if this version is absent."""
        if self._ready and self.link.connected:
            return
        async with self._install_lock:
            if self._ready and self.link.connected:
                return
            try:
                async with self.link.channel() as conn:
                    probe = await conn.run(_PROBE.format(path=self.bundle.remote_path), check=False)
            except (asyncssh.Error, OSError) as exc:
                self.link.drop()
                raise HostUnreachable(self.host, f"connection lost: {_reason(exc)}") from None
            out = str(probe.stdout or "")
            missing = [line.split()[1] for line in out.splitlines() if line.startswith("missing ")]
            if missing:
                raise HostSetupError(
                    self.host,
                    f"missing {', '.join(missing)}: fleet needs ssh, tmux, git and python3 "
                    f"on each host (e.g. `apt-get install {' '.join(missing)}`)",
                )
            for line in out.splitlines():
                if line.startswith("python "):
                    major, minor = (int(x) for x in line.split()[1:3])
                    if (major, minor) < MIN_PYTHON:
                        raise HostSetupError(
                            self.host, f"python3 is {major}.{minor}; fleet needs 3.8 or newer"
                        )
            if "installed" not in out.split():
                try:
                    await self._upload()
                except (asyncssh.Error, OSError) as exc:
                    self.link.drop()
                    raise HostUnreachable(
                        self.host, f"connection lost while installing the helper: {_reason(exc)}"
                    ) from None
            self._ready = True

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
        """One request, one answer."""
        await self.ensure_installed()
        request = (json.dumps({"op": op, "args": args or {}}) + "\n").encode()
        try:
            for attempt in range(CHANNEL_ATTEMPTS):
                try:
                    async with self.link.channel() as conn:
                        out, err, status = await asyncio.wait_for(
                            self._exchange(conn, op, request), timeout
                        )
                    break
                except asyncssh.ChannelOpenError as exc:
                    await self._refused(exc, attempt)
        except TimeoutError:
            raise HostUnreachable(self.host, f"no answer to {op} within {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            self.link.drop()
            raise HostUnreachable(
                self.host, f"connection lost during {op}: {_reason(exc)}"
            ) from None
        answer = _last_json_line(out.decode("utf-8", "replace"))
        if answer is None:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            log.error("%s: the helper gave no answer to %s (exit status %s)", self.host, op, status)
            raise RemoteError(
                self.host,
                "protocol",
                f"the helper gave no answer to {op}"
                + (f": {said(lines[-1])}" if lines else f" (exit status {status})"),
            )
        if not answer.get("ok"):
            error = answer.get("error")
            if not isinstance(error, dict):
                error = {}
            raise RemoteError(
                self.host,
                said(error.get("kind", "error"), 40),
                said(error.get("message", "failed")),
            )
        result = answer.get("result")
        shape = list if op in LIST_OPS else dict
        if not isinstance(result, shape):
            log.error("%s: the helper answered %s with a %s", self.host, op, type(result).__name__)
            raise RemoteError(
                self.host,
                "protocol",
                f"the helper answered {op} with a {type(result).__name__}, "
                f"not a{'' if shape is list else 'n'} {'list' if shape is list else 'object'}",
            )
        return result

    async def _exchange(
        self, conn: asyncssh.SSHClientConnection, op: str, request: bytes
    ) -> tuple[bytes, bytes, int | None]:
        """Run the helper once: the request in, its stdout (at most MAX_ANSWER bytes) and the
        tail of its stderr out. A bigger answer is refused without being kept in memory."""
        process = await conn.create_process(self.command, encoding=None)
        # stderr drains alongside, so a chatty helper cannot stall on a full channel window.
        err_task = asyncio.ensure_future(_read_tail(process.stderr, MAX_STDERR))
        try:
            process.stdin.write(request)
            process.stdin.write_eof()
            out = await _read_capped(process.stdout, MAX_ANSWER)
            if out is None:
                log.error(
                    "%s: the helper's answer to %s is over %d bytes", self.host, op, MAX_ANSWER
                )
                raise RemoteError(
                    self.host,
                    "protocol",
                    f"the helper's answer to {op} is larger than {MAX_ANSWER // 2**20} MB: refused",
                )
            err = await err_task
            await process.wait()
            return out, err, process.exit_status
        finally:
            err_task.cancel()
            process.close()  # also what stops a helper still writing past the limit

    async def stream(
        self, op: str, args: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """A long-lived call: yields events until the helper ends or the caller stops."""
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
                while chunk := await process.stdout.read(READ_CHUNK):
                    dropped = lines.dropped
                    for line in lines.feed(chunk):
                        if not line.strip():
                            continue
                        event = decode_line(line)
                        if event is None:
                            log.error("%s: ignored a malformed %s line", self.host, op)
                            continue
                        if event.get("type") == "error" and "seq" not in event:
                            # The helper's own failure (a journal "error" event has a seq).
                            error = event.get("error")
                            if not isinstance(error, dict):
                                error = {}
                            raise RemoteError(
                                self.host,
                                said(error.get("kind", "error"), 40),
                                said(error.get("message", "failed")),
                            )
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
                process.close()


async def _read_capped(reader: asyncssh.SSHReader[bytes], limit: int) -> bytes | None:
    """Everything until EOF, or None as soon as it passes `limit` bytes."""
    parts: list[bytes] = []
    size = 0
    while chunk := await reader.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


async def _read_tail(reader: asyncssh.SSHReader[bytes], keep: int) -> bytes:
    """Everything until EOF, keeping only the last `keep` bytes."""
    tail = b""
    while chunk := await reader.read(READ_CHUNK):
        tail = (tail + chunk)[-keep:]
    return tail


def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            continue
        if isinstance(value, dict):
            return value
    return None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return said(reason or exc or type(exc).__name__)
