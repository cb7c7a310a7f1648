"""Answering what an agent asks without attaching: allow, deny (with a note), answer OPTION.
Each is a thin call into the Supervisor; the host refuses, typing nothing, when the agent now
asks something else than the request the person saw."""

from __future__ import annotations

import argparse

from fleet.cli.output import note, print_json
from fleet.cli.registry import Commands
from fleet.core.results import Answered
from fleet.core.supervisor import Supervisor

commands = Commands()

EXPECT_HELP = (
    "the id of the request you saw (waiting.id in `fleet ls --json` / `fleet screen --json`); "
    "without it, the request fleet reads now and prints. If the agent asks something else by "
    "the time the answer arrives, it is refused and nothing is typed"
)
EPILOG = """\
the answer is typed into the agent's own dialog, as a person at its terminal would (the key
the dialog shows, its digit, or the arrow keys, then Enter where it needs one).

examples:
  fleet ls --json | jq '.sessions[] | select(.waiting) | {ref, waiting}'
  fleet allow alpha/fix-login --expect 3f2a9c01d4e5b6a7
  fleet deny alpha/fix-login --note "run the unit tests only: pytest tests/unit"
  fleet answer alpha/pick-framework 2
  fleet answer alpha/pick-framework pytest
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--expect", metavar="ID", help=EXPECT_HELP)
    p.add_argument("--json", action="store_true", help="what was answered, as JSON")


def _allow_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    _common(p)


def _deny_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument(
        "--note",
        metavar="TEXT",
        help="what the agent should do instead: typed as your message once its dialog is gone "
        "and it shows its prompt (never into another dialog)",
    )
    _common(p)


def _answer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("option", help="the option's key (1, y, ...) or its label, as the dialog shows")
    _common(p)


def _said(done: Answered, verb: str) -> None:
    asked = f" to {done.question!r}" if done.question else ""
    note(f"{verb} {done.session.ref}: {done.key} ({done.label}){asked} [request {done.request}]")
    if done.note:
        note(f"note {done.note}")


def _out(args: argparse.Namespace, done: Answered, verb: str) -> int:
    if args.json:
        print_json(done.to_json())
    else:
        _said(done, verb)
    return 0


@commands.supervised(
    "allow",
    "let a waiting agent go on (picks its dialog's yes / allow once)",
    _allow_arguments,
    epilog=EPILOG,
)
async def allow(sup: Supervisor, args: argparse.Namespace) -> int:
    done = await sup.answer(args.session, "allow", expect=args.expect)
    return _out(args, done, "allowed")


@commands.supervised(
    "deny",
    "refuse what a waiting agent asks, and optionally tell it why",
    _deny_arguments,
    epilog=EPILOG,
)
async def deny(sup: Supervisor, args: argparse.Namespace) -> int:
    done = await sup.answer(args.session, "deny", expect=args.expect, note=args.note or "")
    return _out(args, done, "denied")


@commands.supervised(
    "answer",
    "pick one option of the dialog a waiting agent shows",
    _answer_arguments,
    epilog=EPILOG,
)
async def answer(sup: Supervisor, args: argparse.Namespace) -> int:
    done = await sup.answer(args.session, "answer", args.option, expect=args.expect)
    return _out(args, done, "answered")
