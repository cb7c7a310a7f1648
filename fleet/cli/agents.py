"""`fleet agents`: the agent profiles in force (built in, from the config, or both) and which
version of each agent CLI every host has; `fleet agents check` tries a profile's patterns on
a saved screen."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from fleet.cli.output import print_json, say, table
from fleet.cli.registry import Commands
from fleet.core.agent_versions import AgentVersion
from fleet.core.agents import BUILTIN_PROFILES, status_of_screen
from fleet.core.config import Config
from fleet.core.errors import UsageError
from fleet.core.models import AgentProfile
from fleet.core.supervisor import Supervisor
from fleet.core.textsafe import inert

commands = Commands()


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--no-hosts",
        action="store_true",
        help="do not ask the hosts which version of each agent CLI they have",
    )
    sub = p.add_subparsers(dest="agents_command", metavar="SUBCOMMAND")
    c = sub.add_parser(
        "check",
        help="print the status a profile gives the screen text in FILE",
        description="Print the status a profile gives the screen text in FILE ('-': stdin), "
        "so you can test your waiting/working patterns on a saved screen "
        "(fleet screen SESSION > FILE).",
    )
    c.add_argument("name", help="agent profile name")
    c.add_argument("file", help="a file holding the screen text, or - for stdin")
    c.add_argument(
        "--quiet-for",
        type=float,
        default=float("inf"),
        metavar="SECONDS",
        help="how long the screen has not changed (default: forever, so only patterns and "
        "the idle rule decide)",
    )


# No store and no hooks: it only reads profiles and asks the hosts for versions.
@commands.configured(
    "agents",
    "show the agent profiles in force and each host's CLI versions, or check a screen",
    _arguments,
)
def agents(config: Config, args: argparse.Namespace) -> int:
    sup = Supervisor(config)
    if args.agents_command == "check":
        return _check(sup, args)
    versions = [] if args.no_hosts else asyncio.run(_agent_versions(sup))
    if args.json:
        print_json([_profile_json(config, p, versions) for p in sup.profiles.values()])
        return 0
    rows = [["AGENT", "SOURCE", "COMMAND", "RESUME"]]
    for p in sup.profiles.values():
        rows.append([p.name, _source(config, p.name), p.command, p.resume or "-"])
    table(rows)
    if versions:
        sys.stdout.write("\n")
        found = [["HOST", "AGENT", "VERSION", "VERIFIED", "NOTE"]]
        for row in versions:
            # What a host printed is shown inert: it may hold terminal escapes.
            said = inert(row.note) or "ok"
            found.append([row.host, row.agent, row.version or "-", row.verified or "-", said])
        table(found)
    return 0


def _check(sup: Supervisor, args: argparse.Namespace) -> int:
    profile = sup.profile(args.name)
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.file).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    say(status_of_screen(profile, text, quiet_for=args.quiet_for))
    return 0


async def _agent_versions(sup: Supervisor) -> list[AgentVersion]:
    try:
        return await sup.agent_versions()
    finally:
        await sup.close()


def _profile_json(config: Config, p: AgentProfile, versions: list[AgentVersion]) -> dict[str, Any]:
    return {
        "name": p.name,
        "command": p.command,
        "resume": p.resume,
        "waiting": list(p.waiting),
        "working": list(p.working),
        "idle": list(p.idle),
        "idle_after": p.idle_after,
        "send_mode": str(p.send_mode),
        "interrupt": list(p.interrupt),
        "prose": p.prose,
        "sandbox": p.sandbox,
        "source": _source(config, p.name),
        "version_command": p.version_command,
        "verified": p.verified,
        "hosts": {row.host: row.to_json() for row in versions if row.agent == p.name},
    }


def _source(config: Config, name: str) -> str:
    if name in config.agents:
        return "config+built-in" if name in BUILTIN_PROFILES else "config"
    return "built-in"
