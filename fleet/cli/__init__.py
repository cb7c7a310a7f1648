"""The `fleet` command line. Every command is a thin call into fleet.core.

Each module of this package declares its commands once (fleet.cli.registry): `hosts` (hosts,
trust, doctor), `sessions`, `answer` (allow, deny, answer), `checkpoints`, `review`, `watch`
(watch, log), `usage`, `agents`, `demo`.
This module builds the parser from those declarations and runs the one asked for; with no
command, it starts the TUI.

Exit codes follow one rule (fleet.core.errors). Errors go to stderr as one readable message,
never a traceback (run with -v to log details to the log file).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from fleet import __version__
from fleet.cli import (
    agents,
    answer,
    checkpoints,
    demo,
    hosts,
    pools,
    review,
    sessions,
    usage,
    watch,
)
from fleet.cli.registry import Command, WordsError, collect
from fleet.launch import guarded, tui

__all__ = ["COMMANDS", "build_parser", "main"]

log = logging.getLogger("fleet.cli")

# The order of `fleet --help`: hosts first (the first thing to check), the demo last.
COMMANDS: dict[str, Command] = collect(
    hosts.commands,
    sessions.commands,
    answer.commands,
    pools.commands,
    checkpoints.commands,
    review.commands,
    watch.commands,
    usage.commands,
    agents.commands,
    demo.commands,
)

EPILOG = """\
sessions are named HOST/NAME (as `fleet new` prints them) or by a unique prefix of their id.

examples:
  fleet hosts                                   check every configured host
  fleet new alpha --repo ~/src/app "fix the flaky login test"
  fleet ls                                      every session on every host
  fleet screen alpha/fix-the-flaky-login-test   what the agent shows now
  fleet send alpha/fix-the-flaky-login-test "use pytest, not unittest"
  fleet attach alpha/fix-the-flaky-login-test   take over its terminal (detach: C-b d)

config: --config PATH, else $FLEET_CONFIG, else $XDG_CONFIG_HOME/fleet/fleet.toml
state:  $FLEET_HOME, else $XDG_DATA_HOME/fleet (holds fleet.log)

exit codes: 0 done, or already so (stopping a stopped session, resuming a running one);
  1 fleet tried and it failed (a host, its helper, a stale review, the local store);
  2 the command cannot mean anything as written (usage, config, an unknown host, agent or
  session); 130 interrupted. Commands that print data take --json.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet",
        description="Supervise AI coding agents running in tmux on your hosts, over SSH.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="the fleet.toml to use")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr too")
    parser.add_argument("--version", action="version", version=f"fleet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_to(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """The command line as a Namespace; a usage error exits 2 with the usage (argparse)."""
    # Everything after the first "--" is words, exactly as written, even "-x" or "--": split
    # off before argparse, which would drop a second "--" from the words.
    given = list(argv)
    dashdash: list[str] = []
    if "--" in given:
        cut = given.index("--")
        given, dashdash = given[:cut], given[cut + 1 :]
    args, words = parser.parse_known_args(given)
    command = COMMANDS.get(args.command) if args.command else None
    # Words left over go to a command that takes free words; anything else is a usage error.
    takes = command.words if command is not None else None
    if takes is not None and not any(w.startswith("-") for w in words):
        try:
            takes(args, words, dashdash)
        except WordsError as exc:
            parser.error(str(exc))
    elif words or dashdash:
        parser.error(f"unrecognized arguments: {' '.join(words + dashdash)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, sys.argv[1:] if argv is None else argv)
    if args.command is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        parser.print_help()  # the TUI needs a terminal; scripts get the help
        return 0
    if args.command is None:
        return guarded(lambda: tui(args))
    return guarded(lambda: COMMANDS[args.command].run(args))
