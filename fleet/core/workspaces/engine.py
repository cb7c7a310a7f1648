"""What fleet asks of an engine that makes workspaces: a container (or pod, or machine) from a
template, with a volume that outlives a restart, reachable over SSH. fleet never schedules
anything itself; an engine is something the person already runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FleetError


class EngineError(FleetError):
    """The engine refused or failed a step; the message names the step and what it said."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.reason = message


@dataclass(frozen=True)
class ContainerSpec:
    """One workspace's container as fleet asks for it."""

    name: str  # the container's name, also its volume's
    image: str
    volume: str
    mount: str  # where the volume is mounted (the workspace user's home)
    command: tuple[str, ...]  # what runs in it: sshd, in the foreground
    ssh_port: int = 22  # inside; published on 127.0.0.1 at a port the engine picks
    cpus: float | None = None
    memory: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tmpfs: tuple[str, ...] = ()  # like "/run/sshd:rw,mode=0755"
    keys_in: str = "/etc/fleet-workspace"  # where fleet's sshd keys and config go inside
    pool: str = ""


@dataclass(frozen=True)
class Reach:
    """How fleet's ssh reaches a workspace's sshd once the engine made it."""

    hostname: str = "127.0.0.1"
    port: int = 22
    user: str = "root"
    proxy: tuple[str, ...] = ()  # a ProxyCommand as argv (kubectl exec, coder ssh --stdio)
    identity: str = ""  # a key file the engine's ssh config names; "": fleet's own for it
    known_hosts: str = ""  # the engine's known_hosts file; "": fleet's (the key fleet made)
    host_key: str = ""  # the workspace's public host key as the engine told it (command)
    via: str = ""  # the fleet host whose connection carries ssh to it (the engine runs there)


class Engine(ABC):
    """What makes workspaces: a container engine, a cluster, or the person's own commands.
    Every method raises EngineError naming what it was doing; removing what is already gone
    is not an error."""

    name: str
    noun: str = "container"  # what it makes, in what fleet says: container, pod, workspace
    # Whether the workspace runs fleet's sshd with the keys fleet made for it (`make` gets
    # them): podman, docker and kubernetes do; a command engine's workspace has its own.
    own_sshd: bool = True

    @abstractmethod
    async def version(self) -> str:
        """The engine's version: whether it answers at all (`fleet doctor`)."""

    @abstractmethod
    async def make(self, spec: ContainerSpec, keys: Path) -> Reach:
        """The workspace made and started (`keys`: the directory of fleet's sshd host key,
        authorized key and sshd_config, for `spec.keys_in`), and how to reach it."""

    @abstractmethod
    async def start(self, name: str) -> None:
        """Start a stopped workspace again (its volume kept)."""

    @abstractmethod
    async def reach(self, name: str) -> Reach:
        """How to reach it now (a restarted container may publish another port)."""

    @abstractmethod
    async def state(self, name: str) -> str | None:
        """ "running", "exited", ... or None when there is no such workspace."""

    @abstractmethod
    async def remove(self, name: str, volume: str) -> None:
        """The workspace (stopped first) and its volume; gone already is fine."""
