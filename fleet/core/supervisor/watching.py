"""The Supervisor's watching: a host's event stream, and mirroring it into the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from .. import events
from ..errors import HostError, HostUnreachable
from ..models import Session
from ..remote import untrusted
from ..remote.hostside import protocol
from ..store import Store
from .base import Base

log = logging.getLogger("fleet.supervisor")

FAIR_SHARE = 200
"""Events of one host handled before the others (and the person's keys) get the loop."""


class Watching(Base):
    """Following hosts (a part of the Supervisor)."""

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
        limit = self.config.hosts[host].max_sessions if host in self.config.hosts else 0

        def parse(raw: dict[str, Any]) -> events.WatchEvent | None:
            return untrusted.watch_event(host, raw, max_sessions=limit or None)

        while True:
            try:
                args: dict[str, Any] = {"since": since, "screens": known}
                if offsets is not None:
                    args["output"] = offsets
                shown = self.shown.of(host)
                if shown is not None:
                    args["visible"] = protocol.visible(shown)["visible"]
                snapshots = handled = 0
                followed: set[str] = set()  # session ids this stream follows (max_sessions)
                updates = self.shown.input(host)
                async for event in helper.stream("watch", args, parse=parse, updates=updates):
                    handled += 1
                    if handled % FAIR_SHARE == 0:
                        await asyncio.sleep(0)  # a host flooding events waits its turn
                    match event:
                        case events.Snapshot() if snapshots:
                            log.error("%s: ignored a second snapshot in one stream", host)
                            continue
                        case events.Snapshot():
                            snapshots += 1
                            since = event.seq
                            followed = {s.id for s in event.sessions}
                        case events.SessionCreated() if (
                            limit and event.session not in followed and len(followed) >= limit
                        ):
                            log.error(
                                "%s: over %d sessions: not following %s", host, limit, event.session
                            )
                            continue
                        case events.SessionCreated():
                            followed.add(event.session)
                            since = event.seq
                        case events.JournalEvent() | events.Hello():
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

    def show_only(self, keys: Iterable[tuple[str, str]]) -> None:
        """The sessions (host, id) the person sees now: only their screens stream at full
        rate; the others' come once they are shown again (statuses and output come for all)."""
        self.shown.set(keys)

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

    async def catch_up_usage(self, seconds: float) -> dict[str, str]:
        """The usage every host journaled since the store's cursor, into the store, for a
        command that runs without a follower (`fleet usage`). Only usage is taken, and the
        cursor stays where it is: the next follower still applies every event (its hooks and
        statuses), and a record it applies again counts once. Returns the hosts not caught
        up within `seconds`, with why."""
        store = self.require_store()
        hosts = list(self.links)
        results = await asyncio.gather(
            *(asyncio.wait_for(self._catch_up(h, store), seconds) for h in hosts),
            return_exceptions=True,
        )
        missed: dict[str, str] = {}
        for host, result in zip(hosts, results, strict=True):
            if isinstance(result, TimeoutError):
                missed[host] = f"not caught up within {seconds:g} s"
            elif isinstance(result, BaseException):
                raise result
            elif result:
                missed[host] = result
        return missed

    async def _catch_up(self, host: str, store: Store) -> str:
        """ "" once the host's journal was read to its head as the stream began; else why not."""
        head: int | None = None
        since = await store.watch_cursor(host)
        # Never followed: from the journal's start (a snapshot would say no usage).
        async for event in self.watch(host, 0 if since is None else since):
            match event:
                case events.LinkDown():
                    return event.reason
                case events.Hello(head=None):
                    return "its helper does not say where its journal ends"
                case events.Hello():
                    head = event.head
                case events.UsageReported():
                    store.record_usage(event)
            seq = event.seq if isinstance(event, events.JournalEvent | events.Hello) else None
            if head is not None and seq is not None and seq >= head:
                return ""
        return "the watch ended"
