"""The command engine: the person's own commands make, start, describe and destroy a workspace
(Coder, DevPod, a cloud CLI), each an argv list with placeholders replaced inside their own
argument (config.poolengines.substitute), never a shell line.

`ssh_config` prints an OpenSSH config block for the workspace (what `devpod ssh
--print-config`-like commands give, or a script of the person's). fleet reads only what
reaching it needs, and keeps its own alias and settings around that: HostName, Port, User,
IdentityFile, UserKnownHostsFile and ProxyCommand. fleet checks every host key: the
optional `host_key` command prints the workspace's public host key as the engine knows it
(read through the engine's own authenticated access, e.g. `coder ssh NAME -- cat
/etc/ssh/ssh_host_ed25519_key.pub`), and fleet trusts that key alone for it; without one,
the key must be in the known_hosts file the block names.
"""

from __future__ import annotations

import getpass
import re
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

from ..config.poolengines import CommandPool, substitute
from ..config.pools import PoolConfig
from ..textsafe import said
from .argv import run
from .engine import ContainerSpec, Engine, EngineError, Reach

MAX_CONFIG = 64 * 1024  # characters of ssh_config output read
_KEPT = ("hostname", "port", "user", "identityfile", "userknownhostsfile", "proxycommand")
_KEY_RE = re.compile(r"(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]{20,8192}")


class CommandEngine(Engine):
    noun = "workspace"
    own_sshd = False

    def __init__(self, commands: CommandPool, pool: PoolConfig) -> None:
        self.name = "command"
        self.commands = commands
        self.values = {
            "pool": pool.name,
            "image": pool.image,
            "cpus": "" if pool.cpus is None else f"{pool.cpus:g}",
            "memory": pool.memory or "",
        }

    def argv(self, which: tuple[str, ...], name: str) -> list[str]:
        return substitute(which, {**self.values, "name": name})

    async def version(self) -> str:
        program = self.commands.create[0]
        found = shutil.which(program)
        if found is None:
            raise EngineError("engine version", f"{program} is not found on PATH")
        return f"{program} at {found}"

    async def make(self, spec: ContainerSpec, keys: Path) -> Reach:
        await run("run the create command", self.argv(self.commands.create, spec.name))
        return await self.reach(spec.name)

    async def start(self, name: str) -> None:
        # create again: Coder's `start` and DevPod's `up` are both safe on one that exists.
        await run("run the create command again", self.argv(self.commands.create, name))

    async def reach(self, name: str) -> Reach:
        out = await run("run the ssh_config command", self.argv(self.commands.ssh_config, name))
        reach = parse_ssh_config(out[:MAX_CONFIG])
        if not self.commands.host_key:
            return reach
        said_key = await run("run the host_key command", self.argv(self.commands.host_key, name))
        return replace(reach, host_key=host_key(said_key))

    async def state(self, name: str) -> str | None:
        if not self.commands.state:
            return "running"  # nothing to ask: reaching it tells
        try:
            out = await run("run the state command", self.argv(self.commands.state, name))
        except EngineError:
            return None
        words = out.split()
        return said(words[0].lower(), 40) if words else "running"

    async def remove(self, name: str, volume: str) -> None:
        await run("run the destroy command", self.argv(self.commands.destroy, name))


def parse_ssh_config(text: str) -> Reach:
    """The first Host block of `text` (or its lines before any Host), only the keys fleet
    keeps; the rest is ignored. Raises EngineError when it says nothing usable."""
    found: dict[str, str] = {}
    blocks = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.replace("=", " ", 1).partition(" ")
        key, value = key.lower(), value.strip()
        if key in ("host", "match"):
            blocks += 1
            if blocks > 1:
                break
            continue
        if key in _KEPT and key not in found and value and "\0" not in value:
            found[key] = value
    step = "read the ssh_config command's output"
    if "hostname" not in found and "proxycommand" not in found:
        raise EngineError(step, "it names neither a HostName nor a ProxyCommand")
    try:
        port = int(found.get("port", "22"))
        proxy = tuple(shlex.split(found["proxycommand"])) if "proxycommand" in found else ()
    except ValueError as exc:
        raise EngineError(step, f"cannot read it: {exc}") from None
    if not 0 < port < 65536:
        raise EngineError(step, f"port {port} is out of range")
    known = found.get("userknownhostsfile", "")
    return Reach(
        hostname=found.get("hostname", "workspace"),
        port=port,
        user=found.get("user", getpass.getuser()),
        proxy=proxy,
        identity=str(Path(found["identityfile"]).expanduser()) if "identityfile" in found else "",
        known_hosts=str(Path(known.split()[0]).expanduser()) if known else "",
    )


def host_key(text: str) -> str:
    """The first public key line of what the host_key command printed ("TYPE BASE64")."""
    for line in text.splitlines():
        m = _KEY_RE.match(line.strip())
        if m:
            return m[0]
    raise EngineError("read the host_key command's output", "it printed no public host key")
