"""What every part of the Supervisor stands on: its construction, the hosts and their helpers,
the audit log and domain events, and listing and finding sessions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from ..agent_versions import AgentVersion, fleet_versions
from ..agents import resolve_profiles
from ..config import Config, HostConfig
from ..errors import FleetError, HostError, NotFound, RemoteError, UsageError, outcome_of
from ..hooks import HookRunner
from ..models import EVENT_KINDS, AgentProfile, DomainEvent, HostCheck, Session
from ..remote import answers, untrusted
from ..remote.client import CALL_TIMEOUT, HelperClient
from ..remote.probe import HostReport
from ..results import TmuxRepair
from ..ssh import HostLink
from ..store import OUTCOME, Store, StoreError
from ..textsafe import said
from .shown import Shown


@dataclass
class Listing:
    """Sessions from every host that answered, and why the others did not."""

    sessions: list[Session] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def session_from_json(host: str, data: Mapping[str, Any]) -> Session:
    """A session as its host describes it, checked (fleet.core.remote.untrusted): a malformed
    one is a RemoteError, never a session with an id that could name a path."""
    return untrusted.session(host, data)


class Base:
    """The Supervisor's foundation; its parts (sessions, reviews, watching) build on it."""

    def __init__(
        self, config: Config, store: Store | None = None, hooks: HookRunner | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.hooks = hooks
        self._names: dict[tuple[str, str], str] = {}
        try:
            self.profiles: dict[str, AgentProfile] = resolve_profiles(config.agents)
        except ValueError as exc:
            raise UsageError(f"{config.path}: {exc}") from None
        self._gate = asyncio.Semaphore(max(1, config.ssh.max_connects))
        self.links: dict[str, HostLink] = {}
        self.helpers: dict[str, HelperClient] = {}
        self.shown = Shown()
        for host in config.hosts.values():
            self._link(host)

    def _link(self, host: HostConfig) -> None:
        settings = self.config.ssh
        if host.ssh_config is not None:  # a workspace: its own alias, key and known_hosts
            settings = replace(settings, config_file=host.ssh_config)
        via = self.links.get(host.via) if host.via else None
        self.links[host.name] = link = HostLink(host.name, host.ssh, settings, self._gate, via)
        self.helpers[host.name] = HelperClient(link)

    def add_host(self, host: HostConfig) -> None:
        """A host made while fleet runs (a workspace), supervised from now on like the rest."""
        self.config = replace(self.config, hosts={**self.config.hosts, host.name: host})
        self._link(host)

    async def drop_host(self, name: str) -> None:
        """Stop supervising a host (a workspace being removed): its connection closed."""
        helper = self.helpers.pop(name, None)
        link = self.links.pop(name, None)
        if helper is not None:
            await helper.close()
        if link is not None:
            await link.close()
        hosts = {k: v for k, v in self.config.hosts.items() if k != name}
        self.config = replace(self.config, hosts=hosts)

    def supervises(self, host: str) -> bool:
        """Whether `host` is still followed (a workspace removed meanwhile is not)."""
        return host in self.links

    def ssh_config_for(self, host: str) -> Path | None:
        """The ssh config that reaches `host`: a workspace's own, else the configured one."""
        configured = self.config.hosts.get(host)
        if configured is not None and configured.ssh_config is not None:
            return configured.ssh_config
        return self.config.ssh.config_file

    async def close(self) -> None:
        await asyncio.gather(*(helper.close() for helper in self.helpers.values()))
        await asyncio.gather(*(link.close() for link in self.links.values()))
        if self.hooks is not None:
            await self.hooks.drain(timeout=self.hooks.settings.timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def require_store(self) -> Store:
        if self.store is None:
            raise FleetError("this needs fleet's local store (fleet.db)")
        return self.store

    def _audit(self, session: Session, kind: str, detail: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.audit(session.host, session.id, kind, detail)

    async def _audit_first(self, session: Session, kind: str, detail: dict[str, Any]) -> None:
        """Audit and wait until it is on disk: an action the log cannot hold is not taken."""
        if self.store is None:
            return
        self.store.audit(session.host, session.id, kind, detail)
        try:
            await self.store.flush()
        except StoreError as exc:
            raise StoreError(f"{exc}; so nothing was done ({kind} {session.ref})") from None

    @contextlib.asynccontextmanager
    async def _recorded(
        self, on: Session | str, kind: str, detail: dict[str, Any], *, first: bool = False
    ) -> AsyncIterator[None]:
        """The action in the audit log before it is acted on (on disk first, with `first`),
        and how it ended after: done, refused or failed, with why. `on` is the session, or
        the host for an action that has no session yet (making one)."""
        host, sid = (on, None) if isinstance(on, str) else (on.host, on.id)
        named = on if isinstance(on, str) else on.ref
        if self.store is not None:
            self.store.audit(host, sid, kind, detail)
            if first:
                try:
                    await self.store.flush()
                except StoreError as exc:
                    raise StoreError(f"{exc}; so nothing was done ({kind} {named})") from None
        try:
            yield
        except BaseException as exc:
            self._outcome(host, sid, kind, exc)
            raise
        self._outcome(host, sid, kind, None)

    def _outcome(self, host: str, sid: str | None, kind: str, exc: BaseException | None) -> None:
        if self.store is None:
            return
        outcome, reason = outcome_of(exc)
        detail = {"of": kind, "outcome": outcome, "reason": reason[:2000]}
        with contextlib.suppress(StoreError):  # a store that is closing keeps the action
            self.store.audit(host, sid, OUTCOME, detail)

    def _remember(self, sessions: list[Session]) -> None:
        for session in sessions:
            self._names[(session.host, session.id)] = session.name

    def _emit(self, kind: str, host: str, session_id: str | None, detail: dict[str, Any]) -> None:
        """Hand a domain event to the hooks; statuses without an event kind are not events."""
        if self.hooks is None or kind not in EVENT_KINDS:
            return
        name = self._names.get((host, session_id)) if session_id else None
        self.hooks.emit(DomainEvent(kind, host, session_id, name, time.time(), detail))

    def label(self, host: str, session_id: str) -> str:
        """HOST/NAME when the name is known, else HOST/ID."""
        return f"{host}/{self._names.get((host, session_id), session_id)}"

    # -- hosts --------------------------------------------------------------------------

    def helper(self, host: str) -> HelperClient:
        try:
            return self.helpers[host]
        except KeyError:
            known = ", ".join(sorted(self.helpers)) or "none configured"
            raise NotFound(f"unknown host {host!r} (hosts: {known})") from None

    def profile(self, agent: str) -> AgentProfile:
        try:
            return self.profiles[agent]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise UsageError(f"unknown agent {agent!r} (agents: {known})") from None

    def host_names(self, names: Sequence[str] = ()) -> list[str]:
        """`names`, each checked against the config (an unknown one is NotFound), or every
        configured host when none is named."""
        for name in names:
            self.helper(name)
        return list(names) if names else list(self.links)

    async def examine(self, host: str, timeout: float = CALL_TIMEOUT) -> HostReport:
        """Connect, probe the host's tools, install the helper if absent, ask its hello:
        how far that got and why it stopped (see fleet.core.remote.probe)."""
        return await self.helper(host).examine(timeout)

    async def agent_versions(self) -> list[AgentVersion]:
        """Which version of each profile's agent CLI every host has (`fleet agents`)."""
        return await fleet_versions(self.helpers, self.profiles.values())

    async def check_host(self, host: str) -> HostCheck:
        report = await self.examine(host)
        if report.error is not None:
            return HostCheck(host, report.target, False, report.error.reason)
        # What a helper says of itself is shown: inert and short, whatever it sent.
        hello = report.hello
        versions = {k: said(hello.get(k) or "", 80) for k in ("python", "tmux", "git", "helper")}
        try:
            tmux = answers.checked(
                host, "hello", lambda: answers.tmux_server(hello.get("tmux_server"))
            )
        except RemoteError as exc:
            return HostCheck(host, report.target, False, exc.reason, versions)
        return HostCheck(host, report.target, True, "", versions, tmux)

    async def repair_tmux(self, host: str) -> TmuxRepair:
        """The safe repairs of the host's tmux server (see hostside/tmuxhealth.py)."""
        data = await self.helper(host).call("tmux_repair")
        return answers.checked(host, "tmux_repair", lambda: answers.tmux_repair(data))

    async def check_hosts(self) -> list[HostCheck]:
        return list(await asyncio.gather(*(self.check_host(h) for h in self.links)))

    # -- listing and finding sessions ---------------------------------------------------

    async def list_host(self, host: str) -> list[Session]:
        target = self.config.hosts[host].ssh if host in self.config.hosts else host
        try:
            rows = await self.helper(host).call("list")
        except HostError as exc:
            if self.store is not None:
                self.store.record_host(host, target, "unreachable", exc.reason)
            raise
        sessions = untrusted.sessions(host, rows)
        self._remember(sessions)
        if self.store is not None:
            self.store.record_host(host, target, "connected")
            self.store.reconcile_host(host, sessions)
        return sessions

    async def list_sessions(self, hosts: list[str] | None = None) -> Listing:
        names = hosts if hosts is not None else list(self.links)
        results = await asyncio.gather(*(self.list_host(h) for h in names), return_exceptions=True)
        listing = Listing()
        for host, result in zip(names, results, strict=True):
            if isinstance(result, HostError):
                listing.errors[host] = result.reason
            elif isinstance(result, BaseException):
                raise result
            else:
                listing.sessions.extend(result)
        listing.sessions.sort(key=lambda s: (s.host, s.created))
        return listing

    async def find(self, ref: str) -> Session:
        """A session by `HOST/NAME`, `HOST/ID`, or a unique prefix of its id (or its name)."""
        if "/" in ref:
            host, _, key = ref.partition("/")
            sessions = await self.list_host(self.helper(host).host)
            for session in sessions:
                if key in (session.name, session.id):
                    return session
            raise NotFound(f"no session {key!r} on {host}")
        listing = await self.list_sessions()
        matches = [s for s in listing.sessions if s.id.startswith(ref)]
        if not matches:
            matches = [s for s in listing.sessions if s.name == ref]
        if len(matches) == 1:
            return matches[0]
        if matches:
            refs = ", ".join(f"{s.ref} ({s.id})" for s in matches)
            raise UsageError(f"{ref!r} matches several sessions: {refs}; say HOST/NAME")
        unreachable = ""
        if listing.errors:
            unreachable = f" (not reachable: {', '.join(sorted(listing.errors))})"
        raise NotFound(f"no session matches {ref!r}{unreachable}")

    async def find_cached(self, ref: str) -> Session:
        """A session from the store alone (no network): HOST/NAME, HOST/ID or an id prefix."""
        store = self.require_store()
        hot = [c.session for c in await store.sessions()]
        keys = {(s.host, s.id) for s in hot}
        cached = hot + [c.session for c in await store.archived() if c.state.key not in keys]
        if "/" in ref:
            host, _, key = ref.partition("/")
            matches = [s for s in cached if s.host == host and key in (s.name, s.id)]
        else:
            matches = [s for s in cached if s.id.startswith(ref)] or [
                s for s in cached if s.name == ref
            ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            refs = ", ".join(f"{s.ref} ({s.id})" for s in matches)
            raise UsageError(f"{ref!r} matches several sessions: {refs}; say HOST/NAME")
        raise NotFound(f"fleet has no record of a session matching {ref!r}")

    def mark_read(self, session: Session) -> None:
        if self.store is not None:
            self.store.mark_read(session.host, session.id)
