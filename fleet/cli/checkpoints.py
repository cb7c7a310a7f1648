"""Checkpoints: snapshots of a session's worktree files, taken by the host as the agent works
(and by hand), and putting a session's files back as they were at one of them."""

from __future__ import annotations

import argparse
import time

from fleet.cli.output import note, print_json, say, table
from fleet.cli.registry import Commands
from fleet.core.fleetstate import LIVE
from fleet.core.results import Checkpoint
from fleet.core.supervisor import Supervisor
from fleet.presentation import ago, changes, plural

commands = Commands()


def _checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("-m", "--reason", default="by hand", help="why (shown in the list)")
    p.add_argument("--json", action="store_true", help="the checkpoint as JSON")


@commands.supervised(
    "checkpoint",
    "snapshot a session's worktree files now (see `fleet checkpoints`)",
    _checkpoint_arguments,
)
async def checkpoint(sup: Supervisor, args: argparse.Namespace) -> int:
    made = await sup.checkpoint(args.session, args.reason)
    ref, n = made.session.ref, made.checkpoint.n
    if args.json:
        print_json(made.to_json())
    elif made.checkpoint.created:
        note(f"{ref}: checkpoint {n}")
    else:
        note(f"{ref}: nothing changed since checkpoint {n}")
    return 0


def _list_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _changes(checkpoint: Checkpoint) -> str:
    return changes(checkpoint.changes) if checkpoint.changes else "-"


@commands.supervised(
    "checkpoints",
    "list a session's checkpoints: snapshots of its worktree's files",
    _list_arguments,
    epilog="The host takes one while the agent changes files (at most every 10 minutes; "
    'set "checkpoint_every" in seconds in ~/.fleet/settings.json on the host) and before '
    "each rewind. They include untracked files, not ignored ones, and never touch the "
    "agent's index or branch: they are commits under refs/fleet/checkpoints/ID/N in the "
    "repository. Put one back with `fleet rewind SESSION N`.",
)
async def checkpoints(sup: Supervisor, args: argparse.Namespace) -> int:
    found = await sup.checkpoints(args.session)
    if args.json:
        print_json([c.to_json() for c in found.checkpoints])
    elif found.checkpoints:
        rows = [["N", "WHEN", "REASON", "CHANGES"]]
        now = time.time()
        for c in found.checkpoints:
            rows.append([str(c.n), ago(c.time, now), c.reason, _changes(c)])
        table(rows)
    else:
        say(f"{found.session.ref} has no checkpoints yet (they come as its files change)")
    return 0


def _rewind_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("n", type=int, metavar="N", help="the checkpoint number")
    p.add_argument("--json", action="store_true", help="what was put back, as JSON")


@commands.supervised(
    "rewind",
    "put a session's files back as they were at checkpoint N (see `fleet checkpoints`)",
    _rewind_arguments,
    epilog="The current files are checkpointed first, so you can come back (the command "
    "says which N). Files the checkpoint has are restored, files made since are deleted; "
    "HEAD, the branch, the index and ignored files stay as they are. A running agent is "
    "not told: tell it with `fleet send`.",
)
async def rewind(sup: Supervisor, args: argparse.Namespace) -> int:
    result = await sup.rewind(args.session, args.n)
    session, target, before = result.session, result.checkpoint, result.before
    if args.json:
        print_json(result.to_json())
        return 0
    made = "checkpointed" if before.created else "already had"
    note(
        f"{made} the current files of {session.ref} as checkpoint {before.n} "
        f"(come back with: fleet rewind {session.ref} {before.n})"
    )
    note(
        f"rewound {session.ref} to checkpoint {target.n} ({target.reason}, "
        f"{ago(target.time, time.time())}): "
        f"{plural(result.restored, 'file')} restored, {result.removed} removed; "
        f"HEAD, {session.branch} and the index are unchanged"
    )
    if not result.exact:
        note(
            f"note: the files differ from the checkpoint (the agent wrote meanwhile, or "
            f".gitignore changed): see `git status` in {session.worktree}"
        )
    if session.status in LIVE:
        note(f"the agent is running and was not told: fleet send {session.ref} MESSAGE")
    return 0
