"""`fleet demo`: a working fleet in seconds, in its own sandbox and config (never the
person's), so it loads nothing of theirs."""

from __future__ import annotations

import argparse

from fleet.cli.registry import Commands

commands = Commands()


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", action="store_true", help="keep the demo's sandbox afterwards")


@commands.standalone(
    "demo",
    "a working fleet in seconds: three demo hosts with scripted agents, in the TUI",
    _arguments,
)
def demo(args: argparse.Namespace) -> int:
    from fleet.demo.run import main  # the demo's hosts and server load only for the demo

    return main(keep=args.keep, verbose=args.verbose)
