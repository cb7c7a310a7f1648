"""The hosts: whether each is usable (`fleet hosts`), trusting a host's key (`fleet trust`), and
checking this machine and every host with what to fix (`fleet doctor`)."""

from __future__ import annotations

import argparse

from fleet.cli import doctor as doctor_checks
from fleet.cli import trust as trusting
from fleet.cli.output import print_json, table
from fleet.cli.registry import Commands
from fleet.core.config import Config
from fleet.core.errors import UsageError
from fleet.core.supervisor import Supervisor
from fleet.presentation import tmux_label, tmux_words

commands = Commands()


def _json_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


@commands.supervised(
    "hosts",
    "show the configured hosts and whether each is reachable (and why not)",
    _json_argument,
)
async def hosts(sup: Supervisor, args: argparse.Namespace) -> int:
    if not sup.config.hosts:
        raise UsageError(f"no hosts configured in {sup.config.path}: add a [hosts.NAME] table")
    checks = await sup.check_hosts()
    if args.json:
        print_json(
            [
                {
                    "name": c.name,
                    "ssh": c.target,
                    "reachable": c.reachable,
                    "reason": c.reason,
                    "versions": c.versions,
                    "tmux": c.tmux.to_json() if c.tmux is not None else None,
                    "usable": c.usable,
                }
                for c in checks
            ]
        )
    else:
        rows = [["HOST", "SSH", "STATE", "DETAILS"]]
        for c in checks:
            if not c.reachable:
                rows.append([c.name, c.target, "unreachable", c.reason])
                continue
            v = c.versions
            details = f"python {v.get('python')}, {v.get('tmux')}, {v.get('git')}"
            if not c.usable and c.tmux is not None:
                details = f"{tmux_words(c.tmux)}: see `fleet doctor`"
            rows.append([c.name, c.target, tmux_label(c.tmux), details])
        table(rows)
    return 0 if all(c.usable for c in checks) else 1


def _trust_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="a host name from the config")
    p.add_argument("--yes", action="store_true", help="trust without asking (for scripts)")


@commands.configured(
    "trust",
    "show a host's key fingerprint and, once you confirm, add it to known_hosts",
    _trust_arguments,
    epilog="The key goes into the known_hosts file fleet checks for the host (the ssh "
    "config's UserKnownHostsFile, else ~/.ssh/known_hosts). A key that changed is never "
    "replaced: the message says how to remove the old one once you know why.",
)
def trust(config: Config, args: argparse.Namespace) -> int:
    return trusting.main(config, args.host, yes=args.yes)


# It reports a config that does not load instead of stopping at it: it loads the config itself.
def _doctor_arguments(p: argparse.ArgumentParser) -> None:
    _json_argument(p)
    p.add_argument(
        "--repair",
        action="store_true",
        help="first make the repairs that are safe (a host's stale tmux socket, fleet's own "
        "tmux clients holding a server stuck in its exit), then check",
    )


@commands.standalone(
    "doctor",
    "check this machine and every configured host, and say what to fix",
    _doctor_arguments,
)
def doctor(args: argparse.Namespace) -> int:
    return doctor_checks.main(
        args.config, as_json=args.json, verbose=args.verbose, repair=args.repair
    )
