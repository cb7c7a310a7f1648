"""Trusting a host's key: fetch it, say what it is, and record it only when the person agrees.

The key goes into the known_hosts file fleet checks for that host (the first
UserKnownHostsFile the ssh config gives it, else ~/.ssh/known_hosts), under the name ssh
itself looks up: the HostKeyAlias or HostName, as ``[name]:port`` when the port is not 22.
A key that differs from one already recorded is never replaced: that is for the person to do,
knowingly, with the ``ssh-keygen -R`` command :attr:`HostKeyOffer.remove_command` spells out.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import asyncssh

from .config import SshSettings
from .errors import HostUnreachable
from .ssh import HostLink
from .textsafe import said


class KeyState(StrEnum):
    NEW = "new"  # no key recorded for this host: it may be trusted
    TRUSTED = "trusted"  # this very key is recorded already
    CHANGED = "changed"  # another key is recorded: refuse, never replace


@dataclass(frozen=True)
class HostKeyOffer:
    """The key a host offers, where fleet would record it, and how it compares."""

    host: str  # the host's name in fleet's config
    target: str  # its ssh target as configured ("alpha", "user@host:2222")
    address: str  # where the key came from, as ssh shows it: "127.0.0.1 port 2222"
    known_name: str  # the known_hosts name: "[127.0.0.1]:2222" or "example.com"
    algorithm: str  # "ssh-ed25519"
    fingerprint: str  # "SHA256:..."
    public_line: str  # "ssh-ed25519 AAAA..." (no comment)
    known_hosts: Path  # the file the key is recorded in
    state: KeyState
    recorded_in: Path | None = None  # where the existing (same or other) key was found

    @property
    def known_hosts_line(self) -> str:
        return f"{self.known_name} {self.public_line}"

    @property
    def remove_command(self) -> str:
        """What the person runs to forget the recorded key of this host (after checking why)."""
        path = self.recorded_in or self.known_hosts
        return shlex.join(["ssh-keygen", "-R", self.known_name, "-f", str(path)])


async def fetch_offer(
    name: str, target: str, settings: SshSettings, timeout: float | None = None
) -> HostKeyOffer:
    """Connect far enough to see the host's key (no login) and compare it with known_hosts."""
    link = HostLink(name, target, settings, asyncio.Semaphore(1))
    host, port, user = link._endpoint()
    config = link._config_files()
    options = link._options(host, port, user)
    real_host = str(options.host)
    real_port = int(options.port or 22)
    alias = options.host_key_alias or real_host
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(host, port or (), config=config),
            timeout or settings.connect_timeout,
        )
    except TimeoutError:
        raise HostUnreachable(
            name, f"no answer within {timeout or settings.connect_timeout:g} s"
        ) from None
    except (asyncssh.Error, OSError) as exc:
        # Anyone who answers on the host's address wrote this: inert before anyone sees it.
        reason = said(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)
        raise HostUnreachable(name, f"cannot fetch its host key: {reason}") from None
    if key is None:
        raise HostUnreachable(name, "the host presented no host key")
    files = link._known_hosts(options)
    state, recorded_in = _compare(key, files, alias, real_host, real_port)
    known_name = alias if real_port == 22 else f"[{alias}]:{real_port}"
    public = key.export_public_key("openssh").decode("ascii").split()
    return HostKeyOffer(
        host=name,
        target=target,
        address=real_host if real_port == 22 else f"{real_host} port {real_port}",
        known_name=known_name,
        algorithm=key.get_algorithm(),
        fingerprint=key.get_fingerprint("sha256"),
        public_line=" ".join(public[:2]),
        known_hosts=Path(files[0]),
        state=state,
        recorded_in=recorded_in,
    )


def _compare(
    key: asyncssh.SSHKey, files: list[str], alias: str, host: str, port: int
) -> tuple[KeyState, Path | None]:
    offered = key.public_data
    other: Path | None = None
    for path in files:
        if not Path(path).is_file():
            continue
        try:
            trusted = asyncssh.match_known_hosts(path, alias, host, port if port != 22 else None)
        except (OSError, ValueError, asyncssh.Error):
            continue
        host_keys, revoked = trusted[0], trusted[2]
        if any(k.public_data == offered for k in revoked):
            return KeyState.CHANGED, Path(path)  # marked @revoked: never trust it again
        if any(k.public_data == offered for k in host_keys):
            return KeyState.TRUSTED, Path(path)
        if host_keys and other is None:
            other = Path(path)
    if other is not None:
        return KeyState.CHANGED, other
    return KeyState.NEW, None


def record(offer: HostKeyOffer) -> Path:
    """Append the offered key to its known_hosts file (created 0600, its directory 0700)."""
    if offer.state is not KeyState.NEW:
        raise ValueError(f"refusing to record a key whose state is {offer.state}")
    path = offer.known_hosts
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if f.tell() > 0 and not path.read_bytes().endswith(b"\n"):
            f.write("\n")
        f.write(offer.known_hosts_line + "\n")
    return path
