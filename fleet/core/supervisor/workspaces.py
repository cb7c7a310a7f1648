"""The Supervisor's workspaces: a fresh host per task from a pool (fleet.core.workspaces),
supervised like any other host once made (removing one: removal.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import asyncssh

from .. import results
from ..config.pools import CONTAINER_ENGINES, PoolConfig
from ..errors import FleetError, NotFound, UsageError
from ..models import Session
from ..textsafe import said
from ..workspaces import provision, records
from ..workspaces.engine import Engine, EngineError, Reach
from ..workspaces.onhost import HostRunner
from ..workspaces.podman import PodmanEngine
from ..workspaces.records import Workspace
from .reviews import Reviews
from .sessions import Sessions

log = logging.getLogger("fleet.workspaces")

Progress = Callable[[str], None]


class Workspaces(Sessions, Reviews):
    """Making and removing workspaces (a part of the Supervisor)."""

    def pool(self, name: str) -> PoolConfig:
        try:
            return self.config.pools[name]
        except KeyError:
            known = ", ".join(sorted(self.config.pools)) or f"none in {self.config.path}"
            raise NotFound(f"unknown pool {name!r} (pools: {known})") from None

    def workspace(self, host: str) -> Workspace | None:
        """The workspace fleet made that is this host, if it is one."""
        return next((ws for ws in records.load_all() if ws.name == host), None)

    def pool_engine(self, pool: PoolConfig) -> Engine:
        """The pool's engine: on this machine, or on the fleet host it names (`host`)."""
        if pool.host is None:
            return provision.engine_for(pool)
        return provision.engine_for(pool, self._on_host(pool.host, f"pool {pool.name}"))

    def _on_host(self, host: str, whose: str) -> HostRunner:
        if host not in self.helpers:
            raise UsageError(f"{whose}: its engine runs on host {host}, which is not configured")
        return HostRunner(host, self.helper(host))

    def _jump(self, ws: Workspace) -> list[str] | None:
        host = self.config.hosts.get(ws.via) if ws.via else None
        return None if host is None else records.jump_command(host.ssh, self.config.ssh.config_file)

    def engine_of(self, ws: Workspace) -> Engine:
        """The engine that made `ws`: its pool's, or (a pool since taken out of the config)
        the program its record names, where the record says it runs."""
        pool = self.config.pools.get(ws.pool)
        if pool is not None:
            return self.pool_engine(pool)
        if ws.engine in CONTAINER_ENGINES:
            runner = self._on_host(ws.via, f"workspace {ws.name}") if ws.via else None
            return PodmanEngine(ws.engine, runner)
        raise UsageError(
            f"workspace {ws.name}: its pool {ws.pool} is no longer in {self.config.path}, and "
            f"fleet needs the pool's {ws.engine} settings to reach or remove it: put it back"
        )

    async def wake(self, host: str, progress: Progress) -> bool:
        """Start a workspace's stopped container again (its volume kept the worktree): how
        the engine reaches it now, the alias rewritten, its sshd waited for. False when
        `host` is no workspace, or it runs (its alias follows a port that moved)."""
        ws = self.workspace(host)
        if ws is None:
            return False
        engine = self.engine_of(ws)
        state = await engine.state(ws.container)
        if state == "running":
            reach = await engine.reach(ws.container)
            if reach.port == ws.port and list(reach.proxy) == ws.proxy:
                return False
            await self._repoint(ws, reach)
            return True
        if state is None:
            raise FleetError(
                f"workspace {ws.name}: {ws.container} is gone; `fleet rm {ws.name} --force` "
                "forgets what fleet kept of it"
            )
        steps = _Steps(progress, ws)
        async with steps(f"start its container again (it was {state})"):
            await engine.start(ws.container)
            await self._repoint(ws, await engine.reach(ws.container))
        async with steps(f"connect to the workspace's sshd ({_where(ws)})"):
            await provision.wait_ssh(self.links[ws.name])
        return True

    async def asleep(self, host: str) -> str:
        """Why an unreachable workspace is so, when its engine says it is not running (a
        restart of the machine or the engine stopped it), with the way back; else ""."""
        ws = self.workspace(host)
        if ws is None:
            return ""
        try:
            state = await self.engine_of(ws).state(ws.container)
        except FleetError:
            return ""
        if state is None:
            return f"its {ws.container} is gone (`fleet rm {ws.name} --force` forgets it)"
        if state != "running":
            return f"its {ws.container} is {state}: `fleet resume SESSION` starts it again"
        return ""

    async def _repoint(self, ws: Workspace, reach: Reach) -> None:
        """The workspace's alias as the engine reaches it now, and a fresh link (the old one
        read the old alias)."""
        ws.reached(reach)
        records.save(ws)
        records.write_ssh_config(ws, jump=self._jump(ws))
        host_config = records.host_of(ws)
        assert host_config is not None
        await self.drop_host(ws.name)
        self.add_host(host_config)

    async def resume(
        self, ref: str, progress: Progress | None = None, *, over_budget: bool = False
    ) -> results.Changed:
        """A pool session's container started again first when it was stopped (a restart
        of the machine or of the engine), then the agent as for any session."""
        host = ref.partition("/")[0] if "/" in ref else await self._cached_host(ref)
        if host:
            await self.wake(host, progress or (lambda line: log.info("%s", line)))
        return await super().resume(ref, over_budget=over_budget)

    async def _cached_host(self, ref: str) -> str:
        if self.store is None:
            return ""
        try:
            return (await self.find_cached(ref)).host
        except FleetError:
            return ""

    # -- making one ---------------------------------------------------------------------

    async def new_in_pool(
        self,
        pool_name: str,
        repo: str,
        progress: Progress,
        *,
        agent: str,
        name: str | None = None,
        base: str | None = None,
        task: str = "",
    ) -> Session:
        """A workspace from the pool, the local repository in it, the helper, the agent; on any
        failure the error names the step, and the container and volume are removed."""
        pool = self.pool(pool_name)
        engine = self.pool_engine(pool)
        self.profile(agent)  # an unknown agent is refused before anything is made
        local = await provision.local_repo(repo)
        ws_name = records.new_name(pool.name)
        ws = Workspace(
            name=ws_name, pool=pool.name, engine=engine.name, container=f"fleet-{ws_name}",
            volume=f"fleet-{ws_name}", image=pool.image, repo=str(local),
            repo_dir=provision.clone_dir(local), created=time.time(),
        )  # fmt: skip
        steps = _Steps(progress, ws)
        try:
            await self._make(pool, engine, ws, steps)
            async with steps("bring the repository in"):
                await provision.bring_repo(self.links[ws.name], local, ws.repo_dir)
            async with steps("install fleet's helper"):
                await self.helper(ws.name).ensure_installed()
            async with steps("start the agent"):
                session = await self.new_session(
                    ws.name, f"~/{ws.repo_dir}", agent=agent, name=name, base=base, task=task
                )
        except BaseException:
            await self._undo(engine, ws, progress)
            raise
        ws.session = session.id
        records.save(ws)
        return session

    async def _make(self, pool: PoolConfig, engine: Engine, ws: Workspace, steps: _Steps) -> None:
        on = f" on host {pool.host}" if pool.host else ""
        async with steps(f"make a {pool.engine} {engine.noun}{on} from {pool.image or pool.name}"):
            into = records.prepare(ws)
            reach = await engine.make(provision.spec_for(pool, ws), into)
            ws.reached(reach)
            if reach.host_key:
                records.trust_host_key(ws, reach.host_key)
            records.save(ws)
            records.write_ssh_config(ws, jump=self._jump(ws))
        host = records.host_of(ws)
        assert host is not None  # it is reachable and has an ssh config now
        self.add_host(host)
        async with steps(f"connect to the workspace's sshd ({_where(ws)})"):
            await provision.wait_ssh(self.links[ws.name])

    async def _undo(self, engine: Engine, ws: Workspace, progress: Progress) -> None:
        progress(f"removing workspace {ws.name} (its container and volume)")
        await self.drop_host(ws.name)
        try:
            await asyncio.shield(engine.remove(ws.container, ws.volume))
        except EngineError as exc:
            # Said, never swallowed: a container left behind is something to clean up by hand.
            progress(f"could not remove it: {exc}; remove {ws.container} and {ws.volume} "
                     f"with {engine.name} by hand")  # fmt: skip
            return
        records.forget(ws.name)


def _where(ws: Workspace) -> str:
    if ws.proxy:
        return f"through {ws.proxy[0]}"
    return f"{ws.hostname}:{ws.port}" + (f" on host {ws.via}" if ws.via else "")


class _Steps:
    """Each step of making a workspace said on stderr as it starts; a failure names it."""

    def __init__(self, progress: Progress, ws: Workspace) -> None:
        self.progress = progress
        self.ws = ws

    @contextlib.asynccontextmanager
    async def __call__(self, step: str) -> AsyncIterator[None]:
        self.progress(f"{self.ws.name}: {step}")
        try:
            yield
        except EngineError as exc:
            raise FleetError(f"workspace {self.ws.name}: {step}: {exc.reason}") from None
        except FleetError as exc:
            raise FleetError(f"workspace {self.ws.name}: {step}: {exc}") from None
        except OSError as exc:
            raise FleetError(f"workspace {self.ws.name}: {step}: {exc.strerror or exc}") from None
        except asyncssh.Error as exc:
            raise FleetError(f"workspace {self.ws.name}: {step}: {said(exc.reason)}") from None


__all__ = ["Progress", "Workspaces"]
