"""The Supervisor's `fleet rm`: a session removed for good once nothing would be lost. A pool
session's workspace is destroyed (container and volume); any other session's worktree and
branch are removed on its host. Both after the same check: no changed file left unapproved,
and the branch's commit held somewhere that stays (a local clone it was landed into, another
branch or a push on its host)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import FleetError, HostError
from ..models import Session
from ..remote import answers
from ..workspaces import provision, records
from ..workspaces.records import Workspace
from .workspaces import Progress, Workspaces

log = logging.getLogger("fleet.workspaces")


@dataclass
class Loss:
    """What removing a session would throw away; empty: nothing."""

    pending: int = 0  # changed files not committed on the branch (not yet approved)
    unlanded: str = ""  # the branch's commit when nothing that stays holds it
    branch: str = ""
    commit: str = ""  # the branch's commit as checked (the host refuses if it moved since)

    def __bool__(self) -> bool:
        return bool(self.pending or self.unlanded)

    def describe(self, session: Session, repo: str) -> str:
        parts = []
        if self.pending:
            parts.append(f"{self.pending} changed file(s) not yet approved into {self.branch}")
        if self.unlanded:
            where = repo or "a local repository, or pushed"
            parts.append(
                f"commit {self.unlanded[:12]} on {self.branch}, not in {where}"
                f" (bring it home with `fleet land {session.ref} --into {repo or 'REPO'}`)"
            )
        return "; ".join(parts)


@dataclass
class Removed:
    session: Session | None
    workspace: Workspace | None = None  # None: a session on a configured host
    lost: Loss = field(default_factory=Loss)


class Removal(Workspaces):
    """Removing sessions and workspaces (a part of the Supervisor)."""

    async def landed_into(self, session: Session) -> list[str]:
        """The local repositories `fleet land` brought this session's branch into."""
        if self.store is None:
            return []
        entries = await self.store.audit_log(session.host, session.id)
        found = [
            str(e.detail.get("into"))
            for e in entries
            if e.kind == "land" and e.outcome == "done" and isinstance(e.detail.get("into"), str)
        ]
        return list(dict.fromkeys(found))

    async def loss(
        self, session: Session, ws: Workspace | None, homes: list[str] | None = None
    ) -> Loss:
        """What removing the session would lose: changed files not yet approved into its
        branch, and a branch commit nothing that stays holds. A workspace's own refs go with
        it, so only the local repositories count for a pool session (`homes`: more of them,
        like the one a land just brought it into)."""
        _, diff = await self.diff(session.ref, view="review", session=session)
        lost = Loss(pending=len(diff.files), branch=session.branch)
        data = await self.helper(session.host).call("held", {"session": session.id})
        held = answers.checked(session.host, "held", lambda: answers.held(session, data))
        lost.commit = held.commit
        if not held.commit or held.at_base or (ws is None and held.held_by):
            return lost
        places = [*(homes or []), *await self.landed_into(session)]
        if ws is not None:
            places.append(ws.repo)
        for home in dict.fromkeys(places):
            if await landed(home, held.commit):
                return lost
        lost.unlanded = held.commit
        return lost

    async def remove_session(self, ref: str, progress: Progress, *, force: bool = False) -> Removed:
        """Remove a session for good unless it holds work that would be lost (`force` removes
        it anyway, and says what went): a pool session's whole workspace, else its worktree,
        branch and tmux session on its host."""
        ws, session = await self._removable(ref, force)
        lost = Loss()
        if session is not None:
            lost = await self.loss(session, ws)
            if lost and not force:
                what = "its workspace" if ws is not None else "it"
                raise Refused(
                    f"{session.ref} holds work that removing {what} would lose: "
                    f"{lost.describe(session, ws.repo if ws else '')}. Nothing was removed; "
                    "--force removes it anyway"
                )
        if ws is None:
            assert session is not None
            await self._remove_on_host(session, lost, force, progress)
            return Removed(session, None, lost)
        await self.destroy_workspace(ws, session, lost, force, progress)
        return Removed(session, ws, lost)

    async def destroy_workspace(
        self, ws: Workspace, session: Session | None, lost: Loss, force: bool, progress: Progress
    ) -> None:
        """The container and volume, what fleet kept of them, and the git remote `fleet land`
        left in the local repository for it (its local branches stay)."""
        engine = self.engine_of(ws)
        on: Session | str = session if session is not None else ws.name
        detail = {
            "workspace": ws.name,
            "force": force,
            "lost": lost.describe(session, ws.repo) if session else "",
        }
        async with self._recorded(on, "rm", detail, first=True):
            progress(f"removing workspace {ws.name} (container {ws.container}, volume {ws.volume})")
            await self.drop_host(ws.name)
            await engine.remove(ws.container, ws.volume)
            records.forget(ws.name)
        await forget_remote(ws.repo, ws.name, progress)
        if session is not None and self.store is not None:
            self.store.reconcile_host(ws.name, [])

    async def _remove_on_host(
        self, session: Session, lost: Loss, force: bool, progress: Progress
    ) -> None:
        detail = {"force": force, "lost": lost.describe(session, "") if lost else ""}
        async with self._recorded(session, "rm", detail, first=True):
            progress(f"removing {session.ref}: its worktree and {session.branch} on {session.host}")
            args = {"session": session.id, "commit": lost.commit, "force": force}
            await self.helper(session.host).call("remove", args)
        # What `fleet land` fetched stays as the local branch; its tracking ref goes.
        tracking = f"refs/remotes/{session.host}/{session.branch}"
        for home in await self.landed_into(session):
            try:
                await provision.git("-C", home, "update-ref", "-d", tracking)
            except (FleetError, OSError) as exc:
                log.info("%s: cannot remove %s in %s: %s", session.ref, tracking, home, exc)
        try:
            await self.list_host(session.host)  # the store marks it gone now, not later
        except HostError as exc:
            log.info("%s: not listed after rm: %s", session.host, exc.reason)

    async def _removable(self, ref: str, force: bool) -> tuple[Workspace | None, Session | None]:
        """The session behind `ref` and its workspace if it is in one (or a workspace by its
        own name); an unreachable workspace can only be removed with `force` (nothing can be
        checked)."""
        host = ref.partition("/")[0]
        ws = self.workspace(host)
        if ws is not None and "/" not in ref and not ws.session:
            return ws, None
        try:
            session = await self.find(ref)
        except HostError as exc:
            if ws is None or not force:
                hint = " (--force removes the workspace without checking)" if ws else ""
                raise FleetError(f"{exc}{hint}") from None
            return ws, None
        return self.workspace(session.host), session


class Refused(FleetError):
    refused = True


async def landed(repo: str, commit: str) -> bool:
    """Whether a local branch or tag of `repo` holds `commit` (a remote-tracking ref does not
    count: removing the workspace removes its remote)."""
    try:
        refs = await provision.git(
            "-C", repo, "for-each-ref", "--contains", commit, "--count=1", "refs/heads", "refs/tags"
        )
    except (FleetError, OSError):
        return False
    return bool(refs.strip())


async def forget_remote(repo: str, name: str, progress: Progress) -> None:
    """Remove the remote `fleet land` added for workspace `name` (its URL names the workspace's
    alias, which is gone now), with its tracking refs; fleet/NAME/... branches stay."""
    if not repo:
        return
    try:
        url = (await provision.git("-C", repo, "remote", "get-url", "--", name)).strip()
    except (FleetError, OSError):
        return  # never landed, or removed by hand
    if not url.startswith(f"ssh://{name}/"):
        return  # not one fleet made: the person's own remote of that name stays
    try:
        await provision.git("-C", repo, "remote", "remove", name)
    except (FleetError, OSError) as exc:
        progress(f"could not remove the git remote {name} in {repo}: {exc}")


__all__ = ["Loss", "Refused", "Removal", "Removed", "landed"]
