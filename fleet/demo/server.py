"""An SSH server inside this process that presents directories of a sandbox as hosts.

Each demo host listens on its own 127.0.0.1 port with its own host key; only the sandbox's
client key may log in. A command runs the way sshd runs it: the client's command string goes
to the login shell (`/bin/sh -c COMMAND`), as the current user, in the host's home, with a
clean environment whose HOME is that home and whose TMUX_TMPDIR is the home's tmp/ (so each
demo host has its own ~/.fleet and its own tmux server, never the person's). stdin, stdout,
stderr, EOF both ways and the exit status (or signal) travel faithfully; a pty request gets a
real pseudo-terminal (so `fleet attach` works). When a channel closes, its process group is
killed. No SFTP (fleet falls back to uploading through the shell), no forwarding of any kind.

asyncssh's `process.redirect()` to asyncio subprocess pipes was seen losing output, so bytes
are copied between the channel and the subprocess here.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

log = logging.getLogger("fleet.demo.server")

CHUNK = 65536
KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL of a closed channel's process group
DRAIN_AFTER_EXIT = 1.0  # seconds to wait for output after the command exited (background kids)
ENV_PASSTHROUGH = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")


@dataclass
class ServedHost:
    """One demo host: a home directory behind its own port and host key."""

    name: str
    home: Path
    host_key: asyncssh.SSHKey = field(repr=False)
    port: int = 0


def host_environment(
    name: str, home: Path, user: str, path: str, term: str | None = None
) -> dict[str, str]:
    """The environment a command on host `name` gets: what sshd would give, in the sandbox."""
    env = {
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/sh",
        "PATH": path,
        "TMUX_TMPDIR": str(home / "tmp"),
        "FLEET_DEMO_HOST": name,
    }
    for name in ENV_PASSTHROUGH:
        if os.environ.get(name):
            env[name] = os.environ[name]
    if "UTF-8" not in (env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or "").upper():
        env["LANG"] = "C.UTF-8"  # tmux shows non-ASCII as "_" without a UTF-8 locale
        env.pop("LC_ALL", None)
        env.pop("LC_CTYPE", None)
    if term:
        env["TERM"] = term
    return env


class _Server(asyncssh.SSHServer):
    """Key login only, as `user`; nothing else (asyncssh refuses forwarding by default)."""

    def __init__(self, user: str) -> None:
        self.user = user

    def begin_auth(self, username: str) -> bool:
        return True  # always authenticate (the key decides; a wrong user name fails below)

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class DemoServer:
    """The listeners of every demo host, and every command running behind them."""

    def __init__(
        self,
        hosts: Sequence[ServedHost],
        client_key: asyncssh.SSHKey,
        user: str,
        path: str | None = None,
    ) -> None:
        self.hosts = list(hosts)
        self.client_key = client_key
        self.user = user
        self.path = path or os.environ.get("PATH") or os.defpath
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._conns: set[asyncssh.SSHServerConnection] = set()
        self._groups: set[int] = set()  # process groups of commands still running
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        try:
            await asyncio.gather(*(self._listen(h) for h in self.hosts))
        except BaseException:
            await self.close()
            raise

    async def _listen(self, host: ServedHost) -> None:
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key("openssh").decode("ascii")
        )
        user = self.user

        def server_factory() -> asyncssh.SSHServer:
            return _Server(user)

        def on_connect(conn: asyncssh.SSHServerConnection) -> None:
            if conn.get_extra_info("username") != user:
                conn.close()  # the key fits, but this host has no such user
                return
            self._conns.add(conn)

        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            await self._run(host, process)

        acceptor = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=server_factory,
            server_host_keys=[host.host_key],
            authorized_client_keys=authorized,
            process_factory=handle,
            acceptor=on_connect,
            encoding=None,
            line_editor=False,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            keepalive_interval=0,
            config=[],
        )
        self._acceptors.append(acceptor)
        host.port = acceptor.get_port()

    async def close(self) -> None:
        """Stop listening, drop every connection, kill every command still running."""
        for acceptor in self._acceptors:
            acceptor.close()
        for conn in list(self._conns):
            conn.abort()
        for pgid in list(self._groups):
            _killpg(pgid, signal.SIGKILL)
        for acceptor in self._acceptors:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(acceptor.wait_closed(), 2)
        self._acceptors.clear()
        self._conns.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    # -- one channel ----------------------------------------------------------------------

    async def _run(self, host: ServedHost, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = process.get_extra_info("connection")
        if conn is not None and conn.get_extra_info("username") != self.user:
            process.exit(255)
            return
        command = process.command
        term = process.term_type
        argv = ["/bin/sh", "-c", command] if command is not None else ["/bin/sh", "-l"]
        env = host_environment(host.name, host.home, self.user, self.path, term)
        try:
            if term:
                await _run_pty(self, host, process, argv, env)
            else:
                await _run_pipes(self, host, process, argv, env)
        except Exception:
            log.exception("%s: command failed", host.name)
            with contextlib.suppress(Exception):
                process.exit(255)
        finally:
            if task is not None:
                self._tasks.discard(task)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pgid, sig)


async def _stop_group(pgid: int) -> None:
    _killpg(pgid, signal.SIGTERM)
    _killpg(pgid, signal.SIGHUP)
    await asyncio.sleep(KILL_GRACE)
    _killpg(pgid, signal.SIGKILL)


def _exit(process: asyncssh.SSHServerProcess[bytes], returncode: int) -> None:
    """Report how the command ended, as sshd does: a status, or the signal that killed it."""
    if process.is_closing():
        return
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name.removeprefix("SIG")
        except ValueError:
            process.exit(255)
            return
        process.exit_with_signal(name)
    else:
        process.exit(returncode)


async def _supervise(
    server: DemoServer,
    process: asyncssh.SSHServerProcess[bytes],
    pgid: int,
    pumps: list[asyncio.Task[None]],
    feeder: asyncio.Task[None],
    wait: asyncio.Task[int],
) -> None:
    """Wait for the command to end (then report it) or the channel to close (then kill it)."""
    server._groups.add(pgid)
    closed = asyncio.ensure_future(process.channel.wait_closed())
    try:
        done, _ = await asyncio.wait({wait, closed}, return_when=asyncio.FIRST_COMPLETED)
        if wait in done:
            # Output the command wrote before it ended still arrives; a background child that
            # kept the pipes open does not hold the channel forever.
            if pumps:
                await asyncio.wait(pumps, timeout=DRAIN_AFTER_EXIT)
            _exit(process, wait.result())
    finally:
        closed.cancel()
        feeder.cancel()
        for pump in pumps:
            pump.cancel()
        if not wait.done():
            await _stop_group(pgid)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(wait, 5)
        _killpg(pgid, signal.SIGKILL)  # whatever of the group is left, as the channel goes
        server._groups.discard(pgid)
        if not process.is_closing():
            process.close()


async def _run_pipes(
    server: DemoServer,
    host: ServedHost,
    process: asyncssh.SSHServerProcess[bytes],
    argv: list[str],
    env: dict[str, str],
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=host.home,
        env=env,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin = proc.stdin

    async def feed() -> None:
        try:
            while True:
                try:
                    data = await process.stdin.read(CHUNK)
                except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
                    continue
                except asyncssh.SignalReceived as exc:
                    _signal_group(proc.pid, exc.signal)
                    continue
                if not data:
                    break
                stdin.write(data)
                await stdin.drain()
        except (OSError, asyncssh.Error):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                stdin.close()  # EOF to the command

    async def pump(reader: asyncio.StreamReader, writer: asyncssh.SSHWriter[bytes]) -> None:
        with contextlib.suppress(OSError, asyncssh.Error):
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    return
                writer.write(data)
                await writer.drain()

    pumps = [
        asyncio.ensure_future(pump(proc.stdout, process.stdout)),
        asyncio.ensure_future(pump(proc.stderr, process.stderr)),
    ]
    feeder = asyncio.ensure_future(feed())
    wait = asyncio.ensure_future(proc.wait())
    await _supervise(server, process, proc.pid, pumps, feeder, wait)


def _signal_group(pgid: int, name: str) -> None:
    try:
        sig = signal.Signals["SIG" + name]
    except KeyError:
        return
    _killpg(pgid, sig)


def _set_winsize(fd: int, size: tuple[int, int, int, int]) -> None:
    cols, rows, width, height = size
    if cols and rows:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, width, height))


def _take_tty() -> None:  # runs in the child, after setsid: make stdin its controlling tty
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _run_pty(
    server: DemoServer,
    host: ServedHost,
    process: asyncssh.SSHServerProcess[bytes],
    argv: list[str],
    env: dict[str, str],
) -> None:
    master, proc = await _spawn_on_pty(host, process, argv, env)
    pumps = [asyncio.ensure_future(_pty_to_channel(master, process))]
    feeder = asyncio.ensure_future(_channel_to_pty(process, master, proc.pid))
    wait = asyncio.ensure_future(proc.wait())
    try:
        await _supervise(server, process, proc.pid, pumps, feeder, wait)
    finally:
        os.close(master)


async def _spawn_on_pty(
    host: ServedHost,
    process: asyncssh.SSHServerProcess[bytes],
    argv: list[str],
    env: dict[str, str],
) -> tuple[int, asyncio.subprocess.Process]:
    """The command on a new terminal of the channel's size: (its master side, non-blocking;
    the process, leading a session of its own with that terminal as its controlling tty)."""
    master, slave = os.openpty()
    try:
        _set_winsize(slave, process.term_size)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=host.home,
            env=env,
            start_new_session=True,
            preexec_fn=_take_tty,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return master, proc


async def _read_master(master: int) -> bytes:
    """The next output of the terminal; b"" once nothing holds its slave side any more."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return os.read(master, CHUNK)
        except BlockingIOError:
            ready = loop.create_future()
            loop.add_reader(master, ready.set_result, None)
            try:
                await ready
            finally:
                loop.remove_reader(master)
        except OSError as exc:
            if exc.errno == errno.EIO:  # every holder of the slave side is gone
                return b""
            raise


async def _pty_to_channel(master: int, process: asyncssh.SSHServerProcess[bytes]) -> None:
    with contextlib.suppress(OSError, asyncssh.Error):
        while True:
            data = await _read_master(master)
            if not data:
                return
            process.stdout.write(data)
            await process.stdout.drain()


async def _channel_to_pty(process: asyncssh.SSHServerProcess[bytes], master: int, pid: int) -> None:
    """What the client types, its window size and its signals, to the terminal."""
    with contextlib.suppress(OSError, asyncssh.Error):
        while True:
            try:
                data = await process.stdin.read(CHUNK)
            except asyncssh.TerminalSizeChanged as exc:
                _set_winsize(master, (exc.width, exc.height, exc.pixwidth, exc.pixheight))
                continue
            except asyncssh.BreakReceived:
                continue
            except asyncssh.SignalReceived as exc:
                _signal_group(pid, exc.signal)
                continue
            if not data:
                return  # a terminal gets no EOF from the channel's: the shell reads on
            await _write_all(master, data)


async def _write_all(master: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(master, view) :]
        except BlockingIOError:
            await asyncio.sleep(0.01)
