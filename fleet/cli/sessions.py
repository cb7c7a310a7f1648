"""Sessions: start one, list them, read an agent's screen and output, steer, stop, resume,
attach. Each command is a thin call into the Supervisor."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

from fleet.cli.output import note, print_json, say, table
from fleet.cli.registry import Commands, WordsError, session_argument
from fleet.core.errors import FleetError, UsageError
from fleet.core.models import Status
from fleet.core.supervisor import DEFAULT_AGENT, Listing, Supervisor
from fleet.core.textsafe import inert, inert_bytes
from fleet.core.usage import merged_prices, per_session, session_json
from fleet.presentation import age_since, changes, listed_status, plural, unread_label

log = logging.getLogger("fleet.cli")

commands = Commands()


# -- new, ls --------------------------------------------------------------------------------


def _new_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", nargs="?", help="a host name from the config (or --pool)")
    p.add_argument(
        "--pool",
        help="make a fresh workspace for this session from a [pools.NAME] in the config "
        "(then --repo is a repository on THIS machine, sent into the workspace)",
    )
    p.add_argument(
        "--repo",
        required=True,
        help="path of a git repository ON THE HOST ('~/src/app': its home; a path under "
        "this machine's home is taken as under the host's); with --pool, on this machine",
    )
    p.add_argument("--agent", default=DEFAULT_AGENT, help="agent profile (default: %(default)s)")
    p.add_argument("--name", help="session name (default: from the task); branch fleet/NAME")
    p.add_argument("--base", help="ref to branch from (default: the repo's HEAD)")
    p.add_argument("task", nargs="*", help="what the agent should do")
    p.add_argument("--json", action="store_true", help="print the session as JSON")


def _task_words(args: argparse.Namespace, words: list[str], dashdash: list[str]) -> None:
    # argparse cannot take free words after options ("new alpha --repo r fix the bug").
    args.task += words + dashdash


def host_path(path: str) -> str:
    """A path meant on the host. One under this machine's home was most likely `~/...`
    expanded by the local shell: sent as `~/...`, for the host to expand to its own home."""
    home = str(Path.home()).rstrip("/")
    if home and (path == home or path.startswith(home + "/")):
        meant = "~" + path[len(home) :]
        note(f"taking {path} as {meant} on the host (your shell expanded ~ to this machine's home)")
        return meant
    return path


@commands.supervised(
    "new",
    "start an agent session in a new git worktree on a host",
    _new_arguments,
    words=_task_words,
)
async def new(sup: Supervisor, args: argparse.Namespace) -> int:
    if args.pool is not None:
        # argparse gives the first word of the task to the optional host.
        words = ([args.host] if args.host is not None else []) + args.task
        session = await sup.new_in_pool(
            args.pool,
            args.repo,
            lambda line: note(f"fleet: {line}"),
            agent=args.agent,
            name=args.name,
            base=args.base,
            task=" ".join(words),
        )
    elif args.host is None:
        raise UsageError("new: name a host, or a pool with --pool NAME")
    else:
        session = await sup.new_session(
            args.host,
            host_path(args.repo),
            agent=args.agent,
            name=args.name,
            base=args.base,
            task=" ".join(args.task),
        )
    if args.json:
        print_json(session.to_json())
    else:
        say(session.ref)
    return 0


def _ls_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--cached",
        action="store_true",
        help="show what fleet knew at once, without asking the hosts",
    )


@commands.supervised("ls", "list sessions on all hosts", _ls_arguments)
async def ls(sup: Supervisor, args: argparse.Namespace) -> int:
    listing = Listing() if args.cached else await sup.list_sessions()
    store = sup.require_store()
    await store.flush()
    known = await store.sessions()
    spent = per_session(await store.usage(), merged_prices(sup.config.prices))
    now = time.time()
    for host, reason in sorted(listing.errors.items()):
        cached = sum(1 for c in known if c.session.host == host and not c.gone)
        knew = f"; showing the {plural(cached, 'session')} fleet knew, from its cache"
        asleep = await sup.asleep(host)
        note(f"fleet: {host}: {reason}{'; ' + asleep if asleep else ''}{knew if cached else ''}")
    rows_json = []
    rows = [["SESSION", "ID", "AGENT", "STATUS", "FOR", "CHANGES", "NEW", "BRANCH"]]
    for c in known:
        s = c.session
        from_cache = args.cached or s.host in listing.errors
        status = listed_status(
            s, gone=c.gone, lost=from_cache, cached_at=c.updated if args.cached else None, now=now
        )
        data = s.to_json() | {"gone": c.gone, "cached": from_cache, "unread": c.unread}
        data["usage"] = session_json(s.agent, spent.get((s.host, s.id)))
        if from_cache and not c.gone and not args.cached:
            data["status"] = str(Status.LOST)
            data["last_status"] = str(s.status)
        rows_json.append(data)
        since = age_since(s.status_since, now)
        unread = unread_label(c.unread)
        rows.append([s.ref, s.id, s.agent, status, since, changes(s.diffstat), unread, s.branch])
    if args.json:
        print_json(rows_json)
    elif len(rows) > 1:
        table(rows)
    elif not listing.errors:
        say("no sessions yet: start one with `fleet new HOST --repo PATH TASK`")
    return 1 if listing.errors else 0


# -- what the agent shows -------------------------------------------------------------------


def _screen_arguments(p: argparse.ArgumentParser) -> None:
    session_argument(p)
    p.add_argument("--json", action="store_true", help="the session, the text and whether live")


@commands.supervised("screen", "print the agent's current screen as plain text", _screen_arguments)
async def screen(sup: Supervisor, args: argparse.Namespace) -> int:
    shown = await sup.screen(args.session)
    text = inert(shown.text)
    if args.json:
        waiting = shown.session.waiting
        print_json(
            {
                "session": shown.session.ref,
                "text": text,
                "live": shown.live,
                "status": str(shown.session.status),
                "waiting": waiting.to_json() if waiting else None,
            }
        )
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def _tail_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("-n", "--lines", type=int, default=50, help="lines to show (default: 50)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    p.add_argument("--raw", action="store_true", help="pass the raw bytes through unchanged")


@commands.supervised(
    "tail", "print the agent's output log (escape sequences removed)", _tail_arguments
)
async def tail(sup: Supervisor, args: argparse.Namespace) -> int:
    async for chunk in sup.tail(args.session, lines=args.lines, follow=args.follow):
        if args.raw:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(inert_bytes(chunk))
            sys.stdout.flush()
    return 0


# -- steering -------------------------------------------------------------------------------


OVER_BUDGET_HELP = (
    "go on past a budget that paused this session (fleet asks once per budget; see [budgets] "
    "in fleet.toml)"
)


def _send_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument(
        "text", nargs="*", help="the message; '-' reads it from stdin; after -- taken as written"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="type it even though the agent waits at a dialog that picks an option (its Enter "
        "picks the highlighted one)",
    )
    p.add_argument("--over-budget", action="store_true", help=OVER_BUDGET_HELP)


def _message_words(args: argparse.Namespace, words: list[str], dashdash: list[str]) -> None:
    # A lone "-" reads stdin; "-- -" sends a dash.
    args.from_stdin = args.text + words == ["-"] and not dashdash
    args.text += words + dashdash
    if not args.text:
        raise WordsError("send: the message is missing (give it, or '-' to read stdin)")


@commands.supervised(
    "send",
    "send a steering message to an agent (typed literally, then Enter)",
    _send_arguments,
    words=_message_words,
)
async def send(sup: Supervisor, args: argparse.Namespace) -> int:
    text = _stdin_message() if args.from_stdin else " ".join(args.text)
    if args.from_stdin and not text:
        raise UsageError("send: stdin held no message")
    session = await sup.send(args.session, text, force=args.force, over_budget=args.over_budget)
    note(f"sent to {session.ref}")
    return 0


def _stdin_message() -> str:
    """The message from stdin less the one newline that ends its last line (`echo msg |`):
    kept, it would be an empty line after the message."""
    text = sys.stdin.read()
    for end in ("\r\n", "\n"):
        if text.endswith(end):
            return text[: -len(end)]
    return text


@commands.supervised(
    "interrupt",
    "interrupt what the agent is doing (its profile's interrupt key)",
    session_argument,
)
async def interrupt(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.interrupt(args.session)
    note(f"interrupted {session.ref}")
    return 0


# -- stop, resume, attach -------------------------------------------------------------------


def _resume_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session")
    p.add_argument("--over-budget", action="store_true", help=OVER_BUDGET_HELP)


@commands.supervised("stop", "stop an agent; its worktree and branch stay", session_argument)
async def stop(sup: Supervisor, args: argparse.Namespace) -> int:
    changed = await sup.stop(args.session)
    session = changed.session
    done = "was already stopped" if changed.already else "stopped"
    verb = f"{session.ref} {done}" if changed.already else f"stopped {session.ref}"
    note(
        f"{verb}; its worktree {session.worktree} and branch {session.branch} stay "
        f"(fleet resume {session.ref})"
    )
    return 0


@commands.supervised(
    "resume",
    "start a stopped or finished agent again in the same worktree",
    _resume_arguments,
)
async def resume(sup: Supervisor, args: argparse.Namespace) -> int:
    changed = await sup.resume(
        args.session, lambda line: note(f"fleet: {line}"), over_budget=args.over_budget
    )
    if changed.already:
        note(f"{changed.session.ref} is already running: nothing to resume")
    else:
        note(f"resumed {changed.session.ref}")
    return 0


@commands.supervised(
    "attach",
    "hand this terminal to the agent's tmux session (detach to come back)",
    session_argument,
)
async def attach(sup: Supervisor, args: argparse.Namespace) -> int:
    session = await sup.find(args.session)
    await sup.close()
    argv = sup.attach_argv(session)
    log.info("attach %s: %s", session.ref, argv)
    try:
        return subprocess.run(argv, check=False).returncode
    except FileNotFoundError:
        raise FleetError("attach needs the OpenSSH client (ssh) on this machine") from None
