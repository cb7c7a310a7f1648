"""Following the fleet: `fleet watch` mirrors the hosts into the store live (running hooks,
printing each event), and `fleet log` reads back what was done to a session (the audit log)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from fleet.cli.output import note, print_json, say
from fleet.cli.registry import Commands
from fleet.core import events
from fleet.core.errors import UsageError
from fleet.core.fleetstate import FleetState
from fleet.core.supervisor import BudgetNews, Supervisor
from fleet.core.supervisor.reaping import reap_every
from fleet.core.usage import SessionUsage
from fleet.presentation import age, crossing_words, status_label

commands = Commands()


def _watch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("hosts", nargs="*", metavar="HOST", help="hosts to follow (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


@commands.supervised(
    "watch",
    "follow the hosts live: record every change in fleet's store, run hooks, print events",
    _watch_arguments,
)
async def watch(sup: Supervisor, args: argparse.Namespace) -> int:
    hosts = sup.host_names(args.hosts)  # unknown host names fail here, before anything starts
    if not hosts:
        raise UsageError(f"no hosts configured in {sup.config.path}: add a [hosts.NAME] table")
    queue: asyncio.Queue[tuple[str, events.Event | BaseException]] = asyncio.Queue(1000)

    async def follow(host: str) -> None:
        try:
            async for event in sup.mirror(host):
                await queue.put((host, event))
        except Exception as exc:  # surface it: a follower must never die silently
            if not sup.supervises(host):
                return  # a workspace reaped meanwhile: nothing left to follow
            await queue.put((host, exc))

    fleet = await _remembered(sup) if sup.config.budgets else None
    if fleet is not None:  # crossed while no fleet ran
        _say_budgets(await sup.check_budgets(fleet, list(fleet.sessions)), args.json)
    tasks = [asyncio.create_task(follow(h)) for h in hosts]
    every = reap_every(sup.config.pools)
    if every is not None:
        tasks.append(asyncio.create_task(_reaping(sup, every, args.json)))
    held = ""  # what the store said while writes were held (a full disk), once per change
    try:
        while True:
            host, item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            trouble = str(sup.store.trouble or "") if sup.store is not None else ""
            if trouble != held:
                held = trouble
                said = f"local store: {trouble}" if trouble else "local store: writing again"
                note(f"{time.strftime('%H:%M:%S')} {said}")
            line = watch_line(sup, host, item, args.json)
            if line:
                say(line)
            if fleet is not None:
                change = fleet.apply(item)
                if change.usage:
                    _say_budgets(await sup.check_budgets(fleet, change.sessions), args.json)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _remembered(sup: Supervisor) -> FleetState:
    """The fleet as the store remembers it, what each session spent included: the state the
    budgets are measured on, kept by the one reducer as events arrive."""
    store = sup.require_store()
    spent = await store.session_usage()
    fleet = FleetState()
    for cached in await store.sessions():
        fleet.load(replace(cached.state, usage=spent.get(cached.state.key, SessionUsage())))
    return fleet


def _say_budgets(news: list[BudgetNews], as_json: bool) -> None:
    for item in news:
        c = item.crossing
        if as_json:
            line = {
                "type": f"budget-{c.level}",
                "budget": c.budget.id,
                "who": item.who,
                "spent": c.spent,
                "limit": c.budget.limit.shown,
                "paused": list(item.paused),
            }
            say(json.dumps(line, sort_keys=True))
        else:
            say(f"{time.strftime('%H:%M:%S')} {crossing_words(c, item.who, item.paused)}")


async def _reaping(sup: Supervisor, every: float, as_json: bool) -> None:
    """The pools' idle_ttl, while watch runs: a pass every `every` seconds, what it did
    printed (a workspace kept for its work is said once, not every pass)."""
    said: set[tuple[str, str]] = set()
    while True:
        await asyncio.sleep(every)
        try:
            done = await sup.reap(lambda line: note(f"fleet: {line}"))
        except Exception as exc:  # a failed pass is said; the next one tries again
            note(f"{time.strftime('%H:%M:%S')} reaping failed: {exc}")
            continue
        for r in done:
            if r.action == "waiting" or (
                r.action in ("kept", "unchecked") and (r.workspace, r.action) in said
            ):
                continue
            said.add((r.workspace, r.action))
            if as_json:
                say(json.dumps({"host": r.workspace, "kind": "reap", **r.to_json()}))
            else:
                say(f"{time.strftime('%H:%M:%S')} {r.line()}")


def watch_line(sup: Supervisor, host: str, event: events.Event, as_json: bool) -> str:
    """What `fleet watch` prints for one event ("" for an event it does not show)."""
    if as_json:
        return json.dumps({"host": host, **events.as_json(event)}, sort_keys=True, default=str)
    when = time.strftime("%H:%M:%S")
    match event:
        case events.StatusChanged():
            status = status_label(str(event.status), event.exit_code)
            return f"{when} {sup.label(host, event.session)} {status}"
        case events.LinkDown():
            retry = age(round(event.retry_in))
            return f"{when} {host} unreachable: {event.reason} (retry in {retry})"
        case events.Hello():
            return f"{when} {host} connected"
        case events.SessionCreated() | events.SessionRemoved() | events.CheckpointMade():
            return f"{when} {sup.label(host, event.session)} {event.kind}"
        case events.Decided():
            return f"{when} {sup.label(host, event.session)} {event.action} (decision {event.n})"
        case events.InputQueued():
            label = sup.label(host, event.session)
            return f"{when} {label} {event.what} queued: the agent is {event.why}"
        case events.InputTyped():
            return f"{when} {sup.label(host, event.session)} {event.what} typed"
    return ""


def _log_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@commands.supervised(
    "log",
    "show what was done to a session and what happened to it (the audit log)",
    _log_arguments,
)
async def audit_log(sup: Supervisor, args: argparse.Namespace) -> int:
    store = sup.require_store()
    cached = await sup.find_cached(args.session)
    entries = await store.audit_log(cached.host, cached.id)
    if args.json:
        print_json(
            [
                {
                    "id": e.id,
                    "at": e.at,
                    "host": e.host,
                    "session": e.session,
                    "kind": e.kind,
                    "detail": e.detail,
                    "outcome": e.outcome or None,
                    "reason": e.reason or None,
                }
                for e in entries
            ]
        )
        return 0
    if not entries:
        say(f"nothing recorded for {cached.ref} yet")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        ended = f"  [{e.outcome}{': ' + e.reason if e.reason else ''}]" if e.outcome else ""
        say(f"{when}  {e.kind:<10} {_describe_detail(e.kind, e.detail)}{ended}")
    return 0


def _describe_detail(kind: str, detail: dict[str, Any]) -> str:
    if kind == "send":
        return json.dumps(detail.get("text", ""), ensure_ascii=False)
    if kind == "status":
        code = detail.get("exit_code")
        status = str(detail.get("status"))
        prev = detail.get("prev")
        shown = status_label(status, code if isinstance(code, int) else None)
        return shown if prev in (None, status) else f"{prev} -> {shown}"
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in detail.items())
