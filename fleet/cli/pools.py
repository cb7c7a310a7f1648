"""Pools and their workspaces: list them (`fleet pools`), reap idle ones (`fleet pools reap`),
and remove a session for good once nothing would be lost (`fleet rm`)."""

from __future__ import annotations

import argparse
import asyncio

from fleet.cli.output import note, print_json, say, table
from fleet.cli.registry import Commands
from fleet.core.errors import FleetError
from fleet.core.supervisor import Removed, Supervisor
from fleet.core.workspaces import load_all
from fleet.core.workspaces.records import Workspace

commands = Commands()


def _rm_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", help="a session (HOST/NAME or id), or a pool workspace's name")
    p.add_argument(
        "--force",
        action="store_true",
        help="remove it even with work not approved or not landed (that work is lost)",
    )


@commands.supervised(
    "rm",
    "remove a session for good once its work is landed: a pool session's workspace "
    "(container and volume), any other session's worktree and branch",
    _rm_arguments,
)
async def rm(sup: Supervisor, args: argparse.Namespace) -> int:
    removed = await sup.remove_session(
        args.session, lambda line: note(f"fleet: {line}"), force=args.force
    )
    say(removed_line(removed))
    return 0


def removed_line(removed: Removed) -> str:
    ws, session = removed.workspace, removed.session
    lost = ""
    if session is not None and removed.lost:
        lost = f"; lost (--force): {removed.lost.describe(session, ws.repo if ws else '')}"
    if ws is None:
        assert session is not None
        return f"removed {session.ref}: its worktree and branch {session.branch}{lost}"
    what = session.ref if session is not None else ws.name
    return f"removed {what}: container {ws.container} and volume {ws.volume}{lost}"


def _pools_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="pools_command", metavar="SUBCOMMAND")
    r = sub.add_parser(
        "reap",
        help="one reaping pass over pools with an idle_ttl (for cron)",
        description="One pass over the workspaces of pools with an idle_ttl: a notice for each "
        "idle (or stopped) that long, and the removal of those whose notice has stood a quarter "
        "of idle_ttl (at most an hour) while still idle. A workspace holding work that is not "
        "approved or landed is never reaped: it is reported, every pass. `fleet watch` and the "
        "TUI run the same pass while they run; cron runs this. Exit status 0 unless a pass "
        "failed.",
    )
    r.add_argument("--json", action="store_true", help="one object per workspace acted on")


async def _state(sup: Supervisor, ws: Workspace) -> str:
    try:
        return await sup.engine_of(ws).state(ws.container) or "gone"
    except FleetError as exc:
        return f"unknown ({exc})"


@commands.supervised(
    "pools", "list the pools and the workspaces fleet made from them", _pools_arguments
)
async def pools(sup: Supervisor, args: argparse.Namespace) -> int:
    if args.pools_command == "reap":
        return await _reap(sup, args)
    made = load_all()
    states = dict(
        zip(
            [w.name for w in made],
            await asyncio.gather(*(_state(sup, w) for w in made)),
            strict=True,
        )
    )
    configured = sup.config.pools
    if args.json:
        print_json(
            [
                {"pool": p.name, "engine": p.engine, "image": p.image, "host": p.host,
                 "cpus": p.cpus, "memory": p.memory, "remove": p.remove, "idle_ttl": p.idle_ttl,
                 "workspaces": [w.to_json() | {"state": states[w.name]}
                                for w in made if w.pool == p.name]}
                for p in configured.values()
            ]
        )  # fmt: skip
        return 0
    if not configured and not made:
        say(f"no pools configured in {sup.config.path}: add a [pools.NAME] table")
        return 0
    rows = [["POOL", "ENGINE", "IMAGE", "WORKSPACE", "STATE", "PORT", "REPO"]]
    for p in configured.values():
        where = p.engine if p.host is None else f"{p.engine} on {p.host}"
        if p.kubernetes is not None:
            where = f"kubernetes ({p.kubernetes.namespace})"
        mine = [w for w in made if w.pool == p.name]
        if not mine:
            rows.append([p.name, where, p.image, "-", "", "", ""])
        for w in mine:
            rows.append([p.name, where, p.image, w.name, states[w.name], str(w.port), w.repo])
    for w in made:
        if w.pool not in configured:
            shown = f"{w.pool} (not in the config)"
            rows.append([shown, w.engine, w.image, w.name, states[w.name], str(w.port), w.repo])
    table(rows)
    return 0


async def _reap(sup: Supervisor, args: argparse.Namespace) -> int:
    if not any(p.idle_ttl is not None for p in sup.config.pools.values()):
        note("fleet: no pool has an idle_ttl: nothing is ever reaped")
    done = await sup.reap(lambda line: note(f"fleet: {line}"))
    if args.json:
        print_json([r.to_json() for r in done])
        return 0
    for r in done:
        say(r.line())
    return 0
