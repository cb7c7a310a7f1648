"""Review: a session's diff with numbered hunks, approving and rejecting them (checked against
the diff the person saw), undoing a decision, and taking the work away (push, land)."""

from __future__ import annotations

import argparse
import sys

from fleet import presentation
from fleet.cli.output import note, print_json, say
from fleet.cli.registry import Commands, session_argument
from fleet.core import review
from fleet.core.supervisor import Supervisor
from fleet.core.textsafe import inert
from fleet.presentation import note_delivery, numbered, plural

commands = Commands()


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--stat", action="store_true", help="files and hunk numbers only")
    views = p.add_mutually_exclusive_group()
    views.add_argument(
        "--since-review",
        dest="view",
        action="store_const",
        const="since",
        default="review",
        help="what changed since the last decision (read-only)",
    )
    views.add_argument(
        "--all",
        dest="view",
        action="store_const",
        const="all",
        help="the whole branch against the session's base (read-only)",
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
    "show what is new to review in a session (since its last approved commit), hunks numbered",
    _diff_arguments,
    epilog="By default the review: the worktree (untracked files included) against the last "
    "commit fleet made on the session's branch when you approved all, or its base before "
    "that; hunks are numbered 1..N across files: approve or reject them by number. "
    "--since-review shows what changed after your last decision, --all the whole branch "
    "against its base; both are read-only (their hunk numbers are not for decisions). The "
    "fingerprint printed last (on stderr) names exactly the diff shown: pass it as --expect "
    "and a decision is refused if the agent or another decision changed those lines since.",
)
async def diff(sup: Supervisor, args: argparse.Namespace) -> int:
    session, d = await sup.diff(args.session, args.view)
    if args.json:
        print_json(d.to_json() | {"session": session.ref})
        return 0
    note(f"{session.ref}: {_view_line(d)}")
    if not d.files:
        say(f"no changes in {session.ref} ({review.VIEW_NAMES[d.view]} view)")
        return 0
    if args.stat:
        say(review.printable(d.stat()))
    elif sys.stdout.isatty():
        sys.stdout.write(review.colorize(_shown(d)))
    else:
        sys.stdout.write(inert(review.printable(_shown(d))))
    if d.view == "review":
        note(f"fingerprint {d.fingerprint[:16]} (to decide on exactly this diff: --expect)")
    return 0


def _view_line(d: review.Diff) -> str:
    """Which view the diff shows, in words (the first line of `fleet diff`)."""
    if d.view == "review":
        committed = d.extra.get("committed")
        rejected = sum(int(r.get("hunks", 0)) for r in d.extra.get("rejected", []))
        start = f"since the approved commit {committed[:12]}" if committed else "against its base"
        gone = f"; {plural(rejected, 'hunk')} rejected (reverted) so far" if rejected else ""
        return f"the review: what is new {start}{gone}"
    if d.view == "since":
        last = d.extra.get("since") or {}
        if not last:
            return "no decision yet: this is the whole review (read-only here)"
        return f"what changed since decision {last.get('decision')} (read-only)"
    return "the whole branch against its base (read-only)"


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
    say(f"{note_delivery(result)}: {result.message}")
    return 0


@commands.supervised("undo", "reverse the session's last review decision", _session_json_arguments)
async def undo(sup: Supervisor, args: argparse.Namespace) -> int:
    result = await sup.undo(args.session)
    if args.json:
        print_json(result.to_json())
        return 0
    say(
        f"undid {result.action} on {result.session.ref}: {presentation.undone(result)}; the "
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
    after = await sup.after_landing(result.session, _progress, pushed=True)
    if args.json:
        print_json(result.to_json() | {"workspace": after or None})
        return 0
    say(f"pushed {result.branch} to {result.remote} from {result.session.host}")
    if result.pr:
        say(f"pull request: {result.pr}")
    elif result.pr_note:
        note(result.pr_note)
    if after:
        say(after)
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
    after = await sup.after_landing(result.session, _progress, home=args.into)
    if args.json:
        print_json(result.to_json() | {"workspace": after or None})
        return 0
    say(
        f"{result.session.ref}: {result.session.branch} is now {result.branch} "
        f"({result.commit[:12]}) in {args.into}, via remote {result.remote}"
    )
    if after:
        say(after)
    return 0


def _progress(line: str) -> None:
    note(f"fleet: {line}")
