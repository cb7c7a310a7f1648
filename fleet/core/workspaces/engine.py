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


class Engine(ABC):
    """A container engine's command line, as fleet drives it. Every method raises EngineError
    naming what it was doing; removing what is already gone is not an error."""

    name: str

    @abstractmethod
    async def version(self) -> str:
        """The engine's version: whether it answers at all (`fleet doctor`)."""

    @abstractmethod
    async def create(self, spec: ContainerSpec) -> None:
        """The volume and the container, made but not started."""

    @abstractmethod
    async def copy_in(self, container: str, source: Path, dest: str) -> None:
        """Copy a local directory into the (created) container at `dest`."""

    @abstractmethod
    async def start(self, container: str) -> None: ...

    @abstractmethod
    async def published_port(self, container: str, port: int) -> int:
        """The port on 127.0.0.1 the engine published for the container's `port`."""

    @abstractmethod
    async def state(self, container: str) -> str | None:
        """ "running", "exited", ... or None when there is no such container."""

    @abstractmethod
    async def volume_exists(self, volume: str) -> bool: ...

    @abstractmethod
    async def remove(self, container: str, volume: str) -> None:
        """The container (stopped first) and its volume; gone already is fine."""
