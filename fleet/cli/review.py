"""Review: a session's diff with numbered hunks, approving and rejecting them (checked against
the diff the person saw), undoing a decision, and taking the work away (push, land)."""

from __future__ import annotations

import argparse
import sys

from fleet.cli.output import note, print_json, say
from fleet.cli.registry import Commands, session_argument
from fleet.core import review
from fleet.core.supervisor import Supervisor
from fleet.core.textsafe import inert
from fleet.presentation import numbered

commands = Commands()


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--stat", action="store_true", help="files and hunk numbers only")
    p.add_argument(
        "--since-review", action="store_true", help="only changes since the last decision"
    )
    p.add_argument("--json", action="store_true", help="files, hunks and the fingerprint as JSON")


def _shown(d: review.Diff) -> str:
    """The diff as printed: each hunk headed by its number (and whether it is approved)."""
    shown = []
    for f in d.files:
        if not f.hunks[0].whole_file:
            shown.append(f.header)
        for h in f.hunks:
            mark = " (approved)" if h.approved else ""
            label = f" {f.path}: {h.header}" if h.whole_file else ""
            shown.append(f"#{h.number}{mark}{label}\n{h.text}")
    return "".join(shown)


@commands.supervised(
    "diff",
    "show a session's changes against its base, untracked files included, hunks numbered",
    _diff_arguments,
    epilog="Hunks are numbered 1..N across files; approve or reject them by number. The "
    "fingerprint printed last names exactly this diff: pass it as --expect so a decision "
    "is refused if the agent changed those lines since. --since-review shows only what "
    "changed after your last approve/reject (its hunk numbers are not for decisions).",
)
async def diff(sup: Supervisor, args: argparse.Namespace) -> int:
    session, d = await sup.diff(args.session, since_review=args.since_review)
    if args.json:
        print_json(d.to_json() | {"session": session.ref})
        return 0
    since = d.extra.get("since")
    if args.since_review and not since:
        note(f"no decision on {session.ref} yet: this is the whole diff")
    if not d.files:
        say(f"no changes in {session.ref}" + (" since the last review" if since else ""))
        return 0
    if args.stat:
        say(review.printable(d.stat()))
    elif sys.stdout.isatty():
        sys.stdout.write(review.colorize(_shown(d)))
    else:
        sys.stdout.write(inert(review.printable(_shown(d))))
    note(f"fingerprint {d.fingerprint[:16]}")
    return 0


def _stale(exc: review.StaleReview) -> int:
    note(f"fleet: {exc}")
    if exc.fresh is not None:
        note(f"the diff now (fingerprint {exc.fresh.fingerprint[:16]}):")
        note(inert(review.printable(exc.fresh.stat())))
    return 1


def _decision_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--file", metavar="PATH", help="every hunk of this file (or --hunk in it)")
    p.add_argument("--hunk", type=int, action="append", default=[], metavar="N", help="repeatable")
    p.add_argument("--expect", metavar="FP", help="the fingerprint of the diff you saw")
    _json_argument(p)


def _json_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="what was done, as JSON")


def _approve_arguments(p: argparse.ArgumentParser) -> None:
    _decision_arguments(p)
    p.add_argument("-m", "--message", help="commit message (commits what is approved)")


def _reject_arguments(p: argparse.ArgumentParser) -> None:
    _decision_arguments(p)
    p.add_argument("--note", default="", help="why: sent to the agent")


def _session_json_arguments(p: argparse.ArgumentParser) -> None:
    session_argument(p)
    _json_argument(p)


@commands.supervised(
    "approve",
    "stage hunks in the session's worktree; with no hunk named, commit all",
    _approve_arguments,
)
async def approve(sup: Supervisor, args: argparse.Namespace) -> int:
    try:
        result = await sup.approve(args.session, args.hunk, args.file, args.message, args.expect)
    except review.StaleReview as exc:
        return _stale(exc)
    if args.json:
        print_json(result.to_json())
        return 0
    staged = numbered("hunk", list(result.hunks)) if result.hunks else "no new hunks"
    say(f"approved {staged} of {result.session.ref} (decision {result.decision})")
    if result.commit:
        say(f"committed {result.commit[:12]} on {result.branch}: {result.message}")
    return 0


@commands.supervised(
    "reject",
    "revert hunks in the worktree (kept as a patch) and tell the agent why",
    _reject_arguments,
)
async def reject(sup: Supervisor, args: argparse.Namespace) -> int:
    try:
        result = await sup.reject(args.session, args.hunk, args.file, args.note, args.expect)
    except review.StaleReview as exc:
        return _stale(exc)
    if args.json:
        print_json(result.to_json())
        return 0
    say(
        f"rejected {numbered('hunk', list(result.hunks))} of {result.session.ref} "
        f"(decision {result.decision}); the patch is kept on the host in {result.kept}"
    )
    if result.told:
        say(f"told the agent: {result.message}")
    else:
        say(f"the agent is not running and was not told: {result.message}")
    return 0


@commands.supervised("undo", "reverse the session's last review decision", _session_json_arguments)
async def undo(sup: Supervisor, args: argparse.Namespace) -> int:
    result = await sup.undo(args.session)
    if args.json:
        print_json(result.to_json())
        return 0
    say(
        f"undid {result.action} (decision {result.decision}) on {result.session.ref}; the "
        f"state before the undo is checkpoint {result.checkpoint}"
    )
    return 0


@commands.supervised(
    "push",
    "push the session's branch to origin on its host; open a PR if gh is there",
    _session_json_arguments,
)
async def push(sup: Supervisor, args: argparse.Namespace) -> int:
    result = await sup.push(args.session)
    if args.json:
        print_json(result.to_json())
        return 0
    say(f"pushed {result.branch} to {result.remote} from {result.session.host}")
    if result.pr:
        say(f"pull request: {result.pr}")
    elif result.pr_note:
        note(result.pr_note)
    return 0


def _land_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--into", required=True, metavar="PATH", help="a local git repository")
    _json_argument(p)


@commands.supervised(
    "land",
    "fetch the session's branch over ssh into a local clone as fleet/HOST/NAME",
    _land_arguments,
)
async def land(sup: Supervisor, args: argparse.Namespace) -> int:
    result = await sup.land(args.session, args.into)
    if args.json:
        print_json(result.to_json())
        return 0
    say(
        f"{result.session.ref}: {result.session.branch} is now {result.branch} "
        f"({result.commit[:12]}) in {args.into}, via remote {result.remote}"
    )
    return 0
