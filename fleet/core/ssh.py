"""One asyncssh connection per host, shared by everything, with budgets and honest errors.

- The person's ssh config is honoured (HostName, Port, User, IdentityFile, ProxyJump,
  UserKnownHostsFile, Include); keys come from it and from ssh-agent.
- Host keys are always verified: an unknown or changed key is refused with the fix spelled out.
- Nothing is forwarded (no agent, no X11) and nothing ever prompts (no password or passphrase).
- A workspace made on a fleet host is reached through that host's own connection (`via`: a
  direct-tcpip channel to the port its engine published there, as ProxyJump does).
- At most CHANNELS_PER_CONNECTION channels are open at once (sshd's MaxSessions is 10 by
  default); more wait their turn. Connects in flight across all hosts are capped too.
- After a failure, `retry_in()` says how long to wait: at most FAST_RETRY seconds while the
  host has been down less than FAST_FOR (a host back after a short outage is found within a
  few seconds of answering), then exponential backoff with jitter up to BACKOFF_MAX.
- What the server says (its DISCONNECT reason, its banner) is inert before it is kept: anyone
  who answers on the host's address can write it, before its key is even checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shlex
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncssh

from . import sshconfig
from .config import SshSettings, parse_target
from .errors import AuthFailed, HostKeyError, HostSetupError, HostUnreachable
from .textsafe import said

log = logging.getLogger("fleet.ssh")

CHANNELS_PER_CONNECTION = 8
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
FAST_RETRY = 5.0
FAST_FOR = 60.0
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


class HostLink:
    """The connection to one host: opened on first use, shared, reopened after a drop."""

    def __init__(
        self,
        name: str,
        target: str,
        settings: SshSettings,
        connect_gate: asyncio.Semaphore,
        via: HostLink | None = None,
    ) -> None:
        self.name = name
        self.via = via
        self.target = target
        self.settings = settings
        self._gate = connect_gate
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._channels = asyncio.Semaphore(CHANNELS_PER_CONNECTION)
        self.failures = 0
        self.failing_since = 0.0  # when the current run of failures began
        self.connects = 0
        self._connected = asyncio.Condition()  # notified on each new connection

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def retry_in(self, now: float | None = None) -> float:
        """Seconds to wait before the next attempt: 1, 2, 4, then every 5 s or less until the
        host has been down a minute; after that 8, 16 ... 60; each with jitter (+-25%, never
        above the 5 s cap in the first minute)."""
        if not self.failures:
            return 0.0
        delay: float = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (self.failures - 1))
        down_for = (time.time() if now is None else now) - self.failing_since
        if down_for < FAST_FOR and delay >= FAST_RETRY:
            return FAST_RETRY * random.uniform(0.75, 1.0)
        return delay * random.uniform(0.75, 1.25)

    async def wait_reconnect(self, timeout: float, after: int) -> None:
        """Wait `timeout` seconds before trying again, less if a connection newer than the
        `after`-th is made meanwhile (a person acting on this host connects it at once)."""
        async with self._connected:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._connected.wait_for(lambda: self.connects > after), timeout
                )

    async def connection(self) -> asyncssh.SSHClientConnection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            # The host that carries it is connected first, outside the gate it also needs.
            tunnel = await self.via.connection() if self.via is not None else None
            async with self._gate:
                try:
                    self._conn = await self._connect(tunnel)
                except Exception:
                    if not self.failures:
                        self.failing_since = time.time()
                    self.failures += 1
                    raise
            self.failures = 0
            self.connects += 1
            async with self._connected:
                self._connected.notify_all()
            log.info("%s: connected", self.name)
            return self._conn

    @asynccontextmanager
    async def channel(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """A slot in this connection's channel budget, held while the caller uses a channel."""
        async with self._channels:
            yield await self.connection()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

    def drop(self) -> None:
        """Forget a connection known to be dead so the next use reconnects."""
        if self._conn is not None:
            self._conn.abort()
            self._conn = None

    # -- connecting ---------------------------------------------------------------------

    def _config_files(self, host: str | None = None) -> list[str]:
        """The config for asyncssh; with `host`, only the part that can apply to it (see
        sshconfig: a config of many Host blocks costs a pass over all of them per connect)."""
        cfg = self.settings.config_file
        if cfg is None or not cfg.exists():
            return []
        return [str(sshconfig.config_for(cfg, host) if host else cfg)]

    def _endpoint(self) -> tuple[str, int | None, str | None]:
        user, host, port = parse_target(self.target)
        return host, port, user

    def _options(
        self, host: str, port: int | None, user: str | None
    ) -> asyncssh.SSHClientConnectionOptions:
        """The ssh config as it applies to this host, parsed once per connect (it reads files:
        callers on the event loop use a thread)."""

        def parsed(config: list[str]) -> asyncssh.SSHClientConnectionOptions:
            return asyncssh.SSHClientConnectionOptions(
                config=config, host=host, port=port or (), username=user or ()
            )

        try:
            return parsed(self._config_files(host))
        except ValueError:  # a mistake in the config: named by line in the person's own file
            return parsed(self._config_files())

    @staticmethod
    def _known_hosts(options: asyncssh.SSHClientConnectionOptions) -> list[str]:
        """The known_hosts files in force for this host, never "none": keys are always checked."""
        configured = options.known_hosts
        if isinstance(configured, list | tuple) and configured:
            files = [str(Path(str(f)).expanduser()) for f in configured]
            files = [f for f in files if f != "/dev/null"]
            if files:
                return files
        return [str(DEFAULT_KNOWN_HOSTS.expanduser())]

    async def _connect(
        self, tunnel: asyncssh.SSHClientConnection | None = None
    ) -> asyncssh.SSHClientConnection:
        host, port, user = self._endpoint()
        try:
            options = await asyncio.to_thread(self._options, host, port, user)
            known = self._known_hosts(options)
        except OSError as exc:
            # asyncssh reads the IdentityFile while it parses the config.
            raise AuthFailed(
                self.name,
                f"cannot read a file your ssh config names for {self.target!r}: "
                f"{exc.filename or ''} ({exc.strerror or exc}). Fix the IdentityFile (or "
                "whatever file it is) in your ssh config.",
            ) from None
        readable = [f for f in known if Path(f).is_file()]
        try:
            return await asyncssh.connect(
                host,
                port=port or (),
                username=user or (),
                options=options,
                # Parsed above, once: `options` carries it. A ProxyJump host is looked up in
                # the whole file (asyncssh connects it with `config`).
                config=self._config_files() if options.tunnel else None,
                tunnel=tunnel if tunnel is not None else (),
                known_hosts=readable or b"",
                keepalive_interval=self.settings.keepalive,
                keepalive_count_max=self.settings.keepalive_count,
                connect_timeout=self.settings.connect_timeout,
                login_timeout=self.settings.connect_timeout,
                agent_forwarding=False,
                password_auth=False,
                kbdint_auth=False,
                x11_forwarding=False,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise await self._host_key_error(host, port, options, known, exc, tunnel) from None
        except asyncssh.ChannelOpenError as exc:
            if self.via is None or exc.code != asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED:
                raise HostUnreachable(self.name, said(exc.reason)) from None
            raise HostSetupError(
                self.name,
                f"host {self.via.name} refused to carry the connection to it ({said(exc.reason)}):"
                " fleet reaches a workspace made on a host through that host's connection, so "
                "its sshd must allow TCP forwarding (AllowTcpForwarding yes, the default)",
            ) from None
        except asyncssh.PermissionDenied as exc:
            raise AuthFailed(
                self.name,
                f"login refused ({said(exc.reason)}). fleet logs in with keys only: check the "
                f"IdentityFile for {self.target!r} in your ssh config, or load the key into "
                "ssh-agent (ssh-add), and that `ssh {self.target}` works without a password.",
            ) from None
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            raise AuthFailed(
                self.name,
                f"cannot use the configured key ({said(exc)}). fleet never prompts for a "
                "passphrase: load the key into ssh-agent with ssh-add.",
            ) from None
        except TimeoutError:
            raise HostUnreachable(
                self.name, f"no answer within {self.settings.connect_timeout:g} s"
            ) from None
        except asyncssh.Error as exc:
            raise HostUnreachable(self.name, said(exc.reason or type(exc).__name__)) from None
        except OSError as exc:
            raise HostUnreachable(self.name, said(exc.strerror or exc)) from None

    async def _host_key_error(
        self,
        host: str,
        port: int | None,
        options: asyncssh.SSHClientConnectionOptions,
        known: list[str],
        exc: asyncssh.HostKeyNotVerifiable,
        tunnel: asyncssh.SSHClientConnection | None = None,
    ) -> HostKeyError:
        """Say which key was offered, whether it changed, and how to trust it."""
        fingerprint = ""
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(
                    host,
                    port or (),
                    tunnel=tunnel if tunnel is not None else (),
                    config=self._config_files(),
                ),
                self.settings.connect_timeout,
            )
            if key is not None:
                fingerprint = f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"
        except Exception:  # the hint is best effort; the refusal stands regardless
            pass
        changed = self._has_other_key(known, options)
        files = ", ".join(known)
        if changed:
            remove = shlex.join(["ssh-keygen", "-R", changed[0], "-f", changed[1]])
            return HostKeyError(
                self.name,
                f"host key CHANGED ({fingerprint or said(exc.reason)}). Someone may be "
                f"intercepting the connection, or the host was reinstalled. Refusing to "
                f"connect; fleet never replaces a recorded key. If you know why it changed, "
                f"remove the old key with "
                f"`{remove}`, then trust the new one with `fleet trust {self.name}`.",
            )
        return HostKeyError(
            self.name,
            f"host key not trusted ({fingerprint or said(exc.reason)}); it is not in {files}. "
            f"Check the fingerprint with the host's owner, then trust it with "
            f"`fleet trust {self.name}`.",
        )

    @staticmethod
    def _has_other_key(
        known: list[str], options: asyncssh.SSHClientConnectionOptions
    ) -> tuple[str, str] | None:
        """(known_hosts name, file) when known_hosts holds some key for this host (so the
        offered one is a change), else None.

        Looked up the way ssh does: under the HostName / Port / HostKeyAlias the ssh config
        gives the alias (`[127.0.0.1]:2222`, not `alpha`), hashed entries included.
        """
        name = options.host_key_alias or options.host
        real_port = options.port if options.port != 22 else None
        for path in known:
            if not Path(path).is_file():
                continue
            try:
                keys = asyncssh.match_known_hosts(path, name, options.host, real_port)
            except (OSError, ValueError, asyncssh.Error):
                continue
            if keys[0]:  # a trusted key for this host, and the offered one is not it
                return (f"[{name}]:{real_port}" if real_port else str(name)), path
        return None
