"""What fleet keeps on this machine about each workspace it made, under its state directory:

    workspaces/NAME/workspace.json   the pool, engine, container, volume, port, repo, session
    workspaces/NAME/id_ed25519       the key fleet logs in with (0600), and its .pub
    workspaces/NAME/host_key         the workspace's sshd host key (0600), copied into it
    workspaces/NAME/known_hosts      that host key, under the workspace's alias: fleet made
                                     the key, so it trusts it without asking (never blindly)
    workspaces/NAME/ssh_config       the alias: 127.0.0.1, the published port, the key above

A workspace is then a host like any other (a HostConfig with its own ssh config).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ..config import Config, HostConfig, parse_target
from ..paths import ensure_state_dir, state_dir
from .engine import Reach

log = logging.getLogger("fleet.workspaces")

SSH_USER: Final = "root"  # first slice: the image's root, whose home is the volume
HOME: Final = "/root"
KEYS_IN: Final = "/etc/fleet-workspace"  # where the host key and authorized key go inside
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}-[0-9a-f]{6}")

SSHD_CONFIG: Final = f"""\
# Written by fleet for this workspace: keys only, root by key, nothing forwarded.
Port 22
HostKey {KEYS_IN}/host_key
AuthorizedKeysFile {KEYS_IN}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PidFile none
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
MaxSessions 20
Subsystem sftp internal-sftp
"""


@dataclass
class Workspace:
    """One workspace fleet made, as workspace.json keeps it."""

    name: str  # also its host name in fleet, and its ssh alias
    pool: str
    engine: str  # the engine's program: "podman" or "docker"
    container: str
    volume: str
    image: str
    port: int = 0  # on 127.0.0.1; 0 until the container started
    repo: str = ""  # the local repository it was made from (where `fleet land` brings work)
    repo_dir: str = ""  # the clone in the workspace
    session: str = ""  # the session's id, once it started
    created: float = 0.0
    notice: float = 0.0  # when fleet gave notice it will reap it (idle_ttl); 0: none standing
    # How ssh reaches it (engine.Reach), as the engine said when it made or started it.
    hostname: str = "127.0.0.1"
    user: str = SSH_USER
    proxy: list[str] = field(default_factory=list)
    identity: str = ""
    known_hosts: str = ""
    via: str = ""  # the fleet host its engine runs on, whose connection carries ssh to it

    def reached(self, reach: Reach) -> None:
        self.hostname, self.port, self.user = reach.hostname, reach.port, reach.user
        self.via = reach.via
        self.proxy = list(reach.proxy)
        self.identity, self.known_hosts = reach.identity, reach.known_hosts

    @property
    def reachable(self) -> bool:
        return bool(self.port or self.proxy)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def root(env: Mapping[str, str] = os.environ) -> Path:
    return state_dir(env) / "workspaces"


def directory(name: str, env: Mapping[str, str] = os.environ) -> Path:
    return root(env) / name


def _private(path: Path, data: str | bytes) -> None:
    """Write a file only fleet's user can read, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, 0o600)


def prepare(ws: Workspace, env: Mapping[str, str] = os.environ) -> Path:
    """The workspace's directory with its keys and known_hosts (no port yet); returns the
    directory to copy into the container (its host key, authorized key and sshd config)."""
    ensure_state_dir(env)
    base = root(env)
    base.mkdir(mode=0o700, exist_ok=True)
    where = directory(ws.name, env)
    where.mkdir(mode=0o700)
    import asyncssh  # here, not at import: `fleet` paints its cached fleet before SSH loads

    client = asyncssh.generate_private_key("ssh-ed25519", comment=f"fleet@{ws.name}")
    host = asyncssh.generate_private_key("ssh-ed25519", comment=f"{ws.name} host key")
    _private(where / "id_ed25519", client.export_private_key())
    _private(where / "id_ed25519.pub", client.export_public_key())
    _private(where / "host_key", host.export_private_key())
    _private(where / "host_key.pub", host.export_public_key())
    known = f"{ws.name} {host.export_public_key().decode().strip()}\n"
    _private(where / "known_hosts", known)
    into = where / "into"
    into.mkdir(mode=0o755)
    _private(into / "host_key", host.export_private_key())
    _private(into / "authorized_keys", client.export_public_key())
    (into / "sshd_config").write_text(SSHD_CONFIG)
    os.chmod(into / "sshd_config", 0o644)
    save(ws, env)
    return into


def trust_host_key(ws: Workspace, key: str, env: Mapping[str, str] = os.environ) -> None:
    """The workspace's host key as its engine told it (a command engine's host_key command):
    fleet's known_hosts for it, under its alias, holds that key alone."""
    _private(directory(ws.name, env) / "known_hosts", f"{ws.name} {key}\n")


def jump_command(target: str, config_file: Path | None) -> list[str]:
    """OpenSSH's way through the fleet host `target` (its ssh = "..." in fleet.toml) to a
    workspace made there: what `fleet land`'s git fetch, or a person's `ssh -F`, runs."""
    user, host, port = parse_target(target)
    argv = ["ssh", *(["-F", str(config_file)] if config_file is not None else [])]
    argv += ["-o", "BatchMode=yes", "-o", "ForwardAgent=no", "-o", "ClearAllForwardings=yes"]
    argv += [*(["-p", str(port)] if port else []), *(["-l", user] if user else [])]
    return [*argv, "-W", "%h:%p", "--", host]


def write_ssh_config(
    ws: Workspace, env: Mapping[str, str] = os.environ, jump: list[str] | None = None
) -> Path:
    """The alias for how the engine said it is reached; the host key is checked under the
    alias (HostKeyAlias), so a new port after a restart keeps the trust fleet gave its key.
    `jump`: a workspace on a fleet host, jump_command() through it."""
    where = directory(ws.name, env)
    lines = [
        f"# Written by fleet for workspace {ws.name} (pool {ws.pool}).",
        f"Host {ws.name}",
        f"    HostName {ws.hostname}",
        f"    Port {ws.port or 22}",
        f"    User {ws.user}",
        f"    IdentityFile {ws.identity or where / 'id_ed25519'}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {ws.known_hosts or where / 'known_hosts'}",
        f"    HostKeyAlias {ws.name}",
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    ForwardAgent no",
    ]
    if ws.via and jump:
        # For OpenSSH; fleet's own connection ignores it: asyncssh is handed the host's
        # connection instead (ssh.HostLink's `via`), which it prefers to a ProxyCommand.
        lines.append(f"    ProxyCommand {shlex.join(jump)}")
    if ws.proxy:
        # An argv the engine's own code made (never a shell line from a host): quoted whole.
        lines.append(f"    ProxyCommand {shlex.join(ws.proxy)}")
    _private(where / "ssh_config", "\n".join(lines) + "\n")
    return where / "ssh_config"


def save(ws: Workspace, env: Mapping[str, str] = os.environ) -> None:
    path = directory(ws.name, env) / "workspace.json"
    tmp = path.with_suffix(".tmp")
    _private(tmp, json.dumps(ws.to_json(), indent=2))
    os.replace(tmp, path)


def forget(name: str, env: Mapping[str, str] = os.environ) -> None:
    """Remove what fleet kept of a workspace (after the engine removed it)."""
    shutil.rmtree(directory(name, env), ignore_errors=True)


def load_all(env: Mapping[str, str] = os.environ) -> list[Workspace]:
    """Every workspace fleet made and still keeps, oldest first; a damaged record is logged and
    left out (never fatal: it must not stop every other command)."""
    found: list[Workspace] = []
    base = root(env)
    if not base.is_dir():
        return found
    for entry in sorted(base.iterdir()):
        if not NAME_RE.fullmatch(entry.name):
            continue
        try:
            data = json.loads((entry / "workspace.json").read_text())
            ws = Workspace(**data)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("workspace %s: cannot read its record: %s", entry.name, exc)
            continue
        if ws.name == entry.name:
            found.append(ws)
    found.sort(key=lambda w: w.created)
    return found


def host_of(ws: Workspace, env: Mapping[str, str] = os.environ) -> HostConfig | None:
    """The workspace as a fleet host, once it has a port."""
    config = directory(ws.name, env) / "ssh_config"
    if not ws.reachable or not config.is_file():
        return None
    return HostConfig(
        name=ws.name, ssh=ws.name, line=0, ssh_config=config, pool=ws.pool, via=ws.via or None
    )


def with_workspaces(config: Config, env: Mapping[str, str] = os.environ) -> Config:
    """The config with every workspace fleet made added to its hosts (a configured host of
    the same name wins: fleet never hides one the person wrote)."""
    hosts = dict(config.hosts)
    for ws in load_all(env):
        host = host_of(ws, env)
        if ws.via and ws.via not in config.hosts:
            log.warning("workspace %s: its host %s is no longer configured", ws.name, ws.via)
            continue
        if host is not None and ws.name not in hosts:
            hosts[ws.name] = host
    if len(hosts) == len(config.hosts):
        return config
    return replace(config, hosts=hosts)


def new_name(pool: str) -> str:
    return f"{pool}-{os.urandom(3).hex()}"
