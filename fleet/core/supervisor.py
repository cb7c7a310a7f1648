"""The orchestrator: host links, helper calls, session lookup. CLI and UI only call this.

Data flows one way (host -> watch stream -> supervisor -> callers); actions flow back
(caller -> supervisor -> helper on the host). Nothing here prints or knows about a screen.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import events, review
from .agent_versions import AgentVersion, fleet_versions
from .agents import first_message, render_command, resolve_profiles, resume_command
from .config import Config, parse_target
from .errors import FleetError, HostError, HostUnreachable, NotFound, RemoteError, UsageError
from .hooks import HookRunner
from .logs import redact
from .models import EVENT_KINDS, AgentProfile, DomainEvent, HostCheck, Session
from .paths import state_dir
from .remote import untrusted
from .remote.client import CALL_TIMEOUT, UNCONFIRMED, HelperClient
from .remote.hostside import difftext
from .remote.probe import HostReport
from .ssh import HostLink
from .store import Store, StoreError

log = logging.getLogger("fleet.supervisor")

DEFAULT_AGENT = "claude"


@dataclass
class Listing:
    """Sessions from every host that answered, and why the others did not."""

    sessions: list[Session] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def session_from_json(host: str, data: Mapping[str, Any]) -> Session:
    """A session as its host describes it, checked (fleet.core.remote.untrusted): a malformed
    one is a RemoteError, never a session with an id that could name a path."""
    return untrusted.session(host, data)


class Supervisor:
    """Everything fleet does, for the CLI and the UI alike.

    With a store, it remembers: every action lands in the audit log before it is acted on,
    listings are reconciled into the cache, and `mirror` follows hosts from stored cursors.
    With hooks, domain events (status changes, steering, host lost/back) run them.
    """

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
        gate = asyncio.Semaphore(max(1, config.ssh.max_connects))
        self.links = {
            name: HostLink(name, host.ssh, config.ssh, gate) for name, host in config.hosts.items()
        }
        self.helpers = {name: HelperClient(link) for name, link in self.links.items()}

    async def close(self) -> None:
        await asyncio.gather(*(helper.close() for helper in self.helpers.values()))
        await asyncio.gather(*(link.close() for link in self.links.values()))
        if self.hooks is not None:
            await self.hooks.drain(timeout=self.hooks.settings.timeout)

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
        versions = {k: str(report.hello.get(k, "")) for k in ("python", "tmux", "git", "helper")}
        return HostCheck(host, report.target, True, "", versions)

    async def check_hosts(self) -> list[HostCheck]:
        return list(await asyncio.gather(*(self.check_host(h) for h in self.links)))

    # -- sessions -----------------------------------------------------------------------

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
        if profile.sandbox:
            args["sandbox"] = shlex.split(profile.sandbox)
        if name:
            args["name"] = name
        if base:
            args["base"] = base
        session = session_from_json(host, await self.helper(host).call("new", args))
        self._remember([session])
        if self.store is not None:
            self.store.upsert_session(session)
            self._audit(session, "new", {"agent": agent, "repo": repo, "task": task})
        self._emit("started", host, session.id, {"agent": agent})
        return session

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
        cached = [c.session for c in await self.require_store().sessions()]
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

    async def screen(self, ref: str) -> str:
        session = await self.find(ref)
        result = await self.helper(session.host).call("screen", {"session": session.id})
        self.mark_read(session)
        return str(result.get("text", ""))

    async def send(
        self, ref: str, text: str, *, force: bool = False, session: Session | None = None
    ) -> Session:
        """Type `text` into the agent, then Enter. At a prompt the host refuses anything but an
        answer (1, y, no, ...) unless `force`: the Enter would pick the highlighted option.
        A caller that already knows the session (the UI) passes it: no listing round trip
        (the host still refuses a session that is not alive)."""
        if "\x00" in text:  # tmux cannot type it, and an argv cannot carry it
            raise UsageError("steering text cannot contain a NUL character")
        if session is None:
            session = await self.find(ref)
        profile = self.profiles.get(session.agent)
        args: dict[str, Any] = {"session": session.id, "text": text, "enter": True, "force": force}
        if profile is not None:
            args["mode"] = str(profile.send_mode)
            args["enter_delay"] = profile.enter_delay
        await self._audit_first(session, "send", {"text": text})
        try:
            await self.helper(session.host).call("send", args)
        except (HostUnreachable, RemoteError) as exc:
            if isinstance(exc, RemoteError) and exc.kind != UNCONFIRMED:
                raise
            # The host may have typed it before the link dropped or the helper ended: never
            # resend by ourselves.
            self._audit(session, "send-unconfirmed", {"reason": exc.reason})
            unsure = (
                f"{exc.reason}. The message may or may not have reached {session.ref}: look "
                f"with `fleet screen {session.ref}` before sending it again"
            )
            if isinstance(exc, RemoteError):
                raise RemoteError(session.host, UNCONFIRMED, unsure) from None
            raise HostUnreachable(session.host, unsure) from None
        self._emit("steered", session.host, session.id, {"length": len(text)})
        return session

    async def interrupt(self, ref: str) -> Session:
        session = await self.find(ref)
        profile = self.profiles.get(session.agent)
        keys = list(profile.interrupt) if profile is not None else ["C-c"]
        self._audit(session, "interrupt", {"keys": keys})
        await self.helper(session.host).call("keys", {"session": session.id, "keys": keys})
        return session

    async def stop(self, ref: str) -> Session:
        session = await self.find(ref)
        self._audit(session, "stop", {})
        data = await self.helper(session.host).call("stop", {"session": session.id})
        stopped = session_from_json(session.host, data)
        if self.store is not None:
            self.store.upsert_session(stopped)
        return stopped

    async def resume(self, ref: str) -> Session:
        session = await self.find(ref)
        profile = self.profile(session.agent)
        command = resume_command(profile, session)
        # The audit log keeps which command ran, not the tokens a profile may pass in it.
        self._audit(session, "resume", {"command": redact(command)})
        data = await self.helper(session.host).call(
            "resume",
            {
                "session": session.id,
                "command": command,
                "rules": profile.rules(),
                # The sandbox in force now (None: none), not the one the session started with.
                "sandbox": shlex.split(profile.sandbox) if profile.sandbox else None,
            },
        )
        resumed = session_from_json(session.host, data)
        if self.store is not None:
            self.store.upsert_session(resumed)
        self._emit("resumed", session.host, session.id, {})
        return resumed

    # -- checkpoints (snapshots of a session's worktree on its host; see hostside/checkpoints)

    async def checkpoint(self, ref: str, reason: str = "by hand") -> tuple[Session, dict[str, Any]]:
        """Snapshot the session's files now (or the last checkpoint, when nothing changed)."""
        session = await self.find(ref)
        args = {"session": session.id, "reason": reason}
        self._audit(session, "checkpoint", {"reason": reason})
        made = dict(await self.helper(session.host).call("checkpoint", args))
        self._emit("checkpoint", session.host, session.id, {"n": made.get("n")})
        return session, made

    async def checkpoints(self, ref: str) -> tuple[Session, list[dict[str, Any]]]:
        """The session's checkpoints, oldest first: n, commit, time, reason, changes."""
        session = await self.find(ref)
        rows = await self.helper(session.host).call("checkpoints", {"session": session.id})
        return session, [dict(row) for row in rows]

    async def rewind(self, ref: str, n: int) -> tuple[Session, dict[str, Any]]:
        """Checkpoint the current files, then put back those of checkpoint n.

        Only files change: HEAD, the branch and the index stay. The result names the
        checkpoint made first ("before"), so the person can rewind to it to come back.
        """
        session = await self.find(ref)
        args = {"session": session.id, "n": n}
        self._audit(session, "rewind", {"n": n})
        return session, dict(await self.helper(session.host).call("rewind", args))

    # -- review (issue 4): diff, approve, reject, undo, push, land; see fleet/core/review.py

    def _seen(self) -> review.SeenDiffs:
        return review.SeenDiffs(state_dir())

    async def diff(
        self, ref: str, since_review: bool = False, *, session: Session | None = None
    ) -> tuple[Session, review.Diff]:
        """The session's diff against its base (or since the last decision), as seen now.
        A caller that already knows the session (the UI) passes it: no listing round trip."""
        if session is None:
            session = await self.find(ref)
        args = {"session": session.id, "since_review": since_review}
        data = await self.helper(session.host).call("diff", args)
        if not isinstance(data.get("text"), str) or not isinstance(data.get("base", ""), str):
            raise RemoteError(session.host, "protocol", "the helper's diff has no text")
        version = data.get("review", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise RemoteError(session.host, "protocol", "the helper's diff has no review version")
        approved = [fp for fp in data.get("approved") or [] if isinstance(fp, str)]
        # Parsing a big diff takes a while: off the event loop, which the UI shares.
        seen = await asyncio.to_thread(
            review.parse, str(data["text"]), str(data["base"]), approved, version
        )
        seen.extra.update({"since": data.get("since"), "branch": data.get("branch")})
        if not since_review:
            self._seen().remember(session.host, session.id, seen)
        return session, seen

    async def _decide(
        self,
        ref: str,
        hunks: list[int],
        path: str | None,
        expect: str | None,
        session: Session | None = None,
    ) -> tuple[Session, review.Diff, list[review.Hunk] | None]:
        """The session, the diff the person saw (by --expect, else fresh), the chosen hunks."""
        if session is None:
            session = await self.find(ref)
        if expect:
            seen = self._seen().recall(session.host, session.id, expect)
            if seen is None:
                raise UsageError(
                    f"fleet has not shown a diff {expect!r} of {session.ref}: run "
                    f"`fleet diff {session.ref}` and use the fingerprint it prints"
                )
        else:
            _, seen = await self.diff(session.ref, session=session)
        chosen = seen.choose(hunks, path) if hunks or path else None
        return session, seen, chosen

    async def _act(self, session: Session, op: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return dict(await self.helper(session.host).call(op, args))
        except RemoteError as exc:
            if exc.kind != "stale":
                raise
            _, fresh = await self.diff(session.ref, session=session)
            raise review.StaleReview(f"{session.ref}: {exc.reason}", fresh) from None

    async def approve(
        self,
        ref: str,
        hunks: list[int] | None = None,
        path: str | None = None,
        message: str | None = None,
        expect: str | None = None,
        session: Session | None = None,
    ) -> tuple[Session, dict[str, Any]]:
        """Stage the chosen hunks; with none chosen, stage every pending one and commit all
        that is approved on the session's branch (with `message`, or a generated one)."""
        session, seen, chosen = await self._decide(ref, hunks or [], path, expect, session)
        commit = chosen is None or message is not None
        todo = [h for h in (seen.pending() if chosen is None else chosen) if not h.approved]
        if chosen is not None and not todo:
            numbers = ", ".join(str(h.number) for h in chosen)
            said = f"hunk {numbers} is" if len(chosen) == 1 else f"hunks {numbers} are"
            raise UsageError(f"{said} already approved")
        if commit and not message:
            files = len({h.path for h in seen.hunks})
            task = session.task.strip().splitlines()[0][:60] if session.task.strip() else ""
            counted = f"{files} file" if files == 1 else f"{files} files"
            message = f"{task or session.name}: approved in review ({counted})"
        patch = seen.patch(todo)
        detail = {
            "hunks": [h.number for h in todo],
            "fingerprints": [h.fingerprint for h in todo],
            "diff": seen.fingerprint,
            "commit": commit,
            "message": message,
        }
        await self._audit_first(session, "approve", detail)
        args = {
            "session": session.id,
            "patch": patch,
            "expect": detail["fingerprints"],
            "commit": commit,
            "message": message or "",
            "after": seen.review,
        }
        result = await self._act(session, "approve", args)
        if self.store is not None:
            for h in todo:
                self.store.record_decision(
                    session.host, session.id, h.fingerprint, h.number, "approve", "", h.text
                )
        self._emit("approved", session.host, session.id, {"hunks": detail["hunks"]})
        return session, result | {"hunks": detail["hunks"], "message": message}

    async def reject(
        self,
        ref: str,
        hunks: list[int] | None = None,
        path: str | None = None,
        note: str = "",
        expect: str | None = None,
        session: Session | None = None,
    ) -> tuple[Session, dict[str, Any]]:
        """Keep the chosen hunks as a patch, revert them in the worktree, tell the agent."""
        session, seen, chosen = await self._decide(ref, hunks or [], path, expect, session)
        if not chosen:
            raise UsageError("say which hunks to reject: --hunk N (repeatable) or --file PATH")
        patch = seen.patch(chosen)
        message = difftext.steering_text(difftext.split_files(patch), note)
        numbers = [h.number for h in chosen]
        detail = {"hunks": numbers, "diff": seen.fingerprint, "note": note, "message": message}
        await self._audit_first(session, "reject", detail)
        args = {
            "session": session.id,
            "patch": patch,
            "expect": [h.fingerprint for h in chosen],
            "note": note,
            "after": seen.review,
        }
        result = await self._act(session, "reject", args)
        if self.store is not None:
            for h in chosen:
                self.store.record_decision(
                    session.host, session.id, h.fingerprint, h.number, "reject", note, h.text
                )
        self._emit("rejected", session.host, session.id, {"hunks": numbers, "note": note})
        return session, result | {"hunks": numbers}

    async def undo(self, ref: str) -> tuple[Session, dict[str, Any]]:
        """Reverse the session's last review decision (see hostside/review.py op_undo)."""
        session = await self.find(ref)
        self._audit(session, "undo", {})
        return session, dict(await self.helper(session.host).call("undo", {"session": session.id}))

    async def push(self, ref: str) -> tuple[Session, dict[str, Any]]:
        """Push the session's branch to the repo's origin on the host; open a PR with gh."""
        session = await self.find(ref)
        lines = [session.task.strip() or f"Work of fleet session {session.name}", ""]
        decisions = await self.store.decisions(session.host, session.id) if self.store else []
        for d in decisions:
            note = f": {d.note}" if d.note else ""
            lines.append(f"- {d.action} hunk {d.hunk}{note}")
        title = (session.task.strip().splitlines() or [session.branch])[0][:72]
        args = {"session": session.id, "title": title, "body": "\n".join(lines)}
        self._audit(session, "push", {"branch": session.branch})
        return session, dict(await self.helper(session.host).call("push", args))

    async def land(self, ref: str, into: str) -> tuple[Session, dict[str, Any]]:
        """Fetch the session's branch over ssh into a local clone as fleet/HOST/NAME."""
        session = await self.find(ref)
        user, host, port = parse_target(self.config.hosts[session.host].ssh)
        ssh_config = self.config.ssh.config_file
        self._audit(session, "land", {"into": into})
        result = await asyncio.to_thread(review.land, into, session, user, host, port, ssh_config)
        return session, result

    async def tail(self, ref: str, lines: int = 50, follow: bool = False) -> AsyncIterator[bytes]:
        session = await self.find(ref)
        self.mark_read(session)
        args = {"session": session.id, "lines": lines, "follow": follow}
        async for event in self.helper(session.host).stream("tail", args):
            chunk = untrusted.tail_chunk(session.host, event)
            if chunk is None:
                return
            if chunk:
                yield chunk

    async def watch(
        self,
        host: str,
        since: int | None = None,
        screens: Mapping[str, str] | None = None,
        output: Mapping[str, int] | None = None,
    ) -> AsyncIterator[events.WatchEvent]:
        """The host's events from cursor `since`, reconnecting with backoff forever.

        Journal events carry `seq`; pass the last one seen as `since` after a restart to
        continue without repeats or gaps. With `output` (session id -> byte offset, may be
        empty) the sessions' raw output comes too, from those offsets on. While the host is
        unreachable, LinkDown events say so and when the next attempt is.
        """
        helper = self.helper(host)
        known = dict(screens or {})
        offsets = dict(output) if output is not None else None
        while True:
            try:
                args: dict[str, Any] = {"since": since, "screens": known}
                if offsets is not None:
                    args["output"] = offsets
                async for raw in helper.stream("watch", args):
                    event = untrusted.watch_event(host, raw)
                    match event:
                        case None:
                            continue  # logged; a bad event is never applied
                        case events.JournalEvent() | events.Snapshot() | events.Hello():
                            since = event.seq
                        case events.ScreenChanged():
                            known[event.session] = event.digest
                        case events.OutputArrived() if offsets is not None:
                            offsets[event.session] = event.offset + len(event.data)
                    yield event
                raise HostUnreachable(host, "the watch ended")
            except HostError as exc:
                connects = helper.link.connects
                delay = max(helper.link.retry_in(), 1.0)
                yield events.LinkDown(
                    host=host,
                    reason=exc.reason,
                    retry_in=round(delay, 1),
                    failures=helper.link.failures,
                )
                # A person acting on the host (a steer, a diff) connects it at once: then
                # the stream is followed again at once too, not after the backoff.
                await helper.link.wait_reconnect(delay, connects)

    async def mirror(self, host: str) -> AsyncIterator[events.WatchEvent]:
        """Follow a host into the store, from the store's cursors: the supervisor's main loop.

        Every journal event is applied together with its cursor, output is appended with its
        offset, so a restart (even after kill -9) continues exactly where the store stopped.
        Yields each event after it was queued for the store, for display.
        """
        store = self.require_store()
        target = self.config.hosts[host].ssh
        since = await store.watch_cursor(host)
        screens = await store.screen_hashes(host)
        known = await store.sessions(host)
        self._remember([cached.session for cached in known])
        offsets = await store.output_cursors(host)
        lost = False
        async for event in self.watch(host, since, screens, offsets):
            match event:
                case events.LinkDown():
                    store.record_host(host, target, "unreachable", event.reason)
                    if not lost:
                        lost = True
                        self._emit("lost", host, None, {"reason": event.reason})
                case events.Hello():
                    store.record_host(host, target, "connected")
                    if lost:
                        lost = False
                        self._emit("back", host, None, {})
                case events.Snapshot():
                    self._remember(list(event.sessions))
                case events.SessionCreated(info=Session() as info):
                    self._remember([info])
                case events.StatusChanged():
                    detail = {
                        "prev": str(event.prev) if event.prev else None,
                        "exit_code": event.exit_code,
                    }
                    self._emit(str(event.status), host, event.session, detail)
            store.apply(event)
            yield event

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
