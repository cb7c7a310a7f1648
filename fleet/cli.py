"""The `fleet` command line. Every command is a thin call into fleet.core.

Exit codes: 0 success, 1 an operation failed, 2 usage or config error. Errors go to stderr
as one readable message, never a traceback (run with -v to log details to the log file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from fleet import __version__, presentation
from fleet.core import events, review
from fleet.core.agent_versions import AgentVersion, fleet_versions
from fleet.core.agents import BUILTIN_PROFILES, status_of_screen
from fleet.core.config import Config, ConfigError, load_config
from fleet.core.errors import FleetError, UsageError
from fleet.core.logs import log_path, setup_logging
from fleet.core.models import DiffStat, Session, Status
from fleet.core.supervisor import DEFAULT_AGENT, Listing, Supervisor
from fleet.core.textsafe import inert, inert_bytes
from fleet.core.wiring import wired

log = logging.getLogger("fleet.cli")

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

    def add(name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, **kw)

    p = add("hosts", "show the configured hosts and whether each is reachable (and why not)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("new", "start an agent session in a new git worktree on a host")
    p.add_argument("host", help="a host name from the config")
    p.add_argument("--repo", required=True, help="path of a git repository ON THE HOST")
    p.add_argument("--agent", default=DEFAULT_AGENT, help="agent profile (default: %(default)s)")
    p.add_argument("--name", help="session name (default: from the task); branch fleet/NAME")
    p.add_argument("--base", help="ref to branch from (default: the repo's HEAD)")
    p.add_argument("task", nargs="*", help="what the agent should do")
    p.add_argument("--json", action="store_true", help="print the session as JSON")

    p = add("ls", "list sessions on all hosts")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cached",
        action="store_true",
        help="show what fleet knew at once, without asking the hosts",
    )

    p = add("screen", "print the agent's current screen as plain text")
    p.add_argument("session")

    p = add("tail", "print the agent's output log (escape sequences removed)")
    p.add_argument("session")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to show (default: 50)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    p.add_argument("--raw", action="store_true", help="pass the raw bytes through unchanged")

    p = add("send", "send a steering message to an agent (typed literally, then Enter)")
    p.add_argument("session")
    p.add_argument(
        "text", nargs="*", help="the message; '-' reads it from stdin; after -- taken as written"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="type it even though the agent waits at a prompt (its Enter answers the prompt)",
    )

    p = add("interrupt", "interrupt what the agent is doing (its profile's interrupt key)")
    p.add_argument("session")

    p = add("stop", "stop an agent; its worktree and branch stay")
    p.add_argument("session")

    p = add("resume", "start a stopped or finished agent again in the same worktree")
    p.add_argument("session")

    p = add("checkpoint", "snapshot a session's worktree files now (see `fleet checkpoints`)")
    p.add_argument("session")
    p.add_argument("-m", "--reason", default="by hand", help="why (shown in the list)")

    p = add(
        "checkpoints",
        "list a session's checkpoints: snapshots of its worktree's files",
        epilog="The host takes one while the agent changes files (at most every 10 minutes; "
        'set "checkpoint_every" in seconds in ~/.fleet/settings.json on the host) and before '
        "each rewind. They include untracked files, not ignored ones, and never touch the "
        "agent's index or branch: they are commits under refs/fleet/checkpoints/ID/N in the "
        "repository. Put one back with `fleet rewind SESSION N`.",
    )
    p.add_argument("session")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add(
        "rewind",
        "put a session's files back as they were at checkpoint N (see `fleet checkpoints`)",
        epilog="The current files are checkpointed first, so you can come back (the command "
        "says which N). Files the checkpoint has are restored, files made since are deleted; "
        "HEAD, the branch, the index and ignored files stay as they are. A running agent is "
        "not told: tell it with `fleet send`.",
    )
    p.add_argument("session")
    p.add_argument("n", type=int, metavar="N", help="the checkpoint number")

    # -- review (issue 4) --
    p = add(
        "diff",
        "show a session's changes against its base, untracked files included, hunks numbered",
        epilog="Hunks are numbered 1..N across files; approve or reject them by number. The "
        "fingerprint printed last names exactly this diff: pass it as --expect so a decision "
        "is refused if the agent changed those lines since. --since-review shows only what "
        "changed after your last approve/reject (its hunk numbers are not for decisions).",
    )
    p.add_argument("session")
    p.add_argument("--stat", action="store_true", help="files and hunk numbers only")
    p.add_argument(
        "--since-review", action="store_true", help="only changes since the last decision"
    )
    p.add_argument("--json", action="store_true", help="files, hunks and the fingerprint as JSON")

    for verb, text in (
        ("approve", "stage hunks in the session's worktree; with no hunk named, commit all"),
        ("reject", "revert hunks in the worktree (kept as a patch) and tell the agent why"),
    ):
        p = add(verb, text)
        p.add_argument("session")
        p.add_argument("--file", metavar="PATH", help="every hunk of this file (or --hunk in it)")
        p.add_argument(
            "--hunk", type=int, action="append", default=[], metavar="N", help="repeatable"
        )
        p.add_argument("--expect", metavar="FP", help="the fingerprint of the diff you saw")
        if verb == "approve":
            p.add_argument("-m", "--message", help="commit message (commits what is approved)")
        else:
            p.add_argument("--note", default="", help="why: sent to the agent")

    p = add("undo", "reverse the session's last review decision")
    p.add_argument("session")
    p = add("push", "push the session's branch to origin on its host; open a PR if gh is there")
    p.add_argument("session")
    p = add("land", "fetch the session's branch over ssh into a local clone as fleet/HOST/NAME")
    p.add_argument("session")
    p.add_argument("--into", required=True, metavar="PATH", help="a local git repository")

    p = add("attach", "hand this terminal to the agent's tmux session (detach to come back)")
    p.add_argument("session")

    p = add("log", "show what was done to a session and what happened to it (the audit log)")
    p.add_argument("session")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add(
        "watch",
        "follow the hosts live: record every change in fleet's store, run hooks, print events",
    )
    p.add_argument("hosts", nargs="*", metavar="HOST", help="hosts to follow (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")

    p = add("demo", "a working fleet in seconds: three demo hosts with scripted agents, in the TUI")
    p.add_argument("--keep", action="store_true", help="keep the demo's sandbox afterwards")

    p = add(
        "trust",
        "show a host's key fingerprint and, once you confirm, add it to known_hosts",
        epilog="The key goes into the known_hosts file fleet checks for the host (the ssh "
        "config's UserKnownHostsFile, else ~/.ssh/known_hosts). A key that changed is never "
        "replaced: the message says how to remove the old one once you know why.",
    )
    p.add_argument("host", help="a host name from the config")
    p.add_argument("--yes", action="store_true", help="trust without asking (for scripts)")

    p = add("doctor", "check this machine and every configured host, and say what to fix")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add(
        "agents",
        "show the agent profiles in force and each host's CLI versions, or check a screen",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--no-hosts",
        action="store_true",
        help="do not ask the hosts which version of each agent CLI they have",
    )
    agents_sub = p.add_subparsers(dest="agents_command", metavar="SUBCOMMAND")
    c = agents_sub.add_parser(
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
    return parser


# -- output helpers -------------------------------------------------------------------


def _status_text(session: Session) -> str:
    if session.status in (Status.EXITED, Status.FAILED) and session.exit_code is not None:
        return f"{session.status} ({session.exit_code})"
    return str(session.status)


def _age(since: float) -> str:
    if not since:
        return "-"
    secs = max(0, int(time.time() - since))
    if secs < 60:
        return f"{secs}s"
    if secs < 3600:
        return f"{secs // 60}m"
    if secs < 86400:
        return f"{secs // 3600}h{secs % 3600 // 60:02d}m"
    return f"{secs // 86400}d"


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


# -- commands -------------------------------------------------------------------------


async def cmd_hosts(sup: Supervisor, args: argparse.Namespace) -> int:
    if not sup.links:
        raise UsageError(f"no hosts configured in {sup.config.path}: add a [hosts.NAME] table")
    checks = await sup.check_hosts()
    if args.json:
        _json(
            [
                {
                    "name": c.name,
                    "ssh": c.target,
                    "reachable": c.reachable,
                    "reason": c.reason,
                    "versions": c.versions,
                }
                for c in checks
            ],
            sys.stdout,
        )
    else:
        rows = [["HOST", "SSH", "STATE", "DETAILS"]]
        for c in checks:
            if c.reachable:
                v = c.versions
                details = f"python {v.get('python')}, {v.get('tmux')}, {v.get('git')}"
                rows.append([c.name, c.target, "ok", details])
            else:
                rows.append([c.name, c.target, "unreachable", c.reason])
        _table(rows, sys.stdout)
    return 0 if all(c.reachable for c in checks) else 1


async def cmd_new(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.new_session(
        args.host,
        args.repo,
        agent=args.agent,
        name=args.name,
        base=args.base,
        task=" ".join(args.task),
    )
    if args.json:
        _json(session.to_json(), sys.stdout)
    else:
        print(session.ref)
    return 0


async def cmd_ls(sup: Supervisor, args: argparse.Namespace) -> int:
    listing = Listing() if args.cached else await sup.list_sessions()
    store = sup.require_store()
    await store.flush()
    known = await store.sessions()
    for host, reason in sorted(listing.errors.items()):
        cached = sum(1 for c in known if c.session.host == host and not c.gone)
        note = f"; showing the {cached} session(s) fleet knew, from its cache" if cached else ""
        print(f"fleet: {host}: {reason}{note}", file=sys.stderr)
    rows_json = []
    rows = [["SESSION", "ID", "AGENT", "STATUS", "FOR", "CHANGES", "NEW", "BRANCH"]]
    for c in known:
        s = c.session
        from_cache = args.cached or s.host in listing.errors
        status = _status_text(s)
        if c.gone:
            status = "gone"
        elif args.cached:
            status = f"{status} (cached {_age(c.updated)} ago)"
        elif from_cache:
            status = f"lost ({status} when last seen)"
        data = s.to_json() | {"gone": c.gone, "cached": from_cache, "unread": c.unread}
        if from_cache and not c.gone and not args.cached:
            data["status"] = str(Status.LOST)
            data["last_status"] = str(s.status)
        rows_json.append(data)
        unread = str(c.unread) if c.unread else ""
        rows.append(
            [
                s.ref,
                s.id,
                s.agent,
                status,
                _age(s.status_since),
                presentation.changes(s.diffstat),
                unread,
                s.branch,
            ]
        )
    if args.json:
        _json(rows_json, sys.stdout)
    elif len(rows) > 1:
        _table(rows, sys.stdout)
    elif not listing.errors:
        print("no sessions yet: start one with `fleet new HOST --repo PATH TASK`")
    return 1 if listing.errors else 0


async def cmd_log(sup: Supervisor, args: argparse.Namespace) -> int:
    store = sup.require_store()
    cached = await sup.find_cached(args.session)
    entries = await store.audit_log(cached.host, cached.id)
    if args.json:
        _json(
            [
                {
                    "id": e.id,
                    "at": e.at,
                    "host": e.host,
                    "session": e.session,
                    "kind": e.kind,
                    "detail": e.detail,
                }
                for e in entries
            ],
            sys.stdout,
        )
        return 0
    if not entries:
        print(f"nothing recorded for {cached.ref} yet")
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        print(f"{when}  {e.kind:<10} {inert(_describe_detail(e.kind, e.detail))}")
    return 0


def _describe_detail(kind: str, detail: dict[str, Any]) -> str:
    if kind == "send":
        return json.dumps(detail.get("text", ""), ensure_ascii=False)
    if kind == "status":
        code = detail.get("exit_code")
        status = str(detail.get("status"))
        prev = detail.get("prev")
        shown = status if prev in (None, status) else f"{prev} -> {status}"
        return shown + (f" ({code})" if code is not None else "")
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in detail.items())


async def cmd_watch(sup: Supervisor, args: argparse.Namespace) -> int:
    hosts = args.hosts or list(sup.links)
    for host in hosts:
        sup.helper(host)  # unknown host names fail here, before anything starts
    if not hosts:
        raise UsageError(f"no hosts configured in {sup.config.path}: add a [hosts.NAME] table")
    queue: asyncio.Queue[tuple[str, events.Event | BaseException]] = asyncio.Queue(1000)

    async def follow(host: str) -> None:
        try:
            async for event in sup.mirror(host):
                await queue.put((host, event))
        except Exception as exc:  # surface it: a follower must never die silently
            await queue.put((host, exc))

    tasks = [asyncio.create_task(follow(h)) for h in hosts]
    held = ""  # what the store said while writes were held (a full disk), once per change
    try:
        while True:
            host, item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            trouble = str(sup.store.trouble or "") if sup.store is not None else ""
            if trouble != held:
                held = trouble
                note = f"local store: {trouble}" if trouble else "local store: writing again"
                print(f"{time.strftime('%H:%M:%S')} {note}", file=sys.stderr, flush=True)
            line = _watch_line(sup, host, item, args.json)
            if line:
                print(line, flush=True)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _watch_line(sup: Supervisor, host: str, event: events.Event, as_json: bool) -> str:
    if as_json:
        return json.dumps({"host": host, **events.as_json(event)}, sort_keys=True, default=str)
    when = time.strftime("%H:%M:%S")
    match event:
        case events.StatusChanged():
            suffix = f" ({event.exit_code})" if event.exit_code is not None else ""
            return f"{when} {sup.label(host, event.session)} {event.status}{suffix}"
        case events.LinkDown():
            return f"{when} {host} unreachable: {event.reason} (retry in {event.retry_in} s)"
        case events.Hello():
            return f"{when} {host} connected"
        case events.SessionCreated() | events.SessionRemoved() | events.CheckpointMade():
            return f"{when} {sup.label(host, event.session)} {event.kind}"
        case events.Decided():
            return f"{when} {sup.label(host, event.session)} {event.action} (decision {event.n})"
    return ""


async def cmd_screen(sup: Supervisor, args: argparse.Namespace) -> int:
    text = inert(await sup.screen(args.session))
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


async def cmd_tail(sup: Supervisor, args: argparse.Namespace) -> int:
    async for chunk in sup.tail(args.session, lines=args.lines, follow=args.follow):
        if args.raw:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(inert_bytes(chunk))
            sys.stdout.flush()
    return 0


async def cmd_send(sup: Supervisor, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.from_stdin else " ".join(args.text)
    session = await sup.send(args.session, text, force=args.force)
    print(f"sent to {session.ref}", file=sys.stderr)
    return 0


async def cmd_interrupt(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.interrupt(args.session)
    print(f"interrupted {session.ref}", file=sys.stderr)
    return 0


async def cmd_stop(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.stop(args.session)
    print(
        f"stopped {session.ref}; its worktree {session.worktree} and branch "
        f"{session.branch} stay (fleet resume {session.ref})",
        file=sys.stderr,
    )
    return 0


async def cmd_resume(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.resume(args.session)
    print(f"resumed {session.ref}", file=sys.stderr)
    return 0


def _changes(checkpoint: dict[str, Any]) -> str:
    c = checkpoint.get("changes") or {}
    stat = DiffStat(c.get("added", 0), c.get("removed", 0), c.get("files", 0))
    return presentation.changes(stat) if c else "-"


async def cmd_checkpoint(sup: Supervisor, args: argparse.Namespace) -> int:
    session, made = await sup.checkpoint(args.session, args.reason)
    if made.get("created", True):
        print(f"{session.ref}: checkpoint {made['n']}", file=sys.stderr)
    else:
        print(f"{session.ref}: nothing changed since checkpoint {made['n']}", file=sys.stderr)
    return 0


async def cmd_checkpoints(sup: Supervisor, args: argparse.Namespace) -> int:
    session, checkpoints = await sup.checkpoints(args.session)
    if args.json:
        _json(checkpoints, sys.stdout)
    elif checkpoints:
        rows = [["N", "WHEN", "REASON", "CHANGES"]]
        for c in checkpoints:
            when = f"{_age(c.get('time') or 0)} ago"
            rows.append([str(c["n"]), when, inert(str(c.get("reason", ""))), _changes(c)])
        _table(rows, sys.stdout)
    else:
        print(f"{session.ref} has no checkpoints yet (they come as its files change)")
    return 0


async def cmd_rewind(sup: Supervisor, args: argparse.Namespace) -> int:
    session, result = await sup.rewind(args.session, args.n)
    target, before = result["checkpoint"], result["before"]
    made = "checkpointed" if before.get("created") else "already had"
    print(
        f"{made} the current files of {session.ref} as checkpoint {before['n']} "
        f"(come back with: fleet rewind {session.ref} {before['n']})",
        file=sys.stderr,
    )
    print(
        f"rewound {session.ref} to checkpoint {target['n']} ({inert(str(target['reason']))}, "
        f"{_age(target.get('time') or 0)} ago): {result['restored']} files restored, "
        f"{result['removed']} removed; HEAD, {session.branch} and the index are unchanged",
        file=sys.stderr,
    )
    if not result.get("exact", True):
        print(
            f"note: the files differ from the checkpoint (the agent wrote meanwhile, or "
            f".gitignore changed): see `git status` in {session.worktree}",
            file=sys.stderr,
        )
    if session.status in (Status.WORKING, Status.IDLE, Status.NEEDS_INPUT, Status.STARTING):
        print(
            f"the agent is running and was not told: fleet send {session.ref} MESSAGE",
            file=sys.stderr,
        )
    return 0


# -- review (issue 4) ------------------------------------------------------------------


async def cmd_diff(sup: Supervisor, args: argparse.Namespace) -> int:
    session, d = await sup.diff(args.session, since_review=args.since_review)
    if args.json:
        _json(d.to_json() | {"session": session.ref}, sys.stdout)
        return 0
    since = d.extra.get("since")
    if args.since_review and not since:
        print(f"no decision on {session.ref} yet: this is the whole diff", file=sys.stderr)
    if not d.files:
        print(f"no changes in {session.ref}" + (" since the last review" if since else ""))
        return 0
    if args.stat:
        print(inert(review.printable(d.stat())))
    else:
        shown = []
        for f in d.files:
            if not f.hunks[0].whole_file:
                shown.append(f.header)
            for h in f.hunks:
                mark = " (approved)" if h.approved else ""
                label = f" {f.path}: {h.header}" if h.whole_file else ""
                shown.append(f"#{h.number}{mark}{label}\n{h.text}")
        text = "".join(shown)
        if sys.stdout.isatty():
            sys.stdout.write(review.colorize(text))
        else:
            sys.stdout.write(inert(review.printable(text)))
    print(f"fingerprint {d.fingerprint[:16]}", file=sys.stderr)
    return 0


def _stale(exc: review.StaleReview) -> int:
    print(f"fleet: {exc}", file=sys.stderr)
    if exc.fresh is not None:
        print(f"the diff now (fingerprint {exc.fresh.fingerprint[:16]}):", file=sys.stderr)
        print(inert(review.printable(exc.fresh.stat())), file=sys.stderr)
    return 1


async def cmd_approve(sup: Supervisor, args: argparse.Namespace) -> int:
    try:
        session, result = await sup.approve(
            args.session, args.hunk, args.file, args.message, args.expect
        )
    except review.StaleReview as exc:
        return _stale(exc)
    staged = ", ".join(str(n) for n in result["hunks"]) or "none new"
    print(f"approved hunks {staged} of {session.ref} (decision {result['decision']})")
    if result.get("commit"):
        print(f"committed {result['commit'][:12]} on {result['branch']}: {result['message']}")
    return 0


async def cmd_reject(sup: Supervisor, args: argparse.Namespace) -> int:
    try:
        session, result = await sup.reject(
            args.session, args.hunk, args.file, args.note, args.expect
        )
    except review.StaleReview as exc:
        return _stale(exc)
    numbers = ", ".join(str(n) for n in result["hunks"])
    print(
        f"rejected hunks {numbers} of {session.ref} (decision {result['decision']}); "
        f"the patch is kept on the host in {result['kept']}"
    )
    if result.get("told"):
        print(f"told the agent: {inert(result['message'])}")
    else:
        print(f"the agent is not running and was not told: {inert(result['message'])}")
    return 0


async def cmd_undo(sup: Supervisor, args: argparse.Namespace) -> int:
    session, result = await sup.undo(args.session)
    print(
        f"undid {result['action']} (decision {result['decision']}) on {session.ref}; the state "
        f"before the undo is checkpoint {result['checkpoint']}"
    )
    return 0


async def cmd_push(sup: Supervisor, args: argparse.Namespace) -> int:
    session, result = await sup.push(args.session)
    print(f"pushed {result['pushed']} to origin from {session.host}")
    if result.get("pr"):
        print(f"pull request: {inert(str(result['pr']))}")
    elif result.get("pr_note"):
        print(inert(str(result["pr_note"])), file=sys.stderr)
    return 0


async def cmd_land(sup: Supervisor, args: argparse.Namespace) -> int:
    session, result = await sup.land(args.session, args.into)
    print(
        f"{session.ref}: {session.branch} is now {result['branch']} "
        f"({result['commit'][:12]}) in {args.into}, via remote {result['remote']}"
    )
    return 0


async def cmd_attach(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.find(args.session)
    await sup.close()
    argv = sup.attach_argv(session)
    log.info("attach %s: %s", session.ref, argv)
    try:
        return subprocess.run(argv, check=False).returncode
    except FileNotFoundError:
        raise FleetError("attach needs the OpenSSH client (ssh) on this machine") from None


def cmd_agents(config: Config, sup: Supervisor, args: argparse.Namespace) -> int:
    profiles = sup.profiles
    if args.agents_command == "check":
        profile = sup.profile(args.name)
        try:
            if args.file == "-":
                text = sys.stdin.read()
            else:
                text = Path(args.file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        print(status_of_screen(profile, text, quiet_for=args.quiet_for))
        return 0
    versions = [] if args.no_hosts else asyncio.run(_agent_versions(sup))
    if args.json:
        found: dict[str, dict[str, Any]] = {}
        for row in versions:
            found.setdefault(row.agent, {})[row.host] = row.to_json()
        _json(
            [
                {
                    "name": p.name,
                    "command": p.command,
                    "resume": p.resume,
                    "waiting": list(p.waiting),
                    "working": list(p.working),
                    "idle": list(p.idle),
                    "idle_after": p.idle_after,
                    "send_mode": str(p.send_mode),
                    "interrupt": list(p.interrupt),
                    "sandbox": p.sandbox,
                    "source": _source(config, p.name),
                    "version_command": p.version_command,
                    "verified": p.verified,
                    "hosts": found.get(p.name, {}),
                }
                for p in profiles.values()
            ],
            sys.stdout,
        )
        return 0
    rows = [["AGENT", "SOURCE", "COMMAND", "RESUME"]]
    for p in profiles.values():
        rows.append([p.name, _source(config, p.name), p.command, p.resume or "-"])
    _table(rows, sys.stdout)
    if versions:
        sys.stdout.write("\n")
        table = [["HOST", "AGENT", "VERSION", "VERIFIED", "NOTE"]]
        for row in versions:
            # What a host printed is shown inert: it may hold terminal escapes.
            note = inert(row.note) or "ok"
            table.append([row.host, row.agent, row.version or "-", row.verified or "-", note])
        _table(table, sys.stdout)
    return 0


async def _agent_versions(sup: Supervisor) -> list[AgentVersion]:
    try:
        return await fleet_versions(sup.helpers, sup.profiles.values())
    finally:
        await sup.close()


def _source(config: Config, name: str) -> str:
    if name in config.agents:
        return "config+built-in" if name in BUILTIN_PROFILES else "config"
    return "built-in"


ASYNC_COMMANDS: dict[str, Callable[[Supervisor, argparse.Namespace], Awaitable[int]]] = {
    "hosts": cmd_hosts,
    "new": cmd_new,
    "ls": cmd_ls,
    "screen": cmd_screen,
    "tail": cmd_tail,
    "send": cmd_send,
    "interrupt": cmd_interrupt,
    "stop": cmd_stop,
    "resume": cmd_resume,
    "checkpoint": cmd_checkpoint,
    "checkpoints": cmd_checkpoints,
    "rewind": cmd_rewind,
    "diff": cmd_diff,  # review (issue 4)
    "approve": cmd_approve,
    "reject": cmd_reject,
    "undo": cmd_undo,
    "push": cmd_push,
    "land": cmd_land,
    "attach": cmd_attach,
    "log": cmd_log,
    "watch": cmd_watch,
}


async def _run_async(config: Config, args: argparse.Namespace) -> int:
    async with wired(config) as sup:
        return await ASYNC_COMMANDS[args.command](sup, args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # Everything after the first "--" is words, exactly as written, even "-x" or "--": split
    # off before argparse, which would drop a second "--" from the words.
    given = list(sys.argv[1:] if argv is None else argv)
    dashdash: list[str] = []
    if "--" in given:
        cut = given.index("--")
        given, dashdash = given[:cut], given[cut + 1 :]
    args, words = parser.parse_known_args(given)
    # argparse cannot take free words after options ("new alpha --repo r fix the bug"):
    # words left over go to the task / message, anything else is a usage error.
    if args.command in ("new", "send") and not any(w.startswith("-") for w in words):
        if args.command == "new":
            args.task += words + dashdash
        else:
            # A lone "-" reads stdin; "-- -" sends a dash.
            args.from_stdin = args.text + words == ["-"] and not dashdash
            args.text += words + dashdash
            if not args.text:
                parser.error("send: the message is missing (give it, or '-' to read stdin)")
    elif words or dashdash:
        parser.error(f"unrecognized arguments: {' '.join(words + dashdash)}")
    if args.command is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        parser.print_help()  # the TUI needs a terminal; scripts get the help
        return 0
    try:
        if args.command == "demo":  # its own sandbox and config, never the person's (issue 6)
            from fleet.demo.run import main as demo_main

            return demo_main(keep=args.keep, verbose=args.verbose)
        if args.command == "doctor":  # reports a broken config instead of stopping at it
            from fleet.doctor import main as doctor_main

            return doctor_main(args.config, as_json=args.json, verbose=args.verbose)
        config = load_config(args.config)
        setup_logging(verbose=args.verbose)
        log.info("fleet %s: %s", args.command or "tui", config.path)
        if args.command is None:
            from fleet.ui.app import run_app  # Textual is loaded only for the TUI

            return run_app(config)
        if args.command == "agents":
            return cmd_agents(config, Supervisor(config), args)
        if args.command == "trust":
            from fleet.trust import main as trust_main

            return trust_main(config, args.host, yes=args.yes)
        return asyncio.run(_run_async(config, args))
    except ConfigError as exc:
        print(f"fleet: {exc}", file=sys.stderr)
        return 2
    except FleetError as exc:
        log.info("failed: %s", exc)
        print(f"fleet: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly, keep the details in the log
        log.exception("internal error")
        print(
            f"fleet: internal error: {type(exc).__name__}: {exc} (details in the log: "
            f"{log_path()})",
            file=sys.stderr,
        )
        return 1
