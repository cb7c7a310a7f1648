"""The orchestrator: host links, helper calls, session lookup. CLI and UI only call this.

Data flows one way (host -> watch stream -> supervisor -> callers); actions flow back
(caller -> supervisor -> helper on the host). Nothing here prints or knows about a screen.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .agents import first_message, render_command, resolve_profiles
from .config import Config, parse_target
from .errors import FleetError, HostError, NotFound, UsageError
from .models import AgentProfile, DiffStat, HostCheck, Session, Status
from .remote.client import HelperClient
from .ssh import HostLink

log = logging.getLogger("fleet.supervisor")

DEFAULT_AGENT = "claude"


@dataclass
class Listing:
    """Sessions from every host that answered, and why the others did not."""

    sessions: list[Session] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def session_from_json(host: str, data: Mapping[str, Any]) -> Session:
    stat = data.get("diffstat") or {}
    return Session(
        id=str(data["id"]),
        name=str(data["name"]),
        host=host,
        agent=str(data.get("agent", "")),
        status=Status(data.get("status", "starting")),
        branch=str(data.get("branch", "")),
        worktree=str(data.get("worktree", "")),
        repo=str(data.get("repo", "")),
        base=str(data.get("base", "")),
        task=str(data.get("task") or ""),
        created=float(data.get("created") or 0),
        status_since=float(data.get("status_since") or 0),
        exit_code=data.get("exit_code"),
        diffstat=DiffStat(
            int(stat.get("added", 0)), int(stat.get("removed", 0)), int(stat.get("files", 0))
        ),
    )


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        try:
            self.profiles: dict[str, AgentProfile] = resolve_profiles(config.agents)
        except ValueError as exc:
            raise UsageError(f"{config.path}: {exc}") from None
        gate = asyncio.Semaphore(max(1, config.ssh.max_connects))
        self.links = {
            name: HostLink(name, host.ssh, config.ssh, gate) for name, host in config.hosts.items()
        }
        self.helpers = {name: HelperClient(link) for name, link in self.links.items()}

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links.values()))

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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

    async def check_host(self, host: str) -> HostCheck:
        target = self.config.hosts[host].ssh
        try:
            info = await self.helper(host).call("hello")
        except HostError as exc:
            return HostCheck(host, target, False, exc.reason)
        versions = {k: str(info.get(k, "")) for k in ("python", "tmux", "git", "helper")}
        return HostCheck(host, target, True, "", versions)

    async def check_hosts(self) -> list[HostCheck]:
        return list(await asyncio.gather(*(self.check_host(h) for h in self.links)))

    # -- sessions -----------------------------------------------------------------------

    async def list_host(self, host: str) -> list[Session]:
        rows = await self.helper(host).call("list")
        return [session_from_json(host, row) for row in rows]

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

    async def new_session(
        self,
        host: str,
        repo: str,
        agent: str = DEFAULT_AGENT,
        name: str | None = None,
        base: str | None = None,
        task: str = "",
    ) -> Session:
        profile = self.profile(agent)
        args: dict[str, Any] = {
            "agent": agent,
            "repo": repo,
            "task": task,
            "command": render_command(profile.command, task),
            "first_message": first_message(profile, task),
            "resume_command": profile.resume,
            "rules": profile.rules(),
            "mode": str(profile.send_mode),
            "enter_delay": profile.enter_delay,
        }
        if name:
            args["name"] = name
        if base:
            args["base"] = base
        return session_from_json(host, await self.helper(host).call("new", args))

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

    async def screen(self, ref: str) -> str:
        session = await self.find(ref)
        result = await self.helper(session.host).call("screen", {"session": session.id})
        return str(result.get("text", ""))

    async def send(self, ref: str, text: str) -> Session:
        session = await self.find(ref)
        profile = self.profiles.get(session.agent)
        args: dict[str, Any] = {"session": session.id, "text": text, "enter": True}
        if profile is not None:
            args["mode"] = str(profile.send_mode)
            args["enter_delay"] = profile.enter_delay
        await self.helper(session.host).call("send", args)
        return session

    async def interrupt(self, ref: str) -> Session:
        session = await self.find(ref)
        profile = self.profiles.get(session.agent)
        keys = list(profile.interrupt) if profile is not None else ["C-c"]
        await self.helper(session.host).call("keys", {"session": session.id, "keys": keys})
        return session

    async def stop(self, ref: str) -> Session:
        session = await self.find(ref)
        data = await self.helper(session.host).call("stop", {"session": session.id})
        return session_from_json(session.host, data)

    async def resume(self, ref: str) -> Session:
        session = await self.find(ref)
        profile = self.profile(session.agent)
        command = profile.resume or render_command(profile.command, session.task)
        data = await self.helper(session.host).call(
            "resume", {"session": session.id, "command": command, "rules": profile.rules()}
        )
        return session_from_json(session.host, data)

    async def tail(self, ref: str, lines: int = 50, follow: bool = False) -> AsyncIterator[bytes]:
        session = await self.find(ref)
        args = {"session": session.id, "lines": lines, "follow": follow}
        async for event in self.helper(session.host).stream("tail", args):
            if event.get("type") == "data":
                yield base64.b64decode(event.get("data", ""))
            elif event.get("type") == "end":
                return

    async def watch(
        self, host: str, since: int | None = None, screens: Mapping[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The host's events from cursor `since`, reconnecting with backoff forever.

        Each yielded event carries `seq` when it comes from the host's journal; pass the last
        one seen as `since` after a restart to continue without repeats or gaps. While the
        host is unreachable, {"type": "link", "state": "reconnecting", ...} events say so.
        """
        helper = self.helper(host)
        known = dict(screens or {})
        while True:
            try:
                args: dict[str, Any] = {"since": since, "screens": known}
                async for event in helper.stream("watch", args):
                    kind = event.get("type")
                    if isinstance(event.get("seq"), int) and kind != "hello":
                        since = event["seq"]
                    if kind == "snapshot":
                        since = event.get("seq", since)
                    elif kind == "screen":
                        known[str(event.get("session"))] = str(event.get("hash"))
                    yield event
                raise FleetError(f"{host}: the watch ended")
            except (HostError, FleetError) as exc:
                delay = max(helper.link.retry_in(), 1.0)
                yield {
                    "type": "link",
                    "state": "reconnecting",
                    "host": host,
                    "reason": str(exc),
                    "retry_in": round(delay, 1),
                }
                await asyncio.sleep(delay)

    def attach_argv(self, session: Session) -> list[str]:
        """The ssh command that hands the terminal to the session's tmux, and back."""
        target = self.config.hosts[session.host].ssh
        user, host, port = parse_target(target)
        argv = ["ssh", "-t", "-o", "ForwardAgent=no", "-o", "ForwardX11=no"]
        if self.config.ssh.config_file is not None:
            argv += ["-F", str(self.config.ssh.config_file)]
        if port:
            argv += ["-p", str(port)]
        if user:
            argv += ["-l", user]
        argv += [host, "--", "tmux", "-L", "fleet", "attach-session", "-t", f"=fleet-{session.id}"]
        return argv
