"""The Supervisor's lifecycle of workspaces after the work: a pool's `remove = "after-land"`
destroys one once its branch is home, and `idle_ttl` reaps one whose session has been idle or
stopped that long, after a notice. Reaping runs where fleet runs (`fleet watch`, the TUI,
`fleet pools reap` from cron), always unattended: a workspace holding work that is not landed
is never reaped, only reported (`fleet rm` is the person's way, with its own check)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..config.pools import PoolConfig
from ..errors import FleetError, HostError, NotFound
from ..fleetstate import LIVE
from ..models import Session
from ..workspaces import records
from ..workspaces.records import Workspace
from .removal import Loss, Removal
from .workspaces import Progress

log = logging.getLogger("fleet.workspaces")

NOTICE_MAX = 3600.0  # seconds between a reaping notice and the reaping, at most


def notice_for(pool: PoolConfig) -> float:
    """How long a notice stands before the workspace is reaped: a quarter of the pool's
    idle_ttl, at most an hour (someone who reads it has time to pick the work up again)."""
    ttl = pool.idle_ttl or 0.0
    return min(ttl / 4, NOTICE_MAX)


def reap_every(pools: Mapping[str, PoolConfig]) -> float | None:
    """How often `fleet watch` and the TUI run a reaping pass: often enough that a notice
    stands about its time (an eighth of the shortest idle_ttl), at least every minute, at
    most every second; None when no pool has an idle_ttl."""
    ttls = [p.idle_ttl for p in pools.values() if p.idle_ttl is not None]
    if not ttls:
        return None
    return max(1.0, min(60.0, min(ttls) / 8))


@dataclass(frozen=True)
class Reaped:
    """What one pass did to one workspace."""

    workspace: str
    pool: str
    action: str  # "noticed", "reaped", "kept" (work would be lost), "unchecked", "waiting"
    detail: str

    def line(self) -> str:
        return f"{self.workspace} (pool {self.pool}): {self.action}: {self.detail}"

    def to_json(self) -> dict[str, str]:
        return {
            "workspace": self.workspace,
            "pool": self.pool,
            "action": self.action,
            "detail": self.detail,
        }


class Reaping(Removal):
    """after-land and idle_ttl (a part of the Supervisor)."""

    async def after_landing(
        self, session: Session, progress: Progress, *, home: str = "", pushed: bool = False
    ) -> str:
        """With the pool's `remove = "after-land"`, destroy the session's workspace now that
        its branch is in `home` (or pushed), unless something is still not approved; what was
        done, "" for a session outside such a pool."""
        ws = self.workspace(session.host)
        pool = self.config.pools.get(ws.pool) if ws is not None else None
        if ws is None or pool is None or pool.remove != "after-land":
            return ""
        lost = await self.loss(session, ws, homes=[home] if home else [])
        if pushed:
            lost.unlanded = ""
        if lost:
            return f"workspace {ws.name} kept: {lost.describe(session, ws.repo)}"
        await self.destroy_workspace(ws, session, lost, False, progress)
        return f'workspace {ws.name} removed (pool {pool.name} has remove = "after-land")'

    async def reap(self, progress: Progress, now: float | None = None) -> list[Reaped]:
        """One pass over the workspaces of pools with an idle_ttl: a notice for each newly
        idle that long, the reaping of those whose notice stood its time, a report for those
        holding work (kept) or that cannot be checked."""
        done: list[Reaped] = []
        for ws in records.load_all():
            pool = self.config.pools.get(ws.pool)
            if pool is None or pool.idle_ttl is None:
                continue
            try:
                step = await self._reap_one(ws, pool, progress, now or time.time())
            except FleetError as exc:
                step = Reaped(ws.name, pool.name, "unchecked", str(exc))
            if step is not None:
                done.append(step)
                log.info("reap: %s", step.line())
        return done

    async def _reap_one(
        self, ws: Workspace, pool: PoolConfig, progress: Progress, now: float
    ) -> Reaped | None:
        assert pool.idle_ttl is not None
        session, idle = await self._idleness(ws, now)
        if idle < pool.idle_ttl:
            if ws.notice:  # in use again: the notice is void
                ws.notice = 0.0
                records.save(ws)
            return None
        quiet = f"idle for {_span(idle)} (idle_ttl {_span(pool.idle_ttl)})"
        if session is not None:
            lost = await self.loss(session, ws)
            if lost:
                # Never unattended: said every pass, until a person lands it or runs fleet rm.
                return Reaped(
                    ws.name, pool.name, "kept", f"{quiet}; {lost.describe(session, ws.repo)}"
                )
        due = ws.notice + notice_for(pool)
        if not ws.notice:
            ws.notice = now
            records.save(ws)
            self._audit_reap(ws, session, "reap-notice", quiet)
            detail = f"{quiet}; it will be removed after {_span(notice_for(pool))} unless used"
            return Reaped(ws.name, pool.name, "noticed", detail)
        if now < due:
            return Reaped(ws.name, pool.name, "waiting", f"{quiet}; removed in {_span(due - now)}")
        await self.destroy_workspace(ws, session, Loss(), False, progress)
        return Reaped(ws.name, pool.name, "reaped", quiet)

    async def _idleness(self, ws: Workspace, now: float) -> tuple[Session | None, float]:
        """The workspace's session and for how long it has been idle or stopped (0: in use).
        A workspace fleet cannot reach holds what cannot be checked: FleetError."""
        try:
            sessions = await self.list_host(ws.name)
        except (HostError, NotFound):
            raise FleetError(
                f"not reachable, so its work cannot be checked: start it with `fleet resume` "
                f"or remove it with `fleet rm {ws.name} --force`"
            ) from None
        session = next((s for s in sessions if s.id == ws.session), None)
        if session is None:
            return None, max(0.0, now - ws.created)  # its session never started, or went
        if session.status in LIVE and str(session.status) != "idle":
            return session, 0.0
        return session, max(0.0, now - session.status_since)

    def _audit_reap(self, ws: Workspace, session: Session | None, kind: str, detail: str) -> None:
        if self.store is None:
            return
        host, sid = (session.host, session.id) if session else (ws.name, None)
        self.store.audit(host, sid, kind, {"workspace": ws.name, "why": detail})


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0", "")
    return f"{seconds:.0f}s"


__all__ = ["Reaped", "Reaping", "notice_for", "reap_every"]
