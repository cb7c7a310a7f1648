"""Workspaces on demand: a fresh, isolated host per task, made by an engine the person already
runs (podman or docker on this machine, in this first slice), then supervised like any host.

    engine     the Engine ABC: what fleet asks of an engine; EngineError names the step
    podman     PodmanEngine: podman's (or docker's) command line, argv lists, no shell
    records    what fleet keeps per workspace: keys, known_hosts, ssh config, workspace.json
    provision  the container fleet asks for, waiting for sshd, bringing the repository in

The Supervisor's part (making one for `fleet new --pool`, removing one for `fleet rm`) is
fleet.core.supervisor.workspaces.
"""

from __future__ import annotations

from .engine import ContainerSpec, Engine, EngineError
from .podman import PodmanEngine
from .records import Workspace, load_all, with_workspaces

__all__ = [
    "ContainerSpec",
    "Engine",
    "EngineError",
    "PodmanEngine",
    "Workspace",
    "load_all",
    "with_workspaces",
]
